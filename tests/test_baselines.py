"""course_utils.baselines: shapes, mixture consistency, ICA's determined vs convolutive case."""
import warnings

import librosa
import numpy as np
import pytest
from sklearn.decomposition import NMF
from sklearn.exceptions import ConvergenceWarning

from course_utils import baselines, masks

SR = 8000
N = 5 * SR


@pytest.fixture(scope="module")
def song():
    """A 'voice' (gliding tone with pauses, centred) over a repeating, panned accompaniment."""
    rng = np.random.default_rng(0)
    t = np.arange(N) / SR
    voice = np.sin(2 * np.pi * (300 + 40 * np.sin(2 * np.pi * 0.7 * t)) * t) * (np.sin(2 * np.pi * 0.4 * t) > 0)
    beat = np.tile(np.concatenate([rng.standard_normal(400) * np.exp(-np.arange(400) / 80), np.zeros(3600)]), N // 4000)
    chord = 0.3 * np.sin(2 * np.pi * 110 * t)
    vocals = np.stack([0.5 * voice, 0.5 * voice], axis=1)
    accompaniment = np.stack([0.6 * beat + chord, 0.2 * beat + chord], axis=1)
    return vocals + accompaniment, {"vocals": vocals, "accompaniment": accompaniment}


@pytest.mark.parametrize("name", ["mixture", "hpss_h", "hpss_p", "repet", "nmf", "ica"])
def test_every_baseline_returns_aligned_stereo_estimates(song, name):
    mixture, truth = song
    run = {"mixture": lambda: baselines.mixture_as_estimate(mixture, SR),
           "hpss_h": lambda: baselines.hpss(mixture, SR, "harmonic"),
           "hpss_p": lambda: baselines.hpss(mixture, SR, "percussive"),
           "repet": lambda: baselines.repet_sim(mixture, SR),
           "nmf": lambda: baselines.nmf_oracle_assigned(mixture, SR, truth, n_components=8),
           "ica": lambda: baselines.ica_stereo(mixture, SR, truth)}[name]
    estimates = run()
    assert set(estimates) == {"vocals", "accompaniment"}
    assert all(e.shape == mixture.shape and np.all(np.isfinite(e)) for e in estimates.values())
    assert np.abs(estimates["vocals"] + estimates["accompaniment"] - mixture).max() < 1e-6


def test_nmf_assignment_from_the_factors_equals_the_one_from_each_components_spectrogram(song):
    """The shares come from NMF's factors (no full-size spectrogram per component): same estimates as the
    definition, component spectrograms outer(w_k, h_k) summed by hand."""
    mixture, truth = song
    estimates = baselines.nmf_oracle_assigned(mixture, SR, truth, n_components=8, max_iter=50)
    magnitude = np.abs(masks.stft(mixture.mean(axis=1)))
    nmf = NMF(n_components=8, init="nndsvda", random_state=0, max_iter=50)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a fixed budget, as in the function
        templates, activations = librosa.decompose.decompose(magnitude, transformer=nmf, sort=True)
    vocal_bins = masks.ratio_masks({k: np.abs(masks.stft(v.mean(axis=1))) for k, v in truth.items()})["vocals"] > 0.5
    components = [np.outer(w, h) for w, h in zip(templates.T, activations)]
    share = np.array([np.sum(c * vocal_bins) / np.sum(c) for c in components])
    is_vocal = share > np.sum(sum(components) * vocal_bins) / np.sum(sum(components))
    is_vocal[np.argmax(share)] = True
    assert 0 < is_vocal.sum() < len(is_vocal)  # both sides get components: the test compares two real sums
    expected = masks.separate_with_masks(mixture, {
        "vocals": sum(c for c, v in zip(components, is_vocal) if v),
        "accompaniment": sum(c for c, v in zip(components, is_vocal) if not v)}, alpha=2)
    assert all(np.abs(estimates[k] - expected[k]).max() < 1e-9 for k in expected)


def test_mixture_anchor_is_scaled_as_in_sisec(song):
    mixture, _ = song
    estimates = baselines.mixture_as_estimate(mixture, SR)
    assert np.allclose(estimates["vocals"], mixture / 4) and np.allclose(estimates["accompaniment"], 0.75 * mixture)
    four = baselines.mixture_as_estimate(mixture, SR, stems=("vocals", "drums", "bass", "other"))
    assert list(four) == ["vocals", "drums", "bass", "other"] and all(np.allclose(e, mixture / 4) for e in four.values())


def test_ica_separates_instantaneous_but_not_delayed_two_source_mixes():
    rng = np.random.default_rng(1)
    a, b = rng.laplace(size=N), rng.uniform(-1, 1, size=N)
    def images(b_right):
        return {"vocals": np.stack([0.8 * a, 0.3 * a], axis=1), "accompaniment": np.stack([0.2 * b, 0.9 * b_right], axis=1)}
    def worst_error(truth):
        estimates = baselines.ica_stereo(truth["vocals"] + truth["accompaniment"], SR, truth)
        return max(np.sum((truth[k] - estimates[k]) ** 2) / np.sum(truth[k] ** 2) for k in truth)
    assert worst_error(images(b)) < 1e-3
    assert worst_error(images(np.concatenate([np.zeros(8), b[:-8]]))) > 1e-2


def test_bad_inputs_raise_clear_errors(song):
    mixture, truth = song
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        baselines.repet_sim(mixture[:, 0], SR)
    with pytest.raises(ValueError, match="sample rate"):
        baselines.hpss(mixture, 22050.5)
    with pytest.raises(ValueError, match="'harmonic' or 'percussive'"):
        baselines.hpss(mixture, SR, vocals_from="vocals")
    with pytest.raises(ValueError, match="too short"):
        baselines.repet_sim(mixture[:SR], SR)
    with pytest.raises(ValueError, match="oracle"):
        baselines.ica_stereo(mixture, SR, {"vocals": truth["vocals"]})
    with pytest.raises(ValueError, match="NaN"):
        baselines.mixture_as_estimate(np.full_like(mixture, np.nan), SR)
