"""Tests for course_utils.features: numbers checked against librosa and by construction."""
import librosa
import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from course_utils import features
from conftest import tone

SR = 16_000


def test_hz_to_mel_matches_librosa_htk():
    freqs = np.linspace(0, 8000, 101)
    np.testing.assert_allclose(features.hz_to_mel(freqs), librosa.hz_to_mel(freqs, htk=True), atol=1e-6)
    with pytest.raises(ValueError):
        features.hz_to_mel(-1.0)


def test_mfcc_means_match_librosa():
    audio = tone(1.0, SR)
    direct = librosa.feature.mfcc(y=audio.astype(np.float64), sr=SR, n_mfcc=20)
    np.testing.assert_allclose(features.mfcc_summary(audio, SR), direct.mean(axis=1), rtol=1e-6, atol=1e-6)
    with_std = features.mfcc_summary(audio, SR, with_std=True)
    assert with_std.shape == (40,)
    np.testing.assert_allclose(with_std[20:], direct.std(axis=1), rtol=1e-6, atol=1e-6)


def test_segmenting_three_seconds_into_one_second_pieces():
    audio = np.arange(1, 3 * SR + 1, dtype=np.float64)
    pieces = features.segment(audio, SR, seconds=1.0)
    assert pieces.shape == (3, SR)
    for k in range(3):
        np.testing.assert_array_equal(pieces[k], audio[k * SR:(k + 1) * SR])
    overlapping = features.segment(audio, SR, seconds=1.0, hop_seconds=0.5)
    assert overlapping.shape == (5, SR)
    np.testing.assert_array_equal(overlapping[1], audio[SR // 2: SR // 2 + SR])


def test_segment_rejects_a_clip_shorter_than_one_segment():
    with pytest.raises(ValueError, match="shorter than one"):
        features.segment(tone(0.5, SR), SR, seconds=1.0)


def test_voiceprint_and_mel_images_are_64x64_and_finite():
    audio = tone(1.0, SR)
    for image in (features.voiceprint_image(audio, SR), features.mel_image(audio, SR)):
        assert image.shape == (64, 64) and image.dtype == np.float32
        assert np.isfinite(image).all() and 0 <= image.min() and image.max() <= 1


def test_voiceprint_puts_a_tone_in_the_right_row():
    t = np.arange(SR) / SR
    image = features.voiceprint_image(np.sin(2 * np.pi * 2000 * t), SR)
    assert abs(int(np.argmax(image.mean(axis=1))) - 16) <= 1  # 2 kHz of 0..8 kHz over 64 rows


def test_resize_image_keeps_a_constant_image():
    np.testing.assert_allclose(features.resize_image(np.full((4001, 9), 3.0)), 3.0)


@pytest.fixture
def speaker_files(tmp_path):
    rows = []
    for s in range(2):
        for k in range(2):
            path = tmp_path / f"Speaker_{s:04d}_{k:05d}.wav"
            sf.write(path, tone(2.0, SR, freq=150 + 60 * s, seed=k), SR)
            rows.append((f"Speaker_{s:04d}", path.name, str(path)))
    return pd.DataFrame(rows, columns=["speaker", "file", "path"])


def test_feature_table_is_cached_and_identical(speaker_files, tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "cache"))
    table, first = features.feature_table(speaker_files, "mfcc_mean", segment_seconds=1.0)
    assert first.shape == (8, 20) and list(table["segment"]) == [0, 1] * 4
    assert len(list((tmp_path / "cache" / "features").glob("*.npz"))) == 1
    table_again, second = features.feature_table(speaker_files, "mfcc_mean", segment_seconds=1.0)
    np.testing.assert_array_equal(first, second)
    pd.testing.assert_frame_equal(table, table_again)
    recomputed = features.feature_table(speaker_files, "mfcc_mean", segment_seconds=1.0, use_cache=False)[1]
    np.testing.assert_array_equal(first, recomputed)
    direct = features.mfcc_summary(features.segment(sf.read(speaker_files.path[0])[0], SR)[1], SR)
    np.testing.assert_allclose(first[1], direct, rtol=1e-5, atol=1e-4)


def test_feature_table_whole_files_and_images(speaker_files, tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "cache"))
    assert features.feature_table(speaker_files, "mfcc_mean", segment_seconds=None)[1].shape == (4, 20)
    assert features.feature_table(speaker_files, "voiceprint", segment_seconds=1.0)[1].shape == (8, 64, 64)


def test_feature_table_rejects_bad_input(speaker_files):
    with pytest.raises(ValueError, match="kind"):
        features.feature_table(speaker_files, "chroma")
    with pytest.raises(ValueError, match="path"):
        features.feature_table(speaker_files.drop(columns="path"))


def test_segment_features_match_per_segment_summaries():
    sr = 16_000
    audio = np.random.default_rng(0).normal(0, 0.1, 3 * sr)
    rows = features.segment_features(audio, sr, "mfcc_mean", segment_seconds=1.0)
    assert rows.shape == (3, features.N_MFCC)
    np.testing.assert_allclose(rows[1], features.mfcc_summary(audio[sr:2 * sr], sr), rtol=1e-5, atol=1e-4)
    assert features.segment_features(audio, sr, "mfcc_mean", segment_seconds=None).shape == (1, features.N_MFCC)
    with pytest.raises(ValueError, match="kind must be one of"):
        features.segment_features(audio, sr, "chroma")


def test_steadiest_voiced_finds_the_held_note_between_glides():
    sr = 16_000
    glide = np.linspace(150, 300, sr // 2)  # half a second of rising pitch
    pitch = np.concatenate([glide, np.full(int(0.6 * sr), 200.0), glide[::-1]])
    phase = 2 * np.pi * np.cumsum(pitch) / sr
    voice = sum(np.sin(k * phase) / k for k in range(1, 6)).astype(np.float32)
    start, seconds, f0 = features.steadiest_voiced(voice, sr)
    assert f0 == pytest.approx(200, rel=0.02)
    assert 0.4 <= start <= 0.6 and 0.5 <= seconds <= 0.75


def test_feature_table_progress_is_a_text_bar_that_ends_at_100_percent(speaker_files, tmp_path, monkeypatch, capsys):
    """A text bar (not a widget) whose saved states start after the first file (no frozen-looking 0 % line)."""
    import time

    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "cache"))
    slow = features.segment_features
    monkeypatch.setattr(features, "segment_features", lambda *args: (time.sleep(0.4), slow(*args))[1])
    features.feature_table(speaker_files, "mfcc_mean", 1.0, use_cache=False)
    states = [part for part in capsys.readouterr().err.replace("\n", "\r").split("\r") if part.strip()]
    assert "100%|" in states[-1] and "4/4" in states[-1]
    assert not any(" 0%|" in state for state in states), states
