"""scripts/build_editions.py: the student edition hides every solution behind a hinted stub, the instructor
edition is the committed notebooks, and a student notebook runs up to its first exercise and stops there."""
import hashlib
import importlib.util
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from course_utils.runtime import setup_cell_header

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
EXECUTED = "02_features_spectrograms_mfcc.ipynb"  # the fastest notebook with exercises

_spec = importlib.util.spec_from_file_location("build_editions", ROOT / "scripts" / "build_editions.py")
build_editions = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build_editions)


def _tagged(nb, tag):
    return [cell for cell in nb.cells if tag in cell.metadata.get("tags", [])]


def _solution_lines(source):
    body = source.split("### BEGIN SOLUTION")[1].split("### END SOLUTION")[0]
    return [line.strip() for line in body.splitlines() if line.strip() and not line.strip().startswith("#")]


@pytest.fixture(scope="module")
def editions(tmp_path_factory):
    digest = {path: hashlib.sha256(path.read_bytes()).hexdigest() for path in NOTEBOOKS}
    out = tmp_path_factory.mktemp("editions")
    build_editions.build(NOTEBOOKS, out)
    folders = build_editions.build(NOTEBOOKS, out)  # a second run rebuilds the same folders
    assert digest == {path: hashlib.sha256(path.read_bytes()).hexdigest() for path in NOTEBOOKS}, "notebooks/ changed"
    return folders


def test_every_notebook_has_exercises_with_solutions_and_checks():
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        assert 2 <= len(_tagged(nb, "solution")) <= 4, path.name
        assert _tagged(nb, "exercise-check"), f"{path.name}: at least one exercise needs an automatic check"
        assert all("exercises.check_" in cell.source for cell in _tagged(nb, "exercise-check")), path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_student_edition_has_stubs_not_solutions(editions, path):
    instructor = nbformat.read(path, as_version=4)
    student = nbformat.read(editions["student"] / path.name, as_version=4)
    assert len(student.cells) == len(instructor.cells)
    for ours, theirs in zip(_tagged(instructor, "solution"), _tagged(student, "solution")):
        assert "BEGIN SOLUTION" not in theirs.source and not theirs.outputs
        assert "raise NotImplementedError(" in theirs.source and " — hint: " in theirs.source
        assert not [line for line in _solution_lines(ours.source) if line in theirs.source]
    assert not any(cell.outputs for cell in _tagged(student, "exercise-check"))
    untouched = [(a.source, a.get("outputs")) for a in instructor.cells
                 if not {"solution", "exercise-check"} & set(a.metadata.get("tags", []))]
    assert untouched == [(b.source, b.get("outputs")) for b in student.cells
                         if not {"solution", "exercise-check"} & set(b.metadata.get("tags", []))]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_instructor_edition_is_the_committed_notebook(editions, path):
    assert nbformat.read(editions["instructor"] / path.name, as_version=4) == nbformat.read(path, as_version=4)


def test_badge_can_point_at_the_student_edition(tmp_path):
    path = NOTEBOOKS[0]
    folders = build_editions.build([path], tmp_path, badge_path="editions/student")
    badge = nbformat.read(folders["student"] / path.name, as_version=4).cells[0].source
    assert f"/blob/{_ref(path)}/editions/student/{path.name}" in badge and "/notebooks/" not in badge


def _ref(path):
    """The git ref that a notebook's badge names."""
    return build_editions.BADGE.search(nbformat.read(path, as_version=4).cells[0].source).group(2)


def test_ref_names_the_release_in_badge_and_setup_cell_of_both_editions(tmp_path):
    path = NOTEBOOKS[0]
    folders = build_editions.build([path], tmp_path, badge_path="editions/student", ref="spring-2027")
    student, instructor = (nbformat.read(folders[edition] / path.name, as_version=4) for edition in folders)
    assert f"/blob/spring-2027/editions/student/{path.name}" in student.cells[0].source
    assert f"/blob/spring-2027/notebooks/{path.name}" in instructor.cells[0].source
    for nb in (student, instructor):
        assert nb.cells[1].source.startswith(setup_cell_header("spring-2027") + "\n")


def test_rewrite_notebooks_changes_only_the_setup_lines_and_the_badge(tmp_path):
    copies = []
    for path in NOTEBOOKS:
        copies.append(tmp_path / path.name)
        copies[-1].write_bytes(path.read_bytes())
    assert sorted(build_editions.rewrite_notebooks(copies, "v9.9")) == copies
    assert build_editions.rewrite_notebooks(copies, "v9.9") == [], "a second run changes nothing"
    for path, copy in zip(NOTEBOOKS, copies):
        before, after = nbformat.read(path, as_version=4), nbformat.read(copy, as_version=4)
        assert after.cells[0].source == before.cells[0].source.replace(f"/blob/{_ref(path)}/", "/blob/v9.9/")
        header = setup_cell_header("v9.9")
        assert after.cells[1].source.startswith(header + "\n")
        kept = before.cells[1].source[build_editions.SETUP_END.search(before.cells[1].source).end():]
        assert after.cells[1].source == header + kept, "the imports below %cd stay as they are"
        assert after.cells[2:] == before.cells[2:]


def test_rewrite_refuses_a_notebook_without_setup_cell_and_writes_nothing(tmp_path):
    good, bad = tmp_path / NOTEBOOKS[0].name, tmp_path / "99_broken.ipynb"
    good.write_bytes(NOTEBOOKS[0].read_bytes())
    nb = nbformat.read(good, as_version=4)
    nb.cells[1].source = "import numpy as np"
    nbformat.write(nb, bad)
    before = good.read_bytes()
    with pytest.raises(ValueError, match="99_broken.ipynb: the first code cell must be the setup cell"):
        build_editions.rewrite_notebooks([good, bad], "v9.9")
    assert good.read_bytes() == before
    with pytest.raises(ValueError, match="tag or branch"):
        build_editions.rewrite_notebooks([good], "v9 9")


def test_student_notebook_runs_until_its_first_exercise(editions):
    nb = nbformat.read(editions["student"] / EXECUTED, as_version=4)
    client = NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": ROOT / "notebooks"}})
    with pytest.raises(CellExecutionError) as error:
        client.execute()
    assert error.value.ename == "NotImplementedError" and "Exercise 1 — hint: " in error.value.evalue
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    failed = [i for i, cell in enumerate(code) if any(o.output_type == "error" for o in cell.outputs)]
    first_stub = next(i for i, cell in enumerate(code) if "solution" in cell.metadata.get("tags", []))
    assert failed == [first_stub]
    assert all(cell.execution_count for cell in code[:first_stub])
