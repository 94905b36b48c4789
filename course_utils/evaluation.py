"""BSS Eval v4 with museval: frame-wise SDR/SIR/SAR/ISR, SiSEC aggregation and results tables.

Used in: 06_masks_and_evaluation.ipynb, and later 07–11 (every separator is scored here).

SiSEC 2018 protocol: BSS Eval v4 (`museval`, time-invariant distortion filters) on 1-s windows
with 1-s hops; per track the median over frames, then the median over tracks. museval sets a
frame's scores to NaN when any reference (or estimate) is *exactly* zero in that frame; a frame
where a reference is merely very quiet still gets a score, dominated by whatever else is there.
`bss_eval_frames` flags such quiet frames so the aggregation can leave them out too. A full-length song
is scored in chunks of `CHUNK_SECONDS` (whole 1-s frames, filters fitted per chunk), so that scoring a
3-minute song needs the memory of a 45-s one. Scoring several methods on one short song repeats museval's work on
the references; `bss_eval_frames` reuses it (`_reusing_reference_work`), with the same scores to within 1e-4 dB.
"""
import contextlib
from collections import OrderedDict

import numpy as np
import pandas as pd
import scipy.linalg

from .datasets import require_ffmpeg

METRICS = ("SDR", "SIR", "SAR", "ISR")
SISEC_FILTERS_SECONDS = 512 / 44100  # museval's 512-tap distortion filters at MUSDB's 44.1 kHz (11.6 ms)
# Longer songs are scored in chunks of about this length, so that museval's memory does not grow with the song:
# 45 s at 44.1 kHz plus the filters fit one 2**21-point FFT (a whole 3-min song: 2**23, over 3 GB for four targets).
CHUNK_SECONDS = 45.0
# Signals up to this long (the bundled songs) reuse museval's work on the references from one estimate to the next
REUSE_MAX_SECONDS = 12.0

# Median vocals SDR (dB) on the MUSDB18 test set (50 full songs, 44.1 kHz; SiSEC's median of frame medians):
# other data than ours. name -> (SDR, source, conditions).
PUBLISHED_VOCALS_SDR = {
    "oracle IRM2": (9.43, "SiSEC 2018 (Stöter et al. 2018)", "oracle ratio mask, power 2, at the organisers' STFT"),
    "oracle IRM1": (8.52, "SiSEC 2018 (Stöter et al. 2018)", "oracle ratio mask, power 1, at the organisers' STFT"),
    "oracle IBM1": (7.67, "SiSEC 2018 (Stöter et al. 2018)", "oracle binary mask, at the organisers' STFT"),
    "HT-Demucs (fine-tuned)": (9.20, "Rouard et al. 2023", "waveform + spectrogram transformer; MUSDB18-HQ + 800 songs"),
    "Spleeter": (6.55, "Hennequin et al. 2020", "U-Net on magnitudes; trained on a private catalogue"),
    "Open-Unmix": (6.32, "Stöter et al. 2019 (UMX)", "BiLSTM on magnitudes + Wiener filter; MUSDB18 train"),
    "mixture": (1.12, "SiSEC 2018 (Stöter et al. 2018)", "anchor: the mixture / 4 as every estimate"),
}


def published_table(names=None):
    """The published MUSDB18 vocals SDR, in the rows of our methods that are the same method.

    Used in: 06, 11 (beside our results, clearly other data).

    Args:
        names: {published name (a key of PUBLISHED_VOCALS_SDR): our method's name} for methods we run under
            another name (e.g. {"oracle IRM2": "oracle IRM2 (STFT 2048/512)"}); others keep their own name.
    Returns:
        DataFrame indexed by method, columns ("MUSDB18, published", "SDR vocals" | "source" | "conditions").
    """
    names = names or {}
    unknown = sorted(set(names) - set(PUBLISHED_VOCALS_SDR))
    if unknown:
        raise ValueError(f"No published figure for {unknown}; there are {sorted(PUBLISHED_VOCALS_SDR)}.")
    rows = {names.get(name, name): values for name, values in PUBLISHED_VOCALS_SDR.items()}
    table = pd.DataFrame.from_dict(rows, orient="index", columns=["SDR vocals", "source", "conditions"])
    table.columns = pd.MultiIndex.from_product([["MUSDB18, published"], table.columns])
    return table


def museval_metrics():
    """museval's BSS Eval module, imported on first use: museval imports musdb, which needs ffmpeg at import time.

    Used in: `bss_eval_frames`; `ica.bss_eval` (01, 05). Importing it here, not at the top of the package,
    keeps `import course_utils` and the speaker notebooks working on a machine without ffmpeg.

    Raises:
        RuntimeError: ffmpeg/ffprobe missing (`datasets.require_ffmpeg`'s message says how to install them).
    """
    require_ffmpeg()
    from museval import metrics

    return metrics


class _ContentCache:
    """A small least-recently-used cache keyed by the content of arrays: a cheap fingerprint, then exact equality."""

    def __init__(self, size):
        self.size, self.entries = size, OrderedDict()

    def get(self, arrays, compute):
        key = tuple((a.shape, a.dtype.str, a.ravel()[:: max(1, a.size // 256)].tobytes()) for a in arrays)
        for stored, value in self.entries.get(key, ()):
            if all(np.array_equal(a, b) for a, b in zip(stored, arrays)):
                self.entries.move_to_end(key)
                return value
        value = compute()
        self.entries.setdefault(key, []).append(([np.array(a) for a in arrays], value))
        self.entries.move_to_end(key)
        while len(self.entries) > self.size:
            self.entries.popitem(last=False)
        return value

    def clear(self):
        self.entries.clear()


# museval's work that depends on the references alone: their correlations, and the factorisation of the matrix that
# every estimate's projection solves (one per song or chunk for all targets, one per target alone)
_CORRELATIONS, _FACTORS = _ContentCache(2), _ContentCache(2 * (1 + 5))


class _ReusingLinalg:
    """numpy.linalg as museval.metrics calls it, whose solve reuses the LU factors of a matrix it has factorised."""

    def __getattr__(self, name):
        return getattr(np.linalg, name)

    @staticmethod
    def solve(a, b):
        factors = _FACTORS.get([a], lambda: scipy.linalg.lu_factor(a, check_finite=False))
        return scipy.linalg.lu_solve(factors, b, check_finite=False)


class _ReusingNumpy:
    linalg = _ReusingLinalg()

    def __getattr__(self, name):
        return getattr(np, name)


@contextlib.contextmanager
def _reusing_reference_work(metrics):
    """museval.metrics, for the duration, keeps what depends on the references alone and reuses it for the next
    estimate of the same song: scoring N methods on a song costs far less than N times one."""
    correlations = metrics._compute_reference_correlations
    metrics._compute_reference_correlations = lambda references, filters_len: _CORRELATIONS.get(
        [references, np.array(filters_len)], lambda: correlations(references, filters_len))
    metrics.np = _ReusingNumpy()
    try:
        yield
    finally:
        metrics._compute_reference_correlations, metrics.np = correlations, np


def _check_pair(name, reference, estimate, sr):
    """Validate one reference/estimate pair of time-domain signals; return them as float64 (n, channels)."""
    reference = np.asarray(reference, dtype=np.float64)
    estimate = np.asarray(estimate, dtype=np.float64)
    for label, audio in (("reference", reference), ("estimate", estimate)):
        if audio.ndim not in (1, 2) or audio.size == 0:
            raise ValueError(f"{label} '{name}' must have shape (n,) or (n, channels), got {audio.shape}.")
        if not np.all(np.isfinite(audio)):
            raise ValueError(f"{label} '{name}' contains NaN or infinite values: fix the separator's output "
                             f"(e.g. a division by a zero mask sum) before evaluating.")
    reference = reference[:, None] if reference.ndim == 1 else reference
    estimate = estimate[:, None] if estimate.ndim == 1 else estimate
    if reference.shape[1] != estimate.shape[1]:
        raise ValueError(f"'{name}': the reference has {reference.shape[1]} channel(s) and the estimate "
                         f"{estimate.shape[1]} (shapes {reference.shape} and {estimate.shape}). Evaluate stereo "
                         f"against stereo (n, 2); do not average an estimate to mono.")
    if len(reference) != len(estimate):
        ratio = len(estimate) / len(reference)
        hint = (f" The ratio {ratio:.3g} looks like a sample-rate mismatch: resample the estimate to {sr} Hz."
                if any(abs(ratio - r) < 0.01 for r in (2, 0.5, 44100 / sr, sr / 44100, 16000 / sr, sr / 16000)) else
                " Cut or pad the estimate to the mixture's length (masks.istft(..., length=n)).")
        raise ValueError(f"'{name}': the estimate has {len(estimate)} samples but the reference {len(reference)}."
                         + hint)
    if not np.any(reference):
        raise ValueError(f"The reference '{name}' is silent (all zeros): BSS Eval cannot score an estimate of "
                         f"nothing. Leave this target out for this track, or pick an excerpt where it plays.")
    if not np.any(estimate):
        raise ValueError(f"The estimate '{name}' is all zeros: BSS Eval needs a non-silent estimate. "
                         f"Check the separator (e.g. a binary mask whose threshold keeps no bin).")
    return reference, estimate


def frame_levels_db(reference, sr, window_seconds=1.0, hop_seconds=1.0):
    """Energy of each evaluation frame of a reference, in dB relative to its loudest frame.

    Used in: 06 (which frames are silent or quiet); `bss_eval_frames`.

    Args:
        reference: (n,) or (n, channels) signal.
        sr: sample rate in Hz; window_seconds, hop_seconds: the evaluation frames.
    Returns:
        array (frames,): 0 for the loudest frame, -inf for digitally silent frames.
    """
    reference = np.asarray(reference, dtype=np.float64).reshape(len(reference), -1)
    window, hop = int(window_seconds * sr), int(hop_seconds * sr)
    n_frames = max(1, (len(reference) - window + hop) // hop) if window < len(reference) else 1
    energy = np.array([np.sum(reference[t * hop: t * hop + window] ** 2) for t in range(n_frames)])
    with np.errstate(divide="ignore"):
        return 10 * np.log10(energy / energy.max())


def _chunks(n_samples, window, hop, chunk_samples):
    """Sample ranges of consecutive evaluation chunks, each a whole number of museval's frames."""
    n_frames = (n_samples - window + hop) // hop if window < n_samples else 1  # museval's Framing.nwin
    per_chunk = max(1, chunk_samples // hop) if chunk_samples else n_frames
    starts = list(range(0, n_frames, per_chunk))
    if len(starts) > 1 and n_frames - starts[-1] < per_chunk / 2:
        starts.pop()  # a short tail joins the chunk before it
    ends = [(end - 1) * hop + window for end in starts[1:]] + [n_samples]
    return [slice(start * hop, end) for start, end in zip(starts, ends)]


def bss_eval_frames(references, estimates, sr, window_seconds=1.0, hop_seconds=1.0, quiet_db=None,
                    filters_seconds=SISEC_FILTERS_SECONDS, chunk_seconds=CHUNK_SECONDS):
    """Frame-wise BSS Eval v4 (museval) of several estimates against their references, evaluated jointly.

    Used in: 06, 07–11.

    Args:
        references: dict target -> true (n, channels) signal, e.g. {"vocals": ..., "accompaniment": ...}.
        estimates: dict with the same targets -> (n, channels) estimates at the same rate and length.
        sr: sample rate in Hz.
        window_seconds, hop_seconds: evaluation frames (SiSEC: 1 s and 1 s).
        quiet_db: also exclude frames where some reference is more than `quiet_db` dB below its own
            loudest frame (e.g. 40); None keeps museval's rule alone (exactly silent frames only).
        filters_seconds: length of BSS Eval's distortion filters; the default is museval's 512 taps
            at 44.1 kHz, converted to taps at `sr` (256 at 22050 Hz).
        chunk_seconds: signals longer than 1.5 chunks are scored chunk by chunk (whole frames each), every
            chunk with its own time-invariant filters, so memory stays that of one chunk; shorter signals,
            and chunk_seconds=None, get museval's one set of filters for the whole signal, as in SiSEC.
    Returns:
        DataFrame, one row per (target, frame): target, frame, start (s), SDR, SIR, SAR, ISR (dB, as
        museval returns them, NaN in silent frames), level_db (the reference frame's level relative to
        its loudest frame) and excluded (True where the frame is left out of the aggregation: a NaN
        score or, with `quiet_db`, a quiet reference in that frame).
    """
    if not isinstance(references, dict) or not isinstance(estimates, dict) or set(references) != set(estimates):
        raise ValueError(f"references and estimates must be dicts with the same targets; got "
                         f"{sorted(references)} and {sorted(estimates)}.")
    if len(references) < 2:
        raise ValueError("BSS Eval scores interference between targets: give at least two, e.g. vocals and "
                         "accompaniment (accompaniment = mixture - vocals when you only estimate vocals).")
    targets = list(references)
    pairs = [_check_pair(name, references[name], estimates[name], sr) for name in targets]
    shapes = {ref.shape for ref, _ in pairs}
    if len(shapes) != 1:
        raise ValueError(f"All references must have the same shape, got {sorted(shapes)}.")
    window, hop = int(window_seconds * sr), int(hop_seconds * sr)
    chunks = _chunks(len(pairs[0][0]), window, hop, chunk_seconds and int(chunk_seconds * sr))
    metrics = museval_metrics()
    short = len(pairs[0][0]) <= REUSE_MAX_SECONDS * sr  # what museval keeps of a long song would cost too much memory
    if not short:  # a long song now: what was kept for short signals (at 44.1 kHz, 268 MB per set of four) goes
        _CORRELATIONS.clear()
        _FACTORS.clear()
    with _reusing_reference_work(metrics) if short else contextlib.nullcontext():
        scores = [metrics.bss_eval(
            np.stack([ref[part] for ref, _ in pairs]), np.stack([est[part] for _, est in pairs]), window=window,
            hop=hop, filters_len=int(round(filters_seconds * sr)))[:4] for part in chunks]
    sdr, isr, sir, sar = (np.concatenate(metric, axis=1) for metric in zip(*scores))
    levels = np.stack([frame_levels_db(ref, sr, window_seconds, hop_seconds) for ref, _ in pairs])
    excluded = np.isnan(sdr).any(axis=0)
    if quiet_db is not None:
        excluded |= (levels < -abs(quiet_db)).any(axis=0)
    n_frames = sdr.shape[1]
    return pd.DataFrame({
        "target": np.repeat(targets, n_frames),
        "frame": np.tile(np.arange(n_frames), len(targets)),
        "start": np.tile(np.arange(n_frames) * hop / sr, len(targets)),
        "SDR": sdr.ravel(), "SIR": sir.ravel(), "SAR": sar.ravel(), "ISR": isr.ravel(),
        "level_db": levels.ravel(), "excluded": np.tile(excluded, len(targets)),
    })


def evaluate_track(method, track, references, estimates, sr, quiet_db=None, window_seconds=1.0, hop_seconds=1.0):
    """Frame-wise BSS Eval of one track's estimates, silent stems left out, ready for `evaluation.sisec_medians`.

    Used in: 06, 08, 09, 11 (through `comparison.score_estimates` in 06 and 11).

    A stem that is silent in the whole excerpt cannot be scored (S1 scored such stems and reported
    SDRs near -139 dB), so it is left out here; `evaluation.bss_eval_frames` marks the frames where
    some reference is silent (or, with quiet_db, quiet) as excluded, and the medians skip them.

    Args:
        method, track: labels for the rows (e.g. "autoencoder (CMVN)", track.name).
        references: {source: true (n, channels) audio}; estimates: the same sources -> estimates.
        sr: sample rate in Hz.
        quiet_db: also exclude frames where a reference is this many dB below its loudest frame.
        window_seconds, hop_seconds: evaluation frames (SiSEC: 1 s and 1 s).
    Returns:
        DataFrame of `evaluation.bss_eval_frames` rows with "method" and "track" columns.
    """
    missing = [name for name in references if name not in estimates]
    if missing:
        raise ValueError(f"estimates lack {missing}: separate every source you evaluate (have {sorted(estimates)}).")
    audible = [name for name, ref in references.items() if np.any(ref)]
    frames = bss_eval_frames({n: references[n] for n in audible}, {n: estimates[n] for n in audible}, sr,
                             window_seconds, hop_seconds, quiet_db=quiet_db)
    return frames.assign(method=method, track=track)


def track_medians(frames, by=("method", "track", "target")):
    """SiSEC step 1: the median of each metric over the frames kept (not `excluded`) of each track.

    Used in: 06, 07–11.

    Args:
        frames: DataFrame of `bss_eval_frames` rows, with extra columns such as method and track.
        by: the columns that identify one track's scores for one target.
    Returns:
        DataFrame indexed by `by`, one column per metric (NaN when every frame was excluded).
    """
    by = [col for col in by if col in frames.columns]
    kept = frames.loc[~frames["excluded"], [*by, *METRICS]]
    medians = kept.groupby(by).median()
    return medians.reindex(frames.groupby(by).size().index)


def sisec_medians(frames, by=("method", "target")):
    """SiSEC aggregation: median over frames for each track, then median over tracks.

    Used in: 06, 07–11 (the headline numbers of every results table).

    Args:
        frames: DataFrame of `bss_eval_frames` rows with a `track` column (and e.g. `method`).
        by: the columns kept in the result.
    Returns:
        DataFrame indexed by `by`, one column per metric.
    """
    if "track" not in frames.columns:
        raise ValueError("frames needs a 'track' column: add it after bss_eval_frames, e.g. frames['track'] = name.")
    per_track = track_medians(frames, by=(*by, "track"))
    return per_track.groupby(level=[col for col in by if col in frames.columns]).median()


def results_table(measured, names=None):
    """Our measured medians (vocals SDR, SIR, SAR; accompaniment SDR) next to the published MUSDB18 vocals SDR.

    Used in: 06 (the classic baselines and the oracles beside the published figures).

    Args:
        measured: DataFrame from `sisec_medians` indexed by (method, target).
        names: as `published_table`: {published name: our method's name} where the names differ.
    Returns:
        DataFrame indexed by method: our medians (best vocals SDR first), then the published figure, its source and
        its conditions in the row of the same method (other data: MUSDB18); published-only rows last.
    """
    ours = pd.DataFrame({f"{metric} {target} (this run)": measured[metric].xs(target, level="target")
                         for target, metric in (("vocals", "SDR"), ("vocals", "SIR"), ("vocals", "SAR"),
                                                ("accompaniment", "SDR"))})
    ours = ours.sort_values("SDR vocals (this run)", ascending=False)
    published = published_table(names).droplevel(0, axis=1).rename(columns={"SDR vocals": "SDR vocals, MUSDB18"})
    order = list(dict.fromkeys([*ours.index, *published.index]))
    return ours.join(published, how="outer").loc[order]
