"""Every notebook follows the course conventions (COURSE_STYLE.md); nbval executes them separately."""
from pathlib import Path

import nbformat
import pytest

from course_utils.runtime import REPOSITORY

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _source(cell):
    return cell.source if isinstance(cell.source, str) else "".join(cell.source)


def test_there_are_notebooks():
    assert NOTEBOOKS and NOTEBOOKS[0].name.startswith("00_")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_conventions(path):
    nb = nbformat.read(path, as_version=4)
    cells = nb.cells
    badge = f"https://colab.research.google.com/github/{REPOSITORY}/blob/main/notebooks/{path.name}"
    assert badge in _source(cells[0]), "first cell needs the Open-in-Colab badge for this very file"
    setup = _source(cells[1])
    assert '"google.colab" in sys.modules' in setup and "seed_everything" in setup and "runtime_report" in setup
    pip_lines = [line for line in setup.splitlines() if "pip install" in line]
    assert pip_lines and not any("tensorflow" in line.lower() for line in pip_lines), "never reinstall Colab's TensorFlow"
    params = [c for c in cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1 and 'DATA_MODE = "sample"' in _source(params[0])
    code = [c for c in cells if c.cell_type == "code"]
    assert "assert" in _source(code[-1]) and "headline(" in _source(code[-1]), "last cell must be the check cell"
    assert any("Exercises" in _source(c) for c in cells if c.cell_type == "markdown")
    assert not any(o.get("output_type") == "error" for c in code for o in c.get("outputs", []))
    assert path.stat().st_size < 3_000_000, "keep saved outputs small"
