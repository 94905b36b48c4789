"""Train S1's CNN autoencoder (after Chandna et al. 2017), one model per normalisation (MIN-MAX, CMVN).

Sample mode (default): 7 of the 8 bundled training songs train, the 8th decides when to stop
(early stopping on its loss, best epoch kept); every epoch adds --remixes-per-epoch fresh mixtures of
the training songs' stems (datasets.remix_tracks). autoencoder.SAMPLE_CONFIG (n_fft 1024 / hop 256,
30-frame blocks, 4 sources), Adam 1e-3, batch 16, one CPU thread, deterministic; writes
weights/autoencoder_sample_<normalisation>.npz. Two processes can train both side by side:

    python scripts/train_autoencoder.py --normalisations minmax & python scripts/train_autoencoder.py --normalisations cmvn

Full mode (`--full`): MUSDB18 at 44.1 kHz, musdb's training split trains and its validation split stops
(GPU recommended; --songs limits the number of training songs held in memory).

    python scripts/train_autoencoder.py --full --musdb-root /data/MUSDB18 --remixes-per-epoch 0 --out weights/full
"""
import sys
import time
from pathlib import Path

import training_cli

sys.path.insert(0, str(training_cli.ROOT))

from course_utils import autoencoder, datasets, runtime  # noqa: E402


def parse_args(argv=None):
    parser = training_cli.parser(__doc__, "MUSDB18 at 44.1 kHz (needs a GPU and much memory)")
    parser.add_argument("--normalisations", default=",".join(autoencoder.NORMALISATIONS),
                        help="comma-separated: minmax, cmvn")
    parser.add_argument("--epochs", type=int, default=60, help="at most this many epochs")
    parser.add_argument("--patience", type=int, default=10, help="stop after this many epochs without improvement")
    parser.add_argument("--remixes-per-epoch", type=int, default=16, help="fresh remixes per epoch (0: none)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-3)
    args = parser.parse_args(argv)
    args.normalisation_list = [n.strip() for n in args.normalisations.split(",") if n.strip()]
    unknown = sorted(set(args.normalisation_list) - set(autoencoder.NORMALISATIONS))
    if unknown or not args.normalisation_list:
        parser.error(f"--normalisations: {unknown or 'none given'}; choose from {', '.join(autoencoder.NORMALISATIONS)}")
    training_cli.check_positive(parser, args, "epochs", "patience", "batch_size", "threads")
    if args.remixes_per_epoch < 0 or (args.songs is not None and args.songs < 2):
        parser.error("--remixes-per-epoch must be >= 0 and --songs >= 2")
    if not 0 < args.lr < 1:
        parser.error("--lr must be in (0, 1)")
    return args


def load_songs(args):
    """(training songs, validation songs) as (mixture, stems, sr) tuples."""
    if args.full:
        train = training_cli.training_db(args, split="train").tracks[:args.songs]
        valid = training_cli.training_db(args, split="valid").tracks
        return [datasets.track_arrays(t) for t in train], [datasets.track_arrays(t) for t in valid]
    songs = [datasets.track_arrays(t) for t in training_cli.training_db(args).tracks[:args.songs]]
    return songs[:-1], songs[-1:]


def main(argv=None):
    args = parse_args(argv)
    runtime.seed_everything(args.seed, tensorflow=True, threads=args.threads)
    train_songs, val_songs = load_songs(args)
    base = {**autoencoder.SAMPLE_CONFIG, "learning_rate": args.lr, **({"sr": 44100} if args.full else {})}
    print(f"{len(train_songs)} training songs, {len(val_songs)} for early stopping; {args.remixes_per_epoch} remixes "
          f"per epoch", flush=True)
    for normalisation in args.normalisation_list:
        runtime.seed_everything(args.seed, tensorflow=True)
        config = {**base, "normalisation": normalisation}
        x, _ = autoencoder.training_blocks(train_songs, config)
        model = autoencoder.build_from_config(config, autoencoder.normalisation_stats(x[..., 0], normalisation))
        start = time.time()
        history = autoencoder.train_on_remixes(
            model, train_songs, config, val_songs, epochs=args.epochs, remixes_per_epoch=args.remixes_per_epoch,
            batch_size=args.batch_size, patience=args.patience, seed=args.seed,
            log=lambda line: print(f"{normalisation} {line}", flush=True))
        seconds = time.time() - start
        history["training"] = {"epochs_run": len(history["loss"]), "max_epochs": args.epochs, "patience": args.patience,
                               "remixes_per_epoch": args.remixes_per_epoch, "batch_size": args.batch_size,
                               "lr": args.lr, "seed": args.seed, "train_songs": len(train_songs),
                               "val_songs": len(val_songs), "seconds": round(seconds)}
        out = Path(args.out) / f"autoencoder_{'full' if args.full else 'sample'}_{normalisation}.npz"
        out.parent.mkdir(parents=True, exist_ok=True)
        autoencoder.save_weights(model, out, config, history)
        print(f"{normalisation}: {seconds:.0f} s, best epoch {history['best_epoch']} of {len(history['loss'])} "
              f"(validation loss {min(history['val_loss']):.4f}) -> {out} ({out.stat().st_size / 1e6:.2f} MB)",
              flush=True)


if __name__ == "__main__":
    main()
