"""The mechanical rules of issue 16 ("every lesson true to its own numbers"), read from the saved notebooks' JSON.

(a) every "Exercise N", "section N" and "Figure N" in a notebook's markdown points at something that exists (an
    "### Exercise N" heading, a "## N · ..." or "### N. ..." section heading, a numbered figure) in that notebook,
    or in the notebook it names ("notebook 06's exercise 2"); a seed project's figures ("S0's Figure 2", "its
    Figure 1") are the seed's, not ours, and are left alone;
(b) saved outputs hold no TensorFlow/absl/oneDNN log lines, no progress bar frozen below 100 % (a saved tqdm or
    ipywidgets progress state, or a text bar whose last state reads " 0%|"), and no `[Text(...)]` reprs;
(c) every saved table with an "SDR" column also has "SIR" and "SAR" columns.
"""
import json
import re
import sys
from pathlib import Path

import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
#: notebook number -> the checks that still fail there (remove an entry once it passes)

_NUMBERS = r"(?P<first>\d+)(?P<rest>(?:\s*(?:,|–|-|and|or)\s*\d+)*)"
_POINTER = re.compile(rf"(?P<before>\S*\s*\S*\s*)\b(?P<kind>exercise|section|figure)s?\s+{_NUMBERS}", re.IGNORECASE)
_OTHER_NOTEBOOK = re.compile(r"notebook\s+(\d\d)(?:'s|,)?\s*$", re.IGNORECASE)
_SEED_FIGURE = re.compile(r"(\bS\d's|\bits|\btheir)\s*\(?$", re.IGNORECASE)
_LOG_LINE = re.compile(r"oneDNN custom operations|absl::InitializeLog|cpu_feature_guard|^[WIE]\d{4} \d\d:\d\d:\d\d"
                       r"|^WARNING:tensorflow|^WARNING:absl|triggered tf\.function retracing"
                       r"|tensorflow/core/|XLA service|TF_ENABLE_ONEDNN_OPTS|This TensorFlow binary is optimized",
                       re.MULTILINE)
_TEXT_BAR = re.compile(r"(\d{1,3})%\|")
_TEXT_REPR = re.compile(r"\[Text\(|^Text\(\d", re.MULTILINE)


def _load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def _source(cell):
    return cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])


def _text(value):
    return value if isinstance(value, str) else "".join(value)


def _markdown(nb):
    return [_source(cell) for cell in nb["cells"] if cell["cell_type"] == "markdown"]


def _targets(nb):
    """The exercises, sections and figures a notebook defines: {"exercise": {1, 2}, "section": {...}, ...}."""
    found = {"exercise": set(), "section": set(), "figure": set()}
    for text in _markdown(nb):
        found["exercise"] |= {int(n) for n in re.findall(r"^#+\s*Exercise\s+(\d+)", text, re.MULTILINE)}
        found["section"] |= {int(n) for n in re.findall(r"^#+\s*(\d+)\s*(?:·|\.|:|—|-)\s", text, re.MULTILINE)}
        found["figure"] |= {int(n) for n in re.findall(r"\*\*Figure\s+(\d+)[.:]", text)}
    return found


def _numbers(first, rest):
    values = [int(first)] + [int(n) for n in re.findall(r"\d+", rest)]
    if re.search(r"[–-]", rest) and len(values) == 2:  # a range, "sections 2–5"
        return list(range(values[0], values[1] + 1))
    return values


def pointers(nb):
    """(kind, number, notebook number or None, the text around it) for every pointer in the markdown."""
    found = []
    for text in _markdown(nb):
        for line in text.splitlines():
            if re.match(r"^#+\s*Exercise\s+\d+", line):  # the heading itself is a target, not a pointer
                continue
            for match in _POINTER.finditer(line):
                before = line[:match.start("kind")]
                kind = match.group("kind").lower()
                if kind == "figure" and _SEED_FIGURE.search(before):
                    continue
                other = _OTHER_NOTEBOOK.search(before)
                for number in _numbers(match.group("first"), match.group("rest")):
                    found.append((kind, number, other.group(1) if other else None, line.strip()))
    return found


def broken_pointers(path):
    nb = _load(path)
    own = _targets(nb)
    broken = []
    for kind, number, other, line in pointers(nb):
        if other is None:
            targets = own
        else:
            matches = sorted(NOTEBOOK_DIR.glob(f"{other}_*.ipynb"))
            if not matches:
                broken.append(f"{kind} {number} of notebook {other} (no such notebook): {line}")
                continue
            targets = _targets(_load(matches[0]))
        if number not in targets[kind]:
            broken.append(f"{kind} {number}{f' of notebook {other}' if other else ''}: {line}")
    return broken


def _rendered_streams(outputs):
    """Each stream's text as a notebook shows it: consecutive chunks joined, each line's carriage returns applied."""
    streams, previous = [], None
    for output in outputs:
        if output.get("output_type") != "stream":
            previous = None
            continue
        if previous == output.get("name"):
            streams[-1] += _text(output.get("text", ""))
        else:
            streams.append(_text(output.get("text", "")))
        previous = output.get("name")
    rendered = []
    for text in streams:
        lines = []
        for line in text.split("\n"):
            parts = [part for part in line.split("\r") if part]
            lines.append(parts[-1] if parts else "")
        rendered.append("\n".join(lines))
    return rendered


def output_problems(path):
    nb = _load(path)
    problems = []
    widget_states = nb.get("metadata", {}).get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    for model_id, model in widget_states.get("state", {}).items():
        state = model.get("state", {})
        if model.get("model_name") in ("FloatProgressModel", "IntProgressModel") and state.get("value", 0) < state.get("max", 100):
            problems.append(f"saved progress widget {model_id} frozen at {state.get('value')}/{state.get('max')}")
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        where = f"cell {index} ({_source(cell).splitlines()[0][:50] if _source(cell) else ''!r})"
        outputs = cell.get("outputs", [])
        texts = _rendered_streams(outputs)
        for output in outputs:
            data = output.get("data", {})
            if "application/vnd.jupyter.widget-view+json" in data and _TEXT_BAR.search(_text(data.get("text/plain", ""))):
                problems.append(f"{where}: a progress-bar widget, frozen in the saved output at "
                                f"{_text(data['text/plain']).strip()[:60]!r}")
            elif "text/plain" in data:
                texts.append(_text(data["text/plain"]))
        for text in texts:
            if _LOG_LINE.search(text):
                problems.append(f"{where}: a TensorFlow/absl/oneDNN log line: {_LOG_LINE.search(text).group(0)!r}")
            for line in text.splitlines():
                bar = _TEXT_BAR.search(line)
                if bar and int(bar.group(1)) < 100:
                    problems.append(f"{where}: a text progress bar frozen at {line.strip()[:60]!r}")
            if _TEXT_REPR.search(text):
                problems.append(f"{where}: a `[Text(...)]` repr: end the plotting cell with ';' or plt.show()")
    return problems


def _header_columns(html):
    """Column names in the header rows of an HTML table (pandas' to_html)."""
    head = re.search(r"<thead>(.*?)</thead>", html, re.DOTALL)
    return {re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<th[^>]*>(.*?)</th>", head.group(1) if head
                                                                       else html, re.DOTALL)}


def _plain_header_words(text):
    """Words of a plain-text table's first lines (a DataFrame's header), where its column names are."""
    return set(re.findall(r"[A-Za-z][\w-]*", "\n".join(text.splitlines()[:3])))


def _has_column(columns, name):
    return any(re.search(rf"(^|\W){name}(\W|$)", column) for column in columns)


def table_problems(path):
    nb = _load(path)
    problems = []
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            tables = []
            if "text/html" in data and "<table" in _text(data["text/html"]):
                tables.append(_header_columns(_text(data["text/html"])))
            elif "text/plain" in data:
                tables.append(_plain_header_words(_text(data["text/plain"])))
            if output.get("output_type") == "stream":  # a printed DataFrame: a header line, then rows
                for block in re.split(r"\n\s*\n", _text(output.get("text", ""))):
                    lines = [line for line in block.splitlines() if line.strip()]
                    if len(lines) >= 2 and ":" not in lines[0]:
                        tables.append(_plain_header_words(block))
            for columns in tables:
                if _has_column(columns, "SDR") and not (_has_column(columns, "SIR") and _has_column(columns, "SAR")):
                    problems.append(f"cell {index}: a table with SDR but without SIR and SAR: {sorted(columns)[:12]}")
    return problems


CASES = [pytest.param(path, id=path.name[:2]) for path in NOTEBOOKS]


@pytest.mark.parametrize("path", CASES)
def test_every_pointer_to_an_exercise_section_or_figure_exists(path):
    assert not broken_pointers(path), "\n".join(broken_pointers(path))


@pytest.mark.parametrize("path", CASES)
def test_saved_outputs_hold_no_log_lines_frozen_bars_or_text_reprs(path):
    problems = output_problems(path)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", CASES)
def test_every_saved_table_with_sdr_has_sir_and_sar(path):
    problems = table_problems(path)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", CASES)
def test_no_notebook_uses_ipywidgets_interact(path):
    """`interact` draws inside an Output widget, which stalls headless runs (papermill waits forever):
    notebooks explore a parameter with `cu.interactive_plot` instead."""
    code = [_text(cell["source"]) for cell in json.loads(path.read_text())["cells"] if cell["cell_type"] == "code"]
    assert not [c for c in code if re.search(r"\binteract(ive)?\(|@\w*\.?interact\b", c)], path.name


def test_the_course_map_lists_every_notebook_by_its_title():
    """00's course map (a hand-written table) names every notebook, with the title of its first cell."""
    course_map = next(_text(cell["source"]) for cell in json.loads(NOTEBOOKS[0].read_text())["cells"]
                      if cell["cell_type"] == "markdown" and "## The course map" in _text(cell["source"]))
    rows = {match.group(1): match.group(2).strip() for match in re.finditer(r"^\| (\d\d) \| ([^|]+)\|", course_map, re.M)}
    titles = {path.name[:2]: re.match(r"# \d\d · (.+)", _text(json.loads(path.read_text())["cells"][0]["source"]))
              .group(1).strip() for path in NOTEBOOKS}
    assert rows == titles


# ---------------------------------------------------------------- the checks themselves, on small notebooks
def _nb(markdown=(), outputs=()):
    cells = [{"cell_type": "markdown", "metadata": {}, "source": text} for text in markdown]
    cells += [{"cell_type": "code", "metadata": {}, "source": "x", "outputs": list(outputs), "execution_count": 1}]
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def _write(tmp_path, nb, name="99_demo.ipynb"):
    path = tmp_path / name
    path.write_text(json.dumps(nb))
    return path


def test_pointer_check_finds_missing_targets_and_ignores_the_seeds_figures(tmp_path):
    nb = _nb(["## 1 · Data\nAs S0's Figure 2 shows, and its Figure 1 too", "### Exercise 1 — A\nsee section 1",
              "Try it in exercise 2 (sections 1–3), Figure 4"])
    broken = broken_pointers(_write(tmp_path, nb))
    assert [b.split(":")[0] for b in broken] == ["exercise 2", "section 2", "section 3", "figure 4"]
    assert not broken_pointers(_write(tmp_path, _nb(["## 2 · B\n### Exercise 1 — A\nsection 2, exercise 1"])))


def test_pointer_check_follows_pointers_into_other_notebooks(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "NOTEBOOK_DIR", tmp_path)
    _write(tmp_path, _nb(["### Exercise 4 — More data"]), "07_other.ipynb")
    assert not broken_pointers(_write(tmp_path, _nb(["(notebook 07, exercise 4)"])))
    assert broken_pointers(_write(tmp_path, _nb(["notebook 07's exercise 5"])))


def test_output_check_flags_log_lines_frozen_bars_and_text_reprs(tmp_path):
    stream = lambda text, name="stderr": {"output_type": "stream", "name": name, "text": text}
    result = lambda text: {"output_type": "execute_result", "data": {"text/plain": text}, "metadata": {},
                           "execution_count": 1}
    widget = {"output_type": "display_data", "metadata": {}, "data": {
        "application/vnd.jupyter.widget-view+json": {"model_id": "x"}, "text/plain": "features:   0%|   | 0/80"}}
    bad = _nb(outputs=[stream("2026 I0000 00:00:1 absl::InitializeLog() is called\n"), widget,
                       stream("\rfeatures:  40%|####  | 4/10\n"), result("[Text(0, 0.5, 'dB')]"),
                       stream("WARNING:tensorflow:5 out of the last 20 calls to <function> triggered tf.function "
                              "retracing.\n", name="stdout")])
    assert len(output_problems(_write(tmp_path, bad))) == 5
    finished = _nb(outputs=[stream("\rfeatures:   0%|   | 0/10"), stream("\rfeatures: 100%|#####| 10/10\n"),
                            result("<Figure size 720x216 with 1 Axes>")])
    assert not output_problems(_write(tmp_path, finished))


def test_table_check_wants_sir_and_sar_beside_sdr(tmp_path):
    html = lambda header: {"output_type": "execute_result", "metadata": {}, "execution_count": 1, "data": {
        "text/html": f"<table><thead><tr>{''.join(f'<th>{h}</th>' for h in header)}</tr></thead></table>",
        "text/plain": " ".join(header)}}
    assert table_problems(_write(tmp_path, _nb(outputs=[html(["method", "vocals SDR"])])))
    assert not table_problems(_write(tmp_path, _nb(outputs=[html(["method", "SDR", "SIR", "SAR"])])))
    printed = {"output_type": "stream", "name": "stdout", "text": "method  SDR  SIR\nHPSS  1.0  2.0\n"}
    assert table_problems(_write(tmp_path, _nb(outputs=[printed])))
