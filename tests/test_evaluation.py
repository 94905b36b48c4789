"""course_utils.evaluation: BSS Eval v4 frames, silent frames, SiSEC aggregation, bad input."""
import numpy as np
import pandas as pd
import pytest

from course_utils import evaluation

SR = 8000


@pytest.fixture(scope="module")
def references():
    rng = np.random.default_rng(0)
    n = 4 * SR
    vocals = rng.standard_normal((n, 2)) * 0.3
    vocals[2 * SR: 3 * SR] = 0.0  # a silent third second, as in the intermittent vocal stems
    return {"vocals": vocals, "accompaniment": rng.standard_normal((n, 2)) * 0.5}


def test_perfect_estimate_scores_very_high_and_mixture_finite_lower(references):
    perfect = evaluation.bss_eval_frames(references, references, SR)
    mixture = sum(references.values())
    mixed = evaluation.bss_eval_frames(references, {"vocals": mixture / 2, "accompaniment": mixture / 2}, SR)
    kept = ~perfect["excluded"]
    assert perfect.loc[kept, "SDR"].min() > 60
    assert np.isfinite(mixed.loc[kept, "SDR"]).all()
    assert mixed.query("target == 'vocals'").loc[kept, "SDR"].max() < 5


def test_silent_reference_frames_are_nan_and_excluded(references):
    frames = evaluation.bss_eval_frames(references, references, SR)
    assert len(frames) == 2 * 4
    silent = frames["frame"] == 2
    assert frames.loc[silent, "SDR"].isna().all()  # museval's rule: no score for any target
    assert frames.loc[silent, "excluded"].all() and not frames.loc[~silent, "excluded"].any()
    assert np.isneginf(frames.query("target == 'vocals' and frame == 2")["level_db"]).all()


def test_quiet_frames_are_excluded_by_the_guard(references):
    quiet = {**references, "vocals": references["vocals"].copy()}
    quiet["vocals"][2 * SR: 3 * SR] = 1e-4  # near silence: museval still scores it
    mixture = sum(quiet.values())
    estimates = {"vocals": mixture / 2, "accompaniment": mixture / 2}
    plain = evaluation.bss_eval_frames(quiet, estimates, SR)
    guarded = evaluation.bss_eval_frames(quiet, estimates, SR, quiet_db=40)
    assert not plain["excluded"].any() and plain.query("frame == 2 and target == 'vocals'")["SDR"].item() < -30
    assert guarded["excluded"].tolist() == [False, False, True, False] * 2


def test_all_silent_reference_is_refused(references):
    silent = {**references, "vocals": np.zeros_like(references["vocals"])}
    with pytest.raises(ValueError, match="silent"):
        evaluation.bss_eval_frames(silent, references, SR)


def test_bad_inputs_raise_clear_errors(references):
    mono = {k: v.mean(axis=1) for k, v in references.items()}
    with pytest.raises(ValueError, match="channel"):
        evaluation.bss_eval_frames(references, mono, SR)
    longer = {k: np.concatenate([v, v]) for k, v in references.items()}
    with pytest.raises(ValueError, match="sample-rate mismatch"):
        evaluation.bss_eval_frames(references, longer, SR)
    shorter = {k: v[:-10] for k, v in references.items()}
    with pytest.raises(ValueError, match="Cut or pad"):
        evaluation.bss_eval_frames(references, shorter, SR)
    nan = {**references, "vocals": np.full_like(references["vocals"], np.nan)}
    with pytest.raises(ValueError, match="NaN"):
        evaluation.bss_eval_frames(references, nan, SR)
    with pytest.raises(ValueError, match="same targets"):
        evaluation.bss_eval_frames(references, {"vocals": references["vocals"]}, SR)
    with pytest.raises(ValueError, match="all zeros"):
        evaluation.bss_eval_frames(references, {**references, "vocals": np.zeros_like(references["vocals"])}, SR)


def test_sisec_aggregation_is_median_of_frame_medians():
    # method m, target vocals: track A frames [1, 2, 9, NaN] -> 2; track B [4, 5, excluded 100] -> 4.5;
    # track C [0, 10] -> 5. Median over tracks: 4.5 (the mean of frames would give another number).
    rows = [("A", 1, False), ("A", 2, False), ("A", 9, False), ("A", np.nan, True),
            ("B", 4, False), ("B", 5, False), ("B", 100, True), ("C", 0, False), ("C", 10, False)]
    frames = pd.DataFrame([{"method": "m", "target": "vocals", "track": t, "SDR": v, "SIR": v, "SAR": v,
                            "ISR": v, "excluded": e} for t, v, e in rows])
    per_track = evaluation.track_medians(frames)["SDR"]
    assert per_track.loc[("m", "A", "vocals")] == 2 and per_track.loc[("m", "B", "vocals")] == 4.5
    assert evaluation.sisec_medians(frames).loc[("m", "vocals"), "SDR"] == 4.5
    with pytest.raises(ValueError, match="track"):
        evaluation.sisec_medians(frames.drop(columns="track"))


def test_results_table_shows_sir_and_sar_and_puts_published_numbers_in_our_rows():
    values = {"SDR": [1.0, 5.0, 9.0, 12.0], "SIR": [2.0, 6.0, 10.0, 20.0], "SAR": [3.0, 7.0, 11.0, 13.0]}
    measured = pd.DataFrame(values, index=pd.MultiIndex.from_product(
        [["mixture", "oracle IRM2 (STFT 2048/512)"], ["accompaniment", "vocals"]], names=["method", "target"]))
    table = evaluation.results_table(measured, {"oracle IRM2": "oracle IRM2 (STFT 2048/512)"})
    assert list(table.columns[:4]) == ["SDR vocals (this run)", "SIR vocals (this run)", "SAR vocals (this run)",
                                       "SDR accompaniment (this run)"]
    assert table.loc["mixture", "SIR vocals (this run)"] == 6.0
    assert table.loc["oracle IRM2 (STFT 2048/512)", "SDR vocals, MUSDB18"] == 9.43  # in our row, not its own
    assert "oracle IRM2" not in table.index and table.index[0] == "oracle IRM2 (STFT 2048/512)"
    assert np.isnan(table.loc["Open-Unmix", "SDR vocals (this run)"]) and table.loc["Open-Unmix", "conditions"]


def test_evaluation_leaves_out_silent_stems_and_silent_frames():
    rng = np.random.default_rng(3)
    references = {name: rng.normal(0, 0.1, (3 * SR, 2)) for name in ("vocals", "drums", "bass")}
    references["vocals"][SR:2 * SR] = 0.0  # a silent second
    references["bass"][:] = 0.0  # a silent stem
    estimates = {name: ref + rng.normal(0, 0.01, ref.shape) for name, ref in references.items()}
    frames = evaluation.evaluate_track("noisy", "song", references, estimates, SR)
    assert sorted(frames["target"].unique()) == ["drums", "vocals"]
    assert frames.groupby("frame")["excluded"].first().tolist() == [False, True, False]
    sdr = evaluation.sisec_medians(frames).loc[("noisy", "vocals"), "SDR"]
    assert 15 < sdr < 25  # noise 20 dB below the reference; S1 scored silent stems at about -139 dB
    assert isinstance(frames, pd.DataFrame) and set(frames["method"]) == {"noisy"}
    with pytest.raises(ValueError, match="estimates lack"):
        evaluation.evaluate_track("m", "t", references, {"vocals": references["vocals"]}, SR)


def test_evaluate_track_takes_the_evaluation_frames(references):
    halves = evaluation.evaluate_track("m", "t", references, references, SR, window_seconds=0.5, hop_seconds=0.5)
    assert halves.groupby("target").size().tolist() == [8, 8]  # 4 s in 0.5-s frames
    assert np.allclose(halves["start"].unique(), np.arange(8) * 0.5)


def test_long_signals_are_scored_in_chunks_of_whole_frames():
    rng = np.random.default_rng(4)
    n = 10 * SR + SR // 2  # 10.5 s: ten 1-s frames
    references = {"vocals": rng.standard_normal((n, 2)), "accompaniment": rng.standard_normal((n, 2))}
    estimates = {name: ref + 0.3 * rng.standard_normal((n, 2)) for name, ref in references.items()}
    whole = evaluation.bss_eval_frames(references, estimates, SR, chunk_seconds=None)
    chunked = evaluation.bss_eval_frames(references, estimates, SR, chunk_seconds=4)  # frames 0-3, 4-7, 8-9
    assert [(part.start, part.stop) for part in evaluation._chunks(n, SR, SR, 4 * SR)] == [
        (0, 4 * SR), (4 * SR, 8 * SR), (8 * SR, n)]
    assert [(part.start, part.stop) for part in evaluation._chunks(n, SR, SR, 7 * SR)] == [(0, n)]  # 3-frame tail joins
    assert chunked[["target", "frame", "start"]].equals(whole[["target", "frame", "start"]])
    assert np.abs(chunked["SDR"] - whole["SDR"]).max() < 0.5  # own filters per chunk: close, not identical
    single = evaluation.bss_eval_frames(references, estimates, SR, chunk_seconds=7)  # under 1.5 chunks: one call
    assert single.equals(whole)


def test_published_figures_sit_in_the_rows_of_our_methods():
    table = evaluation.published_table({"oracle IRM2": "oracle IRM2 (STFT 2048/512)", "Open-Unmix": "Open-Unmix (S4)"})
    column = ("MUSDB18, published", "SDR vocals")
    assert table.loc["oracle IRM2 (STFT 2048/512)", column] == evaluation.PUBLISHED_VOCALS_SDR["oracle IRM2"][0]
    assert "Open-Unmix (S4)" in table.index and "Open-Unmix" not in table.index and "mixture" in table.index
    assert table[("MUSDB18, published", "conditions")].str.len().gt(0).all()
    with pytest.raises(ValueError, match="No published figure for \\['U-Net'\\]"):
        evaluation.published_table({"U-Net": "U-Net (S2)"})


def test_reusing_the_references_work_gives_museval_s_scores():
    """Several estimates of one song scored in a row (work on the references reused) score as museval alone does."""
    from course_utils.evaluation import _reusing_reference_work, museval_metrics

    rng = np.random.default_rng(3)
    sr = 8000
    references = {name: rng.standard_normal((2 * sr, 2)) for name in ("vocals", "accompaniment")}
    metrics = museval_metrics()
    for noise in (0.1, 0.3, 0.1):
        estimates = {name: ref + noise * rng.standard_normal(ref.shape) for name, ref in references.items()}
        ours = evaluation.bss_eval_frames(references, estimates, sr)
        plain = metrics.bss_eval(np.stack(list(references.values())), np.stack(list(estimates.values())),
                                 window=sr, hop=sr, filters_len=int(round(evaluation.SISEC_FILTERS_SECONDS * sr)))
        assert np.allclose(ours.query("target == 'vocals'")["SDR"], plain[0][0], atol=1e-4)
        assert np.allclose(ours.query("target == 'accompaniment'")["SIR"], plain[2][1], atol=1e-4)
    original = metrics._compute_reference_correlations
    with _reusing_reference_work(metrics):
        assert metrics.np is not np and metrics._compute_reference_correlations is not original
    assert metrics.np is np and metrics._compute_reference_correlations is original  # museval is left as it was


def test_a_long_song_frees_the_work_kept_for_short_signals():
    """What is kept for reuse on short signals (hundreds of MB at 44.1 kHz) is dropped once a long song is scored."""
    from course_utils.evaluation import _CORRELATIONS, _FACTORS, REUSE_MAX_SECONDS

    rng = np.random.default_rng(4)
    sr = 2000

    def score(seconds):
        references = {name: rng.standard_normal((int(seconds * sr), 2)) for name in ("vocals", "accompaniment")}
        evaluation.bss_eval_frames(references, {n: r + 0.1 * rng.standard_normal(r.shape) for n, r in references.items()},
                                   sr)

    score(2)
    assert _CORRELATIONS.entries and _FACTORS.entries  # kept for the next estimate of the same short song
    score(REUSE_MAX_SECONDS + 1)
    assert not _CORRELATIONS.entries and not _FACTORS.entries
