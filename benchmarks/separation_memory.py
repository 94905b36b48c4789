"""Peak memory of each full-mode separation step on one long song: every step in a fresh process.

What bounds the music notebooks' memory in full mode is one song's separation and scoring. This script reads the
first test song of a MUSDB18-layout folder (e.g. the 3-minute fixture) and runs one step per child process, so that
each peak (``ru_maxrss``) is that step's alone: Open-Unmix and the U-Net (full-size weights) with and without the
Wiener filter, the four-stem BSS Eval of one estimate, the mask CNN and the autoencoder. The limit is 6 GB (Colab
gives about 12.7 GB).

    python benchmarks/separation_memory.py --musdb-root .cache/fixtures_3min/musdb18 --weights-dir .cache/weights_full

The whole notebooks are measured with N and 2N songs by ``benchmarks/full_mode_memory.py``.
"""
import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STEPS = {  # step -> (weights file, Wiener iterations, scored)
    "Open-Unmix": ("open_unmix_full.npz", 0, False),
    "Open-Unmix + Wiener": ("open_unmix_full.npz", 1, False),
    "U-Net": ("unet_full_alpha_0.5.npz", 0, False),
    "U-Net + Wiener": ("unet_full_alpha_0.5.npz", 1, False),
    "Open-Unmix, then four-stem BSS Eval": ("open_unmix_full.npz", 0, True),
    "mask CNN": ("mask_cnn_full_fcn.npz", 0, False),
    "autoencoder": ("autoencoder_full_cmvn.npz", 0, False),
}
PEAK_LIMIT_GB = 6.0
# one step in a child process: read the song, separate (and score), print the song's length and the peak in GB
_STEP = """
import resource, sys
sys.path.insert(0, sys.argv[1])
import course_utils as cu
from course_utils import comparison
track = cu.load_musdb("full", subsets="test", root=sys.argv[2]).tracks[0]
mixture, stems, sr = cu.track_arrays(track)
estimates = cu.separate(mixture, sr, cu.load_separator(sys.argv[3]), int(sys.argv[4]))
if sys.argv[5] == "1":
    comparison.score_estimates("step", track.name, mixture, stems, estimates, sr)
print(len(mixture) / sr, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6)
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--musdb-root", required=True, help="MUSDB18-layout folder; its first test song is used")
    parser.add_argument("--weights-dir", default=str(ROOT / ".cache" / "weights_full"),
                        help="full-size weights (scripts/train_*.py --full write them)")
    parser.add_argument("--steps", nargs="+", choices=list(STEPS), default=list(STEPS), metavar="STEP",
                        help=f"the steps to run (default: all): {', '.join(repr(step) for step in STEPS)}")
    args = parser.parse_args()
    weights_dir = Path(args.weights_dir)
    steps = {step: STEPS[step] for step in args.steps}
    missing = sorted({file for file, _, _ in steps.values() if not (weights_dir / file).is_file()})
    if missing:
        parser.error(f"{weights_dir} lacks {', '.join(missing)}: train them with scripts/train_*.py --full.")
    failed = False
    for step, (file, iterations, scored) in steps.items():
        done = subprocess.run([sys.executable, "-c", _STEP, str(ROOT), args.musdb_root, str(weights_dir / file),
                               str(iterations), "1" if scored else "0"], capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"{step} failed:\n{done.stderr[-2000:]}")
        seconds, peak = map(float, done.stdout.split()[-2:])
        failed |= peak >= PEAK_LIMIT_GB
        print(f"{step:38s} {seconds:4.0f}-s song: peak {peak:5.2f} GB  "
              f"{'ok' if peak < PEAK_LIMIT_GB else 'OVER 6 GB'}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
