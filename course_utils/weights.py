"""Trained weights on disk: one compressed .npz per model, with the configuration it was trained for.

Used in: 07 (U-Net), 08 (mask CNN), 09 (autoencoder), 11 (the grand comparison) through `unet`,
`mask_cnn` and `autoencoder`; scripts/train_unet.py.

One format for every model of the course: the arrays of `model.get_weights()` as w000, w001, ... and a
JSON entry `meta` (format version, the model's `kind`, its configuration, and what the model's module adds:
alpha, training history). Loading checks the kind (a mask-CNN file never loads into a U-Net), the
configuration against the one the caller expects, and the arrays against the model built from it.
"""
import json
from pathlib import Path

import numpy as np

from .runtime import cache_dir, check_data_mode, course_root

FORMAT = 2  # 2: every file names its model `kind`
KINDS = {"unet": "U-Net", "mask_cnn": "mask CNN", "autoencoder": "autoencoder", "open_unmix": "Open-Unmix"}  # kind -> name in messages
HALF_PRECISION_MIN_SIZE = 4096  # kernels at least this large are stored as float16 (half the size on disk)


def weights_dir(data_mode="sample"):
    """The folder a mode's trained weights are read from (and the training scripts write to).

    Used in: 07–11 (through `settings.apply`); scripts/train_*.py; benchmarks/separation_speed.py.

    Args:
        data_mode: "sample": the shipped ``<course root>/weights``; "full": ``.cache/weights_full``
            (git-ignored), where ``scripts/train_*.py --full`` write.
    """
    check_data_mode(data_mode)
    return course_root() / "weights" if data_mode == "sample" else cache_dir("weights_full")


def save_weights_file(model, path, kind, meta):
    """Write a model's weights and a JSON-serialisable `meta` dict to a compressed .npz.

    Used in: `unet.save_weights`, `mask_cnn.save_weights`, `autoencoder.save_weights`.

    Large float arrays (>= HALF_PRECISION_MIN_SIZE values, i.e. the kernels) are stored as float16, which
    halves the shipped files; their relative rounding error (< 0.05 %) changes no result of the course.
    Small arrays (biases, BatchNorm statistics, normalisation constants) stay float32. Loading returns float32.

    Args:
        model: a Keras model (or anything with `get_weights()`).
        path: output file (.npz); its folder is created if needed.
        kind: the model's kind, a key of KINDS (e.g. "unet").
        meta: dict of configuration and notes; "format" and "kind" are added.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {sorted(KINDS)}, got {kind!r}.")
    arrays = {f"w{i:03d}": _compact(np.asarray(w)) for i, w in enumerate(model.get_weights())}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, meta=np.array(json.dumps({"format": FORMAT, "kind": kind, **meta})), **arrays)


def read_weights_file(path, kind=None, how_to_get="train one and save it first"):
    """Read a file written by `save_weights_file`: (meta dict, list of arrays in get_weights order).

    Used in: `separator.load_separator` and each model's loader (07–11).

    Args:
        path: the .npz.
        kind: the model kind expected (a key of KINDS), or None to accept any.
        how_to_get: what to do when the file is missing.
    Raises:
        FileNotFoundError: no file at `path`. ValueError: not a course weights file, one of an older format,
        or one of another kind of model.
    """
    what = KINDS.get(kind, "model")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No {what} weights at {path}: {how_to_get}.")
    with np.load(path) as data:
        if "meta" not in data.files:
            raise ValueError(f"{path} is not a weights file of this course (no 'meta' entry): {how_to_get}.")
        meta = json.loads(str(data["meta"]))
        if meta.get("format") != FORMAT or meta.get("kind") not in KINDS:
            raise ValueError(f"{path} is a weights file of an older version of the course (format "
                             f"{meta.get('format')}, no model kind): retrain the model with this version's scripts.")
        if kind is not None and meta["kind"] != kind:
            held = KINDS[meta["kind"]]
            raise ValueError(f"{path} holds {_article(held)} {held} ({meta['kind']!r}), not {_article(what)} {what}: "
                             f"load it with course_utils.load_separator(path), which builds whatever model a file holds.")
        arrays = [data[k].astype(np.float32) if data[k].dtype == np.float16 else data[k]
                  for k in sorted(k for k in data.files if k.startswith("w"))]
    return meta, arrays


def _compact(array):
    """float16 for a large float32 array that float16 can represent, otherwise the array unchanged."""
    fits = array.dtype == np.float32 and array.size >= HALF_PRECISION_MIN_SIZE and np.all(np.isfinite(array)) \
        and np.max(np.abs(array)) < np.finfo(np.float16).max
    return array.astype(np.float16) if fits else array


def check_same_config(path, file_config, requested):
    """Raise a ValueError listing every entry of `requested` that differs from the file's configuration.

    Used in: `unet.load`, `mask_cnn.load`, `autoencoder.load`, `open_unmix.load`.
    """
    diff = {k: (file_config.get(k), v) for k, v in (requested or {}).items() if file_config.get(k) != v}
    if diff:
        raise ValueError(f"{path} was trained for another configuration: (file, requested) = {diff}. Use weights "
                         f"trained for this configuration, or load the file without a config to use its own.")


def set_checked_weights(model, arrays, path):
    """Load `arrays` into `model`, with a clear error when their number or shapes do not fit.

    Used in: `unet.load`, `mask_cnn.load`, `autoencoder.load`, `open_unmix.load`.
    """
    expected = [w.shape for w in model.get_weights()]
    if [a.shape for a in arrays] != expected:
        raise ValueError(f"The arrays in {path} do not fit the model built for its configuration ({len(arrays)} "
                         f"arrays for {len(expected)} weights): the file is damaged or from another version; retrain.")
    model.set_weights(arrays)


def build_and_load(path, meta, arrays, build, requested_config=None, layers_key=None):
    """Build the model a weights file was trained for and load its arrays, checking every step.

    Used in: `unet.load`, `autoencoder.load`.

    Args:
        path: the file (for the messages); meta, arrays: from `read_weights_file`.
        build: function config -> Keras model with a `course_config` dict.
        requested_config: optional configuration the caller expects (see `check_same_config`).
        layers_key: optional meta entry holding the saved model's `course_config`; it must equal the rebuilt one.
    Returns:
        the model with the file's weights.
    """
    check_same_config(path, meta["config"], requested_config)
    model = build(meta["config"])
    if layers_key is not None and model.course_config != meta[layers_key]:
        raise ValueError(f"{path} was saved from the model {meta[layers_key]}, but its configuration builds "
                         f"{model.course_config}: the file is from another version of the course; retrain.")
    set_checked_weights(model, arrays, path)
    return model


def _article(noun):
    """'an' before a vowel sound ('an autoencoder', 'an Open-Unmix'), else 'a' ('a U-Net', 'a mask CNN')."""
    return "an" if noun[:1].lower() in "aeio" else "a"
