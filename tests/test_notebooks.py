"""Every notebook follows the course conventions (COURSE_STYLE.md); nbval executes them separately."""
import re
from pathlib import Path

import nbformat
import pytest

from course_utils.runtime import COURSE_REF, REPOSITORY, setup_cell_header

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _source(cell):
    return cell.source if isinstance(cell.source, str) else "".join(cell.source)


def test_there_are_notebooks():
    assert NOTEBOOKS and NOTEBOOKS[0].name.startswith("00_")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_conventions(path):
    nb = nbformat.read(path, as_version=4)
    cells = nb.cells
    fix = "run `python scripts/build_editions.py --rewrite-notebooks` (writes runtime.COURSE_REF into every notebook)"
    badge_ref = re.search(rf"colab\.research\.google\.com/github/{REPOSITORY}/blob/([\w.-]+)/notebooks/{path.name}",
                          _source(cells[0]))
    assert badge_ref, "first cell needs the Open-in-Colab badge for this very file"
    setup = _source(cells[1])
    clone_ref = re.search(r"git clone .*--branch ([\w.-]+) ", setup)
    assert clone_ref, f"the setup cell must clone a pinned ref (git clone ... --branch REF): {fix}"
    assert clone_ref.group(1) == badge_ref.group(1), "badge and setup cell must name the same ref"
    assert badge_ref.group(1) == COURSE_REF, f"the notebook names {badge_ref.group(1)}, not {COURSE_REF}: {fix}"
    assert setup.startswith(setup_cell_header(COURSE_REF) + "\n"), f"the setup cell's Colab lines differ: {fix}"
    assert "seed_everything" in setup and "runtime_report" in setup
    params = [c for c in cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1 and 'DATA_MODE = "sample"' in _source(params[0])
    code = [c for c in cells if c.cell_type == "code"]
    assert "assert" in _source(code[-1]) and "headline(" in _source(code[-1]), "last cell must be the check cell"
    assert any("Exercises" in _source(c) for c in cells if c.cell_type == "markdown")
    assert not any(o.get("output_type") == "error" for c in code for o in c.get("outputs", []))
    assert path.stat().st_size < 3_000_000, "keep saved outputs small"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_saved_outputs_hold_no_tensorflow_log_lines(path):
    nb = nbformat.read(path, as_version=4)
    saved = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert not re.search(r"oneDNN custom operations|absl::InitializeLog|cpu_feature_guard", saved), \
        "TensorFlow's start-up lines are in the saved outputs: import it through cu.seed_everything(tensorflow=True)"
