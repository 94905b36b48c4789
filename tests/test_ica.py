"""Tests for course_utils/ica.py."""
import matplotlib
import numpy as np
import pandas as pd
import pytest

from course_utils import ica

matplotlib.use("Agg")

SR = 8_000


def speechlike_sources(n_sources=4, seconds=2.0, seed=0):
    """Independent, strongly non-Gaussian signals like speech (Laplacian bursts, silent 80% of the time).

    Returns an array of shape (n_sources, seconds * SR).
    """
    rng = np.random.default_rng(seed)
    shape = (n_sources, int(seconds * SR))
    return rng.laplace(size=shape) * (rng.random(shape) < 0.2)


def test_stack_sources_and_length_or_rate_errors():
    a, b = np.ones(10) * 0.1, np.arange(1, 11) / 10
    np.testing.assert_array_equal(ica.stack_sources([a, b]), np.stack([a, b]))
    with pytest.raises(ValueError, match="different lengths"):
        ica.stack_sources([a, b[:9]])
    with pytest.raises(ValueError, match="different sample rates"):
        ica.stack_sources([a, b], srs=[16_000, 44_100])


@pytest.mark.parametrize("bad, message", [(np.nan, "NaN"), (0.0, "silent")])
def test_mix_rejects_nan_and_silent_sources(bad, message):
    sources = speechlike_sources()
    sources[1] = bad
    with pytest.raises(ValueError, match=message):
        ica.mix(sources, np.eye(4))


def test_mix_checks_matrix_shape():
    with pytest.raises(ValueError, match="one column per source"):
        ica.mix(speechlike_sources(), np.ones((4, 3)))


def test_random_mixing_matrix_is_seeded_and_well_conditioned():
    A = ica.random_mixing_matrix(8, 8, seed=3, max_condition=20)
    assert A.shape == (8, 8) and np.linalg.cond(A) <= 20 and A.min() >= 0.1
    np.testing.assert_array_equal(A, ica.random_mixing_matrix(8, 8, seed=3, max_condition=20))
    with pytest.raises(ValueError, match="max_condition"):
        ica.random_mixing_matrix(8, 8, max_condition=0.5)


def test_identity_mix_is_recovered_exactly():
    sources = speechlike_sources()
    mixtures = ica.mix(sources, np.eye(4))
    np.testing.assert_array_equal(mixtures, sources)
    matched = ica.match_estimates(mixtures, sources)
    np.testing.assert_allclose(matched.estimates, sources, atol=1e-10)
    np.testing.assert_allclose(matched.gains, 1.0, atol=1e-10)


def test_random_mix_is_separated_above_40_db_sir():
    sources = speechlike_sources(n_sources=4, seconds=4.0)
    A = ica.random_mixing_matrix(4, 4, seed=1)
    estimates, _ = ica.separate_fastica(ica.mix(sources, A), seed=0)
    matched = ica.match_estimates(estimates, sources)
    scores = ica.bss_eval(sources, matched.estimates, filters_len=16)
    assert scores["SIR"].min() > 40, scores


def test_matching_undoes_permutation_sign_and_scale():
    sources = speechlike_sources()
    order, gains = np.array([2, 0, 3, 1]), np.array([-3.0, 0.5, 2.0, -0.1])
    matched = ica.match_estimates(gains[:, None] * sources[order], sources)
    np.testing.assert_array_equal(matched.source_index, [0, 1, 2, 3])
    np.testing.assert_array_equal(order[matched.permutation], [0, 1, 2, 3])
    np.testing.assert_allclose(matched.gains, 1 / gains[matched.permutation])
    np.testing.assert_allclose(matched.estimates, sources, atol=1e-12)
    np.testing.assert_allclose(np.diag(ica.abs_correlation(matched.estimates, sources)), 1.0)


def test_matching_fewer_estimates_than_sources():
    sources = speechlike_sources()
    matched = ica.match_estimates(sources[[3, 1]] * 2.0, sources)
    np.testing.assert_array_equal(matched.source_index, [1, 3])
    np.testing.assert_allclose(matched.estimates, sources[[1, 3]], atol=1e-12)
    with pytest.raises(ValueError, match="at most one estimate per source"):
        ica.match_estimates(np.vstack([sources, sources[:1]]), sources)


def test_bss_eval_perfect_estimate_beats_mixture():
    sources = speechlike_sources(n_sources=3, seconds=1.0)
    perfect = ica.bss_eval(sources, sources + 1e-6 * speechlike_sources(3, 1.0, seed=9), filters_len=16)
    A = ica.random_mixing_matrix(3, 3, seed=0)
    mixtures = ica.mix(sources, A)
    baseline = ica.bss_eval(sources, mixtures[ica.loudest_microphone(A, sources)], filters_len=16)
    assert isinstance(perfect, pd.DataFrame) and list(perfect.columns) == ["SDR", "SIR", "SAR"]
    assert perfect["SDR"].min() > 80
    assert baseline["SIR"].max() < 15 and baseline["SDR"].max() < 15


def test_bss_eval_subset_matches_full_evaluation():
    sources = speechlike_sources(n_sources=3, seconds=1.0)
    estimates = sources + 0.05 * ica.mix(sources, ica.random_mixing_matrix(3, 3, seed=2))
    full = ica.bss_eval(sources, estimates, filters_len=16)
    subset = ica.bss_eval(sources, estimates[[0, 2]], source_index=[0, 2], filters_len=16)
    np.testing.assert_allclose(subset.to_numpy(), full.to_numpy()[[0, 2]], rtol=1e-6)


def test_loudest_microphone_picks_the_largest_share():
    A = np.array([[1.0, 0.2], [0.3, 0.9]])
    np.testing.assert_array_equal(ica.loudest_microphone(A, speechlike_sources(2)), [0, 1])


def test_more_components_than_mixtures_is_an_error():
    with pytest.raises(ValueError, match="at most one component per microphone"):
        ica.separate_fastica(ica.mix(speechlike_sources(), np.ones((2, 4)) + np.eye(2, 4)), n_components=3)


def test_oracle_unmix_inverts_and_rejects_singular_or_non_square():
    sources = speechlike_sources()
    A = ica.random_mixing_matrix(4, 4, seed=0)
    np.testing.assert_allclose(ica.oracle_unmix(ica.mix(sources, A), A), sources, atol=1e-10)
    singular = A.copy()
    singular[3] = singular[0]
    with pytest.raises(ValueError, match="singular"):
        ica.oracle_unmix(ica.mix(sources, A), singular)
    with pytest.raises(ValueError, match="square"):
        ica.oracle_unmix(ica.mix(sources, A[:3]), A[:3])


def test_delayed_mix_shifts_each_pair():
    sources = speechlike_sources(n_sources=2)
    A = np.array([[1.0, 0.5], [0.25, 2.0]])
    mixtures, delays = ica.delayed_mix(sources, A, max_delay=3, seed=0)
    assert delays.shape == (2, 2) and delays.min() >= 0 and delays.max() <= 3
    d = delays[0]
    expected = A[0, 0] * np.r_[np.zeros(d[0]), sources[0, : sources.shape[1] - d[0]]] \
        + A[0, 1] * np.r_[np.zeros(d[1]), sources[1, : sources.shape[1] - d[1]]]
    np.testing.assert_allclose(mixtures[0], expected)
    np.testing.assert_allclose(ica.delayed_mix(sources, A, max_delay=0)[0], ica.mix(sources, A))
    with pytest.raises(ValueError, match="max_delay"):
        ica.delayed_mix(sources, A, max_delay=-1)


def test_add_sensor_noise_hits_the_snr():
    mixtures = speechlike_sources(n_sources=2, seconds=4.0)
    noisy = ica.add_sensor_noise(mixtures, snr_db=10, seed=0)
    snr = 10 * np.log10(np.mean(mixtures**2, axis=1) / np.mean((noisy - mixtures) ** 2, axis=1))
    np.testing.assert_allclose(snr, 10, atol=0.1)


def test_speaker_sources_cuts_highpasses_and_checks_length(kaggle_like_tree):
    import course_utils as cu

    files = cu.list_speaker_files(kaggle_like_tree)
    sources, speakers = ica.speaker_sources(files, seconds=2.5, sr=16_000)
    assert sources.shape == (4, 40_000) and speakers[0] == "Speaker_0000"
    assert np.abs(sources.mean(axis=1)).max() < 1e-3  # no DC left
    with pytest.raises(ValueError, match="lower SECONDS"):
        ica.speaker_sources(files, seconds=10, sr=16_000)


def test_plot_matrix_returns_axes():
    ax = ica.plot_matrix(np.eye(3), title="I")
    assert ax.get_title() == "I" and len(ax.texts) == 9


def test_speaker_sources_reads_only_the_clips_it_needs(kaggle_like_tree, monkeypatch):
    import course_utils as cu

    files = cu.list_speaker_files(kaggle_like_tree)  # 4 speakers x 4 clips of 1 s
    read = []
    real_load = ica.load_speaker_file
    monkeypatch.setattr(ica, "load_speaker_file", lambda path, sr: read.append(path) or real_load(path, sr=sr))
    sources, _ = ica.speaker_sources(files, seconds=1.5, sr=16_000)
    assert sources.shape == (4, 24_000)
    assert len(read) == 4 * 2, read  # two 1-s clips per speaker, never the other two
