"""Spectrogram masks: STFT analysis/synthesis, oracle masks and mask-based separation.

Used in: 06_masks_and_evaluation.ipynb, and later 07–11 (U-Net, mask CNN, autoencoder, comparison).

Conventions: time-domain audio is (n,) or (n, channels), as musdb gives it; a complex STFT is
(freq, frames) for mono and (channels, freq, frames) for multichannel audio (librosa's layout).
A mask is a real array that broadcasts against the mixture STFT, so a (freq, frames) mask
applies to every channel. Every separator in the course ends the same way: masks times the
mixture STFT (which keeps the mixture's phase), then an inverse STFT cut to the input length.
"""
import librosa
import numpy as np

from .audio import check_audio as _check_audio

N_FFT = 2048      # 93 ms at 22050 Hz: the frequency resolution of Open-Unmix (4096 at 44.1 kHz)
HOP_LENGTH = 512  # 75 % overlap; with a Hann window the inverse STFT reconstructs exactly
ORACLE_MASKS = ("IBM1", "IBM2", "IRM1", "IRM2")  # SiSEC names: binary/ratio mask, exponent 1 or 2
# `apply_masks`, `oracle_separation`, `wiener_separation` and `stft_magnitude` work on a long song span by span (24 s
# at 44.1 kHz, hop 1024), so their memory is that of one span whatever the song's length; a shorter signal is one span.
SPAN_FRAMES = 1024
WIENER_FRAMES = 2000  # frames per span of the Wiener filter (46 s at 44.1 kHz, hop 1024): each fits its own covariances


def check_audio(mixture, what="Audio"):
    """`audio.check_audio` for time-domain signals in the course's layout: (n,) or (n, channels), silence allowed.

    Used in: every function here that takes audio, `baselines`, `comparison` and the separators (07–11).

    Returns:
        the audio as float64.
    """
    return _check_audio(mixture, what, ndim=(1, 2), allow_silent=True, channels_last=True)


def check_sources(sources, mixture):
    """Validate a dict of time-domain sources shaped like `mixture` (from `check_audio`); return them as float64.

    Used in: `oracle_masks`, `comparison`, `baselines` and the separators' training-data readers (07–11).
    """
    if not isinstance(sources, dict) or not sources:
        raise ValueError("sources must be a non-empty dict, e.g. {'vocals': (n, 2) array, 'drums': ...}.")
    checked = {}
    for name, audio in sources.items():
        audio = check_audio(audio, f"Source '{name}'")
        if audio.shape != mixture.shape:
            raise ValueError(f"Source '{name}' has shape {audio.shape} but the mixture has {mixture.shape}: sources "
                             f"must have the mixture's length and channels (same sample rate, same excerpt).")
        checked[name] = audio
    return checked


def check_separator_input(mixture, sr, config, what="The audio", allow_silent=False):
    """Validate audio for a trained separator: its rate is config["sr"], it is not silent, it holds one STFT frame.

    Used in: `separator.separate` (every model, 07–11) and the models' training-data readers.

    Args:
        mixture: (n,) or (n, channels) audio, or None to check only the rate.
        sr: its sample rate in Hz.
        config: the model's configuration, with "sr" and "n_fft".
        what: how the messages name the audio (e.g. "A training song").
        allow_silent: accept all-zero audio (training chunks may be silent; a mixture to separate may not).
    Returns:
        the mixture as float64 (None if None was given).
    """
    if sr != config["sr"]:
        raise ValueError(f"{what} is at {sr} Hz but the model's configuration expects {config['sr']} Hz: resample "
                         f"it first, e.g. librosa.resample(audio, orig_sr={sr}, target_sr={config['sr']}, axis=0), "
                         f"or use a configuration for {sr} Hz.")
    if mixture is None:
        return None
    mixture = check_audio(mixture, what)
    if not allow_silent and not np.any(mixture):
        raise ValueError(f"{what} is silent (all zeros): there is nothing to separate; pick another file or excerpt.")
    if len(mixture) < config["n_fft"]:
        raise ValueError(f"{what} has {len(mixture)} samples, shorter than one STFT frame (n_fft = {config['n_fft']}): "
                         f"give at least {config['n_fft']} samples ({config['n_fft'] / config['sr']:.3f} s).")
    return mixture


def stft(audio, n_fft=N_FFT, hop_length=HOP_LENGTH):
    """Complex STFT of mono or multichannel audio with librosa (Hann window, centred frames).

    Used in: 06 and every mask-based separator (07–11).

    Args:
        audio: (n,) or (n, channels) samples.
        n_fft: window length in samples (2048 = 93 ms at 22050 Hz).
        hop_length: hop in samples; n_fft // 4 or less keeps the inverse exact.
    Returns:
        complex array (1 + n_fft // 2, frames) for mono, (channels, 1 + n_fft // 2, frames) otherwise.
    """
    audio = check_audio(audio)
    if not 0 < hop_length <= n_fft:
        raise ValueError(f"hop_length must be in (0, n_fft={n_fft}], got {hop_length}.")
    return librosa.stft(audio.T, n_fft=n_fft, hop_length=hop_length)


def istft(spec, length, hop_length=HOP_LENGTH):
    """Inverse STFT back to exactly `length` samples, in the course's (n,) / (n, channels) layout.

    Used in: 06 and every mask-based separator (07–11).

    Args:
        spec: complex STFT from `stft` (freq, frames) or (channels, freq, frames).
        length: number of samples of the original audio; the output is cut or padded to it, so that
            an estimate lines up sample by sample with its reference (S2's misaligned frames).
        hop_length: the hop used by `stft`.
    Returns:
        real array (length,) or (length, channels).
    """
    spec = np.asarray(spec)
    if spec.ndim not in (2, 3):
        raise ValueError(f"spec must be (freq, frames) or (channels, freq, frames), got shape {spec.shape}.")
    n_fft = 2 * (spec.shape[-2] - 1)
    return librosa.istft(spec, hop_length=hop_length, n_fft=n_fft, length=int(length)).T


def ratio_masks(magnitudes, alpha=1.0):
    """Soft masks |S_j|^alpha / sum_k |S_k|^alpha: alpha=1 is IRM1, alpha=2 the Wiener-like IRM2.

    Used in: 06 (oracle masks), 07–11 (masks from predicted source magnitudes).

    The masks add up to exactly 1 in every bin (bins where every source is zero are shared
    equally), so the estimates add up to the mixture.

    Args:
        magnitudes: dict name -> non-negative array, all of the same shape (e.g. (channels, freq, frames)).
        alpha: exponent applied to the magnitudes before taking the ratio.
    Returns:
        dict name -> mask in [0, 1], same shape as the magnitudes.
    """
    powers = _check_magnitudes(magnitudes)
    return _shares_in_place({name: mag**alpha for name, mag in powers.items()})


def _shares_in_place(powers):
    """Divide each array of `powers` by their sum, in place (bins where all are zero: shared equally)."""
    total = sum(powers.values())
    audible = total > 0
    share = 1.0 / len(powers)
    for power in powers.values():
        np.divide(power, total, out=power, where=audible)
        power[~audible] = share
    return powers


def binary_masks(magnitudes, mixture_magnitude, alpha=1.0, theta=0.5):
    """SiSEC's ideal binary mask: 1 where |S_j|^alpha / |X|^alpha >= theta, else 0 (IBM1: alpha=1).

    Used in: 06 (oracle masks, the threshold widget), 08 (binary-mask CNN targets, S3's B = S > T*M).

    With theta=0.5 at most one source owns a bin; bins no source dominates belong to none.

    Args:
        magnitudes: dict name -> |S_j|, arrays shaped like `mixture_magnitude`.
        mixture_magnitude: |X|, the mixture's STFT magnitude.
        alpha: exponent of the magnitudes; theta: threshold on the ratio.
    Returns:
        dict name -> float mask of 0s and 1s.
    """
    mags = _check_magnitudes(magnitudes)
    mix_power = np.asarray(mixture_magnitude, dtype=np.float64) ** alpha
    if any(m.shape != mix_power.shape for m in mags.values()):
        raise ValueError(f"Source magnitudes must have the mixture magnitude's shape {mix_power.shape}.")
    masks = {}
    for name, mag in mags.items():
        ratio = np.divide(mag**alpha, mix_power, out=np.zeros_like(mix_power), where=mix_power > 0)
        masks[name] = (ratio >= theta).astype(np.float64)
    return masks


def _check_magnitudes(magnitudes):
    if not isinstance(magnitudes, dict) or not magnitudes:
        raise ValueError("magnitudes must be a non-empty dict name -> magnitude array.")
    mags = {name: np.asarray(m, dtype=np.float64) for name, m in magnitudes.items()}
    shapes = {m.shape for m in mags.values()}
    if len(shapes) != 1:
        raise ValueError(f"All magnitudes must have the same shape, got {sorted(shapes)}.")
    if any(np.any(m < 0) or not np.all(np.isfinite(m)) for m in mags.values()):
        raise ValueError("Magnitudes must be finite and non-negative (take np.abs of the STFT).")
    return mags


def oracle_masks(mixture, sources, kind="IRM2", n_fft=N_FFT, hop_length=HOP_LENGTH):
    """Oracle masks from the true sources, as SiSEC computes them (each channel on its own).

    Used in: 06 (the reference beside every mask-based method), 07–11 (the oracle row of each table).

    Args:
        mixture: (n, channels) mixture, the exact sum of `sources`.
        sources: dict name -> (n, channels) true source, e.g. the four MUSDB stems.
        kind: "IBM1"/"IBM2" (binary, ratio to the mixture >= 0.5) or "IRM1"/"IRM2" (ratio masks).
        n_fft, hop_length: STFT parameters.
    Returns:
        dict name -> mask (channels, freq, frames) for mixture (n, channels).
    """
    if kind not in ORACLE_MASKS:
        raise ValueError(f"kind must be one of {ORACLE_MASKS}, got {kind!r}.")
    mixture = check_audio(mixture)
    sources = check_sources(sources, mixture)
    alpha = float(kind[-1])
    # one spectrogram at a time (IBM) and masks made in place (IRM): less memory for a full-length song
    if kind.startswith("IBM"):
        mix_magnitude = np.abs(stft(mixture, n_fft, hop_length))
        return {name: binary_masks({name: np.abs(stft(s, n_fft, hop_length))}, mix_magnitude, alpha=alpha)[name]
                for name, s in sources.items()}
    powers = {name: np.abs(stft(s, n_fft, hop_length)) for name, s in sources.items()}
    for power in powers.values():
        power **= alpha  # numpy's in-place power: the same values as mag**alpha in `ratio_masks`
    return _shares_in_place(powers)


def apply_masks(mixture, masks, n_fft=N_FFT, hop_length=HOP_LENGTH, span_frames=SPAN_FRAMES):
    """Multiply the mixture STFT by each mask (keeping the mixture's phase) and invert to the input length.

    Used in: 06, 07–11: the last step of every mask-based separator.

    A signal longer than `span_frames` frames is done span by span (`_by_spans`), with the same samples as in one go.

    Args:
        mixture: (n,) or (n, channels) mixture.
        masks: dict name -> real mask that broadcasts to the mixture STFT
            ((freq, frames) or (channels, freq, frames)).
        n_fft, hop_length: the STFT parameters the masks were made with.
        span_frames: frames per span (None: the whole signal at once).
    Returns:
        dict name -> time-domain estimate shaped like `mixture`, sample-aligned with it.
    """
    mixture = check_audio(mixture)
    masks = _check_masks(masks, mixture, n_fft, hop_length)

    def apply(part, first_frame):
        mix_stft = stft(mixture[part], n_fft, hop_length)
        columns = slice(first_frame, first_frame + mix_stft.shape[-1])
        return {name: istft(np.asarray(mask[..., columns], dtype=np.float64) * mix_stft, part.stop - part.start,
                            hop_length) for name, mask in masks.items()}

    return _by_spans(apply, mixture, list(masks), n_fft, hop_length, span_frames)


def _by_spans(separate, mixture, names, n_fft, hop_length, span_frames):
    """Run separate(part, first_frame) -> {name: estimate of mixture[part]} span by span and join the estimates.

    Each span is widened by whole hops covering one window at both ends, so that every frame touching a kept
    sample sees the same samples as in the STFT of the whole signal: the kept samples are bit for bit those of
    one call on the whole signal (librosa's centred frames start every hop_length samples from 0). part is a
    slice of the mixture that starts on a hop; first_frame is the whole signal's frame where it starts.
    """
    _check_span_frames(span_frames)
    n = len(mixture)
    if span_frames is None or n <= span_frames * hop_length:
        return separate(slice(0, n), 0)
    step = int(span_frames) * hop_length
    estimates = {name: np.empty_like(mixture) for name in names}
    for start in range(0, n, step):
        stop = min(n, start + step)
        part = _widened(start, stop, n, n_fft, hop_length)
        for name, estimate in separate(part, part.start // hop_length).items():
            estimates[name][start:stop] = estimate[start - part.start:stop - part.start]
    return estimates


def _check_span_frames(span_frames):
    if span_frames is not None and not (isinstance(span_frames, (int, np.integer)) and span_frames >= 1):
        raise ValueError(f"span_frames must be a positive number of frames (or None: the whole signal at once), "
                         f"got {span_frames!r}.")


def _widened(start, stop, n, n_fft, hop_length):
    """Samples start..stop-1 of n, widened at each end by whole hops covering one window (the frames of its edges):
    every frame touching a kept sample sees the same samples as in the whole signal's STFT."""
    margin = -(-n_fft // hop_length) * hop_length
    return slice(max(0, start - margin), min(n, stop + margin))


def _frame_count(n, n_fft, hop_length):
    """Frames of librosa's centred STFT of n samples."""
    return 1 + (n + 2 * (n_fft // 2) - n_fft) // hop_length


def _check_masks(masks, mixture, n_fft, hop_length):
    """{name: mask as an array}, each broadcasting to the STFT of `mixture` (from `check_audio`), or an error."""
    if not isinstance(masks, dict) or not masks:
        raise ValueError("masks must be a non-empty dict name -> mask array.")
    stft_shape = (*mixture.shape[1:], 1 + n_fft // 2, _frame_count(len(mixture), n_fft, hop_length))
    masks = {name: np.asarray(mask) for name, mask in masks.items()}
    for name, mask in masks.items():
        if mask.shape[-2:] != stft_shape[-2:] or mask.ndim > len(stft_shape):
            raise ValueError(f"Mask '{name}' has shape {mask.shape} but the mixture STFT is {stft_shape} "
                             f"(channels, freq, frames): use the same n_fft, hop_length and sample rate.")
    return masks


def _stft_columns(audio, first, stop, n_fft, hop_length):
    """Frames first..stop-1 of `stft(audio)` (checked audio), computed from the samples they see: bit for bit the
    columns of the whole signal's STFT (the part starts on a hop and is widened as in `_by_spans`)."""
    part = _widened(first * hop_length, stop * hop_length, len(audio), n_fft, hop_length)
    offset = part.start // hop_length
    return stft(audio[part], n_fft, hop_length)[..., first - offset:stop - offset]


def stft_magnitude(audio, n_fft=N_FFT, hop_length=HOP_LENGTH, span_frames=SPAN_FRAMES):
    """|stft(audio)| as float32, computed span by span: what a separator's network reads, without the whole song's
    complex STFT in memory (the values of np.abs(stft(audio)).astype(np.float32)).

    Used in: `separator.separate` and `separator.predict_masks` (every separator, 07–11).

    Args:
        audio: (n,) or (n, channels) samples.
        n_fft, hop_length: STFT parameters.
        span_frames: frames per span (None: the whole signal at once).
    Returns:
        float32 array (1 + n_fft // 2, frames) for mono, (channels, 1 + n_fft // 2, frames) otherwise.
    """
    audio = check_audio(audio)
    _check_span_frames(span_frames)
    frames = _frame_count(len(audio), n_fft, hop_length)
    magnitude = np.empty((*audio.shape[1:], 1 + n_fft // 2, frames), np.float32)
    step = frames if span_frames is None else int(span_frames)
    for first in range(0, frames, step):
        stop = min(frames, first + step)
        magnitude[..., first:stop] = np.abs(_stft_columns(audio, first, stop, n_fft, hop_length))
    return magnitude


def frames_by_chunks(make, names, shape, dtype=np.float32, chunk_frames=256):
    """{name: array of `shape` (..., frames)} filled chunk by chunk of frames: make(columns) gives every name's
    values for the frames of the slice `columns`; only one chunk's temporaries are ever in memory.

    Used in: the U-Net's, the autoencoder's and Open-Unmix's masks (`unet.as_separator`,
    `autoencoder.as_separator`, `open_unmix.as_separator`; 07, 09, 10, 11).
    """
    arrays = {name: np.empty(shape, dtype) for name in names}
    for first in range(0, shape[-1], chunk_frames):
        columns = slice(first, min(shape[-1], first + chunk_frames))
        for name, values in make(columns).items():
            arrays[name][..., columns] = values
    return arrays


def separate_with_masks(mixture, magnitudes, alpha=1.0, n_fft=N_FFT, hop_length=HOP_LENGTH):
    """Turn estimated source magnitudes into ratio masks and apply them to the mixture.

    Used in: 06 (NMF, REPET-SIM), 07–11 (a network predicts magnitudes; this makes the audio).

    Args:
        mixture: (n,) or (n, channels) mixture.
        magnitudes: dict name -> estimated |S_j|, shaped like (or broadcasting to) the mixture STFT.
        alpha: ratio-mask exponent (1: magnitude ratio, 2: Wiener-like power ratio).
        n_fft, hop_length: STFT parameters of the magnitudes.
    Returns:
        dict name -> time-domain estimate shaped like `mixture`; the estimates add up to the mixture.
    """
    return apply_masks(mixture, ratio_masks(magnitudes, alpha), n_fft, hop_length)


def add_accompaniment(estimates, target="vocals"):
    """Add an 'accompaniment' estimate = the sum of every estimate except `target` (as SiSEC does).

    Used in: 06, 08–11 (four-stem separators evaluated on vocals/accompaniment).

    Args:
        estimates: dict name -> (n, channels) estimate, including `target`.
    Returns:
        a new dict with the same estimates plus 'accompaniment' (kept as is if already there).
    """
    if target not in estimates or len(estimates) < 2:
        raise ValueError(f"estimates must hold '{target}' and at least one other source, got {list(estimates)}.")
    if "accompaniment" in estimates:
        return dict(estimates)
    return {**estimates, "accompaniment": sum(est for name, est in estimates.items() if name != target)}


def oracle_separation(mixture, sources, kind="IRM2", n_fft=N_FFT, hop_length=HOP_LENGTH, span_frames=SPAN_FRAMES):
    """Separate with an oracle mask; returns every source's estimate plus 'accompaniment' if 'vocals' is a source.

    Used in: 06 (oracle rows of the results table), 07–11 (the ceiling next to each model).

    A long song is separated span by span (masks made for each span), with the same samples as in one go.

    Args: as `oracle_masks`; span_frames: as `apply_masks`.
    Returns:
        dict name -> (n, channels) estimate.
    """
    mixture = check_audio(mixture)
    sources = check_sources(sources, mixture)

    def separate(part, first_frame):  # `oracle_masks` checks kind on the first span
        spans = {name: source[part] for name, source in sources.items()}
        return apply_masks(mixture[part], oracle_masks(mixture[part], spans, kind, n_fft, hop_length), n_fft,
                           hop_length, span_frames=None)

    estimates = _by_spans(separate, mixture, list(sources), n_fft, hop_length, span_frames)
    return add_accompaniment(estimates) if "vocals" in estimates and len(estimates) > 1 else estimates


# ---------------------------------------------------------------- blocks and the Wiener filter (07–11)

def split_blocks(spec, block_frames, overlap=0.5, multiple=1):
    """Cut a (..., freq, frames) spectrogram into overlapping blocks of `block_frames` frames for a network.

    Used in: `unet` and `autoencoder` (07, 09, 11): every block-wise separator.

    With overlap 0.5 the blocks start every block_frames / 2 frames and the spectrogram is padded with silence
    at both ends by the same amount, so every frame of the song lies in two blocks, and `join_blocks` fades
    between them: no frame is estimated only from the edge of a block, where the network sees no context.
    With overlap 0 the blocks are disjoint (S2's reconstruction).

    Args:
        spec: (freq, frames) or (channels, freq, frames) real array (a magnitude or a mask).
        block_frames: frames per block.
        overlap: the share of a block that overlaps the next, in [0, 1).
        multiple: zero-pad each block's (freq, frames) to multiples of this (a U-Net's 2 ** levels).
    Returns:
        (blocks (n_blocks * channels, F, T, 1) float32, layout) for `join_blocks`.
    """
    spec = np.asarray(spec)
    if spec.ndim not in (2, 3) or 0 in spec.shape:
        raise ValueError(f"spec must be a non-empty (freq, frames) or (channels, freq, frames) array, got {spec.shape}.")
    if not 0 <= overlap < 1 or int(block_frames) < 1 or int(multiple) < 1:
        raise ValueError(f"Need block_frames >= 1, multiple >= 1 and 0 <= overlap < 1; got {block_frames}, "
                         f"{multiple}, {overlap}.")
    spec3 = spec[None] if spec.ndim == 2 else spec
    channels, freq, frames = spec3.shape
    hop = max(1, block_frames - int(round(block_frames * overlap)))
    lead = block_frames - hop
    n_blocks = max(1, -(-(2 * lead + frames - block_frames) // hop) + 1)  # silence after the end too
    total = (n_blocks - 1) * hop + block_frames
    padded_freq, padded_frames = -(-freq // multiple) * multiple, -(-block_frames // multiple) * multiple
    padded = np.zeros((channels, padded_freq, total - block_frames + padded_frames), np.float32)
    padded[:, :freq, lead:lead + frames] = spec3
    blocks = np.stack([padded[c, :, b * hop:b * hop + padded_frames] for b in range(n_blocks) for c in range(channels)])
    layout = {"channels": channels, "freq": freq, "frames": frames, "block_frames": block_frames, "hop": hop,
              "lead": lead, "n_blocks": n_blocks, "mono": spec.ndim == 2}
    return blocks[..., None], layout


def predict_blocks(network, blocks, batch_size):
    """The network's outputs for every block: full batches of `batch_size` for a Keras model (its graph is traced
    once; the last batch padded with silent blocks), written into one array in the network's dtype; the whole array
    at once for any other function (a stand-in such as an oracle).

    Used in: `unet.as_separator` and `autoencoder.as_separator` (07, 09, 10, 11).
    """
    if not hasattr(network, "predict_on_batch"):
        return np.asarray(network(blocks))
    outputs = None
    for i in range(0, len(blocks), batch_size):
        batch = blocks[i:i + batch_size]
        if len(batch) < batch_size:
            batch = np.pad(batch, [(0, batch_size - len(batch)), (0, 0), (0, 0), (0, 0)])
        predicted = np.asarray(network.predict_on_batch(batch))[:len(blocks) - i]
        if outputs is None:
            outputs = np.empty((len(blocks), *predicted.shape[1:]), predicted.dtype)
        outputs[i:i + len(predicted)] = predicted
    return outputs


def join_blocks(outputs, layout, frames=None):
    """Inverse of `split_blocks`: crop each block's padding and cross-fade overlapping blocks frame by frame.

    Used in: `unet`, `autoencoder` and `open_unmix` (07, 09, 10, 11).

    Each block's frames are weighted by a Hann-shaped fade (a flat one without overlap), and each frame is the
    weighted mean of the blocks that hold it. A long song can be joined piece by piece (`frames`): the values are
    those of the whole join, and only that piece is built.

    Args:
        outputs: (n_blocks * channels, F, T, k) network outputs for the blocks (or the blocks themselves), or a list
            of n_blocks arrays (channels, F, T, k), one per block.
        layout: from `split_blocks`.
        frames: a slice of the spectrogram's frames to return (None: all of them).
    Returns:
        float64 array (k, [channels,] freq, frames): one spectrogram per output channel, aligned with the input.
    """
    channels, freq, block, hop = layout["channels"], layout["freq"], layout["block_frames"], layout["hop"]
    n_blocks = layout["n_blocks"]
    if isinstance(outputs, (list, tuple)):
        per_block = [np.asarray(values) for values in outputs]
        shapes = {values.shape[:1] + values.shape[3:] for values in per_block}
        fits = (len(per_block) == n_blocks and all(v.ndim == 4 for v in per_block) and len(shapes) == 1
                and all(v.shape[0] == channels and v.shape[1] >= freq and v.shape[2] >= block for v in per_block))
        shape = f"{len(per_block)} blocks of {sorted({v.shape for v in per_block})}"
    else:
        outputs = np.asarray(outputs)
        fits = (outputs.ndim == 4 and len(outputs) == n_blocks * channels and outputs.shape[1] >= freq
                and outputs.shape[2] >= block)
        per_block = [outputs[b * channels:(b + 1) * channels] for b in range(n_blocks)] if fits else []
        shape = f"shape {outputs.shape}"
    if not fits:
        raise ValueError(f"outputs of {shape} do not fit the layout ({n_blocks} blocks x {channels} channels, at least "
                         f"{freq} x {block}): give the network's outputs for exactly the blocks of split_blocks.")
    first, stop, _ = (slice(None) if frames is None else frames).indices(layout["frames"])
    lo, hi = layout["lead"] + first, layout["lead"] + max(first, stop)  # positions in the padded spectrogram
    fade = np.hanning(block + 2)[1:-1] if hop < block else np.ones(block)
    summed = np.zeros((per_block[0].shape[-1], channels, freq, hi - lo))
    weight = np.zeros(hi - lo)
    for b in range(max(0, (lo - block) // hop + 1), min(n_blocks, -(-hi // hop))):  # the blocks holding lo..hi-1
        a, z = max(lo, b * hop), min(hi, b * hop + block)
        values = per_block[b][:, :freq, a - b * hop:z - b * hop]  # (channels, freq, z - a, k)
        summed[..., a - lo:z - lo] += np.moveaxis(values, -1, 0) * fade[a - b * hop:z - b * hop]
        weight[a - lo:z - lo] += fade[a - b * hop:z - b * hop]
    joined = summed / weight
    return joined[:, 0] if layout["mono"] else joined


def wiener_filter(mix_stft, magnitudes, iterations=1, max_frames=WIENER_FRAMES):
    """Multichannel Wiener filter (norbert, as Open-Unmix uses it): complex source STFTs from magnitude estimates.

    Used in: tests (the filter on a whole STFT); `separator.separate` uses `wiener_separation`, the same filter from
    the audio, span by span (07–11).

    Starting from the estimates with the mixture's phase, each EM iteration fits every source a spatial
    covariance (where it sits between the channels) and a power spectrogram, and re-splits the mixture STFT
    in proportion to them. The source STFTs add up to the mixture STFT. Long songs are filtered in spans of
    `max_frames` frames (each span fits its own covariances), which bounds the filter's own memory.

    Args:
        mix_stft: complex (freq, frames) or (channels, freq, frames) mixture STFT.
        magnitudes: dict source -> non-negative magnitude estimate of the same shape.
        iterations: EM iterations (0: the magnitudes with the mixture's phase, a ratio mask).
        max_frames: frames per span.
    Returns:
        dict source -> complex128 STFT shaped like `mix_stft`.
    """
    mix_stft = np.asarray(mix_stft)
    names = list(magnitudes)
    if not names or any(np.shape(magnitudes[n]) != mix_stft.shape for n in names):
        raise ValueError(f"Give one magnitude per source shaped like the mixture STFT {mix_stft.shape}; got "
                         f"{ {n: np.shape(m) for n, m in magnitudes.items()} }.")
    _check_iterations(iterations)
    x = mix_stft[None] if mix_stft.ndim == 2 else mix_stft  # (C, F, T)
    filtered = {name: np.empty(x.shape, np.complex128) for name in names}
    for first in range(0, x.shape[-1], max_frames):
        columns = slice(first, first + max_frames)
        y = _wiener_span(np.array(x[..., columns], np.complex128),
                         (np.asarray(np.reshape(magnitudes[n], x.shape)[..., columns], np.float64) for n in names),
                         len(names), iterations)
        for j, name in enumerate(names):
            filtered[name][..., columns] = np.transpose(y[..., j], (2, 1, 0))
    return {name: spec.reshape(mix_stft.shape) for name, spec in filtered.items()}


def wiener_separation(mixture, masks, iterations=1, n_fft=N_FFT, hop_length=HOP_LENGTH, max_frames=WIENER_FRAMES,
                      span_frames=SPAN_FRAMES):
    """Masks times |X| through `wiener_filter`, back to audio: the same samples as `istft` of `wiener_filter` on the
    whole mixture STFT, with the memory of a few spans (no whole-song STFT is ever built).

    Used in: `separator.separate(..., wiener_iterations=1 or more)` (07–11).

    The filter runs on the same spans of `max_frames` frames as `wiener_filter`, each from its own STFT columns
    (`_stft_columns`); the audio is made span by span (`_by_spans`), and a filtered span is dropped once no later
    audio span needs its frames.

    Args:
        mixture: (n,) or (n, channels) mixture.
        masks: dict name -> real mask that broadcasts to the mixture STFT (as `apply_masks`); mask x |X| is each
            source's magnitude estimate.
        iterations: EM iterations (1 or more; 0 is `apply_masks`).
        n_fft, hop_length: the STFT parameters the masks were made with.
        max_frames: frames per Wiener span (as `wiener_filter`).
        span_frames: frames per audio span (as `apply_masks`).
    Returns:
        dict name -> time-domain estimate shaped like `mixture`, sample-aligned with it.
    """
    mixture = check_audio(mixture)
    masks = _check_masks(masks, mixture, n_fft, hop_length)
    _check_iterations(iterations)
    names, filtered = list(masks), {}  # Wiener span index -> (T, F, C, sources) complex STFTs

    def wiener_span(index):
        columns = slice(index * max_frames, (index + 1) * max_frames)
        x = _stft_columns(mixture, columns.start, columns.start + max_frames, n_fft, hop_length)
        x = np.ascontiguousarray(x[None] if x.ndim == 2 else x)  # (C, F, T) complex128
        magnitude = np.abs(x)
        return _wiener_span(x, (np.asarray(masks[n][..., columns], np.float64) * magnitude for n in names), len(names),
                            iterations)

    def separate(part, first_frame):
        stop = first_frame + _frame_count(part.stop - part.start, n_fft, hop_length)
        for index in [i for i in filtered if (i + 1) * max_frames <= first_frame]:
            del filtered[index]  # no later part reaches back before first_frame
        pieces = []
        for index in range(first_frame // max_frames, (stop - 1) // max_frames + 1):
            if index not in filtered:
                filtered[index] = wiener_span(index)
            offset = index * max_frames
            pieces.append(filtered[index][max(first_frame, offset) - offset:stop - offset])
        shape = (*mixture.shape[1:], pieces[0].shape[1], stop - first_frame)  # pieces: (frames, F, C, sources)
        return {name: istft(np.transpose(np.concatenate([piece[..., j] for piece in pieces]), (2, 1, 0)).reshape(shape),
                            part.stop - part.start, hop_length) for j, name in enumerate(names)}

    return _by_spans(separate, mixture, names, n_fft, hop_length, span_frames)


def _check_iterations(iterations):
    if int(iterations) < 0:
        raise ValueError(f"iterations must be 0 or more, got {iterations}.")


def _wiener_span(x, magnitudes, sources, iterations):
    """norbert.wiener(v, x, iterations, use_softmask=False) on one span, the same values with fewer copies.

    x: (C, F, T) complex128 mixture STFT (scaled in place); magnitudes: an iterable of `sources` (C, F, T) float64
    estimates, each used once (a generator holds one at a time). Returns the source STFTs (T, F, C, sources),
    norbert's layout.
    """
    import norbert

    x = np.transpose(x, (2, 1, 0))  # norbert: (T, F, C[, J])
    phase = np.exp(1j * np.angle(x))
    y = np.empty((*x.shape[::-1], sources), np.complex128).transpose(2, 1, 0, 3)
    for j, magnitude in enumerate(magnitudes):
        y[..., j] = np.transpose(magnitude, (2, 1, 0)) * phase  # the start: the magnitudes with the mixture's phase
    del phase, magnitudes
    if not iterations:
        return y
    max_abs = max(1, np.abs(x).max() / 10.)  # norbert scales down for numerical stability, in place here
    x /= max_abs
    y /= max_abs
    norbert.expectation_maximization(y, x, int(iterations))  # updates y in place
    y *= max_abs
    return y
