"""scripts/train_*.py: the command lines parse, defaults follow the mode, bad values are refused, and full mode
trains on a tiny MUSDB18 tree, resumes exactly and writes weights the notebooks can load."""
import importlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
sys.path.insert(0, str(SCRIPTS))


def script(name):
    return importlib.import_module(name)


def test_defaults_follow_the_data_mode():
    unet_sample, unet_full = script("train_unet").parse_args([]), script("train_unet").parse_args(["--full"])
    assert (unet_sample.epochs, unet_sample.remix) == (50, True) and (unet_full.epochs, unet_full.remix) == (40, False)
    masks_sample = script("train_mask_cnn").parse_args(["--models", "frame"])
    masks_full = script("train_mask_cnn").parse_args(["--full"])
    assert masks_sample.remixes == 40 and masks_full.remixes == 0 and masks_full.model_list == ["fcn"]
    assert masks_sample.source_list == ["vocals", "drums", "bass", "other"]
    with pytest.raises(SystemExit):  # the separator trains on songs read from disk only
        script("train_mask_cnn").parse_args([])
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


# ---------------------------------------------------------------- full mode on a tiny MUSDB18 tree

ROOT = SCRIPTS.parent
SMALL_BUDGET = ["--epochs", "2", "--steps-per-epoch", "2", "--batch-size", "1", "--validation-steps", "1",
                "--no-progress"]


@pytest.fixture(scope="module")
def tiny_musdb(tmp_path_factory):
    from test_training import musdb_wav_tree

    return musdb_wav_tree(tmp_path_factory.mktemp("musdb"), seconds=3.0)


def run_mains(*calls):
    """Run scripts' main(argv) one after the other in a fresh Python (one CPU thread, as a user would)."""
    lines = ["import sys", f"sys.path.insert(0, {str(SCRIPTS)!r})"]
    lines += [f"import {name}; {name}.main({[str(a) for a in argv]!r})" for name, argv in calls]
    result = subprocess.run([sys.executable, "-c", "\n".join(lines)], cwd=ROOT, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_full_defaults_and_full_only_options():
    from course_utils import weights

    args = script("train_unet").parse_args(["--full"])
    assert args.out == str(weights.weights_dir("full")) and args.checkpoint_dir.endswith("train_unet/full")
    assert script("train_unet").parse_args(["--resume", "--checkpoint-dir", "ckpt"]).resume  # sample mode resumes too
    for name, argv in [("train_mask_cnn", ["--resume", "--checkpoint-dir", "x"]),
                       ("train_autoencoder", ["--workers", "2"]), ("train_unet", ["--validation-steps", "1"]),
                       ("train_unet", ["--full", "--remix"]), ("train_mask_cnn", ["--full", "--remixes", "3"]),
                       ("train_autoencoder", ["--steps-per-epoch", "2"])]:
        with pytest.raises(SystemExit):
            script(name).parse_args(argv)


def test_unet_full_resumes_to_the_same_weights(tiny_musdb, tmp_path):
    common = ["--full", "--musdb-root", tiny_musdb, "--alphas", "1", "--base-filters", "2", *SMALL_BUDGET]
    cut, plain = ["--checkpoint-dir", tmp_path / "cut", "--out", tmp_path / "cut"], \
        ["--checkpoint-dir", tmp_path / "plain", "--out", tmp_path / "plain"]
    out = run_mains(("train_unet", common + cut + ["--stop-after-steps", "3"]))  # interrupted in epoch 2
    assert "stopped after 3 steps, 1 epochs complete" in out
    assert not (tmp_path / "cut" / "unet_full_alpha_1.npz").exists()
    out = run_mains(("train_unet", common + cut + ["--resume"]), ("train_unet", common + plain))
    assert "resumed from" in out
    from course_utils import unet

    resumed = unet.load(tmp_path / "cut" / "unet_full_alpha_1.npz", {**unet.FULL_CONFIG, "base_filters": 2})
    uninterrupted = unet.load(tmp_path / "plain" / "unet_full_alpha_1.npz")
    meta, meta_plain = resumed.meta, uninterrupted.meta
    assert meta["history"] == meta_plain["history"] and len(meta["training"]["val_loss"]) == 2
    for a, b in zip(resumed.network.get_weights(), uninterrupted.network.get_weights()):
        assert np.array_equal(a, b)


def test_mask_cnn_and_autoencoder_full_write_loadable_weights(tiny_musdb, tmp_path):
    from course_utils import autoencoder, mask_cnn

    common = ["--full", "--musdb-root", tiny_musdb, "--checkpoint-dir", tmp_path / "ckpt", "--out", tmp_path,
              *SMALL_BUDGET]
    out = run_mains(("train_mask_cnn", common + ["--models", "fcn,frame", "--sources", "vocals"]),
                    ("train_autoencoder", common + ["--normalisations", "minmax", "--stats-blocks", "8"]))
    assert "2 training songs, 1 validation songs" in out
    _, meta = mask_cnn.load_mask_cnn(tmp_path / "mask_cnn_full_vocals.npz", mask_cnn.FULL_CONFIG, "vocals")
    assert len(meta["history"]["val_loss"]) == meta["training"]["epochs_run"] == 2
    separator = mask_cnn.load(tmp_path / "mask_cnn_full_fcn.npz")
    assert separator.kind == "mask_cnn" and separator.config["sr"] == 44100
    meta = autoencoder.load(tmp_path / "autoencoder_full_minmax.npz",
                            {**autoencoder.FULL_CONFIG, "normalisation": "minmax"}).meta
    assert meta["history"]["best_epoch"] in (1, 2) and meta["history"]["training"]["steps_per_epoch"] == 2
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == ["fcn", "minmax", "vocals"]
    # --export-best writes the same weights from the checkpoints, without training
    export = ["--full", "--musdb-root", tiny_musdb, "--checkpoint-dir", tmp_path / "ckpt", "--out", tmp_path / "export",
              "--no-progress"]
    out = run_mains(("train_autoencoder", export + ["--normalisations", "minmax", "--stats-blocks", "8",
                                                    "--batch-size", "1", "--steps-per-epoch", "2"]
                     + ["--export-best"]),
                    ("train_mask_cnn", export + ["--batch-size", "1", "--steps-per-epoch", "2", "--export-best"]))
    assert "fcn: exporting epoch" in out
    config = {**autoencoder.FULL_CONFIG, "normalisation": "minmax"}
    for name, load in (("autoencoder_full_minmax.npz", lambda path: autoencoder.load(path, config)),
                       ("mask_cnn_full_fcn.npz", mask_cnn.load)):
        for a, b in zip(load(tmp_path / name).network.get_weights(), load(tmp_path / "export" / name).network.get_weights()):
            assert np.array_equal(a, b), name
