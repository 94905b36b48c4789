"""The separator contract: one type for every trained separator, one `separate` call, one loader.

Used in: 07_unet_vocal_separator.ipynb, 08_binary_mask_cnn.ipynb, 09_cnn_autoencoder.ipynb, 10_open_unmix.ipynb,
11_grand_comparison.ipynb (and scripts/train_*.py, benchmarks/separation_speed.py).

Every learned separator of the course ends the same way: the mixture's STFT magnitude goes in, one mask per
source comes out, and the masks turn the mixture STFT into the sources' STFTs (times the mixture, or through a
multichannel Wiener filter), which an inverse STFT turns into audio. A `Separator` holds what differs between
models: the configuration (rate and STFT), the sources, and the function from magnitudes to masks. So
`separate(mixture, sr, model)` is the same call for the U-Net, the mask CNN and the autoencoder, and
`load_separator(path)` builds whichever model a weights file holds (the file's `kind` says which).
"""
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import masks
from .weights import read_weights_file


@dataclass(frozen=True, eq=False)
class Separator:
    """A trained separator, ready for `separate`.

    kind: "unet", "mask_cnn", "autoencoder" or "open_unmix" (`weights.KINDS`).
    config: dict with at least sr (Hz), n_fft and hop_length (samples): the audio and STFT the model expects.
    sources: the names of the estimates `separate` returns, in order.
    masks: function (channels, freq, frames) float32 mixture magnitude -> {source: mask of the same shape}.
    network: the Keras model(s) behind `masks` (for summaries and training), or None.
    meta: the weights file's metadata (history, training settings), or {}.
    """
    kind: str
    config: dict
    sources: tuple
    masks: Callable
    network: Any = None
    meta: dict = field(default_factory=dict)

    def __repr__(self):
        return (f"Separator({self.kind!r}, sources={self.sources}, sr={self.config['sr']}, "
                f"n_fft={self.config['n_fft']}, hop_length={self.config['hop_length']})")


def _check_separator(model):
    if not isinstance(model, Separator):
        raise ValueError(f"model must be a Separator, got {type(model).__name__}: load one with "
                         f"course_utils.load_separator(path), or wrap a trained network with its module's "
                         f"`as_separator` (e.g. unet.as_separator(network, config, alpha)).")
    return model


def _predicted_masks(mixture, sr, model):
    """(the checked mixture, {source: mask}) for `predict_masks` and `separate`: the network reads the mixture's
    float32 magnitude, computed span by span (`masks.stft_magnitude`); no whole-song complex STFT is built."""
    model = _check_separator(model)
    config = model.config
    mixture = masks.check_separator_input(mixture, sr, config, "The mixture")
    magnitude = masks.stft_magnitude(mixture, config["n_fft"], config["hop_length"])
    channels = magnitude.reshape(-1, *magnitude.shape[-2:])
    predicted = model.masks(channels)
    if not isinstance(predicted, dict) or list(predicted) != list(model.sources):
        raise ValueError(f"The {model.kind} separator's masks function returned "
                         f"{list(predicted) if isinstance(predicted, dict) else type(predicted).__name__}, "
                         f"not one mask per source {list(model.sources)}.")
    result = {}
    for name in model.sources:
        mask = np.asarray(predicted[name])  # float32 masks stay float32 (half the memory of a long song's)
        mask = mask if mask.dtype in (np.float32, np.float64) else mask.astype(np.float64)
        if mask.shape != channels.shape or not np.all(np.isfinite(mask)):
            raise ValueError(f"The {name!r} mask has shape {mask.shape} (finite: {np.all(np.isfinite(mask))}); the "
                             f"magnitude was {channels.shape}: a masks function must return finite masks of its "
                             f"input's shape.")
        result[name] = mask.reshape(magnitude.shape)
    return mixture, result


def predict_masks(mixture, sr, model):
    """The model's mask for every source, for a whole mixture, aligned with `masks.stft(mixture, ...)`.

    Used in: 08, 09, 10 (looking at predicted masks).

    Args:
        mixture: (n,) or (n, channels) audio, not silent, at least n_fft samples.
        sr: its sample rate in Hz; must be model.config["sr"].
        model: a `Separator`.
    Returns:
        ({source: mask (freq, frames) for mono or (channels, freq, frames)}, mixture STFT of the same shape); a mask
        is float32 when the model gives float32 (the U-Net's, Open-Unmix's), float64 otherwise.
    """
    mixture, predicted = _predicted_masks(mixture, sr, model)
    return predicted, masks.stft(mixture, model.config["n_fft"], model.config["hop_length"])


def separate(mixture, sr, model, wiener_iterations=0):
    """Separate a mixture with any trained separator of the course: {source: estimate}.

    Used in: 07–11; `separate_file`.

    Only the masks (and the magnitude the network reads) cover the whole song; the masks are applied span by
    span (`masks.apply_masks`, `masks.wiener_separation`), so a 3-minute song needs little more memory than them.

    Args:
        mixture: (n,) or (n, channels) audio at the model's rate (not silent, at least one STFT frame).
        sr: its sample rate in Hz; must be model.config["sr"] (resample first, or use `separate_file`).
        model: a `Separator` from `load_separator` or a module's `as_separator`.
        wiener_iterations: 0: each mask times the mixture STFT (the mixture's phase). 1 or more: the masked
            magnitudes go through that many EM iterations of the multichannel Wiener filter
            (`masks.wiener_separation`, as in Open-Unmix).
    Returns:
        {source: estimate shaped like `mixture`, sample-aligned with it}, in model.sources order.
    """
    mixture, predicted = _predicted_masks(mixture, sr, model)
    n_fft, hop = model.config["n_fft"], model.config["hop_length"]
    if wiener_iterations:
        return masks.wiener_separation(mixture, predicted, wiener_iterations, n_fft, hop)
    return masks.apply_masks(mixture, predicted, n_fft, hop)


def load_separator(path, config=None):
    """Build the model a weights file holds, whatever its kind, and return it as a `Separator`.

    Used in: 07–11.

    Args:
        path: a .npz written by one of the course's `save_weights` functions (scripts/train_*.py).
        config: optional configuration the caller expects; any entry that differs is an error.
    Returns:
        Separator.
    """
    meta, _ = read_weights_file(path)
    module = import_module(f".{meta['kind']}", __package__)
    return module.load(path, config)


def separate_file(path, model, wiener_iterations=0, offset=0.0, duration=None):
    """Separate an audio file of your own (any format librosa reads, any rate) with a trained separator.

    Used in: 07, 11 (separate your own song).

    The file is read with its channels and resampled to the model's rate.

    Args:
        path: the audio file.
        model: a `Separator`.
        wiener_iterations: as `separate`.
        offset, duration: the part of the file to separate, in seconds (None: to the end).
    Returns:
        (mixture (n,) or (n, channels) at model.config["sr"], {source: estimate}).
    """
    from .audio import load_audio

    model = _check_separator(model)
    mixture, sr = load_audio(path, sr=model.config["sr"], mono=False, offset=offset, duration=duration)
    mixture = mixture[:, 0] if mixture.shape[1] == 1 else mixture
    return mixture, separate(mixture, sr, model, wiener_iterations)


def upload_and_separate(model, wiener_iterations=0, max_seconds=30.0):
    """A file-upload button: the uploaded song is separated with `model` and every stem gets a player.

    Used in: 07, 11 (on Colab and in Jupyter; the files stay in the git-ignored .cache/uploads).

    Args:
        model: a `Separator`.
        wiener_iterations: as `separate`.
        max_seconds: only the first max_seconds of the upload are separated (CPU time).
    Returns:
        the ipywidgets box (display it, or leave it as the cell's last line).
    """
    import ipywidgets as widgets
    from IPython.display import display

    from .audio import play
    from .runtime import cache_dir

    model = _check_separator(model)
    button = widgets.FileUpload(accept="audio/*", multiple=False, description="Upload a song")
    output = widgets.Output()

    def on_upload(change):
        value = change["new"]  # ipywidgets 7: {name: {"content": bytes, ...}}; 8: ({"name": ..., "content": ...},)
        files = [{"name": name, **info} for name, info in value.items()] if isinstance(value, dict) else list(value)
        if not files:
            return
        path = cache_dir("uploads") / Path(files[0]["name"]).name
        path.write_bytes(bytes(files[0]["content"]))
        output.clear_output()
        with output:
            try:
                mixture, estimates = separate_file(path, model, wiener_iterations, duration=max_seconds)
            except ValueError as error:
                print(error)
                return
            for name, audio in {"mixture": mixture, **estimates}.items():
                print(name)
                display(play(audio, model.config["sr"], max_seconds=max_seconds))

    button.observe(on_upload, names="value")
    return widgets.VBox([button, output])

