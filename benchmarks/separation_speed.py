"""How fast does every shipped separator run? x real time on this machine's CPU, on the bundled test songs.

Loads each model's shipped weights (``weights/<module>.DEFAULT_WEIGHTS``) with ``course_utils.load_separator``
and times ``course_utils.separate`` on every bundled test song (the whole path: STFT, network, masks, optional
Wiener filter, inverse STFT), after one warm-up song. x real time = seconds of music / seconds of wall time;
issue target: every learned separator at 10x or more on 2 CPU cores.

    python benchmarks/separation_speed.py [--threads 2] [--models unet mask_cnn autoencoder] [--wiener 1]
"""
import argparse
import sys
import time
from importlib import import_module
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import course_utils as cu  # noqa: E402
from course_utils import datasets, weights  # noqa: E402

MODELS = ("unet", "mask_cnn", "autoencoder", "open_unmix")
TARGET = 10.0  # x real time


def speed(model, songs, wiener_iterations=0):
    """(x real time, seconds of music, wall seconds) of separating every song once, after a warm-up."""
    cu.separate(songs[0].mixture, songs[0].sr, model, wiener_iterations)  # graph tracing, librosa's first FFT
    music = sum(len(song.mixture) / song.sr for song in songs)
    start = time.perf_counter()
    for song in songs:
        cu.separate(song.mixture, song.sr, model, wiener_iterations)
    wall = time.perf_counter() - start
    return music / wall, music, wall


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="TensorFlow CPU threads (the target is for 2)")
    parser.add_argument("--models", nargs="+", default=MODELS, choices=MODELS)
    parser.add_argument("--wiener", type=int, default=0, help="Wiener filter EM iterations (0: plain masks)")
    args = parser.parse_args()
    if args.threads < 1 or args.wiener < 0:
        parser.error("need --threads >= 1 and --wiener >= 0")
    cu.seed_everything(0, tensorflow=True, threads=args.threads)
    songs = [datasets.track_arrays(track) for track in cu.load_musdb("sample", subsets="test").tracks]
    print(f"{len(songs)} bundled test songs, {sum(len(s.mixture) / s.sr for s in songs):.1f} s of music, "
          f"{args.threads} thread(s), Wiener iterations {args.wiener}")
    failed = []
    for name in args.models:
        path = weights.weights_dir("sample") / import_module(f"course_utils.{name}").DEFAULT_WEIGHTS
        model = cu.load_separator(path)
        factor, music, wall = speed(model, songs, args.wiener)
        verdict = "ok" if factor >= TARGET else f"BELOW the {TARGET:g}x target"
        failed += [] if factor >= TARGET else [name]
        print(f"{name:12s} {path.name:34s} {factor:6.1f}x real time ({music:.1f} s in {wall:.2f} s)  {verdict}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
