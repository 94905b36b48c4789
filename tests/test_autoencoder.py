"""Tests for course_utils/autoencoder.py: normalisation, network, soft masks, loss, training, weights, the separator."""
import numpy as np
import pytest

import course_utils as cu
from course_utils import autoencoder, masks

SR = 8000
TINY = {**autoencoder.SAMPLE_CONFIG, "sr": SR, "n_fft": 16, "hop_length": 4, "block_frames": 6, "freq_span": 9,
        "time_span": 3, "conv_filters": 2, "bottleneck": 4, "sources": ["vocals", "accompaniment"]}


def stereo_song(seconds=0.5, seed=0):
    """Track(mixture, {vocals, accompaniment}, sr): noise-like vocals, two tones, stereo, the exact sum."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    vocals = rng.normal(0, 0.1, (t.size, 2)) * np.sin(2 * np.pi * 3 * t)[:, None]
    accompaniment = np.stack([0.3 * np.sin(2 * np.pi * 440 * t), 0.2 * np.sin(2 * np.pi * 660 * t)], axis=1)
    return cu.Track(vocals + accompaniment, {"vocals": vocals, "accompaniment": accompaniment}, SR)


@pytest.fixture(scope="module")
def tiny_model():
    return autoencoder.build_from_config(TINY)


# ---------------------------------------------------------------- normalisation

def test_minmax_and_cmvn_use_the_training_statistics():
    rng = np.random.default_rng(0)
    train = rng.gamma(2.0, 1.0, (3, 5, 40)) * np.arange(1, 6)[:, None]  # (channels, freq, frames)
    minmax = autoencoder.normalisation_stats(train, "minmax")
    scaled = autoencoder.normalise(train, minmax)
    assert np.allclose(scaled.min(axis=(0, 2)), 0) and np.allclose(scaled.max(axis=(0, 2)), 1)
    cmvn = autoencoder.normalisation_stats(train, "cmvn")
    standard = autoencoder.normalise(train, cmvn)
    assert np.allclose(standard.mean(axis=(0, 2)), 0) and np.allclose(standard.std(axis=(0, 2)), 1)
    other = rng.gamma(2.0, 1.0, (5, 7))  # test data: the training statistics, not its own
    bin_2 = (other[2] - train[:, 2].mean()) / train[:, 2].std()
    assert np.allclose(autoencoder.normalise(other, cmvn)[2], bin_2)
    for stats in (minmax, cmvn):
        assert np.allclose(autoencoder.denormalise(autoencoder.normalise(other, stats), stats), other)


def test_a_constant_bin_does_not_divide_by_zero():
    train = np.ones((4, 10))
    train[0] = np.arange(10)
    for method in autoencoder.NORMALISATIONS:
        stats = autoencoder.normalisation_stats(train, method)
        assert np.all(stats["scale"] > 0) and np.all(np.isfinite(autoencoder.normalise(train, stats)))


# ---------------------------------------------------------------- network

def test_builder_shapes_and_exact_parameter_count(tiny_model):
    # vertical conv (all 9 bins -> 2 filters) 9*2+2, horizontal conv 3*2*2+2, bottleneck 8*4+4 (code: 4 frames
    # x 2 filters); per source: dense 4*8+8, transposed horizontal conv 3*2*2+2, transposed vertical conv (2
    # filters -> 9 bins, one bias per bin) 2*9+9; normalisation 2 * 9 fixed weights
    trainable = 20 + 14 + 36 + 2 * (40 + 14 + 27)
    assert sum(int(np.prod(w.shape)) for w in tiny_model.trainable_weights) == trainable == 232
    assert tiny_model.count_params() == trainable + 18
    assert tiny_model.get_layer("vertical_conv").output.shape[1:] == (6, 2)
    assert tiny_model.get_layer("horizontal_conv").output.shape[1:] == (4, 2)
    out = np.asarray(tiny_model(np.random.default_rng(0).random((3, 9, 6, 1)).astype(np.float32)))
    assert out.shape == (3, 9, 6, 2) and np.all(out >= 0)
    # Chandna's model for the four MUSDB stems: 833,430 trainable + 2 * 513 normalisation statistics
    assert autoencoder.build_from_config(autoencoder.SAMPLE_CONFIG).count_params() == 834_456


def test_the_vertical_convolution_is_a_kernel_over_every_bin(tiny_model):
    import keras

    x = np.random.default_rng(5).gamma(2.0, 1.0, (2, 9, 6, 1)).astype(np.float32)
    inner = keras.Model(tiny_model.input, tiny_model.get_layer("vertical_conv").output)
    kernel, bias = tiny_model.get_layer("vertical_conv").get_weights()  # (9 bins, 2 filters)
    frames = np.transpose(x[..., 0], (0, 2, 1))  # (batch, frames, bins): every frame through the same kernel
    assert np.allclose(np.asarray(inner(x)), np.maximum(frames @ kernel + bias, 0), atol=1e-5)


def test_soft_masks_sum_to_one_and_share_silence_equally(tiny_model):
    outputs = np.array([[1.0, 3.0, 0.0], [0.0, 0.0, 0.0]])
    f = np.asarray(autoencoder.soft_masks(outputs, epsilon=1e-8))
    assert np.allclose(f[0], [0.25, 0.75, 0.0], atol=1e-7) and np.allclose(f[1], 1 / 3)
    import keras

    mask_model = keras.Model(tiny_model.input, tiny_model.get_layer("soft_masks").output)
    x = np.random.default_rng(1).gamma(1.0, 1.0, (4, 9, 6, 1)).astype(np.float32)
    assert np.allclose(np.asarray(mask_model(x)).sum(axis=-1), 1.0, atol=1e-6)
    assert np.allclose(np.asarray(tiny_model(x)).sum(axis=-1), x[..., 0], rtol=1e-5)  # estimates add up to |X|


def test_the_model_normalises_with_the_given_statistics():
    x = np.random.default_rng(2).gamma(2.0, 1.0, (5, 9, 6, 1)).astype(np.float32)
    stats = autoencoder.normalisation_stats(x[..., 0], "cmvn")
    model = autoencoder.build_from_config(TINY, stats)
    import keras

    inner = keras.Model(model.input, model.get_layer("normalise").output)
    assert np.allclose(np.asarray(inner(x))[..., 0], autoencoder.normalise(x[..., 0], stats), atol=1e-5)
    with pytest.raises(ValueError, match="recompute them"):
        autoencoder.build_from_config({**TINY, "normalisation": "minmax"}, stats)


def test_sum_of_mse_by_hand():
    y_true = np.zeros((1, 2, 1, 2), np.float32)
    y_pred = np.array([[[[1.0, 2.0]], [[3.0, 0.0]]]], np.float32)  # source 0: errors 1, 3; source 1: 2, 0
    assert float(np.asarray(autoencoder.sum_of_mse(y_true, y_pred))[0]) == pytest.approx((1 + 9) / 2 + (4 + 0) / 2)


# ---------------------------------------------------------------- data and training

def test_training_blocks_cut_every_stem_at_the_same_frames():
    mixture, _, sr = stereo_song()
    song = cu.Track(mixture, {"vocals": 0.25 * mixture, "accompaniment": 0.75 * mixture}, sr)
    x, y = autoencoder.training_blocks([song], TINY)
    frames = len(mixture) // TINY["hop_length"] + 1  # 1001 frames -> 167 blocks of 6, times 2 channels
    assert x.shape == (2 * -(-frames // 6), 9, 6, 1) and y.shape == (*x.shape[:3], 2)
    assert np.allclose(y[..., 0], 0.25 * x[..., 0], atol=1e-6) and np.allclose(y[..., 1], 0.75 * x[..., 0], atol=1e-6)
    first = np.abs(masks.stft(mixture[:, 0], TINY["n_fft"], TINY["hop_length"]))[:, :6]
    assert np.allclose(x[0, ..., 0], first, atol=1e-6)
    silent = (np.zeros_like(mixture), song[1], sr)
    assert len(autoencoder.training_blocks([silent], TINY)[0]) == 0  # silent blocks are dropped


def test_training_makes_one_update_per_batch_and_lowers_the_loss():
    import keras

    keras.utils.set_random_seed(0)
    mixture, _, sr = stereo_song(0.05)  # 101 frames -> 17 blocks x 2 channels
    x, y = autoencoder.training_blocks([(mixture, {"vocals": 0.2 * mixture, "accompaniment": 0.8 * mixture}, sr)], TINY)
    model = autoencoder.build_from_config({**TINY, "learning_rate": 1e-2},
                                          autoencoder.normalisation_stats(x[..., 0], "cmvn"))
    before = model.evaluate(x, y, verbose=0)
    history = autoencoder.train(model, x, y, epochs=10, batch_size=4)
    assert int(model.optimizer.iterations) == 10 * -(-len(x) // 4)  # S1 made one update per epoch
    assert len(history["loss"]) == len(history["seconds"]) == 10
    assert model.evaluate(x, y, verbose=0) < 0.5 * before  # the masks move towards 0.2 / 0.8


def test_training_on_remixes_keeps_the_best_validation_weights():
    import keras

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(1)
    songs = []
    for gain in (0.2, 0.3, 0.25):
        mixture, _, sr = stereo_song(0.05)
        vocals = gain * mixture * rng.uniform(0.5, 1.5)
        songs.append((mixture, {"vocals": vocals, "accompaniment": mixture - vocals}, sr))
    x, _ = autoencoder.training_blocks(songs[:2], TINY)
    model = autoencoder.build_from_config({**TINY, "learning_rate": 1e-2}, autoencoder.normalisation_stats(x[..., 0]))
    lines = []
    history = autoencoder.train_on_remixes(model, songs[:2], TINY, songs[2:], epochs=6, remixes_per_epoch=3,
                                           batch_size=4, patience=2, log=lines.append)
    n = len(history["loss"])
    assert 1 <= n <= 6 and len(history["val_loss"]) == len(lines) == n
    best = int(np.argmin(history["val_loss"]))
    assert history["best_epoch"] == best + 1
    assert n == 6 or n - history["best_epoch"] == 2  # stopped after `patience` epochs without improvement
    x_val, y_val = autoencoder.training_blocks(songs[2:], TINY)
    assert model.evaluate(x_val, y_val, verbose=0) == pytest.approx(history["val_loss"][best], rel=1e-4)
    with pytest.raises(ValueError, match="val_songs"):
        autoencoder.train_on_remixes(model, songs[:2], TINY, [], epochs=1)


def test_a_nan_loss_stops_training_with_a_clear_error():
    x, y = autoencoder.training_blocks([stereo_song(0.05)], TINY)
    model = autoencoder.build_from_config(TINY)
    weights = model.get_weights()
    weights[-1] = np.full_like(weights[-1], np.nan)  # a broken weight: every output is NaN
    model.set_weights(weights)
    with pytest.raises(RuntimeError, match="learning rate"):
        autoencoder.train(model, x, y, epochs=3, batch_size=8)
    assert int(model.optimizer.iterations) == 1  # stopped after the first batch


# ---------------------------------------------------------------- the separator

def oracle_network(song, config, overlap=0.5):
    """A stand-in network that outputs the true source magnitudes of exactly the blocks `as_separator` cuts."""
    magnitudes = [np.abs(masks.stft(song.stems[name], config["n_fft"], config["hop_length"]))
                  for name in config["sources"]]
    channels = [m.reshape(-1, *m.shape[-2:]) for m in magnitudes]
    blocks = np.concatenate([masks.split_blocks(m, config["block_frames"], overlap)[0] for m in channels], axis=-1)
    return lambda batch: blocks


@pytest.mark.parametrize("stereo", [True, False])
def test_an_oracle_through_the_separator_scores_the_oracle(stereo):
    song = stereo_song(0.3)
    if not stereo:
        song = cu.Track(song.mixture[:, 0], {k: v[:, 0] for k, v in song.stems.items()}, song.sr)
    n_fft, hop = TINY["n_fft"], TINY["hop_length"]
    oracle = masks.oracle_separation(song.mixture, song.stems, "IRM1", n_fft, hop)
    separator = autoencoder.as_separator(oracle_network(song, TINY), TINY)
    assert isinstance(separator, cu.Separator) and separator.kind == "autoencoder"
    estimates = cu.separate(song.mixture, SR, separator)
    assert list(estimates) == TINY["sources"]
    for name in TINY["sources"]:
        assert estimates[name].shape == song.mixture.shape
        assert np.max(np.abs(estimates[name] - oracle[name])) < 1e-5  # the blocks are float32
    # with disjoint blocks (S1's reconstruction) as well
    disjoint = autoencoder.as_separator(oracle_network(song, TINY, overlap=0), TINY, overlap=0)
    assert np.max(np.abs(cu.separate(song.mixture, SR, disjoint)["vocals"] - oracle["vocals"])) < 1e-5


def test_the_masks_are_the_networks_soft_masks_faded_between_blocks(tiny_model):
    import keras

    mixture = stereo_song(0.05).mixture
    magnitude = np.abs(masks.stft(mixture, TINY["n_fft"], TINY["hop_length"])).astype(np.float32)
    predicted, _ = cu.separator.predict_masks(mixture, SR, autoencoder.as_separator(tiny_model, TINY, overlap=0))
    soft = keras.Model(tiny_model.input, tiny_model.get_layer("soft_masks").output)
    blocks, layout = masks.split_blocks(magnitude, TINY["block_frames"], overlap=0)
    expected = masks.join_blocks(np.asarray(soft(blocks)), layout)  # (sources, channels, freq, frames)
    audible = magnitude > 0
    for k, name in enumerate(TINY["sources"]):
        assert np.allclose(predicted[name][audible], expected[k][audible], atol=1e-5)
    assert np.allclose(sum(predicted.values()), 1.0)


def test_separate_with_a_model_is_aligned_and_adds_up_with_and_without_wiener(tiny_model):
    mixture = stereo_song(0.23).mixture
    separator = autoencoder.as_separator(tiny_model, TINY, batch_size=5)
    for mix in (mixture, mixture[:, 0]):
        for iterations in (0, 1):
            estimates = cu.separate(mix, SR, separator, wiener_iterations=iterations)
            assert set(estimates) == set(TINY["sources"]) and estimates["vocals"].shape == mix.shape
            assert np.all(np.isfinite(estimates["vocals"]))
            if not iterations:  # masks that add up to 1: the estimates add up to the mixture
                assert np.allclose(estimates["vocals"] + estimates["accompaniment"], mix, atol=1e-6)


# ---------------------------------------------------------------- weights

def test_weights_round_trip_load_and_configuration_checks(tmp_path):
    x = np.random.default_rng(4).gamma(2.0, 1.0, (3, 9, 6, 1)).astype(np.float32)
    model = autoencoder.build_from_config(TINY, autoencoder.normalisation_stats(x[..., 0], "cmvn"))
    path = tmp_path / "tiny.npz"
    autoencoder.save_weights(model, path, TINY, history={"loss": [1.0, 0.5]})
    loaded, meta = autoencoder.load_autoencoder(path, config=TINY)
    assert np.array_equal(np.asarray(loaded(x)), np.asarray(model(x))) and meta["history"]["loss"] == [1.0, 0.5]
    separator = cu.load_separator(path)  # the file's kind says which module builds it
    assert separator.kind == "autoencoder" and separator.sources == tuple(TINY["sources"])
    assert separator.meta["history"]["loss"] == [1.0, 0.5] and autoencoder.load(path, TINY).config == TINY
    mixture = stereo_song(0.1).mixture
    direct = cu.separate(mixture, SR, autoencoder.as_separator(model, TINY))
    assert np.allclose(cu.separate(mixture, SR, separator)["vocals"], direct["vocals"], atol=1e-6)
    with pytest.raises(ValueError, match="another configuration"):
        autoencoder.load(path, config={**TINY, "conv_filters": 3})
    with pytest.raises(FileNotFoundError, match="save_weights"):
        autoencoder.load(tmp_path / "missing.npz")


def test_shipped_default_weights_load_as_a_separator():
    separator = cu.load_separator(cu.weights.weights_dir() / autoencoder.DEFAULT_WEIGHTS)
    assert separator.kind == "autoencoder" and separator.sources == tuple(autoencoder.SAMPLE_CONFIG["sources"])
    assert separator.config["normalisation"] == autoencoder.DEFAULT_NORMALISATION
    assert (cu.weights.weights_dir() / autoencoder.DEFAULT_WEIGHTS).stat().st_size < 3e6


# ---------------------------------------------------------------- bad input

def test_a_weights_file_of_another_kind_is_refused(tmp_path):
    from course_utils.weights import save_weights_file

    path = tmp_path / "other.npz"
    save_weights_file(autoencoder.build_from_config(TINY), path, "unet", {"config": TINY})
    with pytest.raises(ValueError, match="not an autoencoder|load_separator"):
        autoencoder.load(path)


def test_clear_errors_on_bad_input(tiny_model):
    mixture, stems, sr = stereo_song()
    separator = autoencoder.as_separator(tiny_model, TINY)
    with pytest.raises(ValueError, match="channels"):
        cu.separate(mixture[:, :, None], sr, separator)  # wrong rank
    with pytest.raises(ValueError, match="audio.T"):
        cu.separate(mixture.T, sr, separator)
    broken = mixture.copy()
    broken[10, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        cu.separate(broken, sr, separator)
    with pytest.raises(ValueError, match="silent"):
        cu.separate(np.zeros_like(mixture), sr, separator)
    with pytest.raises(ValueError, match="shorter than one STFT frame"):
        cu.separate(mixture[:10], sr, separator)
    with pytest.raises(ValueError, match="resample"):
        cu.separate(mixture, 44100, separator)
    with pytest.raises(ValueError, match="outputs of shape"):  # a network for other sources than the config's
        cu.separate(mixture, sr, autoencoder.as_separator(tiny_model, {**TINY, "sources": ["vocals", "bass", "x"]}))
    with pytest.raises(ValueError, match=r"lacks the stems \['piano'\]"):
        autoencoder.training_blocks([(mixture, stems, sr)], {**TINY, "sources": ["vocals", "piano"]})
    with pytest.raises(ValueError, match="resample"):
        autoencoder.training_blocks([(mixture, stems, 44100)], TINY)
    with pytest.raises(ValueError, match="songs is empty"):
        autoencoder.training_blocks([], TINY)
    with pytest.raises(ValueError, match=r"x\[\.\.\., 0\]"):
        autoencoder.normalisation_stats(np.ones(5))
    with pytest.raises(ValueError, match="NaN"):
        autoencoder.normalisation_stats(np.full((3, 4), np.nan))
    with pytest.raises(ValueError, match="training_blocks"):
        autoencoder.train(tiny_model, np.ones((2, 9, 7, 1)), np.ones((2, 9, 7, 2)))
    with pytest.raises(ValueError, match="one magnitude per source"):
        autoencoder.train(tiny_model, np.ones((2, 9, 6, 1)), np.ones((2, 9, 6, 3)))
    with pytest.raises(ValueError, match="normalisation must be"):
        autoencoder.check_config({**TINY, "normalisation": "zscore"})
    with pytest.raises(ValueError, match="SAMPLE_CONFIG"):
        autoencoder.check_config({"sr": SR})
    with pytest.raises(ValueError, match="freq_span"):
        autoencoder.check_config({**TINY, "freq_span": 8})


def test_chunk_examples_are_the_chunks_training_blocks():
    song = stereo_song(0.1)
    chunk = {"mixture": song.mixture.astype(np.float32), **{k: v.astype(np.float32) for k, v in song.stems.items()}}
    x, y = autoencoder.chunk_examples(chunk, TINY)
    x_song, y_song = autoencoder.training_blocks([song], TINY)
    assert x.shape == x_song.shape == (x.shape[0], *autoencoder.example_shapes(TINY)[0])
    assert y.shape[1:] == autoencoder.example_shapes(TINY)[1] and np.allclose(y, y_song, atol=1e-5)
