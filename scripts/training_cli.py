"""Command-line options and start-up shared by scripts/train_unet.py, train_mask_cnn.py and train_autoencoder.py."""
import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def parser(doc, full_help="the full configuration on MUSDB18 (needs a GPU)", songs=True):
    """An ArgumentParser with the options every training script has: --full or --train-root, --musdb-root, --out,
    --threads, --seed (and --songs)."""
    result = argparse.ArgumentParser(description=doc.split("\n")[0])
    data = result.add_mutually_exclusive_group()
    data.add_argument("--full", action="store_true", help=full_help)
    data.add_argument("--train-root",
                      help="sample configuration, trained on the MUSDB-layout training songs in this folder instead "
                           "of the bundled 7-s excerpts (e.g. the whole training songs made by "
                           "`python data/build/build_music.py --whole-songs --out .cache/musdb_whole`)")
    result.add_argument("--musdb-root", help="full mode: MUSDB18 folder (default: $MUSDB_PATH)")
    if songs:
        result.add_argument("--songs", type=int, help="use only the first N training songs (default: all)")
    result.add_argument("--out", default=str(ROOT / "weights"), help="folder for the .npz weights")
    result.add_argument("--threads", type=int, default=1, help="CPU threads (1: bit-identical re-runs)")
    result.add_argument("--seed", type=int, default=0)
    return result


def training_db(args, split=None):
    """musdb.DB of the training songs: MUSDB18 (--full), the songs in --train-root, or the bundled sample."""
    from course_utils import datasets

    if args.full or args.train_root:
        return datasets.load_musdb("full", subsets="train", split=split if args.full else None,
                                   root=args.musdb_root if args.full else args.train_root)
    return datasets.load_musdb("sample", subsets="train")


def check_positive(parser, args, *names):
    """parser.error unless every named option is at least 1."""
    for name in names:
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
