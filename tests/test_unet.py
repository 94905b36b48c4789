"""Tests for course_utils/unet.py: shapes, network, loss, segments, sample-exact reconstruction, denoiser, weights."""
import numpy as np
import pytest
import soundfile as sf

import course_utils as cu
from course_utils import datasets, masks, unet
from course_utils.weights import save_weights_file

SR = 8000
TINY = {"sr": SR, "n_fft": 64, "hop_length": 16, "segment_frames": 20, "n_levels": 2, "base_filters": 2,
        "dropout": 0.0, "n_sources": 2}


def stereo_song(seconds=1.0, sr=SR, seed=0):
    """Noise-like 'vocals' and a two-tone 'accompaniment', stereo, and their exact sum."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    vocals = rng.normal(0, 0.1, (t.size, 2)) * np.sin(2 * np.pi * 3 * t)[:, None]
    accompaniment = np.stack([0.3 * np.sin(2 * np.pi * 440 * t), 0.2 * np.sin(2 * np.pi * 660 * t)], axis=1)
    return {"mixture": vocals + accompaniment, "vocals": vocals, "accompaniment": accompaniment, "sr": sr}


def write_musdb(root, names=("A - One", "B - Two"), seconds=1.0):
    """A tiny MUSDB18-layout WAV tree root/train/<name>/{mixture,drums,bass,other,vocals}.wav at SR, stereo."""
    n = int(seconds * SR)
    for k, name in enumerate(names):
        folder = root / "train" / name
        folder.mkdir(parents=True)
        rng = np.random.default_rng(k)
        stems = {stem: (0.1 * rng.normal(size=(n, 2))).astype(np.float32) for stem in datasets.MUSDB_TARGETS}
        for stem, audio in stems.items():
            sf.write(folder / f"{stem}.wav", audio, SR, subtype="FLOAT")
        sf.write(folder / "mixture.wav", sum(stems.values()), SR, subtype="FLOAT")
    (root / "test").mkdir(exist_ok=True)
    return root


@pytest.mark.parametrize("shape", [(1025, 173), (513, 128), (1, 1), (17, 33), (16, 16), (31, 5, 3)])
def test_pad_then_crop_is_exact(shape):
    spec = np.random.default_rng(0).random(shape)
    padded, original = unet.pad_to_multiple(spec, 16)
    assert padded.shape[0] % 16 == 0 and padded.shape[1] % 16 == 0
    assert np.array_equal(unet.crop_to_shape(padded, original), spec)
    assert padded[original[0]:].sum() == 0 and padded[:, original[1]:].sum() == 0


def test_padded_shape_matches_s2():
    assert unet.padded_shape(1025, 173) == (1040, 176)


def test_shape_table_shows_s2_table_1():
    table = unet.unet_shape_table(1025, 173)
    assert table.loc[0, "output"] == "512 x 86 x 32"
    assert table.loc[3, "output"] == "64 x 10 x 256"
    first_decoder = table.iloc[5]
    assert first_decoder["output"] == "128 x 20 x 256" and first_decoder["skip"] == "128 x 21 x 256"
    assert not first_decoder["ok"]
    assert unet.unet_shape_table(1025, 173, pad=True)["ok"].all()


def test_build_unet_on_padded_sizes_and_clear_error_otherwise():
    model = unet.build_unet((32, 16), base_filters=2, n_levels=2)
    out = model(np.ones((1, 32, 16, 1), np.float32))
    assert out.shape == (1, 32, 16, 2) and np.all(np.asarray(out) >= 0)
    with pytest.raises(ValueError, match=r"528, 128"):
        unet.build_unet((513, 128), base_filters=2)
    masked = unet.build_unet((32, 16), base_filters=2, n_levels=2, mask_activation="sigmoid")
    assert np.all(np.asarray(masked(np.ones((1, 32, 16, 1), np.float32))) <= 1.0)  # sigmoid masks x |X| = 1
    with pytest.raises(ValueError, match="mask_activation"):
        unet.build_unet((32, 16), mask_activation="tanh")


def test_parameter_counts():
    # hand count for base 4, one level: convs 36+144+288+576, transposed 128, decoder convs 288+144,
    # batch norms 4 * (4+4+8+8+4+4+4), 1x1 conv 4*2+2
    assert unet.build_unet((16, 16), base_filters=4, n_levels=1).count_params() == 1758
    assert unet.build_from_config(unet.FULL_CONFIG).count_params() == 7_769_826  # S2's model: 7.77 M


def test_weighted_l1_loss_by_hand():
    y_true = np.array([[[[1.0, 2.0], [0.0, 4.0]], [[3.0, 0.0], [1.0, 1.0]]]], np.float32)  # (1, 2, 2, 2)
    y_pred = np.array([[[[0.0, 2.5], [1.0, 4.0]], [[3.0, 1.0], [3.0, 0.0]]]], np.float32)
    vocals = (1 + 1 + 0 + 2) / 4
    accompaniment = (0.5 + 0 + 1 + 1) / 4
    loss = float(unet.weighted_l1_loss(0.7)(y_true, y_pred))
    assert loss == pytest.approx(0.7 * vocals + 0.3 * accompaniment, rel=1e-6)
    for bad in (-0.1, 1.5, "half"):
        with pytest.raises(ValueError, match=r"\[0, 1\]"):
            unet.weighted_l1_loss(bad)


def test_alpha_from_norms():
    assert unet.alpha_from_norms([1.0, 1.0], [2.0, 2.0]) == pytest.approx(2 / 3)
    # S2's 0.707 means the accompaniment's mean 2-norm is 2.41 times the vocals'
    assert unet.alpha_from_norms([1.0], [0.707 / 0.293]) == pytest.approx(0.707)


def test_chunk_examples_cut_every_stem_at_the_same_offset():
    song = stereo_song()
    chunk = {"mixture": song["mixture"], "vocals": 0.25 * song["mixture"], "accompaniment": 0.75 * song["mixture"]}
    length = unet.segment_samples(TINY)
    x, y = unet.chunk_examples({k: v[:length] for k, v in chunk.items()}, TINY)
    assert x.shape == (2, 36, 20, 1) and y.shape == (2, 36, 20, 2)  # one example per channel; 33 bins padded to 36
    assert (x.shape[1:], y.shape[1:]) == unet.example_shapes(TINY)
    assert np.allclose(y[..., 0], 0.25 * x[..., 0], atol=1e-5) and np.allclose(y[..., 1], 0.75 * x[..., 0], atol=1e-5)
    assert x[:, 33:].sum() == 0
    with pytest.raises(ValueError, match="one shape"):
        unet.chunk_examples({**chunk, "vocals": chunk["vocals"][:, 0]}, TINY)


def test_segment_dataset_streams_remixed_valid_mixtures_from_disk(tmp_path):
    root = write_musdb(tmp_path)
    tracks = cu.load_musdb("full", subsets="train", root=root).tracks
    x, y = next(iter(unet.segment_dataset(tracks, TINY, batch_size=4, seed=0, remix=True)))
    assert x.shape == (4, 36, 20, 1) and y.shape == (4, 36, 20, 2)
    assert np.all(x.numpy()[..., 0] <= y.numpy().sum(axis=-1) + 1e-4)  # |gV + gA| <= g|V| + g|A|: true mixtures
    with pytest.raises(ValueError, match="resample"):
        unet.segment_dataset(tracks, {**TINY, "sr": 16000})


def oracle_network(mixture, stems, config, overlap):
    """A stand-in network that outputs the oracle IRM1 magnitudes of exactly the blocks `as_separator` cuts."""
    oracle = masks.oracle_masks(mixture, stems, "IRM1", config["n_fft"], config["hop_length"])
    blocks = np.concatenate([masks.split_blocks(oracle[name], config["segment_frames"], overlap,
                                                2 ** config["n_levels"])[0] for name in unet.SOURCES], axis=-1)
    return lambda batch: blocks * batch


@pytest.mark.parametrize("overlap", [0.0, 0.5])
def test_oracle_through_the_separator_equals_the_oracle(overlap):
    song = stereo_song(seconds=1.3)
    stems = {"vocals": song["vocals"], "accompaniment": song["accompaniment"]}
    direct = masks.oracle_separation(song["mixture"], stems, "IRM1", TINY["n_fft"], TINY["hop_length"])
    model = unet.as_separator(oracle_network(song["mixture"], stems, TINY, overlap), TINY, 0.5, overlap)
    through = cu.separate(song["mixture"], SR, model)
    for name in unet.SOURCES:
        assert through[name].shape == song["mixture"].shape
        assert np.max(np.abs(through[name] - direct[name])) < 1e-6


def test_denoiser_keeps_a_steady_tone_and_mutes_a_click_in_silence():
    t = np.arange(3 * SR) / SR
    tone = 0.5 * np.sin(2 * np.pi * 220 * t)
    assert np.allclose(unet.hilbert_denoise(tone, SR), tone)
    signal = tone.copy()
    signal[SR:2 * SR] = 0.0
    signal[int(1.5 * SR)] = 0.9  # a click in the silent second
    out = unet.hilbert_denoise(signal, SR)
    assert np.abs(out[int(1.4 * SR):int(1.6 * SR)]).max() < 1e-3
    assert np.allclose(out[:int(0.8 * SR)], signal[:int(0.8 * SR)])


@pytest.fixture
def tiny_weights(tmp_path):
    model = unet.build_from_config(TINY)
    path = tmp_path / "tiny.npz"
    unet.save_weights(model, path, TINY, alpha=0.5)
    return path


def test_separator_gives_aligned_estimates_that_add_up(tiny_weights):
    song = stereo_song(seconds=0.7)
    model = cu.load_separator(tiny_weights)
    assert model.kind == "unet" and model.sources == unet.SOURCES and model.meta["alpha"] == 0.5
    for mixture in (song["mixture"], song["mixture"][:, 0]):
        for wiener in (0, 1):
            estimates = cu.separate(mixture, SR, model, wiener_iterations=wiener)
            assert list(estimates) == list(unet.SOURCES)
            assert estimates["vocals"].shape == mixture.shape
            assert np.allclose(estimates["vocals"] + estimates["accompaniment"], mixture, atol=1e-4)


def test_masks_are_those_of_the_whole_join_kept_as_float32(tiny_weights):
    mixture = stereo_song(seconds=1.0)["mixture"]  # 501 frames: 52 blocks a channel, two chunks of frames
    model = cu.load_separator(tiny_weights)
    magnitude = masks.stft_magnitude(mixture, TINY["n_fft"], TINY["hop_length"])
    made = model.masks(magnitude)
    blocks, layout = masks.split_blocks(magnitude, TINY["segment_frames"], 0.5, 2 ** TINY["n_levels"])
    joined = masks.join_blocks(masks.predict_blocks(model.network, blocks, 8).astype(np.float64), layout)
    whole = unet.masks_from_magnitudes(dict(zip(unet.SOURCES, joined)), magnitude, 0.5)  # the whole song at once
    assert all(made[name].dtype == np.float32 and np.array_equal(made[name], whole[name].astype(np.float32))
               for name in unet.SOURCES)


def test_one_trained_output_gives_complementary_masks():
    magnitude = np.array([[1.0, 2.0], [0.0, 4.0]])
    estimates = {"vocals": np.array([[0.5, 3.0], [1.0, 1.0]]), "accompaniment": np.zeros((2, 2))}
    result = unet.masks_from_magnitudes(estimates, magnitude, alpha=1)
    assert list(result) == list(unet.SOURCES)
    assert np.allclose(result["vocals"], [[0.5, 1.0], [0.0, 0.25]]) and np.allclose(sum(result.values()), 1.0)


def test_weights_of_another_kind_or_configuration_are_rejected(tiny_weights, tmp_path):
    with pytest.raises(ValueError, match="another configuration"):
        unet.load(tiny_weights, config={**TINY, "n_fft": 128})
    with pytest.raises(FileNotFoundError):
        unet.load(tiny_weights.parent / "missing.npz")
    model = unet.build_from_config(TINY)
    save_weights_file(model, tmp_path / "other.npz", "mask_cnn", {"config": TINY})
    with pytest.raises(ValueError, match="not a U-Net"):
        unet.load(tmp_path / "other.npz")
    with pytest.raises(ValueError, match="configuration's blocks"):
        unet.as_separator(unet.build_from_config({**TINY, "segment_frames": 40}), TINY, 0.5)
    with pytest.raises(ValueError, match="alpha"):
        unet.as_separator(model, TINY, 2.0)


def test_clear_errors_on_bad_input(tiny_weights):
    song = stereo_song()
    model = unet.load(tiny_weights)
    with pytest.raises(ValueError, match="resample"):
        cu.separate(song["mixture"], 44100, model)
    with pytest.raises(ValueError, match="shorter than one STFT frame"):
        unet.check_config({**TINY, "segment_frames": 2})
    with pytest.raises(ValueError, match="shorter than one STFT frame"):
        cu.separate(song["mixture"][:32], SR, model)
    with pytest.raises(ValueError, match="channels"):
        cu.separate(song["mixture"].T, SR, model)
    with pytest.raises(ValueError, match="silent"):
        cu.separate(np.zeros_like(song["mixture"]), SR, model)
    broken = song["mixture"].copy()
    broken[10, 0] = np.nan
    with pytest.raises(ValueError, match="NaN|finite"):
        cu.separate(broken, SR, model)


def test_vocal_rest_effects_measures_rests_and_muted_notes():
    sr = 1000
    t = np.arange(4 * sr) / sr
    vocals = np.where(t < 2, np.sin(2 * np.pi * 50 * t), 0.0)  # sung for 2 s, then a rest
    accompaniment = 0.5 * np.sin(2 * np.pi * 7 * t)
    mixture = vocals + accompaniment
    leaky = vocals + 0.1 * accompaniment
    effects = unet.vocal_rest_effects(vocals, leaky, mixture, sr)
    assert effects["rest share"] == pytest.approx(0.5)
    assert effects["rest leakage dB"] == pytest.approx(-20.0, abs=0.01)  # 0.1 x the accompaniment in the rests
    assert effects["sung frames muted"] == 0.0
    muted = np.where(t < 1, leaky, 0.0)  # the first second kept: half the sung frames and every rest muted
    after = unet.vocal_rest_effects(vocals, muted, mixture, sr)
    assert after["rest leakage dB"] == -120.0
    assert after["sung frames muted"] == pytest.approx(0.5)


@pytest.mark.parametrize("case, match", [
    ("shape", "one shape"), ("silent", "silent everywhere"), ("rest_db", "rest_db < 0")])
def test_vocal_rest_effects_refuses_bad_input(case, match):
    sr, x = 1000, np.random.default_rng(0).standard_normal(2000)
    args = {"shape": (x, x[:1000], x), "silent": (np.zeros(2000), x, x), "rest_db": (x, x, x)}[case]
    with pytest.raises(ValueError, match=match):
        unet.vocal_rest_effects(*args, sr, rest_db=10.0 if case == "rest_db" else -40.0)


def test_predict_batch_size_bounds_the_activations_per_call():
    assert unet.predict_batch_size(unet.SAMPLE_CONFIG) == 8  # the sample model's batch, unchanged
    assert unet.predict_batch_size(unet.FULL_CONFIG) == 1  # 1040 x 176 bins x 32 filters: one block per call
    assert unet.predict_batch_size({**unet.SAMPLE_CONFIG, "base_filters": 16}) == 4
    with pytest.raises(ValueError):
        unet.predict_batch_size({**unet.SAMPLE_CONFIG, "n_fft": -1})
