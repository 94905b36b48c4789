"""Train S1's CNN autoencoder (after Chandna et al. 2017), one model per normalisation (MIN-MAX, CMVN).

Rendered training set (`--train-root DIR`, how the shipped weights are made): autoencoder.SAMPLE_CONFIG
(22.05 kHz, n_fft 1024 / hop 256, 30-frame blocks, 4 sources) trained on the songs in DIR/train, read from disk
in chunks of CHUNK_SECONDS (training.chunk_dataset), each chunk remixed (every stem from its own random song and
offset, random gain, channels swapped half of the time); the checkpoint is chosen on the songs in DIR/valid
(early stopping, best epoch kept). Normalisation statistics come from --stats-blocks blocks of random chunks.
A checkpoint after every epoch (default .cache/checkpoints/train_autoencoder/sample/<normalisation>); --resume
continues an interrupted run, or a finished one with a larger --epochs (songs added to DIR/train since are read
too); writes weights/autoencoder_rendered_<normalisation>.npz. The normalisation with the lower validation loss
after the same epochs is autoencoder.DEFAULT_WEIGHTS; weights/README.md lists the runs that made the shipped files:

    nohup nice -n 10 python scripts/train_autoencoder.py --train-root .cache/rendered_music --steps-per-epoch 500 \
        --epochs 1 > .cache/logs/train_autoencoder.log 2>&1 &                  # both normalisations, one epoch each
    python scripts/train_autoencoder.py --train-root .cache/rendered_music --steps-per-epoch 500 --epochs 7 \
        --lr-drop-epoch 5 --normalisations cmvn --resume                       # the chosen one, for more epochs
    python scripts/train_autoencoder.py --train-root .cache/rendered_music --normalisations cmvn --export-best

Bundled songs (no --train-root, no --full): 7 of the 8 bundled training songs train, the 8th decides when to stop;
every epoch adds --remixes-per-epoch fresh mixtures of the training songs' stems (datasets.remix_tracks), all in
memory (autoencoder.train_on_remixes); writes weights/autoencoder_sample_<normalisation>.npz.

Full mode (`--full`): musdb's 'train' split at 44.1 kHz (autoencoder.FULL_CONFIG), streamed like --train-root
(not remixed unless --remix), mixed precision on a GPU, musdb's 'valid' split for early stopping; writes
.cache/weights_full/autoencoder_full_<normalisation>.npz.

    python scripts/train_autoencoder.py --full --musdb-root /data/MUSDB18
    python scripts/train_autoencoder.py --full --musdb-root .cache/fixtures/musdb18 --normalisations cmvn \
        --epochs 1 --steps-per-epoch 1 --batch-size 1 --validation-steps 1             # a smoke test
"""
import argparse
import time
from pathlib import Path

import numpy as np
import training_cli

from course_utils import autoencoder, datasets, runtime, training

CHUNK_SECONDS = 4.0  # streamed: audio read at a time; its blocks are shuffled with those of other chunks
SHUFFLE_BUFFER = 512  # streamed: blocks (0.3 MB each) in the shuffle buffer


def parse_args(argv=None):
    parser = training_cli.parser(__doc__, "MUSDB18 at 44.1 kHz (needs a GPU and much memory)")
    parser.add_argument("--normalisations", default=",".join(autoencoder.NORMALISATIONS),
                        help="comma-separated: minmax, cmvn")
    parser.add_argument("--epochs", type=int, default=60, help="at most this many epochs")
    parser.add_argument("--patience", type=int, default=10, help="stop after this many epochs without improvement")
    parser.add_argument("--remixes-per-epoch", type=int, help="bundled songs: fresh remixes per epoch (default 16)")
    parser.add_argument("--remix", action=argparse.BooleanOptionalAction, default=None,
                        help="streamed: remix every chunk (stems from different songs and offsets, random gains, "
                             "channel swaps; default: on with --train-root, off with --full)")
    parser.add_argument("--steps-per-epoch", type=int,
                        help="streamed: batches per epoch (default: one pass over the training audio)")
    parser.add_argument("--stats-blocks", type=int, default=256,
                        help="streamed: blocks of random chunks the normalisation statistics come from")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--lr-drop-epoch", type=int,
                        help="streamed: from this epoch on (1-based) the learning rate is --lr / 10 (default: never)")
    parser.add_argument("--export-best", action="store_true",
                        help="streamed: write each weights file from the best epoch of its checkpoint so far, and stop "
                             "(the run may go on in another process)")
    args = parser.parse_args(argv)
    args.normalisation_list = [n.strip() for n in args.normalisations.split(",") if n.strip()]
    unknown = sorted(set(args.normalisation_list) - set(autoencoder.NORMALISATIONS))
    if unknown or not args.normalisation_list:
        parser.error(f"--normalisations: {unknown or 'none given'}; choose from {', '.join(autoencoder.NORMALISATIONS)}")
    training_cli.check_positive(parser, args, "epochs", "patience", "batch_size", "steps_per_epoch", "stats_blocks",
                                "lr_drop_epoch")
    streaming = bool(args.full or args.train_root)
    if streaming and args.remixes_per_epoch is not None:
        parser.error("--remixes-per-epoch is for the bundled songs; streamed training remixes every chunk (--remix)")
    if not streaming and (args.remix is not None or args.steps_per_epoch or args.lr_drop_epoch or args.export_best):
        parser.error("--remix, --steps-per-epoch, --lr-drop-epoch and --export-best are for streamed training "
                     "(--train-root or --full)")
    args.remixes_per_epoch = 16 if args.remixes_per_epoch is None else args.remixes_per_epoch
    args.remix = (not args.full) if args.remix is None else args.remix
    if args.remixes_per_epoch < 0 or (args.songs is not None and args.songs < (1 if streaming else 2)):
        parser.error("--remixes-per-epoch must be >= 0 and --songs >= 2 (>= 1 when streamed)")
    if not 0 < args.lr < 1:
        parser.error("--lr must be in (0, 1)")
    return training_cli.finish(parser, args, "train_autoencoder")


def load_songs(args):
    """Bundled songs: (training songs, validation songs) as `datasets.Track`s, the last song held out."""
    songs = [datasets.track_arrays(t) for t in training_cli.training_db(args).tracks[:args.songs]]
    return songs[:-1], songs[-1:]


def streamed_training(train, valid, base, args):
    """(config -> epoch -> training batches, config -> validation batches, steps, magnitude sample for statistics)."""
    length = training.chunk_length(train + valid, CHUNK_SECONDS)
    steps = args.steps_per_epoch or training.steps_per_pass(
        train, base["block_frames"] * base["hop_length"] / base["sr"], args.batch_size)

    def chunks(tracks, config, seed, batch_size=args.batch_size,
               shuffle_buffer=training_cli.shuffle_buffer(SHUFFLE_BUFFER, steps, args)):
        return training.chunk_dataset(tracks, length, lambda chunk: autoencoder.chunk_examples(chunk, config),
                                      autoencoder.example_shapes(config), batch_size, seed, shuffle_buffer,
                                      args.workers, remix=args.remix)

    # statistics from blocks of random chunks (the same for both normalisations), never from every song at once
    sample = next(iter(chunks(train, base, training.epoch_seed(args.seed, -1), args.stats_blocks, 1)))[0]
    return (lambda config: lambda epoch: chunks(train, config, training.epoch_seed(args.seed, epoch)),
            lambda config: lambda: chunks(valid, config, None), steps, np.asarray(sample)[..., 0])


def main(argv=None):
    args = parse_args(argv)
    runtime.seed_everything(args.seed, tensorflow=True, threads=args.threads)
    base = {**(autoencoder.FULL_CONFIG if args.full else autoencoder.SAMPLE_CONFIG), "learning_rate": args.lr}
    mode = "full" if args.full else "rendered" if args.train_root else "sample"
    if args.streaming:
        if args.full:
            print(f"precision: {training.use_mixed_precision()}", flush=True)
        train_songs, val_songs = training_cli.streamed_tracks(args)
        batches, validation, steps, magnitudes = streamed_training(train_songs, val_songs, base, args)
        augmentation = f"remix {args.remix}"
    else:
        train_songs, val_songs = load_songs(args)
        augmentation = f"{args.remixes_per_epoch} remixes per epoch"
    print(f"{len(train_songs)} training songs, {len(val_songs)} validation songs; {augmentation}", flush=True)
    results = {}
    for normalisation in args.normalisation_list:
        runtime.seed_everything(args.seed, tensorflow=True)
        config = {**base, "normalisation": normalisation}
        if not args.streaming:
            magnitudes = autoencoder.training_blocks(train_songs, config)[0][..., 0]
        model = autoencoder.build_from_config(config, autoencoder.normalisation_stats(magnitudes, normalisation))
        start = time.time()
        if args.export_best:  # resume the checkpoint with no epoch left to run: the model gets its best epoch
            state, _ = training_cli.best_checkpoint(Path(args.checkpoint_dir) / normalisation)
            args.epochs, args.resume = state["epoch"], True
        if args.streaming:
            print(f"{normalisation}: at most {args.epochs} epochs x {steps} steps of batch {args.batch_size}",
                  flush=True)
            # --epochs and --lr-drop-epoch are left out of the settings a resumed run must share, so a finished
            # run can be resumed with more epochs (or a later learning-rate drop)
            history = training_cli.fit(model, args, normalisation, batches(config), validation(config), steps,
                                       {"config": config, "batch_size": args.batch_size,
                                        "stats_blocks": args.stats_blocks, "remix": args.remix},
                                       learning_rate=lambda epoch: args.lr / 10 if args.lr_drop_epoch and
                                       epoch + 1 >= args.lr_drop_epoch else args.lr, patience=args.patience)
            if not history["finished"]:
                print(f"{normalisation}: stopped after {args.stop_after_steps} steps, {history['epochs_run']} epochs "
                      f"complete; continue with --resume", flush=True)
                continue
            history = {key: history[key] for key in ("loss", "val_loss", "best_epoch")}
        else:
            history = autoencoder.train_on_remixes(
                model, train_songs, config, val_songs, epochs=args.epochs, remixes_per_epoch=args.remixes_per_epoch,
                batch_size=args.batch_size, patience=args.patience, seed=args.seed,
                log=lambda line: print(f"{normalisation} {line}", flush=True))
        seconds = None if args.export_best else time.time() - start  # an export's training time is in the run's log
        history["training"] = {"epochs_run": len(history["loss"]), "max_epochs": args.epochs, "patience": args.patience,
                               "batch_size": args.batch_size, "lr": args.lr, "seed": args.seed,
                               "train_songs": len(train_songs), "val_songs": len(val_songs),
                               "seconds": seconds and round(seconds),
                               **({"steps_per_epoch": steps, "remix": args.remix, "lr_drop_epoch": args.lr_drop_epoch}
                                  if args.streaming else
                                  {"remixes_per_epoch": args.remixes_per_epoch})}
        out = Path(args.out) / autoencoder.weights_name(normalisation, mode)
        autoencoder.save_weights(model, out, config, history)
        results[normalisation] = min(history["val_loss"])
        print(f"{normalisation}: {seconds or 0:.0f} s, best epoch {history['best_epoch']} of {len(history['loss'])} "
              f"(validation loss {results[normalisation]:.4f}) -> {out} ({out.stat().st_size / 1e6:.2f} MB)",
              flush=True)
    if len(results) > 1:
        best = min(results, key=results.get)
        print(f"lower validation loss: {best} ({autoencoder.weights_name(best, mode)})", flush=True)


if __name__ == "__main__":
    main()
