"""Train S2's U-Net vocal separator, one model per loss weight alpha.

Sample mode (default): the 8 bundled training songs (7 s each, 22.05 kHz), the small configuration
unet.SAMPLE_CONFIG (513 x 128 bins padded to 528 x 128, base 8 channels), remixed segments (vocals and
accompaniment from different songs, random gains), 50 epochs x 20 steps of batch 8, one CPU thread,
deterministic; writes weights/unet_sample_alpha_<label>.npz for alpha in {1, 0, 0.5, from norms}.
About 23 minutes per model on one core; two processes can train two alphas side by side:

    python scripts/train_unet.py --alphas norms,0.5 & python scripts/train_unet.py --alphas 1,0

Full mode (`--full`): S2's configuration on MUSDB18 (44.1 kHz, 1025 x 173 padded to 1040 x 176,
base 32, 40 epochs, Adam 1e-3 then 1e-4 halfway, weight decay 1e-6, batch 8), with a checkpoint
after every epoch, `--resume`, and optionally `--strategy mirrored` (tf.distribute, several GPUs).

    python scripts/train_unet.py --full --musdb-root /data/MUSDB18 --out weights/full --checkpoint-dir ckpt
"""
import argparse
import sys
import time
from pathlib import Path

import training_cli

sys.path.insert(0, str(training_cli.ROOT))

from course_utils import datasets, runtime, unet  # noqa: E402


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
    parser.add_argument("--checkpoint-dir", help="save a checkpoint (weights + optimizer) after every epoch here")
    parser.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --checkpoint-dir")
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
    training_cli.check_positive(parser, args, "epochs", "batch_size", "threads", "steps_per_epoch", "base_filters")
    if not 0 < args.lr < 1 or args.weight_decay < 0:
        parser.error("--lr must be in (0, 1) and --weight-decay >= 0")
    if args.resume and not args.checkpoint_dir:
        parser.error("--resume needs --checkpoint-dir")
    if args.strategy == "mirrored" and not args.full:
        parser.error("--strategy mirrored is for --full training on GPUs")
    return args


def load_songs(args, config):
    """Sample configuration: the training songs as arrays. Full: musdb tracks, read chunk by chunk."""
    db = training_cli.training_db(args, split="train")
    if args.full:
        return db.tracks
    songs = []
    for track in db.tracks:
        mixture, stems, sr = datasets.track_arrays(track, targets=unet.SOURCES)
        songs.append({"mixture": mixture, **stems, "sr": sr, "name": track.name})
    return songs


def train_one(alpha, label, songs, config, args, strategy):
    import keras
    import tensorflow as tf

    runtime.seed_everything(args.seed, tensorflow=True)
    steps = args.steps_per_epoch or (20 if not args.full else max(1, int(
        sum(t.duration for t in songs) / (unet.segment_samples(config) / config["sr"]) / args.batch_size)))
    half = args.epochs // 2
    with strategy.scope():
        model = unet.build_from_config(config)
        optimizer = keras.optimizers.Adam(args.lr, weight_decay=args.weight_decay)
        model.compile(optimizer, unet.weighted_l1_loss(alpha))
    dataset = unet.segment_dataset(songs, config, args.batch_size, seed=args.seed, remix=args.remix)
    callbacks = [keras.callbacks.LearningRateScheduler(lambda epoch: args.lr if epoch < half else args.lr / 10)]
    initial_epoch, manager = 0, None
    if args.checkpoint_dir:
        checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, epoch=tf.Variable(0))
        manager = tf.train.CheckpointManager(checkpoint, Path(args.checkpoint_dir) / f"alpha_{label}", max_to_keep=2)
        if args.resume and manager.latest_checkpoint:
            checkpoint.restore(manager.latest_checkpoint)
            initial_epoch = int(checkpoint.epoch.numpy())
            print(f"resumed alpha={label} from {manager.latest_checkpoint} at epoch {initial_epoch}")

        def save(epoch, logs):
            checkpoint.epoch.assign(epoch + 1)
            manager.save()

        callbacks.append(keras.callbacks.LambdaCallback(on_epoch_end=save))
    start = time.time()
    print(f"alpha={alpha:.4f} ({label}): {args.epochs} epochs x {steps} steps of batch {args.batch_size}, "
          f"input {model.input_shape[1:3]}, {model.count_params():,} parameters, remix {args.remix}", flush=True)
    history = model.fit(dataset, epochs=args.epochs, steps_per_epoch=steps, initial_epoch=initial_epoch,
                        callbacks=callbacks, verbose=2, shuffle=False)
    seconds = time.time() - start
    out = Path(args.out) / f"unet_{'full' if args.full else 'sample'}_alpha_{label}.npz"
    training = {"epochs": args.epochs, "steps_per_epoch": steps, "batch_size": args.batch_size, "lr": args.lr,
                "weight_decay": args.weight_decay, "remix": args.remix, "seed": args.seed, "seconds": round(seconds)}
    unet.save_weights(model, out, config, alpha, history.history["loss"], training)
    print(f"alpha={label}: {seconds:.0f} s ({seconds / max(1, (args.epochs - initial_epoch) * steps):.2f} s/step), "
          f"final loss {history.history['loss'][-1]:.4f} -> {out} ({out.stat().st_size / 1e6:.2f} MB)", flush=True)


def main(argv=None):
    args = parse_args(argv)
    runtime.seed_everything(args.seed, tensorflow=True, threads=args.threads)
    import tensorflow as tf

    strategy = tf.distribute.MirroredStrategy() if args.strategy == "mirrored" else tf.distribute.get_strategy()
    config = dict(unet.FULL_CONFIG if args.full else unet.SAMPLE_CONFIG)
    config = unet.check_config({**config, "base_filters": args.base_filters or config["base_filters"]})
    songs = load_songs(args, config)
    vocals, accompaniment = unet.track_norms(songs)
    alpha_norms = unet.alpha_from_norms(vocals, accompaniment)
    print(f"{len(songs)} training songs; mean 2-norm vocals {vocals.mean():.2f}, accompaniment "
          f"{accompaniment.mean():.2f} -> alpha from norms = {alpha_norms:.3f} (S2: 0.707 on MUSDB18)", flush=True)
    for label in args.alpha_labels:
        alpha = alpha_norms if label == "norms" else float(label)
        train_one(alpha, label, songs, config, args, strategy)


if __name__ == "__main__":
    main()
