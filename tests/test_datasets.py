"""Tests for course_utils/datasets.py: speaker loader, splits, Kaggle helper, MUSDB loader."""
import shutil

import numpy as np
import pytest
import soundfile as sf

import course_utils as cu
from course_utils import datasets


# ---------------------------------------------------------------- speakers
def test_kaggle_quirks_are_read(kaggle_like_tree):
    files = cu.list_speaker_files(kaggle_like_tree)
    assert sorted(files.speaker.unique()) == ["Speaker_0000", "Speaker_0001", "Speaker_0003", "Speaker_0004"]
    assert (files.groupby("speaker").size() == 4).all()


def test_every_file_decodes_to_the_target_rate(kaggle_like_tree):
    files = cu.list_speaker_files(kaggle_like_tree)
    for path in files.path:  # 44.1 kHz WAV and MP3-in-.wav included
        audio = cu.load_speaker_file(path, sr=16_000)
        assert audio.ndim == 1 and abs(audio.size - 16_000) < 1_200  # MP3 adds a little padding
        assert np.isfinite(audio).all() and np.abs(audio).max() > 0.1


def test_mp3_data_under_wav_name_is_decoded_by_content(kaggle_like_tree):
    path = next((kaggle_like_tree / "50_speakers_audio_data" / "Speaker_0004").iterdir())
    assert path.read_bytes()[:4] != b"RIFF"  # really MP3 data
    audio, sr = cu.load_audio(path)
    assert sr == 22_050
    spectrum = np.abs(np.fft.rfft(audio[: sr]))
    assert abs(np.argmax(spectrum) * sr / sr - (150 + 40 * 3)) <= 2  # the 270 Hz tone survives


def test_root_may_be_the_inner_folder(kaggle_like_tree):
    inner = cu.list_speaker_files(kaggle_like_tree / "50_speakers_audio_data")
    assert len(inner) == len(cu.list_speaker_files(kaggle_like_tree))


def test_duplicate_speaker_numbers_stay_apart(kaggle_like_tree):
    base = kaggle_like_tree / "50_speakers_audio_data"
    shutil.copytree(base / "Speaker3", base / "Speaker_0003")
    with pytest.warns(UserWarning, match="share number 3"):
        files = cu.list_speaker_files(kaggle_like_tree)
    assert files.speaker.nunique() == 5


def test_choose_speakers_is_deterministic():
    files = cu.list_speaker_files(cu.speakers_root("sample"))
    first = cu.choose_speakers(files, 8, seed=1)
    assert first.speaker.nunique() == 8
    assert first.equals(cu.choose_speakers(files, 8, seed=1))
    assert set(cu.choose_speakers(files, 8, seed=2).speaker) != set(first.speaker) or files.speaker.nunique() == 8
    with pytest.raises(ValueError, match="dataset has 10"):
        cu.choose_speakers(files, 11)


def test_split_by_file_never_shares_a_file():
    files = cu.list_speaker_files(cu.speakers_root("sample"))
    split = cu.split_by_file(files, test_fraction=0.2, val_fraction=0.2, seed=0)
    assert split.groupby("path")["split"].nunique().max() == 1
    assert len(split) == len(files)
    per_speaker = split.groupby(["speaker", "split"]).size().unstack()
    assert (per_speaker[["train", "val", "test"]] >= 2).all().all()
    assert split.equals(cu.split_by_file(files, test_fraction=0.2, val_fraction=0.2, seed=0))


def test_split_by_file_rejects_impossible_requests(kaggle_like_tree):
    files = cu.list_speaker_files(kaggle_like_tree)
    with pytest.raises(ValueError, match="too few"):
        cu.split_by_file(files, test_fraction=0.5, val_fraction=0.4)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        cu.split_by_file(files, test_fraction=1.5)


def test_speaker_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        cu.list_speaker_files(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="No speaker folders"):
        cu.list_speaker_files(tmp_path)
    (tmp_path / "Speaker_0000").mkdir()
    with pytest.raises(FileNotFoundError, match="holds no audio"):
        cu.list_speaker_files(tmp_path)


def test_unreadable_file_is_named(tmp_path):
    bad = tmp_path / "Speaker_0000_00000.wav"
    bad.write_bytes(b"this is not audio at all" * 100)
    with pytest.raises(ValueError, match="Speaker_0000_00000.wav"):
        cu.load_audio(bad)
    with pytest.raises(FileNotFoundError):
        cu.load_audio(tmp_path / "missing.wav")


def test_bad_data_mode():
    with pytest.raises(ValueError, match="DATA_MODE"):
        cu.speakers_root("everything")


# ---------------------------------------------------------------- Kaggle helper
def test_kaggle_without_credentials_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.delenv("KAGGLE_USERNAME", raising=False)
    monkeypatch.delenv("KAGGLE_KEY", raising=False)
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "no_config"))
    with pytest.raises(PermissionError) as info:
        cu.download_kaggle_speakers(tmp_path / "dest")
    message = str(info.value)
    assert "kaggle.json" in message and "KAGGLE_USERNAME" in message and "Secrets" in message


def test_kaggle_offline_says_how_to_download_by_hand(tmp_path, monkeypatch):
    monkeypatch.setenv("KAGGLE_USERNAME", "student")
    monkeypatch.setenv("KAGGLE_KEY", "0" * 32)
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path))
    with pytest.raises(ConnectionError, match="unzip it into"):
        cu.download_kaggle_speakers(tmp_path / "dest")


def test_kaggle_download_skips_existing_data(kaggle_like_tree, monkeypatch):
    monkeypatch.delenv("KAGGLE_USERNAME", raising=False)  # would fail if it tried to download
    assert cu.download_kaggle_speakers(kaggle_like_tree) == kaggle_like_tree


# ---------------------------------------------------------------- music
def test_sample_musdb_reads_with_musdb():
    mus = cu.load_musdb("sample")
    subsets = [t.subset for t in mus.tracks]
    assert subsets.count("train") >= 7 and subsets.count("test") >= 3
    train_names = {t.name for t in mus.tracks if t.subset == "train"}
    assert train_names.isdisjoint(t.name for t in mus.tracks if t.subset == "test")
    track = mus.tracks[0]
    assert track.audio.shape[1] == 2 and track.rate == 22_050
    for target in ("vocals", "drums", "bass", "other", "accompaniment"):
        assert track.targets[target].audio.shape == track.audio.shape


def test_musdb_subsets_select_tracks():
    assert all(t.subset == "test" for t in cu.load_musdb("sample", subsets="test").tracks)


def test_sample_cache_is_reused(monkeypatch):
    root = cu.sample_musdb_root()
    stamp = (root / "STAMP").stat().st_mtime_ns
    assert cu.sample_musdb_root() == root and (root / "STAMP").stat().st_mtime_ns == stamp


def test_missing_ffmpeg_gives_install_command(monkeypatch):
    monkeypatch.setattr(datasets.shutil, "which", lambda tool: None)
    with pytest.raises(RuntimeError, match="apt-get install ffmpeg"):
        cu.load_musdb("sample")


def test_musdb_layout_errors(tmp_path, monkeypatch):
    monkeypatch.delenv("MUSDB_PATH", raising=False)
    with pytest.raises(FileNotFoundError, match="MUSDB_PATH"):
        cu.load_musdb("full")
    with pytest.raises(FileNotFoundError, match="not found"):
        cu.load_musdb("full", root=tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="no 'train' folder"):
        cu.load_musdb("full", root=tmp_path)
    (tmp_path / "train").mkdir()
    with pytest.raises(FileNotFoundError, match="holds no tracks"):
        cu.load_musdb("full", root=tmp_path, subsets="train")
    (tmp_path / "train" / "Artist - Song").mkdir()
    (tmp_path / "train" / "Artist - Song" / "mixture.wav").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="lacks vocals.wav"):
        cu.load_musdb("full", root=tmp_path, subsets="train")


def test_musdb_path_variable_is_used(monkeypatch):
    monkeypatch.setenv("MUSDB_PATH", str(cu.sample_musdb_root()))
    assert len(cu.load_musdb("full").tracks) == len(cu.load_musdb("sample").tracks)


def _stem_track(seed, n=400, sr=8000):
    rng = np.random.default_rng(seed)
    stems = {name: rng.normal(0, 0.1, (n, 2)) for name in ("vocals", "drums")}
    return sum(stems.values()), stems, sr


def test_remix_tracks_makes_valid_new_mixtures():
    tracks = [_stem_track(seed, n=400 + 10 * seed) for seed in range(3)]
    remixes = datasets.remix_tracks(tracks, 20, seed=1)
    assert len(remixes) == 20
    pairs = set()
    for mixture, stems, sr in remixes:
        assert sr == 8000 and np.allclose(mixture, stems["vocals"] + stems["drums"])  # a valid mixture
        origin = []
        for name, audio in stems.items():  # each stem is a scaled, cropped stem of one original song
            ratios = {i: np.median(audio / t[1][name][:len(audio)]) for i, t in enumerate(tracks)
                      if len(t[0]) >= len(audio)}
            match = [i for i, r in ratios.items() if np.allclose(audio, r * tracks[i][1][name][:len(audio)])]
            assert len(match) == 1 and 0.5 <= ratios[match[0]] <= 1.5
            origin.append(match[0])
        pairs.add(tuple(origin))
    assert any(a != b for a, b in pairs)  # stems of different songs meet
    again = datasets.remix_tracks(tracks, 20, seed=1)
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(remixes, again))


def test_remix_tracks_errors():
    with pytest.raises(ValueError, match="non-empty list"):
        datasets.remix_tracks([], 3)
    mixture, stems, sr = _stem_track(0)
    with pytest.raises(ValueError, match="same stems and sample rate"):
        datasets.remix_tracks([(mixture, stems, sr), (mixture, stems, 16000)], 3)
    with pytest.raises(ValueError, match="n_mixes"):
        datasets.remix_tracks([(mixture, stems, sr)], 0)
    with pytest.raises(ValueError, match="gain_range"):
        datasets.remix_tracks([(mixture, stems, sr)], 2, gain_range=(0, 1))


# ---------------------------------------------------------------- bad dataset roots
def _box(kind, payload=b""):
    return (8 + len(payload)).to_bytes(4, "big") + kind + payload


def _wav_track(folder, sr=8000, n=800, empty=()):
    folder.mkdir(parents=True)
    for name in datasets.MUSDB_FILES:
        if name in empty:
            (folder / f"{name}.wav").write_bytes(b"")
        else:
            sf.write(folder / f"{name}.wav", np.full((n, 2), 0.1), sr)


def test_check_rate_accepts_a_rate_or_a_track():
    assert datasets.check_rate(44100, 44100) == 44100
    track = type("Track", (), {"rate": 22050.0, "name": "Artist - Song"})()
    assert datasets.check_rate(track, 22050) == 22050
    with pytest.raises(ValueError, match=r"track 'Artist - Song' is at 22050 Hz, but the configuration expects 44100"):
        datasets.check_rate(track, 44100)
    with pytest.raises(ValueError, match="mixture.wav is at 16000 Hz"):
        datasets.check_rate(16000, 44100, "mixture.wav")
    with pytest.raises(ValueError, match="a rate in Hz"):
        datasets.check_rate("44100", 44100)


def test_load_musdb_checks_the_rate():
    assert len(cu.load_musdb("sample", subsets="test", sr=22050).tracks) >= 3
    with pytest.raises(ValueError, match="22050 Hz, but the configuration expects 44100 Hz"):
        cu.load_musdb("sample", subsets="test", sr=44100)


def test_mp4_problem_finds_empty_truncated_and_foreign_files(tmp_path):
    path = tmp_path / "song.stem.mp4"
    complete = _box(b"ftyp", b"isom" + bytes(4)) + _box(b"mdat", bytes(100)) + _box(b"moov", bytes(40))
    cases = {complete: None, b"": "empty", complete[:-10]: "truncated", complete[:5]: "truncated",
             b"RIFF" + bytes(60): "not an MP4", complete[:124]: "incomplete",
             complete + bytes(12): "damaged"}
    for data, problem in cases.items():
        path.write_bytes(data)
        found = datasets._mp4_problem(path)
        assert (found is None) if problem is None else (problem in found), (data[:12], found)


def test_musdb_root_errors_say_what_was_found(tmp_path):
    _wav_track(tmp_path / "MUSDB18" / "train" / "A - Song")
    (tmp_path / "MUSDB18" / "test").mkdir()
    with pytest.raises(FileNotFoundError, match=r"one level down: pass .*MUSDB18"):
        cu.load_musdb("full", root=tmp_path)
    with pytest.raises(FileNotFoundError, match=r"looks like MUSDB18's train/ or test/ folder.*folder above"):
        cu.load_musdb("full", root=tmp_path / "MUSDB18" / "train")
    with pytest.raises(FileNotFoundError, match=r"holds no tracks .*it is empty"):
        cu.load_musdb("full", root=tmp_path / "MUSDB18", subsets="test")
    (tmp_path / "MUSDB18" / "test" / "B - Song.stem.mp4").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="B - Song.stem.mp4 is empty"):
        cu.load_musdb("full", root=tmp_path / "MUSDB18", subsets="test")
    _wav_track(tmp_path / "MUSDB18" / "test" / "C - Song")
    with pytest.raises(FileNotFoundError, match="mixes .stem.mp4 files and decoded track folders"):
        cu.load_musdb("full", root=tmp_path / "MUSDB18", subsets="test")


def test_a_root_with_two_formats_is_refused(tmp_path):
    _wav_track(tmp_path / "train" / "A - Song")
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "B - Song.stem.mp4").write_bytes(
        _box(b"ftyp", b"isom" + bytes(4)) + _box(b"mdat", bytes(8)) + _box(b"moov", bytes(8)))
    with pytest.raises(FileNotFoundError, match="train holds WAV folders, test holds .stem.mp4 files"):
        cu.load_musdb("full", root=tmp_path)


def test_half_written_wav_tracks_are_named(tmp_path):
    (tmp_path / "test").mkdir()
    _wav_track(tmp_path / "train" / "A - Song", empty=("vocals",))
    with pytest.raises(FileNotFoundError, match=r"A - Song has an unreadable vocals.wav \(0 bytes"):
        cu.load_musdb("full", root=tmp_path, subsets="train")
    _wav_track(tmp_path / "other" / "train" / "A - Song")
    sf.write(tmp_path / "other" / "train" / "A - Song" / "bass.wav", np.full((800, 2), 0.1), 16000)
    with pytest.raises(FileNotFoundError, match="stems of different rates or lengths .*bass 16000 Hz"):
        cu.load_musdb("full", root=tmp_path / "other", subsets="train")


def test_loading_writes_nothing_under_the_root(tmp_path):
    _wav_track(tmp_path / "train" / "A - Song")
    _wav_track(tmp_path / "test" / "B - Song")

    def snapshot():
        return sorted((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in tmp_path.rglob("*"))

    before = snapshot()
    db = cu.load_musdb("full", root=tmp_path, sr=8000)
    assert [t.name for t in db.tracks] == ["A - Song", "B - Song"] and db.tracks[0].audio.shape == (800, 2)
    assert snapshot() == before


def test_speaker_root_errors_say_what_was_found(kaggle_like_tree):
    one_speaker = kaggle_like_tree / "50_speakers_audio_data" / "Speaker_0000"
    with pytest.raises(FileNotFoundError, match="one speaker's folder"):
        cu.list_speaker_files(one_speaker)
    outer = kaggle_like_tree / "downloads"
    shutil.copytree(one_speaker.parent, outer / "kaggle" / "50_speakers_audio_data")
    with pytest.raises(FileNotFoundError, match=f"one level down: pass {outer / 'kaggle'}"):
        cu.list_speaker_files(outer)
    (one_speaker / "Speaker_0000_00099.wav").write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty \(0 bytes\), e.g. Speaker_0000_00099.wav.*interrupted"):
        cu.list_speaker_files(kaggle_like_tree)


def test_track_arrays_reads_a_whole_song_or_an_excerpt_of_it():
    track = cu.load_musdb("sample", subsets="test").tracks[0]
    whole = cu.track_arrays(track, ("vocals", "drums"))
    assert set(whole.stems) == {"vocals", "drums"} and whole.mixture.dtype == np.float64
    first = cu.track_arrays(track, ("vocals",), seconds=2)
    assert first.sr == whole.sr and np.array_equal(first.mixture, whole.mixture[:2 * whole.sr])
    end = cu.track_arrays(track, ("vocals",), seconds=(3, 8))  # past the end: the window moves back to end there
    assert np.array_equal(end.stems["vocals"], whole.stems["vocals"][-5 * whole.sr:])
    assert end.mixture.base is None  # a copy: the song itself is freed
    with pytest.raises(ValueError, match="has no target"):
        cu.track_arrays(track, ("guitar",))
