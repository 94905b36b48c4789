"""Train Open-Unmix (Stöter et al. 2019; S4's recurrent separator): one network per target, trained side by side.

Rendered training set (`--train-root DIR`, how the shipped weights are made): open_unmix.SAMPLE_CONFIG (22.05 kHz,
n_fft 2048 / hop 512, bandwidth 8 kHz, hidden 64, 3 BLSTM layers, stereo, vocals/drums/bass/other) trained on the
songs in DIR/train, read from disk in chunks of --chunk-seconds (training.chunk_dataset), each chunk remixed as
Open-Unmix does (every stem from its own random song and offset, random gain, channels swapped half of the time);
MSE on the magnitudes (Open-Unmix's loss), Adam with weight decay 1e-5 (Open-Unmix's), the learning rate divided by
--lr-decay after --lr-patience epochs without a better validation loss; the checkpoint is chosen on the songs in
DIR/valid (early stopping, best epoch kept). The input scaling starts from the per-bin mean and standard deviation of
--stats-chunks random training chunks (channels averaged, as openunmix's train.py). A checkpoint after every epoch
(default .cache/checkpoints/train_open_unmix/sample/open_unmix); --resume continues an interrupted run (songs added
to DIR/train since are used too); writes weights/open_unmix_rendered.npz (open_unmix.DEFAULT_WEIGHTS):

    nohup nice -n 10 python scripts/train_open_unmix.py --train-root .cache/rendered_music \
        > .cache/logs/train_open_unmix.log 2>&1 &
    python scripts/train_open_unmix.py --train-root .cache/rendered_music --resume    # after an interruption

Full mode (`--full`): the published configuration (open_unmix.FULL_CONFIG: 44.1 kHz, n_fft 4096 / hop 1024,
bandwidth 16 kHz, hidden 512) on musdb's 'train' split, 6-s chunks, batch 16, streamed like --train-root (remixed
unless --no-remix), mixed precision on a GPU, musdb's 'valid' split for early stopping; writes
.cache/weights_full/open_unmix_full.npz.

    python scripts/train_open_unmix.py --full --musdb-root /data/MUSDB18
    python scripts/train_open_unmix.py --full --musdb-root .cache/fixtures/musdb18 --epochs 1 --steps-per-epoch 1 \
        --batch-size 1 --validation-steps 1                                              # a smoke test
"""
import json
import time
from pathlib import Path

import numpy as np
import training_cli

from course_utils import open_unmix, runtime, training

SHUFFLE_BUFFER = 16  # chunks are drawn at random already; a small buffer mixes the parallel reads


def parse_args(argv=None):
    parser = training_cli.parser(__doc__, "the published configuration on MUSDB18 at 44.1 kHz (needs a GPU)")
    parser.add_argument("--epochs", type=int, default=1000, help="at most this many epochs (Open-Unmix: 1000)")
    parser.add_argument("--patience", type=int, default=20,
                        help="stop after this many epochs without a better validation loss (Open-Unmix: 140)")
    parser.add_argument("--steps-per-epoch", type=int, default=None,
                        help="batches per epoch (default: 50 with --train-root, one pass over the audio with --full)")
    parser.add_argument("--chunk-seconds", type=float, help="audio per example (default: 3 s --train-root, 6 s --full)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--hidden-size", type=int, help="default: the configuration's (64 sample, 512 full)")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--lr-decay", type=float, default=3.0,
                        help="divide the learning rate by this after --lr-patience epochs without improvement")
    parser.add_argument("--lr-patience", type=int, default=8, help="(Open-Unmix: 80 epochs of 344 steps)")
    parser.add_argument("--stats-chunks", type=int, default=32, help="chunks the input statistics come from")
    training_cli.add_streaming_options(
        parser, "remix every training chunk (Open-Unmix's augmentation; default on)",
        "write the weights file from the checkpoint's best epoch so far, and stop (training may go on in another "
        "process)")
    args = parser.parse_args(argv)
    training_cli.check_positive(parser, args, "epochs", "patience", "batch_size", "steps_per_epoch", "stats_chunks",
                                "lr_patience", "hidden_size")
    if not (args.full or args.train_root):
        parser.error("Open-Unmix trains on streamed songs: give --train-root DIR (the rendered training music, "
                     "`python data/build/render_training_set.py`) or --full (MUSDB18)")
    if not 0 < args.lr < 1 or args.lr_decay < 1:
        parser.error("--lr must be in (0, 1) and --lr-decay >= 1")
    args.chunk_seconds = args.chunk_seconds or (6.0 if args.full else 3.0)
    if args.chunk_seconds <= 0:
        parser.error("--chunk-seconds must be positive")
    return training_cli.finish(parser, args, "train_open_unmix")


def learning_rate_schedule(args, folder):
    """Epoch -> learning rate: --lr divided by --lr-decay for every --lr-patience epochs since the best validation
    loss so far (Open-Unmix's ReduceLROnPlateau), read from the checkpoint's history, so a resumed run continues the
    same schedule."""
    def learning_rate(epoch):
        path = Path(folder) / "latest.npz"
        if not path.is_file():
            return args.lr
        with np.load(path) as data:
            losses = json.loads(str(data["state"]))["history"].get("val_loss", [])[:epoch]
        if not losses:
            return args.lr
        since_best = len(losses) - 1 - int(np.argmin(losses))
        return args.lr / args.lr_decay ** (since_best // args.lr_patience)

    return learning_rate


def main(argv=None):
    args = parse_args(argv)
    runtime.seed_everything(args.seed, tensorflow=True, threads=args.threads)
    base = open_unmix.FULL_CONFIG if args.full else open_unmix.SAMPLE_CONFIG
    config = {**base, "learning_rate": args.lr, **({"hidden_size": args.hidden_size} if args.hidden_size else {})}
    if args.full:
        print(f"precision: {training.use_mixed_precision()}", flush=True)
    train, valid = training_cli.streamed_tracks(args)
    length = training.chunk_length(train + valid, args.chunk_seconds)
    steps = args.steps_per_epoch or (training.steps_per_pass(train, length / config["sr"], args.batch_size, 1)
                                     if args.full else 50)
    shapes = open_unmix.example_shapes(config, length)

    def chunks(tracks, seed, batch_size=args.batch_size, remix=args.remix,
               shuffle=training_cli.shuffle_buffer(SHUFFLE_BUFFER, steps, args)):
        return training.chunk_dataset(tracks, length, lambda chunk: open_unmix.chunk_examples(chunk, config), shapes,
                                      batch_size, seed, shuffle, args.workers, remix=remix)

    print(f"{len(train)} training songs, {len(valid)} validation songs; chunks of {length / config['sr']:.1f} s "
          f"({shapes[0][0]} frames), remix {args.remix}", flush=True)
    folder = Path(args.checkpoint_dir) / "open_unmix"
    mean, std = training_statistics(args, folder, lambda: chunks(train, training.epoch_seed(args.seed, -1),
                                                                  args.stats_chunks, False, 1))
    model = open_unmix.build_separator_model(config, mean, std)
    if args.export_best:
        export(model, folder, config, args)
        return
    print(f"{len(config['sources'])} networks of {open_unmix.parameter_count(config):,} parameters; at most "
          f"{args.epochs} epochs x {steps} steps of batch {args.batch_size}", flush=True)
    start = time.time()
    history = training_cli.fit(
        model, args, "open_unmix", lambda epoch: chunks(train, training.epoch_seed(args.seed, epoch)),
        lambda: chunks(valid, None, remix=False), steps,
        {"config": config, "batch_size": args.batch_size, "epochs": args.epochs, "chunk_seconds": args.chunk_seconds,
         "stats_chunks": args.stats_chunks, "remix": args.remix, "lr_decay": args.lr_decay,
         "lr_patience": args.lr_patience},
        learning_rate=learning_rate_schedule(args, folder), patience=args.patience)
    if not history["finished"]:
        print(f"stopped after {args.stop_after_steps} steps, {history['epochs_run']} epochs complete; continue with "
              f"--resume", flush=True)
        return
    out = save(model, config, args, history, {"train_songs": len(train), "val_songs": len(valid), "steps_per_epoch": steps,
                                              "seconds_this_run": round(time.time() - start)}, mean, std)
    print(f"{time.time() - start:.0f} s, best epoch {history['best_epoch']} of {history['epochs_run']} (validation "
          f"loss {min(history['val_loss']):.4f}) -> {out} ({out.stat().st_size / 1e6:.2f} MB)", flush=True)


def training_statistics(args, folder, stats_chunks):
    """The per-bin mean and standard deviation the input scaling starts from: computed once from random training
    chunks and kept in the checkpoint folder, so a resumed run (or an export) records the same ones."""
    path = folder / "statistics.npz"
    if path.is_file():
        with np.load(path) as data:
            return data["mean"], data["std"]
    mean, std = open_unmix.magnitude_statistics(np.asarray(next(iter(stats_chunks()))[0]))
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(path, mean=mean, std=std)
    return mean, std


def save(model, config, args, history, extra, mean, std):
    """Write the weights file of the mode, with the history, the training settings and the starting statistics."""
    out = Path(args.out) / open_unmix.weights_name("full" if args.full else "rendered")
    training_settings = {"epochs_run": history["epochs_run"], "best_epoch": history["best_epoch"],
                         "max_epochs": args.epochs, "patience": args.patience, "batch_size": args.batch_size,
                         "chunk_seconds": args.chunk_seconds, "lr": args.lr, "remix": args.remix, "seed": args.seed,
                         **extra, "input_mean": [float(v) for v in mean], "input_std": [float(v) for v in std]}
    open_unmix.save_weights(model, out, config, {k: history[k] for k in ("loss", "val_loss") if k in history},
                            training_settings)
    return out


def export(model, folder, config, args):
    """--export-best: the best epoch so far (best.npz of the checkpoint folder) as the weights file, while the
    training run goes on (or after it was interrupted)."""
    best, latest = folder / "best.npz", folder / "latest.npz"
    if not best.is_file() or not latest.is_file():
        raise SystemExit(f"No checkpoint in {folder} yet: wait for the first epoch of the training run to end.")
    with np.load(latest) as data:
        state = json.loads(str(data["state"]))
    if state["settings"]["config"] != json.loads(json.dumps(config)):
        raise SystemExit(f"The checkpoint in {folder} was made with another configuration: {state['settings']['config']}.")
    with np.load(best) as data:
        arrays = [data[k] for k in sorted(data.files)]
    for variable, array in zip(model.variables, arrays):
        variable.assign(array)
    history = {**state["history"], "epochs_run": state["epoch"], "best_epoch": state["best_epoch"]}
    mean, std = training_statistics(args, folder, None)
    out = save(model, config, args, history, {"steps_per_epoch": state["settings"]["steps_per_epoch"],
                                              "exported_during_training": True}, mean, std)
    print(f"best epoch {state['best_epoch']} of {state['epoch']} (validation loss {state['best_loss']:.4f}) -> {out} "
          f"({out.stat().st_size / 1e6:.2f} MB)", flush=True)


if __name__ == "__main__":
    main()
