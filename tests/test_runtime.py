"""Tests for course_utils/runtime.py and the course runner."""
import random

import nbformat
import numpy as np
import pytest

import course_utils as cu
from course_utils import run_course


def test_seed_everything_repeats_random_numbers():
    cu.seed_everything(3)
    first = (random.random(), np.random.rand())
    cu.seed_everything(3)
    assert (random.random(), np.random.rand()) == first


def test_paths(tmp_path, monkeypatch):
    root = cu.course_root()
    assert (root / "notebooks").is_dir() and cu.data_dir() == root / "data"
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    assert cu.cache_dir("x", "y") == tmp_path / "x" / "y" and (tmp_path / "x" / "y").is_dir()


def test_course_root_error_says_how_to_fix(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cu.runtime, "__file__", str(tmp_path / "pkg" / "runtime.py"))
    with pytest.raises(FileNotFoundError, match="COURSE_ROOT"):
        cu.course_root()


def test_environment_check_reports_every_item():
    table = cu.environment_check()
    assert {"ffmpeg", "librosa", "sample data: data/speakers"} <= set(table["item"])
    assert set(table["status"]) <= {"ok", "missing"}


def test_headline_is_found_by_the_runner(capsys):
    cu.headline("3 of 3")
    printed = capsys.readouterr().out
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(outputs=[
        nbformat.v4.new_output("stream", name="stdout", text="noise\n" + printed)])])
    assert run_course._headline(notebook) == "3 of 3"


def test_readme_times_are_written_into_the_table(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("| # | notebook | what | time | mode |\n|---|---|---|---|---|\n"
                      "| 00 | [a](x) | learn a | – | CPU |\n| 01 | [b](y) | learn b | 9.9 min | GPU |\n")
    run_course.update_readme_times(readme, {"00": 90.0})
    lines = readme.read_text().splitlines()
    assert lines[2] == "| 00 | [a](x) | learn a | 1.5 min | CPU |"
    assert lines[3] == "| 01 | [b](y) | learn b | 9.9 min | GPU |"
