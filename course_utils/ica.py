"""The cocktail party: mixing, FastICA, matching estimates to sources, and BSS Eval metrics.

Used in: 01_cocktail_party_ica.ipynb (separate 8 speakers and measure it), 05_separate_then_identify.ipynb
(the components that the speaker classifier labels).

Conventions: `sources` and `estimates` have shape (n_sources, n_samples), `mixtures` has shape
(n_mics, n_samples), and the mixing matrix `A` has shape (n_mics, n_sources), so that mixtures = A @ sources.
"""
from typing import NamedTuple

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from scipy.signal import butter, sosfiltfilt
from sklearn.decomposition import FastICA

from .audio import check_audio
from .datasets import SPEAKER_SR, load_speaker_file


def _check_signals(signals, name):
    """Validate a (n_signals, n_samples) array: 2-D, finite, no silent row; return it as float64."""
    signals = np.asarray(signals, dtype=np.float64)
    if signals.ndim != 2:
        raise ValueError(f"{name} must have shape (n_signals, n_samples), got shape {signals.shape}. "
                         f"Stack 1-D signals with stack_sources.")
    for k, row in enumerate(signals):
        check_audio(row, name=f"{name}[{k}]")
    return signals


def _check_matrix(A, n_sources=None):
    """Validate a mixing matrix of shape (n_mics, n_sources); return it as float64."""
    A = np.asarray(A, dtype=np.float64)
    if A.ndim != 2 or A.size == 0:
        raise ValueError(f"The mixing matrix must be 2-D, (n_mics, n_sources), got shape {A.shape}.")
    if not np.all(np.isfinite(A)):
        raise ValueError("The mixing matrix contains NaN or infinite values.")
    if n_sources is not None and A.shape[1] != n_sources:
        raise ValueError(f"The mixing matrix has {A.shape[1]} columns but there are {n_sources} sources: "
                         f"it needs one column per source, shape (n_mics, {n_sources}).")
    return A


def stack_sources(signals, srs=None):
    """Stack equally long mono signals into one (n_sources, n_samples) array.

    Used in: 01_cocktail_party_ica.ipynb (through `speaker_sources`), 05_separate_then_identify.ipynb.

    Args:
        signals: sequence of 1-D arrays, all of the same length.
        srs: optional sequence of their sample rates in Hz; all must be equal.
    Returns:
        float64 array of shape (n_sources, n_samples).
    Raises:
        ValueError: different lengths or rates, or empty/NaN/silent signals.
    """
    signals = [check_audio(s, name=f"signal {k}") for k, s in enumerate(signals)]
    if not signals:
        raise ValueError("No signals to stack: pass a list of 1-D arrays.")
    if srs is not None and len(set(srs)) > 1:
        raise ValueError(f"The signals have different sample rates {sorted(set(srs))} Hz: resample them to one "
                         f"rate first (e.g. load_speaker_file(path, sr=16000)).")
    lengths = [s.size for s in signals]
    if len(set(lengths)) > 1:
        raise ValueError(f"The signals have different lengths {lengths} samples: cut them to the shortest, "
                         f"e.g. [s[:{min(lengths)}] for s in signals].")
    return np.stack(signals)


def speaker_sources(files, seconds, sr=SPEAKER_SR, highpass_hz=60.0):
    """Build one source per speaker: the first `seconds` of that speaker's clips, played one after another.

    Used in: 01_cocktail_party_ica.ipynb, 05_separate_then_identify.ipynb.

    Each excerpt is high-pass filtered (4th-order Butterworth, zero phase) to remove the DC offsets and
    rumble that some recordings carry; a microphone would not pass them either. A speaker's clips are read
    only until `seconds` are gathered, so memory stays small on the full dataset (minute-long clips).

    Args:
        files: DataFrame from `datasets.list_speaker_files` / `choose_speakers` (columns speaker, path).
        seconds: length of each source in seconds.
        sr: sample rate in Hz.
        highpass_hz: cut-off frequency in Hz, or None to keep the recordings as they are.
    Returns:
        (sources, speakers): float64 array (n_speakers, round(seconds * sr)) and the speaker labels in row order.
    Raises:
        ValueError: a speaker has less than `seconds` of audio.
    """
    n_samples = int(round(seconds * sr))
    speakers, signals = [], []
    for speaker, group in files.groupby("speaker", sort=True):
        pieces, gathered = [], 0
        for path in group["path"]:
            if gathered >= n_samples:
                break
            pieces.append(load_speaker_file(path, sr=sr))
            gathered += pieces[-1].size
        audio = np.concatenate(pieces)
        if audio.size < n_samples:
            raise ValueError(f"{speaker} has only {audio.size / sr:.1f} s of audio, fewer than the {seconds} s "
                             f"asked for: lower SECONDS or choose other speakers.")
        signals.append(audio[:n_samples])
        speakers.append(speaker)
    sources = stack_sources(signals)
    if highpass_hz is not None:
        sos = butter(4, highpass_hz, btype="highpass", fs=sr, output="sos")
        sources = sosfiltfilt(sos, sources, axis=1)
    return sources, speakers


def random_mixing_matrix(n_mics, n_sources, seed=0, max_condition=20.0, low=0.1, high=1.0, max_tries=10_000):
    """Draw a random mixing matrix with positive gains, redrawing until it is well conditioned.

    Used in: 01_cocktail_party_ica.ipynb, 05_separate_then_identify.ipynb.

    Args:
        n_mics, n_sources: shape of the matrix.
        seed: random seed; the same seed gives the same matrix.
        max_condition: largest accepted condition number (ratio of the largest to the smallest singular value).
        low, high: gains are drawn uniformly from [low, high) (each microphone hears each speaker, more or less).
        max_tries: how many draws before giving up.
    Returns:
        float64 array A of shape (n_mics, n_sources).
    Raises:
        ValueError: bad sizes, max_condition < 1, or no draw within `max_tries`.
    """
    if n_mics < 1 or n_sources < 1:
        raise ValueError(f"Need at least one microphone and one source, got {n_mics} and {n_sources}.")
    if max_condition < 1:
        raise ValueError(f"max_condition must be >= 1 (the condition number never is below 1), got {max_condition}.")
    rng = np.random.default_rng(seed)
    for _ in range(max_tries):
        A = rng.uniform(low, high, size=(n_mics, n_sources))
        if np.linalg.cond(A) <= max_condition:
            return A
    raise ValueError(f"No {n_mics}x{n_sources} matrix with condition number <= {max_condition} in {max_tries} "
                     f"draws: raise max_condition or widen [low, high).")


def mix(sources, A):
    """Instantaneous mixing: every microphone hears a weighted sum of the sources, mixtures = A @ sources.

    Used in: 01_cocktail_party_ica.ipynb, 05_separate_then_identify.ipynb.

    Args:
        sources: array (n_sources, n_samples).
        A: mixing matrix (n_mics, n_sources).
    Returns:
        mixtures, array (n_mics, n_samples).
    Raises:
        ValueError: wrong shapes, or NaN/silent sources.
    """
    sources = _check_signals(sources, "sources")
    return _check_matrix(A, len(sources)) @ sources


def delayed_mix(sources, A, max_delay, seed=0):
    """Convolutive mixing: like `mix`, but each microphone hears each source a few samples late.

    Used in: 01_cocktail_party_ica.ipynb (what breaks ICA: sound takes time to travel).

    Args:
        sources: array (n_sources, n_samples).
        A: mixing matrix (n_mics, n_sources) of gains.
        max_delay: the largest delay in samples; each (mic, source) pair gets a random delay in
            0..max_delay (1 sample = 62.5 µs at 16 kHz, about 2 cm of travel).
        seed: random seed for the delays.
    Returns:
        (mixtures, delays): array (n_mics, n_samples) and the integer delays (n_mics, n_sources).
    Raises:
        ValueError: wrong shapes, or a negative or too long delay.
    """
    sources = _check_signals(sources, "sources")
    A = _check_matrix(A, len(sources))
    n_samples = sources.shape[1]
    if int(max_delay) != max_delay or not 0 <= max_delay < n_samples:
        raise ValueError(f"max_delay must be a whole number of samples in [0, {n_samples}), got {max_delay}.")
    delays = np.random.default_rng(seed).integers(0, int(max_delay) + 1, size=A.shape)
    mixtures = np.zeros((A.shape[0], n_samples))
    for mic, source in np.ndindex(*A.shape):
        d = delays[mic, source]
        mixtures[mic, d:] += A[mic, source] * sources[source, : n_samples - d]
    return mixtures, delays


def add_sensor_noise(mixtures, snr_db, seed=0):
    """Add white Gaussian noise to every microphone at a given signal-to-noise ratio.

    Used in: 01_cocktail_party_ica.ipynb (what breaks ICA: noisy sensors).

    Args:
        mixtures: array (n_mics, n_samples).
        snr_db: each microphone's signal power over its noise power, in dB.
        seed: random seed for the noise.
    Returns:
        noisy mixtures, array (n_mics, n_samples).
    """
    mixtures = _check_signals(mixtures, "mixtures")
    noise_std = np.sqrt(np.mean(mixtures**2, axis=1, keepdims=True) / 10 ** (snr_db / 10))
    return mixtures + noise_std * np.random.default_rng(seed).standard_normal(mixtures.shape)


def oracle_unmix(mixtures, A):
    """Undo instantaneous mixing with the true matrix: estimates = A^-1 @ mixtures (the best any unmixing can do).

    Used in: 01_cocktail_party_ica.ipynb (an anchor next to ICA, and proof that delays break any unmixing matrix).

    Args:
        mixtures: array (n_mics, n_samples).
        A: the square, invertible mixing matrix (n_mics, n_mics) that made them.
    Returns:
        estimates, array (n_sources, n_samples).
    Raises:
        ValueError: A is not square, is singular, or does not match the number of microphones.
    """
    mixtures = _check_signals(mixtures, "mixtures")
    A = _check_matrix(A)
    if A.shape[0] != A.shape[1]:
        raise ValueError(f"Only a square mixing matrix (as many microphones as sources) can be inverted; got shape "
                         f"{A.shape}. With fewer microphones than sources no matrix can unmix them.")
    if A.shape[0] != len(mixtures):
        raise ValueError(f"A has {A.shape[0]} rows but there are {len(mixtures)} mixtures (one row per microphone).")
    if np.linalg.cond(A) > 1e12:
        raise ValueError(f"The mixing matrix is singular (condition number {np.linalg.cond(A):.1e}): two microphones "
                         f"hear the same combination of sources, so the sources cannot be recovered. "
                         f"Draw another matrix with random_mixing_matrix.")
    return np.linalg.solve(A, mixtures)


def separate_fastica(mixtures, n_components=None, seed=0, max_iter=400, tol=1e-4):
    """Estimate independent components with scikit-learn's FastICA (unit-variance whitening).

    Used in: 01_cocktail_party_ica.ipynb, 05_separate_then_identify.ipynb.

    The components come back in arbitrary order, sign and scale: use `match_estimates` before evaluating.

    Args:
        mixtures: array (n_mics, n_samples).
        n_components: number of components (default: one per microphone); at most n_mics.
        seed: FastICA's random_state (the starting unmixing matrix).
        max_iter, tol: FastICA's iteration limit and convergence tolerance.
    Returns:
        (estimates, model): array (n_components, n_samples), each with unit variance, and the fitted
        sklearn FastICA (model.mixing_ is the estimated mixing matrix, model.n_iter_ the iterations used).
    Raises:
        ValueError: more components than microphones, or NaN/silent mixtures.
    """
    mixtures = _check_signals(mixtures, "mixtures")
    n_mics = len(mixtures)
    n_components = n_mics if n_components is None else n_components
    if not 1 <= n_components <= n_mics:
        raise ValueError(f"Asked for {n_components} components from {n_mics} mixtures: ICA can find at most one "
                         f"component per microphone. Use n_components <= {n_mics} or record more microphones.")
    model = FastICA(n_components=n_components, whiten="unit-variance", random_state=seed, max_iter=max_iter, tol=tol)
    estimates = model.fit_transform(mixtures.T).T  # sklearn wants (n_samples, n_features)
    return estimates, model


def abs_correlation(estimates, sources):
    """|Pearson correlation| between every estimate and every source.

    Used in: 01_cocktail_party_ica.ipynb (the heatmap before and after matching), `match_estimates`.

    Args:
        estimates: array (n_estimates, n_samples); sources: array (n_sources, n_samples).
    Returns:
        array (n_estimates, n_sources) with values in [0, 1].
    """
    estimates, sources = _check_signals(estimates, "estimates"), _check_signals(sources, "sources")
    if estimates.shape[1] != sources.shape[1]:
        raise ValueError(f"estimates have {estimates.shape[1]} samples but sources have {sources.shape[1]}: "
                         f"compare signals of the same length.")
    return np.abs(np.corrcoef(estimates, sources)[: len(estimates), len(estimates):])


class Matching(NamedTuple):
    """Result of `match_estimates`: row k of `estimates` is the estimate of source `source_index[k]`."""

    estimates: np.ndarray     # (n_matched, n_samples) reordered estimates, rescaled to their sources (sign included)
    source_index: np.ndarray  # (n_matched,) which source each row estimates, increasing
    permutation: np.ndarray   # (n_matched,) which raw estimate each row came from
    gains: np.ndarray         # (n_matched,) least-squares gain applied to each raw estimate
    abs_corr: np.ndarray      # (n_estimates, n_sources) |correlation| of the raw estimates with the sources


def match_estimates(estimates, sources):
    """Resolve ICA's order, sign and scale ambiguities: pair estimates with sources, then rescale each.

    Used in: 01_cocktail_party_ica.ipynb, 05_separate_then_identify.ipynb (to know the true speaker of each
    component).

    Pairs are the assignment that maximises the total |correlation| (scipy's linear_sum_assignment, so no
    source is used twice); each estimate is then multiplied by the least-squares gain <e, s> / <e, e>,
    which also fixes its sign. With fewer estimates than sources, each estimate gets its best distinct source.

    Args:
        estimates: array (n_estimates, n_samples), n_estimates <= n_sources.
        sources: the true sources, array (n_sources, n_samples).
    Returns:
        Matching(estimates, source_index, permutation, gains, abs_corr); see `Matching`.
    Raises:
        ValueError: more estimates than sources, different lengths, NaN/silent signals.
    """
    corr = abs_correlation(estimates, sources)
    estimates, sources = np.asarray(estimates, dtype=np.float64), np.asarray(sources, dtype=np.float64)
    if len(estimates) > len(sources):
        raise ValueError(f"{len(estimates)} estimates for {len(sources)} sources: pass at most one estimate per source.")
    source_index, permutation = linear_sum_assignment(corr.T, maximize=True)
    chosen, targets = estimates[permutation], sources[source_index]
    gains = np.sum(chosen * targets, axis=1) / np.sum(chosen**2, axis=1)
    return Matching(gains[:, None] * chosen, source_index, permutation, gains, corr)


def loudest_microphone(A, sources):
    """For each source, the microphone where it makes up the largest share of the signal.

    Used in: 01_cocktail_party_ica.ipynb (the mixture-as-estimate baseline: `mixtures[loudest_microphone(A, sources)]`).

    Args:
        A: mixing matrix (n_mics, n_sources).
        sources: array (n_sources, n_samples), used for the source powers.
    Returns:
        int array (n_sources,) of microphone indices.
    """
    sources = _check_signals(sources, "sources")
    contributions = _check_matrix(A, len(sources)) ** 2 * np.mean(sources**2, axis=1)  # (n_mics, n_sources) powers
    share = contributions / contributions.sum(axis=1, keepdims=True)
    return np.argmax(share, axis=0)


def bss_eval(sources, estimates, source_index=None, filters_len=512, names=None):
    """SDR, SIR and SAR (in dB) of each estimate with museval's BSS Eval, over one window covering the whole signal.

    Used in: 01_cocktail_party_ica.ipynb, 05_separate_then_identify.ipynb.

    Uses museval.metrics.bss_eval with bsseval_sources_version=True (the classic bss_eval_sources of
    mir_eval and BSS Eval v3) and compute_permutation=False: estimates must already be matched. An estimate's
    scores depend on it and on all the sources only, so with fewer estimates than sources (more speakers than
    microphones) the missing rows are filled with copies of the first estimate and their scores dropped.

    Args:
        sources: the true sources, array (n_sources, n_samples).
        estimates: matched estimates, array (n_estimates, n_samples).
        source_index: which source each estimate estimates (n_estimates,); default 0..n_sources-1.
        filters_len: length in samples of the distortion filters BSS Eval allows (512 is its default; shorter
            is much faster: the cost grows with (n_sources * filters_len) ** 3).
        names: optional labels of the sources, used as the table's index.
    Returns:
        pandas.DataFrame with one row per estimate and columns SDR, SIR, SAR (dB).
    Raises:
        ValueError: shapes that do not match, or NaN/silent signals.
    """
    from .evaluation import museval_metrics  # museval is slow to import and needs ffmpeg: imported on first use

    sources, estimates = _check_signals(sources, "sources"), _check_signals(estimates, "estimates")
    if estimates.shape[1] != sources.shape[1]:
        raise ValueError(f"estimates have {estimates.shape[1]} samples but sources have {sources.shape[1]}: "
                         f"evaluate signals of the same length.")
    source_index = np.arange(len(sources)) if source_index is None else np.asarray(source_index)
    if len(source_index) != len(estimates) or len(set(source_index)) != len(source_index) \
            or not np.all((0 <= source_index) & (source_index < len(sources))):
        raise ValueError(f"source_index {source_index.tolist()} must name a distinct source (0..{len(sources) - 1}) for "
                         f"each of the {len(estimates)} estimates; use match_estimates(...).source_index.")
    padded = np.repeat(estimates[:1], len(sources), axis=0)
    padded[source_index] = estimates
    n_samples = sources.shape[1]
    sdr, _, sir, sar, _ = museval_metrics().bss_eval(
        sources[..., None], padded[..., None], window=n_samples, hop=n_samples,
        filters_len=filters_len, bsseval_sources_version=True)
    index = [names[i] for i in source_index] if names is not None else source_index
    return pd.DataFrame({"SDR": sdr[source_index, 0], "SIR": sir[source_index, 0], "SAR": sar[source_index, 0]},
                        index=pd.Index(index, name="source"))


def plot_matrix(matrix, title=None, xlabel="source", ylabel="microphone", ax=None, vmin=None, vmax=None, fmt=".2f",
                xticklabels=None):
    """Show a small matrix as an annotated heatmap (mixing matrix, |correlation| before/after matching).

    Used in: 01_cocktail_party_ica.ipynb.

    Args:
        matrix: 2-D array (rows are drawn top to bottom).
        title, xlabel, ylabel: labels.
        vmin, vmax: colour range (default: the data's range).
        fmt: number format for the annotations (None: no annotations).
        xticklabels: optional column labels, e.g. speaker names (default: column numbers).
    Returns:
        The matplotlib Axes.
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 3.5))
    image = ax.imshow(matrix, cmap="viridis", vmin=vmin, vmax=vmax)
    ax.figure.colorbar(image, ax=ax, shrink=0.8)
    if fmt is not None:
        threshold = (np.nanmax(matrix) + np.nanmin(matrix)) / 2
        for (row, col), value in np.ndenumerate(matrix):
            ax.text(col, row, format(value, fmt), ha="center", va="center", fontsize=7,
                    color="black" if value > threshold else "white")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel, xticks=range(matrix.shape[1]), yticks=range(matrix.shape[0]))
    if xticklabels is not None:
        ax.set_xticklabels(xticklabels, rotation=90)
    return ax
