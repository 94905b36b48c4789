"""Spectrogram masks: STFT analysis/synthesis, oracle masks and mask-based separation.

Used in: 06_masks_and_evaluation.ipynb, and later 07–10 (U-Net, mask CNN, autoencoder, comparison).

Conventions: time-domain audio is (n,) or (n, channels), as musdb gives it; a complex STFT is
(freq, frames) for mono and (channels, freq, frames) for multichannel audio (librosa's layout).
A mask is a real array that broadcasts against the mixture STFT, so a (freq, frames) mask
applies to every channel. Every separator in the course ends the same way: masks times the
mixture STFT (which keeps the mixture's phase), then an inverse STFT cut to the input length.
"""
import librosa
import numpy as np

N_FFT = 2048      # 93 ms at 22050 Hz: the frequency resolution of Open-Unmix (4096 at 44.1 kHz)
HOP_LENGTH = 512  # 75 % overlap; with a Hann window the inverse STFT reconstructs exactly
ORACLE_MASKS = ("IBM1", "IBM2", "IRM1", "IRM2")  # SiSEC names: binary/ratio mask, exponent 1 or 2


def _check_mixture(mixture):
    """Validate time-domain audio (n,) or (n, channels); return float64."""
    mixture = np.asarray(mixture, dtype=np.float64)
    if mixture.ndim not in (1, 2) or mixture.size == 0:
        raise ValueError(f"Audio must have shape (n,) or (n, channels), got {mixture.shape}.")
    if mixture.ndim == 2 and mixture.shape[0] < mixture.shape[1]:
        raise ValueError(f"Audio of shape {mixture.shape} looks like (channels, n); pass audio.T, shaped (n, channels).")
    if not np.all(np.isfinite(mixture)):
        raise ValueError("Audio contains NaN or infinite values: check the processing that produced it.")
    return mixture


def _check_sources(sources, mixture):
    """Validate a dict of time-domain sources shaped like `mixture`."""
    if not isinstance(sources, dict) or not sources:
        raise ValueError("sources must be a non-empty dict, e.g. {'vocals': (n, 2) array, 'drums': ...}.")
    checked = {}
    for name, audio in sources.items():
        audio = _check_mixture(audio)
        if audio.shape != mixture.shape:
            raise ValueError(f"Source '{name}' has shape {audio.shape} but the mixture has {mixture.shape}: sources "
                             f"must have the mixture's length and channels (same sample rate, same excerpt).")
        checked[name] = audio
    return checked


def check_separator_input(mixture, sr, config, what="The audio"):
    """Validate audio for a trained separator: its rate is config["sr"] and it holds at least one STFT frame.

    Used in: `unet.separate`, `mask_cnn.separate`, `autoencoder.separate` and their training-data readers (07–10).

    Args:
        mixture: (n,) or (n, channels) audio, or None to check only the rate.
        sr: its sample rate in Hz.
        config: the model's configuration, with "sr" and "n_fft".
        what: how the messages name the audio (e.g. "A training song").
    Returns:
        the mixture as float64 (None if None was given).
    """
    if sr != config["sr"]:
        raise ValueError(f"{what} is at {sr} Hz but the model's configuration expects {config['sr']} Hz: resample "
                         f"it first, e.g. librosa.resample(audio, orig_sr={sr}, target_sr={config['sr']}, axis=0), "
                         f"or use a configuration for {sr} Hz.")
    if mixture is None:
        return None
    mixture = _check_mixture(mixture)
    if len(mixture) < config["n_fft"]:
        raise ValueError(f"{what} has {len(mixture)} samples, shorter than one STFT frame (n_fft = {config['n_fft']}): "
                         f"give at least {config['n_fft']} samples ({config['n_fft'] / config['sr']:.3f} s).")
    return mixture


def stft(audio, n_fft=N_FFT, hop_length=HOP_LENGTH):
    """Complex STFT of mono or multichannel audio with librosa (Hann window, centred frames).

    Used in: 06 and every mask-based separator (07–10).

    Args:
        audio: (n,) or (n, channels) samples.
        n_fft: window length in samples (2048 = 93 ms at 22050 Hz).
        hop_length: hop in samples; n_fft // 4 or less keeps the inverse exact.
    Returns:
        complex array (1 + n_fft // 2, frames) for mono, (channels, 1 + n_fft // 2, frames) otherwise.
    """
    audio = _check_mixture(audio)
    if not 0 < hop_length <= n_fft:
        raise ValueError(f"hop_length must be in (0, n_fft={n_fft}], got {hop_length}.")
    return librosa.stft(audio.T, n_fft=n_fft, hop_length=hop_length)


def istft(spec, length, hop_length=HOP_LENGTH):
    """Inverse STFT back to exactly `length` samples, in the course's (n,) / (n, channels) layout.

    Used in: 06 and every mask-based separator (07–10).

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

    Used in: 06 (oracle masks), 07–10 (masks from predicted source magnitudes).

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

    Used in: 06 (the ceiling of every mask-based method), 07–10 (the oracle row of each table).

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
    mixture = _check_mixture(mixture)
    sources = _check_sources(sources, mixture)
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


def apply_masks(mixture, masks, n_fft=N_FFT, hop_length=HOP_LENGTH):
    """Multiply the mixture STFT by each mask (keeping the mixture's phase) and invert to the input length.

    Used in: 06, 07–10: the last step of every mask-based separator.

    Args:
        mixture: (n,) or (n, channels) mixture.
        masks: dict name -> real mask that broadcasts to the mixture STFT
            ((freq, frames) or (channels, freq, frames)).
        n_fft, hop_length: the STFT parameters the masks were made with.
    Returns:
        dict name -> time-domain estimate shaped like `mixture`, sample-aligned with it.
    """
    mixture = _check_mixture(mixture)
    mix_stft = stft(mixture, n_fft, hop_length)
    if not isinstance(masks, dict) or not masks:
        raise ValueError("masks must be a non-empty dict name -> mask array.")
    estimates = {}
    for name, mask in masks.items():
        mask = np.asarray(mask, dtype=np.float64)
        if mask.shape[-2:] != mix_stft.shape[-2:] or mask.ndim > mix_stft.ndim:
            raise ValueError(f"Mask '{name}' has shape {mask.shape} but the mixture STFT is {mix_stft.shape} "
                             f"(channels, freq, frames): use the same n_fft, hop_length and sample rate.")
        estimates[name] = istft(mask * mix_stft, len(mixture), hop_length)
    return estimates


def separate_with_masks(mixture, magnitudes, alpha=1.0, n_fft=N_FFT, hop_length=HOP_LENGTH):
    """Turn estimated source magnitudes into ratio masks and apply them to the mixture.

    Used in: 06 (NMF, REPET-SIM), 07–10 (a network predicts magnitudes; this makes the audio).

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

    Used in: 06, 08–10 (four-stem separators evaluated on vocals/accompaniment).

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


def oracle_separation(mixture, sources, kind="IRM2", n_fft=N_FFT, hop_length=HOP_LENGTH):
    """Separate with an oracle mask; returns every source's estimate plus 'accompaniment' if 'vocals' is a source.

    Used in: 06 (oracle rows of the results table), 07–10 (the ceiling next to each model).

    Args: as `oracle_masks`.
    Returns:
        dict name -> (n, channels) estimate.
    """
    estimates = apply_masks(mixture, oracle_masks(mixture, sources, kind, n_fft, hop_length), n_fft, hop_length)
    return add_accompaniment(estimates) if "vocals" in estimates and len(estimates) > 1 else estimates
