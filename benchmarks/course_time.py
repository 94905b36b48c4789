"""Wall time of every notebook of the course, now and at an earlier commit, side by side in one run.

    python benchmarks/course_time.py --against 0f72538

Checks the earlier commit out into .cache/course_time/<commit> (a git worktree, left in place for the next run),
then executes every notebook of both versions in sample mode with papermill, alternating between them (old 00, new
00, old 01, ...) so that both see the same machine load. Each version imports its own course_utils (PYTHONPATH),
reads its own data and weights, and starts from an empty cache of its own (a student's first run). Prints seconds
per notebook, the totals and their ratio. Executed copies go to build/course_time/. With --update-readme, the current
version's times go into the README's notebook table (`run_course.update_readme_times`).
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
from itertools import zip_longest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def worktree(commit):
    """The folder holding `commit`'s files (created with `git worktree add` on first use)."""
    full = subprocess.run(["git", "rev-parse", "--verify", f"{commit}^{{commit}}"], cwd=ROOT, capture_output=True,
                          text=True)
    if full.returncode != 0:
        raise SystemExit(f"{commit!r} is not a commit of this repository: {full.stderr.strip()}")
    folder = ROOT / ".cache" / "course_time" / full.stdout.strip()[:12]
    if not (folder / "notebooks").is_dir():
        subprocess.run(["git", "worktree", "add", "--detach", "--force", str(folder), full.stdout.strip()], cwd=ROOT,
                       check=True, capture_output=True)
    return folder


def run(root, notebook, out_dir, cache):
    """Execute one notebook of the version in `root` with papermill; return its wall time in seconds."""
    env = {**os.environ, "PYTHONPATH": str(root), "COURSE_CACHE_DIR": str(cache), "PYTHONHASHSEED": "0",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}  # the kernel's python
    out = out_dir / notebook.name
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "papermill", "-k", "python3", "--log-level", "ERROR",
                           str(notebook), str(out)], cwd=notebook.parent, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{notebook} failed (see {out}):\n{done.stderr[-2000:]}")
    return seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--against", required=True, help="the earlier commit (e.g. a tag or a hash)")
    parser.add_argument("--only", nargs="*", help="notebook numbers to run (default: all)")
    parser.add_argument("--update-readme", action="store_true", help="write the current version's times into README.md")
    args = parser.parse_args(argv)
    versions = {"then": worktree(args.against), "now": ROOT}
    notebooks = {name: sorted(p for p in (root / "notebooks").glob("[0-9][0-9]_*.ipynb")
                              if not args.only or p.name[:2] in args.only) for name, root in versions.items()}
    seconds = {name: {} for name in versions}
    with tempfile.TemporaryDirectory() as caches:
        for pair in zip_longest(*notebooks.values()):
            for name, notebook in zip(versions, pair):
                if notebook is None:
                    continue
                out_dir = ROOT / "build" / "course_time" / name
                out_dir.mkdir(parents=True, exist_ok=True)
                seconds[name][notebook.stem] = run(versions[name], notebook, out_dir, Path(caches) / name)
                print(f"{name:5s} {notebook.stem:40s} {seconds[name][notebook.stem]:7.1f} s", flush=True)
    totals = {name: sum(times.values()) for name, times in seconds.items()}
    print(f"\ntotal then ({args.against}, {len(seconds['then'])} notebooks): {totals['then']:.0f} s; "
          f"now ({len(seconds['now'])} notebooks): {totals['now']:.0f} s; now / then = "
          f"{totals['now'] / totals['then']:.2f}")
    if args.update_readme:
        sys.path.insert(0, str(ROOT))
        from course_utils.run_course import update_readme_times

        update_readme_times(ROOT / "README.md", {stem[:2]: s for stem, s in seconds["now"].items()})
        print("README.md: the notebook table's CPU times are this run's (now)")


if __name__ == "__main__":
    main()
