"""The full-mode lane, part 2: notebooks 06-10 with DATA_MODE="full" on the MUSDB18-format fixture, with weights
from the training scripts run for a step on it (part 1 and the machinery: tests/test_full_mode.py, tests/full_lane.py)."""
import pytest
from full_lane import NOTEBOOKS, run_in_full_mode


@pytest.mark.full_mode
@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if p.name[:2] >= "06"], ids=lambda p: p.name[:2])
def test_notebook_runs_in_full_mode(path, full_fixtures, full_weights):
    run_in_full_mode(path, full_fixtures, full_weights)
