"""The grand comparison (S4): every separator of the course on the same tracks, timed and scored alike.

Used in: 10_grand_comparison.ipynb.

A *method* is any function (mixture, stems) -> {name: estimate}: it gets the true stems only so that
oracle masks and the oracle-assisted baselines (NMF, ICA) can use them; blind methods ignore them.
Every method is scored twice where it can be:
- "vocals/accompaniment": vocals against the true vocals and accompaniment against the mixture minus
  the vocals, evaluated jointly (SiSEC's vocals/accompaniment task). Four-stem methods get their
  accompaniment as drums + bass + other (`masks.add_accompaniment`).
- "four stems": vocals, drums, bass, other evaluated jointly, for methods that separate all four; the
  drums, bass and other rows come from here.
Both use `evaluation.evaluate_track` (museval BSS Eval v4, 1-s frames, silent stems and frames left out),
so `evaluation.sisec_medians` aggregates the rows exactly as in notebooks 06–09.
"""
import time

import pandas as pd

from . import masks
from .datasets import MUSDB_TARGETS
from .evaluation import evaluate_track, sisec_medians

PAIR, FOUR = "vocals/accompaniment", "four stems"


def _check_track(track, name):
    if not (isinstance(track, (tuple, list)) and len(track) == 3 and isinstance(track[1], dict)):
        raise ValueError(f"Track {name!r} must be a (mixture, stems, sr) tuple from datasets.track_arrays.")
    mixture, stems, sr = track
    missing = [stem for stem in MUSDB_TARGETS if stem not in stems]
    if missing:
        raise ValueError(f"Track {name!r} lacks the stems {missing}: read it with datasets.track_arrays(track) "
                         f"(all four MUSDB stems).")
    mixture = masks._check_mixture(mixture)
    return mixture, masks._check_sources({stem: stems[stem] for stem in MUSDB_TARGETS}, mixture), sr


def score_estimates(method, name, mixture, stems, estimates, sr):
    """Score one method's estimates of one track: the vocals/accompaniment pair and, if present, four stems.

    Used in: 10; `run_comparison`.

    Args:
        method, name: labels for the rows.
        mixture: (n, channels); stems: the true {vocals, drums, bass, other}; sr: sample rate in Hz.
        estimates: {name: (n, channels)} with at least "vocals" (and "accompaniment" or other stems).
    Returns:
        DataFrame of `evaluation.evaluate_track` rows with a "task" column (PAIR or FOUR).
    """
    if "vocals" not in estimates:
        raise ValueError(f"{method} returned {sorted(estimates)}: every method must estimate 'vocals'.")
    if "accompaniment" not in estimates:
        if len(estimates) < 2:
            raise ValueError(f"{method} returned only {sorted(estimates)}: add 'accompaniment' (e.g. mixture - vocals).")
        estimates = masks.add_accompaniment(estimates)
    references = {"vocals": stems["vocals"], "accompaniment": mixture - stems["vocals"]}
    frames = [evaluate_track(method, name, references, estimates, sr).assign(task=PAIR)]
    if all(stem in estimates for stem in MUSDB_TARGETS):
        four = evaluate_track(method, name, {s: stems[s] for s in MUSDB_TARGETS},
                              {s: estimates[s] for s in MUSDB_TARGETS}, sr)
        frames.append(four[four["target"] != "vocals"].assign(task=FOUR))
    return pd.concat(frames, ignore_index=True)


def run_comparison(methods, tracks, names, progress=True, keep=None):
    """Separate every track with every method, time each separation, and score it.

    Used in: 10.

    Args:
        methods: dict method name -> function(mixture, stems) -> {name: estimate}.
        tracks: (mixture, stems, sr) tuples from `datasets.track_arrays` (all four stems).
        names: one name per track.
        progress: show a progress bar (tqdm) over the method x track separations.
        keep: track names whose vocal estimates are returned, for listening (None: none; "all": every track).
    Returns:
        (frames, timings, kept): frames of `score_estimates` for everything; timings: DataFrame with
        method, track, seconds (separation only) and audio_seconds; kept: {(track, method): vocals estimate}.
    """
    from tqdm.auto import tqdm

    if not methods or not callable(next(iter(methods.values()), None)):
        raise ValueError("methods must be a non-empty dict name -> function(mixture, stems) -> estimates.")
    if len(tracks) == 0 or len(tracks) != len(names):
        raise ValueError(f"Give one name per track: {len(tracks)} tracks, {len(names)} names (and at least one track).")
    checked = [_check_track(track, name) for track, name in zip(tracks, names)]
    frames, timings, kept = [], [], {}
    with tqdm(total=len(methods) * len(tracks), desc="separating and scoring", disable=not progress) as bar:
        for method, separate in methods.items():
            for (mixture, stems, sr), name in zip(checked, names):
                start = time.perf_counter()
                estimates = separate(mixture, stems)
                seconds = time.perf_counter() - start
                frames.append(score_estimates(method, name, mixture, stems, estimates, sr))
                timings.append({"method": method, "track": name, "seconds": seconds, "audio_seconds": len(mixture) / sr})
                if keep == "all" or name in (keep or ()):
                    kept[(name, method)] = estimates["vocals"]
                bar.update()
    return pd.concat(frames, ignore_index=True), pd.DataFrame(timings), kept


def summary_tables(frames, timings, metric="SDR"):
    """One table per source (SiSEC medians of `metric`) and the speed of every method.

    Used in: 10.

    Args:
        frames, timings: from `run_comparison`.
        metric: "SDR", "SIR", "SAR" or "ISR".
    Returns:
        DataFrame indexed by method: a column per target (vocals and accompaniment from the pair task,
        drums/bass/other from the four-stem task, NaN where a method does not separate them), then
        seconds per track and x real time (audio seconds per second of computing), best vocals first.
    """
    medians = sisec_medians(frames, by=("method", "target"))[metric].unstack("target")
    order = [t for t in ("vocals", "accompaniment", *MUSDB_TARGETS[1:]) if t in medians.columns]
    table = medians[order].add_prefix(f"{metric} ")
    speed = timings.groupby("method")[["seconds", "audio_seconds"]].sum()
    table["seconds per track"] = timings.groupby("method")["seconds"].mean()
    table["x real time"] = speed["audio_seconds"] / speed["seconds"].clip(lower=1e-9)
    return table.sort_values(f"{metric} vocals", ascending=False)


def per_track(frames, target="vocals", metric="SDR"):
    """Each track's median `metric` for one target and every method (the points behind the box plot).

    Used in: 10.

    Returns:
        DataFrame indexed by method, one column per track.
    """
    chosen = frames[frames["target"] == target]
    if chosen.empty:
        raise ValueError(f"No rows for target {target!r}; the frames have {sorted(frames['target'].unique())}.")
    kept = chosen.loc[~chosen["excluded"]]
    return kept.groupby(["method", "track"])[metric].median().unstack("track")


def relative_to(table, reference, column="SDR vocals"):
    """Each method's `column` minus the reference method's (e.g. the oracle IRM1): how far from the ceiling.

    Used in: 10.
    """
    if reference not in table.index:
        raise ValueError(f"{reference!r} is not a method of this table; it has {list(table.index)}.")
    return (table[column] - table.loc[reference, column]).rename(f"{column} vs {reference}")

