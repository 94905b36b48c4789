"""Run the whole course headless: every notebook in order, executed copies and HTML in build/.

Usage:  python -m course_utils.run_course [--mode sample|full] [--only 00 03] [--out build]

Prints a summary table (notebook, seconds, headline result). Each notebook's check cell prints
its headline with `runtime.headline`; a notebook that fails stops nothing else but is reported,
and the command exits non-zero.
"""
import argparse
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


def run_notebook(path, out_dir, data_mode="sample"):
    """Execute one notebook with papermill and export it to HTML; return (seconds, headline, error).

    Used in: `main` (the README's "run the whole course" command).
    """
    import nbformat
    import papermill
    from nbconvert import HTMLExporter

    # papermill reads the parameters cell to warn about unknown names; the "# full: ... = ..." comments beside
    # each sample value confuse its parser into harmless "Unable to parse line" warnings
    logging.getLogger("papermill.translators").setLevel(logging.ERROR)

    executed = out_dir / "notebooks" / path.name
    start = time.perf_counter()
    error = None
    try:
        papermill.execute_notebook(str(path), str(executed), parameters={"DATA_MODE": data_mode},
                                   cwd=str(path.parent), kernel_name="python3", progress_bar=False)
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
    args = parser.parse_args(argv)

    root = course_root()
    out_dir = Path(args.out) if args.out else root / "build"
    for sub in ("notebooks", "html"):
        (out_dir / sub).mkdir(parents=True, exist_ok=True)
    notebooks = sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if args.only:
        notebooks = [nb for nb in notebooks if nb.name[:2] in args.only]
    if not notebooks:
        sys.exit("No notebooks to run.")

    rows, failed = [], 0
    for path in notebooks:
        print(f"-> {path.name} ...", flush=True)
        seconds, headline, error = run_notebook(path, out_dir, args.mode)
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
