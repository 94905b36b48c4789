"""Tests for course_utils/runtime.py and the course runner."""
import os
import random
import subprocess
import sys
import types

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


def _run_setup_lines(monkeypatch, course_exists):
    """Run the setup cell's Colab lines as IPython would on Colab; return the shell and magic commands they ran."""
    from IPython.core.inputtransformer2 import TransformerManager

    calls = []
    shell = type("Shell", (), {"system": lambda self, cmd: calls.append(("!", cmd)),
                               "run_line_magic": lambda self, name, line: calls.append(("%" + name, line))})()
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setattr(os.path, "isdir", lambda path: course_exists if path == "/content/course" else False)
    code = TransformerManager().transform_cell(cu.runtime.setup_cell_header("v1.2"))
    exec(code, {"get_ipython": lambda: shell})
    return calls


def test_setup_cell_clones_the_pinned_ref_once_and_keeps_colabs_packages(monkeypatch):
    first = _run_setup_lines(monkeypatch, course_exists=False)
    assert first[0] == ("!", f"git clone -q --depth 1 --branch v1.2 https://github.com/{cu.runtime.REPOSITORY} "
                             "/content/course")
    assert first[1:] == [("%pip", "install -q /content/course"), ("%cd", "/content/course/notebooks")]
    again = _run_setup_lines(monkeypatch, course_exists=True)
    assert again == first[1:], "re-running skips the clone (no git error)"
    assert not any("tensorflow" in line.lower() or "-U" in line.split() or "--upgrade" in line for _, line in first)


def test_setup_cell_ref_must_be_a_tag_or_branch():
    assert "--branch " + cu.runtime.COURSE_REF + " " in cu.runtime.setup_cell_header()
    with pytest.raises(ValueError, match="tag or branch"):
        cu.runtime.setup_cell_header("main; rm -rf /")


def test_tensorflow_starts_without_log_lines_on_stderr():
    """TensorFlow 2.20+ writes absl/oneDNN lines to stderr while it loads; seeding imports it silently."""
    done = subprocess.run([sys.executable, "-c", "import course_utils as cu; cu.seed_everything(0, tensorflow=True); "
                           "import sys; print('after', file=sys.stderr)"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "after", done.stderr


def test_seeding_drops_only_the_retracing_warning():
    """Several Keras models in one notebook each trace a predict function: that warning is dropped, others stay."""
    code = ("import course_utils as cu; cu.seed_everything(0, tensorflow=True); import tensorflow as tf; "
            "tf.get_logger().warning('5 out of the last 18 calls to <f> triggered tf.function retracing.'); "
            "tf.get_logger().warning('another warning')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "another warning" in done.stderr and "retracing" not in done.stderr, done.stderr
