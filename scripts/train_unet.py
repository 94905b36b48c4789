"""Train S2's U-Net vocal separator, one model per loss weight alpha.

Sample mode (default): the 8 bundled training songs (7 s each, 22.05 kHz), the small configuration
unet.SAMPLE_CONFIG (513 x 128 bins padded to 528 x 128, base 8 channels), remixed segments (vocals and
accompaniment from different songs, random gains), 50 epochs x 20 steps of batch 8, one CPU thread,
deterministic; writes weights/unet_sample_alpha_<label>.npz for alpha in {1, 0, 0.5, from norms}.
About 23 minutes per model on one core; two processes can train two alphas side by side:

    python scripts/train_unet.py --alphas norms,0.5 & python scripts/train_unet.py --alphas 1,0

Full mode (`--full`): S2's configuration (44.1 kHz, 1025 x 173 padded to 1040 x 176, base 32, 40 epochs,
Adam 1e-3 then 1e-4 halfway, weight decay 1e-6, batch 8) on musdb's 'train' split, read from disk segment by
segment (training.chunk_dataset: parallel decoding, bounded memory), mixed precision on a GPU; the checkpoint
is chosen on musdb's 'valid' split (early stopping, best epoch kept). A checkpoint after every epoch in
--checkpoint-dir (default .cache/checkpoints/train_unet); --resume continues an interrupted run exactly;
writes .cache/weights_full/unet_full_alpha_<label>.npz. Optionally `--strategy mirrored` (several GPUs).

    python scripts/train_unet.py --full --musdb-root /data/MUSDB18
    python scripts/train_unet.py --full --musdb-root /data/MUSDB18 --resume          # after an interruption
    python scripts/train_unet.py --full --musdb-root .cache/fixtures/musdb18 --alphas 1 --epochs 1 \
        --steps-per-epoch 1 --batch-size 1 --validation-steps 1                        # a smoke test
"""
import argparse
import time
from pathlib import Path

import training_cli

from course_utils import runtime, training, unet

SHUFFLE_BUFFER = 64  # full mode: segments (2.2 MB each) shuffled across chunks


def parse_args(argv=None):
    parser = training_cli.parser(__doc__, "S2's full configuration on MUSDB18 (needs a GPU)", songs=False)
    parser.add_argument("--alphas", default="1,0,0.5,norms",
                        help="comma-separated loss weights in [0, 1]; 'norms' = alpha from the training set's 2-norms")
    parser.add_argument("--epochs", type=int, help="default: 50 (sample), 40 (full)")
    parser.add_argument("--steps-per-epoch", type=int,
                        help="default: 20 (sample); full: one pass over the training audio in segments")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--base-filters", type=int,
                        help="channels of the first block (default: 8 sample, 32 full); the network grows with its square")
    parser.add_argument("--remix", action=argparse.BooleanOptionalAction, default=None,
                        help="remix augmentation: vocals and accompaniment from different songs/offsets with random "
                             "gains (default: on in sample mode, where 8 songs are all there is; off in full mode, as S2)")
    parser.add_argument("--lr", type=float, default=1e-3, help="learning rate, divided by 10 halfway (S2)")
    parser.add_argument("--weight-decay", type=float, default=1e-6)
    parser.add_argument("--patience", type=int, default=8,
                        help="full mode: stop after this many epochs without a better validation loss")
    parser.add_argument("--init-dir",
                        help="start each alpha's network from INIT_DIR/unet_sample_alpha_<label>.npz (e.g. weights/: the "
                             "models trained on the 8 bundled songs) instead of random weights")
    parser.add_argument("--export-best", action="store_true",
                        help="write each alpha's weights file from the best epoch so far of the run in --checkpoint-dir "
                             "(chosen on the validation songs) and exit; the run itself can go on with --resume")
    parser.add_argument("--strategy", choices=("none", "mirrored"), default="none",
                        help="tf.distribute strategy: mirrored = all visible GPUs")
    args = parser.parse_args(argv)
    args.epochs = (40 if args.full else 50) if args.epochs is None else args.epochs
    args.remix = (not args.full) if args.remix is None else args.remix
    labels = [a.strip() for a in args.alphas.split(",") if a.strip()]
    for label in labels:
        if label != "norms":
            try:
                value = float(label)
            except ValueError:
                parser.error(f"--alphas: {label!r} is neither a number nor 'norms'")
            if not 0 <= value <= 1:
                parser.error(f"--alphas: {value} is outside [0, 1]")
    args.alpha_labels = labels
    training_cli.check_positive(parser, args, "epochs", "batch_size", "steps_per_epoch", "base_filters", "patience")
    if not 0 < args.lr < 1 or args.weight_decay < 0:
        parser.error("--lr must be in (0, 1) and --weight-decay >= 0")
    if args.strategy == "mirrored" and not args.full:
        parser.error("--strategy mirrored is for --full training on GPUs")
    if args.export_best and not args.checkpoint_dir and not (args.full or args.train_root):
        parser.error("--export-best reads the checkpoints of --full or --train-root training (or --checkpoint-dir)")
    if args.full and args.remix:
        parser.error("--remix is for the sample's few songs; full mode reads MUSDB18's segments as they are")
    return training_cli.finish(parser, args, "train_unet", sample_checkpoints=True)


def load_tracks(args):
    """(training tracks, validation tracks or None): TRAIN_ROOT's train/ and valid/ (--train-root), musdb's 'train'
    and 'valid' splits (--full), or the 8 bundled training songs without validation songs."""
    if args.streaming:
        train, valid = training_cli.streamed_tracks(args)
        # a render in progress leaves NAME.partial folders that musdb lists too: only complete songs count
        return [t for t in train if not t.name.endswith(".partial")], [t for t in valid if not t.name.endswith(".partial")]
    return training_cli.training_db(args).tracks, None


def datasets_for(tracks, valid, config, args):
    """(epoch -> training batches, validation batches or None, steps per epoch): segments read from disk."""
    length = unet.segment_samples(config)
    steps = args.steps_per_epoch or (training.steps_per_pass(tracks, length / config["sr"], args.batch_size)
                                     if args.streaming else 20)
    buffer = training_cli.shuffle_buffer(SHUFFLE_BUFFER, steps, args)

    def batches(epoch):
        return unet.segment_dataset(tracks, config, args.batch_size, training.epoch_seed(args.seed, epoch), args.remix,
                                    buffer, args.workers)

    validation = None if valid is None else (
        lambda: unet.segment_dataset(valid, config, args.batch_size, None, workers=args.workers))
    return batches, validation, steps


def train_one(alpha, label, tracks, valid, config, args, strategy):
    import keras

    runtime.seed_everything(args.seed, tensorflow=True)
    batches, validation, steps = datasets_for(tracks, valid, config, args)
    half = args.epochs // 2
    with strategy.scope():
        model = unet.build_from_config(config)
        model.compile(keras.optimizers.Adam(args.lr, weight_decay=args.weight_decay), unet.weighted_l1_loss(alpha))
    init = None
    if args.init_dir:  # checked like any weights file: kind, configuration, alpha
        init = Path(args.init_dir) / unet.weights_name(label, "sample")
        start_from = unet.load(init, config)
        if abs(start_from.meta["alpha"] - alpha) > 1e-9:
            raise ValueError(f"{init} was trained with alpha {start_from.meta['alpha']:.4f}, not {alpha:.4f}.")
        model.set_weights(start_from.network.get_weights())
        print(f"starting from {init}", flush=True)
    print(f"alpha={alpha:.4f} ({label}): {args.epochs} epochs x {steps} steps of batch {args.batch_size}, "
          f"input {model.input_shape[1:3]}, {model.count_params():,} parameters, remix {args.remix}"
          f"{f', {len(valid)} validation songs' if valid else ''}", flush=True)
    if args.export_best:
        export_best(model, alpha, label, config, args)
        return
    start = time.time()
    history = training_cli.fit(model, args, f"alpha_{label}", batches, validation, steps,
                               {"alpha": alpha, "config": config, "batch_size": args.batch_size, "lr": args.lr,
                                "weight_decay": args.weight_decay, "remix": args.remix, "epochs": args.epochs,
                                "init": init and init.name},
                               learning_rate=lambda epoch: args.lr if epoch < half else args.lr / 10,
                               patience=args.patience if args.streaming else None)
    seconds = time.time() - start
    if not history["finished"]:
        print(f"alpha={label}: stopped after {args.stop_after_steps} steps, {history['epochs_run']} epochs complete; "
              f"continue with --resume", flush=True)
        return
    out = output_path(label, args)
    record = {"epochs": args.epochs, "steps_per_epoch": steps, "batch_size": args.batch_size, "lr": args.lr,
              "weight_decay": args.weight_decay, "remix": args.remix, "seed": args.seed, "seconds": round(seconds),
              "best_epoch": history["best_epoch"], "val_loss": history.get("val_loss", []),
              "init": init and init.name, "train_root": args.train_root}
    unet.save_weights(model, out, config, alpha, history["loss"], record)
    steps_run = max(1, history["epochs_run"] * steps)
    print(f"alpha={label}: {seconds:.0f} s ({seconds / steps_run:.2f} s/step), best epoch {history['best_epoch']} of "
          f"{history['epochs_run']}, final loss {history['loss'][-1]:.4f} -> {out} ({out.stat().st_size / 1e6:.2f} MB)",
          flush=True)


def output_path(label, args):
    return Path(args.out) / unet.weights_name(label, "full" if args.full else "rendered" if args.train_root else "sample")


def export_best(model, alpha, label, config, args):
    """Write the weights file of an unfinished run from its best epoch so far (the lowest validation loss)."""
    state, arrays = training_cli.best_checkpoint(Path(args.checkpoint_dir) / f"alpha_{label}")
    for variable, array in zip(model.variables, arrays, strict=True):
        variable.assign(array)
    history, settings = state["history"], state["settings"]
    record = {key: settings.get(key) for key in ("epochs", "steps_per_epoch", "batch_size", "lr", "weight_decay", "remix",
                                                   "seed", "init")}
    record.update({"best_epoch": state["best_epoch"], "epochs_run": state["epoch"], "finished": False,
                   "val_loss": history.get("val_loss", []), "train_root": args.train_root})
    out = output_path(label, args)
    unet.save_weights(model, out, config, alpha, history["loss"], record)
    print(f"alpha={label}: best epoch {state['best_epoch']} of the {state['epoch']} complete epochs (validation loss "
          f"{state['best_loss']:.4f}) -> {out} ({out.stat().st_size / 1e6:.2f} MB); training goes on with --resume",
          flush=True)


def main(argv=None):
    args = parse_args(argv)
    runtime.seed_everything(args.seed, tensorflow=True, threads=args.threads)
    import tensorflow as tf

    strategy = tf.distribute.MirroredStrategy() if args.strategy == "mirrored" else tf.distribute.get_strategy()
    if args.full:
        print(f"precision: {training.use_mixed_precision()}", flush=True)
    config = dict(unet.FULL_CONFIG if args.full else unet.SAMPLE_CONFIG)
    config = unet.check_config({**config, "base_filters": args.base_filters or config["base_filters"]})
    tracks, valid = load_tracks(args)
    print(f"{len(tracks)} training songs{f', {len(valid)} validation songs' if valid else ''}", flush=True)
    alpha_norms = None
    if "norms" in args.alpha_labels:  # reads every training song once, one at a time
        vocals, accompaniment = unet.track_norms(tracks)
        alpha_norms = unet.alpha_from_norms(vocals, accompaniment)
        print(f"mean 2-norm vocals {vocals.mean():.2f}, accompaniment {accompaniment.mean():.2f} -> alpha from norms "
              f"= {alpha_norms:.3f} (S2: 0.707 on MUSDB18)", flush=True)
    for label in args.alpha_labels:
        alpha = alpha_norms if label == "norms" else float(label)
        train_one(alpha, label, tracks, valid, config, args, strategy)


if __name__ == "__main__":
    main()
