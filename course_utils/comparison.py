"""The grand comparison (S4): every separator of the course on the same tracks, timed and scored alike.

Used in: 11_grand_comparison.ipynb (everything), 06_masks_and_evaluation.ipynb (`run_comparison`); 08, 09 and 10
(`iter_tracks`, `score_estimates` and the paired differences in their own per-song loops).

A *method* is any function (mixture, stems) -> {name: estimate}: it gets the true stems only so that
oracle masks and the oracle-assisted baselines (NMF, ICA) can use them; blind methods ignore them.
Every method is scored twice where it can be:
- "vocals/accompaniment": vocals against the true vocals and accompaniment against the mixture minus
  the vocals (or musdb's accompaniment when the stems hold it), evaluated jointly (SiSEC's
  vocals/accompaniment task). Four-stem methods get their accompaniment as drums + bass + other
  (`masks.add_accompaniment`).
- "four stems": vocals, drums, bass, other evaluated jointly, for methods that separate all four; the
  drums, bass and other rows come from here.
Both use `evaluation.evaluate_track` (museval BSS Eval v4, 1-s frames, silent stems and frames left out),
so `evaluation.sisec_medians` aggregates the rows exactly as in notebooks 06–09.
"""
import time

import numpy as np
import pandas as pd
from scipy import stats

from . import masks
from .audio import excerpt
from .datasets import MUSDB_TARGETS, as_track, track_arrays
from .evaluation import evaluate_track, sisec_medians, track_medians

PAIR, FOUR = "vocals/accompaniment", "four stems"


def _check_track(track, name):
    return as_track(track, MUSDB_TARGETS, f"Track {name!r}")


def _is_musdb_track(track):
    return hasattr(track, "targets") and hasattr(track, "name")


def iter_tracks(tracks, names=None, targets=MUSDB_TARGETS):
    """Yield (name, (mixture, stems, sr)) one track at a time, reading musdb tracks only when their turn comes.

    Used in: `run_comparison` (06, 11); the per-song loops of 08, 09 and 10, which hold one song at a time.

    Args:
        tracks: musdb tracks (`datasets.load_musdb(...).tracks[:n]`, read from disk one by one) or
            (mixture, stems, sr) tuples from `datasets.track_arrays` (already in memory).
        names: one name per track; None takes each musdb track's own name (required for tuples).
        targets: the stems read from musdb tracks (the four MUSDB stems at least; add "accompaniment"
            to score against musdb's accompaniment rather than mixture - vocals).
    Yields:
        (name, (mixture (n, channels) float64, {stem: (n, channels) float64}, sr)).
    """
    missing = [stem for stem in MUSDB_TARGETS if stem not in targets]
    if missing:
        raise ValueError(f"targets must include the four MUSDB stems; {missing} missing from {list(targets)}.")
    tracks = list(tracks)  # musdb track objects are light: the audio stays on disk until read below
    if names is None:
        if not all(_is_musdb_track(track) for track in tracks):
            raise ValueError("Give one name per track (names=...) when the tracks are (mixture, stems, sr) tuples.")
        names = [track.name for track in tracks]
    names = list(names)
    if len(tracks) == 0 or len(tracks) != len(names):
        raise ValueError(f"Give one name per track: {len(tracks)} tracks, {len(names)} names (and at least one track).")
    if not _is_musdb_track(tracks[0]):  # arrays already in memory: check them all before the long run starts
        for track, name in zip(tracks, names):
            _check_track(track, name)
    for track, name in zip(tracks, names):
        yield name, _check_track(track_arrays(track, targets) if _is_musdb_track(track) else track, name)


def score_estimates(method, name, mixture, stems, estimates, sr, four_stems=True, quiet_db=None,
                    window_seconds=1.0, hop_seconds=1.0):
    """Score one method's estimates of one track: the vocals/accompaniment pair and, if present, four stems.

    Used in: 06, 11 (through `run_comparison`); 08, 09, 10 (their own per-song loops).

    Args:
        method, name: labels for the rows.
        mixture: (n, channels); stems: the true {vocals, drums, bass, other} (and, if given, musdb's
            "accompaniment", the reference of the pair task; otherwise mixture - vocals); sr: rate in Hz.
        estimates: {name: (n, channels)} with at least "vocals" (and "accompaniment" or other stems).
        four_stems: also score vocals, drums, bass and other jointly when the method estimates all four.
        quiet_db, window_seconds, hop_seconds: as `evaluation.bss_eval_frames` (SiSEC: None, 1 s, 1 s).
    Returns:
        DataFrame of `evaluation.evaluate_track` rows with a "task" column (PAIR or FOUR).
    """
    if "vocals" not in estimates:
        raise ValueError(f"{method} returned {sorted(estimates)}: every method must estimate 'vocals'.")
    if "accompaniment" not in estimates:
        if len(estimates) < 2:
            raise ValueError(f"{method} returned only {sorted(estimates)}: add 'accompaniment' (e.g. mixture - vocals).")
        estimates = masks.add_accompaniment(estimates)
    eval_args = dict(quiet_db=quiet_db, window_seconds=window_seconds, hop_seconds=hop_seconds)
    accompaniment = stems["accompaniment"] if "accompaniment" in stems else mixture - stems["vocals"]
    references = {"vocals": stems["vocals"], "accompaniment": accompaniment}
    frames = [evaluate_track(method, name, references, estimates, sr, **eval_args).assign(task=PAIR)]
    if four_stems and all(stem in estimates for stem in MUSDB_TARGETS):
        four = evaluate_track(method, name, {s: stems[s] for s in MUSDB_TARGETS},
                              {s: estimates[s] for s in MUSDB_TARGETS}, sr, **eval_args)
        frames.append(four[four["target"] != "vocals"].assign(task=FOUR))
    return pd.concat(frames, ignore_index=True)


def _kept(audio, sr, seconds):
    """A listening excerpt (`audio.excerpt`) as its own small float32 array, so the song itself can be freed."""
    return np.array(excerpt(audio, sr, seconds, fit=True), dtype=np.float32)


def run_comparison(methods, tracks, names=None, progress=True, keep=None, keep_seconds=None, keep_inputs=False,
                   score_args=None, targets=MUSDB_TARGETS, warm_up=()):
    """Separate every track with every method, time each separation, and score it, holding one track at a time.

    Used in: 06, 11.

    For each track in turn: read it (musdb tracks are read from disk only now), run every method on it,
    score each estimate as soon as it exists, keep the scores and the excerpts asked for, and let the
    audio go before the next track. Memory therefore does not grow with the number of tracks. The methods named
    in `warm_up` (the networks) first separate two short excerpts of the first track, untimed (`_warm_up`), so
    that the timings measure separation and not TensorFlow building a network's functions on its first calls.

    Args:
        methods: dict method name -> function(mixture, stems) -> {name: estimate}.
        tracks: musdb tracks (`load_musdb(...).tracks[:n]`) or (mixture, stems, sr) tuples from
            `datasets.track_arrays`; see `iter_tracks`.
        names: one name per track (None: the musdb tracks' own names).
        progress: show a progress bar (tqdm) over the track x method separations.
        keep: track names whose vocal estimates are returned, for listening (None: none; "all": every track).
        keep_seconds: how much of each kept signal to return, as float32: None (all), s (the first s
            seconds) or (start, end) in seconds, moved back to end at a shorter song's end
            (`audio.excerpt` with fit=True). Full-length songs: keep a short excerpt.
        keep_inputs: also keep the kept tracks' true vocals, as (track, "truth"), and mixture, as
            (track, "mixture (input)").
        score_args: keyword arguments of `score_estimates`, e.g. dict(four_stems=False, quiet_db=30).
        targets: the stems read from musdb tracks (see `iter_tracks`).
        warm_up: names of methods run on the first track's first 2 s and 3 s before anything is timed.
    Returns:
        (frames, timings, kept): frames of `score_estimates` for everything; timings: DataFrame with
        method, track, seconds (separation only) and audio_seconds; kept: {(track, method): vocals excerpt}.
    """
    from tqdm.auto import tqdm

    if not methods or not callable(next(iter(methods.values()), None)):
        raise ValueError("methods must be a non-empty dict name -> function(mixture, stems) -> estimates.")
    unknown = sorted(set(warm_up) - set(methods))
    if unknown:
        raise ValueError(f"warm_up names {unknown}, which are not methods; the methods are {list(methods)}.")
    tracks = list(tracks)
    frames, timings, kept = [], [], {}
    with tqdm(total=len(methods) * len(tracks), desc="separating and scoring", disable=not progress) as bar:
        for name, (mixture, stems, sr) in iter_tracks(tracks, names, targets):
            if warm_up:
                _warm_up([methods[name] for name in warm_up], mixture, stems, sr)
                warm_up = ()
            keeping = keep == "all" or name in (keep or ())
            if keeping and keep_inputs:
                kept[(name, "truth")] = _kept(stems["vocals"], sr, keep_seconds)
                kept[(name, "mixture (input)")] = _kept(mixture, sr, keep_seconds)
            for method, separate in methods.items():
                start = time.perf_counter()
                estimates = separate(mixture, stems)
                seconds = time.perf_counter() - start
                frames.append(score_estimates(method, name, mixture, stems, estimates, sr, **(score_args or {})))
                timings.append({"method": method, "track": name, "seconds": seconds, "audio_seconds": len(mixture) / sr})
                if keeping:
                    kept[(name, method)] = _kept(estimates["vocals"], sr, keep_seconds)
                del estimates  # before the next method allocates its own
                bar.update()
            del mixture, stems  # before the next track is read
    return pd.concat(frames, ignore_index=True), pd.DataFrame(timings), kept


def _warm_up(separators, mixture, stems, sr, seconds=(2.0, 3.0)):
    """Run each function on excerpts of these lengths, results dropped: a Keras network traces its predict function
    on its first call and once more for a second input length, after which any length reuses the general trace."""
    for length in sorted({min(len(mixture), int(s * sr)) for s in seconds}):
        for separate in separators:
            separate(mixture[:length], {source: audio[:length] for source, audio in stems.items()})


def speed_table(timings):
    """Each method's separation speed: mean seconds per track and x real time (seconds of audio per second of
    computing, over all its tracks).

    Used in: 11; `exercises.check_real_time_factor` (11's exercise 2).

    Args:
        timings: from `run_comparison`.
    Returns:
        DataFrame indexed by method: "seconds per track", "x real time".
    """
    speed = timings.groupby("method")[["seconds", "audio_seconds"]].sum()
    return pd.DataFrame({"seconds per track": timings.groupby("method")["seconds"].mean(),
                         "x real time": speed["audio_seconds"] / speed["seconds"].clip(lower=1e-9)})


def side_by_side(frames, by="songs", columns=(("vocals", "SDR"), ("vocals", "SIR"), ("vocals", "SAR"),
                                             ("accompaniment", "SDR"))):
    """SiSEC medians of every method on several song sets, side by side: one column group per set.

    Used in: 11 (the test songs beside the unseen songs).

    Args:
        frames: `run_comparison` frames with a column `by` naming each row's song set (e.g. "test", "unseen").
        by: that column.
        columns: (target, metric) pairs to show, e.g. SIR and SAR beside SDR (they tell leakage from artefacts).
    Returns:
        DataFrame indexed by method with columns (set, "<metric> <target>"); NaN where a method was not run on a set.
    """
    if by not in frames.columns:
        raise ValueError(f"frames has no {by!r} column: add one naming each row's song set, e.g. "
                         f"frames.assign({by}='test').")
    parts = {}
    for name, rows in frames.groupby(by, sort=False):
        medians = sisec_medians(rows, by=("method", "target"))
        parts[name] = pd.DataFrame({f"{metric} {target}": medians[metric].xs(target, level="target")
                                    for target, metric in columns if target in medians.index.get_level_values("target")})
    return pd.concat(parts, axis=1)


def per_track(frames, target="vocals", metric="SDR"):
    """Each track's median `metric` for one target and every method (the points behind the box plot).

    Used in: 08, 09, 10, 11 (with `paired_differences`); `exercises.check_paired_differences`.

    Returns:
        DataFrame indexed by method, one column per track (NaN where every frame of a track was left out).
    """
    chosen = frames[frames["target"] == target]
    if chosen.empty:
        raise ValueError(f"No rows for target {target!r}; the frames have {sorted(frames['target'].unique())}.")
    return track_medians(chosen, by=("method", "track"))[metric].unstack("track")


def paired_differences(per_song, method, other, songs=None, label="vocals SDR", confidence=0.95):
    """`method` minus `other`, song by song, and whether that gap is larger than chance on so few songs.

    Used in: 06, 08, 09, 10 (every gap between two rows read song by song); `exercises.check_paired_differences` (11).

    The same songs under two methods give paired differences. Their mean and its Student-t interval (n - 1 degrees
    of freedom, from the differences' spread) say what the songs can tell: an interval clear of 0 is a gap
    ("higher" or "lower"); one that holds 0 is "within the noise" of these songs, whatever the medians say.

    Args:
        per_song: method x song table of per-song scores (`per_track`).
        method, other: two of its rows.
        songs: the songs (columns) to compare; default every song scored under both methods.
        label: what the scores are, for the printed line (e.g. "accompaniment SDR").
        confidence: of the interval.
    Returns:
        dict: "differences" (Series by song, dB), "mean", "low", "high", "verdict" ("higher", "lower" or "within the
        noise") and "line", one sentence to print.
    """
    for name in (method, other):
        if name not in per_song.index:
            raise ValueError(f"No row {name!r} in the per-song table; its rows are {list(per_song.index)}.")
    columns = per_song.columns if songs is None else list(songs)
    missing = [song for song in columns if song not in per_song.columns]
    if missing:
        raise ValueError(f"Songs {missing} are not in the per-song table; its songs are {list(per_song.columns)}.")
    differences = (per_song.loc[method, columns] - per_song.loc[other, columns]).dropna().astype(float)
    if differences.empty:
        raise ValueError(f"{method!r} and {other!r} share no scored song: score both on the same songs first.")
    mean = float(differences.mean())
    if len(differences) < 2:  # one song: no spread, so no interval
        low, high = -np.inf, np.inf
    elif np.ptp(differences) == 0:
        low = high = mean
    else:
        low, high = stats.ttest_1samp(differences, 0.0).confidence_interval(confidence)
    verdict = "higher" if low > 0 else "lower" if high < 0 else "within the noise"
    songs_text = (", ".join(f"{d:+.2f}" for d in differences) if len(differences) <= 8 else
                  f"{len(differences)} songs, {differences.min():+.2f} to {differences.max():+.2f}")
    interval = (f"{confidence * 100:.0f} % interval {low:+.2f} to {high:+.2f}" if np.isfinite(low) else
                "no interval from one song")
    line = (f"{method} minus {other}, {label} per song: {songs_text} dB ({int((differences > 0).sum())} of "
            f"{len(differences)} higher); mean {mean:+.2f} dB, {interval}: {verdict}")
    return {"differences": differences, "mean": mean, "low": float(low), "high": float(high), "verdict": verdict,
            "line": line}
