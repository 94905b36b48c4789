"""S1's CNN autoencoder (after Chandna et al. 2017): normalisation, network, loss, training, separation.

Used in: 09_cnn_autoencoder.ipynb, 10 (the grand comparison).

The network sees a block of `block_frames` frames (Chandna: 30) of one channel's magnitude STFT,
shaped (freq, time, 1), and outputs one magnitude estimate per source (inside, the block is transposed
to Chandna's (time, freq) layout; `build_autoencoder` says why):

    |X| -> normalise (MIN-MAX or CMVN, statistics of the training data, stored in the model)
        -> vertical conv (freq_span bins x 1 frame: across frequency, timbre)
        -> horizontal conv (1 bin x time_span frames: across time, how the timbre evolves)
        -> fully connected bottleneck (ReLU), shared by every source
        -> per source: fully connected (ReLU) back to the horizontal conv's shape, then two transposed
           convolutions mirroring the encoder (1 x time_span, then freq_span x 1)
        -> concatenate the k outputs o_i, ReLU
        -> soft masks f_i = (o_i + eps) / (sum_n o_n + k eps), which add up to exactly 1
        -> estimates f_i * |X|  (the model's outputs, on which the loss is computed)

The loss is the sum over sources of the mean squared error to the true magnitudes, optimised with
Adam, one update per mini-batch (Keras `fit`). To make audio, the estimates become ratio masks of
the mixture STFT (the same f_i) and `masks.apply_masks` inverts them with the mixture's phase, so the
estimates add up to the mixture and line up with it sample by sample. Whole tracks are cut into
blocks and joined again with the U-Net's `unet.predict_magnitudes`, so an oracle sent through the
same path reproduces the oracle separation exactly (tests/test_autoencoder.py checks this).

What went wrong in S1, and what this module does instead:
- gradients were accumulated over a whole epoch (one update per epoch): `train` uses Keras `fit`,
  one Adam step per mini-batch;
- the loss could turn into NaN silently: `train` stops at the first NaN/inf loss (TerminateOnNaN)
  and raises an error that says what to change;
- S1's stems were about 95 % silence, and scoring silent references gave SDRs near -139 dB:
  `evaluation.evaluate_track` leaves out silent stems, and the frames where a reference is silent are excluded
  by `evaluation.bss_eval_frames` / `evaluation.track_medians`;
- the two encoder convolutions (and the first transposed convolution) had no nonlinearity (as in
  Chandna's code, nonlinearity=None), so the encoder was one linear map before the bottleneck:
  `conv_activation="relu"` adds a ReLU after each of them ("linear" gives S1's network).
"""
import functools
import time

import numpy as np

from . import masks, unet
from .datasets import MUSDB_TARGETS, track_arrays
from .weights import build_and_load, read_weights_file, save_weights_file

NORMALISATIONS = ("minmax", "cmvn")
CONV_ACTIVATIONS = ("relu", "linear")
SAMPLE_CONFIG = {  # Chandna et al. 2017 on our 22.05-kHz sample: n_fft 1024 -> 513 bins, 30 frames = 0.36 s
    "sr": 22050, "n_fft": 1024, "hop_length": 256, "block_frames": 30,
    "freq_span": 513, "time_span": 15, "conv_filters": 50, "bottleneck": 128,
    "sources": list(MUSDB_TARGETS), "normalisation": "cmvn", "conv_activation": "relu",
    "epsilon": 1e-8, "learning_rate": 1e-3,
}
FULL_CONFIG = {**SAMPLE_CONFIG, "sr": 44100}  # MUSDB18's rate; n_fft 1024 still gives 513 bins (23 ms)
_MODEL_KEYS = ("block_frames", "freq_span", "time_span", "conv_filters", "bottleneck", "sources",
               "conv_activation", "epsilon")


# ---------------------------------------------------------------- configuration

def check_config(config):
    """Validate an autoencoder configuration (like SAMPLE_CONFIG) and return it.

    Used in: 09_cnn_autoencoder.ipynb, 10; every function here that takes a config.

    Args:
        config: dict with sr (Hz), n_fft, hop_length (samples), block_frames (T), freq_span, time_span
            (kernel sizes in bins and frames), conv_filters, bottleneck, sources (names), normalisation
            ("minmax" or "cmvn"), conv_activation ("relu" or "linear"), epsilon, learning_rate.
    Returns:
        the same dict.
    """
    missing = set(SAMPLE_CONFIG) - set(config)
    if missing:
        raise ValueError(f"config lacks {sorted(missing)}; start from autoencoder.SAMPLE_CONFIG, e.g. "
                         f"{{**autoencoder.SAMPLE_CONFIG, 'block_frames': 20}}.")
    freq = config["n_fft"] // 2 + 1
    if not 0 < config["hop_length"] <= config["n_fft"] // 4:
        raise ValueError(f"hop_length must be in (0, n_fft / 4] for an exact inverse STFT, got {config['hop_length']}.")
    if not 1 <= config["time_span"] < config["block_frames"]:
        raise ValueError(f"time_span must be in [1, block_frames={config['block_frames']}) (Chandna: 15 of 30 "
                         f"frames), got {config['time_span']}.")
    if not 1 <= config["freq_span"] <= freq:
        raise ValueError(f"freq_span must be in [1, {freq}] (n_fft // 2 + 1 bins; Chandna uses all of them), got "
                         f"{config['freq_span']}.")
    sources = list(config["sources"])
    if not sources or len(set(sources)) != len(sources) or not all(isinstance(s, str) for s in sources):
        raise ValueError(f"sources must be distinct names such as {list(MUSDB_TARGETS)}, got {config['sources']!r}.")
    if config["normalisation"] not in NORMALISATIONS:
        raise ValueError(f"normalisation must be one of {NORMALISATIONS}, got {config['normalisation']!r}.")
    if config["conv_activation"] not in CONV_ACTIVATIONS:
        raise ValueError(f"conv_activation must be one of {CONV_ACTIVATIONS}, got {config['conv_activation']!r}.")
    return config


def _stft_config(config):
    """The keys `unet.predict_magnitudes` reads: blocks of block_frames frames, no padding (n_levels 0)."""
    return {"n_fft": config["n_fft"], "hop_length": config["hop_length"],
            "segment_frames": config["block_frames"], "n_levels": 0}


# ---------------------------------------------------------------- normalisation

def normalisation_stats(magnitudes, method="cmvn"):
    """Per-frequency statistics of training magnitudes for MIN-MAX or CMVN normalisation.

    Used in: 09_cnn_autoencoder.ipynb (S1 compared both), 10.

    MIN-MAX maps each frequency bin's training range to [0, 1]: shift = min, scale = max - min.
    CMVN (cepstral mean and variance normalisation) gives each bin zero mean and unit variance:
    shift = mean, scale = standard deviation. Either way `normalise` computes (|X| - shift) / scale.
    A bin that never changes (scale 0) gets scale 1e-6 of the largest one, so nothing divides by zero.

    Args:
        magnitudes: training magnitudes (..., freq, frames), e.g. the blocks x[..., 0] of
            `training_blocks` (n_blocks, freq, block_frames) or one STFT (channels, freq, frames).
        method: "minmax" or "cmvn".
    Returns:
        {"method": method, "shift": (freq,) array, "scale": (freq,) array of positive numbers}.
    """
    if method not in NORMALISATIONS:
        raise ValueError(f"method must be one of {NORMALISATIONS}, got {method!r}.")
    mags = _as_spectrogram(magnitudes)
    per_bin = np.moveaxis(mags, -2, 0).reshape(mags.shape[-2], -1)
    if method == "minmax":
        shift, scale = per_bin.min(axis=1), np.ptp(per_bin, axis=1)
    else:
        shift, scale = per_bin.mean(axis=1), per_bin.std(axis=1)
    scale = np.maximum(scale, 1e-6 * scale.max() if scale.max() > 0 else 1.0)
    return {"method": method, "shift": shift, "scale": scale}


def _as_spectrogram(values):
    """Validate a finite (..., freq, frames) array; return it as float64."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim < 2 or values.size == 0:
        raise ValueError(f"Expected a spectrogram (..., freq, frames), got shape {values.shape}; for blocks "
                         f"(n_blocks, freq, frames, 1) pass x[..., 0].")
    if not np.all(np.isfinite(values)):
        raise ValueError("The spectrogram contains NaN or infinite values: check the audio it was computed from.")
    return values


def _check_stats(stats, freq):
    if not isinstance(stats, dict) or {"shift", "scale"} - set(stats):
        raise ValueError("stats must be the dict returned by normalisation_stats.")
    shift, scale = np.asarray(stats["shift"], np.float64), np.asarray(stats["scale"], np.float64)
    if shift.shape != (freq,) or scale.shape != (freq,) or np.any(scale <= 0):
        raise ValueError(f"stats are for {shift.shape} bins (scales > 0 needed) but the data have {freq} bins: "
                         f"compute them with normalisation_stats on magnitudes of the same n_fft.")
    return shift, scale


def normalise(magnitude, stats):
    """Apply training statistics to any magnitudes: (|X| - shift) / scale in every frequency bin.

    Used in: 09_cnn_autoencoder.ipynb (to look at the network's input); the model does the same in its first layer.

    Args:
        magnitude: (..., freq, frames) magnitudes.
        stats: from `normalisation_stats` on the training data.
    Returns:
        array shaped like `magnitude`.
    """
    magnitude = _as_spectrogram(magnitude)
    shift, scale = _check_stats(stats, magnitude.shape[-2])
    return (magnitude - shift[:, None]) / scale[:, None]


def denormalise(features, stats):
    """Inverse of `normalise`: features * scale + shift, back to magnitudes.

    Used in: 09_cnn_autoencoder.ipynb (to plot normalised data in magnitude units).

    Args:
        features: (..., freq, frames) normalised values.
        stats: the statistics they were normalised with.
    Returns:
        magnitudes shaped like `features`.
    """
    features = _as_spectrogram(features)
    shift, scale = _check_stats(stats, features.shape[-2])
    return features * scale[:, None] + shift[:, None]


@functools.cache
def _normalisation_layer():
    """The Keras layer class that normalises inside the model (defined on first use: keras loads slowly)."""
    import keras
    from keras import ops

    class Normalise(keras.layers.Layer):
        """(x - shift) / scale per frequency bin of (batch, freq, time, 1); shift and scale are fixed weights."""

        def __init__(self, freq_bins, **kwargs):
            super().__init__(**kwargs)
            self.shift = self.add_weight(shape=(freq_bins,), initializer="zeros", trainable=False, name="shift")
            self.scale = self.add_weight(shape=(freq_bins,), initializer="ones", trainable=False, name="scale")

        def call(self, x):
            return (x - ops.reshape(self.shift, (-1, 1, 1))) / ops.reshape(self.scale, (-1, 1, 1))

    return Normalise


# ---------------------------------------------------------------- network

def soft_masks(outputs, epsilon=1e-8):
    """Chandna's soft masks f_i = (o_i + eps) / (sum_n o_n + k eps) over the last axis.

    Used in: 09_cnn_autoencoder.ipynb; the model's "soft_masks" layer.

    The epsilon is added to every output (DeepConvSep adds eps-sized noise), so the k masks add up
    to exactly 1 and bins where every output is 0 are shared equally, as in `masks.ratio_masks`.

    Args:
        outputs: (..., k) non-negative network outputs o_i (numpy array or tensor).
        epsilon: small positive number.
    Returns:
        tensor shaped like `outputs`, values in [0, 1] (np.asarray turns it into an array).
    """
    from keras import ops

    outputs = ops.convert_to_tensor(outputs)
    k = outputs.shape[-1]
    return (outputs + epsilon) / (ops.sum(outputs, axis=-1, keepdims=True) + k * epsilon)


def sum_of_mse(y_true, y_pred):
    """S1's loss: the sum over sources of the mean squared error of each source's magnitude.

    Used in: 09_cnn_autoencoder.ipynb; the loss `build_autoencoder` compiles with.

    Args:
        y_true, y_pred: (batch, freq, time, k) true and estimated magnitudes.
    Returns:
        (batch,) loss per example (Keras averages it over the batch).
    """
    from keras import ops

    return ops.sum(ops.mean(ops.square(y_true - y_pred), axis=(1, 2)), axis=-1)


def build_autoencoder(freq_bins, block_frames=30, sources=MUSDB_TARGETS, freq_span=None, time_span=15,
                      conv_filters=50, bottleneck=128, conv_activation="relu", epsilon=1e-8, learning_rate=1e-3,
                      stats=None, name="cnn_autoencoder"):
    """Chandna et al.'s convolutional autoencoder with one decoder per source, compiled with Adam and `sum_of_mse`.

    Used in: 09_cnn_autoencoder.ipynb, 10 (the grand comparison).

    Layers (valid padding; F = freq_bins, T = block_frames, N = conv_filters): normalise (fixed
    weights: `stats`), transpose to Chandna's (time, freq) layout, Conv2D N x (1, freq_span) ->
    (T, F - freq_span + 1, N), Conv2D N x (time_span, 1) -> (T - time_span + 1, F - freq_span + 1, N),
    Dense bottleneck (ReLU); per source: Dense (ReLU) to the horizontal conv's size, reshape,
    Conv2DTranspose N x (time_span, 1), Conv2DTranspose 1 x (1, freq_span) -> (T, F, 1); then
    concatenate, transpose back to (F, T, k), ReLU, `soft_masks`, times |X|.
    Chandna's code and S1's left both encoder convolutions and the first transposed convolution
    linear; with conv_activation="relu" (our default) each is followed by a ReLU, since two linear
    convolutions in a row are just one linear map.
    Why the transpose: on the CPU, TensorFlow 2.21's oneDNN convolution aborts the whole Python
    process (a fatal check, not an exception) for Conv2D kernels more than about 450 rows tall, such
    as (513, 1); the same kernel lying along the width, (1, 513), works and computes the same thing.

    Args:
        freq_bins: F = n_fft // 2 + 1 (513 for n_fft 1024).
        block_frames: T, frames per block (Chandna: 30).
        sources: names of the k outputs, in order (MUSDB: vocals, drums, bass, other).
        freq_span: length of the vertical kernel in bins (None: all F bins, as Chandna).
        time_span: length of the horizontal kernel in frames (Chandna: T / 2 = 15).
        conv_filters: N (Chandna: 50); bottleneck: units of the shared layer (Chandna, S1: 128).
        conv_activation: "relu" or "linear" (S1, Chandna).
        epsilon: of `soft_masks`; learning_rate: of Adam.
        stats: `normalisation_stats` of the training data (None: shift 0, scale 1; `load_autoencoder`
            then loads the stored ones).
    Returns:
        compiled keras.Model mapping (batch, F, T, 1) mixture magnitudes to (batch, F, T, k) estimates;
        `model.course_config` holds the architecture (checked when loading weights).
    """
    import keras
    from keras import layers

    if not isinstance(freq_bins, (int, np.integer)) or freq_bins < 2:
        raise ValueError(f"freq_bins must be n_fft // 2 + 1 >= 2 (513 for n_fft 1024), got {freq_bins!r}.")
    freq_span = freq_bins if freq_span is None else freq_span
    check_config({**SAMPLE_CONFIG, "n_fft": 2 * (freq_bins - 1), "hop_length": 1, "block_frames": block_frames,
                  "freq_span": freq_span, "time_span": time_span, "sources": list(sources),
                  "conv_activation": conv_activation})
    activation = None if conv_activation == "linear" else conv_activation
    magnitude = keras.Input((freq_bins, block_frames, 1), name="mixture_magnitude")
    normaliser = _normalisation_layer()(freq_bins, name="normalise")
    x = layers.Permute((2, 1, 3), name="to_time_freq")(normaliser(magnitude))  # (T, F, 1), Chandna's layout
    x = layers.Conv2D(conv_filters, (1, freq_span), activation=activation, name="vertical_conv")(x)
    x = layers.Conv2D(conv_filters, (time_span, 1), activation=activation, name="horizontal_conv")(x)
    code_shape = tuple(x.shape[1:])
    code = layers.Dense(bottleneck, activation="relu", name="bottleneck")(layers.Flatten()(x))
    outputs = []
    for source in sources:
        y = layers.Dense(int(np.prod(code_shape)), activation="relu", name=f"{source}_dense")(code)
        y = layers.Reshape(code_shape, name=f"{source}_reshape")(y)
        y = layers.Conv2DTranspose(conv_filters, (time_span, 1), activation=activation,
                                   name=f"{source}_horizontal_deconv")(y)
        outputs.append(layers.Conv2DTranspose(1, (1, freq_span), name=f"{source}_vertical_deconv")(y))
    o = layers.Concatenate(name="outputs")(outputs) if len(outputs) > 1 else outputs[0]
    o = layers.Permute((2, 1, 3), name="to_freq_time")(o)  # back to (F, T, k)
    # float32 masks, outputs and loss even when the rest computes in float16 (training.use_mixed_precision)
    o = layers.ReLU(name="outputs_relu", dtype="float32")(o)
    f = layers.Lambda(lambda t: soft_masks(t, epsilon), name="soft_masks", dtype="float32")(o)
    estimates = layers.Multiply(name="magnitude_estimates", dtype="float32")([f, magnitude])
    model = keras.Model(magnitude, estimates, name=name)
    if stats is not None:
        normaliser.set_weights(list(_check_stats(stats, freq_bins)))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=sum_of_mse)
    model.course_config = {"freq_bins": int(freq_bins), "block_frames": int(block_frames),
                           "freq_span": int(freq_span), "time_span": int(time_span),
                           "conv_filters": int(conv_filters), "bottleneck": int(bottleneck),
                           "sources": list(sources), "conv_activation": conv_activation, "epsilon": float(epsilon)}
    return model


def build_from_config(config, stats=None):
    """Build and compile the autoencoder for a configuration such as SAMPLE_CONFIG.

    Used in: 09_cnn_autoencoder.ipynb, 10 (the grand comparison).

    Args:
        config: see `check_config`.
        stats: `normalisation_stats(..., config["normalisation"])` of the training data.
    Returns:
        the compiled keras.Model of `build_autoencoder`.
    """
    config = check_config(config)
    if stats is not None and stats.get("method", config["normalisation"]) != config["normalisation"]:
        raise ValueError(f"stats were computed with {stats['method']!r} but config['normalisation'] is "
                         f"{config['normalisation']!r}: recompute them with normalisation_stats(..., "
                         f"{config['normalisation']!r}).")
    return build_autoencoder(config["n_fft"] // 2 + 1, **{k: config[k] for k in _MODEL_KEYS},
                             learning_rate=config["learning_rate"], stats=stats)


# ---------------------------------------------------------------- data and training

def _song_arrays(song, config):
    """(mixture, {source: audio}) of a musdb track or a (mixture, sources, sr) tuple, checked against config."""
    is_tuple = isinstance(song, tuple)
    label = "a (mixture, sources, sr) song" if is_tuple else f"track {song.name}"
    missing = [name for name in config["sources"] if name not in (song[1] if is_tuple else song.targets)]
    if missing:
        raise ValueError(f"config['sources'] lists {missing}, but {label} has only "
                         f"{sorted(song[1] if is_tuple else song.targets)}: choose sources the tracks have, "
                         f"e.g. {{**config, 'sources': {list(MUSDB_TARGETS)}}}.")
    mixture, stems, sr = song if is_tuple else track_arrays(song, config["sources"])
    mixture = masks.check_separator_input(mixture, sr, config, label[0].upper() + label[1:], allow_silent=True)
    return mixture, masks.check_sources({name: stems[name] for name in config["sources"]}, mixture)


def training_blocks(songs, config):
    """Cut songs into (mixture block, source blocks) training pairs, every channel and block, all stems aligned.

    Used in: 09_cnn_autoencoder.ipynb, 10 (the grand comparison).

    Each song's STFT is computed once and cut into consecutive blocks of block_frames frames with
    `unet.split_frames` (the last block zero-padded), the mixture and every source at the same frames.
    Blocks whose mixture is exactly silent are dropped: there is nothing to separate in them.

    Args:
        songs: musdb tracks (`load_musdb(...).tracks`) or (mixture, {source: audio}, sr) tuples as
            `datasets.track_arrays` returns, with audio (n,) or (n, channels).
        config: see `check_config`; its sources must be stems of every song.
    Returns:
        x (n_blocks, F, T, 1) mixture magnitudes and y (n_blocks, F, T, k) source magnitudes, float32.
    """
    config = check_config(config)
    if len(songs) == 0:
        raise ValueError("songs is empty: pass the training tracks, e.g. "
                         "cu.load_musdb('sample', subsets='train').tracks.")
    xs, ys = [], []
    for song in songs:
        mixture, stems = _song_arrays(song, config)
        spectra = [np.abs(masks.stft(audio, config["n_fft"], config["hop_length"]))
                   for audio in (mixture, *stems.values())]
        blocks = [unet.split_frames(spec, config["block_frames"], multiple=1)[0] for spec in spectra]
        audible = blocks[0].reshape(len(blocks[0]), -1).max(axis=1) > 0
        xs.append(blocks[0][audible])
        ys.append(np.concatenate(blocks[1:], axis=-1)[audible])
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys).astype(np.float32)


def chunk_examples(chunk, config):
    """Full-mode training blocks of one chunk read from disk: `training_blocks` of the chunk as a short song.

    Used in: scripts/train_autoencoder.py (`training.chunk_dataset` calls it for every chunk it reads).

    Args:
        chunk: dict from `training.read_chunk` (mixture and the stems as (n, channels) arrays).
        config: see `check_config`.
    Returns:
        (x (n_blocks, F, T, 1), y (n_blocks, F, T, k)) float32; silent blocks are left out, so n_blocks may be 0.
    """
    return training_blocks([(chunk["mixture"], {name: chunk[name] for name in config["sources"]}, config["sr"])],
                           config)


def example_shapes(config):
    """((F, T, 1), (F, T, k)): the shapes of one training block for `config`.

    Used in: scripts/train_autoencoder.py.
    """
    freq, frames = config["n_fft"] // 2 + 1, config["block_frames"]
    return (freq, frames, 1), (freq, frames, len(config["sources"]))


def train(model, x, y, epochs=10, batch_size=16, validation_data=None, verbose=0):
    """Train with one Adam update per mini-batch (Keras fit), stopping with a clear error if the loss turns NaN.

    Used in: 09_cnn_autoencoder.ipynb, 10 (the grand comparison).

    S1 summed the gradients of a whole epoch before one update; here every mini-batch of `batch_size`
    blocks makes one update, in a new random order every epoch. TerminateOnNaN stops training at the
    first NaN or infinite loss, and the error then says what to change.

    Args:
        model: from `build_from_config` (compiled).
        x: (n_blocks, F, T, 1) mixture magnitudes; y: (n_blocks, F, T, k) source magnitudes (`training_blocks`).
        epochs: passes over the blocks; batch_size: blocks per update.
        validation_data: optional (x_val, y_val) in the same layout, scored after every epoch.
        verbose: Keras' verbosity (0 silent, 2 one line per epoch).
    Returns:
        dict of per-epoch lists: "loss" (and "val_loss"), and "seconds" (wall-clock time of each epoch).
    """
    import keras

    for label, (inputs, targets) in {"training": (x, y), "validation": validation_data or (x, y)}.items():
        _check_blocks(model, inputs, targets, label)
    starts, seconds = [], []
    timer = keras.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: starts.append(time.perf_counter()),
        on_epoch_end=lambda epoch, logs: seconds.append(time.perf_counter() - starts[-1]))
    history = model.fit(np.asarray(x, np.float32), np.asarray(y, np.float32), batch_size=batch_size, epochs=epochs,
                        shuffle=True, validation_data=validation_data, verbose=verbose,
                        callbacks=[keras.callbacks.TerminateOnNaN(), timer]).history
    if not np.all(np.isfinite(history["loss"])):
        raise RuntimeError(f"Training stopped in epoch {len(history['loss'])}: the loss became NaN or infinite. Lower "
                           f"the learning rate (config['learning_rate'], e.g. 1e-4), check the normalisation "
                           f"statistics, and rebuild the model (its weights are now unusable).")
    return {**{key: list(map(float, values)) for key, values in history.items()}, "seconds": seconds}


def train_on_remixes(model, songs, config, val_songs, epochs=40, remixes_per_epoch=16, batch_size=16, patience=8,
                     seed=0, log=None):
    """Train on fresh remixes of the songs every epoch; keep the weights of the best validation epoch.

    Used in: 09_cnn_autoencoder.ipynb; scripts/train_autoencoder.py.

    Every epoch sees the songs themselves plus `remixes_per_epoch` new mixtures of their stems
    (`datasets.remix_tracks`), so 8 songs never repeat exactly and the network cannot memorise them.
    After each epoch the loss on `val_songs` (never trained on) decides: the best weights are kept, and
    training stops after `patience` epochs without improvement (early stopping).

    Args:
        model: from `build_from_config(config, stats)` (compiled; its optimizer state carries over epochs).
        songs, val_songs: (mixture, {source: audio}, sr) tuples (`datasets.track_arrays`).
        config: the model's configuration.
        epochs: at most this many epochs; remixes_per_epoch: new mixtures per epoch (0: the songs only).
        batch_size: blocks per Adam update; patience: epochs without a better validation loss before stopping.
        seed: seed of the remixes (epoch e uses seed + e).
        log: optional function called with one line of text per epoch (e.g. print).
    Returns:
        dict of per-epoch lists "loss", "val_loss", "seconds", and "best_epoch" (1-based); the model holds
        the best epoch's weights.
    """
    from .datasets import remix_tracks

    if epochs < 1 or patience < 1 or remixes_per_epoch < 0:
        raise ValueError(f"epochs and patience must be >= 1 and remixes_per_epoch >= 0; got {epochs}, {patience}, "
                         f"{remixes_per_epoch}.")
    if not val_songs:
        raise ValueError("val_songs is empty: hold out at least one song to decide when to stop.")
    x_val, y_val = training_blocks(val_songs, config)
    x_songs, y_songs = training_blocks(songs, config)  # the songs' own blocks, the same every epoch
    history = {"loss": [], "val_loss": [], "seconds": []}
    best, best_loss = None, np.inf
    for epoch in range(epochs):
        x, y = x_songs, y_songs
        if remixes_per_epoch:
            x_new, y_new = training_blocks(remix_tracks(list(songs), remixes_per_epoch, seed=seed + epoch), config)
            x, y = np.concatenate([x_songs, x_new]), np.concatenate([y_songs, y_new])
        one = train(model, x, y, epochs=1, batch_size=batch_size, validation_data=(x_val, y_val))
        for key in ("loss", "val_loss", "seconds"):
            history[key] += one[key]
        if history["val_loss"][-1] < best_loss:
            best, best_loss, history["best_epoch"] = model.get_weights(), history["val_loss"][-1], epoch + 1
        if log:
            log(f"epoch {epoch + 1}: loss {history['loss'][-1]:.4f}, validation {history['val_loss'][-1]:.4f}"
                f"{' (best)' if history['best_epoch'] == epoch + 1 else ''}, {history['seconds'][-1]:.0f} s")
        if epoch + 1 - history["best_epoch"] >= patience:
            break
    model.set_weights(best)
    return history


def _check_blocks(model, x, y, label):
    x, y = np.asarray(x), np.asarray(y)
    expected = tuple(model.input_shape[1:])
    k = model.output_shape[-1]
    if x.ndim != 4 or tuple(x.shape[1:]) != expected:
        raise ValueError(f"{label} inputs must be (n_blocks, {', '.join(map(str, expected))}), got {x.shape}: "
                         f"make them with training_blocks and the model's configuration.")
    if y.shape != (*x.shape[:3], k):
        raise ValueError(f"{label} targets must be {(*x.shape[:3], k)} (one magnitude per source), got {y.shape}.")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError(f"{label} blocks contain NaN or infinite values: check the audio they were computed from.")


# ---------------------------------------------------------------- weights

def save_weights(model, path, config, history=None):
    """Save the autoencoder's weights (normalisation statistics included) with its configuration (.npz).

    Used in: 09_cnn_autoencoder.ipynb (to ship sample-mode weights), 10.

    Args:
        model: from `build_from_config(config)`.
        path: output file (.npz).
        config: the configuration it was trained with.
        history: optional result of `train`, stored with the weights.
    """
    save_weights_file(model, path, "autoencoder", {"config": dict(check_config(config)),
                                    "layers": dict(model.course_config), "history": history or {}})


def load_autoencoder(path, config=None):
    """Build the autoencoder a weights file was trained for and load its weights, checking that they fit.

    Used in: 09_cnn_autoencoder.ipynb, 10 (the grand comparison).

    Args:
        path: a .npz written by `save_weights`.
        config: optional configuration the caller expects; any difference from the file's is an error.
    Returns:
        (model, meta): the compiled Keras model and the file's metadata (config, history).
    Raises:
        FileNotFoundError: no such file. ValueError: another configuration, or arrays that do not fit.
    """
    meta, arrays = read_weights_file(path, "autoencoder", "train a model and save it with autoencoder.save_weights "
                                                          "first")
    return build_and_load(path, meta, arrays, build_from_config, config, layers_key="layers"), meta


# ---------------------------------------------------------------- separation

def predict_magnitudes(mixture, model, config, batch_size=16):
    """Magnitude estimates of every source for a whole mixture: STFT once, blocks, predict in batches, join.

    Used in: 09_cnn_autoencoder.ipynb, 10; `separate`.

    Args:
        mixture: (n,) or (n, channels) audio at config["sr"].
        model: a Keras model from `build_from_config`, or any function mapping (batch, F, T, 1)
            magnitude blocks to (batch, F, T, k) estimates (tests pass the true magnitudes through here).
        config: its configuration.
        batch_size: blocks per call of the Keras model.
    Returns:
        ({source: estimate shaped like the mixture STFT magnitude, (freq, frames) or (channels, freq, frames)},
        mixture magnitude).
    """
    config = check_config(config)
    mixture = masks.check_separator_input(mixture, config["sr"], config)
    estimates, magnitude = unet.predict_magnitudes(mixture, model, _stft_config(config), batch_size)
    if len(estimates) != len(config["sources"]):
        raise ValueError(f"The model gives {len(estimates)} outputs but config['sources'] names "
                         f"{len(config['sources'])}: use the configuration the model was built with.")
    return dict(zip(config["sources"], estimates.values())), magnitude


def separate(mixture, sr, model, config, batch_size=16):
    """Separate a whole mixture into config["sources"] with a trained autoencoder.

    Used in: 09_cnn_autoencoder.ipynb, 10 (the grand comparison).

    The estimated magnitudes become ratio masks of the mixture STFT (exactly the model's soft masks
    where |X| > 0), applied with the mixture's phase by `masks.apply_masks`.

    Args:
        mixture: (n,) or (n, channels) audio, at least n_fft samples.
        sr: its sample rate in Hz (must be config["sr"]).
        model, config: a trained model and its configuration (see `load_autoencoder`), or any function
            as in `predict_magnitudes`.
        batch_size: blocks per call of the model.
    Returns:
        {source: estimate shaped like `mixture`}, sample-aligned with it; the estimates add up to the mixture.
    """
    masks.check_separator_input(None, sr, config)
    estimates, _ = predict_magnitudes(mixture, model, config, batch_size)
    return masks.separate_with_masks(mixture, estimates, 1.0, config["n_fft"], config["hop_length"])
