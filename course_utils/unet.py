"""S2's U-Net vocal separator: shapes, network, weighted L1 loss, streamed training segments, the separator, denoiser.

Used in: 07_unet_vocal_separator.ipynb, 11 (the grand comparison); scripts/train_unet.py and
benchmarks/unet_speed.py.

The network (Oh et al. 2018, as S2 describes it) sees the magnitude STFT of a fixed-length segment
of one channel, zero-padded so that both axes divide by 2 ** n_levels, and outputs one magnitude
estimate per source. Its last layer is a 1x1 convolution with ReLU (S2; a sigmoid in sample mode)
whose k outputs multiply the input magnitude, so they act as masks and the model's outputs are magnitudes,
on which S2's weighted L1 loss is computed. `as_separator` wraps a trained network as a `Separator`, so
`cu.separate(mixture, sr, model)` separates with it like with every other model of the course: the magnitude
estimates become masks of the *mixture* STFT (the estimates keep the mixture's phase and add up to the mixture).

Sample-exact reconstruction (S2's misalignment bug): the whole track's STFT is computed once, cut into
overlapping blocks of `segment_frames` frames (`masks.split_blocks`), each block padded, predicted, cropped
back and cross-faded with its neighbours (`masks.join_blocks`). Nothing ever shifts by a frame, so an oracle
sent through the same path reproduces the oracle exactly (tests/test_unet.py checks this).
"""
import numpy as np
import pandas as pd
from scipy.signal import hilbert

from . import masks
from .weights import build_and_load, read_weights_file, save_weights_file, weights_dir

SOURCES = ("vocals", "accompaniment")
SAMPLE_CONFIG = {  # sample mode: 22.05 kHz, 1.47-s segments -> 513 x 128 bins, padded to 528 x 128
    "sr": 22050, "n_fft": 1024, "hop_length": 256, "segment_frames": 128,
    "n_levels": 4, "base_filters": 8, "dropout": 0.2, "n_sources": 2, "mask_activation": "sigmoid",
    "bn_momentum": 0.9,
}
FULL_CONFIG = {  # S2: 44.1 kHz, 2-s segments, n_fft 2048 / hop 512 -> 1025 x 173, padded to 1040 x 176
    "sr": 44100, "n_fft": 2048, "hop_length": 512, "segment_frames": 173,
    "n_levels": 4, "base_filters": 32, "dropout": 0.5, "n_sources": 2, "mask_activation": "relu",
    "bn_momentum": 0.99,
}
DEFAULT_ALPHA = "0.5"  # the loss weight of the shipped default model (chosen on validation songs; see weights/README.md)


def weights_name(alpha_label, mode="rendered"):
    """File name of a trained U-Net: "full" (MUSDB18, --full), "rendered" (the rendered training set, --train-root)
    or "sample" (the 8 bundled songs); alpha_label: "1", "0", "0.5" or "norms"."""
    return f"unet_{mode}_alpha_{alpha_label}.npz"


DEFAULT_WEIGHTS = weights_name(DEFAULT_ALPHA)  # the shipped model notebooks and benchmarks load


# ---------------------------------------------------------------- shapes

def pad_to_multiple(spec, multiple=16):
    """Zero-pad a (freq, time) spectrogram so both axes divide by `multiple`.

    Used in: 07_unet_vocal_separator.ipynb; the data pipeline and `predict_magnitudes`.

    Args:
        spec: array of shape (freq, time) or (freq, time, channels); zeros are added at the
            high-frequency end and after the last frame, so bin (0, 0) stays where it was.
        multiple: 2 ** number of pooling layers in the U-Net.
    Returns:
        padded array and the original (freq, time) shape, for `crop_to_shape`.
    """
    spec = np.asarray(spec)
    if spec.ndim not in (2, 3):
        raise ValueError(f"spec must be (freq, time) or (freq, time, channels), got shape {spec.shape}.")
    if not (isinstance(multiple, (int, np.integer)) and multiple >= 1):
        raise ValueError(f"multiple must be a positive integer (2 ** n_levels), got {multiple!r}.")
    freq, time = spec.shape[:2]
    pad = [(0, -freq % multiple), (0, -time % multiple)] + [(0, 0)] * (spec.ndim - 2)
    return np.pad(spec, pad), (freq, time)


def crop_to_shape(spec, shape):
    """Cut a padded (freq, time[, channels]) array back to the original (freq, time) shape.

    Used in: 07; `predict_magnitudes`.

    Args:
        spec: padded array, (freq, time) or (freq, time, channels).
        shape: the (freq, time) returned by `pad_to_multiple`.
    Returns:
        the array without the padding (a view).
    """
    spec = np.asarray(spec)
    freq, time = shape
    if spec.ndim < 2 or spec.shape[0] < freq or spec.shape[1] < time:
        raise ValueError(f"Cannot crop shape {spec.shape} to {tuple(shape)}: it is smaller than the target.")
    return spec[:freq, :time]


def padded_shape(freq, time, multiple=16):
    """The (freq, time) that `pad_to_multiple` produces, e.g. (1025, 173) -> (1040, 176).

    Used in: 07; `build_unet` error messages.
    """
    return freq + (-freq % multiple), time + (-time % multiple)


def unet_shape_table(freq, time, n_levels=4, base_filters=32, pad=False):
    """S2's Table 1: the (freq, time, channels) after every block of the U-Net, with or without padding.

    Used in: 07 (why 1025 x 173 breaks the skip connections and 1040 x 176 does not).

    Max pooling floors odd sizes (173 -> 86 -> 43 -> 21 -> 10); upsampling doubles them
    (10 -> 20), and 20 frames cannot be concatenated with the 21 of the skip connection.

    Args:
        freq, time: spectrogram size, e.g. 1025 x 173.
        n_levels: pooling levels; base_filters: channels of the first block.
        pad: first pad to multiples of 2 ** n_levels.
    Returns:
        DataFrame, one row per block: block, input, output, skip (the encoder shape the block is
        concatenated with) and ok (False where the shapes do not match).
    """
    if pad:
        freq, time = padded_shape(freq, time, 2 ** n_levels)
    rows, shape, skips = [], (freq, time, 1), []
    for level in range(n_levels):
        out = (shape[0] // 2, shape[1] // 2, base_filters * 2 ** level)
        skips.append((shape[0], shape[1], base_filters * 2 ** level))
        rows.append((f"encoder {level + 1} (2 conv + pool)", shape, out, "", True))
        shape = out
    out = (shape[0], shape[1], base_filters * 2 ** n_levels)
    rows.append(("centre (2 conv)", shape, out, "", True))
    shape = out
    for level in reversed(range(n_levels)):
        out = (shape[0] * 2, shape[1] * 2, base_filters * 2 ** level)
        skip = skips[level]
        rows.append((f"decoder {n_levels - level} (up + concat + 2 conv)", shape, out, skip, out[:2] == skip[:2]))
        shape = out
    table = pd.DataFrame(rows, columns=["block", "input", "output", "skip", "ok"])
    return table.map(lambda v: " x ".join(map(str, v)) if isinstance(v, tuple) else v)


# ---------------------------------------------------------------- network

def build_unet(input_shape, n_sources=2, base_filters=32, n_levels=4, dropout=0.5, mask_activation="relu",
               bn_momentum=0.99, name="unet"):
    """S2's U-Net (Oh et al. 2018): 4 encoder blocks, a centre block, 4 decoder blocks, 1x1 conv to k sources.

    Used in: 07, 11; scripts/train_unet.py; benchmarks/unet_speed.py.

    Encoder block: two (3x3 conv, BatchNorm, ReLU) then 2x2 max pooling; the centre has
    base_filters * 2 ** n_levels channels (512 for S2's base 32). Decoder block: 2x2 transposed
    convolution (half the channels, twice the size), BatchNorm, ReLU, Dropout, concatenation with
    the encoder output of the same size, two (3x3 conv, BatchNorm, ReLU). Last: 1x1 conv with ReLU
    (S2) or sigmoid to k non-negative maps, multiplied by the input magnitude -> k magnitude estimates.
    The network's input is log(1 + magnitude), which evens out the huge dynamic range.
    In short sample-mode runs S2's final ReLU can "die" (every output 0, no gradient left), so the
    sample configuration uses a sigmoid: bounded masks in (0, 1) that always pass a gradient. It also
    uses BatchNorm momentum 0.9: with Keras' 0.99 the moving statistics used at inference still
    remember the untrained network after a few hundred steps.

    Args:
        input_shape: (freq, time) of the padded magnitude, both divisible by 2 ** n_levels.
        n_sources: k (2: vocals, accompaniment).
        base_filters: channels of the first block (32 in S2's full model, 8 in sample mode).
        n_levels: number of pooling levels (4).
        dropout: dropout rate in the decoder.
        mask_activation: "relu" (S2) or "sigmoid" (masks in (0, 1)) for the last 1x1 conv.
        bn_momentum: momentum of the BatchNorm moving statistics (Keras' default 0.99).
    Returns:
        keras.Model mapping (batch, freq, time, 1) magnitudes to (batch, freq, time, n_sources);
        `model.course_config` holds the arguments (checked when loading weights).
    """
    import keras
    from keras import layers, ops

    if len(input_shape) != 2 or any(not isinstance(s, (int, np.integer)) or s < 1 for s in input_shape):
        raise ValueError(f"input_shape must be (freq, time) positive integers, got {input_shape!r}.")
    multiple = 2 ** n_levels
    if any(s % multiple for s in input_shape):
        raise ValueError(f"input_shape {tuple(input_shape)} does not divide by 2 ** n_levels = {multiple}: max pooling "
                         f"would floor odd sizes and the skip connections would not match (S2's Table 1). Pad the "
                         f"spectrogram with pad_to_multiple first: {tuple(input_shape)} -> "
                         f"{padded_shape(*input_shape, multiple)}.")
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}.")
    if mask_activation not in ("relu", "sigmoid"):
        raise ValueError(f"mask_activation must be 'relu' (S2) or 'sigmoid', got {mask_activation!r}.")

    def conv_block(x, filters):
        for _ in range(2):
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
            x = layers.BatchNormalization(momentum=bn_momentum)(x)
            x = layers.ReLU()(x)
        return x

    magnitude = keras.Input((*input_shape, 1), name="mixture_magnitude")
    x = layers.Lambda(ops.log1p, name="log1p")(magnitude)
    skips = []
    for level in range(n_levels):
        x = conv_block(x, base_filters * 2 ** level)
        skips.append(x)
        x = layers.MaxPooling2D(2)(x)
    x = conv_block(x, base_filters * 2 ** n_levels)
    for level in reversed(range(n_levels)):
        x = layers.Conv2DTranspose(base_filters * 2 ** level, 2, strides=2, use_bias=False)(x)
        x = layers.BatchNormalization(momentum=bn_momentum)(x)
        x = layers.ReLU()(x)
        x = layers.Dropout(dropout)(x)
        x = layers.Concatenate()([x, skips[level]])
        x = conv_block(x, base_filters * 2 ** level)
    # float32 outputs (and loss) even when the rest computes in float16 (training.use_mixed_precision)
    maps = layers.Conv2D(n_sources, 1, activation=mask_activation, name="source_maps", dtype="float32")(x)
    estimates = layers.Multiply(name="magnitude_estimates", dtype="float32")([maps, magnitude])
    model = keras.Model(magnitude, estimates, name=name)
    model.course_config = {"input_shape": [int(s) for s in input_shape], "n_sources": int(n_sources),
                           "base_filters": int(base_filters), "n_levels": int(n_levels), "dropout": float(dropout),
                           "mask_activation": mask_activation, "bn_momentum": float(bn_momentum)}
    return model


def build_from_config(config):
    """Build the U-Net for a configuration dict such as SAMPLE_CONFIG (freq x time from n_fft and segment_frames).

    Used in: 07; scripts/train_unet.py; benchmarks/unet_speed.py.
    """
    freq = config["n_fft"] // 2 + 1
    shape = padded_shape(freq, config["segment_frames"], 2 ** config["n_levels"])
    return build_unet(shape, config["n_sources"], config["base_filters"], config["n_levels"], config["dropout"],
                      config.get("mask_activation", "relu"), config.get("bn_momentum", 0.99))


def weighted_l1_loss(alpha):
    """S2's loss: alpha * L1(vocals) + (1 - alpha) * L1(accompaniment), each the mean absolute error.

    Used in: 07; scripts/train_unet.py.

    Args:
        alpha: weight of the vocals in [0, 1] (1: vocals only, 0: accompaniment only).
    Returns:
        a Keras loss function of (y_true, y_pred), both (batch, freq, time, 2) with vocals in
        channel 0 and the accompaniment in channel 1.
    """
    if not isinstance(alpha, (int, float, np.floating)) or not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"alpha must be a number in [0, 1] (S2 uses 1, 0, 0.5 and 0.707), got {alpha!r}.")
    alpha = float(alpha)
    from keras import ops

    def loss(y_true, y_pred):
        error = ops.abs(y_true - y_pred)
        return alpha * ops.mean(error[..., 0]) + (1.0 - alpha) * ops.mean(error[..., 1])

    loss.__name__ = f"weighted_l1_alpha_{alpha:g}"
    return loss


def alpha_from_norms(vocals_norms, accompaniment_norms):
    """S2's alpha: alpha * mean ||vocals||_2 = (1 - alpha) * mean ||accompaniment||_2.

    Used in: 07; scripts/train_unet.py.

    The quieter source gets the larger weight, so both contribute equally to the loss.

    Args:
        vocals_norms, accompaniment_norms: 2-norms of the training examples (e.g. one per track or
            per segment, time-domain or magnitude), as sequences of non-negative numbers.
    Returns:
        alpha = mean_acc / (mean_vocals + mean_acc), a float in [0, 1].
    """
    v = np.asarray(vocals_norms, dtype=np.float64)
    a = np.asarray(accompaniment_norms, dtype=np.float64)
    if v.size == 0 or a.size == 0 or np.any(v < 0) or np.any(a < 0) or v.mean() + a.mean() == 0:
        raise ValueError("Give non-empty, non-negative 2-norms with a positive total.")
    return float(a.mean() / (v.mean() + a.mean()))


def track_norms(tracks):
    """Mean 2-norm of the vocals and of the accompaniment over songs (time domain, all channels).

    Used in: 07; scripts/train_unet.py (to derive alpha with `alpha_from_norms`).

    Args:
        tracks: musdb tracks or `datasets.Track`s holding "vocals" and "accompaniment" (read one at a time).
    Returns:
        (vocals_norms, accompaniment_norms): arrays with one 2-norm per song.
    """
    from .datasets import as_track

    pairs = []
    for track in tracks:
        stems = as_track(track, SOURCES, "A training song").stems
        pairs.append((np.linalg.norm(stems["vocals"]), np.linalg.norm(stems["accompaniment"])))
    if not pairs:
        raise ValueError("tracks is empty: pass the training tracks, e.g. cu.load_musdb('sample', subsets='train').tracks.")
    return np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])


# ---------------------------------------------------------------- data pipeline

def segment_samples(config):
    """Samples in one training segment: (segment_frames - 1) * hop_length, which gives exactly segment_frames frames.

    Used in: 07; `segment_dataset`; scripts/train_unet.py.
    """
    return (config["segment_frames"] - 1) * config["hop_length"]


def check_config(config):
    """Validate an STFT/segment configuration (like SAMPLE_CONFIG) and return it.

    Used in: `as_separator`, `segment_dataset`; scripts/train_unet.py.
    """
    missing = {"sr", "n_fft", "hop_length", "segment_frames", "n_levels"} - set(config)
    if missing:
        raise ValueError(f"config lacks {sorted(missing)}; start from unet.SAMPLE_CONFIG or unet.FULL_CONFIG.")
    if not 0 < config["hop_length"] <= config["n_fft"] // 4:
        raise ValueError(f"hop_length must be in (0, n_fft / 4] for an exact inverse STFT, got {config['hop_length']}.")
    if segment_samples(config) < config["n_fft"]:
        raise ValueError(f"A segment of {config['segment_frames']} frames ({segment_samples(config)} samples) is shorter "
                         f"than one STFT frame (n_fft = {config['n_fft']}): use more segment_frames.")
    return config


def _magnitude_pair(parts, config):
    """Padded (mixture magnitude (F, T, 1), [vocals, accompaniment] magnitudes (F, T, 2)) of one channel's segment."""
    multiple = 2 ** config["n_levels"]
    mags = [np.abs(masks.stft(p, config["n_fft"], config["hop_length"])) for p in parts]
    x, _ = pad_to_multiple(mags[0][..., None].astype(np.float32), multiple)
    y, _ = pad_to_multiple(np.stack(mags[1:], axis=-1).astype(np.float32), multiple)
    return x, y


def chunk_examples(chunk, config):
    """The training examples of one segment read from disk: one (input, target) pair per channel.

    Used in: `segment_dataset` (`training.chunk_dataset` calls it for every chunk it reads); 07.

    Every stem of the chunk is cut at the same offset (or, remixed, the mixture is the sum of the stems read), so
    the mixture is always the mixture of its targets (S4 cut each stem at its own offset).

    Args:
        chunk: dict from `training.read_chunk` of `segment_samples(config)` samples (mixture, vocals,
            accompaniment, ... as (n, channels) arrays).
        config: e.g. SAMPLE_CONFIG.
    Returns:
        (inputs (channels, F, T, 1), targets (channels, F, T, 2)) float32: padded magnitudes of the mixture and of
        the vocals and accompaniment.
    """
    parts = [np.asarray(chunk[name]) for name in ("mixture", *SOURCES)]
    if len({p.shape for p in parts}) != 1 or parts[0].ndim != 2:
        raise ValueError(f"The mixture and stems of a chunk must all be (n, channels) arrays of one shape, got "
                         f"{[p.shape for p in parts]}: give every stem the mixture's layout.")
    pairs = [_magnitude_pair([p[:, c] for p in parts], config) for c in range(parts[0].shape[1])]
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


def example_shapes(config):
    """((F, T, 1), (F, T, 2)): the padded shapes of one training example for `config`.

    Used in: `segment_dataset`.
    """
    shape = padded_shape(config["n_fft"] // 2 + 1, config["segment_frames"], 2 ** config["n_levels"])
    return (*shape, 1), (*shape, 2)


def segment_dataset(tracks, config, batch_size=8, seed=0, remix=False, shuffle_buffer=64, workers=None):
    """Training (or validation) batches of segments read from disk: `training.chunk_dataset` with `chunk_examples`.

    Used in: 07; scripts/train_unet.py.

    Args:
        tracks: musdb tracks (the bundled sample, the rendered training set or MUSDB18), all at config["sr"].
        config: e.g. SAMPLE_CONFIG.
        batch_size: examples (one channel of one segment each) per batch.
        seed: an integer: endless random segments (training); None: every segment of every song once (validation).
        remix: every stem from its own song and offset with a random gain and channel swap (Open-Unmix's
            augmentation, `training.chunk_starts`); training only.
        shuffle_buffer: examples shuffled across chunks; workers: chunks decoded in parallel.
    Returns:
        tf.data.Dataset of (batch, F, T, 1) mixture magnitudes and (batch, F, T, 2) target magnitudes.
    """
    from .training import chunk_dataset

    config = check_config(config)
    for track in tracks:
        masks.check_separator_input(None, int(track.rate), config, f"Training song {track.name!r}")
    return chunk_dataset(tracks, segment_samples(config), lambda chunk: chunk_examples(chunk, config),
                         example_shapes(config), batch_size, seed, shuffle_buffer, workers, remix)


# ---------------------------------------------------------------- masks and the separator

def masks_from_magnitudes(estimates, mixture_magnitude, alpha=0.5):
    """Masks for the mixture STFT from the U-Net's magnitude estimates.

    Used in: 07; `as_separator`.

    A model trained with alpha = 1 learned only the vocals (its accompaniment output got no gradient),
    so vocals mask = min(vocals / |X|, 1) and the accompaniment gets the rest; alpha = 0 the other
    way round; otherwise both outputs are trained and we use the ratio mask vocals / (vocals + acc).
    Either way the two masks add up to 1, so the estimates add up to the mixture.

    Args:
        estimates: {"vocals": ..., "accompaniment": ...} magnitudes shaped like `mixture_magnitude`.
        mixture_magnitude: |X| of the mixture STFT.
        alpha: the loss weight the model was trained with.
    Returns:
        {"vocals": mask, "accompaniment": mask} in [0, 1].
    """
    if alpha in (0, 1):
        mixture_magnitude = np.asarray(mixture_magnitude, dtype=np.float64)
        trained = "vocals" if alpha == 1 else "accompaniment"
        mask = np.clip(np.divide(estimates[trained], mixture_magnitude, out=np.zeros_like(mixture_magnitude),
                                 where=mixture_magnitude > 0), 0.0, 1.0)
        other = "accompaniment" if trained == "vocals" else "vocals"
        return {name: {trained: mask, other: 1.0 - mask}[name] for name in SOURCES}
    return masks.ratio_masks({name: estimates[name] for name in SOURCES})


# the blocks per network call when separating keep one layer's activations (blocks x padded bins x base_filters)
# within those of the sample configuration's 8 blocks: the full-size U-Net gets 1 (with 8 of its blocks per call,
# separating a 3-minute song peaked 1.0 GB higher, at the same speed on a CPU)
PREDICT_ACTIVATIONS = 8 * 528 * 128 * 8


def predict_batch_size(config):
    """Blocks per network call for `as_separator`: 8 for `SAMPLE_CONFIG`, 1 for `FULL_CONFIG` (`PREDICT_ACTIVATIONS`).

    Used in: `as_separator` (07, 10, 11); tests.
    """
    config = check_config(dict(config))
    rows, columns = padded_shape(config["n_fft"] // 2 + 1, config["segment_frames"], 2 ** config["n_levels"])
    return max(1, PREDICT_ACTIVATIONS // (rows * columns * config["base_filters"]))


def as_separator(network, config, alpha, overlap=0.5, batch_size=None, meta=None):
    """A trained U-Net as a `Separator`: `cu.separate(mixture, sr, model)` then separates any song.

    Used in: `load`; 07 (the oracle through the pipeline, overlap 0 vs 0.5), tests.

    The masks function cuts the whole song's magnitude STFT into blocks of `segment_frames` frames with
    `masks.split_blocks` (each block zero-padded to multiples of 2 ** n_levels), predicts every block (one
    channel each), crops and cross-fades the blocks back with `masks.join_blocks`, and turns the two magnitude
    estimates into masks of the mixture with `masks_from_magnitudes` (in float64, a few hundred frames at a time;
    the masks are kept as float32: `masks.frames_by_chunks`). No frame ever moves, so an oracle sent through this
    path reproduces the oracle (S2's misalignment bug cannot happen).

    Args:
        network: a Keras model from `build_from_config(config)`, or any function mapping (batch, F, T, 1)
            padded magnitudes to (batch, F, T, 2) magnitude estimates (a stand-in such as an oracle).
        config: its configuration (sr, n_fft, hop_length, segment_frames, n_levels, ...).
        alpha: the loss weight it was trained with (decides how estimates become masks).
        overlap: share of a block that overlaps the next: 0.5 (default) puts every frame in two blocks and fades
            between them, so no frame is predicted only from a block's edge; 0 is S2's disjoint blocks.
        batch_size: blocks per network call (None: `predict_batch_size(config)`, which bounds the memory).
        meta: the weights file's metadata, kept on the separator.
    Returns:
        `separator.Separator` of kind "unet", sources ("vocals", "accompaniment").
    """
    from .separator import Separator

    config = check_config(dict(config))
    if not isinstance(alpha, (int, float, np.floating)) or not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"alpha must be the loss weight in [0, 1] the network was trained with, got {alpha!r}.")
    batch_size = predict_batch_size(config) if batch_size is None else batch_size
    if not 0 <= overlap < 1 or int(batch_size) < 1:
        raise ValueError(f"Need 0 <= overlap < 1 and batch_size >= 1, got {overlap} and {batch_size}.")
    if hasattr(network, "course_config"):
        expected = padded_shape(config["n_fft"] // 2 + 1, config["segment_frames"], 2 ** config["n_levels"])
        if tuple(network.course_config["input_shape"]) != expected:
            raise ValueError(f"The network takes {tuple(network.course_config['input_shape'])} inputs but the "
                             f"configuration's blocks are {expected}: wrap it with the configuration it was built "
                             f"for (unet.load(path) reads it from the weights file).")

    def unet_masks(magnitude):
        blocks, layout = masks.split_blocks(magnitude, config["segment_frames"], overlap, 2 ** config["n_levels"])
        outputs = masks.predict_blocks(network, blocks, int(batch_size))
        if outputs.ndim != 4 or outputs.shape[:3] != blocks.shape[:3] or outputs.shape[-1] != len(SOURCES):
            raise ValueError(f"The network returned shape {outputs.shape} for blocks {blocks.shape}: it must keep "
                             f"(batch, F, T) and give {len(SOURCES)} magnitude estimates.")
        del blocks

        def chunk_masks(columns):  # joined in float64 a few hundred frames at a time, kept as float32
            estimates = masks.join_blocks(outputs, layout, columns)  # (2, channels, F, frames)
            return masks_from_magnitudes(dict(zip(SOURCES, estimates)), magnitude[..., columns], float(alpha))

        return masks.frames_by_chunks(chunk_masks, SOURCES, magnitude.shape)

    return Separator("unet", config, SOURCES, unet_masks, network, dict(meta or {"alpha": float(alpha)}))


# ---------------------------------------------------------------- weights

def save_weights(model, path, config, alpha, history=None, training=None):
    """Save a U-Net's weights with its configuration (compressed .npz, kind "unet"), checked again by `load`.

    Used in: scripts/train_unet.py.

    Args:
        model: from `build_from_config(config)`.
        path: output file (.npz).
        config: the STFT/segment/network configuration it was trained with.
        alpha: the loss weight it was trained with.
        history: optional per-epoch losses, stored with the weights.
        training: optional dict of training settings (epochs, steps, remix, validation losses, ...).
    """
    save_weights_file(model, path, "unet", {"config": dict(config), "alpha": float(alpha), "model": dict(model.course_config),
                                    "history": list(map(float, history or [])), "training": dict(training or {})})


def load(path, config=None, overlap=0.5):
    """Build the U-Net a weights file was trained for, load the weights, and return it as a `Separator`.

    Used in: `separator.load_separator` (07, 11; benchmarks/separation_speed.py).

    Args:
        path: a .npz written by `save_weights`.
        config: optional configuration the caller expects; any entry that differs from the file's is an error.
        overlap: block overlap of `as_separator`.
    Returns:
        Separator; its `network` is the Keras model, its `meta` the file's metadata (config, alpha, history, training).
    Raises:
        FileNotFoundError, ValueError: no file, a file of another kind of model, or of another configuration.
    """
    meta, arrays = read_weights_file(path, "unet", f"run scripts/train_unet.py, or use the shipped {DEFAULT_WEIGHTS} "
                                                   f"in {weights_dir()}")
    network = build_and_load(path, meta, arrays, build_from_config, config, layers_key="model")
    return as_separator(network, meta["config"], meta["alpha"], overlap, meta=meta)


# ---------------------------------------------------------------- S2's denoiser

def hilbert_denoise(audio, sr, window_seconds=0.2, hop_seconds=0.1, statistic="median", softness=2.0,
                    fade_seconds=0.05):
    """S2's Hilbert-envelope denoiser: mute windows whose neighbours are much quieter than the whole signal.

    Used in: 07 (before/after metrics), 11.

    The amplitude envelope is |hilbert(x)| (averaged over channels). threshold = statistic(envelope) / softness.
    A window is muted when the local statistic of the window before it and of the window after it are both
    below the threshold (S2: then the region between is most likely an artefact in a silent passage).
    Muted spans get `fade_seconds` fades instead of hard cuts. Everything else is left exactly as it was.

    Args:
        audio: (n,) or (n, channels) estimate.
        sr: sample rate in Hz.
        window_seconds, hop_seconds: analysis windows (hop < window: overlapping windows).
        statistic: "median" (robust to outliers, S2's choice) or "mean".
        softness: larger -> lower threshold -> fewer regions muted.
        fade_seconds: length of the fades around muted regions.
    Returns:
        the denoised audio, same shape and dtype float64.
    """
    audio = masks.check_audio(audio)
    if statistic not in ("median", "mean"):
        raise ValueError(f"statistic must be 'median' or 'mean', got {statistic!r}.")
    if softness <= 0 or not 0 < hop_seconds <= window_seconds:
        raise ValueError("Need softness > 0 and 0 < hop_seconds <= window_seconds.")
    stat = np.median if statistic == "median" else np.mean
    envelope = np.abs(hilbert(audio, axis=0))
    envelope = envelope.mean(axis=1) if envelope.ndim == 2 else envelope
    threshold = stat(envelope) / softness
    window, hop = max(1, int(window_seconds * sr)), max(1, int(hop_seconds * sr))
    starts = np.arange(0, max(1, len(audio) - window + 1), hop)
    local = np.array([stat(envelope[s:s + window]) for s in starts])
    quiet = local < threshold
    keep = np.ones(len(audio))
    for i, s in enumerate(starts):
        before = quiet[i - 1] if i > 0 else quiet[i]
        after = quiet[i + 1] if i + 1 < len(starts) else quiet[i]
        if before and after:
            keep[s:s + window] = 0.0
    fade = int(fade_seconds * sr)
    if fade > 1 and not keep.all():
        ramp = np.hanning(fade + 2)[1:-1]
        keep = np.convolve(np.pad(keep, (fade // 2, fade - 1 - fade // 2), mode="edge"), ramp / ramp.sum(), "valid")
        keep = np.where(keep > 1.0 - 1e-9, 1.0, keep)  # exactly 1 away from muted regions
    return audio * (keep[:, None] if audio.ndim == 2 else keep)


def vocal_rest_effects(vocals, estimate, mixture, sr, frame_seconds=0.1, rest_db=-40.0):
    """What a vocals estimate does where BSS Eval cannot look: in the vocal rests, and to the sung frames.

    Used in: 07 (S2's denoiser, section 8 and exercise 3).

    BSS Eval leaves out frames whose reference is silent, so cleaning the rests never changes an SDR. This
    measures them directly, on frames of `frame_seconds` (channels summed): a frame is a rest when the true
    vocals there are more than `rest_db` dB below their loudest frame.

    Args:
        vocals: the true vocals; estimate: a vocals estimate; mixture: the mixture; each (n,) or (n, channels),
            of the same shape.
        sr: sample rate in Hz.
        frame_seconds: frame length; rest_db: a negative level in dB.
    Returns:
        dict: "rest share" (fraction of the frames that are rests), "rest leakage dB" (the estimate's energy in
        the rests relative to the mixture's there: how much accompaniment still sounds when the singer is silent;
        -120 for none at all, NaN without rests) and "sung frames muted" (fraction of the sung frames where the estimate is more than
        40 dB below the true vocals: a real note removed).
    """
    vocals, estimate, mixture = (masks.check_audio(a, what) for a, what in
                                 ((vocals, "vocals"), (estimate, "estimate"), (mixture, "mixture")))
    if not vocals.shape == estimate.shape == mixture.shape:
        raise ValueError(f"vocals, estimate and mixture must have one shape, got {vocals.shape}, {estimate.shape} "
                         f"and {mixture.shape}: pass the same excerpt of the same song.")
    frame = int(round(frame_seconds * sr))
    if sr <= 0 or frame < 1 or rest_db >= 0 or len(vocals) < frame:
        raise ValueError(f"Need sr > 0, a frame of at least one sample within the audio and rest_db < 0; got sr={sr}, "
                         f"frame_seconds={frame_seconds}, rest_db={rest_db}, {len(vocals)} samples.")

    def energy(audio):
        audio = audio.reshape(len(audio), -1)[:len(audio) // frame * frame]
        return (audio ** 2).reshape(-1, frame, audio.shape[1]).sum(axis=(1, 2))

    true, est, mix = energy(vocals), energy(estimate), energy(mixture)
    if not true.any():
        raise ValueError("The true vocals are silent everywhere: there is no singing to tell the rests from.")
    rests = true < true.max() * 10 ** (rest_db / 10)
    sung = ~rests
    leakage = (10 * np.log10(max(est[rests].sum() / mix[rests].sum(), 1e-12)) if rests.any() and mix[rests].any()
               else np.nan)
    return {"rest share": float(rests.mean()), "rest leakage dB": float(leakage),
            "sung frames muted": float(np.mean(est[sung] < true[sung] * 1e-4))}
