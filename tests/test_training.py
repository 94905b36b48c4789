"""Tests for course_utils/training.py: chunks read from disk, the tf.data pipeline, checkpoints, resume, early
stopping, mixed precision."""
import numpy as np
import pytest
import soundfile as sf

from course_utils import datasets, training, unet

SR = 44100
TRAIN_NAMES = ("Alpha - First Song", "Beta - Second Song")
VALID_NAMES = ("Actions - One Minute Smile",)  # in musdb's validation list, so split="valid" finds it
TINY_UNET = {"sr": SR, "n_fft": 256, "hop_length": 64, "segment_frames": 16, "n_levels": 2, "base_filters": 2,
             "dropout": 0.2, "n_sources": 2, "mask_activation": "sigmoid", "bn_momentum": 0.9}


def musdb_wav_tree(root, seconds=1.5, names=TRAIN_NAMES + VALID_NAMES):
    """A tiny MUSDB18 WAV tree root/train/<name>/{mixture,drums,bass,other,vocals}.wav, 44.1 kHz stereo.

    Each stem is its own tone with noise (different per song and channel); the mixture is their exact sum.
    """
    n = int(seconds * SR)
    t = np.arange(n) / SR
    for k, name in enumerate(names):
        folder = root / "train" / name
        folder.mkdir(parents=True)
        rng = np.random.default_rng(k)
        stems = {stem: np.stack([0.15 * np.sin(2 * np.pi * (110 + 60 * i + 17 * k + 5 * c) * t)
                                 + 0.02 * rng.normal(size=n) for c in range(2)], axis=1).astype(np.float32)
                 for i, stem in enumerate(datasets.MUSDB_TARGETS)}
        for stem, audio in stems.items():
            sf.write(folder / f"{stem}.wav", audio, SR, subtype="FLOAT")
        sf.write(folder / "mixture.wav", sum(stems.values()), SR, subtype="FLOAT")
    (root / "test").mkdir(exist_ok=True)
    return root


@pytest.fixture(scope="module")
def musdb_root(tmp_path_factory):
    return musdb_wav_tree(tmp_path_factory.mktemp("musdb"))


@pytest.fixture(scope="module")
def splits(musdb_root):
    train = datasets.load_musdb("full", subsets="train", split="train", root=musdb_root).tracks
    valid = datasets.load_musdb("full", subsets="train", split="valid", root=musdb_root).tracks
    return train, valid


def test_musdb_splits_of_the_tiny_tree(splits):
    train, valid = splits
    assert [t.name for t in train] == list(TRAIN_NAMES) and [t.name for t in valid] == list(VALID_NAMES)


def test_read_chunk_cuts_every_stem_at_the_same_offset(musdb_root, splits):
    track = splits[0][1]
    chunk = training.read_chunk(track, 1000, 2048)
    folder = musdb_root / "train" / track.name
    for name in datasets.MUSDB_FILES:
        assert np.array_equal(chunk[name], sf.read(folder / f"{name}.wav", dtype="float32")[0][1000:3048])
    assert np.allclose(chunk["accompaniment"], chunk["drums"] + chunk["bass"] + chunk["other"])
    assert training.track_samples(track) == int(1.5 * SR)
    with pytest.raises(ValueError, match="outside track"):
        training.read_chunk(track, training.track_samples(track) - 10, 2048)


def test_chunk_starts_random_or_every_chunk_once(splits):
    train = splits[0]
    every = [(int(i[0]), int(s[0])) for i, s, _, _ in training.chunk_starts(train, 20000)]
    assert every == [(i, s) for i in range(2) for s in range(0, 66150 - 20000 + 1, 20000)]
    draws = [next_n(training.chunk_starts(train, 20000, seed=s), 50) for s in (1, 1, 2)]
    assert draws[0] == draws[1] != draws[2]
    assert all(0 <= start <= 66150 - 20000 for _, start in draws[0])


def next_n(iterator, n):
    return [(int(i[0]), int(s[0])) for i, s, _, _ in (next(iterator) for _ in range(n))]


def test_remixed_chunks_take_every_stem_from_its_own_draw(splits):
    train = splits[0]
    indices, starts, gains, swaps = next(training.chunk_starts(train, 20000, seed=3, remix=True))
    assert len(indices) == len(starts) == len(gains) == len(swaps) == 4 and np.all((0.25 <= gains) & (gains <= 1.25))
    again = next(training.chunk_starts(train, 20000, seed=3, remix=True))
    assert np.array_equal(again[1], starts) and np.array_equal(again[2], gains)  # seeded
    chunk = training.read_remixed_chunk(train, indices, starts, gains, swaps, 20000)
    for k, name in enumerate(datasets.MUSDB_TARGETS):
        stem = training.read_chunk(train[indices[k]], int(starts[k]), 20000)[name] * gains[k]
        assert np.allclose(chunk[name], stem[:, ::-1] if swaps[k] else stem)
    assert np.allclose(chunk["mixture"], sum(chunk[name] for name in datasets.MUSDB_TARGETS))
    assert np.allclose(chunk["accompaniment"], chunk["drums"] + chunk["bass"] + chunk["other"])
    remixed = [x.numpy() for x, _ in unet_batches(train, seed=5, remix=True).take(2)]
    plain = [x.numpy() for x, _ in unet_batches(train, seed=5).take(2)]
    assert remixed[0].shape == plain[0].shape and not np.array_equal(remixed[0], plain[0])
    validation = [x.numpy() for x, _ in unet_batches(splits[1], seed=None, remix=True)]  # never remixed
    assert np.array_equal(validation[0], [x.numpy() for x, _ in unet_batches(splits[1], seed=None)][0])


def unet_batches(tracks, seed, batch_size=3, workers=2, remix=False):
    length = unet.segment_samples(TINY_UNET)
    return training.chunk_dataset(tracks, length, lambda chunk: unet.chunk_examples(chunk, TINY_UNET),
                                  unet.example_shapes(TINY_UNET), batch_size, seed, shuffle_buffer=8, workers=workers,
                                  remix=remix)


def test_chunk_dataset_is_parallel_yet_the_same_for_the_same_seed(splits):
    first = [(x.numpy(), y.numpy()) for x, y in unet_batches(splits[0], seed=5).take(4)]
    again = [(x.numpy(), y.numpy()) for x, y in unet_batches(splits[0], seed=5, workers=1).take(4)]
    other = [x.numpy() for x, _ in unet_batches(splits[0], seed=6).take(4)]
    assert first[0][0].shape == (3, 132, 16, 1) and first[0][1].shape == (3, 132, 16, 2)
    assert all(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) for a, b in zip(first, again))
    assert not all(np.array_equal(a[0], b) for a, b in zip(first, other))
    x, y = first[0]  # real audio in the 129 bins, zero padding up to 132
    assert np.all(x[:, :129] > 0) and np.all(x[:, 129:] == 0) and np.all(y[:, 129:] == 0)


def test_validation_batches_cover_every_chunk_once_in_order(splits):
    valid = splits[1]
    batches = list(unet_batches(valid, seed=None, batch_size=4))
    chunks = (training.track_samples(valid[0]) // unet.segment_samples(TINY_UNET))
    assert sum(len(x) for x, _ in batches) == 2 * chunks  # two channels per chunk
    first = unet.chunk_examples(training.read_chunk(valid[0], 0, unet.segment_samples(TINY_UNET)), TINY_UNET)
    assert np.array_equal(batches[0][0].numpy()[:2], first[0])


def test_chunk_dataset_refuses_bad_input(splits):
    with pytest.raises(ValueError, match="No songs"):
        unet_batches([], seed=0)
    with pytest.raises(ValueError, match="shorter than one chunk"):
        training.chunk_dataset(splits[0], 10 * SR, lambda c: None, ((1,), (1,)), 2, seed=0)
    with pytest.raises(ValueError, match="batch_size"):
        unet_batches(splits[0], seed=0, batch_size=0)


def test_steps_per_pass_and_epoch_seeds(splits):
    # 2 songs x 1.5 s x 2 channels / 0.5 s per example / batch 4 = 3 batches
    assert training.steps_per_pass(splits[0], 0.5, 4) == 3
    assert training.epoch_seed(0, 1) == training.epoch_seed(0, 1) != training.epoch_seed(0, 2)


# ---------------------------------------------------------------- the training loop

def regression_model(seed=0, dropout=0.3):
    """A tiny Keras model with dropout (its random state must survive a checkpoint)."""
    import keras

    keras.utils.set_random_seed(seed)
    hidden = [keras.layers.Dense(8, activation="relu") for _ in range(4)]  # > 10 variables: their order must hold
    model = keras.Sequential([keras.Input((4,)), hidden[0], keras.layers.Dropout(dropout), *hidden[1:],
                              keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(0.01), "mse")
    return model


def regression_batches(epoch, seed=0):
    """Epoch `epoch`'s batches of y = x . (1, 2, 3, 4): a function of (seed, epoch) only."""
    import tensorflow as tf

    rng = np.random.default_rng(training.epoch_seed(seed, epoch))
    x = rng.normal(size=(64, 4)).astype(np.float32)
    return tf.data.Dataset.from_tensor_slices((x, x @ np.arange(1, 5, dtype=np.float32))).batch(8)


def validation_batches():
    return regression_batches(-1, seed=99)


def test_fit_interrupted_and_resumed_equals_an_uninterrupted_run(tmp_path):
    plain = regression_model()
    history = training.fit(plain, regression_batches, 4, 5, validation_batches, checkpoint_dir=tmp_path / "plain",
                           progress=False, log=None)
    assert history["finished"] and history["epochs_run"] == 4 and len(history["val_loss"]) == 4
    assert (tmp_path / "plain" / "latest.npz").is_file() and (tmp_path / "plain" / "best.npz").is_file()

    stopped = regression_model()
    first = training.fit(stopped, regression_batches, 4, 5, validation_batches, checkpoint_dir=tmp_path / "cut",
                         max_steps=12, progress=False, log=None)  # interrupted in epoch 3
    assert not first["finished"] and first["epochs_run"] == 2
    resumed = regression_model(seed=7)  # a fresh process: other initial weights, restored from the checkpoint
    lines = []
    second = training.fit(resumed, regression_batches, 4, 5, validation_batches, checkpoint_dir=tmp_path / "cut",
                          resume=True, progress=False, log=lines.append)
    assert lines[0].startswith("resumed") and second["finished"]
    assert second["loss"] == history["loss"] and second["val_loss"] == history["val_loss"]
    for a, b in zip(plain.get_weights(), resumed.get_weights()):
        assert np.array_equal(a, b)
    for a, b in zip(plain.optimizer.variables, resumed.optimizer.variables):
        assert np.array_equal(a.numpy(), b.numpy())


def test_fit_stops_early_and_keeps_the_best_epoch(tmp_path):
    model = regression_model(dropout=0.0)
    kept = []

    def learning_rate(epoch):  # epoch 2 climbs the loss (a negative step), so epoch 1 stays the best
        return 0.01 if epoch == 0 else -0.05

    def batches(epoch):
        if epoch == 1:
            kept.append([w.copy() for w in model.get_weights()])
        return regression_batches(epoch)

    history = training.fit(model, batches, 10, 5, validation_batches, patience=1, learning_rate=learning_rate,
                           checkpoint_dir=tmp_path, progress=False, log=None)
    assert history["best_epoch"] == 1 and history["epochs_run"] == 2 and history["val_loss"][1] > history["val_loss"][0]
    for a, b in zip(model.get_weights(), kept[0]):
        assert np.array_equal(a, b)
    with pytest.raises(ValueError, match="other settings"):
        training.fit(regression_model(), regression_batches, 10, 5, validation_batches, checkpoint_dir=tmp_path,
                     resume=True, settings={"batch_size": 3}, progress=False, log=None)


def test_fit_without_validation_keeps_the_last_epoch_and_refuses_bad_input(tmp_path):
    model = regression_model()
    history = training.fit(model, regression_batches, 2, 3, progress=False, log=None)
    assert history["best_epoch"] == 2 and "val_loss" not in history
    with pytest.raises(ValueError, match="at least 1"):
        training.fit(model, regression_batches, 0, 3, progress=False, log=None)
    with pytest.raises(ValueError, match="checkpoint_dir"):
        training.fit(model, regression_batches, 1, 3, resume=True, progress=False, log=None)
    training.save_checkpoint(regression_model(), tmp_path, {"settings": {}})
    import keras

    other = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    other.compile("adam", "mse")
    with pytest.raises(ValueError, match="another model"):
        training.load_checkpoint(other, tmp_path)
    assert training.load_checkpoint(other, tmp_path / "none") is None


def test_mixed_precision_keeps_float32_outputs():
    import keras

    from course_utils import autoencoder, mask_cnn

    try:
        assert training.use_mixed_precision(True) == "mixed_float16"
        models = [unet.build_from_config(TINY_UNET),
                  mask_cnn.build_mask_cnn({**mask_cnn.SAMPLE_CONFIG, "n_fft": 64, "hop_length": 16, "context": 9,
                                           "filters": [2, 2], "dense_units": 4}),
                  autoencoder.build_from_config({**autoencoder.SAMPLE_CONFIG, "n_fft": 16, "hop_length": 4,
                                                 "block_frames": 6, "freq_span": 9, "time_span": 3, "conv_filters": 2,
                                                 "bottleneck": 4})]
        for model in models:
            assert model.layers[-1].compute_dtype == "float32"
            assert any(layer.compute_dtype == "float16" for layer in model.layers)
            x = np.ones((1, *model.input_shape[1:]), np.float32)
            assert np.asarray(model(x)).dtype == np.float32
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert training.use_mixed_precision(False) == "float32"
