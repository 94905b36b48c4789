"""Every exercise check accepts the reference solution and rejects a wrong answer with a helpful message."""
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from course_utils import exercises, features, ica
from course_utils.datasets import MUSDB_TARGETS


def _rejects(check, *args, match, **kwargs):
    with pytest.raises(AssertionError, match=match):
        check(*args, **kwargs)


@pytest.fixture
def clip():
    return 0.3 * np.sin(2 * np.pi * 220 * np.arange(16_000) / 16_000) * np.linspace(0, 1, 16_000)


def test_peak_and_rms(clip, capsys):
    peak, rms = 20 * np.log10(np.abs(clip).max()), 20 * np.log10(np.sqrt(np.mean(clip**2)))
    exercises.check_peak_and_rms(peak, rms, clip)
    assert capsys.readouterr().out.startswith("✓")
    _rejects(exercises.check_peak_and_rms, peak, peak, clip, match="That is the peak level")
    _rejects(exercises.check_peak_and_rms, peak / 2, rms, clip, match="20·log10")


def test_stem_levels():
    rng = np.random.default_rng(0)
    track = SimpleNamespace(targets={name: SimpleNamespace(audio=gain * rng.standard_normal((1000, 2)))
                                     for name, gain in zip(MUSDB_TARGETS, (0.5, 0.1, 0.2, 0.3))})
    levels = {name: 20 * np.log10(np.sqrt(np.mean(track.targets[name].audio ** 2))) for name in MUSDB_TARGETS}
    exercises.check_stem_levels(levels, MUSDB_TARGETS[0], track)
    _rejects(exercises.check_stem_levels, levels, MUSDB_TARGETS[1], track, match="highest RMS level")
    _rejects(exercises.check_stem_levels, {MUSDB_TARGETS[0]: 0.0}, MUSDB_TARGETS[0], track, match="missing")
    wrong = dict(levels, **{MUSDB_TARGETS[2]: levels[MUSDB_TARGETS[2]] / 2})
    _rejects(exercises.check_stem_levels, wrong, MUSDB_TARGETS[0], track, match=MUSDB_TARGETS[2])


def test_unmixing_matrix():
    A = ica.random_mixing_matrix(4, 4, seed=0)
    exercises.check_unmixing_matrix(np.linalg.inv(A), A)
    _rejects(exercises.check_unmixing_matrix, A.T, A, match="transpose, not its inverse")
    _rejects(exercises.check_unmixing_matrix, np.eye(3), A, match="shape")


def test_component_for_speaker():
    rng = np.random.default_rng(0)
    sources = rng.laplace(size=(4, 2000))
    order = np.array([2, 0, 3, 1])
    estimates = np.empty_like(sources)
    estimates[order] = -3 * sources  # component order[k] estimates speaker k, sign and scale changed
    exercises.check_component_for_speaker(order, estimates, sources)
    _rejects(exercises.check_component_for_speaker, np.argsort(order), estimates, sources, match="axis 0")


def test_mel_to_hz():
    exercises.check_mel_to_hz(lambda mel: 700 * (10 ** (np.asarray(mel) / 2595) - 1))
    _rejects(exercises.check_mel_to_hz, lambda mel: 700 * (np.exp(np.asarray(mel) / 2595) - 1), match="step by step")
    _rejects(exercises.check_mel_to_hz, 1000.0, match="function itself")


def test_stft_window(clip):
    sr = 16_000
    exercises.check_stft_window(1024, 256, features.stft_db(clip, 1024, 256), clip, sr)
    _rejects(exercises.check_stft_window, 2048, 512, features.stft_db(clip, 2048, 512), clip, sr,
             match="window is 2048 samples but the exercise asks for 64 ms at 16000 Hz = 1024 samples")
    _rejects(exercises.check_stft_window, 1024, 512, features.stft_db(clip, 1024, 512), clip, sr, match="hop")
    _rejects(exercises.check_stft_window, 1024, 256, features.stft_db(clip, 1024, 256).T, clip, sr, match="shape")


def test_ann_parameters():
    from course_utils.classifiers import build_ann

    exercises.check_ann_parameters(build_ann(n_features=40, n_classes=8).count_params(), n_features=40, n_classes=8)
    _rejects(exercises.check_ann_parameters, 40 * 40 + 40 * 40 + 40 * 8, 40, 8, match="biases")


def test_majority_vote():
    probabilities = np.array([[0.6, 0.4], [0.6, 0.4], [0.0, 1.0], [0.2, 0.8], [0.9, 0.1]])
    file_ids = ["b", "b", "b", "a", "a"]  # file a: votes 1, 0 (tie -> 0); file b: votes 0, 0, 1 -> 0
    exercises.check_majority_vote([0, 0], probabilities, file_ids)
    _rejects(exercises.check_majority_vote, [0, 1], probabilities, file_ids, match="averaged probabilities")
    _rejects(exercises.check_majority_vote, [0], probabilities, file_ids, match="one prediction per recording")


def test_smallest_input():
    exercises.check_smallest_input(66)
    _rejects(exercises.check_smallest_input, 64, match="cannot be built")
    _rejects(exercises.check_smallest_input, 70, match="smallest")


def test_conv_parameters():
    exercises.check_conv_parameters((11 * 3 * 16 + 1) * 32, (11, 3), 16, 32)
    _rejects(exercises.check_conv_parameters, 11 * 3 * 16 * 32, (11, 3), 16, 32, match="biases")
    _rejects(exercises.check_conv_parameters, (11 * 3 + 1) * 32, (11, 3), 16, 32, match="input channels")


def test_noise_at_snr():
    clean = np.sin(np.arange(50_000) / 5)
    noise = np.random.default_rng(0).standard_normal(clean.size)
    exercises.check_noise_at_snr(clean + np.sqrt(np.mean(clean**2) / 10 ** 1.5) * noise, clean, snr_db=15)
    _rejects(exercises.check_noise_at_snr, clean + np.sqrt(np.mean(clean**2)) / 10 ** 1.5 * noise, clean, snr_db=15,
             match="factor of 2")
    _rejects(exercises.check_noise_at_snr, clean, clean, snr_db=15, match="add the noise")


def test_unknown_rule():
    probabilities = np.array([[0.7, 0.3], [0.45, 0.55], [0.2, 0.8]])
    exercises.check_unknown_rule(["a", "unknown", "b"], probabilities, ["a", "b"], threshold=0.6)
    _rejects(exercises.check_unknown_rule, ["a", "b", "b"], probabilities, ["a", "b"], threshold=0.6,
             match="Signal 1: you say 'b', the rule says 'unknown'")


def test_best_binary_threshold():
    from course_utils import masks

    rng = np.random.default_rng(0)
    sources = {"vocals": rng.standard_normal(8000), "other": 0.7 * rng.standard_normal(8000)}
    mixture = sources["vocals"] + sources["other"]
    mags = {k: np.abs(masks.stft(v, 512, 128)) for k, v in sources.items()}
    mix_mag = np.abs(masks.stft(mixture, 512, 128))
    thetas = [0.1, 0.3, 0.5, 0.7, 0.9]
    args = (thetas, mixture, sources["vocals"], mags, mix_mag, 512, 128)
    snrs = []
    for theta in thetas:
        est = masks.apply_masks(mixture, {"vocals": masks.binary_masks(mags, mix_mag, 1, theta)["vocals"]}, 512, 128)
        snrs.append(10 * np.log10(np.sum(sources["vocals"] ** 2) / np.sum((sources["vocals"] - est["vocals"]) ** 2)))
    best, worst = thetas[int(np.argmax(snrs))], thetas[int(np.argmin(snrs))]
    exercises.check_best_binary_threshold(best, *args)
    _rejects(exercises.check_best_binary_threshold, worst, *args, match="highest")
    _rejects(exercises.check_best_binary_threshold, 0.42, *args, match="one of the thresholds")


def test_sisec_median():
    import pandas as pd

    frames = pd.DataFrame({"method": "m", "target": "vocals", "track": np.repeat(["a", "b", "c"], 4),
                           "SDR": [1, 2, 3, 40, 5, 6, 7, 8, -30, 4, 4.5, 9.0],
                           "excluded": [False] * 8 + [True] + [False] * 3})
    frames = frames.assign(SIR=frames["SDR"], SAR=frames["SDR"], ISR=frames["SDR"])
    exercises.check_sisec_median(4.5, frames, "m")  # track medians 2.5, 6.5, 4.5 (the -30 frame excluded)
    _rejects(exercises.check_sisec_median, 6.5, frames, "m", match="mean over frames")
    _rejects(exercises.check_sisec_median, 5.0, frames, "m", match="one median over all frames")
    _rejects(exercises.check_sisec_median, 4.25, frames, "m", match="excluded")
    _rejects(exercises.check_sisec_median, 4.5, frames, "REPET", match="spelling")


def test_padded_shape():
    exercises.check_padded_shape((520, 128), 513, 128, n_levels=3)
    _rejects(exercises.check_padded_shape, (528, 128), 513, 128, 3, match="no more padding")
    _rejects(exercises.check_padded_shape, (512, 128), 513, 128, 3, match="never crop")


def test_norm_ratio():
    exercises.check_norm_ratio(0.707 / 0.293, 0.707)
    _rejects(exercises.check_norm_ratio, 0.293 / 0.707, 0.707, match="inverse")
    _rejects(exercises.check_norm_ratio, 1.0, 0.707, match="Solve")


def test_all_zeros_accuracy():
    targets = [np.array([[0, 1, 0, 0]]), np.array([0, 0, 1, 0, 0, 0])]
    exercises.check_all_zeros_accuracy(0.8, targets)
    _rejects(exercises.check_all_zeros_accuracy, 0.2, targets, match="share of 1-bins")
    _rejects(exercises.check_all_zeros_accuracy, 80.0, targets, match="percentage")
    _rejects(exercises.check_all_zeros_accuracy, 0.75, targets, match="Count the bins")


def test_dense_parameters():
    exercises.check_dense_parameters(233_600, 513, 25, 16, 3, 128)  # S3's table
    exercises.check_dense_parameters(256 // 2 * 6 * 16 * 128 + 128, 513, 25, 16, 2, 128)
    _rejects(exercises.check_dense_parameters, 233_472, 513, 25, 16, 3, 128, match="biases")
    _rejects(exercises.check_dense_parameters, 12_288 * 128, 513, 25, 16, 3, 128, match="floors")


def test_minmax_stats():
    magnitudes = np.random.default_rng(0).gamma(2.0, 1.0, (6, 5, 30))  # (blocks, freq, frames)
    low, high = magnitudes.min(axis=(0, 2)), magnitudes.max(axis=(0, 2))
    exercises.check_minmax_stats(low, high - low, magnitudes)
    _rejects(exercises.check_minmax_stats, magnitudes.mean(axis=(0, 2)), high - low, magnitudes, match="mean")
    _rejects(exercises.check_minmax_stats, low, high, magnitudes, match="range is max - min")
    _rejects(exercises.check_minmax_stats, low[:3], high[:3] - low[:3], magnitudes, match="one value per")


def test_real_time_factor():
    timings = pd.DataFrame({"method": ["a", "a", "b"], "track": ["x", "y", "x"], "seconds": [1.0, 3.0, 2.0],
                            "audio_seconds": [7.0, 7.0, 7.0]})
    exercises.check_real_time_factor(3.5, timings, "a")
    _rejects(exercises.check_real_time_factor, 4 / 14, timings, "a", match="inverse")
    _rejects(exercises.check_real_time_factor, (7 + 7 / 3) / 2, timings, "a", match="mean of the per-track")
    _rejects(exercises.check_real_time_factor, 1.0, timings, "a", match="total audio")
    _rejects(exercises.check_real_time_factor, 1.0, timings, "c", match="No timings")


def test_paired_differences():
    frames = pd.DataFrame({"method": np.repeat(["m", "o"], 6), "target": "vocals",
                           "track": np.tile(np.repeat(["a", "b", "c"], 2), 2),
                           "SDR": [3, 5, 6, 6, 1, 1, 1, 1, 5, 5, -1, 1], "excluded": False})
    frames = frames.assign(SIR=frames["SDR"], SAR=frames["SDR"], ISR=frames["SDR"])
    exercises.check_paired_differences(pd.Series({"a": 3.0, "b": 1.0, "c": 1.0}), frames, "m", "o")
    _rejects(exercises.check_paired_differences, pd.Series({"a": -3.0, "b": -1.0, "c": -1.0}), frames, "m", "o",
             match="other way round")
    _rejects(exercises.check_paired_differences, pd.Series({"a": 3.0, "b": 1.0}), frames, "m", "o", match="songs")
    _rejects(exercises.check_paired_differences, [3.0, 1.0, 1.0], frames, "m", "o", match="pandas Series")
    _rejects(exercises.check_paired_differences, pd.Series({"a": 3.0}), frames, "m", "x", match="No vocals rows")
