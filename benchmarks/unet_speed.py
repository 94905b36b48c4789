"""How fast is S2's U-Net on this machine? Separation speed (x real time) and training seconds per step.

Measures the sample-mode model (unet.SAMPLE_CONFIG, the shipped weights' size) and S2's full-size model
(unet.FULL_CONFIG: 1040 x 176 input, base 32, 7.77 M parameters; random weights, which run at the same
speed as trained ones). Separation covers the whole path of `cu.separate`: STFT, overlapping blocks, network, masks, inverse STFT.

    python benchmarks/unet_speed.py [--seconds 30] [--threads 2] [--steps 3]
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from course_utils import runtime, unet  # noqa: E402
from course_utils.separator import separate  # noqa: E402


def separation_speed(config, seconds):
    """Separate `seconds` of stereo noise-like music; return (x real time, wall seconds)."""
    model = unet.as_separator(unet.build_from_config(config), config, alpha=0.5)  # overlap 0.5, as unet.load
    mixture = np.random.default_rng(0).normal(0, 0.1, (int(seconds * config["sr"]), 2))
    separate(mixture[: config["sr"]], config["sr"], model)  # warm-up (graph, librosa)
    start = time.perf_counter()
    separate(mixture, config["sr"], model)
    wall = time.perf_counter() - start
    return seconds / wall, wall


def training_step_seconds(config, steps, batch_size=8):
    """Mean seconds of one batch training step (after one warm-up step)."""
    import keras

    model = unet.build_from_config(config)
    model.compile(keras.optimizers.Adam(1e-3, weight_decay=1e-6), unet.weighted_l1_loss(0.5))
    shape = model.input_shape[1:3]
    rng = np.random.default_rng(0)
    x = rng.random((batch_size, *shape, 1), dtype=np.float32)
    y = rng.random((batch_size, *shape, 2), dtype=np.float32)
    model.train_on_batch(x, y)
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    return (time.perf_counter() - start) / steps


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the audio to separate")
    parser.add_argument("--threads", type=int, default=0, help="TensorFlow CPU threads (0: all cores)")
    parser.add_argument("--steps", type=int, default=3, help="training steps to time per model")
    args = parser.parse_args()
    if args.seconds < 1 or args.steps < 1 or args.threads < 0:
        parser.error("need --seconds >= 1, --steps >= 1 and --threads >= 0")
    runtime.seed_everything(0, tensorflow=True)
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    print(runtime.runtime_report())
    for name, config in (("sample", unet.SAMPLE_CONFIG), ("full (S2)", unet.FULL_CONFIG)):
        speed, wall = separation_speed(config, args.seconds)
        step = training_step_seconds(config, args.steps)
        freq = config["n_fft"] // 2 + 1
        print(f"{name:10s} input {unet.padded_shape(freq, config['segment_frames'])}, base {config['base_filters']}: "
              f"separates {args.seconds:.0f} s of stereo at {config['sr']} Hz in {wall:.1f} s = {speed:.1f} x real "
              f"time; training {step:.2f} s per batch-8 step", flush=True)


if __name__ == "__main__":
    main()
