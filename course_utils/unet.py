"""S2's U-Net vocal separator: shapes, network, weighted L1 loss, tf.data segments, reconstruction, denoiser.

Used in: 07_unet_vocal_separator.ipynb, 10 (the grand comparison); scripts/train_unet.py and
benchmarks/unet_speed.py.

The network (Oh et al. 2018, as S2 describes it) sees the magnitude STFT of a fixed-length segment
of one channel, zero-padded so that both axes divide by 2 ** n_levels, and outputs one magnitude
estimate per source. Its last layer is a 1x1 convolution with ReLU (S2; a sigmoid in sample mode)
whose k outputs multiply the input magnitude, so they act as masks and the model's outputs are magnitudes,
on which S2's weighted L1 loss is computed. To make audio we crop the outputs back, turn the
estimated magnitudes into masks of the *mixture* STFT (so the estimates keep the mixture's phase
and add up to the mixture) and invert with `masks.apply_masks`.

Sample-exact reconstruction (S2's misalignment bug): the whole track's STFT is computed once,
cut into blocks of `segment_frames` frames, each block padded, predicted and cropped back, and the
blocks are joined again frame for frame. Nothing ever shifts by a frame, so an oracle mask sent
through the same path reproduces the oracle exactly (tests/test_unet.py checks this).
"""
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.signal import hilbert

from . import masks
from .weights import build_and_load, read_weights_file, save_weights_file, set_checked_weights, weights_dir

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
DEFAULT_WEIGHTS = "unet_sample_alpha_norms.npz"  # the shipped model `separate` uses when given no weights


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

    Used in: 07, 10; scripts/train_unet.py; benchmarks/unet_speed.py.

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


def track_norms(songs):
    """Mean 2-norm of the vocals and of the accompaniment over songs (time domain, all channels).

    Used in: 07; scripts/train_unet.py (to derive alpha with `alpha_from_norms`).

    Args:
        songs: iterable of musdb tracks or dicts with "vocals" and "accompaniment" (n, channels) arrays.
    Returns:
        (vocals_norms, accompaniment_norms): arrays with one 2-norm per song.
    """
    pairs = [(np.linalg.norm(v), np.linalg.norm(a)) for v, a in (_stems(song) for song in songs)]
    return np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])


# ---------------------------------------------------------------- data pipeline

def _stems(song):
    """(vocals, accompaniment) arrays of a musdb track or a dict."""
    if isinstance(song, dict):
        return np.asarray(song["vocals"]), np.asarray(song["accompaniment"])
    return song.targets["vocals"].audio, song.targets["accompaniment"].audio


def _song_length(song):
    if isinstance(song, dict):
        return len(song["mixture"]), int(song["sr"])
    from .training import track_samples

    return track_samples(song), int(song.rate)


def _read_chunk(song, start, length):
    """Mixture, vocals and accompaniment of ONE chunk: every stem from the same sample offset (unlike S4)."""
    if isinstance(song, dict):
        parts = [np.asarray(song[name])[start:start + length] for name in ("mixture", *SOURCES)]
    else:  # a musdb track: only the chunk is read from disk
        from .training import read_chunk

        chunk = read_chunk(song, start, length)
        parts = [chunk[name] for name in ("mixture", *SOURCES)]
    shapes = {p.shape for p in parts}
    if len(shapes) != 1:
        raise ValueError(f"The mixture and stems have different shapes {sorted(shapes)}: a mono stem with a stereo "
                         f"mixture, or stems of different lengths/sample rates. Give every stem the mixture's layout.")
    return parts


def segment_samples(config):
    """Samples in one training segment: (segment_frames - 1) * hop_length, which gives exactly segment_frames frames.

    Used in: 07; `segment_examples`.
    """
    return (config["segment_frames"] - 1) * config["hop_length"]


def check_config(config):
    """Validate an STFT/segment configuration (like SAMPLE_CONFIG) and return it.

    Used in: `segment_examples`, `separate`; scripts/train_unet.py.
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


def segment_examples(songs, config, seed=0, remix=False):
    """Endless generator of training examples: random song, random offset, all stems cut at that offset.

    Used in: 07; `segment_dataset`; scripts/train_unet.py.

    Each example is one channel of one segment: the padded mixture magnitude (freq, time, 1) and the
    padded vocals and accompaniment magnitudes (freq, time, 2). Songs are drawn at random for every
    example, so a batch mixes songs; only one chunk is read at a time (musdb reads chunks from disk).

    Args:
        songs: list of musdb tracks, or dicts with "mixture", "vocals", "accompaniment" ((n, channels)
            arrays) and "sr".
        config: dict with sr, n_fft, hop_length, segment_frames, n_levels (e.g. SAMPLE_CONFIG).
        seed: seed of the song/offset/channel draws.
        remix: data augmentation for small training sets (Uhlich et al. 2017, as in Open-Unmix): the
            vocals and the accompaniment come from two independently drawn songs/offsets, each scaled by
            a random gain in [0.5, 1.5], and the mixture is their sum. Every example stays a valid
            mixture (mixture = vocals + accompaniment), but the network sees new combinations every time.
    Yields:
        (mixture magnitude (F, T, 1), target magnitudes (F, T, 2)) as float32.
    """
    config = check_config(config)
    if not songs:
        raise ValueError("songs is empty: pass the training tracks, e.g. cu.load_musdb('sample', subsets='train').tracks.")
    length = segment_samples(config)
    for song in songs:
        n, sr = _song_length(song)
        masks.check_separator_input(None, sr, config, "A training song")
        if n < length:
            raise ValueError(f"A song has {n} samples, fewer than one segment ({length}); use shorter segments.")
    rng = np.random.default_rng(seed)
    while True:
        song = songs[rng.integers(len(songs))]
        start = int(rng.integers(_song_length(song)[0] - length + 1))
        parts = _read_chunk(song, start, length)
        if remix:
            other = songs[rng.integers(len(songs))]
            accompaniment = _read_chunk(other, int(rng.integers(_song_length(other)[0] - length + 1)), length)[2]
            vocal_gain, accompaniment_gain = rng.uniform(0.5, 1.5, size=2)
            parts = [vocal_gain * parts[1] + accompaniment_gain * accompaniment, vocal_gain * parts[1],
                     accompaniment_gain * accompaniment]
        channel = int(rng.integers(parts[0].shape[1])) if parts[0].ndim == 2 else None
        yield _magnitude_pair([p if channel is None else p[:, channel] for p in parts], config)


def _magnitude_pair(parts, config):
    """Padded (mixture magnitude (F, T, 1), [vocals, accompaniment] magnitudes (F, T, 2)) of one channel's segment."""
    multiple = 2 ** config["n_levels"]
    mags = [np.abs(masks.stft(p, config["n_fft"], config["hop_length"])) for p in parts]
    x, _ = pad_to_multiple(mags[0][..., None].astype(np.float32), multiple)
    y, _ = pad_to_multiple(np.stack(mags[1:], axis=-1).astype(np.float32), multiple)
    return x, y


def chunk_examples(chunk, config):
    """Full-mode training examples of one segment read from disk: one (input, target) pair per channel.

    Used in: scripts/train_unet.py (`training.chunk_dataset` calls it for every chunk it reads).

    Args:
        chunk: dict from `training.read_chunk` of `segment_samples(config)` samples (mixture, vocals,
            accompaniment, ... as (n, channels) arrays).
        config: e.g. FULL_CONFIG.
    Returns:
        (inputs (channels, F, T, 1), targets (channels, F, T, 2)) float32, padded like `segment_examples`' pairs.
    """
    pairs = [_magnitude_pair([chunk[name][:, c] for name in ("mixture", *SOURCES)], config)
             for c in range(chunk["mixture"].shape[1])]
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


def example_shapes(config):
    """((F, T, 1), (F, T, 2)): the padded shapes of one training example for `config`.

    Used in: `segment_dataset`; scripts/train_unet.py.
    """
    shape = padded_shape(config["n_fft"] // 2 + 1, config["segment_frames"], 2 ** config["n_levels"])
    return (*shape, 1), (*shape, 2)


def segment_dataset(songs, config, batch_size=8, seed=0, remix=False):
    """The training examples of `segment_examples` as a batched, prefetched tf.data.Dataset.

    Used in: 07; scripts/train_unet.py.

    Returns:
        tf.data.Dataset of (batch, F, T, 1) inputs and (batch, F, T, 2) targets, endless (use steps_per_epoch).
    """
    import tensorflow as tf

    signature = tuple(tf.TensorSpec(shape, tf.float32) for shape in example_shapes(config))
    dataset = tf.data.Dataset.from_generator(lambda: segment_examples(songs, config, seed, remix), output_signature=signature)
    return dataset.batch(batch_size).prefetch(2)


# ---------------------------------------------------------------- reconstruction

def split_frames(spec, segment_frames, multiple=16):
    """Cut a (..., freq, frames) spectrogram into padded blocks of `segment_frames` frames.

    Used in: 07; `predict_magnitudes`.

    Args:
        spec: (freq, frames) or (channels, freq, frames) real array (a magnitude or a mask).
        segment_frames: frames per block; the last block is zero-padded.
        multiple: pad each block's (freq, time) to multiples of this.
    Returns:
        (batch (n_blocks * channels, F, T, 1), layout) for `join_frames`.
    """
    spec = np.asarray(spec)
    spec3 = spec[None] if spec.ndim == 2 else spec
    channels, freq, frames = spec3.shape
    n_blocks = -(-frames // segment_frames)
    spec3 = np.pad(spec3, [(0, 0), (0, 0), (0, n_blocks * segment_frames - frames)])
    blocks = [pad_to_multiple(spec3[c, :, b * segment_frames:(b + 1) * segment_frames], multiple)[0]
              for b in range(n_blocks) for c in range(channels)]
    layout = {"channels": channels, "freq": freq, "frames": frames, "segment_frames": segment_frames,
              "mono": spec.ndim == 2}
    return np.stack(blocks)[..., None], layout


def join_frames(batch, layout):
    """Inverse of `split_frames`: crop every block back and join the blocks frame for frame.

    Used in: 07; `predict_magnitudes`.

    Args:
        batch: (n_blocks * channels, F, T, k) network outputs (or the padded blocks themselves).
        layout: from `split_frames`.
    Returns:
        array (k, [channels,] freq, frames): one spectrogram per output channel, aligned with the input.
    """
    channels, seg = layout["channels"], layout["segment_frames"]
    cropped = np.stack([crop_to_shape(block, (layout["freq"], seg)) for block in batch])  # (B, F, seg, k)
    cropped = cropped.reshape(-1, channels, layout["freq"], seg, cropped.shape[-1])      # (blocks, C, F, seg, k)
    joined = np.concatenate(list(cropped), axis=2)[:, :, :layout["frames"]]              # (C, F, frames, k)
    joined = np.moveaxis(joined, -1, 0)
    return joined[:, 0] if layout["mono"] else joined


def predict_magnitudes(mixture, predict, config, batch_size=8):
    """Magnitude estimates for a whole mixture: STFT once, blocks, pad, predict, crop, join.

    Used in: 07; `separate`.

    Args:
        mixture: (n,) or (n, channels) audio at config["sr"].
        predict: a Keras model or any function mapping (batch, F, T, 1) padded magnitudes to
            (batch, F, T, k) outputs (tests pass the oracle through here).
        config: STFT/segment configuration.
    Returns:
        (dict source name -> estimate shaped like the mixture STFT magnitude, mixture magnitude).
    """
    magnitude = np.abs(masks.stft(mixture, config["n_fft"], config["hop_length"]))
    batch, layout = split_frames(magnitude, config["segment_frames"], 2 ** config["n_levels"])
    if hasattr(predict, "predict_on_batch"):  # full batches only, so the graph is traced once
        padded = np.pad(batch, [(0, -len(batch) % batch_size), (0, 0), (0, 0), (0, 0)]).astype(np.float32)
        outputs = np.concatenate([np.asarray(predict.predict_on_batch(padded[i:i + batch_size]))
                                  for i in range(0, len(padded), batch_size)])[:len(batch)]
    else:
        outputs = np.asarray(predict(batch))
    if outputs.shape[:3] != batch.shape[:3]:
        raise ValueError(f"predict returned shape {outputs.shape} for input {batch.shape}: it must keep (batch, F, T).")
    estimates = join_frames(outputs.astype(np.float64), layout)
    names = SOURCES if len(estimates) == 2 else tuple(f"source_{i}" for i in range(len(estimates)))
    return dict(zip(names, estimates)), magnitude


def masks_from_magnitudes(estimates, mixture_magnitude, alpha=0.5):
    """Masks for the mixture STFT from the U-Net's magnitude estimates.

    Used in: 07; `separate`.

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
        trained = "vocals" if alpha == 1 else "accompaniment"
        mask = np.clip(np.divide(estimates[trained], mixture_magnitude, out=np.zeros_like(mixture_magnitude),
                                 where=mixture_magnitude > 0), 0.0, 1.0)
        other = "accompaniment" if trained == "vocals" else "vocals"
        return {trained: mask, other: 1.0 - mask}
    return masks.ratio_masks({name: estimates[name] for name in SOURCES})


# ---------------------------------------------------------------- weights

def save_weights(model, path, config, alpha, history=None, training=None):
    """Save a U-Net's weights with its configuration (compressed .npz), checked again by `load_unet`.

    Used in: scripts/train_unet.py.

    Args:
        model: from `build_from_config(config)`.
        path: output file (.npz).
        config: the STFT/segment/network configuration it was trained with.
        alpha: the loss weight it was trained with.
        history: optional per-epoch losses, stored with the weights.
        training: optional dict of training settings (epochs, steps, remix, ...), stored for the record.
    """
    save_weights_file(model, path, "unet", {"config": dict(config), "alpha": float(alpha), "model": dict(model.course_config),
                                    "history": list(map(float, history or [])), "training": dict(training or {})})


def read_weights(path):
    """Read a weights file written by `save_weights`: (metadata dict, list of arrays).

    Used in: 07; `load_unet`.
    """
    return read_weights_file(path, "unet", f"run scripts/train_unet.py, or use the shipped weights in {weights_dir()}")


def load_unet(path, config=None):
    """Build the U-Net a weights file was trained for and load the weights, checking that they match.

    Used in: 07, 10; `separate`; benchmarks/unet_speed.py.

    Args:
        path: a .npz written by `save_weights`.
        config: optional configuration the caller expects; any difference from the file's is an error.
    Returns:
        (model, meta): the Keras model and the file's metadata (config, alpha, history, training).
    Raises:
        ValueError: the file's configuration (or its arrays) does not match the requested model.
    """
    meta, arrays = read_weights(path)
    return build_and_load(path, meta, arrays, build_from_config, config, layers_key="model"), meta


def load_weights_into(model, path):
    """Load a weights file into an existing model, with a clear error if the model's configuration differs.

    Used in: tests; scripts/train_unet.py (resume).
    """
    meta, arrays = read_weights(path)
    if dict(model.course_config) != meta["model"]:
        raise ValueError(f"{path} holds weights for {meta['model']}, but this model is {dict(model.course_config)}. "
                         f"Build the model with the file's configuration (unet.load_unet does that).")
    set_checked_weights(model, arrays, path)
    return meta


# ---------------------------------------------------------------- separation

def separate(path_or_array, sr=None, weights=None, denoise=False, batch_size=8):
    """Separate any file or array into vocals and accompaniment with a trained U-Net.

    Used in: 07, 10.

    Args:
        path_or_array: an audio file (read at the model's rate, channels kept) or an array (n,) / (n, channels).
        sr: the array's sample rate in Hz (required for arrays; must equal the model's rate).
        weights: a .npz from `save_weights`, a (model, meta) pair from `load_unet`, or None for the
            shipped default `DEFAULT_WEIGHTS`.
        denoise: also apply S2's `hilbert_denoise` to both estimates.
    Returns:
        {"vocals": ..., "accompaniment": ...}, each shaped like the input and sample-aligned with it.
    """
    model, meta = weights if isinstance(weights, tuple) else load_unet(weights or weights_dir() / DEFAULT_WEIGHTS)
    config = meta["config"]
    if isinstance(path_or_array, (str, Path)):
        from .audio import load_audio

        mixture, sr = load_audio(path_or_array, sr=config["sr"], mono=False)
        mixture = mixture[:, 0] if mixture.shape[1] == 1 else mixture
    else:
        if sr is None:
            raise ValueError("Give the array's sample rate: separate(audio, sr=...).")
        mixture = path_or_array
    mixture = masks.check_separator_input(mixture, sr, config)
    estimates, magnitude = predict_magnitudes(mixture, model, config, batch_size)
    result = masks.apply_masks(mixture, masks_from_magnitudes(estimates, magnitude, meta["alpha"]),
                               config["n_fft"], config["hop_length"])
    if denoise:
        result = {name: hilbert_denoise(est, config["sr"]) for name, est in result.items()}
    return result


# ---------------------------------------------------------------- S2's denoiser

def hilbert_denoise(audio, sr, window_seconds=0.2, hop_seconds=0.1, statistic="median", softness=2.0,
                    fade_seconds=0.05):
    """S2's Hilbert-envelope denoiser: mute windows whose neighbours are much quieter than the whole signal.

    Used in: 07 (before/after metrics), 10.

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
