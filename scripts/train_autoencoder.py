"""Train S1's CNN autoencoder (after Chandna et al. 2017), one model per normalisation (MIN-MAX, CMVN).

Sample mode (default): 7 of the 8 bundled training songs train, the 8th decides when to stop
(early stopping on its loss, best epoch kept); every epoch adds --remixes-per-epoch fresh mixtures of
the training songs' stems (datasets.remix_tracks). autoencoder.SAMPLE_CONFIG (n_fft 1024 / hop 256,
30-frame blocks, 4 sources), Adam 1e-3, batch 16, one CPU thread, deterministic; writes
weights/autoencoder_sample_<normalisation>.npz. Two processes can train both side by side:

    python scripts/train_autoencoder.py --normalisations minmax & python scripts/train_autoencoder.py --normalisations cmvn

Full mode (`--full`): musdb's 'train' split at 44.1 kHz (autoencoder.FULL_CONFIG), read from
disk in chunks of CHUNK_SECONDS (training.chunk_dataset: parallel decoding, bounded memory), normalisation
statistics from --stats-blocks blocks of random chunks, mixed precision on a GPU; musdb's 'valid' split stops
(early stopping, best epoch kept). A checkpoint after every epoch in --checkpoint-dir (default
.cache/checkpoints/train_autoencoder); --resume continues an interrupted run exactly; writes
.cache/weights_full/autoencoder_full_<normalisation>.npz.

    python scripts/train_autoencoder.py --full --musdb-root /data/MUSDB18
    python scripts/train_autoencoder.py --full --musdb-root .cache/fixtures/musdb18 --normalisations cmvn \
        --epochs 1 --steps-per-epoch 1 --batch-size 1 --validation-steps 1             # a smoke test
"""
import time
from pathlib import Path

import numpy as np
import training_cli

from course_utils import autoencoder, datasets, runtime, training

CHUNK_SECONDS = 4.0  # full mode: audio read at a time; its blocks are shuffled with those of other chunks
SHUFFLE_BUFFER = 512  # full mode: blocks (0.3 MB each) in the shuffle buffer


def parse_args(argv=None):
    parser = training_cli.parser(__doc__, "MUSDB18 at 44.1 kHz (needs a GPU and much memory)")
    parser.add_argument("--normalisations", default=",".join(autoencoder.NORMALISATIONS),
                        help="comma-separated: minmax, cmvn")
    parser.add_argument("--epochs", type=int, default=60, help="at most this many epochs")
    parser.add_argument("--patience", type=int, default=10, help="stop after this many epochs without improvement")
    parser.add_argument("--remixes-per-epoch", type=int, help="fresh remixes per epoch (default: 16 sample, 0 full)")
    parser.add_argument("--steps-per-epoch", type=int,
                        help="full mode: batches per epoch (default: one pass over the training audio)")
    parser.add_argument("--stats-blocks", type=int, default=256,
                        help="full mode: blocks of random chunks the normalisation statistics come from")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-3)
    args = parser.parse_args(argv)
    args.normalisation_list = [n.strip() for n in args.normalisations.split(",") if n.strip()]
    unknown = sorted(set(args.normalisation_list) - set(autoencoder.NORMALISATIONS))
    if unknown or not args.normalisation_list:
        parser.error(f"--normalisations: {unknown or 'none given'}; choose from {', '.join(autoencoder.NORMALISATIONS)}")
    training_cli.check_positive(parser, args, "epochs", "patience", "batch_size", "steps_per_epoch", "stats_blocks")
    args.remixes_per_epoch = (0 if args.full else 16) if args.remixes_per_epoch is None else args.remixes_per_epoch
    if args.remixes_per_epoch < 0 or (args.songs is not None and args.songs < (1 if args.full else 2)):
        parser.error("--remixes-per-epoch must be >= 0 and --songs >= 2 (>= 1 with --full)")
    if args.full and args.remixes_per_epoch:
        parser.error("--remixes-per-epoch is for the sample's few songs; full mode reads MUSDB18's songs as they are")
    if args.steps_per_epoch and not args.full:
        parser.error("--steps-per-epoch is for --full training (sample mode goes through every block once)")
    if not 0 < args.lr < 1:
        parser.error("--lr must be in (0, 1)")
    return training_cli.finish(parser, args, "train_autoencoder")


def load_songs(args):
    """Sample mode: (training songs, validation songs) as (mixture, stems, sr) tuples, the last song held out."""
    songs = [datasets.track_arrays(t) for t in training_cli.training_db(args).tracks[:args.songs]]
    return songs[:-1], songs[-1:]


def full_training(train, valid, base, args):
    """Full mode: (config -> epoch -> training batches, config -> validation batches, steps, magnitude sample)."""
    length = training.chunk_length(train + valid, CHUNK_SECONDS)
    steps = args.steps_per_epoch or training.steps_per_pass(
        train, base["block_frames"] * base["hop_length"] / base["sr"], args.batch_size)

    def chunks(tracks, config, seed, batch_size=args.batch_size,
               shuffle_buffer=training_cli.shuffle_buffer(SHUFFLE_BUFFER, steps, args)):
        return training.chunk_dataset(tracks, length, lambda chunk: autoencoder.chunk_examples(chunk, config),
                                      autoencoder.example_shapes(config), batch_size, seed, shuffle_buffer,
                                      args.workers)

    # statistics from blocks of random chunks (the same for both normalisations), never from every song at once
    sample = next(iter(chunks(train, base, training.epoch_seed(args.seed, -1), args.stats_blocks, 1)))[0]
    return (lambda config: lambda epoch: chunks(train, config, training.epoch_seed(args.seed, epoch)),
            lambda config: lambda: chunks(valid, config, None), steps, np.asarray(sample)[..., 0])


def main(argv=None):
    args = parse_args(argv)
    runtime.seed_everything(args.seed, tensorflow=True, threads=args.threads)
    base = {**(autoencoder.FULL_CONFIG if args.full else autoencoder.SAMPLE_CONFIG), "learning_rate": args.lr}
    if args.full:
        print(f"precision: {training.use_mixed_precision()}", flush=True)
        train_songs, val_songs = training_cli.streamed_tracks(args)
        batches, validation, steps, magnitudes = full_training(train_songs, val_songs, base, args)
    else:
        train_songs, val_songs = load_songs(args)
    print(f"{len(train_songs)} training songs, {len(val_songs)} for early stopping; {args.remixes_per_epoch} remixes "
          f"per epoch", flush=True)
    for normalisation in args.normalisation_list:
        runtime.seed_everything(args.seed, tensorflow=True)
        config = {**base, "normalisation": normalisation}
        if not args.full:
            magnitudes = autoencoder.training_blocks(train_songs, config)[0][..., 0]
        model = autoencoder.build_from_config(config, autoencoder.normalisation_stats(magnitudes, normalisation))
        start = time.time()
        if args.full:
            print(f"{normalisation}: at most {args.epochs} epochs x {steps} steps of batch {args.batch_size}",
                  flush=True)
            history = training_cli.fit(model, args, normalisation, batches(config), validation(config), steps,
                                       {"config": config, "batch_size": args.batch_size, "epochs": args.epochs,
                                        "stats_blocks": args.stats_blocks}, patience=args.patience)
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
        seconds = time.time() - start
        history["training"] = {"epochs_run": len(history["loss"]), "max_epochs": args.epochs, "patience": args.patience,
                               "remixes_per_epoch": args.remixes_per_epoch, "batch_size": args.batch_size,
                               "lr": args.lr, "seed": args.seed, "train_songs": len(train_songs),
                               "val_songs": len(val_songs), "seconds": round(seconds),
                               **({"steps_per_epoch": steps} if args.full else {})}
        out = Path(args.out) / f"autoencoder_{'full' if args.full else 'sample'}_{normalisation}.npz"
        autoencoder.save_weights(model, out, config, history)
        print(f"{normalisation}: {seconds:.0f} s, best epoch {history['best_epoch']} of {len(history['loss'])} "
              f"(validation loss {min(history['val_loss']):.4f}) -> {out} ({out.stat().st_size / 1e6:.2f} MB)",
              flush=True)


if __name__ == "__main__":
    main()
