"""Peak memory of the music notebooks in full mode with N and 2N test songs: it must not grow with the songs.

Runs each notebook with papermill (``DATA_MODE="full"``) in a child process, once with N test songs and once
with 2N, and reads the kernel's peak resident memory (``resource.getrusage(RUSAGE_CHILDREN)`` of a wrapper
process that does nothing but run papermill). A notebook that holds one song at a time peaks at the same
memory for N and 2N songs; the check is growth within 10 % and a peak under 6 GB (Colab gives about 12.7 GB).

    python benchmarks/full_mode_memory.py --musdb-root .cache/fixtures/musdb18 --notebooks 06 10 --songs 1 \\
        --param 06 EXAMPLE_SECONDS='[60, 90]' --param 10 LISTEN_SECONDS='[60, 70]'

Budgets (epochs, steps) go in with --param NOTEBOOK NAME=VALUE (the value is read as YAML, as papermill's -y).
Executed notebooks go to build/full_mode_memory/.
"""
import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from course_utils import datasets, weights  # noqa: E402

NOTEBOOKS = {"06": "06_masks_and_evaluation", "07": "07_unet_vocal_separator", "08": "08_binary_mask_cnn",
             "09": "09_cnn_autoencoder", "10": "10_open_unmix", "11": "11_grand_comparison"}
SONGS_PARAMETER = {"06": "N_TRACKS"}  # the others call it MAX_TEST_TRACKS
WEIGHTS_NOTEBOOKS = ("07", "08", "09", "10", "11")
GROWTH_LIMIT, PEAK_LIMIT_GB = 0.10, 6.0

# papermill fails a cell whose output reaches it more than nbclient's iopub_timeout (4 s) after the cell's end, which
# happens on a loaded machine; this gives the output time to arrive (it does not limit how long a cell runs)
IOPUB_TIMEOUT_S = 600
# a process whose only child is papermill (and, below it, the notebook's kernel): its children's peak is the kernel's
_WRAPPER = ("import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(code)")
# papermill's Python API, which (unlike its command line) passes iopub_timeout on to nbclient
_PAPERMILL = ("import json, sys, papermill; papermill.execute_notebook(sys.argv[1], sys.argv[2], kernel_name='python3', "
              "parameters=json.loads(sys.argv[3]), progress_bar=False, iopub_timeout=int(sys.argv[4]))")


def peak_memory_gb(notebook, parameters, out):
    """Execute one notebook with papermill in a child process; return (peak resident GB, wall seconds).

    Used in: this script.
    """
    command = [sys.executable, "-c", _PAPERMILL, f"{NOTEBOOKS[notebook]}.ipynb", str(out), json.dumps(parameters),
               str(IOPUB_TIMEOUT_S)]
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", _WRAPPER, *command], cwd=ROOT / "notebooks",
                            capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"{NOTEBOOKS[notebook]} failed in full mode (see {out}):\n{result.stderr[-3000:]}")
    return int(result.stdout.strip().splitlines()[-1]) / 1e6, seconds  # ru_maxrss is in KiB on Linux


def song_seconds(musdb_root, n_songs):
    """Lengths in seconds of the first n test songs (the songs the notebooks read)."""
    db = datasets.load_musdb("full", subsets="test", root=musdb_root)
    if len(db.tracks) < 2 * n_songs:
        raise ValueError(f"{musdb_root} has {len(db.tracks)} test songs; measuring 2N = {2 * n_songs} songs needs "
                         f"that many (build more with data/build/build_fixtures.py --test-songs {2 * n_songs}).")
    return [round(track.duration, 1) for track in db.tracks[: 2 * n_songs]]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--musdb-root", default=str(ROOT / ".cache" / "fixtures" / "musdb18"),
                        help="MUSDB18-layout folder with at least 2N test songs (default: the fixture)")
    parser.add_argument("--weights-dir", default=str(weights.weights_dir("full")),
                        help="full-mode weights for 07-10 (default: where scripts/train_*.py --full write)")
    parser.add_argument("--notebooks", nargs="+", default=list(NOTEBOOKS), choices=list(NOTEBOOKS))
    parser.add_argument("--songs", type=int, default=1, help="N: the notebooks run with N and with 2N test songs")
    parser.add_argument("--param", nargs=2, action="append", default=[], metavar=("NOTEBOOK", "NAME=VALUE"),
                        help="a parameter for one notebook, e.g. --param 07 LIVE_STEPS=2 (value read as YAML)")
    args = parser.parse_args()
    if args.songs < 1:
        parser.error("--songs must be at least 1")
    extra = {notebook: {} for notebook in NOTEBOOKS}
    for notebook, assignment in args.param:
        if notebook not in NOTEBOOKS or "=" not in assignment:
            parser.error(f"--param takes a notebook ({', '.join(NOTEBOOKS)}) and NAME=VALUE, "
                         f"got {notebook} {assignment}")
        name, value = assignment.split("=", 1)
        extra[notebook][name] = yaml.safe_load(value)
    # the notebooks run in notebooks/: relative folders are resolved here, where the reader typed them
    args.musdb_root, args.weights_dir = str(Path(args.musdb_root).resolve()), str(Path(args.weights_dir).resolve())
    lengths = song_seconds(args.musdb_root, args.songs)
    print(f"test songs (s): {lengths}; N = {args.songs}")
    out_dir = ROOT / "build" / "full_mode_memory"
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for notebook in args.notebooks:
        peaks = {}
        for n_songs in (args.songs, 2 * args.songs):
            parameters = {"DATA_MODE": "full", "MUSDB_ROOT": args.musdb_root,
                          SONGS_PARAMETER.get(notebook, "MAX_TEST_TRACKS"): n_songs, **extra[notebook]}
            if notebook in WEIGHTS_NOTEBOOKS:
                parameters.setdefault("WEIGHTS_DIR", args.weights_dir)
            out = out_dir / f"{notebook}_{n_songs}_songs.ipynb"
            peaks[n_songs], seconds = peak_memory_gb(notebook, parameters, out)
            print(f"{notebook} with {n_songs} song(s): peak {peaks[n_songs]:.2f} GB, {seconds:.0f} s", flush=True)
        growth = peaks[2 * args.songs] / peaks[args.songs] - 1
        rows.append((notebook, peaks[args.songs], peaks[2 * args.songs], growth))
    print(f"\n{'notebook':<9}{'N songs (GB)':>14}{'2N songs (GB)':>15}{'growth':>9}  verdict")
    for notebook, one, two, growth in rows:
        verdict = ("ok" if growth <= GROWTH_LIMIT and two < PEAK_LIMIT_GB else
                   f"FAILS ({'grows' if growth > GROWTH_LIMIT else ''}{' over 6 GB' if two >= PEAK_LIMIT_GB else ''})")
        print(f"{notebook:<9}{one:>14.2f}{two:>15.2f}{growth:>+9.1%}  {verdict}")
    return 0 if all(g <= GROWTH_LIMIT and two < PEAK_LIMIT_GB for _, _, two, g in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
