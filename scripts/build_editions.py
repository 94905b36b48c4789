"""Build the student and instructor editions of the course notebooks.

    python scripts/build_editions.py                       # -> build/editions/{student,instructor}/
    python scripts/build_editions.py --badge-path editions/student

The committed notebooks in notebooks/ are the instructor version and the single source of truth; they are
only read. Solutions live in code cells tagged `solution`, between nbgrader's `### BEGIN SOLUTION` and
`### END SOLUTION` markers, below a `# Hint: ...` comment. The student edition replaces each solution region by
``raise NotImplementedError("Exercise N — hint: ...")`` (nbgrader's ClearSolutions with that stub) and clears
the outputs of solution cells and of the `exercise-check` cells after them, which would show the answers.
The instructor edition is the notebooks as committed. Both folders are rebuilt from scratch on every run.
"""
import argparse
import re
import shutil
import sys
from pathlib import Path

import nbformat
from nbgrader.preprocessors import ClearSolutions

ROOT = Path(__file__).resolve().parents[1]
BADGE = re.compile(r"(https://colab\.research\.google\.com/github/[\w.-]+/[\w.-]+)/blob/main/notebooks/")
EXERCISE = re.compile(r"^### Exercise (\d+)", re.MULTILINE)
HINT = re.compile(r"^# Hint: (.+)$", re.MULTILINE)


class ClearSolutionsWithHints(ClearSolutions):
    """nbgrader's ClearSolutions, with a stub per cell that raises NotImplementedError with the cell's hint."""

    def preprocess(self, nb, resources):
        exercise = None
        for cell in nb.cells:
            if cell.cell_type == "markdown" and EXERCISE.search(cell.source):
                exercise = EXERCISE.search(cell.source).group(1)
            elif "solution" in cell.metadata.get("tags", []):
                cell.metadata["exercise"] = exercise  # read back in preprocess_cell
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, index):
        tags = cell.metadata.get("tags", [])
        if "solution" in tags:
            hint = HINT.search(cell.source)
            if cell.cell_type != "code" or hint is None or self.begin_solution_delimeter not in cell.source:
                raise ValueError(f"{resources['name']}, cell {index}: a `solution` cell must be code with a "
                                 f"'# Hint: ...' line and a ### BEGIN SOLUTION / ### END SOLUTION region.")
            message = f"Exercise {cell.metadata.pop('exercise')} — hint: {hint.group(1)}"
            self.code_stub = dict(self.code_stub, python=f"raise NotImplementedError({message!r})")
        if "solution" in tags or "exercise-check" in tags:
            cell.outputs, cell.execution_count = [], None
        return super().preprocess_cell(cell, resources, index)


def student_notebook(nb, name, badge_path=None, badge_ref="main"):
    """Return a copy of `nb` with solutions replaced by hinted stubs and, optionally, the badge re-pointed.

    Args:
        nb: the instructor notebook (nbformat v4); name: its file name, used in error messages.
        badge_path: folder of the student notebooks in the repository (e.g. "editions/student"); None keeps
            the badge pointing at notebooks/ on main.
        badge_ref: branch or tag that holds `badge_path`.
    """
    nb = nbformat.from_dict(nb)
    nb, _ = ClearSolutionsWithHints(enforce_metadata=False).preprocess(nb, {"name": name})
    if badge_path is not None:
        nb.cells[0].source = BADGE.sub(lambda m: f"{m.group(1)}/blob/{badge_ref}/{badge_path.strip('/')}/",
                                       nb.cells[0].source)
    return nb


def build(notebooks, out_dir, badge_path=None, badge_ref="main"):
    """Write out_dir/student/ and out_dir/instructor/ from the given .ipynb paths; return the two folders."""
    folders = {edition: Path(out_dir) / edition for edition in ("student", "instructor")}
    for folder in folders.values():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        nbformat.write(nb, folders["instructor"] / path.name)
        nbformat.write(student_notebook(nb, path.name, badge_path, badge_ref), folders["student"] / path.name)
    return folders


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "editions",
                        help="output folder (default: build/editions)")
    parser.add_argument("--badge-path", help="repository folder the student edition is published to, e.g. "
                                             "editions/student; its Colab badges then point there")
    parser.add_argument("--badge-ref", default="main", help="branch or tag holding --badge-path (default: main)")
    args = parser.parse_args(argv)
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if not notebooks:
        sys.exit(f"No notebooks found in {ROOT / 'notebooks'}.")
    folders = build(notebooks, args.out, args.badge_path, args.badge_ref)
    print(f"{len(notebooks)} notebooks -> {folders['student']} and {folders['instructor']}")


if __name__ == "__main__":
    main()
