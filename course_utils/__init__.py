"""Tested, reusable code for the audio source separation and speaker classification course.

One module per part of the course:
    runtime   notebook setup, seeding, paths, check cells      (every notebook)
    audio     load, validate, listen, plot                       (every notebook)
    datasets  speaker (Kaggle layout) and music (MUSDB18) data   (00–10)
"""
from .audio import check_audio, load_audio, play, plot_spectrogram, plot_waveform, show_audio
from .datasets import (
    KAGGLE_DATASET,
    MUSDB_TARGETS,
    SPEAKER_SR,
    choose_speakers,
    download_kaggle_speakers,
    list_speaker_files,
    load_musdb,
    load_speaker_file,
    musdb_root,
    require_ffmpeg,
    sample_musdb_root,
    speakers_root,
    split_by_file,
)
from .runtime import (
    cache_dir,
    check_data_mode,
    course_root,
    data_dir,
    environment_check,
    headline,
    on_colab,
    runtime_report,
    seed_everything,
)

__version__ = "0.1.0"
