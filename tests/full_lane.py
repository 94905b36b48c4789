"""The full-mode lane's machinery: fixtures, tiny-budget training and one notebook run (tests/test_full_mode*.py).

The fixtures come from data/build/build_fixtures.py (built once into .cache/full_lane/fixtures); the full-mode
weights that 07-10 load come from the repository's training scripts run for a step or two on those fixtures
(into .cache/full_lane/weights). Budgets below keep each notebook short; everything else is the full
configuration (44.1 kHz, the seeds' networks and FFT sizes). Executed notebooks: .cache/full_lane/build/.
"""
import fcntl
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from course_utils import run_course
from course_utils.runtime import cache_dir

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

#: a CI-size fixture: 2 train songs (one named from musdb's validation list) + 1 test song of 10 s, 8 speakers
FIXTURE_ARGS = ["--train-songs", "2", "--test-songs", "1", "--seconds", "10",
                "--speakers", "8", "--clip-seconds", "20", "--clips-per-speaker", "3"]
#: U-Net loss weights trained for the lane (07 and 10 get the same list as ALPHAS)
LANE_ALPHAS = ("1", "norms")
#: training script -> tiny budget (a step or two: the lane proves the pipeline, not the quality)
TRAINING = {
    "train_unet.py": ["--alphas", ",".join(("0.5", *LANE_ALPHAS)), "--epochs", "1", "--steps-per-epoch", "1",
                      "--batch-size", "1", "--validation-steps", "1"],
    "train_mask_cnn.py": ["--models", "fcn,frame", "--epochs", "1", "--steps-per-epoch", "1", "--batch-size", "8",
                          "--validation-steps", "1"],
    "train_autoencoder.py": ["--epochs", "1", "--steps-per-epoch", "1", "--batch-size", "4", "--validation-steps", "1"],
    "train_open_unmix.py": ["--epochs", "1", "--steps-per-epoch", "1", "--batch-size", "1", "--validation-steps", "1",
                            "--stats-chunks", "2"],
}
#: notebook number -> small budgets passed as parameters (each must be a name of the notebook's parameters cell)
BUDGETS = {
    "00": {"MIX_CHECK_TRACKS": 1},
    "01": {"SECONDS": 10, "EVAL_SECONDS": 5, "FILTERS_LEN": 64},
    "02": {},
    "03": {"EPOCHS": 5},
    "04": {"EPOCHS": 2, "ANN_EPOCHS": 5},
    "05": {"EPOCHS": 5, "MIX_SECONDS": 8},
    "06": {"N_TRACKS": 1, "EXAMPLE_SECONDS": (0, 10)},
    "07": {"MAX_TEST_TRACKS": 1, "LIVE_STEPS": 1, "LIVE_BATCH": 1, "ALPHAS": LANE_ALPHAS},
    "08": {"MAX_TEST_TRACKS": 1, "LIVE_TRACKS": 2, "LIVE_SECONDS": 5, "LIVE_EPOCHS": 1, "LIVE_FRAME_STEP": 64,
           "S3_SECONDS": 3},
    "09": {"MAX_TEST_TRACKS": 1, "LIVE_TRACKS": 2, "LIVE_SECONDS": 5, "LIVE_EPOCHS": 1},
    "10": {"MAX_TEST_TRACKS": 1},
    "11": {"MAX_TEST_TRACKS": 1, "LISTEN_SECONDS": (0, 5)},
}
WEIGHTS_NOTEBOOKS = ("07", "08", "09", "10", "11")
CELL_TIMEOUT = 600  # seconds per cell, as nbval's in the sample lane


@contextmanager
def _locked(name):
    """An exclusive file lock in the lane's cache, so that parallel pytest workers build things once."""
    with open(cache_dir("full_lane") / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _run(command, what):
    """Run a command of the lane; fail with the end of its output when it fails."""
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        pytest.fail(f"{what} failed ({done.returncode}):\n{(done.stdout + done.stderr)[-3000:]}", pytrace=False)
    print(f"{what}: {time.perf_counter() - start:.0f} s")


def build_fixtures():
    """The CI-size fixture tree (built once, reused while the builder's arguments stay the same)."""
    out = cache_dir("full_lane") / "fixtures"
    with _locked("fixtures"):
        _run([sys.executable, "data/build/build_fixtures.py", "--out", str(out), *FIXTURE_ARGS], "build_fixtures.py")
    return out


def train_weights(full_fixtures):
    """Full-mode weights of the three models, from the training scripts run with tiny budgets on the fixture."""
    out = cache_dir("full_lane") / "weights"
    stamp = repr((TRAINING, (full_fixtures / "STAMP").read_text(),
                  [(ROOT / "scripts" / s).read_text() for s in TRAINING]))
    with _locked("weights"):
        if (out / "STAMP").is_file() and (out / "STAMP").read_text() == stamp:
            return out
        for script, budget in TRAINING.items():
            checkpoints = cache_dir("full_lane") / "checkpoints" / script[:-3]
            _run([sys.executable, f"scripts/{script}", "--full", "--musdb-root", str(full_fixtures / "musdb18"),
                  "--out", str(out), "--checkpoint-dir", str(checkpoints), "--no-progress", *budget], script)
        (out / "STAMP").write_text(stamp)
    return out



def run_in_full_mode(path, fixtures, weights=None):
    """Execute one notebook with DATA_MODE="full", the fixture roots and its budget; fail with its error."""
    number = path.name[:2]
    budget = BUDGETS[number]
    missing = set(budget) - run_course.notebook_parameters(path)
    assert not missing, f"{path.name}'s parameters cell lacks the lane's budget(s) {sorted(missing)}"
    params = dict(budget)
    if number in WEIGHTS_NOTEBOOKS:
        params["WEIGHTS_DIR"] = str(weights)
    parameters = run_course.notebook_run_parameters(path, "full", fixtures / "musdb18", fixtures / "kaggle_speakers",
                                                    params)
    seconds, headline, error = run_course.run_notebook(path, cache_dir("full_lane") / "build", parameters,
                                                       execution_timeout=CELL_TIMEOUT)
    print(f"{path.name}: {seconds:.0f} s, {headline}")
    assert error is None, f"{path.name} failed in full mode after {seconds:.0f} s: {error}"
