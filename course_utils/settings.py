"""One switch: every value that differs between sample and full mode, per notebook, in one table.

Used in: every notebook, in the cell right after the parameters cell:

    SETTINGS = cu.settings.apply("06", DATA_MODE, globals())

A parameter left as ``None`` in the parameters cell takes the value of DATA_MODE's column below;
a value the reader sets by hand (or passes with ``papermill -p NAME VALUE`` or
``run_course --mode full --param NAME=VALUE``) wins. So ``-p DATA_MODE full`` is the whole switch.

Full-mode values are the seeds' configurations (S0 for 01–05, S2 for the U-Net, S3 for the mask CNN,
S1 for the autoencoder) on the real datasets: the Kaggle speakers at their own clip lengths and MUSDB18
at 44.1 kHz.
"""
from pathlib import Path

import pandas as pd

from . import autoencoder, mask_cnn, open_unmix, unet
from .runtime import check_data_mode, course_root
from .weights import weights_dir

#: the first test song's part that 06-10 show, play and explore (sample: the whole song; full: 30 s of it)
EXAMPLE_SECONDS = (None, (60, 90))
#: notebook number -> parameter name -> (sample value, full value)
TABLE = {
    # 00-05: only what differs between the modes (speakers, segment lengths and splits are the same in both)
    "00": {
        "MIX_CHECK_TRACKS": (None, 5),
    },
    "01": {
        "EVAL_SECONDS": (8, 20),
        "FILTERS_LEN": (64, 512),
    },
    "02": {
        "SEGMENT_HOP_SECONDS": (0.5, 1.0),
    },
    "03": {
        "SEGMENT_HOP_SECONDS": (0.5, 1.0),
        "EPOCHS": (200, 1000),
    },
    "04": {
        "SEGMENT_HOP_SECONDS": (0.25, 1.0),
        "BATCHNORM_MOMENTUM": (0.9, 0.99),
        "ANN_EPOCHS": (200, 1000),
    },
    "05": {
        "SEGMENT_HOP_SECONDS": (0.5, 1.0),
        "EPOCHS": (200, 1000),
        "MIX_SECONDS": (8, 20),
    },
    "06": {
        "N_FFT": (2048, 4096),
        "HOP_LENGTH": (512, 1024),
        "EXAMPLE_SECONDS": EXAMPLE_SECONDS,
        "REPET_MIN_SECONDS": (1.0, 2.0),
    },
    "07": {
        "CONFIG": (unet.SAMPLE_CONFIG, unet.FULL_CONFIG),
        "MODEL": (unet.DEFAULT_WEIGHTS, unet.weights_name(unet.DEFAULT_ALPHA, "full")),
        "ALPHA_MODELS": ("sample", "full"),
        "SCORE_UNSEEN": (True, False),
        "MAX_TEST_TRACKS": (None, 10),
        "LIVE_STEPS": (8, 100),
        "LIVE_BATCH": (4, 8),
        "EXAMPLE_SECONDS": EXAMPLE_SECONDS,
    },
    "08": {
        "CONFIG": (mask_cnn.SAMPLE_CONFIG, mask_cnn.FULL_CONFIG),
        "SEPARATOR_WEIGHTS": (mask_cnn.DEFAULT_WEIGHTS, "mask_cnn_full_fcn.npz"),
        "MAX_TEST_TRACKS": (None, 10),
        "LIVE_TRACKS": (None, 8),
        "LIVE_SECONDS": (None, 30),
        "LIVE_EPOCHS": (1, 5),
        "LIVE_FRAME_STEP": (32, 4),
        "S3_SECONDS": (4, 10),
        "EXAMPLE_SECONDS": EXAMPLE_SECONDS,
    },
    "09": {
        "CONFIG": (autoencoder.SAMPLE_CONFIG, autoencoder.FULL_CONFIG),
        "MAX_TEST_TRACKS": (None, 10),
        "LIVE_TRACKS": (None, 8),
        "LIVE_SECONDS": (None, 30),
        "LIVE_EPOCHS": (2, 10),
        "LIVE_REMIXES": (4, 0),
        "EXAMPLE_SECONDS": EXAMPLE_SECONDS,
    },
    "10": {
        "CONFIG": (open_unmix.SAMPLE_CONFIG, open_unmix.FULL_CONFIG),
        "UNET_CONFIG": (unet.SAMPLE_CONFIG, unet.FULL_CONFIG),
        "UNET_WEIGHTS": (unet.DEFAULT_WEIGHTS, unet.weights_name(unet.DEFAULT_ALPHA, "full")),
        "MAX_TEST_TRACKS": (None, 10),
        "PRETRAINED_MODELS": ((), ("umxl", "htdemucs")),
        "EXAMPLE_SECONDS": EXAMPLE_SECONDS,
    },
    "11": {
        "MODELS": ({"U-Net (S2)": unet.DEFAULT_WEIGHTS, "mask CNN (S3)": mask_cnn.DEFAULT_WEIGHTS,
                    "autoencoder (S1)": autoencoder.DEFAULT_WEIGHTS, "Open-Unmix (S4)": open_unmix.DEFAULT_WEIGHTS},
                   {"U-Net (S2)": unet.weights_name(unet.DEFAULT_ALPHA, "full"), "mask CNN (S3)": "mask_cnn_full_fcn.npz",
                    "autoencoder (S1)": autoencoder.weights_name(autoencoder.DEFAULT_NORMALISATION, "full"),
                    "Open-Unmix (S4)": open_unmix.weights_name("full")}),
        "N_FFT": (2048, 4096),
        "HOP": (512, 1024),
        "MAX_TEST_TRACKS": (None, 10),
        "LISTEN_SECONDS": (None, (60, 70)),
        "LISTEN_SONGS": (None, 3),
    },
}

#: notebooks that read trained weights: WEIGHTS_DIR follows the mode (`weights.weights_dir`)
WEIGHTS_NOTEBOOKS = ("07", "08", "09", "10", "11")


def values(notebook, data_mode):
    """The settings of one notebook in one mode: {name: value}.

    Used in: `apply`; tests/test_settings.py.

    Args:
        notebook: the two-digit number of the notebook, e.g. "06".
        data_mode: "sample" or "full".
    """
    check_data_mode(data_mode)
    if notebook not in TABLE:
        raise ValueError(f"No settings for notebook {notebook!r}; the table has {sorted(TABLE)}.")
    column = 0 if data_mode == "sample" else 1
    chosen = {name: pair[column] for name, pair in TABLE[notebook].items()}
    if notebook in WEIGHTS_NOTEBOOKS:
        chosen["WEIGHTS_DIR"] = weights_dir(data_mode)
    return chosen


def apply(notebook, data_mode, namespace):
    """Fill every parameter left as None in `namespace` with its value for `data_mode`; return the table.

    Used in: every notebook, right after the parameters cell (``namespace`` is the notebook's ``globals()``).

    Args:
        notebook: the two-digit number of the notebook, e.g. "06".
        data_mode: "sample" or "full" (the notebook's DATA_MODE).
        namespace: dict of the notebook's variables; changed in place.
    Returns:
        pandas.DataFrame, one row per setting: its sample and full values, the value in use, and where
        that value came from ("sample table", "full table" or "set by you").
    Raises:
        ValueError: unknown mode or notebook, or a setting the parameters cell does not define
            (a parameters cell and this table that disagree).
    """
    chosen = values(notebook, data_mode)
    missing = [name for name in chosen if name not in namespace]
    if missing:
        raise ValueError(f"The parameters cell of notebook {notebook} lacks {missing}: define each as None "
                         f"(= the value of DATA_MODE's column in course_utils/settings.py).")
    sample, full = values(notebook, "sample"), values(notebook, "full")
    rows = []
    for name, value in chosen.items():
        source = "set by you"
        if isinstance(value, Path) and isinstance(namespace[name], str):  # papermill -p passes folders as text
            namespace[name] = Path(namespace[name]).expanduser()
        if namespace[name] is None and value is not None:
            namespace[name], source = value, f"{data_mode} table"
        elif namespace[name] is None:
            source = f"{data_mode} table"
        rows.append((name, _show(sample[name]), _show(full[name]), _show(namespace[name]), source))
    return pd.DataFrame(rows, columns=["setting", "sample", "full", "in use", "from"]).set_index("setting")


def _show(value):
    """A short text for a table cell: a configuration dict by its STFT, a folder relative to the course."""
    if isinstance(value, dict) and "sr" in value:
        return f"sr {value['sr']}, n_fft {value['n_fft']}, hop {value['hop_length']}" + (
            f", base {value['base_filters']}" if "base_filters" in value else "")
    if hasattr(value, "relative_to"):
        try:
            return str(value.relative_to(course_root()))
        except ValueError:
            return str(value)
    return "all" if value is None else str(value)
