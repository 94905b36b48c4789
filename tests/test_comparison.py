"""course_utils.comparison: the grand comparison's runner, tasks, tables and bad input."""
import numpy as np
import pandas as pd
import pytest

from course_utils import comparison
from course_utils.datasets import MUSDB_TARGETS

SR = 8000


def four_stem_track(seed, seconds=3):
    rng = np.random.default_rng(seed)
    stems = {name: rng.standard_normal((seconds * SR, 2)) * (0.2 + 0.1 * i) for i, name in enumerate(MUSDB_TARGETS)}
    return sum(stems.values()), stems, SR


@pytest.fixture(scope="module")
def run():
    tracks = [four_stem_track(0), four_stem_track(1)]
    methods = {
        "truth (four stems)": lambda mixture, stems: {k: v + 1e-3 * np.roll(v, 1, axis=0) for k, v in stems.items()},
        "half the mixture": lambda mixture, stems: {"vocals": mixture / 2, "accompaniment": mixture / 2},
    }
    return comparison.run_comparison(methods, tracks, ["a", "b"], progress=False, keep=["b"])


def test_every_method_track_and_task_is_scored(run):
    frames, timings, kept = run
    assert set(frames["method"]) == {"truth (four stems)", "half the mixture"}
    assert set(frames["track"]) == {"a", "b"}
    pair_only = frames[frames["method"] == "half the mixture"]
    assert set(pair_only["task"]) == {comparison.PAIR} and set(pair_only["target"]) == {"vocals", "accompaniment"}
    four = frames[(frames["method"] == "truth (four stems)") & (frames["task"] == comparison.FOUR)]
    assert set(four["target"]) == {"drums", "bass", "other"}  # vocals come from the pair task only
    assert len(timings) == 4 and (timings["seconds"] >= 0).all() and (timings["audio_seconds"] == 3).all()
    assert set(kept) == {("b", "truth (four stems)"), ("b", "half the mixture")}
    assert np.allclose(kept[("b", "truth (four stems)")], four_stem_track(1)[1]["vocals"], atol=0.01)


def test_speed_table_and_points_per_track(run):
    frames, timings, _ = run
    speed = comparison.speed_table(timings)
    assert set(speed.index) == {"truth (four stems)", "half the mixture"} and (speed["x real time"] > 0).all()
    for method, row in speed.iterrows():
        rows = timings[timings["method"] == method]
        assert np.isclose(row["x real time"], rows["audio_seconds"].sum() / rows["seconds"].sum())
        assert np.isclose(row["seconds per track"], rows["seconds"].mean())
    points = comparison.per_track(frames)
    assert points.shape == (2, 2) and list(points.columns) == ["a", "b"]


def test_methods_are_warmed_up_untimed_on_short_excerpts():
    lengths = []

    def method(mixture, stems):
        lengths.append(len(mixture))
        return dict(stems)

    comparison.run_comparison({"m": method}, [four_stem_track(0), four_stem_track(1)], ["a", "b"], progress=False,
                              warm_up=["m"])
    assert lengths == [2 * SR, 3 * SR, 3 * SR, 3 * SR]  # two warm-up excerpts, then the two 3-s tracks
    lengths.clear()
    comparison.run_comparison({"m": method}, [four_stem_track(0)], ["a"], progress=False)
    assert lengths == [3 * SR]
    with pytest.raises(ValueError, match="not methods"):
        comparison.run_comparison({"m": method}, [four_stem_track(0)], ["a"], progress=False, warm_up=["net"])


def test_side_by_side_puts_song_sets_next_to_each_other(run):
    frames, _, _ = run
    unseen = frames[frames["method"] == "half the mixture"].assign(songs="unseen")
    both = pd.concat([frames.assign(songs="test"), unseen])
    table = comparison.side_by_side(both)
    assert list(table.columns) == [(s, c) for s in ("test", "unseen")
                                   for c in ("SDR vocals", "SIR vocals", "SAR vocals", "SDR accompaniment")]
    assert table.loc["half the mixture", ("test", "SDR vocals")] == table.loc["half the mixture", ("unseen", "SDR vocals")]
    assert np.isnan(table.loc["truth (four stems)", ("unseen", "SDR vocals")])  # not run on that set
    assert table.loc["truth (four stems)", ("test", "SIR vocals")] > 40
    with pytest.raises(ValueError, match="no 'songs' column"):
        comparison.side_by_side(frames)


def test_four_stem_estimates_get_their_accompaniment():
    mixture, stems, sr = four_stem_track(2)
    frames = comparison.score_estimates("m", "t", mixture, stems, dict(stems), sr)
    accompaniment = frames.query("target == 'accompaniment' and task == @comparison.PAIR")
    assert accompaniment["SDR"].min() > 60  # drums + bass + other = the true accompaniment


def test_clear_errors():
    mixture, stems, sr = four_stem_track(0)
    with pytest.raises(ValueError, match="estimate 'vocals'"):
        comparison.score_estimates("m", "t", mixture, stems, {"drums": mixture}, sr)
    with pytest.raises(ValueError, match="add 'accompaniment'"):
        comparison.score_estimates("m", "t", mixture, stems, {"vocals": mixture}, sr)
    with pytest.raises(ValueError, match="one name per track"):
        comparison.run_comparison({"m": lambda m, s: s}, [(mixture, stems, sr)], [], progress=False)
    with pytest.raises(ValueError, match="lacks the stems"):
        comparison.run_comparison({"m": lambda m, s: s}, [(mixture, {"vocals": mixture}, sr)], ["t"], progress=False)
    with pytest.raises(ValueError, match="non-empty dict"):
        comparison.run_comparison({}, [(mixture, stems, sr)], ["t"], progress=False)


class LazyTrack:
    """A stand-in for a musdb track: its audio is made only when read, and every read is logged."""

    def __init__(self, name, seed, reads):
        self.name, self.rate, self._seed, self._reads = name, SR, seed, reads
        stems = four_stem_track(seed)[1]
        self.targets = {stem: self._Target(self, stem) for stem in (*MUSDB_TARGETS, "accompaniment")}
        self._stems = {**stems, "accompaniment": stems["drums"] + stems["bass"] + stems["other"]}

    class _Target:
        def __init__(self, track, stem):
            self._track, self._stem = track, stem

        @property
        def audio(self):
            self._track._reads.append(self._track.name)
            return self._track._stems[self._stem]

    @property
    def audio(self):
        self._reads.append(self.name)
        return sum(self._stems[stem] for stem in MUSDB_TARGETS)


def test_musdb_tracks_are_read_one_at_a_time_and_only_excerpts_kept():
    reads, seen = [], []

    def half(mixture, stems):
        seen.append(sorted(set(reads)))  # which tracks had been read when this one is separated
        return {"vocals": mixture / 2, "accompaniment": mixture / 2}

    tracks = [LazyTrack("a", 0, reads), LazyTrack("b", 1, reads)]
    frames, timings, kept = comparison.run_comparison(
        {"half": half}, tracks, progress=False, keep=["b"], keep_seconds=(1, 2.5), keep_inputs=True,
        score_args=dict(four_stems=False, quiet_db=30), targets=(*MUSDB_TARGETS, "accompaniment"))
    assert seen == [["a"], ["a", "b"]]  # track b is read only after track a is done
    assert list(timings["track"]) == ["a", "b"] and set(frames["task"]) == {comparison.PAIR}
    assert set(kept) == {("b", "half"), ("b", "truth"), ("b", "mixture (input)")}
    assert all(v.dtype == np.float32 and v.shape == (int(1.5 * SR), 2) for v in kept.values())
    mixture, stems, _ = four_stem_track(1)
    assert np.allclose(kept[("b", "truth")], stems["vocals"][SR: int(2.5 * SR)], atol=1e-6)
    # the same frames as scoring the arrays in memory: musdb's accompaniment is the reference here
    in_memory = comparison.score_estimates("half", "b", mixture, {**stems, "accompaniment": mixture - stems["vocals"]},
                                           half(mixture, stems), SR, four_stems=False, quiet_db=30)
    assert np.allclose(frames[frames["track"] == "b"]["SDR"].to_numpy(), in_memory["SDR"].to_numpy())


def test_names_needed_for_arrays_and_stems_for_musdb():
    mixture, stems, sr = four_stem_track(0)
    with pytest.raises(ValueError, match="names="):
        comparison.run_comparison({"m": lambda m, s: s}, [(mixture, stems, sr)], progress=False)
    with pytest.raises(ValueError, match="four MUSDB stems"):
        comparison.run_comparison({"m": lambda m, s: s}, [LazyTrack("a", 0, [])], progress=False, targets=("vocals",))


def test_paired_differences_read_a_gap_against_the_songs_spread():
    per_song = pd.DataFrame({"a": [3.0, 1.0, 1.0], "b": [3.1, 1.0, 2.0], "c": [2.9, 1.0, 0.0], "d": [3.2, 1.0, 3.0]},
                            index=["clear", "anchor", "noisy"])
    clear = comparison.paired_differences(per_song, "clear", "anchor")
    assert clear["verdict"] == "higher" and 0 < clear["low"] < clear["mean"] < clear["high"]
    assert clear["mean"] == pytest.approx(2.05)
    assert list(clear["differences"].index) == ["a", "b", "c", "d"] and "4 of 4 higher" in clear["line"]
    assert comparison.paired_differences(per_song, "anchor", "clear")["verdict"] == "lower"
    noisy = comparison.paired_differences(per_song, "noisy", "anchor", label="bass SDR")
    assert noisy["verdict"] == "within the noise" and noisy["low"] < 0 < noisy["high"] and "bass SDR" in noisy["line"]
    one = comparison.paired_differences(per_song, "clear", "anchor", songs=["a"])
    assert one["verdict"] == "within the noise" and "no interval" in one["line"]
    same = comparison.paired_differences(pd.DataFrame({"a": [3.0, 1.0], "b": [4.0, 2.0]}, index=["m", "o"]), "m", "o")
    assert same["low"] == same["high"] == same["mean"] == 2.0 and same["verdict"] == "higher"
    with pytest.raises(ValueError, match="No row 'x'"):
        comparison.paired_differences(per_song, "x", "anchor")
    with pytest.raises(ValueError, match=r"Songs \['z'\]"):
        comparison.paired_differences(per_song, "clear", "anchor", songs=["z"])
    with pytest.raises(ValueError, match="share no scored song"):
        comparison.paired_differences(per_song.assign(a=np.nan, b=np.nan, c=np.nan, d=np.nan), "clear", "anchor")
