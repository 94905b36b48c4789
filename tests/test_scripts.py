"""scripts/train_*.py: the command lines parse, defaults follow the mode, and bad values are refused."""
import importlib
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
sys.path.insert(0, str(SCRIPTS))


def script(name):
    return importlib.import_module(name)


def test_defaults_follow_the_data_mode():
    unet_sample, unet_full = script("train_unet").parse_args([]), script("train_unet").parse_args(["--full"])
    assert (unet_sample.epochs, unet_sample.remix) == (50, True) and (unet_full.epochs, unet_full.remix) == (40, False)
    masks_sample, masks_full = script("train_mask_cnn").parse_args([]), script("train_mask_cnn").parse_args(["--full"])
    assert masks_sample.remixes == 40 and masks_full.remixes == 0
    assert masks_sample.source_list == ["vocals", "drums", "bass", "other"]
    auto = script("train_autoencoder").parse_args(["--normalisations", "cmvn"])
    assert auto.normalisation_list == ["cmvn"] and auto.threads == 1 and auto.out.endswith("weights")


@pytest.mark.parametrize("name, argv", [
    ("train_unet", ["--alphas", "1.5"]), ("train_unet", ["--alphas", "loud"]), ("train_unet", ["--epochs", "0"]),
    ("train_unet", ["--resume"]), ("train_unet", ["--strategy", "mirrored"]), ("train_unet", ["--base-filters", "0"]),
    ("train_mask_cnn", ["--sources", "piano"]), ("train_mask_cnn", ["--songs", "0"]),
    ("train_mask_cnn", ["--positive-weight", "0"]), ("train_mask_cnn", ["--remixes", "-1"]),
    ("train_autoencoder", ["--normalisations", "zscore"]), ("train_autoencoder", ["--songs", "1"]),
    ("train_autoencoder", ["--patience", "0"]), ("train_autoencoder", ["--full", "--train-root", "songs"]),
])
def test_bad_values_are_refused_with_a_message(name, argv, capsys):
    with pytest.raises(SystemExit):
        script(name).parse_args(argv)
    assert "error:" in capsys.readouterr().err


def test_train_root_reads_any_musdb_layout_folder():
    from course_utils import datasets

    root = datasets.sample_musdb_root()  # the decoded sample: a MUSDB-layout folder like the whole-song renders
    args = script("train_mask_cnn").parse_args(["--train-root", str(root)])
    assert [t.name for t in script("training_cli").training_db(args).tracks] == \
        [t.name for t in datasets.load_musdb("sample", subsets="train").tracks]
    with pytest.raises(FileNotFoundError, match="not found"):
        script("training_cli").training_db(script("train_unet").parse_args(["--train-root", str(root / "nowhere")]))
