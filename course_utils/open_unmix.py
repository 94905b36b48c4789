"""Open-Unmix (Stöter et al. 2019) rebuilt in Keras 3: S4's recurrent separator and its multichannel Wiener filter.

Used in: 10_open_unmix.ipynb, 11_grand_comparison.ipynb; scripts/train_open_unmix.py; benchmarks/separation_speed.py.

One network per target (vocals, drums, bass, other), each the published `openunmix.model.OpenUnmix`
(github.com/sigsep/open-unmix-pytorch, openunmix/model.py) layer for layer, on whole sequences of STFT frames:

    |X| (batch, frames, channels, bins), the mixture magnitude of every channel
        -> crop to max_bin (the bandwidth cut: Open-Unmix keeps 16 kHz of 22 kHz)
        -> (x + input_mean) * input_scale, per bin, learned (initialised from the training set: -mean, 1 / std)
        -> fc1: all channels' bins of a frame -> hidden (no bias), batch norm, tanh
        -> 3 bidirectional LSTM layers (hidden / 2 per direction, dropout 0.4 between them)
        -> skip connection: concatenate fc1's output and the LSTM's (2 * hidden)
        -> fc2 -> hidden (no bias), batch norm, ReLU
        -> fc3 -> channels x all bins (no bias), batch norm
        -> x * output_scale + output_mean, per bin, learned (initialised to 1 and 1)
        -> ReLU: a non-negative mask, times |X|: the target's magnitude estimate

The loss is the mean squared error of the magnitude estimate (Open-Unmix's). `as_separator` turns the four
estimates into ratio masks (each estimate's share of their sum), so `separator.separate(mixture, sr, model,
wiener_iterations=1)` is Open-Unmix's own pipeline: the estimates start a multichannel Wiener filter
(`masks.wiener_filter`, norbert's EM) that gives every target a spatial covariance and complex STFT.
The BLSTM sees a whole excerpt at once; a long song is cut into overlapping spans of `span_frames` frames
(`masks.split_blocks` / `masks.join_blocks`), so memory stays bounded.

Keras 3 and `keras.ops` only (the LSTM is Keras'), so the model also runs on the JAX and PyTorch backends.
All four networks of a separator are trained together as one Keras model whose loss is the sum of the four MSEs:
they share no weights, so each network gets exactly the gradient of its own loss (what four separate runs would
give), but the songs are read and transformed once.
"""
import functools

import numpy as np

from . import masks
from .datasets import MUSDB_TARGETS, as_track
from .separator import Separator
from .weights import check_same_config, read_weights_file, save_weights_file, set_checked_weights, weights_dir

SAMPLE_CONFIG = {  # sized to train on a CPU: 93-ms window / 23-ms hop as the published model (4096/1024 at 44.1 kHz)
    "sr": 22050, "n_fft": 2048, "hop_length": 512, "bandwidth": 8000, "hidden_size": 64, "nb_layers": 3,
    "nb_channels": 2, "sources": list(MUSDB_TARGETS), "span_frames": 1024, "learning_rate": 1e-3,
}
FULL_CONFIG = {  # the published Open-Unmix (UMX, Stöter et al. 2019) on MUSDB18 at 44.1 kHz
    **SAMPLE_CONFIG, "sr": 44100, "n_fft": 4096, "hop_length": 1024, "bandwidth": 16000, "hidden_size": 512,
}
_MODEL_KEYS = ("n_fft", "sr", "bandwidth", "hidden_size", "nb_layers", "nb_channels", "sources")


def weights_name(mode="rendered"):
    """File name of trained Open-Unmix weights (all four targets in one file): mode "rendered" (the rendered
    training set, --train-root; shipped) or "full" (MUSDB18, --full)."""
    return f"open_unmix_{mode}.npz"


#: the shipped model notebooks 10 and 11 and benchmarks/separation_speed.py load (in `weights.weights_dir()`)
DEFAULT_WEIGHTS = weights_name("rendered")


# ---------------------------------------------------------------- configuration

def max_bin(config):
    """The number of bins the encoder sees: every bin up to config["bandwidth"] Hz (openunmix.utils.bandwidth_to_max_bin).

    Used in: 10_open_unmix.ipynb; `build_open_unmix`.
    """
    freqs = np.linspace(0, config["sr"] / 2, config["n_fft"] // 2 + 1, endpoint=True)
    return int(np.max(np.where(freqs <= config["bandwidth"])[0])) + 1


def check_config(config):
    """Validate an Open-Unmix configuration (like SAMPLE_CONFIG) and return it.

    Used in: 10_open_unmix.ipynb; every function here that takes a config.

    Args:
        config: dict with sr (Hz), n_fft, hop_length (samples), bandwidth (Hz, the encoder's band), hidden_size,
            nb_layers (BLSTM layers), nb_channels (1 or 2), sources (names), span_frames (frames per span at
            separation), learning_rate.
    Returns:
        the same dict.
    """
    if not isinstance(config, dict):
        raise ValueError(f"config must be a dict like open_unmix.SAMPLE_CONFIG, got {type(config).__name__}.")
    missing = set(SAMPLE_CONFIG) - set(config)
    if missing:
        raise ValueError(f"config lacks {sorted(missing)}; start from open_unmix.SAMPLE_CONFIG, e.g. "
                         f"{{**open_unmix.SAMPLE_CONFIG, 'hidden_size': 128}}.")
    if not 0 < config["hop_length"] <= config["n_fft"] // 4:
        raise ValueError(f"hop_length must be in (0, n_fft / 4] for an exact inverse STFT, got {config['hop_length']}.")
    if not 0 < config["bandwidth"] <= config["sr"] / 2:
        raise ValueError(f"bandwidth must be in (0, sr / 2 = {config['sr'] / 2:g}] Hz, got {config['bandwidth']}.")
    if config["hidden_size"] < 2 or config["hidden_size"] % 2 or config["nb_layers"] < 1:
        raise ValueError(f"hidden_size must be an even number >= 2 (half of it per LSTM direction) and nb_layers >= 1; "
                         f"got {config['hidden_size']} and {config['nb_layers']}.")
    if config["nb_channels"] not in (1, 2):
        raise ValueError(f"nb_channels must be 1 (mono) or 2 (stereo), got {config['nb_channels']}.")
    if config["span_frames"] < 16:
        raise ValueError(f"span_frames must be at least 16 frames, got {config['span_frames']}.")
    sources = list(config["sources"])
    if not sources or len(set(sources)) != len(sources) or not all(isinstance(s, str) for s in sources):
        raise ValueError(f"sources must be distinct names such as {list(MUSDB_TARGETS)}, got {config['sources']!r}.")
    return config


# ---------------------------------------------------------------- network

@functools.cache
def _scaling_layer():
    """The Keras layer of Open-Unmix's learned per-bin scaling (defined on first use: keras loads slowly)."""
    import keras

    class BinScaling(keras.layers.Layer):
        """Input: (x + shift) * scale; output: x * scale + shift; shift and scale are learned, one per bin."""

        def __init__(self, bins, order="shift_first", **kwargs):
            super().__init__(**kwargs)
            self.bins, self.order = int(bins), order
            init = "zeros" if order == "shift_first" else "ones"
            self.shift = self.add_weight(shape=(self.bins,), initializer=init, name="shift")
            self.scale = self.add_weight(shape=(self.bins,), initializer="ones", name="scale")

        def call(self, x):
            if self.order == "shift_first":
                return (x[..., :self.bins] + self.shift) * self.scale
            return x * self.scale + self.shift

        def get_config(self):
            return {**super().get_config(), "bins": self.bins, "order": self.order}

    return BinScaling


def build_open_unmix(config=SAMPLE_CONFIG, input_mean=None, input_scale=None, name="open_unmix"):
    """One Open-Unmix network (one target), as openunmix.model.OpenUnmix, as a Keras model.

    Used in: 10_open_unmix.ipynb; `build_separator_model`.

    Args:
        config: see `check_config` (n_fft, sr, bandwidth, hidden_size, nb_layers, nb_channels are used).
        input_mean, input_scale: (bins,) statistics of the training set's magnitudes (mean and standard deviation
            per bin, `magnitude_statistics`); the input scaling starts at -mean and 1 / std, as Open-Unmix's.
            None: 0 and 1.
        name: the model's name (e.g. "open_unmix_vocals").
    Returns:
        keras.Model (batch, frames, channels, bins) mixture magnitude -> (batch, frames, channels, bins) estimate,
        any number of frames.
    """
    import keras
    from keras import layers

    config = check_config(config)
    bins, crop, hidden, channels = config["n_fft"] // 2 + 1, max_bin(config), config["hidden_size"], config["nb_channels"]
    scaling = _scaling_layer()
    mix = keras.Input((None, channels, bins), name="mixture_magnitude")
    input_scaling = scaling(crop, "shift_first", name="input_scaling")
    x = layers.Reshape((-1, channels * crop), name="frames")(input_scaling(mix))
    x = layers.Dense(hidden, use_bias=False, name="fc1")(x)
    x = layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name="bn1")(x)
    x = layers.Activation("tanh", name="tanh")(x)
    y = x
    for layer in range(config["nb_layers"]):
        if layer:
            y = layers.Dropout(0.4, name=f"lstm_dropout_{layer}")(y)
        y = layers.Bidirectional(layers.LSTM(hidden // 2, return_sequences=True), name=f"blstm_{layer + 1}")(y)
    x = layers.Concatenate(name="skip")([x, y])
    x = layers.Dense(hidden, use_bias=False, name="fc2")(x)
    x = layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name="bn2")(x)
    x = layers.ReLU(name="relu")(x)
    x = layers.Dense(channels * bins, use_bias=False, name="fc3")(x)
    x = layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name="bn3", dtype="float32")(x)
    x = layers.Reshape((-1, channels, bins), name="channels_bins")(x)
    x = scaling(bins, "scale_first", name="output_scaling", dtype="float32")(x)
    mask = layers.ReLU(name="mask", dtype="float32")(x)
    estimate = layers.Multiply(name="estimate", dtype="float32")([mask, mix])
    model = keras.Model(mix, estimate, name=name)
    if input_mean is not None or input_scale is not None:
        mean = np.zeros(bins) if input_mean is None else np.asarray(input_mean, np.float64)
        scale = np.ones(bins) if input_scale is None else np.asarray(input_scale, np.float64)
        if mean.shape != (bins,) or scale.shape != (bins,) or np.any(scale <= 0) or not np.all(np.isfinite(mean)):
            raise ValueError(f"input_mean and input_scale must be finite ({bins},) arrays with scale > 0 (from "
                             f"magnitude_statistics with this n_fft); got {mean.shape} and {scale.shape}.")
        input_scaling.set_weights([-mean[:crop].astype(np.float32), (1.0 / scale[:crop]).astype(np.float32)])
    return model


def mse(y_true, y_pred):
    """Open-Unmix's loss: the mean squared error of the magnitude estimates, summed over the targets (last axis).

    Used in: `build_separator_model` (training all targets at once gives each network its own MSE's gradient).

    Args:
        y_true, y_pred: (batch, frames, channels, bins, targets) magnitudes.
    Returns:
        (batch,) loss per example.
    """
    from keras import ops

    return ops.sum(ops.mean(ops.square(y_true - y_pred), axis=(1, 2, 3)), axis=-1)


def build_separator_model(config=SAMPLE_CONFIG, input_mean=None, input_scale=None):
    """All targets' Open-Unmix networks side by side in one compiled Keras model (for training and saving).

    Used in: scripts/train_open_unmix.py, `load_open_unmix`, 10_open_unmix.ipynb.

    Args:
        config: see `check_config`; one network per config["sources"].
        input_mean, input_scale: see `build_open_unmix` (the same statistics start every target's scaling).
    Returns:
        keras.Model (batch, frames, channels, bins) -> (batch, frames, channels, bins, targets), compiled with Adam
        and `mse`; `model.targets` maps each source to its own network (a keras.Model).
    """
    import keras
    from keras import layers

    config = check_config(config)
    bins = config["n_fft"] // 2 + 1
    mix = keras.Input((None, config["nb_channels"], bins), name="mixture_magnitude")
    networks = {source: build_open_unmix(config, input_mean, input_scale, name=f"open_unmix_{source}")
                for source in config["sources"]}
    outputs = [layers.Reshape((-1, config["nb_channels"], bins, 1), name=f"{source}_estimate", dtype="float32")(
        network(mix)) for source, network in networks.items()]
    stacked = layers.Concatenate(name="estimates", dtype="float32")(outputs) if len(outputs) > 1 else outputs[0]
    model = keras.Model(mix, stacked, name="open_unmix_separator")
    model.compile(optimizer=keras.optimizers.Adam(config["learning_rate"], weight_decay=1e-5), loss=mse)
    model.targets = networks
    return model


def parameter_count(config):
    """Trainable parameters of one target's network for `config` (the published model: hidden 512, 4096-point STFT).

    Used in: 10_open_unmix.ipynb.
    """
    bins, crop, hidden, channels = config["n_fft"] // 2 + 1, max_bin(config), config["hidden_size"], config["nb_channels"]
    lstm = sum(2 * 4 * ((hidden if layer == 0 else hidden) + hidden // 2 + 1) * (hidden // 2)
               for layer in range(config["nb_layers"]))
    return (2 * crop + channels * crop * hidden + 2 * hidden + lstm + 2 * hidden * hidden + 2 * hidden
            + hidden * channels * bins + 2 * channels * bins + 2 * bins)


# ---------------------------------------------------------------- data

def magnitude_statistics(magnitudes):
    """Per-bin mean and standard deviation of training magnitudes, channels averaged first (Open-Unmix's scaler).

    Used in: scripts/train_open_unmix.py (the input scaling's start), 10_open_unmix.ipynb.

    Args:
        magnitudes: (..., frames, channels, bins) mixture magnitudes, e.g. a batch of `track_examples` inputs.
    Returns:
        (mean, std), (bins,) each; std is at least 1e-4 of its largest value (openunmix's train.py), so nothing
        divides by zero.
    """
    magnitudes = np.asarray(magnitudes, np.float64)
    if magnitudes.ndim < 3 or not np.all(np.isfinite(magnitudes)):
        raise ValueError(f"magnitudes must be finite (..., frames, channels, bins), got shape {magnitudes.shape}.")
    mono = magnitudes.mean(axis=-2).reshape(-1, magnitudes.shape[-1])
    mean, std = mono.mean(axis=0), mono.std(axis=0)
    return mean, np.maximum(std, 1e-4 * std.max() if std.max() > 0 else 1.0)


def _frames_layout(spec):
    """(channels, bins, frames) -> (frames, channels, bins), the networks' layout."""
    return np.ascontiguousarray(np.transpose(spec, (2, 0, 1)), dtype=np.float32)


def track_examples(track, config):
    """One training example of a whole track (or chunk): the mixture's and every target's magnitude.

    Used in: `chunk_examples` (scripts/train_open_unmix.py), 10_open_unmix.ipynb, tests.

    Args:
        track: a musdb track, a `datasets.Track` or a (mixture, {source: audio}, sr) tuple (read through
            `datasets.as_track`), stereo for nb_channels 2 (mono audio is copied to both channels).
        config: see `check_config`.
    Returns:
        (x (1, frames, channels, bins), y (1, frames, channels, bins, targets)) float32.
    """
    config = check_config(config)
    mixture, stems, sr = as_track(track, config["sources"], "A training track")
    mixture = masks.check_separator_input(mixture, sr, config, "A training track", allow_silent=True)
    parts = [mixture] + [stems[name] for name in config["sources"]]
    spectra = [_frames_layout(np.abs(masks.stft(_with_channels(audio, config["nb_channels"]), config["n_fft"],
                                                config["hop_length"]))) for audio in parts]
    return spectra[0][None], np.stack(spectra[1:], axis=-1)[None]


def _with_channels(audio, channels):
    """(n,) or (n, c) audio as (n, channels): mono copied to both channels; more channels than the model's: error."""
    audio = audio[:, None] if audio.ndim == 1 else audio
    if audio.shape[1] == channels:
        return audio
    if audio.shape[1] == 1:
        return np.repeat(audio, channels, axis=1)
    raise ValueError(f"The audio has {audio.shape[1]} channels but the model takes {channels}: down-mix it, "
                     f"e.g. audio.mean(axis=1), or use a model with nb_channels={audio.shape[1]}.")


def chunk_examples(chunk, config):
    """`track_examples` of one chunk read from disk (`training.read_chunk` / `read_remixed_chunk`).

    Used in: scripts/train_open_unmix.py (`training.chunk_dataset` calls it for every chunk).
    """
    return track_examples((chunk["mixture"], {name: chunk[name] for name in config["sources"]}, config["sr"]), config)


def example_shapes(config, chunk_samples):
    """((frames, channels, bins), (frames, channels, bins, targets)) of one example from a chunk of `chunk_samples`.

    Used in: scripts/train_open_unmix.py.
    """
    frames = 1 + chunk_samples // config["hop_length"]
    bins, channels = config["n_fft"] // 2 + 1, config["nb_channels"]
    return (frames, channels, bins), (frames, channels, bins, len(config["sources"]))


# ---------------------------------------------------------------- weights

def save_weights(model, path, config, history=None, training=None):
    """Save every target's network (one compressed .npz, kind "open_unmix") with the configuration.

    Used in: scripts/train_open_unmix.py.

    Args:
        model: from `build_separator_model(config)`.
        path: output file (.npz).
        config: the configuration it was trained with.
        history: optional per-epoch losses; training: optional dict of training settings.
    """
    save_weights_file(model, path, "open_unmix", {"config": dict(check_config(dict(config))),
                                                  "history": dict(history or {}), "training": dict(training or {})})


def load_open_unmix(path, config=None):
    """Build the networks a weights file was trained for and load its weights: (model, meta).

    Used in: `load`; 10_open_unmix.ipynb (the learned scaling curves).

    Args:
        path: a .npz written by `save_weights`.
        config: optional configuration the caller expects; any difference in it from the file's is an error.
    Returns:
        (the model of `build_separator_model`, the file's metadata).
    Raises:
        FileNotFoundError: no such file. ValueError: a file of another model kind or configuration.
    """
    meta, arrays = read_weights_file(path, "open_unmix", f"run scripts/train_open_unmix.py, or use the shipped "
                                                         f"{DEFAULT_WEIGHTS} in {weights_dir()}")
    check_same_config(path, meta["config"], config)
    model = build_separator_model(check_config(meta["config"]))
    set_checked_weights(model, arrays, path)
    return model, meta


def load(path, config=None, overlap=0.25):
    """The Open-Unmix separator a weights file holds, ready for `separator.separate`.

    Used in: 10_open_unmix.ipynb, 11; `separator.load_separator` (files of kind "open_unmix").

    Args:
        path: a .npz written by `save_weights` (e.g. `weights.weights_dir() / DEFAULT_WEIGHTS`).
        config: optional configuration the caller expects; any difference from the file's is an error.
        overlap: of the spans of a long song (see `as_separator`).
    Returns:
        Separator of kind "open_unmix"; its `network` is the model of `build_separator_model`.
    """
    model, meta = load_open_unmix(path, config)
    return as_separator(model, meta["config"], meta, overlap)


# ---------------------------------------------------------------- the separator

def as_separator(networks, config, meta=None, overlap=0.25):
    """Wrap trained Open-Unmix networks (or stand-ins) as the course's `separator.Separator`.

    Used in: `load`; 10_open_unmix.ipynb; tests (an oracle stand-in).

    The masks function gives every network the whole excerpt (all channels, all frames) at once; a song longer
    than config["span_frames"] frames is cut into spans that overlap by `overlap` (`masks.split_blocks`, silence
    padded at both ends) whose estimates are cross-faded back (`masks.join_blocks`), so memory stays bounded.
    The masks are the estimates' ratio masks (`masks.ratio_masks`): each target's share of their sum, computed in
    float64 a few hundred frames at a time and kept as float32 (`masks.frames_by_chunks`). With
    `separate(..., wiener_iterations=0)` they multiply the mixture STFT; with 1 or more, mask x |X| (the estimates
    rescaled to add up to the mixture) start Open-Unmix's multichannel Wiener filter.

    Args:
        networks: the model of `build_separator_model` (outputs (batch, frames, channels, bins, targets)), a dict
            {source: network (batch, frames, channels, bins) -> same shape}, or any function mapping
            (batch, frames, channels, bins) magnitudes to (batch, frames, channels, bins, targets) estimates
            (tests pass an oracle).
        config: the configuration they were built with (see `check_config`).
        meta: optional metadata (the weights file's) kept on the Separator.
        overlap: the share of a span that overlaps the next, in [0, 1).
    Returns:
        Separator of kind "open_unmix" with config["sources"].
    """
    config = check_config(dict(config))
    sources = tuple(config["sources"])
    channels, span = config["nb_channels"], config["span_frames"]
    if not 0 <= overlap < 1:
        raise ValueError(f"overlap must be in [0, 1), got {overlap}.")

    def estimate(batch):
        if isinstance(networks, dict):
            if list(networks) != list(sources):
                raise ValueError(f"networks names {list(networks)}, the configuration {list(sources)}: give one "
                                 f"network per config['sources'], in that order.")
            return np.stack([_predict(network, batch) for network in networks.values()], axis=-1)
        return _predict(networks, batch)

    def span_estimates(x):  # (frames, channels, bins) -> (channels, bins, frames, k), a view of the outputs
        outputs = estimate(x[None])
        if outputs.shape != (1, *x.shape, len(sources)):
            raise ValueError(f"The networks gave estimates of shape {outputs.shape} for a magnitude {x[None].shape}: "
                             f"use the configuration they were built with.")
        return np.transpose(outputs[0], (1, 2, 0, 3))

    def open_unmix_masks(magnitude):
        given = magnitude.shape[0]
        if given not in (1, channels):
            raise ValueError(f"The mixture has {given} channels but the model takes {channels}: down-mix it "
                             f"(audio.mean(axis=1)) or use a model trained for {given} channel(s).")
        mag = np.repeat(magnitude, channels, axis=0) if given != channels else magnitude
        frames = mag.shape[-1]
        if frames <= span:
            layout, inputs = None, [_frames_layout(mag)]
        else:
            blocks, layout = masks.split_blocks(mag, span, overlap)  # (n_blocks * channels, bins, span, 1)
            spans = blocks[..., 0].reshape(-1, channels, *blocks.shape[1:3])  # (n_blocks, channels, bins, span)
            inputs = (np.transpose(s, (2, 0, 1)) for s in spans)  # one span at a time
            del blocks, spans
        outputs = [span_estimates(x) for x in inputs]  # the network's float32, not joined into one array
        del inputs, mag

        def chunk_masks(columns):  # the ratio masks of these frames, in float64 as for the whole song at once
            joined = (np.moveaxis(outputs[0][:, :, columns], -1, 0) if layout is None
                      else masks.join_blocks(outputs, layout, columns))  # (k, channels, bins, frames)
            result = masks.ratio_masks(dict(zip(sources, np.maximum(joined, 0.0))))
            return result if given == channels else {name: mask.mean(axis=0, keepdims=True)
                                                      for name, mask in result.items()}

        return masks.frames_by_chunks(chunk_masks, sources, magnitude.shape)

    return Separator("open_unmix", dict(config), sources, open_unmix_masks, networks, dict(meta or {}))


def _predict(network, batch):
    """A Keras model's outputs for one (1, frames, channels, bins) batch (its compiled predict function, traced
    again only for new lengths), or a stand-in function's, in the dtype they come in (float32 for a network)."""
    if hasattr(network, "predict_on_batch"):
        return np.asarray(network.predict_on_batch(batch))
    return np.asarray(network(batch))


# ---------------------------------------------------------------- the published pretrained models (Colab, optional)

#: name -> (what it is, the pip packages it needs): the pretrained section of 10_open_unmix.ipynb
PRETRAINED = {
    "umxl": ("Open-Unmix UMX-L (Stöter et al.; openunmix.umxl(), trained on ~400 h of private multitracks)",
             "openunmix"),
    "htdemucs": ("HT-Demucs (Rouard et al. 2023; demucs.pretrained.get_model('htdemucs'), MUSDB18-HQ + 800 songs)",
                 "demucs"),
}
PRETRAINED_SR = 44100  # both published models take 44.1-kHz stereo


def pretrained_separator(name, device=None):
    """A published pretrained separator as a function (audio (n, 2) at 44.1 kHz, sr) -> {source: (n, 2)}.

    Used in: 10_open_unmix.ipynb (the optional pretrained section; on Colab after
    ``%pip install openunmix demucs``: PyTorch is preinstalled there). The weights are downloaded on first use.

    Args:
        name: "umxl" (openunmix.umxl: the four targets and one Wiener iteration, as published) or "htdemucs"
            (demucs.pretrained.get_model + demucs.apply.apply_model, the input normalised as demucs' own
            separator does).
        device: "cuda" or "cpu" (None: a GPU when PyTorch sees one).
    Returns:
        function (audio, sr) -> {"vocals", "drums", "bass", "other": (n, 2) float64}, audio (n, 2) at 44.1 kHz.
    Raises:
        ImportError: the package is missing (the message says what to install). ValueError: an unknown name.
    """
    if name not in PRETRAINED:
        raise ValueError(f"name must be one of {sorted(PRETRAINED)} (Open-Unmix UMX-L, HT-Demucs), got {name!r}.")
    package = PRETRAINED[name][1]
    try:
        import torch

        if name == "umxl":
            import openunmix
        else:
            from demucs.apply import apply_model
            from demucs.pretrained import get_model
    except ImportError as error:
        raise ImportError(f"{PRETRAINED[name][0]} needs PyTorch and the '{package}' package ({error}): run "
                          f"`%pip install {package}` (on Colab PyTorch is already there), or skip this section.") from None
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if name == "umxl":
        model = openunmix.umxl(device=device)
        model.eval()
    else:
        model = get_model("htdemucs")
        model.eval()

    def separate_pretrained(audio, sr):
        if sr != PRETRAINED_SR:
            raise ValueError(f"{PRETRAINED[name][0]} takes {PRETRAINED_SR}-Hz audio, not {sr} Hz: resample it first "
                             f"(pretrained_method does).")
        audio = _with_channels(masks.check_audio(audio, "The mixture"), 2)
        wav = torch.as_tensor(audio.T.copy(), dtype=torch.float32, device=device)  # (channels, n)
        with torch.no_grad():
            if name == "umxl":
                out = model.to_dict(model(wav[None]))
                out = {target: value[0] for target, value in out.items()}
            else:
                ref = wav.mean(0)
                mean, std = ref.mean(), ref.std() + 1e-8
                stacked = apply_model(model, ((wav - mean) / std)[None], device=device)[0] * std + mean
                out = dict(zip(model.sources, stacked))
        return {target: out[target].cpu().numpy().T.astype(np.float64) for target in MUSDB_TARGETS}

    return separate_pretrained


def pretrained_method(separate_pretrained, sr, model_sr=PRETRAINED_SR):
    """A `comparison.run_comparison` method from a pretrained separator: the song resampled to the model's rate,
    separated there, and the estimates resampled back, so they are scored exactly like ours (same songs, same
    references at the course's rate, same BSS Eval protocol).

    Used in: 10_open_unmix.ipynb; tests (with a stand-in separator of the same call).

    Args:
        separate_pretrained: function (audio (n, channels) at model_sr, model_sr) -> {source: (n, channels)}, e.g.
            `pretrained_separator("umxl")`.
        sr: the songs' rate (22050 for the bundled songs, 44100 for MUSDB18).
        model_sr: the model's rate.
    Returns:
        function (mixture, stems) -> {source: estimate shaped like mixture}.
    """
    import librosa

    def method(mixture, stems=None):
        audio = mixture if sr == model_sr else librosa.resample(mixture, orig_sr=sr, target_sr=model_sr, axis=0)
        estimates = separate_pretrained(audio, model_sr)
        result = {}
        for name, estimate in estimates.items():
            estimate = np.asarray(estimate, np.float64)
            if sr != model_sr:
                estimate = librosa.resample(estimate, orig_sr=model_sr, target_sr=sr, axis=0)
            estimate = estimate[:len(mixture)]
            estimate = np.pad(estimate, [(0, len(mixture) - len(estimate))] + [(0, 0)] * (estimate.ndim - 1))
            result[name] = estimate.reshape(mixture.shape) if estimate.size == mixture.size else estimate
        return result

    return method
