"""S0's speaker classifiers (a dense ANN on MFCCs, a CNN on spectrogram images), training and evaluation.

Used in: 03_ann_speaker_classifier.ipynb, 04_cnn_speaker_classifier.ipynb, 05 (the trained ANN).

TensorFlow/Keras is imported inside the functions that need it, so that importing the course
package stays fast.
"""
import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.metrics import ConfusionMatrixDisplay, accuracy_score, precision_score, recall_score

# S0's CNN as the report describes it: (layer, filters or units, kernel/pool size, strides).
S0_CNN_LAYERS = (
    ("Conv2D", 16, (11, 3), (1, 3)),
    ("MaxPooling2D", None, (4, 2), (4, 2)),
    ("Conv2D", 32, (11, 3), (1, 3)),
    ("MaxPooling2D", None, (4, 2), (4, 2)),
)


def build_ann(n_features=20, n_classes=8, hidden_units=40, dropout=0.2):
    """S0's dense network: n_features -> Dense 40 ReLU -> Dropout -> Dense 40 ReLU -> Dropout -> softmax.

    Used in: 03, 04 (comparison), 05.

    Compiled as S0 did: categorical cross-entropy (one-hot labels; `train` converts integer labels),
    Adam with Keras' default learning rate, accuracy metric. S0 trained it with batch size 40.

    Args:
        n_features: width of each feature vector (S0: 20 mean MFCCs).
        n_classes: number of speakers (S0: 8).
        hidden_units, dropout: S0's 40 units and 0.2.
    Returns:
        a compiled keras.Model with (20*40+40) + (40*40+40) + (40*8+8) = 2,808 parameters for S0's sizes.
    """
    import keras

    model = keras.Sequential([
        keras.Input(shape=(n_features,)),
        keras.layers.Dense(hidden_units, activation="relu"),
        keras.layers.Dropout(dropout),
        keras.layers.Dense(hidden_units, activation="relu"),
        keras.layers.Dropout(dropout),
        keras.layers.Dense(n_classes, activation="softmax"),
    ], name="s0_ann")
    model.compile(optimizer=keras.optimizers.Adam(), loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def _conv_output(size, kernel, stride, padding):
    """Output length of a convolution or pooling along one axis (Keras' formula)."""
    if padding == "same":
        return math.ceil(size / stride)
    return (size - kernel) // stride + 1


def cnn_shape_table(input_shape=(64, 64), padding="valid"):
    """Layer-by-layer output shapes of S0's CNN as described, computed by arithmetic (no Keras).

    Used in: 04 (where the described network breaks, and what makes it possible).

    Args:
        input_shape: (height, width) of the input image (S0: 64x64).
        padding: "valid" (Keras' default, so presumably S0's) or "same", for convolutions and pooling.
    Returns:
        DataFrame with one row per layer: layer, kernel, strides, output (height, width, channels),
        and ``ok`` = False from the first layer whose window does not fit its input.
    """
    if padding not in ("valid", "same"):
        raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}.")
    height, width, channels = *input_shape, 1
    rows, ok = [("Input", "", "", (height, width, channels), True)], True
    for layer, filters, kernel, strides in S0_CNN_LAYERS:
        fits = ok and (padding == "same" or (height >= kernel[0] and width >= kernel[1]))
        if fits:
            height = _conv_output(height, kernel[0], strides[0], padding)
            width = _conv_output(width, kernel[1], strides[1], padding)
            channels = filters or channels
        ok = fits
        shape = (height, width, channels) if ok else "impossible: window larger than its input"
        rows.append((layer, f"{kernel[0]}x{kernel[1]}", strides, shape, ok))
    return pd.DataFrame(rows, columns=["layer", "kernel", "strides", "output", "ok"])


def build_cnn(input_shape=(64, 64, 1), n_classes=8, padding="same", learning_rate=1e-4, dense_units=64, dropout=0.2,
              batchnorm_momentum=0.99):
    """S0's CNN made buildable: two Conv2D(16/32, 11x3, strides (1, 3), ReLU) + MaxPool 4x2 + BatchNorm, Dense 64.

    Used in: 04.

    With padding="valid" (as S0 describes it, by Keras' default) the second pooling has a 3x3 input
    and cannot apply a 4x2 window on 64x64 images (`cnn_shape_table`); padding="same" is the
    smallest change that works. Compiled as S0 did: RMSprop(learning_rate), sparse categorical
    cross-entropy (integer labels), accuracy.

    Args:
        input_shape: (height, width, channels) of the images.
        n_classes: number of speakers.
        padding: "same" (default, the fix) or "valid" (S0 as written; fails on 64x64).
        learning_rate: RMSprop learning rate (S0: 1e-4).
        dense_units, dropout: S0's Dense 64 and Dropout 0.2.
        batchnorm_momentum: how slowly BatchNormalization's running statistics (used at prediction
            time) follow the batches; Keras' default 0.99 needs many hundreds of steps to settle.
    Returns:
        a compiled keras.Model.
    Raises:
        ValueError: the layers do not fit `input_shape` with this padding (the message gives the shapes).
    """
    import keras

    table = cnn_shape_table(input_shape[:2], padding)
    if not table["ok"].all():
        raise ValueError(f"S0's CNN cannot be built on {input_shape} inputs with padding={padding!r}:\n"
                         f"{table.to_string(index=False)}\nUse padding='same' or larger images.")
    layers = [keras.Input(shape=input_shape)]
    for layer, filters, kernel, strides in S0_CNN_LAYERS:
        if layer == "Conv2D":
            layers.append(keras.layers.Conv2D(filters, kernel, strides=strides, padding=padding, activation="relu"))
        else:
            layers.append(keras.layers.MaxPooling2D(kernel, padding=padding))
        layers.append(keras.layers.BatchNormalization(momentum=batchnorm_momentum))
    layers += [keras.layers.Flatten(), keras.layers.Dense(dense_units, activation="relu"),
               keras.layers.Dropout(dropout), keras.layers.Dense(n_classes, activation="softmax")]
    model = keras.Sequential(layers, name=f"s0_cnn_{padding}")
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _check_examples(model, x, y=None, name="x"):
    """Raise a ValueError naming the expected shape when x (and y) do not suit the model."""
    x = np.asarray(x, dtype=np.float32)
    expected = tuple(model.input_shape[1:])
    if x.shape[1:] != expected:
        what = f"width {expected[0]}" if len(expected) == 1 else f"shape {expected}"
        raise ValueError(f"{model.name} expects {name} of {what} per example, got {x.shape[1:]} "
                         f"(array {x.shape}). Use the features the model was built for, or rebuild it.")
    if y is not None:
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(x):
            raise ValueError(f"Labels must be a 1-D array of integer classes, one per example: got shape "
                             f"{y.shape} for {len(x)} examples.")
        n_classes = model.output_shape[-1]
        if y.min() < 0 or y.max() >= n_classes:
            raise ValueError(f"Labels must lie in 0..{n_classes - 1} for this model, got {y.min()}..{y.max()}.")
    return x, y


def _targets(model, y):
    """One-hot targets for categorical cross-entropy, integers otherwise."""
    if model.loss == "categorical_crossentropy":
        return np.eye(model.output_shape[-1], dtype=np.float32)[y]
    return y


def train(model, x_train, y_train, x_val=None, y_val=None, epochs=100, batch_size=40, seed=0, restore_best=False):
    """Fit a classifier quietly (verbose=0) on integer labels; return the Keras History.

    Used in: 03, 04, 05.

    Args:
        model: from `build_ann` or `build_cnn`.
        x_train: (n, n_features) or (n, height, width, 1); y_train: (n,) integer classes.
        x_val, y_val: optional validation examples, scored after every epoch (learning curves).
        epochs, batch_size: S0 used 1000 epochs / batch 40 (ANN) and 100 epochs (CNN).
        seed: seed of the per-epoch shuffling of the training examples.
        restore_best: after the last epoch, put back the weights of the epoch with the lowest
            validation loss (needs x_val, y_val); that epoch (1-based) is in ``history.best_epoch``.
    Returns:
        keras.callbacks.History with ``history.history["loss"]``, ``["accuracy"]`` (and ``val_...``)
        for every epoch, and ``history.best_epoch`` (the last epoch when restore_best is False).
    Raises:
        ValueError: features of the wrong width/shape for the model, or labels that do not match them,
            or restore_best without validation data.
    """
    import tensorflow as tf

    x_train, y_train = _check_examples(model, x_train, y_train, "x_train")
    # A tf.data pipeline is several times faster than numpy arrays for small models (less per-epoch overhead).
    batches = (tf.data.Dataset.from_tensor_slices((x_train, _targets(model, y_train))).cache()
               .shuffle(len(x_train), seed=seed).batch(batch_size))
    validation = None
    if x_val is not None:
        x_val, y_val = _check_examples(model, x_val, y_val, "x_val")
        validation = tf.data.Dataset.from_tensor_slices((x_val, _targets(model, y_val))).batch(256).cache()
    if restore_best and validation is None:
        raise ValueError("restore_best=True needs validation data (x_val, y_val): the best epoch is chosen on it.")
    callbacks = [_BestValidation()] if restore_best else []
    history = model.fit(batches, validation_data=validation, epochs=epochs, shuffle=False, verbose=0,  # batches are shuffled
                        callbacks=callbacks)
    history.best_epoch = callbacks[0].best_epoch if restore_best else len(history.history["loss"])
    return history


def _BestValidation():
    """A Keras callback that keeps the weights of the epoch with the lowest validation loss and restores them."""
    import keras

    class BestValidation(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.best_loss, self.best_epoch, self.best_weights = np.inf, 0, None

        def on_epoch_end(self, epoch, logs=None):
            if logs["val_loss"] < self.best_loss:
                self.best_loss, self.best_epoch, self.best_weights = logs["val_loss"], epoch + 1, self.model.get_weights()

        def on_train_end(self, logs=None):
            if self.best_weights is not None:
                self.model.set_weights(self.best_weights)

    return BestValidation()


def predict_proba(model, x):
    """Class probabilities, shape (n, n_classes), after checking the feature shape.

    Used in: 03, 04, 05.

    Calls the model directly, in batches of 256, rather than ``model.predict``: predict compiles a function per
    model, and a notebook that trains several models in a loop would print TensorFlow's retracing warnings.
    """
    x, _ = _check_examples(model, x)
    batches = [np.asarray(model(x[start:start + 256], training=False)) for start in range(0, len(x), 256)]
    return np.concatenate(batches) if batches else np.zeros((0, model.output_shape[-1]), dtype=np.float32)


def file_level(probabilities, file_ids, labels):
    """Average segment probabilities per file: one prediction per recording.

    Used in: 03, 04.

    Args:
        probabilities: (n_segments, n_classes); file_ids: (n_segments,) any hashable file id;
        labels: (n_segments,) integer classes (constant within a file).
    Returns:
        (file_probabilities (n_files, n_classes), file_labels (n_files,)), files in sorted id order.
    """
    probabilities = np.asarray(probabilities)
    if not len(probabilities) == len(file_ids) == len(labels):
        raise ValueError(f"Got {len(probabilities)} probability rows, {len(file_ids)} file ids and "
                         f"{len(labels)} labels: they must match, one per segment.")
    frame = pd.DataFrame(probabilities).assign(file=np.asarray(file_ids), label=np.asarray(labels))
    grouped = frame.groupby("file", sort=True)
    return grouped.mean(numeric_only=True).drop(columns="label").to_numpy(), grouped["label"].first().to_numpy()


def scores(y_true, y_pred):
    """Accuracy and macro-averaged precision and recall (sklearn.metrics), as S0 reported them.

    Used in: 03, 04.

    Returns:
        dict with keys "accuracy", "precision", "recall".
    """
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} labels but y_pred has {len(y_pred)}.")
    return {"accuracy": accuracy_score(y_true, y_pred),
            "precision": precision_score(y_true, y_pred, average="macro", zero_division=0),
            "recall": recall_score(y_true, y_pred, average="macro", zero_division=0)}


def chance_level(y):
    """Accuracy of always answering the most frequent class of `y` (1 / n_classes for balanced classes).

    Used in: 03, 04, 05 (every classifier result is shown beside it).
    """
    y = np.asarray(y)
    if y.ndim != 1 or not len(y):
        raise ValueError(f"Expected a non-empty 1-D array of integer classes, got shape {y.shape}.")
    return float(np.bincount(y).max() / len(y))


def wilson_interval(n_correct, n, confidence=0.95):
    """Wilson score interval for a proportion (e.g. an accuracy of n_correct out of n independent trials).

    Used in: 03, 04, 05 (`accuracy_interval`).

    Args:
        n_correct: number of successes; n: number of trials (> 0).
        confidence: coverage of the interval (0.95: a 95 % interval).
    Returns:
        (low, high), both in [0, 1]. Unlike the normal approximation it stays inside [0, 1] and is
        not empty at 0 or n successes: 10 of 11 gives about (0.62, 0.98).
    """
    from scipy.stats import norm

    if n <= 0 or not 0 <= n_correct <= n:
        raise ValueError(f"Need 0 <= n_correct <= n and n > 0, got n_correct={n_correct}, n={n}.")
    z = norm.ppf(0.5 + confidence / 2)
    p = n_correct / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def accuracy_interval(y_true, y_pred, groups=None, confidence=0.95, n_boot=2000, seed=0):
    """Accuracy with a confidence interval: Wilson for independent examples, a bootstrap over groups otherwise.

    Used in: 03, 04, 05.

    Overlapping segments of one recording are not independent trials, so for segment-level accuracy
    pass each segment's recording as its group: the interval then comes from resampling whole
    recordings (a percentile bootstrap), which is wider and honest about how few recordings there are.

    Args:
        y_true, y_pred: (n,) integer classes.
        groups: None (every example independent: Wilson interval) or (n,) group ids (e.g. file paths).
        confidence: coverage of the interval.
        n_boot, seed: bootstrap resamples and their seed (groups only).
    Returns:
        dict with "accuracy", "low", "high" and "n" (examples; with groups, "groups" too).
    """
    correct = np.asarray(y_true) == np.asarray(y_pred)
    if len(y_true) != len(y_pred) or not len(correct):
        raise ValueError(f"y_true and y_pred must be non-empty and of equal length, got {len(y_true)} and {len(y_pred)}.")
    result = {"accuracy": float(correct.mean()), "n": int(correct.size)}
    if groups is None:
        low, high = wilson_interval(int(correct.sum()), correct.size, confidence)
        return {**result, "low": low, "high": high}
    groups = np.asarray(groups)
    if len(groups) != len(correct):
        raise ValueError(f"groups has {len(groups)} entries for {len(correct)} examples: give one group per example.")
    _, group_index = np.unique(groups, return_inverse=True)
    hits = np.bincount(group_index, weights=correct)  # per group: correct examples and all examples
    sizes = np.bincount(group_index)
    draws = np.random.default_rng(seed).integers(0, len(sizes), size=(n_boot, len(sizes)))
    boot = hits[draws].sum(axis=1) / sizes[draws].sum(axis=1)
    low, high = np.quantile(boot, [(1 - confidence) / 2, (1 + confidence) / 2])
    return {**result, "groups": len(sizes), "low": float(low), "high": float(high)}


def logistic_baseline(x_train, y_train, seed=0):
    """The simple baseline for every classifier: standardisation + multinomial logistic regression (scikit-learn).

    Used in: 03, 04, 05 (on the same features as the network it is compared with).

    Args:
        x_train: (n, ...) features; images are flattened to one vector per example.
        y_train: (n,) integer classes.
        seed: random_state of the solver.
    Returns:
        a fitted sklearn Pipeline; call ``.predict(x.reshape(len(x), -1))`` or ``.predict_proba(...)``.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x_train = np.asarray(x_train, dtype=np.float64)
    x_train = x_train.reshape(len(x_train), -1)
    if len(y_train) != len(x_train):
        raise ValueError(f"Got {len(x_train)} examples and {len(y_train)} labels: they must match.")
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed))
    return model.fit(x_train, np.asarray(y_train))


def score_table(model, splits):
    """Accuracy, precision and recall of a model on several splits.

    Used in: 03, 04.

    Args:
        model: a trained classifier.
        splits: dict name -> (x, y), e.g. {"train": (x_train, y_train), "test": (x_test, y_test)}.
    Returns:
        DataFrame indexed by split name with columns accuracy, precision, recall, examples.
    """
    rows = {}
    for name, (x, y) in splits.items():
        x, y = _check_examples(model, x, y, f"x_{name}")
        rows[name] = {**scores(y, predict_proba(model, x).argmax(axis=1)), "examples": len(y)}
    return pd.DataFrame(rows).T.astype({"examples": int})


def plot_confusion(y_true, y_pred, class_names, ax=None, title=None):
    """Confusion matrix (rows: true speaker, columns: predicted) with sklearn; returns the Axes.

    Used in: 03, 04.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 5))
    ConfusionMatrixDisplay.from_predictions(y_true, y_pred, labels=np.arange(len(class_names)),
                                            display_labels=class_names, ax=ax, colorbar=False,
                                            xticks_rotation=60)
    ax.set(title=title)
    return ax


def plot_learning_curves(history, title=None, axes=None):
    """Loss and accuracy per epoch for training (and validation, if recorded); returns the two Axes.

    Used in: 03, 04.
    """
    curves = history.history if hasattr(history, "history") else history
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(11, 3.2), constrained_layout=True)
    for ax, metric in zip(axes, ("loss", "accuracy")):
        ax.plot(curves[metric], label="train")
        if f"val_{metric}" in curves:
            ax.plot(curves[f"val_{metric}"], label="validation")
        ax.set(xlabel="epoch", ylabel=metric, title=f"{title} · {metric}" if title else metric)
        ax.legend()
    return axes


def identify_speakers(model, scaler, signals, sr, level_dbfs=-20.0, segment_seconds=1.0, hop_seconds=0.5):
    """Which speaker is each signal? Mean class probabilities of its segments' standardised mean MFCCs.

    Used in: 05 (label each ICA component, and each raw microphone for comparison).

    ICA returns components at an arbitrary scale and sign; MFCCs ignore the sign but not the level,
    so each signal is first brought to `level_dbfs` RMS, the level of the training recordings
    (the bundled clips are normalised to -20 dBFS).

    Args:
        model: a trained `build_ann` model, or a scikit-learn classifier with ``predict_proba`` (e.g.
            `logistic_baseline`); scaler: the StandardScaler fitted on its training features.
        signals: array (n_signals, n_samples) of mono signals at rate `sr`.
        level_dbfs: RMS level every signal is scaled to before feature extraction.
        segment_seconds, hop_seconds: segmentation, as for the training features.
    Returns:
        float array (n_signals, n_classes): row i = mean probability of each speaker over signal i's segments.
    """
    from .features import segment_features

    signals = np.atleast_2d(np.asarray(signals, dtype=np.float64))
    rows = []
    for signal in signals:
        scaled = signal * 10 ** (level_dbfs / 20) / np.sqrt(np.mean(signal**2) + 1e-20)
        features = segment_features(scaled, sr, "mfcc_mean", segment_seconds, hop_seconds)
        x = scaler.transform(features)
        rows.append((model.predict_proba(x) if hasattr(model, "predict_proba") else predict_proba(model, x)).mean(axis=0))
    return np.stack(rows)
