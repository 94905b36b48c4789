"""The one switch: course_utils.settings and every notebook's parameters cell agree."""
import ast
from pathlib import Path

import nbformat
import pytest

from course_utils import settings, weights

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_apply_fills_none_and_keeps_what_the_reader_set():
    namespace = {**dict.fromkeys(settings.values("06", "full")), "HOP_LENGTH": 256}
    table = settings.apply("06", "full", namespace)
    assert namespace["N_FFT"] == 4096 and namespace["REPET_MIN_SECONDS"] == 2.0
    assert namespace["HOP_LENGTH"] == 256
    assert table.loc["HOP_LENGTH", "from"] == "set by you" and table.loc["N_FFT", "from"] == "full table"
    assert table.loc["N_FFT", "sample"] == "2048" and table.loc["N_FFT", "in use"] == "4096"


def test_sample_and_full_columns_differ_where_the_modes_differ():
    sample, full = settings.values("07", "sample"), settings.values("07", "full")
    assert sample["CONFIG"]["sr"] == 22050 and full["CONFIG"]["sr"] == 44100
    assert sample["WEIGHTS_DIR"] == weights.weights_dir("sample") != full["WEIGHTS_DIR"] == weights.weights_dir("full")


@pytest.mark.parametrize("notebook", ["07", "08", "09"])
def test_full_mode_models_run_at_musdb_rate(notebook):
    assert settings.values(notebook, "full")["CONFIG"]["sr"] == 44100


def test_full_mode_comparison_loads_the_full_mode_weights():
    sample, full = settings.values("11", "sample")["MODELS"], settings.values("11", "full")["MODELS"]
    assert list(sample) == list(full) and all("_full" in name for name in full.values())
    assert not any("_full" in name for name in sample.values())


@pytest.mark.parametrize("args, message", [
    (("06", "fast", {}), "DATA_MODE"),
    (("99", "sample", {}), "No settings for notebook"),
    (("06", "sample", {"N_FFT": None}), "lacks"),
])
def test_bad_input_says_what_to_do(args, message):
    with pytest.raises(ValueError, match=message):
        settings.apply(*args)


def _parameters(cell):
    """Names assigned in a parameters cell, with their literal values (None where not a literal)."""
    names = {}
    for node in ast.parse(cell.source).body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    try:
                        names[target.id] = ast.literal_eval(node.value)
                    except ValueError:
                        names[target.id] = node.value
    return names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_mode_dependent_parameter_follows_data_mode(path):
    nb = nbformat.read(path, as_version=4)
    index = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    params = _parameters(nb.cells[index])
    number = path.name[:2]
    assert params.get("DATA_MODE") == "sample"
    for name in settings.values(number, "sample"):
        assert name in params, f"{path.name}: the parameters cell lacks {name}"
        assert params[name] is None, f"{path.name}: {name} must be None (= from the settings table), not fixed"
    following = next(c for c in nb.cells[index + 1:] if c.cell_type == "code")
    assert f'settings.apply("{number}", DATA_MODE, globals())' in following.source, \
        f"{path.name}: the first code cell after the parameters must apply the settings table"


def test_a_folder_passed_as_text_becomes_a_path(tmp_path):
    namespace = {name: None for name in settings.values("09", "full")}
    namespace["WEIGHTS_DIR"] = str(tmp_path)
    settings.apply("09", "full", namespace)
    assert namespace["WEIGHTS_DIR"] == tmp_path
