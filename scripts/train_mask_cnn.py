"""Train the mask CNN: the fully convolutional separator (default), or S3's per-frame models, one per source.

The separator (`--models fcn`, mask_cnn.FCN_SAMPLE_CONFIG / FCN_FULL_CONFIG): S3's convolutions slid over the
whole spectrogram, a 25-frame receptive field, softmax masks for vocals, drums, bass and other that add up to
one; trained on the masked mixture against the sources' magnitudes (`mask_cnn.magnitude_loss`, --loss mse or
l1). It is always trained on songs read from disk in chunks of --chunk-seconds (`training.chunk_dataset`), each
stem of a chunk from its own song and offset with a random gain and channel swap (--remix, on by default), and
the checkpoint is chosen on the validation songs (early stopping, the best epoch kept):

    python scripts/train_mask_cnn.py --train-root .cache/rendered_music          # the rendered music, sample config
    python scripts/train_mask_cnn.py --train-root .cache/rendered_music --resume # after an interruption
    python scripts/train_mask_cnn.py --full --musdb-root /data/MUSDB18            # MUSDB18 at 44.1 kHz (GPU)

--train-root DIR trains on DIR/train and validates on DIR/valid (`python data/build/render_training_set.py`)
and writes weights/mask_cnn_rendered_fcn.npz (mask_cnn.DEFAULT_WEIGHTS); --full reads musdb's 'train' and 'valid'
splits and writes .cache/weights_full/mask_cnn_full_fcn.npz. A checkpoint after every epoch in
--checkpoint-dir (default .cache/checkpoints/train_mask_cnn/<sample|full>); --resume continues.

S3's per-frame models (`--models frame`, mask_cnn.SAMPLE_CONFIG: 25-frame windows -> the centre frame's
binary mask B = (|S| > 0.5 |M|), one model per --sources): without --train-root/--full on the 8 bundled training
songs plus --remixes new mixtures of their stems, every --frame-step-th centre frame, binary cross-entropy with
the 1-bins weighted by --positive-weight; streamed like the separator with --train-root or --full. Writes
mask_cnn_<sample|full>_<source>.npz:

    python scripts/train_mask_cnn.py --models frame --sources vocals,drums --epochs 10 --frame-step 8
    python scripts/train_mask_cnn.py --full --musdb-root .cache/fixtures/musdb18 --models fcn,frame --epochs 1 \
        --steps-per-epoch 1 --batch-size 1 --validation-steps 1                        # a smoke test
"""
import argparse
import time
from pathlib import Path

import training_cli

from course_utils import datasets, mask_cnn, runtime, training

CHUNK_SECONDS = 4.0  # per-frame models, streamed: audio read at a time; its windows are shuffled with others'
SHUFFLE_BUFFER = 2048  # per-frame models, streamed: windows (53 kB each) in the shuffle buffer
FCN_SHUFFLE_BUFFER = 64  # the separator: chunk channels in the shuffle buffer


def parse_args(argv=None):
    parser = training_cli.parser(__doc__, "MUSDB18 at 44.1 kHz (needs a GPU and much memory)")
    parser.add_argument("--models", default="fcn", help="comma-separated: fcn (the separator), frame (S3's models)")
    parser.add_argument("--sources", default=",".join(mask_cnn.SOURCES), help="frame models: comma-separated sources")
    parser.add_argument("--epochs", type=int, help="at most this many epochs (default: 40 fcn, 12 frame)")
    parser.add_argument("--steps-per-epoch", type=int,
                        help="streamed: batches per epoch (default: fcn 150; frame: one pass over the training audio)")
    parser.add_argument("--patience", type=int, default=5,
                        help="streamed: stop after this many epochs without a better validation loss")
    parser.add_argument("--batch-size", type=int, help="default: 8 chunk channels (fcn), 64 windows (frame)")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--loss", choices=("mse", "l1"), default="mse", help="fcn: the magnitude loss")
    parser.add_argument("--chunk-seconds", type=float, default=2.0, help="fcn: seconds of audio per example")
    training_cli.add_streaming_options(
        parser, "fcn: every stem of a chunk from its own song and offset, random gains and channel swaps",
        "fcn: only write the weights file from the best epoch of the checkpoint so far (e.g. while a training run "
        "goes on in the background)")
    parser.add_argument("--remixes", type=int,
                        help="frame, bundled songs: extra training mixtures made from their stems (default: 40)")
    parser.add_argument("--frame-step", type=int, default=6, help="frame: keep every n-th centre frame (S3: 1)")
    parser.add_argument("--positive-weight", type=float, default=2.0,
                        help="frame: weight of the 1-bins in the cross-entropy (1: S3's plain loss)")
    args = parser.parse_args(argv)
    args.model_list = [m.strip() for m in args.models.split(",") if m.strip()]
    if not args.model_list or set(args.model_list) - set(mask_cnn.MODELS):
        parser.error(f"--models: choose from {', '.join(mask_cnn.MODELS)}; got {args.models!r}")
    args.source_list = [s.strip() for s in args.sources.split(",") if s.strip()]
    unknown = sorted(set(args.source_list) - set(mask_cnn.SOURCES))
    if unknown or not args.source_list:
        parser.error(f"--sources: {unknown or 'none given'}; choose from {', '.join(mask_cnn.SOURCES)}")
    training_cli.check_positive(parser, args, "epochs", "frame_step", "batch_size", "songs", "steps_per_epoch",
                                "patience")
    args = training_cli.finish(parser, args, "train_mask_cnn")
    if "fcn" in args.model_list and not args.streaming:
        parser.error("--models fcn trains on songs read from disk: give --train-root DIR (e.g. .cache/rendered_music, "
                     "from data/build/render_training_set.py) or --full")
    args.remixes = (0 if args.streaming else 40) if args.remixes is None else args.remixes
    if args.remixes < 0:
        parser.error("--remixes must be 0 or more")
    if args.streaming and args.remixes:
        parser.error("--remixes is for the bundled songs; streamed training remixes chunks (--remix)")
    if args.steps_per_epoch and not args.streaming:
        parser.error("--steps-per-epoch is for --full or --train-root training")
    if not 0 < args.lr < 1 or args.positive_weight <= 0 or args.chunk_seconds <= 0:
        parser.error("--lr must be in (0, 1), --positive-weight and --chunk-seconds > 0")
    return args


def train_fcn(config, train, valid, args):
    """The separator on the training songs, read from disk; the best epoch on the validation songs. Returns
    (model, history, settings), or None when --stop-after-steps interrupted it."""
    length = training.chunk_length(train + valid, args.chunk_seconds)
    steps, batch = args.steps_per_epoch or 150, args.batch_size or 8
    epochs = args.epochs or 40

    def chunks(tracks, seed):
        return training.chunk_dataset(tracks, length, lambda chunk: mask_cnn.fcn_examples(chunk, config),
                                      mask_cnn.fcn_example_shapes(config, length), batch, seed,
                                      min(FCN_SHUFFLE_BUFFER, steps * batch), args.workers, remix=args.remix)

    runtime.seed_everything(args.seed, tensorflow=True)
    model = mask_cnn.compile_fcn(mask_cnn.build_fcn(config), args.lr, args.loss)
    settings = {"config": config, "batch_size": batch, "lr": args.lr, "loss": args.loss, "epochs": epochs,
                "chunk_seconds": args.chunk_seconds, "remix": args.remix}
    print(f"fcn: {model.count_params():,} parameters; {epochs} epochs x {steps} steps of {batch} chunk channels "
          f"({args.chunk_seconds:g} s), loss {args.loss}, remix {args.remix}", flush=True)
    run_args = argparse.Namespace(**{**vars(args), "epochs": epochs})
    history = training_cli.fit(model, run_args, "fcn", lambda epoch: chunks(train, training.epoch_seed(args.seed, epoch)),
                               lambda: chunks(valid, None), steps, settings, patience=args.patience)
    if not history["finished"]:
        print(f"fcn: stopped after {args.stop_after_steps} steps, {history['epochs_run']} epochs complete; continue "
              f"with --resume", flush=True)
        return None
    return model, history, {**settings, "steps_per_epoch": steps, "songs": len(train), "validation_songs": len(valid),
                            "best_epoch": history["best_epoch"], "epochs_run": history["epochs_run"]}


def export_best(config, train, valid, args):
    """(model, history, record) of the best epoch in the separator's checkpoint, as `train_fcn` returns them."""
    folder = Path(args.checkpoint_dir) / "fcn"
    state, arrays = training_cli.best_checkpoint(folder, "train first (without --export-best)")
    model = mask_cnn.build_fcn(config)
    if [tuple(v.shape) for v in model.variables] != [a.shape for a in arrays]:
        raise SystemExit(f"The checkpoint in {folder} is of another configuration than {config}.")
    for variable, array in zip(model.variables, arrays):
        variable.assign(array)
    settings = {k: v for k, v in state["settings"].items() if k != "config"}
    history = {k: v for k, v in state["history"].items() if isinstance(v, list)}
    print(f"fcn: exporting epoch {state['best_epoch']} of the {state['epoch']} complete (validation loss "
          f"{state['best_loss']:.5f})", flush=True)
    return model, history, {**settings, "songs": len(train), "validation_songs": len(valid),
                            "best_epoch": state["best_epoch"], "epochs_run": state["epoch"]}


def train_frame_streamed(source, config, train, valid, args):
    """One source's per-frame model on songs read from disk; the best epoch on the validation songs. Returns
    (model, history, steps per epoch), or None when --stop-after-steps interrupted it."""
    length = training.chunk_length(train + valid, CHUNK_SECONDS)
    batch = args.batch_size or 64
    steps = args.steps_per_epoch or training.steps_per_pass(
        train, config["hop_length"] * args.frame_step / config["sr"], batch)

    def chunks(tracks, seed):
        return training.chunk_dataset(tracks, length,
                                      lambda chunk: mask_cnn.chunk_examples(chunk, source, config, args.frame_step),
                                      mask_cnn.example_shapes(config), batch, seed,
                                      min(SHUFFLE_BUFFER, steps * batch), args.workers, remix=args.remix)

    runtime.seed_everything(args.seed, tensorflow=True)
    model = mask_cnn.compile_mask_cnn(mask_cnn.build_mask_cnn(config, name=f"mask_cnn_{source}"), args.lr,
                                      args.positive_weight)
    epochs = args.epochs or 12
    print(f"{source}: {epochs} epochs x {steps} steps of batch {batch}", flush=True)
    run_args = argparse.Namespace(**{**vars(args), "epochs": epochs})
    history = training_cli.fit(model, run_args, source,
                               lambda epoch: chunks(train, training.epoch_seed(args.seed, epoch)),
                               lambda: chunks(valid, None), steps,
                               {"config": config, "frame_step": args.frame_step, "batch_size": batch,
                                "lr": args.lr, "positive_weight": args.positive_weight, "epochs": epochs},
                               patience=args.patience)
    if not history["finished"]:
        print(f"{source}: stopped after {args.stop_after_steps} steps, {history['epochs_run']} epochs complete; "
              f"continue with --resume", flush=True)
        return None
    return model, history, steps


def train_frame_models(args, mode, train, valid):
    """S3's per-frame models, one per --sources, each saved to mask_cnn_<mode>_<source>.npz."""
    config = mask_cnn.FULL_CONFIG if args.full else mask_cnn.SAMPLE_CONFIG
    batch = args.batch_size or 64
    if not args.streaming:
        songs = [datasets.track_arrays(track) for track in training_cli.training_db(args).tracks[:args.songs]]
        tracks = songs + (datasets.remix_tracks(songs, args.remixes, seed=args.seed) if args.remixes else [])
        audio_seconds = sum(len(mix) for mix, _, _ in tracks) / config["sr"]
        print(f"{len(songs)} training songs + {args.remixes} remixes, {audio_seconds:.0f} s of audio; every "
              f"{args.frame_step}. frame, positive weight {args.positive_weight:g}", flush=True)
    for source in args.source_list:
        start = time.time()
        record = {"epochs": args.epochs or 12, "frame_step": args.frame_step, "batch_size": batch, "lr": args.lr,
                  "positive_weight": args.positive_weight, "seed": args.seed}
        if args.streaming:
            result = train_frame_streamed(source, config, train, valid, args)
            if result is None:
                continue
            model, history, steps = result
            record.update(steps_per_epoch=steps, songs=len(train), validation_songs=len(valid),
                          best_epoch=history["best_epoch"], epochs_run=history["epochs_run"])
        else:
            models, histories = mask_cnn.train_models(tracks, config, source, epochs=record["epochs"], batch_size=batch,
                                                      frame_step=args.frame_step, seed=args.seed,
                                                      positive_weight=args.positive_weight, learning_rate=args.lr,
                                                      verbose=2)
            model, history = models[source], histories[source]
            record.update(songs=len(songs), remixes=args.remixes)
        seconds = time.time() - start
        out = Path(args.out) / f"mask_cnn_{mode}_{source}.npz"
        mask_cnn.save_weights(model, out, source, history, {**record, "seconds": round(seconds)})
        summary = (f"best epoch {record['best_epoch']}, validation loss {min(history['val_loss']):.4f}"
                   if args.streaming else f"bin accuracy {history['bin_accuracy'][-1]:.3f}")
        print(f"{source}: {seconds:.0f} s, final loss {history['loss'][-1]:.4f}, {summary} -> {out} "
              f"({out.stat().st_size / 1e6:.2f} MB)", flush=True)


def main(argv=None):
    args = parse_args(argv)
    runtime.seed_everything(args.seed, tensorflow=True, threads=args.threads)
    mode = "full" if args.full else "rendered" if args.train_root else "sample"
    train = valid = None
    if args.streaming:
        if args.full:
            print(f"precision: {training.use_mixed_precision()}", flush=True)
        train, valid = training_cli.streamed_tracks(args)
        print(f"{len(train)} training songs, {len(valid)} validation songs ({args.train_root or 'MUSDB18'})",
              flush=True)
    if "fcn" in args.model_list:
        start = time.time()
        config = mask_cnn.FCN_FULL_CONFIG if args.full else mask_cnn.FCN_SAMPLE_CONFIG
        result = (export_best if args.export_best else train_fcn)(config, train, valid, args)
        if result is not None:
            model, history, record = result
            seconds = time.time() - start
            out = Path(args.out) / f"mask_cnn_{mode}_fcn.npz"
            record.pop("config", None)
            if args.export_best:
                seconds = None  # the training time is in the log of the run that wrote the checkpoint
            mask_cnn.save_weights(model, out, history=history, training={**record, "seed": args.seed,
                                                                          "seconds": seconds and round(seconds)})
            print(f"fcn: {seconds or 0:.0f} s, best epoch {record['best_epoch']} of {record['epochs_run']}, validation loss "
                  f"{min(history['val_loss']):.5f} -> {out} ({out.stat().st_size / 1e6:.2f} MB)", flush=True)
    if "frame" in args.model_list:
        train_frame_models(args, mode, train, valid)


if __name__ == "__main__":
    main()
