"""Build the student and instructor editions of the course notebooks.

    python scripts/build_editions.py                       # -> build/editions/{student,instructor}/
    python scripts/build_editions.py --badge-path editions/student --ref spring-2025
    python scripts/build_editions.py --rewrite-notebooks   # notebooks/ name runtime.COURSE_REF (or --ref)

The committed notebooks in notebooks/ are the instructor version and the single source of truth; they are
only read (except by --rewrite-notebooks, below). Solutions live in code cells tagged `solution`, between
nbgrader's `### BEGIN SOLUTION` and `### END SOLUTION` markers, below a `# Hint: ...` comment. The student
edition replaces each solution region by ``raise NotImplementedError("Exercise N — hint: ...")`` (nbgrader's
ClearSolutions with that stub) and clears the outputs of solution cells and of the `exercise-check` cells after
them, which would show the answers.
The instructor edition is the notebooks as committed. Both folders are rebuilt from scratch on every run.
With --ref, both editions' Colab badge and setup cell name that git tag or branch instead of the committed one.
--rewrite-notebooks is the one option that writes to notebooks/: it rewrites each setup cell's first lines (up to
the `%cd`) from `runtime.setup_cell_header` and points each badge at the same ref.
"""
import argparse
import re
import shutil
import sys
from pathlib import Path

import nbformat
from nbgrader.preprocessors import ClearSolutions

from course_utils.runtime import COURSE_REF, setup_cell_header

ROOT = Path(__file__).resolve().parents[1]
BADGE = re.compile(r"(https://colab\.research\.google\.com/github/[\w.-]+/[\w.-]+)/blob/([\w.-]+)/notebooks/")
SETUP_END = re.compile(r"^\s*%cd .*$", re.MULTILINE)
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


def _setup_cell(nb, name):
    """The first code cell, which must start with the Colab setup lines ending in `%cd`."""
    cell = next((cell for cell in nb.cells if cell.cell_type == "code"), None)
    if cell is None or not SETUP_END.search(cell.source):
        raise ValueError(f"{name}: the first code cell must be the setup cell, whose Colab lines end with "
                         f"'%cd /content/course/notebooks'.")
    return cell


def pin_ref(nb, name, ref=COURSE_REF):
    """Return a copy of `nb` whose setup cell clones `ref` and whose Colab badge opens the notebook at `ref`.

    The setup cell's lines up to and including its `%cd` line are replaced by `runtime.setup_cell_header(ref)`;
    the rest of the cell (imports, seeding) is kept as it is.

    Args:
        nb: a course notebook (nbformat v4); name: its file name, used in error messages.
        ref: git tag or branch, e.g. "v0.1.0".
    """
    header = setup_cell_header(ref)
    nb = nbformat.from_dict(nb)
    if not BADGE.search(nb.cells[0].source):
        raise ValueError(f"{name}: the first cell has no Open-in-Colab badge of the form "
                         f"https://colab.research.google.com/github/OWNER/REPO/blob/REF/notebooks/NAME.ipynb.")
    nb.cells[0].source = BADGE.sub(lambda m: f"{m.group(1)}/blob/{ref}/notebooks/", nb.cells[0].source)
    cell = _setup_cell(nb, name)
    cell.source = header + cell.source[SETUP_END.search(cell.source).end():]
    return nb


def student_notebook(nb, name, badge_path=None):
    """Return a copy of `nb` with solutions replaced by hinted stubs and, optionally, the badge re-pointed.

    Args:
        nb: the instructor notebook (nbformat v4); name: its file name, used in error messages.
        badge_path: folder of the student notebooks in the repository (e.g. "editions/student"), on the ref the
            badge already names; None keeps the badge pointing at notebooks/.
    """
    nb = nbformat.from_dict(nb)
    nb, _ = ClearSolutionsWithHints(enforce_metadata=False).preprocess(nb, {"name": name})
    if badge_path is not None:
        nb.cells[0].source = BADGE.sub(lambda m: f"{m.group(1)}/blob/{m.group(2)}/{badge_path.strip('/')}/",
                                       nb.cells[0].source)
    return nb


def build(notebooks, out_dir, badge_path=None, ref=None):
    """Write out_dir/student/ and out_dir/instructor/ from the given .ipynb paths; return the two folders.

    Args:
        notebooks: .ipynb paths; out_dir: output folder.
        badge_path: see `student_notebook`.
        ref: git tag or branch that both editions' badges and setup cells name; None keeps the committed one.
    """
    folders = {edition: Path(out_dir) / edition for edition in ("student", "instructor")}
    for folder in folders.values():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        if ref is not None:
            nb = pin_ref(nb, path.name, ref)
        nbformat.write(nb, folders["instructor"] / path.name)
        nbformat.write(student_notebook(nb, path.name, badge_path), folders["student"] / path.name)
    return folders


def rewrite_notebooks(notebooks, ref=COURSE_REF):
    """Rewrite the given notebooks in place so that their setup cell and badge name `ref`; return the changed paths.

    Every notebook is checked before any is written, so a notebook without a setup cell or badge changes nothing.
    """
    pinned = {path: pin_ref(nbformat.read(path, as_version=4), path.name, ref) for path in notebooks}
    changed = [path for path, nb in pinned.items() if nb != nbformat.read(path, as_version=4)]
    for path in changed:
        nbformat.write(pinned[path], path)
    return changed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "editions",
                        help="output folder (default: build/editions)")
    parser.add_argument("--badge-path", help="repository folder the student edition is published to, e.g. "
                                             "editions/student; its Colab badges then point there")
    parser.add_argument("--ref", "--badge-ref", dest="ref",
                        help="git tag or branch that the Colab badges open and the setup cells clone (default: the "
                             f"one the notebooks name; with --rewrite-notebooks: runtime.COURSE_REF, {COURSE_REF})")
    parser.add_argument("--rewrite-notebooks", action="store_true",
                        help="rewrite notebooks/ in place (setup cell and badge name --ref) instead of building")
    args = parser.parse_args(argv)
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if not notebooks:
        sys.exit(f"No notebooks found in {ROOT / 'notebooks'}.")
    if args.rewrite_notebooks:
        changed = rewrite_notebooks(notebooks, args.ref or COURSE_REF)
        print(f"{len(changed)} of {len(notebooks)} notebooks rewritten to name {args.ref or COURSE_REF}")
        return
    folders = build(notebooks, args.out, args.badge_path, args.ref)
    print(f"{len(notebooks)} notebooks -> {folders['student']} and {folders['instructor']}")


if __name__ == "__main__":
    main()
