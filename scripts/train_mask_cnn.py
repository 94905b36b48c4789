"""Train S3's binary-mask CNN, one model per source (vocals, drums, bass, other).

Sample mode (default): the 8 bundled training songs (7 s each, 22.05 kHz), mask_cnn.SAMPLE_CONFIG
(n_fft 1024 / hop 256 -> 513 bins, 25-frame context windows, T = 0.5), the songs plus --remixes new
mixtures of their stems (datasets.remix_tracks), every --frame-step-th centre frame of every channel,
Adam 1e-3, batch 64, the 1-bins weighted by --positive-weight, one CPU thread,
deterministic; writes weights/mask_cnn_sample_<source>.npz. Two processes can train two sources side by side:

    python scripts/train_mask_cnn.py --sources vocals,drums & python scripts/train_mask_cnn.py --sources bass,other

Full mode (`--full`): musdb's 'train' split at 44.1 kHz (mask_cnn.FULL_CONFIG), read from disk in chunks of
CHUNK_SECONDS (training.chunk_dataset: parallel decoding, bounded memory; every --frame-step-th window of each
chunk), mixed precision on a GPU; the checkpoint is chosen on musdb's 'valid' split (early stopping, best epoch
kept). A checkpoint after every epoch in --checkpoint-dir (default .cache/checkpoints/train_mask_cnn); --resume
continues an interrupted run exactly; writes .cache/weights_full/mask_cnn_full_<source>.npz.

    python scripts/train_mask_cnn.py --full --musdb-root /data/MUSDB18 --frame-step 4
    python scripts/train_mask_cnn.py --full --musdb-root .cache/fixtures/musdb18 --sources vocals --epochs 1 \
        --steps-per-epoch 1 --batch-size 1 --validation-steps 1                        # a smoke test
"""
import time
from pathlib import Path

import training_cli

from course_utils import datasets, mask_cnn, runtime, training

CHUNK_SECONDS = 4.0  # full mode: audio read at a time; its windows are shuffled with those of other chunks
SHUFFLE_BUFFER = 2048  # full mode: windows (53 kB each) in the shuffle buffer


def parse_args(argv=None):
    parser = training_cli.parser(__doc__, "MUSDB18 at 44.1 kHz (needs a GPU and much memory)")
    parser.add_argument("--sources", default=",".join(mask_cnn.SOURCES), help="comma-separated sources")
    parser.add_argument("--epochs", type=int, default=12, help="at most this many epochs")
    parser.add_argument("--steps-per-epoch", type=int,
                        help="full mode: batches per epoch (default: one pass over the training audio)")
    parser.add_argument("--patience", type=int, default=3,
                        help="full mode: stop after this many epochs without a better validation loss")
    parser.add_argument("--remixes", type=int,
                        help="extra training mixtures made from the songs' stems (default: 40 sample, 0 full)")
    parser.add_argument("--frame-step", type=int, default=6, help="keep every n-th centre frame (S3: 1)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--positive-weight", type=float, default=2.0,
                        help="weight of the 1-bins in the cross-entropy (1: S3's plain loss)")
    args = parser.parse_args(argv)
    args.source_list = [s.strip() for s in args.sources.split(",") if s.strip()]
    unknown = sorted(set(args.source_list) - set(mask_cnn.SOURCES))
    if unknown or not args.source_list:
        parser.error(f"--sources: {unknown or 'none given'}; choose from {', '.join(mask_cnn.SOURCES)}")
    training_cli.check_positive(parser, args, "epochs", "frame_step", "batch_size", "songs", "steps_per_epoch",
                                "patience")
    args.remixes = (0 if args.full else 40) if args.remixes is None else args.remixes
    if args.remixes < 0:
        parser.error("--remixes must be 0 or more")
    if args.full and args.remixes:
        parser.error("--remixes is for the sample's few songs; full mode reads MUSDB18's songs as they are")
    if args.steps_per_epoch and not args.full:
        parser.error("--steps-per-epoch is for --full training (sample mode goes through every window once)")
    if not 0 < args.lr < 1 or args.positive_weight <= 0:
        parser.error("--lr must be in (0, 1) and --positive-weight > 0")
    return training_cli.finish(parser, args, "train_mask_cnn")


def train_full(source, config, train, valid, args):
    """One source's model on musdb's train split, read from disk; the best epoch on its valid split. Returns
    (model, history, steps per epoch), or None when --stop-after-steps interrupted it."""
    length = training.chunk_length(train + valid, CHUNK_SECONDS)
    steps = args.steps_per_epoch or training.steps_per_pass(
        train, config["hop_length"] * args.frame_step / config["sr"], args.batch_size)

    def chunks(tracks, seed):
        return training.chunk_dataset(tracks, length,
                                      lambda chunk: mask_cnn.chunk_examples(chunk, source, config, args.frame_step),
                                      mask_cnn.example_shapes(config), args.batch_size, seed,
                                      training_cli.shuffle_buffer(SHUFFLE_BUFFER, steps, args), args.workers)

    runtime.seed_everything(args.seed, tensorflow=True)
    model = mask_cnn.compile_mask_cnn(mask_cnn.build_mask_cnn(config, name=f"mask_cnn_{source}"), args.lr,
                                      args.positive_weight)
    print(f"{source}: {args.epochs} epochs x {steps} steps of batch {args.batch_size}", flush=True)
    history = training_cli.fit(model, args, source, lambda epoch: chunks(train, training.epoch_seed(args.seed, epoch)),
                               lambda: chunks(valid, None), steps,
                               {"config": config, "frame_step": args.frame_step, "batch_size": args.batch_size,
                                "lr": args.lr, "positive_weight": args.positive_weight, "epochs": args.epochs},
                               patience=args.patience)
    if not history["finished"]:
        print(f"{source}: stopped after {args.stop_after_steps} steps, {history['epochs_run']} epochs complete; "
              f"continue with --resume", flush=True)
        return None
    return model, history, steps


def main(argv=None):
    args = parse_args(argv)
    runtime.seed_everything(args.seed, tensorflow=True, threads=args.threads)
    if args.full:
        print(f"precision: {training.use_mixed_precision()}", flush=True)
        config = mask_cnn.FULL_CONFIG
        train, valid = training_cli.streamed_tracks(args)
        print(f"{len(train)} training songs, {len(valid)} validation songs; every {args.frame_step}. frame, "
              f"positive weight {args.positive_weight:g}", flush=True)
    else:
        config = mask_cnn.SAMPLE_CONFIG
        songs = [datasets.track_arrays(track) for track in training_cli.training_db(args).tracks[:args.songs]]
        tracks = songs + (datasets.remix_tracks(songs, args.remixes, seed=args.seed) if args.remixes else [])
        audio_seconds = sum(len(mix) for mix, _, _ in tracks) / config["sr"]
        print(f"{len(songs)} training songs + {args.remixes} remixes, {audio_seconds:.0f} s of audio; every "
              f"{args.frame_step}. frame, positive weight {args.positive_weight:g}", flush=True)
    for source in args.source_list:
        start = time.time()
        record = {"epochs": args.epochs, "frame_step": args.frame_step, "batch_size": args.batch_size, "lr": args.lr,
                  "positive_weight": args.positive_weight, "seed": args.seed}
        if args.full:
            result = train_full(source, config, train, valid, args)
            if result is None:
                continue
            model, history, steps = result
            record.update(steps_per_epoch=steps, songs=len(train), validation_songs=len(valid),
                          best_epoch=history["best_epoch"], epochs_run=history["epochs_run"])
            history = {key: values for key, values in history.items() if isinstance(values, list)}
        else:
            models, histories = mask_cnn.train_models(tracks, config, source, epochs=args.epochs,
                                                      batch_size=args.batch_size, frame_step=args.frame_step,
                                                      seed=args.seed, positive_weight=args.positive_weight,
                                                      learning_rate=args.lr, verbose=2)
            model, history = models[source], histories[source]
            record.update(songs=len(songs), remixes=args.remixes)
        seconds = time.time() - start
        out = Path(args.out) / f"mask_cnn_{'full' if args.full else 'sample'}_{source}.npz"
        mask_cnn.save_weights(model, out, source, history, {**record, "seconds": round(seconds)})
        summary = (f"best epoch {record['best_epoch']}, validation loss {min(history['val_loss']):.4f}" if args.full
                   else f"bin accuracy {history['bin_accuracy'][-1]:.3f}")
        print(f"{source}: {seconds:.0f} s, final loss {history['loss'][-1]:.4f}, {summary} -> {out} "
              f"({out.stat().st_size / 1e6:.2f} MB)", flush=True)


if __name__ == "__main__":
    main()
