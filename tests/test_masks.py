"""course_utils.masks: exact STFT round trip, oracle masks, mask application."""
import numpy as np
import pytest

from course_utils import masks

SR = 8000


def _tone(freq, n, start=0, stop=None):
    t = np.arange(n) / SR
    signal = np.sin(2 * np.pi * freq * t)
    envelope = np.zeros(n)
    envelope[start:stop] = 1.0
    return signal * envelope


@pytest.mark.parametrize("n", [4001, 12345, 20000])
def test_stft_round_trip_is_exact_for_odd_lengths_and_stereo(n):
    audio = np.random.default_rng(n).standard_normal((n, 2))
    spec = masks.stft(audio, n_fft=512, hop_length=128)
    assert spec.shape[:2] == (2, 257)
    back = masks.istft(spec, n, hop_length=128)
    assert back.shape == (n, 2)
    assert np.abs(back - audio).max() < 1e-6


def test_mono_round_trip_keeps_shape():
    audio = np.random.default_rng(0).standard_normal(5001)
    back = masks.istft(masks.stft(audio, 256, 64), len(audio), 64)
    assert back.shape == (5001,) and np.abs(back - audio).max() < 1e-6


def test_ratio_masks_sum_to_one_and_estimates_add_up_to_the_mixture():
    rng = np.random.default_rng(1)
    sources = {name: rng.standard_normal((6000, 2)) for name in ("vocals", "drums", "bass")}
    mixture = sum(sources.values())
    for kind in ("IRM1", "IRM2"):
        oracle = masks.oracle_masks(mixture, sources, kind, n_fft=512, hop_length=128)
        assert np.allclose(sum(oracle.values()), 1.0, atol=1e-12)
        estimates = masks.apply_masks(mixture, oracle, n_fft=512, hop_length=128)
        assert np.abs(sum(estimates.values()) - mixture).max() < 1e-6


def test_ratio_masks_share_bins_where_every_source_is_zero():
    result = masks.ratio_masks({"a": np.zeros((3, 4)), "b": np.zeros((3, 4))}, alpha=2)
    assert np.allclose(result["a"], 0.5) and np.allclose(result["b"], 0.5)


def test_binary_mask_follows_sisec_threshold():
    mags = {"a": np.array([[3.0, 1.0]]), "b": np.array([[1.0, 3.0]])}
    result = masks.binary_masks(mags, np.array([[4.0, 4.0]]), alpha=1, theta=0.5)
    assert result["a"].tolist() == [[1.0, 0.0]] and result["b"].tolist() == [[0.0, 1.0]]


@pytest.mark.parametrize("kind", masks.ORACLE_MASKS)
def test_oracle_mask_recovers_sources_that_do_not_overlap(kind):
    n = 3 * SR
    low = np.stack([_tone(300, n, 0, 2 * SR)] * 2, axis=1)        # plays for 2 s
    high = np.stack([_tone(2500, n, SR, None)] * 2, axis=1) * 0.5  # from 1 s on
    estimates = masks.oracle_separation(low + high, {"low": low, "high": high}, kind, n_fft=512, hop_length=128)
    for name, source in (("low", low), ("high", high)):
        error = source - estimates[name]
        sdr = 10 * np.log10(np.sum(source**2) / np.sum(error**2))
        assert sdr > 25, (kind, name, sdr)


def test_separate_with_masks_and_accompaniment():
    rng = np.random.default_rng(2)
    sources = {"vocals": rng.standard_normal((4000, 2)), "drums": rng.standard_normal((4000, 2)),
               "bass": rng.standard_normal((4000, 2))}
    mixture = sum(sources.values())
    magnitudes = {k: np.abs(masks.stft(v, 256, 64)) for k, v in sources.items()}
    estimates = masks.add_accompaniment(masks.separate_with_masks(mixture, magnitudes, 2, 256, 64))
    assert np.allclose(estimates["accompaniment"], estimates["drums"] + estimates["bass"])
    assert np.abs(estimates["vocals"] + estimates["accompaniment"] - mixture).max() < 1e-6


def test_bad_inputs_raise_clear_errors():
    mixture = np.random.default_rng(3).standard_normal((4000, 2))
    with pytest.raises(ValueError, match="channels, n"):
        masks.stft(mixture.T)
    with pytest.raises(ValueError, match="NaN"):
        masks.stft(np.full((4000, 2), np.nan))
    with pytest.raises(ValueError, match="mixture's length"):
        masks.oracle_masks(mixture, {"a": mixture[:3999], "b": mixture[:3999]})
    with pytest.raises(ValueError, match="mixture's length and channels"):
        masks.oracle_masks(mixture, {"a": mixture[:, 0], "b": mixture[:, 1]})
    with pytest.raises(ValueError, match="kind"):
        masks.oracle_masks(mixture, {"a": mixture}, kind="IRM3")
    with pytest.raises(ValueError, match="same n_fft"):
        masks.apply_masks(mixture, {"a": np.ones((2, 513, 10))})
    with pytest.raises(ValueError, match="non-negative"):
        masks.ratio_masks({"a": -np.ones((2, 2))})


def test_separator_input_is_checked_for_rate_and_length():
    config = {"sr": 22050, "n_fft": 1024}
    audio = np.full((2048, 2), 0.1)
    assert masks.check_separator_input(audio, 22050, config).dtype == np.float64
    assert masks.check_separator_input(0 * audio, 22050, config, allow_silent=True).dtype == np.float64
    with pytest.raises(ValueError, match="silent .all zeros.: there is nothing to separate"):
        masks.check_separator_input(0 * audio, 22050, config)
    assert masks.check_separator_input(None, 22050, config) is None
    with pytest.raises(ValueError, match="A training song is at 44100 Hz .* expects 22050 Hz: resample"):
        masks.check_separator_input(audio, 44100, config, "A training song")
    with pytest.raises(ValueError, match="1000 samples, shorter than one STFT frame"):
        masks.check_separator_input(audio[:1000], 22050, config)
    with pytest.raises(ValueError, match="NaN"):
        masks.check_separator_input(np.full(2048, np.nan), 22050, config)


@pytest.mark.parametrize("kind", masks.ORACLE_MASKS)
def test_oracle_masks_made_source_by_source_equal_the_masks_of_all_spectrograms(kind):
    rng = np.random.default_rng(5)
    sources = {name: rng.normal(0, 0.1 * (k + 1), (SR, 2)) for k, name in enumerate(("vocals", "drums", "bass"))}
    sources["bass"][: SR // 2] = 0.0  # bins where only some sources play
    mixture = sum(sources.values())
    magnitudes = {name: np.abs(masks.stft(s, 512, 128)) for name, s in sources.items()}
    alpha = float(kind[-1])
    expected = (masks.binary_masks(magnitudes, np.abs(masks.stft(mixture, 512, 128)), alpha=alpha)
                if kind.startswith("IBM") else masks.ratio_masks(magnitudes, alpha=alpha))
    made = masks.oracle_masks(mixture, sources, kind, 512, 128)
    assert all(np.array_equal(made[name], expected[name]) for name in sources)  # bit for bit


@pytest.mark.parametrize("n", [20000, 16 * 128 * 5 + 3, 16 * 128 + 1])
def test_long_signals_are_separated_span_by_span_bit_for_bit(n):
    rng = np.random.default_rng(n)
    sources = {name: rng.standard_normal((n, 2)) * (k + 1) for k, name in enumerate(("vocals", "drums", "bass"))}
    mixture = sum(sources.values())
    mask = {"vocals": rng.random((257, 1 + n // 128)), "rest": rng.random((2, 257, 1 + n // 128))}
    whole = masks.apply_masks(mixture, mask, 512, 128, span_frames=None)
    spans = masks.apply_masks(mixture, mask, 512, 128, span_frames=16)  # 2048 samples a span
    assert all(np.array_equal(spans[name], whole[name]) for name in mask)
    for kind in ("IBM1", "IRM2"):
        whole = masks.oracle_separation(mixture, sources, kind, 512, 128, span_frames=None)
        spans = masks.oracle_separation(mixture, sources, kind, 512, 128, span_frames=16)
        assert list(spans) == [*sources, "accompaniment"]
        assert all(np.array_equal(spans[name], whole[name]) for name in whole), kind
    with pytest.raises(ValueError, match="span_frames must be a positive number"):
        masks.apply_masks(mixture, mask, 512, 128, span_frames=0)


@pytest.mark.parametrize("n, channels", [(512 * 40 + 77, 2), (512 * 13 + 1, 1), (512 * 3, 2)])
def test_the_magnitude_made_span_by_span_is_that_of_the_whole_stft(n, channels):
    audio = np.random.default_rng(n).standard_normal((n, channels) if channels > 1 else n)
    whole = np.abs(masks.stft(audio, 512, 128)).astype(np.float32)
    for span_frames in (7, 16, None):
        made = masks.stft_magnitude(audio, 512, 128, span_frames)
        assert made.dtype == np.float32 and np.array_equal(made, whole)  # bit for bit
