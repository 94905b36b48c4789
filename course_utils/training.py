"""Training at full scale: songs read from disk chunk by chunk through tf.data, checkpoints, resume, early stopping.

Used in: scripts/train_unet.py, scripts/train_mask_cnn.py, scripts/train_autoencoder.py (full mode, and the
U-Net's sample mode, `unet.segment_dataset`).

MUSDB18's training split is 100 songs (about 6.5 hours at 44.1 kHz stereo); as float32 arrays that is more
memory than a Colab runtime has. So full-mode training never holds a whole song: every example comes from one
chunk (a few seconds of every stem, all cut at the same offset) read from disk when it is needed, decoded in
parallel by tf.data, turned into the model's examples, shuffled in a bounded buffer and batched.

Epoch e's batches depend only on (seed, e), and a checkpoint after every epoch holds the model's variables
(dropout's random state included), the optimizer's, the epoch, the seed and the early-stopping state. So a run
that is interrupted and resumed ends with exactly the weights of a run that never stopped (on the CPU with one
thread; tests/test_training.py checks it).
"""
import json
import math
import os
from pathlib import Path

import numpy as np

from .datasets import MUSDB_FILES, MUSDB_TARGETS

CHECKPOINT_FORMAT = 1


# ---------------------------------------------------------------- reading songs from disk

def track_samples(track):
    """Length of a musdb track in samples (from the file's header; nothing is decoded).

    Used in: `chunk_dataset`, `steps_per_pass`.
    """
    return int(round(track.duration * track.rate))


def read_chunk(track, start, length):
    """Every stem of one chunk of a musdb track, all cut at the same sample offset, read from disk.

    Used in: `chunk_dataset`.

    Safe to call from several threads at once (the track object is not changed), so tf.data can decode
    chunks in parallel: WAV trees are read with soundfile, .stem.mp4 files with one ffmpeg call for all streams.

    Args:
        track: a track of `datasets.load_musdb(...).tracks`.
        start: first sample; length: number of samples (start + length <= the track's length).
    Returns:
        dict mixture, vocals, drums, bass, other, accompaniment -> (length, channels) float32 arrays
        (accompaniment = drums + bass + other, as musdb's target).
    """
    total = track_samples(track)
    if not (0 <= start and length >= 1 and start + length <= total):
        raise ValueError(f"Chunk [{start}, {start + length}) lies outside track {track.name} ({total} samples).")
    if track.is_wav:
        import soundfile as sf

        paths = [track.path] + [track.sources[name].path for name in MUSDB_TARGETS]
        parts = [sf.read(path, start=start, frames=length, dtype="float32", always_2d=True)[0] for path in paths]
    else:
        import stempeg

        stems, _ = stempeg.read_stems(track.path, start=start / track.rate, duration=length / track.rate,
                                      info=track.info, dtype=np.float32, ffmpeg_format="s16le", always_3d=True)
        order = [0] + [track.sources[name].stem_id for name in MUSDB_TARGETS]
        parts = [stems[i] for i in order]
    shortest = min(len(p) for p in parts)
    if shortest < length - 2 * track.rate // 100:  # AAC seeking may miss a few samples at the end, not more
        raise ValueError(f"Track {track.name} gave {shortest} samples for a chunk of {length}: the file is damaged "
                         f"or shorter than its header says; re-create it.")
    parts = [np.pad(p[:length], [(0, length - min(length, len(p))), (0, 0)]) for p in parts]
    chunk = dict(zip(MUSDB_FILES, parts))
    chunk["accompaniment"] = chunk["drums"] + chunk["bass"] + chunk["other"]
    return chunk


def chunk_length(tracks, seconds):
    """Samples per chunk: `seconds` of audio, or the shortest track's length if that is shorter.

    Used in: scripts/train_mask_cnn.py, scripts/train_autoencoder.py (full mode).

    Args:
        tracks: musdb tracks (all at one rate); seconds: the chunk length wanted.
    """
    rate = int(tracks[0].rate)
    return min(int(seconds * rate), min(track_samples(t) for t in tracks))


def chunk_starts(tracks, chunk_samples, seed=None, remix=False, gain_range=(0.25, 1.25)):
    """Where an epoch's chunks come from: random and endless, or every chunk once; optionally remixed.

    Used in: `chunk_dataset`.

    Args:
        tracks: musdb tracks, each at least `chunk_samples` long.
        chunk_samples: samples per chunk.
        seed: an integer: an endless stream of random chunks (uniform song, uniform offset), the same for the
            same seed; None: every song cut into consecutive chunks, in order (validation).
        remix: (with a seed) every stem from its own random song and offset, scaled by a random gain and with
            its channels swapped half of the time (Open-Unmix's augmentation; Uhlich et al. 2017): mixtures
            that no song contains.
        gain_range: (low, high) of the uniform gain of a remixed stem.
    Yields:
        (track indices, starts, gains, swaps): one entry per stem (vocals, drums, bass, other) when remixing;
        otherwise one entry (the whole chunk of one song, gain 1, no swap).
    """
    lengths = [track_samples(t) for t in tracks]
    if seed is None:
        for index, n in enumerate(lengths):
            for start in range(0, n - chunk_samples + 1, chunk_samples):
                yield np.array([index]), np.array([start]), np.ones(1, np.float32), np.zeros(1, bool)
        return
    rng = np.random.default_rng(seed)
    parts = len(MUSDB_TARGETS) if remix else 1
    while True:
        index = rng.integers(len(tracks), size=parts)
        start = np.array([rng.integers(lengths[i] - chunk_samples + 1) for i in index])
        gains = rng.uniform(*gain_range, size=parts).astype(np.float32) if remix else np.ones(1, np.float32)
        swaps = rng.random(parts) < 0.5 if remix else np.zeros(1, bool)
        yield index.astype(np.int64), start.astype(np.int64), gains, swaps


def read_remixed_chunk(tracks, indices, starts, gains, swaps, length):
    """A chunk whose stems come from different songs and offsets (`chunk_starts(remix=True)`), mixed anew.

    Used in: `chunk_dataset`.

    Returns:
        dict like `read_chunk`'s: mixture = the sum of the scaled stems, accompaniment = drums + bass + other.
    """
    chunk = {}
    for name, index, start, gain, swap in zip(MUSDB_TARGETS, indices, starts, gains, swaps):
        audio = read_chunk(tracks[int(index)], int(start), length)[name] * gain
        chunk[name] = audio[:, ::-1] if swap and audio.shape[1] == 2 else audio
    chunk["mixture"] = sum(chunk[name] for name in MUSDB_TARGETS)
    chunk["accompaniment"] = chunk["drums"] + chunk["bass"] + chunk["other"]
    return chunk


def chunk_dataset(tracks, chunk_samples, to_examples, example_shapes, batch_size, seed=None, shuffle_buffer=1024,
                  workers=None, remix=False):
    """Batches of training examples made from chunks read from disk in parallel: a tf.data pipeline.

    Used in: scripts/train_unet.py, scripts/train_mask_cnn.py, scripts/train_autoencoder.py (full mode).

    chunk starts (`chunk_starts`) -> parallel map: `read_chunk` + `to_examples` (order kept, so the batches are
    the same on every run) -> one example at a time -> shuffle buffer (seeded) -> batches -> prefetch.
    Only the chunks in flight and the shuffle buffer are ever in memory.

    Args:
        tracks: musdb tracks (e.g. `load_musdb("full", subsets="train", split="train").tracks`).
        chunk_samples: samples per chunk.
        to_examples: function chunk dict (`read_chunk`) -> (inputs, targets), float32 arrays with the number of
            examples first (e.g. one per channel).
        example_shapes: ((input shape), (target shape)) of one example.
        batch_size: examples per batch.
        seed: an integer: endless random chunks and a seeded shuffle (training; use steps_per_epoch); None:
            every chunk of every song once, in order (validation).
        shuffle_buffer: examples in the shuffle buffer (training only).
        workers: chunks decoded at the same time (default: tf.data.AUTOTUNE).
        remix: (training only) every stem of a chunk from its own song and offset, with random gains and
            channel swaps (see `chunk_starts`); validation chunks are never remixed.
    Returns:
        tf.data.Dataset of (inputs, targets) batches, float32.
    """
    import tensorflow as tf

    if not tracks:
        raise ValueError("No songs to read: check the MUSDB root and the split (musdb's 'train' and 'valid').")
    short = [t.name for t in tracks if track_samples(t) < chunk_samples]
    if short:
        raise ValueError(f"Songs shorter than one chunk ({chunk_samples} samples): {short}. Use shorter chunks or "
                         f"leave these songs out.")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
    remix = bool(remix and seed is not None)
    signature = (tf.TensorSpec((None,), tf.int64), tf.TensorSpec((None,), tf.int64),
                 tf.TensorSpec((None,), tf.float32), tf.TensorSpec((None,), tf.bool))
    starts = tf.data.Dataset.from_generator(lambda: chunk_starts(tracks, chunk_samples, seed, remix),
                                            output_signature=signature)

    def examples(indices, starts, gains, swaps):
        if remix:
            chunk = read_remixed_chunk(tracks, indices.numpy(), starts.numpy(), gains.numpy(), swaps.numpy(),
                                       chunk_samples)
        else:
            chunk = read_chunk(tracks[int(indices[0])], int(starts[0]), chunk_samples)
        inputs, targets = to_examples(chunk)
        return np.asarray(inputs, np.float32), np.asarray(targets, np.float32)

    def decode(indices, starts, gains, swaps):
        inputs, targets = tf.py_function(examples, [indices, starts, gains, swaps], (tf.float32, tf.float32))
        return (tf.ensure_shape(inputs, (None, *example_shapes[0])),
                tf.ensure_shape(targets, (None, *example_shapes[1])))

    dataset = starts.map(decode, num_parallel_calls=workers or tf.data.AUTOTUNE, deterministic=True).unbatch()
    if seed is not None:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=False)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def steps_per_pass(tracks, seconds_per_example, batch_size, channels=2):
    """Batches in one pass over the tracks' audio (every channel), for a default steps_per_epoch.

    Used in: scripts/train_*.py (full mode).

    Args:
        tracks: musdb tracks (only their lengths are read).
        seconds_per_example: audio one example covers (a U-Net segment, a mask-CNN frame step, an autoencoder block).
        batch_size: examples per batch; channels: examples per chunk and offset (MUSDB18 is stereo).
    """
    seconds = sum(track_samples(t) / t.rate for t in tracks)
    return max(1, math.ceil(seconds * channels / seconds_per_example / batch_size))


def epoch_seed(seed, epoch):
    """The seed of epoch `epoch`'s chunks and shuffle: the same (seed, epoch) always gives the same batches.

    Used in: scripts/train_*.py; `fit` resumes at an epoch boundary with it.

    Args:
        seed: the run's seed (any integer); epoch: 0, 1, ... (-1: data drawn before training, e.g. statistics).
    """
    return int(np.random.SeedSequence([int(seed) % 2 ** 32, int(epoch) + 1]).generate_state(1)[0])


# ---------------------------------------------------------------- precision

def use_mixed_precision(enabled=None):
    """Compute in float16 on a GPU (keras.mixed_precision), float32 elsewhere; call before building the model.

    Used in: scripts/train_*.py (full mode).

    The models' last layers are float32 in any case (`dtype="float32"`), so their outputs and losses are too;
    Keras scales the loss against float16 underflow.

    Args:
        enabled: None: only when TensorFlow sees a GPU; True/False: force it.
    Returns:
        the policy's name, "mixed_float16" or "float32".
    """
    import keras

    if enabled is None:
        from .runtime import gpu_names

        enabled = bool(gpu_names())
    policy = "mixed_float16" if enabled else "float32"
    keras.mixed_precision.set_global_policy(policy)
    return policy


# ---------------------------------------------------------------- checkpoints

def _variables(model):
    """Model and optimizer variables, in a fixed order (the optimizer is built first if it is not yet)."""
    optimizer = model.optimizer
    if not optimizer.built:
        optimizer.build(model.trainable_variables)
    return list(model.variables) + list(optimizer.variables)


def save_checkpoint(model, folder, state):
    """Write a training checkpoint: every model and optimizer variable plus a JSON state, replaced atomically.

    Used in: `fit`.

    Args:
        model: a compiled Keras model.
        folder: checkpoint folder (created if needed).
        state: JSON-serialisable dict (epoch, seed, early stopping, history, ...).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {f"v{i:04d}": np.asarray(v.numpy()) for i, v in enumerate(_variables(model))}
    temporary = folder / "latest.partial.npz"
    np.savez(temporary, state=np.array(json.dumps({"format": CHECKPOINT_FORMAT, **state})), **arrays)
    os.replace(temporary, folder / "latest.npz")


def load_checkpoint(model, folder, settings=None):
    """Restore a checkpoint written by `save_checkpoint` into `model` (and its optimizer); return its state.

    Used in: `fit` (resume).

    Args:
        model: the compiled model to restore into; folder: the checkpoint folder.
        settings: optional dict the checkpoint's state["settings"] must equal (seed, batch size, configuration, ...).
    Returns:
        the state dict, or None when the folder holds no checkpoint.
    Raises:
        ValueError: the checkpoint was made with other settings, or for another model (the variables do not fit).
    """
    path = Path(folder) / "latest.npz"
    if not path.is_file():
        return None
    with np.load(path) as data:
        state = json.loads(str(data["state"]))
        arrays = [data[k] for k in sorted(k for k in data.files if k.startswith("v"))]
    saved = state.get("settings", {})
    if settings is not None and saved != settings:
        changed = sorted(k for k in set(settings) | set(saved) if settings.get(k) != saved.get(k))
        raise ValueError(f"The checkpoint in {folder} was made with other settings ({changed}): resume with the same "
                         f"ones, or start afresh with another --checkpoint-dir.")
    variables = _variables(model)
    if [a.shape for a in arrays] != [tuple(v.shape) for v in variables]:
        raise ValueError(f"The checkpoint in {folder} was written for another model or optimizer ({len(arrays)} "
                         f"variables for {len(variables)}): resume with the settings it was made with, or start "
                         f"afresh with another --checkpoint-dir.")
    for variable, array in zip(variables, arrays):
        variable.assign(array)
    return state


# ---------------------------------------------------------------- the training loop

def fit(model, batches, epochs, steps_per_epoch, validation=None, validation_steps=None, patience=None,
        checkpoint_dir=None, resume=False, learning_rate=None, settings=None, max_steps=None, progress=True,
        log=print):
    """Train epoch by epoch with a checkpoint after each, resume, early stopping on validation data, and an ETA.

    Used in: scripts/train_unet.py, scripts/train_mask_cnn.py, scripts/train_autoencoder.py.

    Every epoch is one `model.fit` over `batches(epoch)`, then the loss on `validation()` (data never trained
    on) decides: the best epoch's weights are kept, and training stops after `patience` epochs without a
    better validation loss. After every epoch the checkpoint in `checkpoint_dir` is replaced (model and
    optimizer variables, epoch, early-stopping state, history) and the best weights are kept beside it, so
    `resume=True` continues where an interrupted run left off and ends with the same weights.

    Args:
        model: a compiled Keras model (its optimizer is checkpointed too).
        batches: function epoch -> tf.data.Dataset of training batches; the same epoch must give the same
            batches (seed them with `epoch_seed`), which is what makes a resumed run exact.
        epochs: at most this many epochs; steps_per_epoch: batches per epoch.
        validation: optional function () -> tf.data.Dataset of validation batches; None: keep the last epoch.
        validation_steps: at most this many validation batches (None: all of them).
        patience: epochs without a better validation loss before stopping (None: never stop early).
        checkpoint_dir: folder for the checkpoint (None: none is written).
        resume: continue from the checkpoint in `checkpoint_dir` if there is one.
        learning_rate: optional function epoch -> learning rate, set at the start of every epoch.
        settings: JSON-serialisable dict of what the run depends on (seed, batch size, configuration, ...);
            a checkpoint made with other settings is refused on resume.
        max_steps: end this call after this many training steps, as an interruption would (for tests and
            time-boxed sessions); the checkpoint of the last complete epoch is what `resume` continues from.
        progress: show a tqdm bar over all remaining steps, with the time left.
        log: function called with one line per epoch (None: silent).
    Returns:
        dict of per-epoch lists "loss" and the compiled metrics (and "val_loss", "val_<metric>"), "best_epoch"
        (1-based), "epochs_run" and
        "finished" (False after max_steps); the model holds the best epoch's weights (the last epoch's
        without validation), or, when interrupted, the weights it had when it stopped.
    """
    import keras

    if epochs < 1 or steps_per_epoch < 1 or (patience is not None and patience < 1):
        raise ValueError(f"epochs, steps_per_epoch and patience must be at least 1; got {epochs}, {steps_per_epoch}, "
                         f"{patience}.")
    if resume and checkpoint_dir is None:
        raise ValueError("resume=True needs the checkpoint_dir the interrupted run wrote to.")
    settings = json.loads(json.dumps(settings or {}))
    state = {"epoch": 0, "history": {"loss": [], "val_loss": []}, "best_epoch": 0, "best_loss": None,
             "settings": settings}
    best_weights = None
    if resume:
        restored = load_checkpoint(model, checkpoint_dir, settings)
        if restored is not None:
            state = restored
            best_path = Path(checkpoint_dir) / "best.npz"
            if best_path.is_file():
                with np.load(best_path) as data:
                    best_weights = [data[k] for k in sorted(data.files)]
            if log:
                log(f"resumed from {checkpoint_dir} after epoch {state['epoch']}")
    history = state["history"]
    bar = None
    if progress and state["epoch"] < epochs:
        from tqdm.auto import tqdm

        bar = tqdm(total=(epochs - state["epoch"]) * steps_per_epoch, unit="step", dynamic_ncols=True)
    steps_done = [0]

    def after_batch(batch, logs):
        steps_done[0] += 1
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{logs.get('loss', float('nan')):.4g}")
        if max_steps is not None and steps_done[0] >= max_steps:
            model.stop_training = True

    callbacks = [keras.callbacks.LambdaCallback(on_train_batch_end=after_batch), keras.callbacks.TerminateOnNaN()]
    finished = True
    try:
        for epoch in range(state["epoch"], epochs):
            if patience is not None and state["best_epoch"] and epoch - state["best_epoch"] >= patience:
                break
            if learning_rate is not None:
                model.optimizer.learning_rate.assign(learning_rate(epoch))
            before = steps_done[0]
            logs = model.fit(batches(epoch), epochs=1, steps_per_epoch=steps_per_epoch, verbose=0, shuffle=False,
                             callbacks=callbacks).history
            if not np.isfinite(logs["loss"][-1]):
                raise RuntimeError(f"The loss became NaN or infinite in epoch {epoch + 1}: lower the learning rate and "
                                   f"start again (the weights are now unusable).")
            if steps_done[0] - before < steps_per_epoch:  # stopped by max_steps: this epoch does not count
                finished = False
                break
            for name, values in logs.items():  # the loss and every compiled metric (e.g. the mask CNN's bin_accuracy)
                history.setdefault(name, []).append(float(values[-1]))
            if validation is not None:
                scores = model.evaluate(validation(), steps=validation_steps, verbose=0, return_dict=True)
                for name, value in scores.items():
                    history.setdefault(f"val_{name}", []).append(float(value))
            current = history["val_loss"][-1] if validation is not None else history["loss"][-1]
            if validation is None or state["best_loss"] is None or current < state["best_loss"]:
                state["best_loss"], state["best_epoch"] = float(current), epoch + 1
                best_weights = [np.asarray(v.numpy()) for v in model.variables]
                if checkpoint_dir is not None:
                    Path(checkpoint_dir).mkdir(parents=True, exist_ok=True)
                    np.savez(Path(checkpoint_dir) / "best.npz", **{f"v{i:04d}": w for i, w in enumerate(best_weights)})
            state["epoch"] = epoch + 1
            if checkpoint_dir is not None:
                save_checkpoint(model, checkpoint_dir, state)
            if log:
                val_text = f", validation {history['val_loss'][-1]:.4f}" if validation is not None else ""
                log(f"epoch {epoch + 1}/{epochs}: loss {history['loss'][-1]:.4f}{val_text}"
                    f"{' (best)' if state['best_epoch'] == epoch + 1 else ''}")
    finally:
        if bar is not None:
            bar.close()
    if finished and best_weights is not None:
        for variable, array in zip(model.variables, best_weights):
            variable.assign(array)
    return {**{name: values for name, values in history.items() if values}, "best_epoch": state["best_epoch"],
            "epochs_run": state["epoch"], "finished": finished}
