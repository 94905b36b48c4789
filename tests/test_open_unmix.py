"""Tests for course_utils/open_unmix.py: the network, per-bin scaling, examples, the separator, weights, refusals,
and the pretrained models' scoring path (with a stand-in for openunmix / demucs)."""
import numpy as np
import pytest

import course_utils as cu
from course_utils import masks, open_unmix
from course_utils.weights import save_weights_file
from test_unet import stereo_song as unet_song

SR = 8000
TINY = {**open_unmix.SAMPLE_CONFIG, "sr": SR, "n_fft": 32, "hop_length": 8, "bandwidth": 2000, "hidden_size": 4,
        "nb_layers": 1, "sources": ["vocals", "accompaniment"], "span_frames": 40}


def song(seconds=0.5):
    """(mixture, {vocals, accompaniment}, sr): test_unet's noise-like vocals and two tones, stereo, exact sum."""
    parts = unet_song(seconds, sr=SR)
    return parts["mixture"], {"vocals": parts["vocals"], "accompaniment": parts["accompaniment"]}, SR


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    path = tmp_path_factory.mktemp("open_unmix") / "tiny.npz"
    open_unmix.save_weights(open_unmix.build_separator_model(TINY), path, TINY, {"loss": [1.0]})
    return path


# ---------------------------------------------------------------- network

def test_network_shapes_parameters_and_bandwidth():
    assert open_unmix.max_bin(TINY) == 9  # bins 0, 250, ..., 2000 Hz
    assert open_unmix.max_bin(open_unmix.FULL_CONFIG) == 1487  # openunmix.utils.bandwidth_to_max_bin(44100, 4096, 16000)
    model = open_unmix.build_open_unmix(TINY)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == open_unmix.parameter_count(TINY)
    for frames in (7, 23):  # any number of frames: the BLSTM runs over the whole sequence
        x = np.random.default_rng(0).gamma(1.0, 1.0, (2, frames, 2, 17)).astype(np.float32)
        y = np.asarray(model(x))
        assert y.shape == x.shape and np.all(y >= 0)


def test_published_size():
    # Open-Unmix (UMX) for one target: hidden 512, 2049 bins, 1487 of them encoded, stereo: about 8.9 M parameters
    assert open_unmix.parameter_count(open_unmix.FULL_CONFIG) == pytest.approx(8.9e6, rel=0.02)


def test_input_scaling_starts_from_the_training_statistics():
    rng = np.random.default_rng(1)
    x = rng.gamma(2.0, 1.0, (3, 20, 2, 17)) * np.arange(1, 18)
    mean, std = open_unmix.magnitude_statistics(x)
    mono = x.mean(axis=2).reshape(-1, 17)
    assert np.allclose(mean, mono.mean(axis=0)) and np.allclose(std, mono.std(axis=0))
    model = open_unmix.build_open_unmix(TINY, mean, std)
    shift, scale = model.get_layer("input_scaling").get_weights()
    assert np.allclose(shift, -mean[:9]) and np.allclose(scale, 1 / std[:9], rtol=1e-5)
    out_scale, out_shift = model.get_layer("output_scaling").get_weights()[::-1]
    assert np.allclose(out_scale, 1) and np.allclose(out_shift, 1)  # Open-Unmix starts the output scaling at 1, 1
    with pytest.raises(ValueError, match="magnitude_statistics"):
        open_unmix.build_open_unmix(TINY, mean[:5], std[:5])


def test_loss_is_the_mse_summed_over_targets():
    y_true = np.zeros((1, 1, 1, 2, 2), np.float32)
    y_pred = np.array([[[[[1.0, 2.0], [3.0, 0.0]]]]], np.float32)  # target 0: errors 1, 3; target 1: 2, 0
    assert float(np.asarray(open_unmix.mse(y_true, y_pred))[0]) == pytest.approx((1 + 9) / 2 + (4 + 0) / 2)


def test_examples_hold_every_channel_and_target_at_the_same_frames():
    mixture, stems, sr = song()
    x, y = open_unmix.track_examples((mixture, stems, sr), TINY)
    frames = 1 + len(mixture) // TINY["hop_length"]
    assert x.shape == (1, frames, 2, 17) and y.shape == (1, frames, 2, 17, 2)
    assert x.shape[1:] == open_unmix.example_shapes(TINY, len(mixture))[0]
    spec = np.abs(masks.stft(stems["vocals"], TINY["n_fft"], TINY["hop_length"]))  # (channels, bins, frames)
    assert np.allclose(y[0, :, :, :, 0], np.transpose(spec, (2, 0, 1)), atol=1e-6)
    mono_x, _ = open_unmix.track_examples((mixture[:, 0], {k: v[:, 0] for k, v in stems.items()}, sr), TINY)
    assert np.allclose(mono_x[0, :, 0], mono_x[0, :, 1])  # mono is copied to both channels
    with pytest.raises(ValueError, match="resample"):
        open_unmix.track_examples((mixture, stems, 44100), TINY)


def test_a_few_steps_lower_the_training_loss():
    import keras

    keras.utils.set_random_seed(0)
    mixture, stems, sr = song(0.3)
    x, y = open_unmix.track_examples((mixture, stems, sr), TINY)
    model = open_unmix.build_separator_model({**TINY, "learning_rate": 1e-2}, *open_unmix.magnitude_statistics(x))
    losses = [float(np.ravel(model.train_on_batch(x, y))[0]) for _ in range(15)]  # one compiled step, 15 updates
    assert int(model.optimizer.iterations) == 15 and losses[-1] < losses[0]


# ---------------------------------------------------------------- the separator

def oracle_stand_in(mixture, stems, config, overlap):
    """A stand-in for the networks: each target's oracle IRM1 mask times the input, span by span as `as_separator`
    cuts the song (one call per span, in order)."""
    oracle = masks.oracle_masks(mixture, stems, "IRM1", config["n_fft"], config["hop_length"])
    frames = next(iter(oracle.values())).shape[-1]
    if frames <= config["span_frames"]:
        spans = [np.stack([np.transpose(oracle[name], (2, 0, 1)) for name in config["sources"]], -1)]
    else:
        blocks = [masks.split_blocks(oracle[name], config["span_frames"], overlap)[0][..., 0] for name in oracle]
        per_span = [b.reshape(-1, 2, *b.shape[1:]) for b in blocks]  # (n_spans, channels, bins, span)
        spans = [np.stack([np.transpose(b[i], (2, 0, 1)) for b in per_span], -1) for i in range(len(per_span[0]))]
    calls = iter(spans)
    return lambda batch: next(calls)[None] * batch[..., None]


@pytest.mark.parametrize("seconds", [0.2, 1.3])  # one span (30 frames), several overlapping spans (1301 frames)
def test_oracle_through_the_separator_equals_the_oracle(seconds):
    mixture, stems, sr = song(seconds)
    direct = masks.oracle_separation(mixture, stems, "IRM1", TINY["n_fft"], TINY["hop_length"])
    model = open_unmix.as_separator(oracle_stand_in(mixture, stems, TINY, 0.25), TINY)
    through = cu.separate(mixture, sr, model)
    for name in TINY["sources"]:
        assert through[name].shape == mixture.shape
        assert np.max(np.abs(through[name] - direct[name])) < 1e-5


def test_masks_are_those_of_the_whole_join_kept_as_float32():
    mixture = song(1.3)[0]  # 1301 frames: 44 overlapping spans, six chunks of frames

    def network(batch):  # a stand-in whose estimates differ from span to span
        return np.stack([batch * (1 + batch.mean()), batch + batch.std()], -1).astype(np.float32)

    magnitude = masks.stft_magnitude(mixture, TINY["n_fft"], TINY["hop_length"])
    made = open_unmix.as_separator(network, TINY).masks(magnitude)
    blocks, layout = masks.split_blocks(magnitude, TINY["span_frames"], 0.25)  # the masks of the whole song at once
    spans = blocks[..., 0].reshape(-1, 2, *blocks.shape[1:3])
    outputs = np.concatenate([network(np.transpose(s, (2, 0, 1))[None]) for s in spans]).astype(np.float64)
    outputs = np.transpose(outputs, (0, 2, 3, 1, 4)).reshape(-1, *blocks.shape[1:3], 2)
    whole = masks.ratio_masks(dict(zip(TINY["sources"], np.maximum(masks.join_blocks(outputs, layout), 0.0))))
    assert all(made[name].dtype == np.float32 and np.array_equal(made[name], whole[name].astype(np.float32))
               for name in TINY["sources"])


def test_the_wiener_filter_keeps_the_sum_and_changes_the_estimates(tiny_weights):
    mixture, _, sr = song(0.7)
    model = cu.load_separator(tiny_weights)
    assert model.kind == "open_unmix" and model.sources == tuple(TINY["sources"])
    for audio in (mixture, mixture[:, 0]):
        plain = cu.separate(audio, sr, model)
        filtered = cu.separate(audio, sr, model, wiener_iterations=1)
        for estimates in (plain, filtered):
            assert estimates["vocals"].shape == audio.shape
            assert np.allclose(estimates["vocals"] + estimates["accompaniment"], audio, atol=1e-4)
    assert not np.allclose(plain["vocals"], filtered["vocals"])


def test_weights_of_another_kind_or_configuration_are_refused(tiny_weights, tmp_path):
    assert cu.load_separator(tiny_weights, config={"hidden_size": 4}).config["hidden_size"] == 4
    with pytest.raises(ValueError, match="another configuration"):
        open_unmix.load(tiny_weights, config={"hidden_size": 64})
    with pytest.raises(FileNotFoundError, match="train_open_unmix"):
        open_unmix.load(tmp_path / "missing.npz")
    save_weights_file(open_unmix.build_separator_model(TINY), tmp_path / "unet.npz", "unet", {"config": TINY})
    with pytest.raises(ValueError, match="not a Open-Unmix|not an? Open-Unmix"):
        open_unmix.load(tmp_path / "unet.npz")
    with pytest.raises(ValueError, match="lacks"):
        open_unmix.check_config({"sr": SR})


def test_clear_errors_on_bad_input(tiny_weights):
    mixture, _, sr = song()
    model = open_unmix.load(tiny_weights)
    with pytest.raises(ValueError, match="resample"):
        cu.separate(mixture, 44100, model)
    with pytest.raises(ValueError, match="silent"):
        cu.separate(np.zeros_like(mixture), sr, model)
    broken = mixture.copy()
    broken[10, 0] = np.nan
    with pytest.raises(ValueError, match="NaN|finite"):
        cu.separate(broken, sr, model)
    with pytest.raises(ValueError, match="down-mix"):
        cu.separate(np.concatenate([mixture, mixture[:, :1]], axis=1), sr, model)


# ---------------------------------------------------------------- pretrained models (stand-in)

def test_pretrained_scoring_path_with_a_stand_in():
    sr = SR
    t = np.arange(sr) / sr
    mixture = np.stack([np.sin(2 * np.pi * 200 * t), 0.5 * np.sin(2 * np.pi * 300 * t)], axis=1)
    stems4 = {"vocals": 0.5 * mixture, "drums": 0.2 * mixture, "bass": 0.2 * mixture, "other": 0.1 * mixture}
    rates = []

    def stand_in(audio, model_sr):  # the call of open_unmix.pretrained_separator(...)'s function
        rates.append((model_sr, len(audio)))
        return {name: share * audio for name, share in (("vocals", 0.5), ("drums", 0.2), ("bass", 0.2),
                                                        ("other", 0.1))}

    method = open_unmix.pretrained_method(stand_in, sr, model_sr=2 * sr)
    estimates = method(mixture, stems4)
    assert rates == [(2 * sr, 2 * len(mixture))]  # the model got the song at its own rate
    assert set(estimates) == set(stems4) and estimates["vocals"].shape == mixture.shape
    assert np.max(np.abs(estimates["vocals"] - stems4["vocals"])) < 0.02  # resampled there and back
    frames, timings, _ = cu.comparison.run_comparison({"stand-in": method}, [(mixture, stems4, sr)], ["song"],
                                                      progress=False)
    assert set(frames["target"]) >= {"vocals", "accompaniment", "drums"} and len(timings) == 1


def test_a_missing_package_says_what_to_install(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_torch(name, *args, **kwargs):
        if name.split(".")[0] in ("openunmix", "demucs", "torch"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torch)
    for name in open_unmix.PRETRAINED:
        with pytest.raises(ImportError, match="pip install"):
            open_unmix.pretrained_separator(name)
    with pytest.raises(ValueError, match="umxl"):
        open_unmix.pretrained_separator("umx-xxl")


# ---------------------------------------------------------------- scripts/train_open_unmix.py

def test_training_script_defaults_and_refusals(capsys):
    import importlib
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    script = importlib.import_module("train_open_unmix")
    sample = script.parse_args(["--train-root", "songs"])
    full = script.parse_args(["--full"])
    assert sample.streaming and sample.chunk_seconds == 3.0 and sample.checkpoint_dir.endswith("train_open_unmix/sample")
    assert full.chunk_seconds == 6.0 and full.checkpoint_dir.endswith("train_open_unmix/full")
    for argv in ([], ["--train-root", "songs", "--lr-decay", "0.5"], ["--full", "--batch-size", "0"],
                 ["--full", "--train-root", "songs"]):
        with pytest.raises(SystemExit):
            script.parse_args(argv)
        assert "error:" in capsys.readouterr().err
