"""Tests for course_utils/mask_cnn.py: targets, context windows, S3's network, the FCN separator, training data,
separation through course_utils.separate, weights, refusals."""
import numpy as np
import pandas as pd
import pytest

import course_utils as cu
from course_utils import mask_cnn, masks, unet

SR = 8000
TINY = {**mask_cnn.SAMPLE_CONFIG, "sr": SR, "n_fft": 64, "hop_length": 16, "context": 7, "filters": [4, 4, 4, 4],
        "pool_size": 2, "dense_units": 16, "dropout": 0.0, "dense_dropout": 0.0}  # 33 bins x 7 frames
FREQ = TINY["n_fft"] // 2 + 1
TINY_FCN = {**mask_cnn.FCN_SAMPLE_CONFIG, "sr": SR, "n_fft": 64, "hop_length": 16, "context": 11, "filters": [4, 4, 4, 4],
            "pool_size": 2, "dense_units": 8, "time_kernel": 2, "dense_dropout": 0.0, "span_frames": 16,
            "sources": ["vocals", "drums", "bass"]}  # 4 convs: 9 frames, + 1 tap dilated 2: 11 frames


def noise_track(seconds=0.5, channels=2, seed=0, names=("vocals", "drums", "bass")):
    """Independent noise 'sources' (each with its own spectral tilt) and their exact sum, as track_arrays gives."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    sources = {}
    for i, name in enumerate(names):
        white = rng.standard_normal((n, channels))
        sources[name] = np.cumsum(white, axis=0) * 0.01 if i == 0 else white * 0.1 * (i + 1)
    sources = {name: (audio[:, 0] if channels == 1 else audio) for name, audio in sources.items()}
    return sum(sources.values()), sources, SR


def slow_windows(spec, context):
    """The obvious reference: for every frame t and offset k, frame t - context // 2 + k, or 0 outside."""
    freq, frames = spec.shape
    out = np.zeros((frames, freq, context))
    for t in range(frames):
        for k in range(context):
            source = t - context // 2 + k
            if 0 <= source < frames:
                out[t, :, k] = spec[:, source]
    return out


# ---------------------------------------------------------------- windows

@pytest.mark.parametrize("context", [1, 3, 5, 7])
def test_context_windows_equal_a_slow_loop(context):
    spec = np.random.default_rng(context).random((2, 4, 7))
    windows = mask_cnn.context_windows(spec, context)
    assert windows.shape == (2, 7, 4, context) and not windows.flags.writeable  # a view, not a copy
    for channel in range(2):
        assert np.array_equal(windows[channel], slow_windows(spec[channel], context))
    assert np.array_equal(mask_cnn.context_windows(spec[0], context), slow_windows(spec[0], context))
    assert np.array_equal(windows[1, :, :, context // 2], spec[1].T)  # the centre column is the frame itself


@pytest.mark.parametrize("context, message", [(4, "odd"), (0, "odd"), (-3, "odd"), (2.5, "odd"), (9, "longer than")])
def test_bad_context_is_refused(context, message):
    with pytest.raises(ValueError, match=message):
        mask_cnn.context_windows(np.ones((4, 8)), context)


# ---------------------------------------------------------------- targets

def test_binary_mask_targets_follow_b_equals_s_greater_than_t_m():
    rng = np.random.default_rng(0)
    mixture = rng.standard_normal((4000, 2))
    sources = {"loud": 0.8 * mixture, "quiet": 0.2 * mixture}  # |S| = 0.8 |M| and 0.2 |M| in every bin
    for threshold, loud, quiet in ((0.5, 1, 0), (0.1, 1, 1), (0.75, 1, 0), (0.9, 0, 0)):
        targets = mask_cnn.binary_mask_targets(mixture, sources, threshold=threshold, n_fft=64, hop_length=16)
        assert targets["loud"].shape == (2, 33, 251)
        assert np.all(targets["loud"] == loud) and np.all(targets["quiet"] == quiet)
    only = mask_cnn.binary_mask_targets(mixture, sources, names="quiet", threshold=0.1, n_fft=64, hop_length=16)
    assert list(only) == ["quiet"]


def test_binary_mask_targets_at_one_half_are_sisecs_ibm1():
    mixture, sources, _ = noise_track()
    targets = mask_cnn.binary_mask_targets(mixture, sources, threshold=0.5, n_fft=64, hop_length=16)
    oracle = masks.oracle_masks(mixture, sources, "IBM1", n_fft=64, hop_length=16)
    for name in sources:
        assert np.array_equal(targets[name], oracle[name])
    assert 0.05 < targets["vocals"].mean() < 0.95  # a real mix of 0s and 1s, not a trivial mask


@pytest.mark.parametrize("threshold", [0, -0.5, float("nan"), "half"])
def test_bad_threshold_is_refused(threshold):
    mixture, sources, _ = noise_track()
    with pytest.raises(ValueError, match="positive number"):
        mask_cnn.binary_mask_targets(mixture, sources, threshold=threshold)


def test_missing_source_is_refused():
    mixture, sources, _ = noise_track()
    with pytest.raises(ValueError, match=r"No source\(s\) \['other'\]"):
        mask_cnn.binary_mask_targets(mixture, sources, names=["vocals", "other"])
    with pytest.raises(ValueError, match=r"lacks the stems \['other'\]"):
        mask_cnn.window_examples([(mixture, sources, SR)], "other", TINY)


# ---------------------------------------------------------------- network

def test_s3_network_has_s3s_323233_parameters_layer_for_layer():
    model = mask_cnn.build_mask_cnn(mask_cnn.SAMPLE_CONFIG)
    assert model.count_params() == 323_233
    table = mask_cnn.parameter_table(model)
    assert tuple(table.loc[table["params"] > 0, "params"]) == mask_cnn.S3_LAYER_PARAMS
    assert table.loc[table["type"] == "Flatten", "output"].item() == (1824,)  # 16 x 57 x 2
    out = np.asarray(model(np.random.default_rng(0).random((2, 513, 25)).astype(np.float32)))
    assert out.shape == (2, 513) and np.all((out > 0) & (out < 1))


def test_tiny_parameter_count_by_hand():
    # convs 1*4*9+4, then 3 x (4*4*9+4); 33 x 7 -> 16 x 3 -> 8 x 1 after pooling: 32 inputs to Dense(16),
    # then 16*33+33 outputs
    assert mask_cnn.build_mask_cnn(TINY).count_params() == 40 + 3 * 148 + (32 * 16 + 16) + (16 * 33 + 33)


@pytest.mark.parametrize("change, message", [({"context": 8}, "odd"), ({"filters": [4, 4, 4]}, "even number"),
                                             ({"context": 3}, "shrink"), ({"threshold": 0}, "positive"),
                                             ({"hop_length": 32}, "hop_length"), ({"dropout": 1.0}, "dropout")])
def test_bad_configurations_are_refused(change, message):
    with pytest.raises(ValueError, match=message):
        mask_cnn.check_config({**TINY, **change})
    with pytest.raises(ValueError, match="lacks"):
        mask_cnn.check_config({"sr": SR, "model": "frame"})


# ---------------------------------------------------------------- training data

def test_window_examples_keep_every_track_and_channel_apart():
    tracks = [noise_track(0.5, seed=1), noise_track(0.3, channels=1, seed=2)]
    examples = mask_cnn.window_examples(tracks, "vocals", TINY)
    frames = [251, 151]
    assert len(examples.positions) == 2 * frames[0] + frames[1] == len(examples.targets)
    assert examples.windows.shape[1:] == (FREQ, 7) and examples.targets.shape[1] == FREQ
    row = 0
    for (mixture, sources, _), n in zip(tracks, frames):
        magnitude = np.abs(masks.stft(mixture, 64, 16)).astype(np.float32).reshape(-1, FREQ, n)
        target = mask_cnn.binary_mask_targets(mixture, sources, "vocals", 0.5, 64, 16)["vocals"].reshape(-1, FREQ, n)
        for channel in range(len(magnitude)):
            rows = slice(row, row + n)
            # each track's windows are exactly its own (zero beyond its edges), not its neighbour's frames
            assert np.array_equal(examples.windows[examples.positions[rows]],
                                  mask_cnn.context_windows(magnitude[channel], 7))
            assert np.array_equal(examples.targets[rows], target[channel].T)
            row += n
    halved = mask_cnn.window_examples(tracks, "vocals", TINY, frame_step=2)
    assert len(halved.positions) == 2 * 126 + 76


def test_window_dataset_gives_every_example_once_per_epoch():
    examples = mask_cnn.window_examples([noise_track(0.3, seed=3)], "drums", TINY)
    inputs, targets = zip(*mask_cnn.window_dataset(examples, batch_size=64, shuffle=False).as_numpy_iterator())
    assert [len(t) for t in targets] == [64, 64, 64, 64, 46]  # 2 channels x 151 frames
    assert np.array_equal(np.concatenate(inputs), examples.windows[examples.positions])
    assert np.array_equal(np.concatenate(targets), examples.targets)
    shuffled = np.concatenate([t for _, t in mask_cnn.window_dataset(examples, 64, seed=1).as_numpy_iterator()])
    assert not np.array_equal(shuffled, examples.targets)
    assert np.array_equal(np.sort(shuffled.sum(1)), np.sort(examples.targets.sum(1)))


def test_training_learns_a_mask_that_depends_on_frequency():
    import keras

    rng = np.random.default_rng(4)
    n = 4000
    low = np.apply_along_axis(  # 8-sample moving average: a low-pass "bass"
        lambda x: np.convolve(x, np.ones(8) / 8, "same"), 0, rng.standard_normal((n, 2)))
    high = 0.3 * np.diff(rng.standard_normal((n + 1, 2)), axis=0)  # high-pass "hats"
    tracks = [(low + high, {"bass": low, "hats": high}, SR)]
    keras.utils.set_random_seed(0)
    model = mask_cnn.build_mask_cnn(TINY)
    examples = mask_cnn.window_examples(tracks, "bass", TINY)
    history = mask_cnn.train_mask_cnn(model, examples, examples, epochs=5, batch_size=32, learning_rate=1e-2)
    assert set(history) == {"loss", "bin_accuracy", "mse", "val_loss", "val_bin_accuracy", "val_mse"}
    assert history["loss"][-1] < 0.8 * history["loss"][0]
    # the best rule that looks only at the frequency: each bin's majority label (0.84 here; always 1: 0.62)
    share = examples.targets.mean(0)
    by_frequency = np.maximum(share, 1 - share).mean()
    assert by_frequency > max(share.mean(), 1 - share.mean()) + 0.15
    assert history["val_bin_accuracy"][-1] > by_frequency - 0.01


# ---------------------------------------------------------------- separation

def oracle_model(mixture, sources, name, config):
    """A fake 'model': finds each window's centre frame in the mixture and returns that frame's oracle mask."""
    freq = config["n_fft"] // 2 + 1
    magnitude = np.abs(masks.stft(mixture, config["n_fft"], config["hop_length"])).astype(np.float32)
    frames = magnitude.shape[-1]
    table = np.moveaxis(magnitude.reshape(-1, freq, frames), 1, 2).reshape(-1, freq)  # (channels * frames, freq)
    oracle = mask_cnn.binary_mask_targets(mixture, sources, name, config["threshold"], config["n_fft"],
                                          config["hop_length"])[name]
    answers = np.moveaxis(oracle.reshape(-1, freq, frames), 1, 2).reshape(-1, freq)

    def predict(windows):
        assert windows.ndim == 3 and windows.dtype == np.float32
        centres = windows[:, :, config["context"] // 2]
        distance = ((centres[:, None, :] - table[None]) ** 2).sum(-1)
        found = distance.argmin(1)
        assert np.all(distance[np.arange(len(found)), found] == 0)  # the centre is exactly a mixture frame
        return answers[found]

    return predict


@pytest.mark.parametrize("channels", [2, 1])
def test_oracle_mask_through_separate_is_the_ideal_binary_mask_separation(channels):
    mixture, sources, _ = noise_track(0.4, channels=channels, seed=5)
    models = {name: oracle_model(mixture, sources, name, TINY) for name in sources}
    ideal = masks.apply_masks(mixture, mask_cnn.binary_mask_targets(mixture, sources, n_fft=64, hop_length=16), 64, 16)
    separator = mask_cnn.as_separator(models, config=TINY, batch_size=50)
    estimates = cu.separate(mixture, SR, separator)
    assert list(estimates) == list(sources) and separator.kind == "mask_cnn"
    for name in sources:
        assert estimates[name].shape == mixture.shape
        assert np.max(np.abs(estimates[name] - ideal[name])) < 1e-12
    predicted, mix_stft = cu.separator.predict_masks(mixture, SR, mask_cnn.as_separator(models, TINY, cutoff=None))
    assert predicted["vocals"].shape == mix_stft.shape == masks.stft(mixture, 64, 16).shape


def test_frame_masks_with_a_keras_model_are_binary_or_soft():
    mixture, _, _ = noise_track(0.3, seed=6)
    model = mask_cnn.build_mask_cnn(TINY)
    hard = cu.separator.predict_masks(mixture, SR, mask_cnn.as_separator({"vocals": model}, batch_size=64))[0]["vocals"]
    soft = cu.separator.predict_masks(mixture, SR, mask_cnn.as_separator({"vocals": model}, batch_size=64,
                                                                         cutoff=None))[0]["vocals"]
    assert hard.shape == soft.shape == (2, FREQ, 151)
    assert set(np.unique(hard)) <= {0.0, 1.0} and np.all((soft > 0) & (soft < 1))
    assert np.array_equal(hard, (soft >= 0.5).astype(float))
    # the batch size only changes how the windows are grouped, never the result
    magnitude = np.abs(masks.stft(mixture, 64, 16)).astype(np.float32)
    again = mask_cnn.frame_masks({"vocals": model}, magnitude, TINY, batch_size=37, cutoff=None)["vocals"]
    assert np.allclose(again, soft, atol=1e-6)


# ---------------------------------------------------------------- the FCN separator

def test_fcn_masks_add_up_to_one_and_see_exactly_the_context():
    model = mask_cnn.build_fcn(TINY_FCN)
    magnitude = np.random.default_rng(8).random((2, FREQ, 40)).astype(np.float32) * 5
    predicted = mask_cnn.fcn_masks(model, magnitude)
    assert list(predicted) == TINY_FCN["sources"] and predicted["vocals"].shape == (2, FREQ, 40)
    assert np.allclose(sum(predicted.values()), 1.0, atol=1e-5) and all(np.all(m > 0) for m in predicted.values())
    # spans of any length give exactly one pass (the unpadded time convolutions see the same frames)
    for span in (1, 7, 1000):
        again = mask_cnn.fcn_masks(model, magnitude, span_frames=span)
        assert all(np.allclose(again[n], predicted[n], atol=1e-6) for n in predicted)
    # frame 20 depends on frames 15..25 (context 11) and on nothing further away
    changed = magnitude.copy()
    changed[:, :, 26] += 3.0
    assert np.allclose(mask_cnn.fcn_masks(model, changed)["vocals"][:, :, 20], predicted["vocals"][:, :, 20], atol=1e-6)
    changed[:, :, 25] += 3.0
    assert not np.allclose(mask_cnn.fcn_masks(model, changed)["vocals"][:, :, 20], predicted["vocals"][:, :, 20])


def test_fcn_parameter_count_by_hand_and_s3s_convolutions():
    # convs as the per-frame model's, then (bins 33 -> 16 -> 8) x 4 channels = 32 features x 2 taps -> 8 units,
    # then 8 -> 3 sources x 33 bins
    assert mask_cnn.build_fcn(TINY_FCN).count_params() == 40 + 3 * 148 + (32 * 2 * 8 + 8) + (8 * 99 + 99)
    table = mask_cnn.parameter_table(mask_cnn.build_fcn())
    convs = table.loc[table["type"] == "Conv2D", "params"]
    assert tuple(convs) == mask_cnn.S3_LAYER_PARAMS[:4]  # S3's feature extractor, parameter for parameter
    assert table.loc[table["layer"] == "dense_as_conv", "output"].item() == (None, 128)


def oracle_network(mixture, sources, config):
    """A stand-in for the FCN: finds each span's frames in the mixture and returns their IRM1 oracle masks."""
    freq, half = config["n_fft"] // 2 + 1, config["context"] // 2
    magnitude = np.abs(masks.stft(mixture, config["n_fft"], config["hop_length"])).astype(np.float32)
    channels = magnitude.reshape(-1, freq, magnitude.shape[-1])
    oracle = masks.oracle_masks(mixture, sources, "IRM1", config["n_fft"], config["hop_length"])
    answers = np.stack([oracle[n].reshape(channels.shape) for n in config["sources"]], axis=2)  # (C, F, J, T)

    class Oracle:
        course_config = mask_cnn.check_config(config)

        def __call__(self, spans, training=False):
            spans = np.asarray(spans)
            out = []
            for channel, span in enumerate(spans):
                centre = span[:, half:span.shape[-1] - half]
                found = [int(np.flatnonzero(np.all(channels[channel] == frame[:, None], axis=0))[0])
                         for frame in centre.T]  # every centre frame is exactly one of the mixture's
                out.append(np.moveaxis(answers[channel][:, :, found], -1, 0).transpose(0, 2, 1))  # (T, J, F)
            return np.stack(out)

    return Oracle()


@pytest.mark.parametrize("channels", [2, 1])
def test_an_oracle_through_the_fcn_pipeline_scores_the_oracle(channels):
    mixture, sources, _ = noise_track(0.5, channels=channels, seed=9)
    config = {**TINY_FCN, "span_frames": 9}  # several spans
    separator = mask_cnn.as_separator(oracle_network(mixture, sources, config))
    estimates = cu.separate(mixture, SR, separator)
    ideal = masks.oracle_separation(mixture, sources, "IRM1", 64, 16)
    for name in sources:
        assert np.max(np.abs(estimates[name] - ideal[name])) < 1e-9
    assert np.allclose(sum(estimates.values()), mixture, atol=1e-9)  # ratio masks: the estimates add up


def test_separator_on_a_tiny_track_and_wiener():
    mixture, _, _ = noise_track(0.3, seed=10)
    separator = mask_cnn.as_separator(mask_cnn.build_fcn(TINY_FCN))
    plain = cu.separate(mixture, SR, separator)
    assert list(plain) == TINY_FCN["sources"] and all(e.shape == mixture.shape for e in plain.values())
    assert np.allclose(sum(plain.values()), mixture, atol=1e-5)  # float32 softmax masks add up to 1
    filtered = cu.separate(mixture, SR, separator, wiener_iterations=1)
    assert np.allclose(sum(filtered.values()), mixture, atol=1e-6)
    assert not np.allclose(filtered["vocals"], plain["vocals"])


def test_fcn_examples_are_the_chunk_and_its_sources_magnitudes():
    mixture, sources, _ = noise_track(0.3, seed=11)
    inputs, targets = mask_cnn.fcn_examples((mixture, sources, SR), TINY_FCN)
    frames = 1 + len(mixture) // 16
    assert inputs.shape == (2, FREQ, frames) and targets.shape == (2, frames - 10, 4, FREQ)
    assert mask_cnn.fcn_example_shapes(TINY_FCN, len(mixture)) == (inputs.shape[1:], targets.shape[1:])
    vocals = np.abs(masks.stft(sources["vocals"], 64, 16)).astype(np.float32)
    assert np.array_equal(targets[:, :, 0], np.moveaxis(vocals[..., 5:frames - 5], -1, 1))
    assert np.array_equal(targets[:, :, -1], np.moveaxis(inputs[..., 5:frames - 5], -1, 1))
    chunk = {"mixture": mixture.astype(np.float32), **{k: v.astype(np.float32) for k, v in sources.items()}}
    assert mask_cnn.fcn_examples(chunk, TINY_FCN)[1].shape == targets.shape  # a training.read_chunk dict works too
    with pytest.raises(ValueError, match="lacks the stems"):
        mask_cnn.fcn_examples((mixture, {"vocals": mixture}, SR), TINY_FCN)
    with pytest.raises(ValueError, match="resample"):
        mask_cnn.fcn_examples((mixture, sources, 16000), TINY_FCN)


def test_magnitude_loss_by_hand():
    y_true = np.zeros((1, 1, 3, 2), np.float32)
    y_true[0, 0, :, :] = [[1.0, 0.0], [0.0, 2.0], [2.0, 2.0]]  # two sources, then the mixture
    y_pred = np.array([[[[0.5, 0.0], [0.5, 1.0]]]], np.float32)  # masks: estimates [1, 0] and [1, 2]
    assert float(mask_cnn.magnitude_loss("mse")(y_true, y_pred)[0]) == pytest.approx(1 / 4)
    assert float(mask_cnn.magnitude_loss("l1")(y_true, y_pred)[0]) == pytest.approx(1 / 4)
    with pytest.raises(ValueError, match="mse"):
        mask_cnn.magnitude_loss("huber")


# ---------------------------------------------------------------- weights

def test_weights_round_trip_and_refusals(tmp_path):
    model = mask_cnn.build_mask_cnn(TINY)
    path = tmp_path / "vocals.npz"
    mask_cnn.save_weights(model, path, "vocals", history={"loss": [0.5, 0.4]})
    loaded, meta = mask_cnn.load_mask_cnn(path, config=TINY, source="vocals")
    windows = np.random.default_rng(7).random((3, FREQ, 7)).astype(np.float32)
    assert np.array_equal(np.asarray(loaded(windows)), np.asarray(model(windows)))
    assert meta["source"] == "vocals" and meta["history"]["loss"] == [0.5, 0.4]
    mixture, _, _ = noise_track(0.2)
    from_file = cu.load_separator(path)  # one per-frame file: a separator of its source
    assert from_file.sources == ("vocals",) and from_file.config == mask_cnn.check_config(TINY)
    mask_cnn.save_weights(mask_cnn.build_mask_cnn(TINY), tmp_path / "drums.npz", "drums")
    both = mask_cnn.load_frame_models({"vocals": path, "drums": tmp_path / "drums.npz"}, cutoff=None)  # a file each
    assert both.sources == ("vocals", "drums")
    with pytest.raises(ValueError, match="holds the 'vocals' model, not 'drums'"):
        mask_cnn.load_frame_models({"drums": path})
    with pytest.raises(ValueError, match="another configuration"):
        mask_cnn.load_mask_cnn(path, config={**TINY, "context": 9})
    with pytest.raises(FileNotFoundError):
        mask_cnn.load_mask_cnn(tmp_path / "missing.npz")
    np.savez(tmp_path / "other.npz", w000=np.ones(3))
    with pytest.raises(ValueError, match="not a weights file of this course"):
        mask_cnn.load_mask_cnn(tmp_path / "other.npz")
    unet.save_weights(unet.build_unet((16, 16), base_filters=2), tmp_path / "unet.npz", {}, alpha=0.5)
    with pytest.raises(ValueError, match="not a mask CNN: load it with course_utils.load_separator"):
        mask_cnn.load(tmp_path / "unet.npz")


def test_fcn_file_loads_as_the_same_separator_and_refuses_another_configuration(tmp_path):
    model = mask_cnn.build_fcn(TINY_FCN)
    path = tmp_path / "fcn.npz"
    mask_cnn.save_weights(model, path, history={"loss": [0.3], "best_epoch": 1}, training={"loss": "mse"})
    separator = cu.load_separator(path)
    assert separator.kind == "mask_cnn" and separator.sources == tuple(TINY_FCN["sources"])
    assert separator.meta["training"] == {"loss": "mse"} and separator.meta["source"] is None
    mixture, _, _ = noise_track(0.3, seed=12)
    expected = cu.separate(mixture, SR, mask_cnn.as_separator(model))
    again = cu.separate(mixture, SR, separator)
    assert all(np.allclose(again[n], expected[n], atol=1e-3 * np.abs(mixture).max()) for n in expected)  # float16
    assert mask_cnn.load(path, config=TINY_FCN).config == separator.config
    with pytest.raises(ValueError, match="another configuration"):
        mask_cnn.load(path, config={**TINY_FCN, "dense_units": 16})
    with pytest.raises(ValueError, match="another configuration"):
        mask_cnn.load(path, config=TINY)  # S3's per-frame model is another configuration of the same kind


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("model", ["fcn", "frame"])
def test_clear_errors_on_bad_input(model):
    mixture, sources, _ = noise_track(0.3)
    separator = (mask_cnn.as_separator(mask_cnn.build_fcn(TINY_FCN)) if model == "fcn"
                 else mask_cnn.as_separator({"vocals": mask_cnn.build_mask_cnn(TINY)}))
    with pytest.raises(ValueError, match="resample"):
        cu.separate(mixture, 44100, separator)
    with pytest.raises(ValueError, match="channels"):
        cu.separate(mixture.T, SR, separator)
    with pytest.raises(ValueError, match="silent"):
        cu.separate(np.zeros_like(mixture), SR, separator)
    with pytest.raises(ValueError, match="NaN|finite"):
        cu.separate(np.where(np.arange(len(mixture))[:, None] == 5, np.nan, mixture), SR, separator)
    with pytest.raises(ValueError, match="shorter than one STFT frame"):
        cu.separate(mixture[:32], SR, separator)


def test_clear_errors_on_bad_models_and_data():
    mixture, sources, _ = noise_track(0.3)
    model = mask_cnn.build_mask_cnn(TINY)
    with pytest.raises(ValueError, match="longer than the track"):
        cu.separate(mixture[:64], SR, mask_cnn.as_separator({"vocals": model}))  # 5 frames < context 7
    with pytest.raises(ValueError, match="non-empty dict"):
        mask_cnn.as_separator({})
    with pytest.raises(ValueError, match="Give config"):
        mask_cnn.as_separator({"vocals": lambda windows: windows[..., 0]})
    with pytest.raises(ValueError, match="different configurations"):
        mask_cnn.as_separator({"vocals": model, "drums": mask_cnn.build_mask_cnn({**TINY, "context": 9})})
    with pytest.raises(ValueError, match="one mask value per bin"):
        cu.separate(mixture, SR, mask_cnn.as_separator({"vocals": lambda windows: windows}, config=TINY))
    with pytest.raises(ValueError, match="build_fcn"):
        mask_cnn.as_separator(object())
    with pytest.raises(ValueError, match="resample"):
        mask_cnn.window_examples([(mixture, sources, 16000)], "vocals", TINY)
    with pytest.raises(ValueError, match="musdb track"):
        mask_cnn.window_examples([mixture], "vocals", TINY)
    with pytest.raises(ValueError, match="frame_step"):
        mask_cnn.window_examples([(mixture, sources, SR)], "vocals", TINY, frame_step=0)
    with pytest.raises(ValueError, match="empty"):
        mask_cnn.window_examples([], "vocals", TINY)
    with pytest.raises(ValueError, match="source must be"):
        mask_cnn.save_weights(model, "unused.npz", source=None)
    with pytest.raises(ValueError, match="time_kernel"):
        mask_cnn.check_config({**TINY_FCN, "time_kernel": 4})
    with pytest.raises(ValueError, match="'frame'.*'fcn'"):
        mask_cnn.check_config({**TINY_FCN, "model": "unet"})


def test_mask_scores_against_a_hand_count():
    target = {"vocals": np.array([[1, 0, 0, 0], [1, 1, 0, 0]])}
    predicted = {"vocals": np.array([[0.9, 0.6, 0.1, 0.2], [0.4, 0.8, 0.0, 0.0]])}  # hits 2, claimed 3, actual 3
    scores = mask_cnn.mask_scores([predicted], [target]).loc["vocals"]
    assert scores["accuracy"] == pytest.approx(6 / 8) and scores["all-zeros accuracy"] == pytest.approx(5 / 8)
    assert scores["recall"] == pytest.approx(2 / 3) and scores["precision"] == pytest.approx(2 / 3)
    silent = mask_cnn.mask_scores([{"vocals": np.zeros((2, 4))}], [target]).loc["vocals"]
    assert silent["accuracy"] == silent["all-zeros accuracy"] and silent["recall"] == 0
    with pytest.raises(ValueError, match="one predicted and one target"):
        mask_cnn.mask_scores([predicted], [])
    with pytest.raises(ValueError, match="No predicted 'vocals' mask"):
        mask_cnn.mask_scores([{"vocals": np.zeros(3)}], [target])


def test_accuracy_against_trivial_masks_by_hand():
    target = {"vocals": np.array([[1, 0, 0, 0], [1, 1, 0, 0]])}  # 3 of 8 bins are the source's
    predicted = {"vocals": np.array([[0.9, 0.6, 0.1, 0.2], [0.4, 0.8, 0.0, 0.0]])}  # hits 2, claimed 3
    scores = mask_cnn.accuracy_against_trivial_masks([predicted], [target]).loc["vocals"]
    assert scores["accuracy"] == pytest.approx(6 / 8)
    assert scores["all-zeros accuracy"] == pytest.approx(5 / 8) and scores["all-ones accuracy"] == pytest.approx(3 / 8)
    assert scores["over the better trivial mask"] == pytest.approx(6 / 8 - 5 / 8)
    assert scores["balanced accuracy"] == pytest.approx((2 / 3 + 4 / 5) / 2)  # recall 2/3, specificity 4/5
    assert scores["verdict"] == "above both trivial masks"
    for trivial in (np.zeros((2, 4)), np.ones((2, 4))):  # either trivial mask: balanced accuracy 0.5, no gain
        row = mask_cnn.accuracy_against_trivial_masks([{"vocals": trivial}], [target]).loc["vocals"]
        assert row["balanced accuracy"] == pytest.approx(0.5) and row["over the better trivial mask"] <= 0
        assert row["verdict"] != "above both trivial masks"
    close = {"vocals": np.array([[1, 0, 0, 0], [0, 0, 0, 0]])}  # 6 of 8 right: 1 bin more than the all-zeros mask
    assert "about as good" in mask_cnn.accuracy_against_trivial_masks([close], [target], margin=0.2).loc[
        "vocals", "verdict"]
    with pytest.raises(ValueError, match="one predicted and one target"):
        mask_cnn.accuracy_against_trivial_masks([predicted], [])


def test_mask_activity_tells_a_static_filter_from_a_mask_that_follows_the_source():
    rng = np.random.default_rng(0)
    source = rng.random((2, 33, 40)) + 0.1
    source[..., 20:] = 0.0  # the source rests in the second half
    follows = np.where(source > 0, 0.8, 0.0)
    static = np.broadcast_to(np.linspace(1.0, 0.0, 33)[None, :, None], source.shape)
    a = mask_cnn.mask_activity(follows, source, sr=SR)
    b = mask_cnn.mask_activity(static, source, sr=SR, bands_hz=(0, 2000))
    assert a["rest frames"] == pytest.approx(0.5) and a["mean in the rests"] == 0 and a["mean where it sounds"] == 0.8
    assert a["static share"] == pytest.approx(0.0)
    assert b["mean in the rests"] == pytest.approx(b["mean where it sounds"]) and b["static share"] == pytest.approx(1)
    assert b["mean 0-2 kHz"] > b["mean 2-4 kHz"]  # a low-pass filter
    assert mask_cnn.mask_activity(follows[0], source[0], sr=SR)["mean in the rests"] == 0  # mono works too
    with pytest.raises(ValueError, match="same"):
        mask_cnn.mask_activity(follows[0], source, sr=SR)
    with pytest.raises(ValueError, match="silent"):
        mask_cnn.mask_activity(follows, np.zeros_like(source), sr=SR)


def test_describe_mask_activity_reads_the_numbers():
    rng = np.random.default_rng(1)
    source = rng.random((2, 33, 40)) + 0.1
    source[..., 20:] = 0.0
    activity = pd.DataFrame({
        "oracle IRM1": mask_cnn.mask_activity(np.where(source > 0, 0.8, 0.0), source, sr=SR),
        "fixed": mask_cnn.mask_activity(np.broadcast_to(np.linspace(1, 0, 33)[None, :, None], source.shape), source,
                                        SR)})
    fixed = mask_cnn.describe_mask_activity(activity, "fixed")
    assert "stays open through the source's rests, close to a fixed filter" in fixed and "is higher at 0-2 kHz" in fixed
    oracle = mask_cnn.describe_mask_activity(activity, "oracle IRM1")
    assert "closes in the source's rests, to 0%" in oracle and "0% of its variance" in oracle
    half = mask_cnn.mask_activity(np.where(source > 0, 0.8, 0.3), source, sr=SR)
    assert "closes only partly in the source's rests, to 3" in mask_cnn.describe_mask_activity(
        activity.assign(half=half), "half")
    with pytest.raises(ValueError, match="No column"):
        mask_cnn.describe_mask_activity(activity, "U-Net")
