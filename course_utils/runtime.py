"""Notebook setup: where the course's files live, seeding, the runtime report and the check cell.

Used in: every notebook (setup cell and check cell); 00_course_map_and_audio_basics.ipynb
(environment check).
"""
import importlib
import importlib.util
import logging
import os
import platform
import random
import re
import shutil
import sys
from pathlib import Path

import numpy as np

REPOSITORY = "audio-separation-course/audio-separation-course"
# The release (tag or branch) that every notebook's Colab badge opens and its setup cell clones; written literally
# into the notebooks by `python scripts/build_editions.py --rewrite-notebooks --ref REF`.
COURSE_REF = "v0.1.0"
DATA_MODES = ("sample", "full")
_SETUP_CELL_HEADER = """\
# Setup: on Colab, fetch the course ({ref}) once and install it, leaving Colab's TensorFlow and other packages as
# they are; locally, nothing to do.
import os
import sys
if "google.colab" in sys.modules:
    if not os.path.isdir("/content/course"):
        !git clone -q --depth 1 --branch {ref} https://github.com/{repository} /content/course
    %pip install -q /content/course
    %cd /content/course/notebooks"""


def setup_cell_header(ref=COURSE_REF):
    """Return the first lines of every notebook's setup cell, which fetch and install the course on Colab.

    Used in: scripts/build_editions.py (writes them into each notebook); every notebook's setup cell holds them.

    Re-running them skips the clone, and `pip install` keeps every package Colab already has (the package
    states minimum versions only and never lists TensorFlow).

    Args:
        ref: git tag or branch to clone, e.g. "v0.1.0" (letters, digits, ".", "_" and "-").
    Returns:
        the lines as one string, ending with the ``%cd`` into ``notebooks/`` (no trailing newline).
    """
    if not re.fullmatch(r"[\w.-]+", str(ref)):
        raise ValueError(f"ref must be a git tag or branch name such as 'v0.1.0' (letters, digits, '.', '_', '-'), "
                         f"got {ref!r}.")
    return _SETUP_CELL_HEADER.format(ref=ref, repository=REPOSITORY)


def course_root():
    """Return the course repository's root folder (the one holding `data/` and `notebooks/`).

    Used in: every notebook, through `data_dir` and `cache_dir`.

    Looks at, in order: the `COURSE_ROOT` environment variable, the current folder and its
    parents (a notebook runs in `notebooks/`), and the folder above this package (editable install).

    Returns:
        pathlib.Path of the repository root.
    Raises:
        FileNotFoundError: when no folder with a `data/` and a `notebooks/` folder is found.
    """
    candidates = []
    if os.environ.get("COURSE_ROOT"):
        candidates.append(Path(os.environ["COURSE_ROOT"]))
    cwd = Path.cwd().resolve()
    candidates += [cwd, *cwd.parents, Path(__file__).resolve().parents[1]]
    for folder in candidates:
        if (folder / "data").is_dir() and (folder / "notebooks").is_dir():
            return folder
    raise FileNotFoundError(
        "Cannot find the course folder (with data/ and notebooks/). Run the notebook from inside "
        "the cloned repository, or set COURSE_ROOT=/path/to/the/repository."
    )


def data_dir():
    """Return the bundled sample data folder, `<course root>/data`.

    Used in: every notebook in sample mode.
    """
    return course_root() / "data"


def cache_dir(*parts):
    """Return (and create) a git-ignored cache folder, `<course root>/.cache/<parts...>`.

    Used in: decoded audio (datasets.py), cached features (02–05), downloads in full mode.

    Args:
        *parts: sub-folder names, e.g. ``cache_dir("features")``.
    Returns:
        pathlib.Path of the existing folder. `COURSE_CACHE_DIR` overrides the base folder.
    """
    base = Path(os.environ.get("COURSE_CACHE_DIR", course_root() / ".cache"))
    folder = base.joinpath(*parts)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def check_data_mode(data_mode):
    """Validate a notebook's DATA_MODE parameter and return it.

    Used in: every notebook's parameters cell, through the dataset loaders.
    """
    if data_mode not in DATA_MODES:
        raise ValueError(f"DATA_MODE must be one of {DATA_MODES}, got {data_mode!r}.")
    return data_mode


def seed_everything(seed=0, tensorflow=False, threads=None):
    """Seed Python, NumPy and (optionally) TensorFlow/Keras so that re-runs give the same numbers.

    Used in: every notebook's setup cell; the training notebooks pass ``tensorflow=True``;
    scripts/train_*.py also pass ``threads``.

    Args:
        seed: integer seed.
        tensorflow: also call ``keras.utils.set_random_seed`` and enable TensorFlow's
            deterministic ops (imports TensorFlow, which takes a few seconds).
        threads: with ``tensorflow``, limit TensorFlow to this many CPU threads (1: bit-identical
            re-runs on any machine); only possible before TensorFlow has run anything.
    """
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)
    if tensorflow:
        _quiet_tensorflow()
        import keras
        import tensorflow as tf

        keras.utils.set_random_seed(seed)
        tf.config.experimental.enable_op_determinism()
        if threads is not None:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)


def _quiet_tensorflow():
    """Import TensorFlow and Keras without their C++ start-up chatter, which is noise in a notebook.

    TF_CPP_MIN_LOG_LEVEL silences TensorFlow's own log lines, but not the absl/oneDNN lines its libraries write
    to the process's stderr while they load (TensorFlow 2.20+), so stderr is pointed at /dev/null during the
    import. Errors still reach the notebook: the exception is raised after stderr is restored.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    logging.getLogger("tensorflow").addFilter(_drop_retracing_warning)  # adding the same filter twice is a no-op
    if "tensorflow" in sys.modules or importlib.util.find_spec("tensorflow") is None:
        return
    sys.stderr.flush()
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    try:
        import keras  # noqa: F401
        import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def _drop_retracing_warning(record):
    """False for TensorFlow's "triggered tf.function retracing" warning: every Keras model traces its own predict
    function once, so a notebook that compares several models (07's loss weights) sees it without anything wrong."""
    return "triggered tf.function retracing" not in record.getMessage()


def on_colab():
    """True when running inside Google Colab."""
    return "google.colab" in sys.modules


def _version(module_name):
    try:
        return importlib.import_module(module_name).__version__
    except ImportError:
        return None


def gpu_names():
    """Names of the GPUs TensorFlow can see (imports TensorFlow); empty on a CPU-only machine."""
    import tensorflow as tf

    return [gpu.name for gpu in tf.config.list_physical_devices("GPU")]


def runtime_report():
    """One line describing the runtime: Python, platform, CPU cores, and TensorFlow/GPU if loaded.

    Used in: every notebook's setup cell.
    """
    parts = [f"Python {platform.python_version()}", "Colab" if on_colab() else platform.system(),
             f"{os.cpu_count()} CPU cores"]
    if "tensorflow" in sys.modules:
        gpus = gpu_names()
        parts.append(f"TensorFlow {sys.modules['tensorflow'].__version__}")
        parts.append(f"GPU: {len(gpus)}" if gpus else "no GPU (CPU only)")
    return " | ".join(parts)


def environment_check():
    """Check what the course needs and return a table of (item, status, detail) rows.

    Used in: 00_course_map_and_audio_basics.ipynb.

    Returns:
        pandas.DataFrame with one row per check; `status` is "ok" or "missing".
    """
    import pandas as pd

    _quiet_tensorflow()
    rows = [("Python >= 3.10", sys.version_info >= (3, 10), platform.python_version())]
    for name in ("numpy", "scipy", "librosa", "soundfile", "sklearn", "matplotlib", "tensorflow", "keras"):
        version = _version(name)
        rows.append((name, version is not None, version or "pip install -r requirements.txt"))
    for tool in ("ffmpeg", "ffprobe"):
        path = shutil.which(tool)
        rows.append((tool, path is not None, "found" if path else "apt-get install ffmpeg (Colab has it)"))
    gpus = gpu_names() if _version("tensorflow") else []
    rows.append(("GPU (full mode only)", True, ", ".join(gpus) if gpus else "none: fine for sample mode"))
    data = data_dir()
    for name in ("speakers", "musdb"):
        present = (data / name).is_dir() and any((data / name).rglob("*.*"))
        rows.append((f"sample data: data/{name}", present, "present" if present else "missing: re-clone the repository"))
    table = pd.DataFrame(rows, columns=["item", "ok", "detail"])
    table["status"] = table.pop("ok").map({True: "ok", False: "missing"})
    return table


def headline(text):
    """Print a notebook's headline result; `run_course` collects these lines into its summary.

    Used in: every notebook's check cell, after its assertions pass.
    """
    print(f"Headline: {text}")
