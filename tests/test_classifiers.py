"""Tests for course_utils.classifiers: S0's layer shapes, parameter counts, validation, training."""
import numpy as np
import pytest

import course_utils as cu
from course_utils import classifiers


def test_ann_has_s0s_layers_and_2808_parameters():
    model = classifiers.build_ann(n_features=20, n_classes=8)
    assert model.count_params() == 20 * 40 + 40 + 40 * 40 + 40 + 40 * 8 + 8 == 2808
    assert [tuple(layer.output.shape[1:]) for layer in model.layers] == [(40,), (40,), (40,), (40,), (8,)]
    assert model.loss == "categorical_crossentropy"


def test_cnn_shape_table_shows_where_s0s_cnn_breaks():
    valid = classifiers.cnn_shape_table((64, 64), padding="valid")
    assert list(valid["output"][:4]) == [(64, 64, 1), (54, 21, 16), (13, 10, 16), (3, 3, 32)]
    assert list(valid["ok"]) == [True, True, True, True, False]
    same = classifiers.cnn_shape_table((64, 64), padding="same")
    assert same["ok"].all() and same["output"].iloc[-1] == (4, 2, 32)


def test_cnn_shapes_match_the_table_and_valid_padding_is_refused():
    model = classifiers.build_cnn(input_shape=(64, 64, 1), n_classes=8)
    shapes = [tuple(layer.output.shape[1:]) for layer in model.layers if layer.__class__.__name__ in ("Conv2D", "MaxPooling2D")]
    assert shapes == list(classifiers.cnn_shape_table((64, 64), "same")["output"][1:])
    assert model.output_shape == (None, 8)
    # conv1 16*(11*3*1)+16, conv2 32*(11*3*16)+32, 4 batch norms (4 weights per channel), dense 256*64+64, 64*8+8
    assert model.count_params() == 544 + 16928 + 4 * (16 + 16 + 32 + 32) + 16448 + 520
    with pytest.raises(ValueError, match="cannot be built"):
        classifiers.build_cnn(padding="valid")


def test_wrong_feature_width_and_label_mismatch_are_rejected():
    model = classifiers.build_ann(n_features=20, n_classes=8)
    with pytest.raises(ValueError, match="width 20"):
        classifiers.train(model, np.zeros((10, 40)), np.zeros(10, dtype=int), epochs=1)
    with pytest.raises(ValueError, match="one per example"):
        classifiers.train(model, np.zeros((10, 20)), np.zeros(9, dtype=int), epochs=1)
    with pytest.raises(ValueError, match="0..7"):
        classifiers.train(model, np.zeros((10, 20)), np.full(10, 8), epochs=1)
    with pytest.raises(ValueError, match="must match"):
        classifiers.file_level(np.zeros((3, 8)), ["a", "b"], [0, 0, 0])


def _separable(n_per_class=30, n_classes=4, width=20, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, (n_classes, width))
    labels = np.repeat(np.arange(n_classes), n_per_class)
    return (centres[labels] + rng.normal(0, 0.5, (labels.size, width))).astype(np.float32), labels


def test_ann_learns_separable_data_and_scores_it():
    x, y = _separable()
    cu.seed_everything(0, tensorflow=True)
    model = classifiers.build_ann(n_features=20, n_classes=4)
    history = classifiers.train(model, x, y, x, y, epochs=30)
    assert set(history.history) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    table = classifiers.score_table(model, {"train": (x, y)})
    assert table.at["train", "accuracy"] >= 0.95 and table.at["train", "examples"] == len(y)


def test_ann_training_is_deterministic():
    x, y = _separable()
    weights = []
    for _ in range(2):
        cu.seed_everything(0, tensorflow=True)
        model = classifiers.build_ann(n_features=20, n_classes=4)
        classifiers.train(model, x, y, epochs=5)
        weights.append(model.get_weights())
    for first, second in zip(*weights):
        np.testing.assert_array_equal(first, second)


def test_file_level_averages_probabilities_per_file():
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.3, 0.7]])
    averaged, labels = classifiers.file_level(probabilities, ["b", "b", "a", "a"], [0, 0, 1, 1])
    np.testing.assert_allclose(averaged, [[0.35, 0.65], [0.55, 0.45]])
    np.testing.assert_array_equal(labels, [1, 0])


def test_scores_are_sklearns():
    result = classifiers.scores([0, 0, 1, 1], [0, 1, 1, 1])
    assert result["accuracy"] == 0.75 and result["precision"] == pytest.approx((1 + 2 / 3) / 2)
    assert result["recall"] == pytest.approx(0.75)


def test_identify_speakers_ignores_level_and_sign():
    from sklearn.preprocessing import StandardScaler

    sr, rng = 16_000, np.random.default_rng(0)
    t = np.arange(2 * sr) / sr
    voices = [np.sin(2 * np.pi * f * t) * (1 + 0.3 * np.sin(2 * np.pi * 3 * t)) + 0.01 * rng.normal(size=t.size)
              for f in (150.0, 900.0)]  # two "speakers": a low and a high tone
    feats = np.concatenate([cu.features.segment_features(0.1 * v, sr, "mfcc_mean", 0.5, 0.25) for v in voices])
    labels = np.repeat([0, 1], len(feats) // 2)
    scaler = StandardScaler().fit(feats)
    cu.seed_everything(0, tensorflow=True)
    model = classifiers.build_ann(n_features=feats.shape[1], n_classes=2)
    classifiers.train(model, scaler.transform(feats), labels, epochs=60, batch_size=8)
    # the same voices, 100x quieter and upside down: level is normalised and MFCCs ignore the sign
    probabilities = classifiers.identify_speakers(model, scaler, np.stack([-0.001 * v for v in voices]), sr,
                                                  segment_seconds=0.5, hop_seconds=0.25)
    assert probabilities.shape == (2, 2) and np.allclose(probabilities.sum(axis=1), 1, atol=1e-5)
    assert list(probabilities.argmax(axis=1)) == [0, 1]


def test_restore_best_puts_back_the_epoch_with_the_lowest_validation_loss():
    x, y = _separable()
    x_val, y_val = _separable(seed=1)
    cu.seed_everything(0, tensorflow=True)
    model = classifiers.build_ann(n_features=20, n_classes=4)
    history = classifiers.train(model, x, y, x_val, y_val, epochs=12, restore_best=True)
    losses = history.history["val_loss"]
    assert history.best_epoch == int(np.argmin(losses)) + 1
    restored = model.evaluate(x_val, np.eye(4)[y_val], verbose=0)[0]
    assert restored == pytest.approx(min(losses), rel=1e-4)
    with pytest.raises(ValueError, match="needs validation data"):
        classifiers.train(model, x, y, epochs=1, restore_best=True)
    assert classifiers.train(model, x, y, epochs=2).best_epoch == 2


def test_chance_level_is_the_most_frequent_class_share():
    assert classifiers.chance_level([0, 1, 2, 3] * 5) == 0.25
    assert classifiers.chance_level([0, 0, 0, 1]) == 0.75
    with pytest.raises(ValueError):
        classifiers.chance_level([])


def test_wilson_interval_matches_known_values():
    low, high = classifiers.wilson_interval(10, 11)  # S0's 90.91 %: 10 of 11 validation images
    assert (round(low, 3), round(high, 3)) == (0.623, 0.984)
    assert classifiers.wilson_interval(8, 8)[1] == 1.0 and classifiers.wilson_interval(8, 8)[0] == pytest.approx(0.676, abs=1e-3)
    assert classifiers.wilson_interval(0, 20)[0] == 0.0
    low, high = classifiers.wilson_interval(50, 100)
    assert low == pytest.approx(1 - high) and high - low == pytest.approx(2 * 1.96 * 0.05, rel=0.02)
    with pytest.raises(ValueError):
        classifiers.wilson_interval(3, 2)


def test_accuracy_interval_bootstraps_whole_groups():
    y_true = np.zeros(40, dtype=int)
    y_pred = np.repeat([0, 1, 0, 0], 10)  # 4 groups of 10 segments, one group entirely wrong
    groups = np.repeat(["a", "b", "c", "d"], 10)
    independent = classifiers.accuracy_interval(y_true, y_pred)
    grouped = classifiers.accuracy_interval(y_true, y_pred, groups)
    assert independent["accuracy"] == grouped["accuracy"] == 0.75 and grouped["groups"] == 4
    assert grouped["high"] - grouped["low"] > independent["high"] - independent["low"]  # 4 groups, not 40 trials
    assert grouped["low"] <= 0.75 <= grouped["high"] and grouped["high"] == 1.0
    assert classifiers.accuracy_interval(y_true, y_pred, groups) == grouped  # seeded
    with pytest.raises(ValueError, match="one group per example"):
        classifiers.accuracy_interval(y_true, y_pred, groups[:5])


def test_logistic_baseline_fits_separable_data_and_flattens_images():
    x, y = _separable()
    baseline = classifiers.logistic_baseline(x, y)
    assert (baseline.predict(x) == y).mean() >= 0.95
    images = x.reshape(len(x), 4, 5)
    assert (classifiers.logistic_baseline(images, y).predict(images.reshape(len(x), -1)) == y).all()
