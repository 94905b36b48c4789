"""S3's binary-mask CNN (the lesson) and the mask CNN that separates: one fully convolutional pass, soft masks.

Used in: 08_binary_mask_cnn.ipynb, 09 (`parameter_table`, `mask_activity`, `describe_mask_activity`), 11 (the
grand comparison); scripts/train_mask_cnn.py, benchmarks/separation_speed.py.

S3 (Tkachuk) turns separation into classification: for each source, a CNN sees 25 frames of the
mixture's 513-bin magnitude spectrogram (one channel) and predicts, for the *centre* frame, which of
the 513 bins belong to the source: the binary mask B = (|S| > T * |M|). One model per source (vocals,
drums, bass, other). Sliding the window one frame at a time gives a mask for every frame ("frame" models,
`build_mask_cnn`). Four independent binary masks can claim a bin twice or leave it to nobody, and the
network recomputes every frame's features 25 times.

The separator of the course (`build_fcn`, config["model"] == "fcn") keeps S3's four convolutions as the
feature extractor but slides them over the whole spectrogram once: the poolings act along frequency only,
the convolutions and one dilated convolution along time add up to S3's 25-frame receptive field, the dense
layers become convolutions applied at every frame, and one output per source and bin goes through a softmax
across the sources, so the four masks add up to one in every bin (the estimates add up to the mixture).
It is trained on the sources' magnitudes (the masks times the mixture magnitude, `magnitude_loss`).

Both kinds become a `separator.Separator` (`as_separator`, `load`), so `course_utils.separate(mixture, sr,
model)` runs either. Conventions (those of `masks`): audio is (n,) or (n, channels); a spectrogram or mask is
(freq, frames) for mono and (channels, freq, frames) otherwise; each channel is separated on its own.
A window is (freq, context) with the window's frame k at column k, so frame t is column context // 2
of its own window. Frames beyond the track's edges are zero (silence), so every frame gets a window; the
fully convolutional model sees the same silence (its time convolutions are unpadded and the spectrogram is
padded with context // 2 silent frames at both ends), so a song cut into spans gives exactly one pass's masks.
"""
import json
from collections import namedtuple

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from . import masks
from .datasets import MUSDB_TARGETS, as_track
from .separator import Separator
from .weights import check_same_config, read_weights_file, save_weights_file, set_checked_weights

SOURCES = MUSDB_TARGETS  # one output (S3: one model) per source: vocals, drums, bass, other
SAMPLE_CONFIG = {  # S3's per-frame model at 22.05 kHz: n_fft 1024 -> S3's 513 bins (46 ms); hop 256 (11.6 ms)
    "model": "frame", "sr": 22050, "n_fft": 1024, "hop_length": 256, "context": 25, "threshold": 0.5,
    "filters": [32, 16, 64, 16], "pool_size": 3, "dense_units": 128,
    "dropout": 0.25, "dense_dropout": 0.5, "negative_slope": 0.01,
}
FULL_CONFIG = {**SAMPLE_CONFIG, "sr": 44100}  # MUSDB18's rate; n_fft 1024 still gives 513 bins (23 ms)
FCN_SAMPLE_CONFIG = {  # the separator: S3's convs, 25-frame receptive field, one softmax mask per source
    "model": "fcn", "sr": 22050, "n_fft": 1024, "hop_length": 256, "context": 25,
    "filters": [32, 16, 64, 16], "pool_size": 3, "dense_units": 128, "time_kernel": 3,
    "dropout": 0.0, "dense_dropout": 0.2, "negative_slope": 0.01, "sources": list(SOURCES), "span_frames": 512,
}
FCN_FULL_CONFIG = {**FCN_SAMPLE_CONFIG, "sr": 44100}
DEFAULT_WEIGHTS = "mask_cnn_rendered_fcn.npz"  # the shipped separator (weights/): notebooks 08, 10 and the benchmark
S3_LAYER_PARAMS = (320, 4624, 9280, 9232, 233600, 66177)  # S3's torchinfo table: 4 convs, 2 dense; 323,233 in all
S3_ACCURACY = {  # S3's bin accuracies on MUSDB18 (its tables: training / validation)
    "training": {"vocals": 0.772, "drums": 0.766, "bass": 0.944, "other": 0.764},
    "validation": {"vocals": 0.743, "drums": 0.685, "bass": 0.939, "other": 0.732},
}
MODELS = ("frame", "fcn")  # config["model"]: S3's per-frame model, or the fully convolutional separator

WindowExamples = namedtuple("WindowExamples", ["windows", "positions", "targets"])
WindowExamples.__doc__ = """Training pairs of `window_examples`: windows[positions[i]] is example i's input.

windows: read-only (L, freq, context) float32 view of every track and channel, joined with silent gaps;
positions: (N,) int indices into `windows`; targets: (N, freq) float32 centre-frame masks of 0s and 1s.
"""


# ---------------------------------------------------------------- configuration

def check_config(config):
    """Validate a mask-CNN configuration (SAMPLE_CONFIG-like or FCN_SAMPLE_CONFIG-like) and return it as a plain dict.

    Used in: 08, 10; every function here that takes a config.

    Args:
        config: dict with model ("frame": S3's per-frame model; "fcn": the fully convolutional separator),
            sr (Hz), n_fft, hop_length (samples), context (odd number of frames: the window, or the receptive
            field along time), filters (one per 3x3 conv, an even number: max pooling after each pair),
            pool_size, dense_units, dropout (after each pooling), dense_dropout, negative_slope (LeakyReLU);
            "frame" also threshold (T of B = S > T*M); "fcn" also time_kernel (taps of the dilated time
            convolution that completes the receptive field), sources and span_frames (frames per pass).
    Returns:
        the configuration as a new dict (lists instead of tuples, as it is stored with the weights).
    """
    if not isinstance(config, dict):
        raise ValueError(f"config must be a dict such as mask_cnn.FCN_SAMPLE_CONFIG, got {type(config).__name__}.")
    model = config.get("model")
    if model not in MODELS:
        raise ValueError(f"config['model'] must be 'frame' (S3's per-frame model, mask_cnn.SAMPLE_CONFIG) or 'fcn' "
                         f"(the separator, mask_cnn.FCN_SAMPLE_CONFIG); got {model!r}.")
    template = SAMPLE_CONFIG if model == "frame" else FCN_SAMPLE_CONFIG
    missing = set(template) - set(config)
    if missing:
        name = "SAMPLE_CONFIG" if model == "frame" else "FCN_SAMPLE_CONFIG"
        raise ValueError(f"config lacks {sorted(missing)}; start from {{**mask_cnn.{name}, ...}}.")
    config = json.loads(json.dumps(config))  # tuples -> lists, as after a save/load round trip
    if not 0 < config["hop_length"] <= config["n_fft"] // 4:
        raise ValueError(f"hop_length must be in (0, n_fft / 4] for an exact inverse STFT, got {config['hop_length']}.")
    _check_context(config["context"])
    filters = config["filters"]
    if not filters or len(filters) % 2 or any(not isinstance(f, int) or f < 1 for f in filters):
        raise ValueError(f"filters must be an even number of positive integers (two 3x3 convs per max pooling), "
                         f"e.g. S3's [32, 16, 64, 16]; got {filters!r}.")
    pool, n_pools = config["pool_size"], len(filters) // 2
    if not isinstance(pool, int) or pool < 1:
        raise ValueError(f"pool_size must be a positive integer, got {pool!r}.")
    freq = config["n_fft"] // 2 + 1
    if freq // pool ** n_pools < 1 or (model == "frame" and config["context"] // pool ** n_pools < 1):
        raise ValueError(f"{n_pools} max poolings of size {pool} shrink the ({freq} x {config['context']}) window to "
                         f"nothing: use a wider context (>= {pool ** n_pools} frames), fewer filters or a smaller "
                         f"pool_size.")
    if not (0 <= config["dropout"] < 1 and 0 <= config["dense_dropout"] < 1):
        raise ValueError("dropout and dense_dropout must be in [0, 1).")
    if not (isinstance(config["dense_units"], int) and config["dense_units"] >= 1):
        raise ValueError(f"dense_units must be a positive integer, got {config['dense_units']!r}.")
    if model == "frame":
        _check_threshold(config["threshold"])
    else:
        _time_dilation(config)
        sources = config["sources"]
        if not sources or len(set(sources)) != len(sources) or not all(isinstance(n, str) for n in sources):
            raise ValueError(f"sources must be distinct source names, e.g. {list(SOURCES)}; got {sources!r}.")
        if not (isinstance(config["span_frames"], int) and config["span_frames"] >= 1):
            raise ValueError(f"span_frames must be a positive integer, got {config['span_frames']!r}.")
    return config


def _time_dilation(config):
    """The dilation of the FCN's time convolution that makes its receptive field exactly `context` frames."""
    rest = config["context"] - 1 - 2 * len(config["filters"])  # each 3x3 conv sees one frame either side
    kernel = config["time_kernel"]
    if not isinstance(kernel, int) or kernel < 1 or rest < 0 or (kernel == 1 and rest) \
            or (kernel > 1 and rest % (kernel - 1)):
        raise ValueError(f"The {len(config['filters'])} convolutions see {2 * len(config['filters']) + 1} frames; a "
                         f"time convolution of time_kernel = {kernel!r} taps must add the rest of context = "
                         f"{config['context']} frames ({rest}): time_kernel - 1 must divide {rest} (S3: 3 taps, "
                         f"dilation 8).")
    return rest // (kernel - 1) if kernel > 1 else 1


def _check_context(context, frames=None):
    """Raise a ValueError unless `context` is an odd positive integer no longer than `frames`."""
    if not isinstance(context, (int, np.integer)) or isinstance(context, bool) or context < 1 or context % 2 == 0:
        raise ValueError(f"context must be an odd positive number of frames (S3: 25), so that one frame is the "
                         f"centre; got {context!r}.")
    if frames is not None and context > frames:
        raise ValueError(f"context = {context} frames is longer than the track ({frames} frames): use a longer "
                         f"excerpt or a smaller context.")


def _check_threshold(threshold):
    if not isinstance(threshold, (int, float, np.number)) or not np.isfinite(threshold) or threshold <= 0:
        raise ValueError(f"threshold T of B = S > T * M must be a positive number (0.5: the source is at least half "
                         f"of the mixture's magnitude); got {threshold!r}.")


# ---------------------------------------------------------------- targets and windows

def binary_mask_targets(mixture, sources, names=None, threshold=0.5, n_fft=SAMPLE_CONFIG["n_fft"],
                        hop_length=SAMPLE_CONFIG["hop_length"]):
    """S3's targets B = (|S| > T * |M|) for one source or several, per time-frequency bin and channel.

    Used in: 08 (the training targets and the oracle row), 10.

    Computed with `masks.binary_masks` (ratio |S| / |M| >= T): with T = 0.5 it is SiSEC's IBM1, the oracle
    of notebook 06. It differs from S3's strict ">" only on exact ties, and where |M| = 0 the mask is 0.

    Args:
        mixture: (n,) or (n, channels) mixture.
        sources: dict name -> true source shaped like `mixture` (e.g. from `datasets.track_arrays`).
        names: a source name or a list of them (default: every source in `sources`).
        threshold: T > 0; larger T keeps only the bins the source clearly dominates.
        n_fft, hop_length: STFT parameters (default: SAMPLE_CONFIG's 1024 / 256).
    Returns:
        dict name -> float mask of 0s and 1s, (freq, frames) for mono, (channels, freq, frames) otherwise.
    """
    mixture = masks.check_audio(mixture)
    if not isinstance(sources, dict) or not sources:
        raise ValueError("sources must be a non-empty dict, e.g. {'vocals': (n, 2) array, 'drums': ...}.")
    names = list(sources) if names is None else [names] if isinstance(names, str) else list(names)
    missing = [name for name in names if name not in sources]
    if missing or not names:
        raise ValueError(f"No source(s) {missing or names} in this track; it has {list(sources)}.")
    _check_threshold(threshold)
    chosen = masks.check_sources({name: sources[name] for name in names}, mixture)
    magnitudes = {name: np.abs(masks.stft(audio, n_fft, hop_length)) for name, audio in chosen.items()}
    return masks.binary_masks(magnitudes, np.abs(masks.stft(mixture, n_fft, hop_length)), alpha=1.0, theta=threshold)


def context_windows(spec, context=25):
    """Every frame's context window, centred on it, as a read-only view (no copy; edges padded with zeros).

    Used in: 08 (what the network sees), 10; `window_examples` and `predict_masks`.

    Window t holds frames t - context // 2 ... t + context // 2 of `spec`; frames outside the track are 0.
    Built with numpy's sliding_window_view on the zero-padded spectrogram: no Python loop over frames.

    Args:
        spec: (freq, frames) or (channels, freq, frames) array, e.g. the mixture's magnitude.
        context: odd number of frames per window (S3: 25, i.e. 12 frames either side), at most `frames`.
    Returns:
        (frames, freq, context) for a 2-D spec, (channels, frames, freq, context) for a 3-D one;
        window[t][:, context // 2] is frame t itself.
    """
    spec = np.asarray(spec)
    if spec.ndim not in (2, 3) or spec.size == 0:
        raise ValueError(f"spec must be (freq, frames) or (channels, freq, frames), got shape {spec.shape}.")
    _check_context(context, spec.shape[-1])
    half = context // 2
    padded = np.pad(spec, [(0, 0)] * (spec.ndim - 1) + [(half, half)])
    return np.moveaxis(sliding_window_view(padded, context, axis=-1), -2, -3)  # (..., freq, frames, c) -> frames first


def _track_parts(track, source, sr):
    """(mixture, {source: audio}) of a musdb track or a (mixture, sources, sr) tuple, checked against `sr`."""
    mixture, sources, rate = as_track(track, (source,), "A training track")
    masks.check_separator_input(None, rate, {"sr": sr}, "A training track")
    return mixture, sources


def window_examples(tracks, source, config, frame_step=1):
    """Every (context window, centre-frame mask) training pair of several tracks, each channel on its own.

    Used in: 08, 10; `train_models`.

    The tracks' channel spectrograms are joined along time with context // 2 silent frames between them,
    and `context_windows` views the whole: each window sees exactly what it would see in its own track.
    Only the (L, freq, context) view exists; a batch copies just its own windows (`window_dataset`).

    Args:
        tracks: musdb tracks or (mixture, sources, sr) tuples from `datasets.track_arrays`.
        source: the source whose mask is the target, e.g. "vocals".
        config: e.g. SAMPLE_CONFIG (sr, n_fft, hop_length, context, threshold).
        frame_step: keep every frame_step-th centre frame (S3: 1; more: fewer, less redundant examples).
    Returns:
        WindowExamples(windows, positions, targets): windows (L, freq, context) float32 mixture magnitudes,
        positions (N,) with windows[positions[i]] the input of example i, targets (N, freq) float32 masks.
    """
    config = check_config(config)
    if not isinstance(frame_step, (int, np.integer)) or frame_step < 1:
        raise ValueError(f"frame_step must be a positive integer (1: every frame), got {frame_step!r}.")
    if isinstance(tracks, (str, bytes)) or not hasattr(tracks, "__iter__"):
        raise ValueError("tracks must be a list of musdb tracks or of (mixture, sources, sr) tuples.")
    context, n_fft, hop = config["context"], config["n_fft"], config["hop_length"]
    freq = n_fft // 2 + 1
    gap = np.zeros((freq, context // 2), np.float32)  # silence between tracks: no window sees another track
    pieces, positions, targets, offset = [], [], [], 0
    for track in tracks:
        mixture, sources = _track_parts(track, source, config["sr"])
        mask = binary_mask_targets(mixture, sources, source, config["threshold"], n_fft, hop)[source]
        magnitude = np.abs(masks.stft(mixture, n_fft, hop)).astype(np.float32)
        frames = magnitude.shape[-1]
        _check_context(context, frames)
        centres = np.arange(0, frames, frame_step)
        for channel_magnitude, channel_mask in zip(magnitude.reshape(-1, freq, frames), mask.reshape(-1, freq, frames)):
            pieces += [channel_magnitude, gap]
            positions.append(offset + centres)
            targets.append(channel_mask[:, centres].T.astype(np.float32))
            offset += frames + gap.shape[1]
    if not pieces:
        raise ValueError("tracks is empty: give at least one track.")
    windows = context_windows(np.concatenate(pieces, axis=1), context)
    return WindowExamples(windows, np.concatenate(positions), np.concatenate(targets))


def window_dataset(examples, batch_size=64, shuffle=True, seed=0):
    """The pairs of `window_examples` as a tf.data.Dataset of batches, reshuffled every epoch.

    Used in: 08, 10; `train_mask_cnn`.

    Args:
        examples: WindowExamples from `window_examples`.
        batch_size: windows per batch.
        shuffle: new random order every epoch (seeded by `seed`); False keeps the examples' order.
    Returns:
        tf.data.Dataset of (batch, freq, context) float32 windows and (batch, freq) float32 masks; one pass
        is one epoch.
    """
    import tensorflow as tf

    windows, positions, targets = examples
    if len(positions) != len(targets) or len(positions) == 0:
        raise ValueError("examples must be a non-empty WindowExamples from mask_cnn.window_examples.")
    rng = np.random.default_rng(seed)

    def batches():
        order = rng.permutation(len(positions)) if shuffle else np.arange(len(positions))
        for start in range(0, len(order), batch_size):
            chosen = order[start:start + batch_size]
            yield windows[positions[chosen]], targets[chosen]

    freq, context = windows.shape[1:]
    signature = (tf.TensorSpec((None, freq, context), tf.float32), tf.TensorSpec((None, freq), tf.float32))
    dataset = tf.data.Dataset.from_generator(batches, output_signature=signature)
    n_batches = -(-len(positions) // batch_size)
    return dataset.apply(tf.data.experimental.assert_cardinality(n_batches)).prefetch(2)


# ---------------------------------------------------------------- network

def build_mask_cnn(config=SAMPLE_CONFIG, name="mask_cnn"):
    """S3's CNN: (freq, context) magnitude window -> the centre frame's mask, one sigmoid per bin.

    Used in: 08, 10; `train_models`, `load_mask_cnn`.

    Input log(1 + magnitude) (evens out the dynamic range; log1p(0) = 0, so padded frames stay silent),
    then for each pair of filters: 3x3 conv ("same" padding), LeakyReLU, 3x3 conv, LeakyReLU, max pooling,
    dropout; then Flatten, Dense(128), LeakyReLU, dropout, Dense(freq, sigmoid).

    Parameter count. S3's table (PyTorch, torchinfo) lists 320 + 4,624 + 9,280 + 9,232 conv parameters
    (32/16/64/16 3x3 filters with biases), Dense 233,600 and 66,177 = 128 * 513 + 513, 323,233 in all. The
    first Dense then has 233,600 = 1,824 * 128 + 128 inputs: 1,824 = 16 channels x 57 x 2, exactly what
    "same"-padded convs and two *3x3* max poolings leave of a 513 x 25 window (513 -> 171 -> 57 bins,
    25 -> 8 -> 2 frames). With 2x2 pooling it would be 16 x 128 x 6 = 12,288 inputs (1.6 M parameters),
    with unpadded convs and 2x2 pooling 16 x 125 x 3 = 6,000 (0.86 M). So SAMPLE_CONFIG (pool_size 3,
    dense_units 128) gives S3's 323,233 exactly, layer for layer. Not in the table, so our choices:
    LeakyReLU slope 0.01 (PyTorch's default; Keras' is 0.3), dropout 0.25 after pooling and 0.5 before the
    output (S3's layer sequence is PyTorch's MNIST example, which uses those rates).

    Args:
        config: e.g. SAMPLE_CONFIG: n_fft (freq = n_fft // 2 + 1), context, filters, pool_size,
            dense_units, dropout, dense_dropout, negative_slope.
        name: the Keras model's name (e.g. "mask_cnn_vocals").
    Returns:
        keras.Model (uncompiled; `train_mask_cnn` compiles it) mapping (batch, freq, context) magnitudes to
        (batch, freq) probabilities; `model.course_config` holds the checked configuration.
    """
    import keras
    from keras import layers, ops

    config = check_config(config)
    freq, context, slope = config["n_fft"] // 2 + 1, config["context"], config["negative_slope"]
    windows = keras.Input((freq, context), name="mixture_windows")
    x = layers.Lambda(ops.log1p, name="log1p")(windows)
    x = layers.Reshape((freq, context, 1))(x)
    for i, filters in enumerate(config["filters"]):
        x = layers.Conv2D(filters, 3, padding="same")(x)
        x = layers.LeakyReLU(negative_slope=slope)(x)
        if i % 2:
            x = layers.MaxPooling2D(config["pool_size"])(x)
            x = layers.Dropout(config["dropout"])(x)
    x = layers.Flatten()(x)
    x = layers.Dense(config["dense_units"])(x)
    x = layers.LeakyReLU(negative_slope=slope)(x)
    x = layers.Dropout(config["dense_dropout"])(x)
    # float32 output (and loss) even when the rest computes in float16 (training.use_mixed_precision)
    mask = layers.Dense(freq, activation="sigmoid", name="centre_mask", dtype="float32")(x)
    model = keras.Model(windows, mask, name=name)
    model.course_config = config
    return model


def parameter_table(model):
    """Each layer's output shape and parameter count, to set beside S3's table (S3_LAYER_PARAMS).

    Used in: 08 (where S3's 323,233 parameters come from), 09 (the autoencoder's layers); works for any Keras model.

    Returns:
        DataFrame with columns layer, type, output (shape without the batch axis) and params.
    """
    rows = [(layer.name, type(layer).__name__, tuple(layer.output.shape[1:]), layer.count_params())
            for layer in model.layers if type(layer).__name__ != "InputLayer"]
    return pd.DataFrame(rows, columns=["layer", "type", "output", "params"])


def weighted_binary_crossentropy(positive_weight=1.0):
    """Binary cross-entropy with the 1-bins weighted `positive_weight` times (1: plain cross-entropy).

    Used in: 08; `train_mask_cnn`.

    Only 13-17 % of the sample's vocal bins are 1, so plain cross-entropy is lowest, early in training, for a
    model that says "never vocals". Weighting the rare 1-bins by w makes a missed vocal bin cost w times a
    false alarm; w = (1 - p) / p (p: share of 1-bins) balances the two classes.

    Args:
        positive_weight: w > 0.
    Returns:
        a Keras loss (y_true, y_pred) -> per-example mean of keras.ops.binary_crossentropy times 1 + (w - 1) y.
    """
    from keras import ops

    if not isinstance(positive_weight, (int, float, np.number)) or not np.isfinite(positive_weight) \
            or positive_weight <= 0:
        raise ValueError(f"positive_weight must be a positive number (1: plain cross-entropy; (1 - p) / p "
                         f"balances a source whose bins are 1 with probability p); got {positive_weight!r}.")

    def loss(y_true, y_pred):
        weights = 1.0 + (positive_weight - 1.0) * y_true
        return ops.mean(weights * ops.binary_crossentropy(y_true, y_pred), axis=-1)

    loss.__name__ = f"bce_positive_weight_{positive_weight:g}"
    return loss


def train_mask_cnn(model, train_examples, val_examples=None, epochs=2, batch_size=64, learning_rate=1e-3, seed=0,
                   positive_weight=1.0, verbose=0):
    """Train one source's model with binary cross-entropy on its bins; return the per-epoch history.

    Used in: 08, 10; `train_models`.

    Compiled with Adam, binary cross-entropy (the targets are 0/1 masks) and two metrics: bin_accuracy
    (share of bins on the right side of 0.5; S3's "accuracy") and mse (S3's tables report an MSE "loss").
    Read bin_accuracy against the all-zeros mask: with T = 0.5 only about 13-17 % of the sample's vocal bins
    are 1, so predicting "never vocals" already scores about 0.87, and a short training run ends there.

    Args:
        model: from `build_mask_cnn`.
        train_examples, val_examples: WindowExamples from `window_examples` (validation optional).
        epochs, batch_size, learning_rate: training schedule.
        seed: seed of the per-epoch shuffling.
        positive_weight: weight of the 1-bins in the loss (`weighted_binary_crossentropy`; 1: S3's plain loss).
        verbose: Keras' verbosity (0: silent).
    Returns:
        dict metric -> list of per-epoch values: loss, bin_accuracy, mse (and val_... with validation).
    """
    freq, context = model.input_shape[1:]
    for label, examples in (("train_examples", train_examples), ("val_examples", val_examples)):
        if examples is not None and tuple(examples.windows.shape[1:]) != (freq, context):
            raise ValueError(f"{label} hold {examples.windows.shape[1:]} windows but the model takes ({freq}, "
                             f"{context}): make them with the model's configuration (model.course_config).")
    compile_mask_cnn(model, learning_rate, positive_weight)
    validation = None if val_examples is None else window_dataset(val_examples, 256, shuffle=False)
    history = model.fit(window_dataset(train_examples, batch_size, seed=seed), validation_data=validation,
                        epochs=epochs, shuffle=False, verbose=verbose)  # window_dataset shuffles
    return {name: [float(v) for v in values] for name, values in history.history.items()}


def compile_mask_cnn(model, learning_rate=1e-3, positive_weight=1.0):
    """Compile a mask CNN with Adam, `weighted_binary_crossentropy` and the bin_accuracy and mse metrics.

    Used in: `train_mask_cnn`; scripts/train_mask_cnn.py (full mode).

    Returns:
        the model, compiled.
    """
    import keras

    metrics = [keras.metrics.BinaryAccuracy(name="bin_accuracy"), keras.metrics.MeanSquaredError(name="mse")]
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=weighted_binary_crossentropy(positive_weight),
                  metrics=metrics)
    return model


def chunk_examples(chunk, source, config, frame_step=1):
    """Full-mode training pairs of one chunk read from disk: its windows and centre-frame masks, every channel.

    Used in: scripts/train_mask_cnn.py (`training.chunk_dataset` calls it for every chunk it reads).

    The chunk is treated as a short track (`window_examples`): frames beyond its ends are silence.

    Args:
        chunk: dict from `training.read_chunk` (mixture and the stems as (n, channels) arrays).
        source: the source whose mask is the target; config, frame_step: as `window_examples`.
    Returns:
        (windows (N, freq, context), targets (N, freq)) float32 arrays.
    """
    examples = window_examples([(chunk["mixture"], {source: chunk[source]}, config["sr"])], source, config, frame_step)
    return np.ascontiguousarray(examples.windows[examples.positions]), examples.targets


def example_shapes(config):
    """((freq, context), (freq,)): the shapes of one training pair for `config`.

    Used in: scripts/train_mask_cnn.py.
    """
    freq = config["n_fft"] // 2 + 1
    return (freq, config["context"]), (freq,)


def train_models(train_tracks, config, sources=SOURCES, val_tracks=None, epochs=2, batch_size=64, frame_step=1,
                 seed=0, positive_weight=1.0, learning_rate=1e-3, verbose=0):
    """One model per source, each trained on the same tracks: S3's four separators.

    Used in: 08, 10.

    Args:
        train_tracks, val_tracks: musdb tracks or (mixture, sources, sr) tuples (validation optional).
        config: e.g. SAMPLE_CONFIG.
        sources: source names (default vocals, drums, bass, other).
        epochs, batch_size, seed, positive_weight, learning_rate: as `train_mask_cnn`; frame_step: as
            `window_examples` (training only).
    Returns:
        (models, histories): dicts source -> Keras model and source -> per-epoch history.
    """
    import keras

    models, histories = {}, {}
    for source in [sources] if isinstance(sources, str) else sources:
        train = window_examples(train_tracks, source, config, frame_step)
        val = None if val_tracks is None else window_examples(val_tracks, source, config)
        keras.utils.set_random_seed(seed)
        models[source] = build_mask_cnn(config, name=f"mask_cnn_{source}")
        histories[source] = train_mask_cnn(models[source], train, val, epochs, batch_size, learning_rate, seed,
                                           positive_weight, verbose)
    return models, histories


# ---------------------------------------------------------------- the separator: one fully convolutional pass

def build_fcn(config=FCN_SAMPLE_CONFIG, name="mask_cnn_fcn"):
    """The mask CNN that separates: S3's layers slid over the whole spectrogram once, softmax masks per source.

    Used in: 08, 10; scripts/train_mask_cnn.py; `load`.

    Input log(1 + magnitude) of one channel, (freq, frames + context - 1): the frames to mask and
    context // 2 more on either side. S3's four 3x3 convolutions (32, 16, 64, 16 filters, LeakyReLU) with
    3 x 1 max pooling after each pair (513 -> 171 -> 57 bins; frames are never pooled). Along time the convs
    are unpadded: each sees one more frame on either side, 9 frames for four. S3's first dense layer becomes a
    time convolution over all 57 x 16 features with `time_kernel` taps, dilated so that the receptive field is
    exactly `context` frames (3 taps, dilation 8: 9 + 16 = 25 frames, S3's window); its second dense layer
    becomes a 1 x 1 convolution with one output per source and bin, and a softmax across the sources turns
    them into masks that add up to 1 in every bin.

    Args:
        config: e.g. FCN_SAMPLE_CONFIG (model "fcn").
        name: the Keras model's name.
    Returns:
        keras.Model mapping (batch, freq, frames + context - 1) magnitudes to (batch, frames, sources, freq)
        masks; `model.course_config` holds the checked configuration.
    """
    import keras
    from keras import layers, ops

    config = check_config(config)
    if config["model"] != "fcn":
        raise ValueError("build_fcn builds the 'fcn' model; use build_mask_cnn for S3's per-frame model.")
    freq, slope = config["n_fft"] // 2 + 1, config["negative_slope"]
    magnitude = keras.Input((freq, None), name="mixture_magnitude")
    x = layers.Lambda(ops.log1p, name="log1p")(magnitude)
    x = layers.Reshape((freq, -1, 1))(x)
    for i, filters in enumerate(config["filters"]):
        x = layers.ZeroPadding2D(((1, 1), (0, 0)))(x)  # "same" along frequency, unpadded along time
        x = layers.Conv2D(filters, 3)(x)
        x = layers.LeakyReLU(negative_slope=slope)(x)
        if i % 2:
            x = layers.MaxPooling2D((config["pool_size"], 1))(x)
            if config["dropout"]:
                x = layers.Dropout(config["dropout"])(x)
    bins, channels = x.shape[1], x.shape[3]
    x = layers.Permute((2, 1, 3))(x)                       # (frames, bins, channels)
    x = layers.Reshape((-1, bins * channels))(x)           # every frame's features, as S3's Flatten
    x = layers.Conv1D(config["dense_units"], config["time_kernel"], dilation_rate=_time_dilation(config),
                      name="dense_as_conv")(x)
    x = layers.LeakyReLU(negative_slope=slope)(x)
    if config["dense_dropout"]:
        x = layers.Dropout(config["dense_dropout"])(x)
    n_sources = len(config["sources"])
    x = layers.Conv1D(n_sources * freq, 1, name="source_logits", dtype="float32")(x)
    x = layers.Reshape((-1, n_sources, freq))(x)
    masks_out = layers.Softmax(axis=-2, name="masks", dtype="float32")(x)  # the sources share every bin
    model = keras.Model(magnitude, masks_out, name=name)
    model.course_config = config
    return model


def magnitude_loss(kind="mse"):
    """The FCN's training loss: the masks times the mixture magnitude against the sources' magnitudes.

    Used in: 08; scripts/train_mask_cnn.py (`compile_fcn`).

    Training on magnitudes (not on ideal masks) weighs each bin by how loud it is, as Open-Unmix does: a
    wrong mask costs little where the mixture is quiet.

    Args:
        kind: "mse" (mean squared error, Open-Unmix) or "l1" (mean absolute error).
    Returns:
        a Keras loss of (y_true, y_pred): y_true (batch, frames, sources + 1, freq) holds the sources'
        magnitudes and, last, the mixture's magnitude at the same frames; y_pred the masks (batch, frames,
        sources, freq).
    """
    from keras import ops

    if kind not in ("mse", "l1"):
        raise ValueError(f"kind must be 'mse' or 'l1', got {kind!r}.")

    def loss(y_true, y_pred):
        error = y_pred * y_true[:, :, -1:] - y_true[:, :, :-1]
        return ops.mean(ops.square(error) if kind == "mse" else ops.abs(error), axis=(1, 2, 3))

    loss.__name__ = f"magnitude_{kind}"
    return loss


def compile_fcn(model, learning_rate=1e-3, loss="mse"):
    """Compile the FCN with Adam and `magnitude_loss(loss)`.

    Used in: scripts/train_mask_cnn.py; 08.

    Returns:
        the model, compiled.
    """
    import keras

    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=magnitude_loss(loss))
    return model


def fcn_examples(track, config):
    """Training pairs of one track or chunk for the FCN, one per channel: its magnitude, and its targets.

    Used in: scripts/train_mask_cnn.py (`training.chunk_dataset` calls it for every chunk it reads); 08.

    The network's masks cover the frames whose whole 25-frame context lies inside the chunk (context // 2
    frames less at either end), so no training target depends on silence the song does not have.

    Args:
        track: a `datasets.Track`, (mixture, stems, sr) tuple or musdb track with every source of config,
            or a chunk dict of `training.read_chunk` (mixture and stems as (n, channels) arrays).
        config: e.g. FCN_SAMPLE_CONFIG.
    Returns:
        (inputs (channels, freq, frames) float32 mixture magnitudes, targets (channels, frames - context + 1,
        sources + 1, freq) float32: the sources' magnitudes and the mixture's, as `magnitude_loss` takes them).
    """
    config = check_config(config)
    names = config["sources"]
    if isinstance(track, dict):
        track = (track["mixture"], {name: track[name] for name in names}, config["sr"])
    mixture, stems, rate = as_track(track, names, "A training track")
    masks.check_separator_input(mixture, rate, config, "A training track", allow_silent=True)
    n_fft, hop, half = config["n_fft"], config["hop_length"], config["context"] // 2
    magnitude = np.abs(masks.stft(mixture, n_fft, hop)).astype(np.float32)
    inputs = magnitude.reshape(-1, *magnitude.shape[-2:])
    if inputs.shape[-1] <= 2 * half:
        raise ValueError(f"A training track of {inputs.shape[-1]} frames is too short for the {config['context']}-frame "
                         f"receptive field: use chunks of at least {2 * half + 1} frames.")
    parts = [np.abs(masks.stft(stems[name], n_fft, hop)).astype(np.float32).reshape(inputs.shape)
             for name in names] + [inputs]
    targets = np.stack(parts, axis=1)[..., half:inputs.shape[-1] - half]  # (channels, sources + 1, freq, frames)
    return inputs, np.ascontiguousarray(np.moveaxis(targets, -1, 1))


def fcn_example_shapes(config, chunk_samples):
    """The shapes of one `fcn_examples` pair for chunks of `chunk_samples` samples (for `training.chunk_dataset`).

    Used in: scripts/train_mask_cnn.py.
    """
    config = check_config(config)
    freq, frames = config["n_fft"] // 2 + 1, 1 + chunk_samples // config["hop_length"]
    return (freq, frames), (frames - config["context"] + 1, len(config["sources"]) + 1, freq)


def fcn_masks(network, magnitude, span_frames=None):
    """The FCN's masks for whole (channels, freq, frames) magnitudes, in spans of frames: exactly one pass.

    Used in: `as_separator` (so `course_utils.separate` and `predict_masks`, 08, 10).

    The spectrogram is padded with context // 2 silent frames at both ends; each span of `span_frames`
    frames is predicted from its frames plus context // 2 on either side, which is everything its masks
    depend on, so the spans join without a seam and memory stays bounded on long songs.

    Args:
        network: from `build_fcn`/`load`.
        magnitude: (channels, freq, frames) float32 mixture magnitude.
        span_frames: frames per pass (default: the network's config["span_frames"]).
    Returns:
        dict source -> (channels, freq, frames) mask in the network's dtype (float32); the masks add up to 1.
    """
    config = network.course_config
    half, span = config["context"] // 2, int(span_frames or config["span_frames"])
    magnitude = np.asarray(magnitude, np.float32)
    frames = magnitude.shape[-1]
    padded = np.pad(magnitude, [(0, 0), (0, 0), (half, half)])
    result = None
    for start in range(0, frames, span):  # each span's masks written in place: no list of spans, no joined copy
        predicted = np.asarray(network(padded[..., start:start + span + 2 * half], training=False))
        if result is None:  # in the network's dtype (a Keras model's float32; a stand-in's float64 stays exact)
            result = {name: np.empty(magnitude.shape, predicted.dtype) for name in config["sources"]}
        for j, name in enumerate(config["sources"]):  # (channels, span, sources, freq) -> (channels, freq, span)
            result[name][..., start:start + predicted.shape[1]] = np.transpose(predicted[:, :, j], (0, 2, 1))
    return result


# ---------------------------------------------------------------- weights

def save_weights(model, path, source=None, history=None, training=None):
    """Save a mask CNN: its weights, configuration, (per-frame models) source, history and settings in one .npz.

    Used in: 08, 10; scripts/train_mask_cnn.py.

    Args:
        model: from `build_fcn` or `build_mask_cnn` (its `course_config` is stored).
        path: output file (.npz).
        source: S3's per-frame models only: the source it separates, e.g. "vocals" (an FCN's sources are in
            its configuration).
        history: optional dict of per-epoch values (`training.fit`, `train_mask_cnn`).
        training: optional dict of training settings (epochs, loss, seconds, ...), stored as is.
    """
    config = check_config(model.course_config)
    if config["model"] == "frame" and (not isinstance(source, str) or not source):
        raise ValueError(f"source must be the name of the source the model separates, e.g. 'vocals'; got {source!r}.")
    save_weights_file(model, path, "mask_cnn", {
        "config": config, "source": source if config["model"] == "frame" else None,
        "history": {k: [float(v) for v in values] for k, values in (history or {}).items() if isinstance(values, list)},
        "training": training or {}})


def load_mask_cnn(path, config=None, source=None):
    """Build the network a weights file was saved from and load it, refusing another configuration or source.

    Used in: 08, 10; `load`.

    Args:
        path: a .npz from `save_weights`.
        config: optional configuration the caller expects; any entry that differs is an error.
        source: optional source the caller expects of a per-frame file (e.g. "vocals").
    Returns:
        (network, meta): the Keras model (`build_fcn` or `build_mask_cnn`, as the file's config["model"]
        says) and the file's metadata (config, source, history, training).
    Raises:
        FileNotFoundError: no file. ValueError: not a mask-CNN file, another configuration or source.
    """
    meta, arrays = read_weights_file(path, "mask_cnn", "train one with scripts/train_mask_cnn.py (or "
                                                       "mask_cnn.train_models) and save it with mask_cnn.save_weights")
    file_config = check_config(meta["config"])
    if config is not None:
        check_same_config(path, file_config, check_config(config))
    if source is not None and meta["source"] != source:
        raise ValueError(f"{path} holds the {meta['source']!r} model, not {source!r}: load each source's own file.")
    if file_config["model"] == "fcn":
        network = build_fcn(file_config)
    else:
        network = build_mask_cnn(file_config, name=f"mask_cnn_{meta['source']}")
    set_checked_weights(network, arrays, path)
    return network, meta


def load(path, config=None):
    """A weights file as a `Separator`: the FCN, or one of S3's per-frame models (that file's source only).

    Used in: `course_utils.load_separator` (07–10 and benchmarks/separation_speed.py), 08.

    Args:
        path: a .npz from `save_weights` (e.g. weights/ + DEFAULT_WEIGHTS).
        config: optional configuration the caller expects; any entry that differs is an error.
    Returns:
        Separator (kind "mask_cnn"); `load_frame_models` joins S3's four per-source files into one.
    """
    network, meta = load_mask_cnn(path, config)
    if network.course_config["model"] == "fcn":
        return as_separator(network, meta=meta)
    return as_separator({meta["source"]: network}, meta=meta)


def load_frame_models(paths, config=None, cutoff=0.5):
    """S3's four per-source files as one `Separator` (binary masks, one network per source).

    Used in: 08, 10.

    Args:
        paths: dict source -> .npz of that source's per-frame model.
        config: optional configuration the caller expects.
        cutoff: as `as_separator`.
    """
    if not isinstance(paths, dict) or not paths:
        raise ValueError("paths must be a dict source -> weights file, e.g. {'vocals': 'weights/mask_cnn_sample_"
                         "vocals.npz', ...}.")
    return as_separator({name: load_mask_cnn(path, config, name)[0] for name, path in paths.items()}, cutoff=cutoff)


# ---------------------------------------------------------------- separation

def _predict_windows(model, windows, batch_size):
    """Run `model` over (N, freq, context) windows in batches; return (N, freq) float64."""
    outputs = []
    for start in range(0, len(windows), batch_size):
        batch = np.ascontiguousarray(windows[start:start + batch_size], dtype=np.float32)
        if hasattr(model, "predict_on_batch"):  # always a full batch, so the graph is traced once
            padded = np.pad(batch, [(0, batch_size - len(batch)), (0, 0), (0, 0)])
            out = np.asarray(model.predict_on_batch(padded))[:len(batch)]
        else:
            out = np.asarray(model(batch))
        if out.shape != batch.shape[:2]:
            raise ValueError(f"A model returned shape {out.shape} for windows {batch.shape}: it must return one "
                             f"mask value per bin, (batch, freq).")
        outputs.append(out)
    return np.concatenate(outputs).astype(np.float64)


def _models_config(models, config):
    """Unwrap (model, meta) pairs and find the one configuration all models (or the caller) use."""
    if not isinstance(models, dict) or not models:
        raise ValueError("models must be a non-empty dict source -> model, e.g. {'vocals': model, 'drums': model}.")
    models = {name: m[0] if isinstance(m, tuple) else m for name, m in models.items()}
    configs = {json.dumps(m.course_config, sort_keys=True) for m in models.values() if hasattr(m, "course_config")}
    if len(configs) > 1:
        raise ValueError("The models were built for different configurations; separate with models of one "
                         "configuration (compare model.course_config).")
    if config is None:
        if not configs:
            raise ValueError("Give config=...: these models carry no course_config (only build_mask_cnn's do).")
        return models, json.loads(configs.pop())
    config = check_config(config)
    if configs and json.loads(next(iter(configs))) != config:
        raise ValueError("config differs from the models' course_config: leave config out to use the models' own.")
    return models, config


def frame_masks(models, magnitude, config, batch_size=64, cutoff=0.5):
    """S3's masks: every frame's context window through each source's per-frame model, batched.

    Used in: `as_separator` for per-frame models (08, 10).

    Args:
        models: dict source -> per-frame model (or any function (batch, freq, context) -> (batch, freq)).
        magnitude: (channels, freq, frames) mixture magnitude.
        config: the models' configuration (context).
        batch_size: windows per prediction call (only the grouping, never the result, depends on it).
        cutoff: masks become 1 where the prediction is >= cutoff, else 0 (S3's binary mask); None keeps
            the predicted probabilities as a soft mask.
    Returns:
        dict source -> (channels, freq, frames) mask.
    """
    windows = context_windows(np.asarray(magnitude, np.float32), config["context"])  # (C, frames, freq, context)
    result = {}
    for name, model in models.items():
        mask = np.stack([_predict_windows(model, channel, batch_size).T for channel in windows])
        result[name] = (mask >= cutoff).astype(np.float64) if cutoff is not None else mask
    return result


def as_separator(network, config=None, cutoff=0.5, batch_size=64, meta=None):
    """A trained mask CNN as a `Separator` for `course_utils.separate`: the FCN, or S3's per-frame models.

    Used in: 08, 10; `load`, `load_frame_models`; tests.

    Args:
        network: a `build_fcn` model (one network, every source), or a dict source -> per-frame model
            (`build_mask_cnn`, a (model, meta) pair, or any function from (batch, freq, context) windows to
            (batch, freq) mask values: then give config).
        config: the configuration (default: the network's course_config).
        cutoff: per-frame models only: as `frame_masks` (0.5: S3's binary masks; None: probabilities).
        batch_size: per-frame models only: windows per prediction call (64 rather than 256: faster on a CPU, and
            TensorFlow keeps about 0.7 GB less afterwards at 44.1 kHz).
        meta: the weights file's metadata, kept on the Separator.
    Returns:
        Separator(kind "mask_cnn").
    """
    if isinstance(network, dict):
        models, config = _models_config(network, config)
        if config["model"] != "frame":
            raise ValueError("A dict of networks holds S3's per-frame models (config model 'frame'); give an FCN as "
                             "one network.")

        def predict(magnitude):
            _check_context(config["context"], magnitude.shape[-1])
            return frame_masks(models, magnitude, config, batch_size, cutoff)

        return Separator("mask_cnn", config, tuple(models), predict, models, meta or {})
    if not hasattr(network, "course_config"):
        raise ValueError(f"network must be a model from mask_cnn.build_fcn or load_mask_cnn, or a dict source -> "
                         f"per-frame model; got {type(network).__name__}.")
    config = check_config(network.course_config if config is None else config)
    if config != check_config(network.course_config):
        raise ValueError("config differs from the network's course_config: leave config out to use the network's own.")
    if config["model"] != "fcn":
        raise ValueError("S3's per-frame models are given as a dict source -> model (one network per source).")
    return Separator("mask_cnn", config, tuple(config["sources"]), lambda magnitude: fcn_masks(network, magnitude),
                     network, meta or {})


def _bin_counts(predicted, targets, cutoff):
    """Per source: (hits, bins claimed, bins that are the source's, all bins), pooled over tracks."""
    if len(predicted) != len(targets) or not predicted:
        raise ValueError(f"Give one predicted and one target dict per track: {len(predicted)} and {len(targets)}.")
    counts = {}
    for estimate, target in zip(predicted, targets):
        for name, ideal in target.items():
            if name not in estimate or np.shape(estimate[name]) != np.shape(ideal):
                raise ValueError(f"No predicted {name!r} mask shaped {np.shape(ideal)}: predict every source of the "
                                 f"targets with the same STFT settings.")
            p, t = np.asarray(estimate[name]) >= cutoff, np.asarray(ideal).astype(bool)
            counts[name] = counts.get(name, 0) + np.array([np.sum(p & t), p.sum(), t.sum(), t.size])
    return counts


def mask_scores(predicted, targets, cutoff=0.5):
    """Bin accuracy of predicted masks, read properly: next to the all-zeros mask, with recall and precision.

    Used in: tests (08 uses `accuracy_against_trivial_masks`, which adds the all-ones mask and balanced accuracy).

    Accuracy alone rewards silence: where only 13 % of the bins are 1, a mask of zeros is 87 % accurate.
    Recall (the share of the source's bins found) and precision (the share of bins claimed that are the
    source's) show what the 1s are worth.

    Args:
        predicted: list of {source: mask} dicts (probabilities or 0/1), one per track (`predict_masks`).
        targets: list of {source: 0/1 mask} dicts of the same shapes (`binary_mask_targets`).
        cutoff: a predicted bin counts as 1 where it is >= cutoff.
    Returns:
        DataFrame indexed by source with columns accuracy, all-zeros accuracy, recall, precision, pooled
        over every bin of every track.
    """
    rows = {name: {"accuracy": (n - claimed - actual + 2 * hits) / n, "all-zeros accuracy": 1 - actual / n,
                   "recall": hits / max(actual, 1), "precision": hits / max(claimed, 1)}
            for name, (hits, claimed, actual, n) in _bin_counts(predicted, targets, cutoff).items()}
    return pd.DataFrame(rows).T


def accuracy_against_trivial_masks(predicted, targets, cutoff=0.5, margin=0.02):
    """Bin accuracy next to both trivial masks (all zeros, all ones), with balanced accuracy, recall and precision.

    Used in: 08_binary_mask_cnn.ipynb (section 6).

    Binary-mask targets are imbalanced (vocals: 1 bin in 6; drums: 2 in 3), so a mask that never (or always)
    says "source" is right on every bin of the larger class. An accuracy means something only above the better
    of the two trivial masks. Balanced accuracy, the mean of recall and specificity (the share of the other
    bins left out), is 0.5 for both trivial masks whatever the imbalance.

    Args:
        predicted, targets, cutoff: as `mask_scores`.
        margin: accuracy gains over the better trivial mask below this (a fraction: 0.02 = 2 points) are
            called "about as good as a trivial mask" in the verdict column.
    Returns:
        DataFrame indexed by source with columns accuracy, all-zeros accuracy, all-ones accuracy,
        over the better trivial mask (accuracy minus it, a fraction), balanced accuracy, recall, precision,
        and verdict (text), pooled over every bin of every track.
    """
    rows = {}
    for name, (hits, claimed, actual, n) in _bin_counts(predicted, targets, cutoff).items():
        accuracy = (n - claimed - actual + 2 * hits) / n
        trivial = max(1 - actual / n, actual / n)
        recall = hits / max(actual, 1)
        specificity = (n - claimed - actual + hits) / max(n - actual, 1)
        gain = accuracy - trivial
        rows[name] = {"accuracy": accuracy, "all-zeros accuracy": 1 - actual / n, "all-ones accuracy": actual / n,
                      "over the better trivial mask": gain, "balanced accuracy": (recall + specificity) / 2,
                      "recall": recall, "precision": hits / max(claimed, 1),
                      "verdict": ("below a trivial mask" if gain < 0 else "above both trivial masks" if gain >= margin
                                  else f"about as good as a trivial mask (less than {100 * margin:g} points above)")}
    return pd.DataFrame(rows).T.infer_objects()


def mask_activity(mask, source_magnitude, sr, rest_db=-40.0, bands_hz=(0, 2000, 5000)):
    """How far a source's mask follows the source: in its rests, where it sounds, over time, across frequency.

    Used in: 09_cnn_autoencoder.ipynb (section 7), 08_binary_mask_cnn.ipynb (section 9).

    A mask that lets the source through only where it sounds is near 0 in the source's rests. A mask that is
    a fixed filter (the same gain in every frame) is as open in the rests as anywhere else, and all its
    variation is across frequency: its "static share" (the share of the mask's variance explained by each
    bin's mean over time) is 1. The oracle ratio mask of the same song is the reference to read both against.

    Args:
        mask: the source's mask, (freq, frames) or (channels, freq, frames), values in [0, 1].
        source_magnitude: the true source's magnitude spectrogram, the same shape (`masks.stft` of the stem).
        sr: sample rate in Hz (the bins span 0 to sr / 2).
        rest_db: a frame is a *rest* where the source's energy is more than this many dB below its loudest frame.
        bands_hz: lower edges of the frequency bands whose mean gain is reported (the last band ends at sr / 2;
            edges at or above sr / 2 are left out).
    Returns:
        pandas Series: "rest frames" (share of the frames), "mean in the rests", "mean where it sounds",
        "static share", and "mean a-b kHz" for each band.
    """
    mask, source = np.asarray(mask, dtype=float), np.abs(np.asarray(source_magnitude, dtype=float))
    if mask.shape != source.shape or mask.ndim not in (2, 3):
        raise ValueError(f"mask {mask.shape} and source magnitude {source.shape} must have the same (freq, frames) or "
                         f"(channels, freq, frames) shape: compute both with the same STFT.")
    if not np.any(source):
        raise ValueError("The source is silent: it has no rests to compare with; pick a song where it sounds.")
    mask, source = (mask[None], source[None]) if mask.ndim == 2 else (mask, source)
    energy = np.sum(source ** 2, axis=(0, 1))
    level_db = 10 * np.log10(np.maximum(energy, 1e-20) / energy.max())
    rest = level_db < rest_db
    per_bin = mask.mean(axis=2, keepdims=True)
    total = np.var(mask)
    result = {"rest frames": rest.mean(),
              "mean in the rests": mask[..., rest].mean() if rest.any() else np.nan,
              "mean where it sounds": mask[..., ~rest].mean(),
              "static share": np.var(np.broadcast_to(per_bin, mask.shape)) / total if total > 0 else 1.0}
    hz = np.linspace(0, sr / 2, mask.shape[1])
    edges = [*(low for low in bands_hz if low < sr / 2), sr / 2 + 1]  # bands above sr / 2 are left out
    profile = mask.mean(axis=(0, 2))
    for low, high in zip(edges[:-1], edges[1:]):
        inside = (hz >= low) & (hz < high)
        result[f"mean {low / 1000:.3g}-{min(high, sr / 2) / 1000:.3g} kHz"] = profile[inside].mean()
    return pd.Series(result)


def describe_mask_activity(activity, name, reference="oracle IRM1", open_ratio=0.5, closed_ratio=0.2):
    """One sentence, from the numbers, on whether a mask follows its source or stays open like a fixed filter.

    Used in: 09_cnn_autoencoder.ipynb (section 7), 08_binary_mask_cnn.ipynb (section 9).

    Args:
        activity: DataFrame with one `mask_activity` Series per column, e.g. {"oracle IRM1": ..., "mask CNN": ...}.
        name: the column described; reference: the column it is read against (the oracle of the same song).
        open_ratio: the mask "stays open through the rests" when its mean in the rests is at least this share of
            its mean where the source sounds; closed_ratio: below this share it "closes" there, in between it
            "closes only partly".
    Returns:
        str.
    """
    for column in (name, reference):
        if column not in activity.columns:
            raise ValueError(f"No column {column!r} in activity; it has {list(activity.columns)}.")
    mask, ref = activity[name], activity[reference]
    rest, sounds = mask["mean in the rests"], mask["mean where it sounds"]
    bands = [label for label in activity.index if label.startswith("mean ") and label.endswith(" kHz")]
    if np.isnan(rest):
        timing = "the source has no rests in this excerpt, so whether the mask closes in them cannot be seen"
    elif rest >= open_ratio * sounds:
        timing = ("it stays open through the source's rests" + (", close to a fixed filter"
                                                               if mask["static share"] >= 0.5 else ""))
    else:
        ref_ratio = ref["mean in the rests"] / max(ref["mean where it sounds"], 1e-12)
        ratio = rest / max(sounds, 1e-12)
        partly = "only partly " if ratio >= closed_ratio else ""
        timing = (f"it closes {partly}in the source's rests, to {ratio:.0%} of its opening where the source sounds "
                  f"({reference}: {ref_ratio:.0%})")
    shape = (f"its mean gain is {'higher' if mask[bands[0]] > mask[bands[-1]] else 'not higher'} at "
             f"{bands[0][5:]} than at {bands[-1][5:]} ({mask[bands[0]]:.2f} vs {mask[bands[-1]]:.2f}; "
             f"{reference}: {ref[bands[0]]:.2f} vs {ref[bands[-1]]:.2f})")
    return (f"{name}: mean gain {rest:.2f} in the rests ({mask['rest frames']:.0%} of the frames) and {sounds:.2f} "
            f"where the source sounds ({reference}: {ref['mean in the rests']:.2f} and "
            f"{ref['mean where it sounds']:.2f}); {mask['static share']:.0%} of its variance is a fixed gain per bin "
            f"({reference}: {ref['static share']:.0%}). So {timing}; {shape}.")
