"""Shared fixtures: small synthetic audio trees in the real datasets' layouts."""
import full_lane
import numpy as np
import pytest
import soundfile as sf


def pytest_configure(config):
    config.addinivalue_line("markers", "full_mode: the full-mode lane (tests/test_full_mode*.py): every notebook with "
                                       "DATA_MODE='full' on the fixtures; select with -m full_mode or -m 'not full_mode'")


def tone(seconds, sr, freq=220.0, seed=0):
    """A short harmonic tone with a little noise (never silent)."""
    t = np.arange(int(seconds * sr)) / sr
    noise = np.random.default_rng(seed).normal(0, 0.01, t.size)
    return (0.3 * np.sin(2 * np.pi * freq * t) + 0.1 * np.sin(4 * np.pi * freq * t) + noise).astype(np.float32)


@pytest.fixture
def kaggle_like_tree(tmp_path):
    """A tiny speaker dataset with the real Kaggle dataset's quirks.

    Speaker_0000 at 16 kHz, Speaker_0001 at 44.1 kHz, no Speaker_0002 (a missing number),
    'Speaker3' without underscore or padding, and Speaker_0004 whose '.wav' files hold MP3 data.
    """
    base = tmp_path / "50_speakers_audio_data"
    layout = {"Speaker_0000": (16_000, "WAV"), "Speaker_0001": (44_100, "WAV"),
              "Speaker3": (16_000, "WAV"), "Speaker_0004": (22_050, "MP3")}
    for i, (folder, (sr, fmt)) in enumerate(layout.items()):
        (base / folder).mkdir(parents=True)
        for k in range(4):
            sf.write(base / folder / f"{folder}_{k:05d}.wav", tone(1.0, sr, 150 + 40 * i, seed=k), sr, format=fmt)
    return tmp_path


@pytest.fixture(scope="session")
def full_fixtures():
    """The full-mode lane's CI-size fixture tree (built once, reused while the builder's arguments stay the same)."""
    return full_lane.build_fixtures()


@pytest.fixture(scope="session")
def full_weights(full_fixtures):
    """Full-mode weights of the three models, from the training scripts run with tiny budgets on the fixture."""
    return full_lane.train_weights(full_fixtures)
