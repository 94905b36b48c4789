"""Run the whole course headless: every notebook in order, executed copies and HTML in build/.

Usage:  python -m course_utils.run_course [--mode sample|full] [--only 00 03] [--out build]
            [--musdb-root DIR] [--speakers-root DIR] [--param NAME=VALUE ...]

Each notebook gets DATA_MODE, MUSDB_ROOT / SPEAKERS_ROOT and the --param values, but only the names
its parameters cell defines (so --param EPOCHS=1 reaches 03-05 and nothing else). VALUE is a Python
literal (1, 0.5, (60, 90), None, "text"); anything else is passed as a string.

Prints a summary table (notebook, seconds, headline result). Each notebook's check cell prints
its headline with `runtime.headline`; a notebook that fails stops nothing else but is reported,
and the command exits non-zero.
"""
import argparse
import ast
import logging
import re
import sys
import time
from pathlib import Path

from .runtime import course_root

HEADLINE = re.compile(r"^Headline: (.*)$", re.MULTILINE)
README_ROW = re.compile(r"^\| (\d\d) \|([^|]*\|[^|]*\|)[^|]*\|", re.MULTILINE)


def _headline(notebook):
    text = "".join(
        "".join(out.get("text", "")) for cell in notebook.cells if cell.cell_type == "code"
        for out in cell.get("outputs", []) if out.get("output_type") == "stream"
    )
    found = HEADLINE.findall(text)
    return found[-1] if found else "(no headline printed)"


def parse_param(text):
    """Split a ``--param NAME=VALUE`` argument into (NAME, value), VALUE read as a Python literal.

    Used in: `main`; tests/test_full_mode.py.

    Args:
        text: e.g. "EPOCHS=2", "EXAMPLE_SECONDS=(60, 90)", "NAME=text" (not a literal: kept as a string).
    Returns:
        (name, value).
    Raises:
        ValueError: no "=" or a name that is not a Python identifier.
    """
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not name.isidentifier():
        raise ValueError(f"--param wants NAME=VALUE with NAME a Python name (e.g. EPOCHS=2), got {text!r}.")
    try:
        return name, ast.literal_eval(value.strip())
    except (ValueError, SyntaxError):
        return name, value.strip()


def notebook_parameters(path):
    """The names a notebook's ``parameters`` cell assigns.

    Used in: `notebook_run_parameters`. Read with Python's parser (papermill's own reader skips lines whose
    comment it cannot parse, e.g. 08's ``MUSDB_ROOT = None  # ... (None = $MUSDB_PATH)``).

    Raises:
        ValueError: the notebook has no cell tagged ``parameters``.
    """
    import nbformat

    cells = [c for c in nbformat.read(path, as_version=4).cells if "parameters" in c.metadata.get("tags", [])]
    if not cells:
        raise ValueError(f"{Path(path).name} has no cell tagged 'parameters'; tag its parameters cell.")
    names = set()
    for node in ast.parse(cells[0].source).body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, (ast.AnnAssign, ast.AugAssign)) else []
        for target in targets:
            names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
    return names


def notebook_run_parameters(path, data_mode, musdb_root=None, speakers_root=None, params=None):
    """The parameters papermill gives one notebook: DATA_MODE, the dataset roots and the `params` it defines.

    Used in: `main`; tests/test_full_mode.py.

    Args:
        path: the notebook.
        data_mode: "sample" or "full" (always passed).
        musdb_root, speakers_root: folders passed as MUSDB_ROOT / SPEAKERS_ROOT (None: not passed).
        params: {name: value} passed to each notebook whose parameters cell defines the name.
    Returns:
        dict for ``papermill.execute_notebook(parameters=...)``; tuples become lists (papermill would pass a
        tuple as its text, "(60, 90)").
    """
    wanted = {"MUSDB_ROOT": musdb_root and str(Path(musdb_root).resolve()),
              "SPEAKERS_ROOT": speakers_root and str(Path(speakers_root).resolve()), **(params or {})}
    defined = notebook_parameters(path)
    chosen = {k: list(v) if isinstance(v, tuple) else v for k, v in wanted.items() if v is not None and k in defined}
    return {"DATA_MODE": data_mode, **chosen}


def _known_parameters(record):
    """A logging filter that drops papermill's "Passed unknown parameter" warnings (see `run_notebook`)."""
    return not record.getMessage().startswith("Passed unknown parameter")


def run_notebook(path, out_dir, parameters, execution_timeout=None):
    """Execute one notebook with papermill and export it to HTML; return (seconds, headline, error).

    Used in: `main` (the README's "run the whole course" command); tests/test_full_mode.py.

    Args:
        path: the notebook.
        out_dir: executed copy to ``out_dir/notebooks``, HTML to ``out_dir/html`` (created if needed).
        parameters: {name: value} for its parameters cell, e.g. from `notebook_run_parameters`.
        execution_timeout: seconds a cell may run before it is stopped (None: no limit).
    Returns:
        (seconds, headline printed by the check cell, None or "ErrorType: last line of the error").
    """
    import nbformat
    import papermill
    from nbconvert import HTMLExporter

    # papermill reads the parameters cell to warn about unknown names, but its parser trips over the comments beside
    # the values ("Unable to parse line", then "Passed unknown parameter" for names the cell does define);
    # `notebook_run_parameters` has already kept only the names the cell defines, so both warnings are noise
    logging.getLogger("papermill.translators").setLevel(logging.ERROR)
    logging.getLogger("papermill").addFilter(_known_parameters)

    path, out_dir = Path(path), Path(out_dir)
    for sub in ("notebooks", "html"):
        (out_dir / sub).mkdir(parents=True, exist_ok=True)
    executed = out_dir / "notebooks" / path.name
    start = time.perf_counter()
    error = None
    try:
        papermill.execute_notebook(str(path), str(executed), parameters=parameters,
                                   cwd=str(path.parent), kernel_name="python3", progress_bar=False,
                                   execution_timeout=execution_timeout)
    except Exception as err:  # papermill still writes the partly executed notebook
        error = f"{type(err).__name__}: {str(err).strip().splitlines()[-1] if str(err).strip() else ''}"
    seconds = time.perf_counter() - start
    notebook = nbformat.read(executed, as_version=4)
    html, _ = HTMLExporter().from_notebook_node(notebook)
    (out_dir / "html" / path.with_suffix(".html").name).write_text(html, encoding="utf-8")
    return seconds, _headline(notebook), error


def update_readme_times(readme, seconds_by_number):
    """Write measured minutes into the README's notebook table (rows start with "| NN |").

    Used in: `main --update-readme`, so that the table's times come from the run that measured them.
    """
    def replace(match):
        seconds = seconds_by_number.get(match.group(1))
        if seconds is None:
            return match.group(0)
        return f"| {match.group(1)} |{match.group(2)} {seconds / 60:.1f} min |"

    readme.write_text(README_ROW.sub(replace, readme.read_text(encoding="utf-8")), encoding="utf-8")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", default="sample", choices=["sample", "full"], help="DATA_MODE for every notebook")
    parser.add_argument("--only", nargs="*", help="notebook number prefixes to run, e.g. 00 03")
    parser.add_argument("--out", default=None, help="output folder (default: <course>/build)")
    parser.add_argument("--update-readme", action="store_true", help="write the measured times into README.md")
    parser.add_argument("--musdb-root", help="MUSDB18 folder (train/, test/), passed as MUSDB_ROOT")
    parser.add_argument("--speakers-root", help="Kaggle speaker folder, passed as SPEAKERS_ROOT")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="a parameter for every notebook that defines NAME (repeatable)")
    args = parser.parse_args(argv)
    try:
        params = dict(parse_param(text) for text in args.param)
    except ValueError as err:
        parser.error(str(err))
    for flag, folder in (("--musdb-root", args.musdb_root), ("--speakers-root", args.speakers_root)):
        if folder is not None and not Path(folder).is_dir():
            parser.error(f"{flag} {folder}: no such folder.")

    root = course_root()
    out_dir = Path(args.out) if args.out else root / "build"
    notebooks = sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if args.only:
        notebooks = [nb for nb in notebooks if nb.name[:2] in args.only]
    if not notebooks:
        sys.exit("No notebooks to run.")
    run_parameters = {path: notebook_run_parameters(path, args.mode, args.musdb_root, args.speakers_root, params)
                      for path in notebooks}
    unused = set(params) - {name for chosen in run_parameters.values() for name in chosen}
    if unused:
        parser.error(f"--param {', '.join(sorted(unused))}: no notebook run here has such a parameter.")

    rows, failed = [], 0
    for path in notebooks:
        passed = ", ".join(f"{k}={v!r}" for k, v in run_parameters[path].items())
        print(f"-> {path.name} ({passed}) ...", flush=True)
        seconds, headline, error = run_notebook(path, out_dir, run_parameters[path])
        failed += error is not None
        rows.append((path.stem, seconds, f"FAILED {error}" if error else headline))

    width = max(len(r[0]) for r in rows)
    print(f"\n{'notebook':<{width}}  {'seconds':>7}  headline result")
    for name, seconds, result in rows:
        print(f"{name:<{width}}  {seconds:7.1f}  {result}")
    print(f"{'total':<{width}}  {sum(r[1] for r in rows):7.1f}  {len(rows) - failed} of {len(rows)} notebooks passed")
    print(f"Executed notebooks: {out_dir / 'notebooks'}; HTML: {out_dir / 'html'}")
    if args.update_readme and not failed:
        update_readme_times(root / "README.md", {name[:2]: seconds for name, seconds, _ in rows})
        print("README.md: notebook times updated")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
