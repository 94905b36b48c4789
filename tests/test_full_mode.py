"""The full-mode lane, part 1: run_course's parameter passing, and notebooks 00-05 with DATA_MODE="full" on the
Kaggle-format (and, for 00, MUSDB18-format) fixture. Part 2, the music notebooks 06-10, is
tests/test_full_mode_music.py (a file of its own, so that two pytest-xdist workers share the lane);
the machinery and budgets are in tests/full_lane.py.

    .venv/bin/python -m pytest tests/test_full_mode.py tests/test_full_mode_music.py -n 2   # the lane alone
    .venv/bin/python -m pytest -m full_mode                     # the same, by marker
    .venv/bin/python -m pytest -m "not full_mode"               # everything else

The unit tests of run_course's parameter passing at the top run in the ordinary suite (no marker).
"""
import pytest
from full_lane import NOTEBOOKS, run_in_full_mode

from course_utils import run_course


# ---------------------------------------------------------------- run_course's parameter passing (ordinary suite)
def test_parse_param_reads_literals_and_keeps_text():
    assert run_course.parse_param("EPOCHS=2") == ("EPOCHS", 2)
    assert run_course.parse_param("EXAMPLE_SECONDS=(60, 90)") == ("EXAMPLE_SECONDS", (60, 90))
    assert run_course.parse_param("N_TRACKS=None") == ("N_TRACKS", None)
    assert run_course.parse_param("NAME = 'quoted'") == ("NAME", "quoted")
    assert run_course.parse_param("ROOT=/data/musdb18") == ("ROOT", "/data/musdb18")
    for bad in ("EPOCHS", "2=EPOCHS", "=1"):
        with pytest.raises(ValueError, match="NAME=VALUE"):
            run_course.parse_param(bad)


def _notebook(tmp_path, source, tagged=True):
    import nbformat

    cell = nbformat.v4.new_code_cell(source)
    if tagged:
        cell.metadata["tags"] = ["parameters"]
    path = tmp_path / "99_demo.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import os"), cell]), path)
    return path


def test_notebook_parameters_reads_every_assignment(tmp_path):
    path = _notebook(tmp_path, 'DATA_MODE = "sample"   # "full": (None = $MUSDB_PATH)\nMUSDB_ROOT = None  # (x)\n'
                               'N_FFT, HOP = 2048, 512\nDENOISE = dict(a=1)\nEPOCHS: int = 3\n')
    assert run_course.notebook_parameters(path) == {"DATA_MODE", "MUSDB_ROOT", "N_FFT", "HOP", "DENOISE", "EPOCHS"}
    with pytest.raises(ValueError, match="no cell tagged 'parameters'"):
        run_course.notebook_parameters(_notebook(tmp_path, "X = 1", tagged=False))


def test_only_the_parameters_a_notebook_defines_are_passed(tmp_path):
    path = _notebook(tmp_path, 'DATA_MODE = "sample"\nMUSDB_ROOT = None\nEPOCHS = 3\n')
    chosen = run_course.notebook_run_parameters(path, "full", musdb_root=tmp_path, speakers_root=tmp_path / "spk",
                                                params={"EPOCHS": (1, 2), "N_TRACKS": 2})
    assert chosen == {"DATA_MODE": "full", "MUSDB_ROOT": str(tmp_path.resolve()), "EPOCHS": [1, 2]}
    assert run_course.notebook_run_parameters(path, "sample") == {"DATA_MODE": "sample"}


def test_every_notebook_defines_the_dataset_roots():
    for path in NOTEBOOKS:
        names = run_course.notebook_parameters(path)
        wanted = {"DATA_MODE"} | ({"SPEAKERS_ROOT"} if path.name[:2] <= "05" else set()) | (
            {"MUSDB_ROOT"} if path.name[:2] == "00" or path.name[:2] >= "06" else set())
        assert wanted <= names, f"{path.name}'s parameters cell lacks {sorted(wanted - names)}"


def test_run_course_main_passes_roots_and_params(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(run_course, "run_notebook",
                        lambda path, out_dir, parameters: calls.append((path.name[:2], parameters)) or (1.0, "ok", None))
    assert run_course.main(["--mode", "full", "--only", "03", "06", "--out", str(tmp_path), "--musdb-root",
                            str(tmp_path), "--speakers-root", str(tmp_path), "--param", "EPOCHS=1",
                            "--param", "N_TRACKS=2"]) == 0
    root = str(tmp_path.resolve())
    assert calls == [("03", {"DATA_MODE": "full", "SPEAKERS_ROOT": root, "EPOCHS": 1}),
                     ("06", {"DATA_MODE": "full", "MUSDB_ROOT": root, "N_TRACKS": 2})]


def test_run_course_main_rejects_unknown_params_and_missing_roots(tmp_path, capsys):
    with pytest.raises(SystemExit):
        run_course.main(["--only", "03", "--param", "NO_SUCH_PARAMETER=1", "--out", str(tmp_path)])
    assert "no notebook run here has such a parameter" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run_course.main(["--musdb-root", str(tmp_path / "nowhere"), "--out", str(tmp_path)])
    assert "no such folder" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run_course.main(["--param", "EPOCHS", "--out", str(tmp_path)])
    assert "NAME=VALUE" in capsys.readouterr().err


# ---------------------------------------------------------------- the lane, part 1: the speaker notebooks
@pytest.mark.full_mode
@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if p.name[:2] <= "05"], ids=lambda p: p.name[:2])
def test_notebook_runs_in_full_mode(path, full_fixtures):
    run_in_full_mode(path, full_fixtures)
