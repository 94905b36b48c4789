"""S1's CNN autoencoder (after Chandna et al. 2017): normalisation, network, loss, training, the separator.

Used in: 09_cnn_autoencoder.ipynb, 11 (the grand comparison); scripts/train_autoencoder.py.

The network sees a block of `block_frames` frames (Chandna: 30) of one channel's magnitude STFT,
shaped (freq, time, 1), and outputs one magnitude estimate per source:

    |X| -> normalise (MIN-MAX or CMVN, statistics of the training data, stored in the model)
        -> vertical convolution (a kernel over all F bins x 1 frame: the timbre of each frame)
        -> horizontal convolution (time_span frames: how the timbre evolves)
        -> fully connected bottleneck (ReLU), shared by every source
        -> per source: fully connected (ReLU) back to the horizontal convolution's shape, then two transposed
           convolutions mirroring the encoder (time_span frames, then all F bins)
        -> the k outputs o_i, ReLU
        -> soft masks f_i = (o_i + eps) / (sum_n o_n + k eps), which add up to exactly 1
        -> estimates f_i * |X|  (the model's outputs, on which the loss is computed)

The loss is the sum over sources of the mean squared error to the true magnitudes, optimised with
Adam, one update per mini-batch. To make audio, `as_separator` wraps a trained network in the course's
`separator.Separator`: a whole song's magnitude is cut into half-overlapping blocks (`masks.split_blocks`),
the network's estimates are cross-faded back (`masks.join_blocks`) and turned into ratio masks (exactly the
network's soft masks where |X| > 0), and `separator.separate(mixture, sr, model)` applies them to the mixture
STFT (mixture phase, or the multichannel Wiener filter), so the estimates add up to the mixture and line up with
it sample by sample. An oracle network that outputs the true magnitudes gets the oracle ratio mask IRM1 through
the same path (tests/test_autoencoder.py).

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

What differs from Chandna's network, and why:
- the vertical convolution and the last transposed convolution span all F bins, as Chandna's do, and are computed
  as what they then are, one dense layer applied to every frame (and the horizontal ones as 1-D convolutions over
  time): the same maps, 2.5-4x faster on a CPU than 2-D convolutions with a 513-bin kernel. The last layer has one
  bias per bin (513) where a transposed convolution with one filter has one, so there are 2,048 more parameters;
- a song is separated in half-overlapping blocks whose estimates are cross-faded, not in disjoint blocks: no frame
  is estimated only from the edge of a block.
"""
import functools
import time

import numpy as np

from . import masks
from .datasets import MUSDB_TARGETS, Track, as_track, remix_tracks
from .separator import Separator
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


def weights_name(normalisation, mode="rendered"):
    """File name of a trained autoencoder: mode "rendered" (the rendered training set, --train-root; shipped),
    "full" (MUSDB18, --full) or "sample" (the 8 bundled songs); normalisation: "minmax" or "cmvn"."""
    return f"autoencoder_{mode}_{normalisation}.npz"


#: the shipped model notebooks 09 and 11 and benchmarks/separation_speed.py load (`weights.weights_dir()` / this):
#: of the two normalisations, the one with the lower loss on the rendered set's validation songs
DEFAULT_NORMALISATION = "cmvn"
DEFAULT_WEIGHTS = weights_name(DEFAULT_NORMALISATION)
_MODEL_KEYS = ("block_frames", "freq_span", "time_span", "conv_filters", "bottleneck", "sources",
               "conv_activation", "epsilon")


# ---------------------------------------------------------------- configuration

def check_config(config):
    """Validate an autoencoder configuration (like SAMPLE_CONFIG) and return it.

    Used in: 09_cnn_autoencoder.ipynb, 11; every function here that takes a config.

    Args:
        config: dict with sr (Hz), n_fft, hop_length (samples), block_frames (T), freq_span, time_span
            (kernel sizes in bins and frames; freq_span is every bin, n_fft // 2 + 1), conv_filters, bottleneck,
            sources (names), normalisation
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
    if config["freq_span"] != freq:
        raise ValueError(f"freq_span must be n_fft // 2 + 1 = {freq}: the vertical convolution spans every bin, as "
                         f"Chandna's does; got {config['freq_span']}.")
    sources = list(config["sources"])
    if not sources or len(set(sources)) != len(sources) or not all(isinstance(s, str) for s in sources):
        raise ValueError(f"sources must be distinct names such as {list(MUSDB_TARGETS)}, got {config['sources']!r}.")
    if config["normalisation"] not in NORMALISATIONS:
        raise ValueError(f"normalisation must be one of {NORMALISATIONS}, got {config['normalisation']!r}.")
    if config["conv_activation"] not in CONV_ACTIVATIONS:
        raise ValueError(f"conv_activation must be one of {CONV_ACTIVATIONS}, got {config['conv_activation']!r}.")
    return config


# ---------------------------------------------------------------- normalisation

def normalisation_stats(magnitudes, method="cmvn"):
    """Per-frequency statistics of training magnitudes for MIN-MAX or CMVN normalisation.

    Used in: 09_cnn_autoencoder.ipynb (S1 compared both), 11.

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

    Used in: 09_cnn_autoencoder.ipynb, 11 (the grand comparison).

    Layers (valid padding; F = freq_bins, T = block_frames, N = conv_filters): normalise (fixed
    weights: `stats`), transpose to Chandna's (time, freq) layout, the vertical convolution (N filters over
    all F bins of one frame -> (T, N); a kernel as tall as its input is one dense layer applied to every
    frame, which is how it is computed), the horizontal convolution (N filters over time_span frames ->
    (T - time_span + 1, N)), Dense bottleneck (ReLU); per source: Dense (ReLU) to the horizontal
    convolution's size, reshape, transposed horizontal convolution (N x time_span frames -> (T, N)),
    transposed vertical convolution (every frame back to F bins -> (T, F)); then stack, transpose back to
    (F, T, k), ReLU, `soft_masks`, times |X|.
    Chandna's code and S1's left both encoder convolutions and the first transposed convolution
    linear; with conv_activation="relu" (our default) each is followed by a ReLU, since two linear
    convolutions in a row are just one linear map.

    Args:
        freq_bins: F = n_fft // 2 + 1 (513 for n_fft 1024).
        block_frames: T, frames per block (Chandna: 30).
        sources: names of the k outputs, in order (MUSDB: vocals, drums, bass, other).
        freq_span: the vertical kernel's length in bins: every bin, F (None: F).
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
    x = layers.Reshape((block_frames, freq_bins), name="frames")(x)
    x = layers.Dense(conv_filters, activation=activation, name="vertical_conv")(x)  # (T, N)
    x = layers.Conv1D(conv_filters, time_span, activation=activation, name="horizontal_conv")(x)  # (T - ts + 1, N)
    code_shape = tuple(x.shape[1:])
    code = layers.Dense(bottleneck, activation="relu", name="bottleneck")(layers.Flatten()(x))
    outputs = []
    for source in sources:
        y = layers.Dense(int(np.prod(code_shape)), activation="relu", name=f"{source}_dense")(code)
        y = layers.Reshape(code_shape, name=f"{source}_reshape")(y)
        y = layers.Conv1DTranspose(conv_filters, time_span, activation=activation,
                                   name=f"{source}_horizontal_deconv")(y)  # (T, N)
        y = layers.Dense(freq_bins, name=f"{source}_vertical_deconv")(y)  # (T, F)
        outputs.append(layers.Reshape((block_frames, freq_bins, 1), name=f"{source}_output")(y))
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
                           "sources": list(sources), "conv_activation": conv_activation, "epsilon": float(epsilon),
                           "layers": "dense-conv1d"}
    return model


def build_from_config(config, stats=None):
    """Build and compile the autoencoder for a configuration such as SAMPLE_CONFIG.

    Used in: 09_cnn_autoencoder.ipynb, 11 (the grand comparison).

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

def training_blocks(songs, config):
    """Cut songs into (mixture block, source blocks) training pairs, every channel and block, all stems aligned.

    Used in: 09_cnn_autoencoder.ipynb, 11 (the grand comparison); `chunk_examples`.

    Each song's STFT is computed once and cut into consecutive blocks of block_frames frames with
    `masks.split_blocks` (no overlap; the last block zero-padded), the mixture and every source at the same
    frames. Blocks whose mixture is exactly silent are dropped: there is nothing to separate in them.

    Args:
        songs: musdb tracks (`load_musdb(...).tracks`) or `datasets.Track`s / (mixture, {source: audio}, sr)
            tuples, with audio (n,) or (n, channels).
        config: see `check_config`; its sources must be stems of every song.
    Returns:
        x (n_blocks, F, T, 1) mixture magnitudes and y (n_blocks, F, T, k) source magnitudes, float32.
    """
    config = check_config(config)
    if len(songs) == 0:
        raise ValueError("songs is empty: pass the training tracks, e.g. "
                         "cu.load_musdb('sample', subsets='train').tracks.")
    xs, ys = [], []
    for number, song in enumerate(songs):
        what = f"Training song {number}"
        mixture, stems, sr = as_track(song, config["sources"], what)
        mixture = masks.check_separator_input(mixture, sr, config, what, allow_silent=True)
        spectra = [np.abs(masks.stft(audio, config["n_fft"], config["hop_length"]))
                   for audio in (mixture, *(stems[name] for name in config["sources"]))]
        blocks = [masks.split_blocks(spec, config["block_frames"], overlap=0)[0] for spec in spectra]
        audible = blocks[0].reshape(len(blocks[0]), -1).max(axis=1) > 0
        xs.append(blocks[0][audible])
        ys.append(np.concatenate(blocks[1:], axis=-1)[audible])
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys).astype(np.float32)


def chunk_examples(chunk, config):
    """Training blocks of one chunk read from disk: `training_blocks` of the chunk as a short song.

    Used in: scripts/train_autoencoder.py (`training.chunk_dataset` calls it for every chunk it reads).

    Args:
        chunk: dict from `training.read_chunk` (mixture and the stems as (n, channels) arrays).
        config: see `check_config`.
    Returns:
        (x (n_blocks, F, T, 1), y (n_blocks, F, T, k)) float32; silent blocks are left out, so n_blocks may be 0.
    """
    return training_blocks([Track(chunk["mixture"], {name: chunk[name] for name in config["sources"]},
                                  config["sr"])], config)


def example_shapes(config):
    """((F, T, 1), (F, T, k)): the shapes of one training block for `config`.

    Used in: scripts/train_autoencoder.py.
    """
    freq, frames = config["n_fft"] // 2 + 1, config["block_frames"]
    return (freq, frames, 1), (freq, frames, len(config["sources"]))


def train(model, x, y, epochs=10, batch_size=16, validation_data=None, verbose=0):
    """Train with one Adam update per mini-batch (Keras fit), stopping with a clear error if the loss turns NaN.

    Used in: 09_cnn_autoencoder.ipynb, 11 (the grand comparison).

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
        songs, val_songs: musdb tracks or `datasets.Track`s (read into memory once).
        config: the model's configuration.
        epochs: at most this many epochs; remixes_per_epoch: new mixtures per epoch (0: the songs only).
        batch_size: blocks per Adam update; patience: epochs without a better validation loss before stopping.
        seed: seed of the remixes (epoch e uses seed + e).
        log: optional function called with one line of text per epoch (e.g. print).
    Returns:
        dict of per-epoch lists "loss", "val_loss", "seconds", and "best_epoch" (1-based); the model holds
        the best epoch's weights.
    """
    if epochs < 1 or patience < 1 or remixes_per_epoch < 0:
        raise ValueError(f"epochs and patience must be >= 1 and remixes_per_epoch >= 0; got {epochs}, {patience}, "
                         f"{remixes_per_epoch}.")
    if not val_songs:
        raise ValueError("val_songs is empty: hold out at least one song to decide when to stop.")
    songs = [as_track(song, config["sources"], f"Training song {i}") for i, song in enumerate(songs)]
    x_val, y_val = training_blocks(val_songs, config)
    x_songs, y_songs = training_blocks(songs, config)  # the songs' own blocks, the same every epoch
    history = {"loss": [], "val_loss": [], "seconds": []}
    best, best_loss = None, np.inf
    for epoch in range(epochs):
        x, y = x_songs, y_songs
        if remixes_per_epoch:
            x_new, y_new = training_blocks(remix_tracks(songs, remixes_per_epoch, seed=seed + epoch), config)
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

    Used in: scripts/train_autoencoder.py (the shipped weights).

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

    Used in: 09_cnn_autoencoder.ipynb, 11 (the grand comparison).

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


def load(path, config=None):
    """The autoencoder a weights file holds, as a `separator.Separator` ready for `separator.separate`.

    Used in: 09_cnn_autoencoder.ipynb, 11; `separator.load_separator` (for files of kind "autoencoder").

    Args:
        path: a .npz written by `save_weights` (e.g. `weights.weights_dir() / DEFAULT_WEIGHTS`).
        config: optional configuration the caller expects; any difference from the file's is an error.
    Returns:
        Separator (its `network` is the Keras model, its `meta` the file's metadata).
    """
    network, meta = load_autoencoder(path, config)
    return as_separator(network, meta["config"], meta)


# ---------------------------------------------------------------- the separator

def as_separator(network, config, meta=None, overlap=0.5, batch_size=32):
    """Wrap a trained autoencoder (or any stand-in) as the course's `separator.Separator`.

    Used in: 09_cnn_autoencoder.ipynb, 11; `load`.

    Its masks function cuts the mixture magnitude (channels, F, frames) into blocks of block_frames frames
    that overlap by `overlap` (`masks.split_blocks`, silence padded at both ends), runs the network on them,
    cross-fades the estimates back (`masks.join_blocks`, a few hundred frames at a time, so a long song never
    holds a whole float64 copy) and returns their ratio masks (`masks.ratio_masks`, kept as float32): where
    |X| > 0 these are exactly the network's soft masks, faded between blocks; where every estimate is 0 the
    sources share the bin equally.

    Args:
        network: a Keras model from `build_from_config` (`masks.predict_blocks` runs it batch by batch), or any
            function mapping all (n_blocks, F, T, 1) magnitude blocks to (n_blocks, F, T, k) estimates at once
            (tests pass an oracle that returns the true magnitudes).
        config: the configuration it was built with (see `check_config`).
        meta: optional metadata (the weights file's) kept on the Separator.
        overlap: the share of a block that overlaps the next (0.5: every frame in two blocks; 0: disjoint).
        batch_size: blocks per call of the Keras model (the last batch is padded with silent blocks, so every
            batch has the same shape and TensorFlow traces the prediction once).
    Returns:
        Separator of kind "autoencoder" with config["sources"].
    """
    config = check_config(config)
    sources = tuple(config["sources"])

    def predict(magnitude):
        blocks, layout = masks.split_blocks(magnitude, config["block_frames"], overlap)
        outputs = masks.predict_blocks(network, blocks, batch_size)
        if outputs.shape != (*blocks.shape[:3], len(sources)):
            raise ValueError(f"The network gave outputs of shape {outputs.shape} for blocks {blocks.shape}; "
                             f"config['sources'] names {len(sources)}: use the configuration the network was "
                             f"built with.")
        del blocks

        def chunk_masks(columns):  # joined a few hundred frames at a time, kept as float32
            return masks.ratio_masks(dict(zip(sources, masks.join_blocks(outputs, layout, columns))))

        return masks.frames_by_chunks(chunk_masks, sources, magnitude.shape)

    return Separator("autoencoder", dict(config), sources, predict, network, dict(meta or {}))
