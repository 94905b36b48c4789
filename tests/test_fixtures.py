"""Tests for data/build/build_fixtures.py: the fixtures look like MUSDB18 and the Kaggle speaker set."""
import importlib.util
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import course_utils as cu

SCRIPT = Path(__file__).resolve().parents[1] / "data" / "build" / "build_fixtures.py"
TINY = ["--train-songs", "3", "--test-songs", "1", "--seconds", "3", "--speakers", "4", "--clip-seconds", "2",
        "--clips-per-speaker", "3"]


def _builder():
    spec = importlib.util.spec_from_file_location("build_fixtures", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("fixtures") / "tree"
    _builder().main(["--out", str(out), *TINY])
    return out


def test_music_is_musdb18_stems_with_a_validation_split(tiny):
    names = _builder().musdb_validation_names()
    train = cu.load_musdb("full", root=tiny / "musdb18", subsets="train", split="train", sr=44100).tracks
    valid = cu.load_musdb("full", root=tiny / "musdb18", subsets="train", split="valid", sr=44100).tracks
    test = cu.load_musdb("full", root=tiny / "musdb18", subsets="test", sr=44100).tracks
    assert [t.name for t in valid] == names[:1] and len(train) == 2 and len(test) == 1
    assert all(t.name not in names for t in train + test)
    for track in train + valid + test:
        assert track.path.endswith(".stem.mp4") and len(track.info.audio_streams) == 5
        assert abs(track.duration - 3) < 0.1 and track.audio.shape[1] == 2


def test_mixture_is_the_sum_of_the_stems_up_to_aac_coding(tiny):
    track = cu.load_musdb("full", root=tiny / "musdb18", subsets="test").tracks[0]
    mixture, stems, sr = cu.track_arrays(track)
    error = mixture - sum(stems.values())
    snr = 10 * np.log10(np.sum(mixture ** 2) / np.sum(error ** 2))
    assert sr == 44100 and 15 < snr < 80, snr  # close, but not exact: each stream is AAC-coded on its own
    assert all(np.abs(audio).max() > 0.01 for audio in stems.values())


def test_speakers_have_the_kaggle_quirks(tiny):
    base = tiny / "kaggle_speakers" / "50_speakers_audio_data"
    assert sorted(p.name for p in base.iterdir()) == ["Speaker3", "Speaker_0000", "Speaker_0001", "Speaker_0003"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        files = cu.list_speaker_files(tiny / "kaggle_speakers")
    assert any("share number 3" in str(w.message) for w in caught)
    assert files.speaker.nunique() == 4 and (files.groupby("speaker").size() == 3).all()
    rates, mp3 = set(), 0
    for path in files.path:
        header = Path(path).read_bytes()[:4]
        mp3 += header != b"RIFF"
        if header == b"RIFF":
            rates.add(sf.info(path).samplerate)
        audio = cu.load_speaker_file(path)
        assert abs(len(audio) - 2 * cu.SPEAKER_SR) < 0.05 * cu.SPEAKER_SR and np.abs(audio).max() > 0.01
    assert rates == {16000, 44100} and mp3 == 3  # one speaker's three clips are MP3 data under .wav names


def test_a_second_run_with_the_same_arguments_does_nothing(tiny, capsys):
    stamp = (tiny / "STAMP").stat().st_mtime_ns
    _builder().main(["--out", str(tiny), *TINY])
    assert "up to date" in capsys.readouterr().out and (tiny / "STAMP").stat().st_mtime_ns == stamp
    assert not list(tiny.parent.glob("*.partial*"))


def test_the_builder_never_overwrites_a_foreign_folder(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not a fixture tree"):
        _builder().main(["--out", str(tmp_path / "mine"), *TINY])
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    with pytest.raises(SystemExit):
        _builder().main(["--out", str(tmp_path / "x"), "--speakers", "0"])


def test_a_truncated_fixture_song_is_reported(tiny, tmp_path):
    copy = tmp_path / "musdb18"
    shutil.copytree(tiny / "musdb18", copy)
    song = next((copy / "test").glob("*.stem.mp4"))
    song.write_bytes(song.read_bytes()[: song.stat().st_size // 2])
    with pytest.raises(FileNotFoundError, match=f"{song.name} is truncated"):
        cu.load_musdb("full", root=copy, subsets="test")
