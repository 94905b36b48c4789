"""Tested, reusable code for the audio source separation and speaker classification course.

One module per part of the course (each function's docstring names the notebooks that use it):
    runtime      notebook setup, seeding, paths, check cells              every notebook
    settings     what differs between sample and full mode, per notebook   every notebook
    audio        load, validate, listen, plot                               every notebook
    datasets     speakers (Kaggle layout) and music (MUSDB18 layout)        00–11
    ica          mixing, FastICA, matching estimates to sources, BSS Eval  01, 05
    features     spectrograms, MFCCs, S0's voiceprint images, caching      02–05
    classifiers  S0's ANN and CNN, training, scores, identifying speakers  03–05
    masks        STFT round trip, oracle masks, mask-based separation       06–11
    evaluation   BSS Eval v4 (museval), SiSEC aggregation, anchors          06–11
    baselines    mixture, HPSS, REPET-SIM, NMF, stereo ICA                  06–11
    unet         S2's U-Net: padding, network, weighted L1, blocks, masks     07
    mask_cnn     S3's binary-mask CNN and the fully convolutional separator  08
    autoencoder  S1's CNN autoencoder: MIN-MAX/CMVN, soft masks              09
    open_unmix   S4's Open-Unmix: per-bin scaling, BiLSTM, Wiener filter; the pretrained models  10
    comparison   every separator on the same tracks, timed and scored       06–11
    separator    one contract for every trained separator: separate, load, your own file  07–11 (11 loads all)
    weights      trained weights on disk, checked against their kind and configuration  07–11
    training     full-scale training: chunks read from disk, checkpoints, resume, early stopping  scripts/train_*.py
    exercises    automatic checks for the notebooks' exercises              every notebook

The names used in every notebook are available as ``course_utils.<name>``; part-specific code is
used through its module, e.g. ``from course_utils import ica`` then ``ica.separate_fastica(...)``.
"""
from . import (audio, autoencoder, baselines, classifiers, comparison, datasets, evaluation, exercises, features, ica,
               mask_cnn, masks, open_unmix, runtime, separator, settings, training, unet, weights)
from .audio import (check_audio, interactive_plot, listening_widget, load_audio, play, plot_spectrogram, plot_waveform,
                    show_audio)
from .datasets import (
    KAGGLE_DATASET,
    MUSDB_TARGETS,
    SPEAKER_SR,
    Track,
    as_track,
    choose_speakers,
    download_kaggle_speakers,
    list_speaker_files,
    load_musdb,
    load_unseen_music,
    load_speaker_file,
    musdb_root,
    require_ffmpeg,
    sample_musdb_root,
    track_arrays,
    speakers_root,
    split_by_file,
)
from .separator import Separator, load_separator, separate, separate_file, upload_and_separate
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
