"""Command-line options and start-up shared by scripts/train_unet.py, train_mask_cnn.py and train_autoencoder.py."""
import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def parser(doc, full_help="the full configuration on MUSDB18 (needs a GPU)", songs=True):
    """An ArgumentParser with the options every training script has: --full or --train-root, --musdb-root, --out,
    --threads, --seed (and --songs), and the streamed runs' --checkpoint-dir, --resume, --validation-steps,
    --workers, --stop-after-steps."""
    result = argparse.ArgumentParser(description=doc.split("\n")[0])
    data = result.add_mutually_exclusive_group()
    data.add_argument("--full", action="store_true", help=full_help)
    data.add_argument("--train-root",
                      help="sample configuration, trained on the songs in TRAIN_ROOT/train and validated on those in "
                           "TRAIN_ROOT/valid (MUSDB18's decoded layout), read from disk like --full: the rendered "
                           "training music of `python data/build/render_training_set.py` (.cache/rendered_music)")
    result.add_argument("--musdb-root", help="full mode: MUSDB18 folder (default: $MUSDB_PATH)")
    if songs:
        result.add_argument("--songs", type=int, help="use only the first N training songs (default: all)")
    result.add_argument("--out", help="folder for the .npz weights (default: weights/ in sample mode, "
                                      ".cache/weights_full with --full)")
    result.add_argument("--threads", type=int, default=1, help="CPU threads (1: bit-identical re-runs)")
    result.add_argument("--seed", type=int, default=0)
    full = result.add_argument_group("--full and --train-root: songs read from disk, checkpoints, early stopping")
    full.add_argument("--checkpoint-dir",
                      help="checkpoint after every epoch here (default with --full: .cache/checkpoints/<model>)")
    full.add_argument("--resume", action="store_true", help="continue from the checkpoint in --checkpoint-dir")
    full.add_argument("--validation-steps", type=int,
                      help="at most this many validation batches per epoch (default: all of musdb's 'valid' songs)")
    full.add_argument("--workers", type=int, help="chunks decoded in parallel (default: tf.data chooses)")
    full.add_argument("--stop-after-steps", type=int,
                      help="end after this many training steps, as an interruption would (resume continues)")
    full.add_argument("--no-progress", action="store_true", help="no progress bar (one line per epoch only)")
    return result


def add_streaming_options(parser, remix_help, export_help):
    """--remix (on by default) and --export-best, for the scripts that train on songs read from disk."""
    parser.add_argument("--remix", action=argparse.BooleanOptionalAction, default=True, help=remix_help)
    parser.add_argument("--export-best", action="store_true", help=export_help)


def best_checkpoint(folder, what="train first (or --resume)"):
    """(training state, arrays of the best epoch) of a checkpoint folder of `training.fit`, for --export-best."""
    import numpy as np

    folder = Path(folder)
    if not (folder / "latest.npz").is_file() or not (folder / "best.npz").is_file():
        raise SystemExit(f"No checkpoint of a complete epoch in {folder}: {what}.")
    with np.load(folder / "latest.npz") as data:
        state = json.loads(str(data["state"]))
    with np.load(folder / "best.npz") as data:
        arrays = [data[k] for k in sorted(data.files)]
    return state, arrays


def finish(parser, args, name, sample_checkpoints=False):
    """Checks and defaults every training script shares; sets args.streaming (--full or --train-root: songs read
    from disk, validation songs, checkpoints), fills args.out (the mode's weights folder) and, when streaming,
    args.checkpoint_dir (.cache/checkpoints/<name>/<full|sample>). sample_checkpoints: --checkpoint-dir, --resume
    and --stop-after-steps also work on the bundled songs."""
    from course_utils import runtime, weights

    args.streaming = bool(args.full or args.train_root)
    check_positive(parser, args, "threads", "validation_steps", "workers", "stop_after_steps")
    names = ("validation_steps", "workers") + (() if sample_checkpoints else ("checkpoint_dir", "stop_after_steps"))
    streamed_only = [name for name in names if getattr(args, name) is not None]
    streamed_only += ["resume"] if args.resume and not sample_checkpoints else []
    if streamed_only and not args.streaming:
        parser.error(f"--{streamed_only[0].replace('_', '-')} is for --full or --train-root training")
    args.out = args.out or str(weights.weights_dir("full" if args.full else "sample"))
    if args.streaming and args.checkpoint_dir is None:
        args.checkpoint_dir = str(runtime.cache_dir("checkpoints", name, "full" if args.full else "sample"))
    if args.resume and args.checkpoint_dir is None:
        parser.error("--resume needs --checkpoint-dir")
    return args


def training_db(args, split=None):
    """musdb.DB of the training songs: MUSDB18 (--full), TRAIN_ROOT/train (--train-root), or the bundled sample."""
    from course_utils import datasets

    if args.full:
        return datasets.load_musdb("full", subsets="train", split=split, root=args.musdb_root)
    if args.train_root:
        return datasets.load_musdb("full", subsets="valid" if split == "valid" else "train", root=args.train_root)
    return datasets.load_musdb("sample", subsets="train")


def streamed_tracks(args):
    """(training tracks, validation tracks): musdb's 'train' and 'valid' splits (--full), or TRAIN_ROOT's train/ and
    valid/ folders (--train-root); --songs limits the first."""
    train = training_db(args, split="train").tracks[:getattr(args, "songs", None)]
    valid = training_db(args, split="valid").tracks
    if not train or not valid:
        where = (f"{args.musdb_root or '$MUSDB_PATH'} has {len(train)} songs in musdb's 'train' split and "
                 f"{len(valid)} in its 'valid' split (the train/ songs named in musdb's list, e.g. 'Actions - One "
                 f"Minute Smile')" if args.full else
                 f"{args.train_root} has {len(train)} songs in train/ and {len(valid)} in valid/")
        raise ValueError(f"{where}; training needs both.")
    return train, valid


def fit(model, args, name, batches, validation, steps, settings, learning_rate=None, patience=None):
    """course_utils.training.fit with the command line's checkpoint folder (one per model), resume and budgets."""
    from course_utils import training

    folder = None if args.checkpoint_dir is None else Path(args.checkpoint_dir) / name
    settings = json.loads(json.dumps({**settings, "seed": args.seed, "steps_per_epoch": steps}))
    return training.fit(model, batches, args.epochs, steps, validation, args.validation_steps, patience, folder,
                        args.resume, learning_rate, settings, args.stop_after_steps, not args.no_progress,
                        log=lambda line: print(f"{name} {line}", flush=True))


def shuffle_buffer(size, steps, args):
    """The shuffle buffer for `size` examples, but never more than an epoch uses (filling it costs reading)."""
    return min(size, steps * args.batch_size)


def check_positive(parser, args, *names):
    """parser.error unless every named option is at least 1."""
    for name in names:
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
