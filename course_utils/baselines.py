"""Classic vocal/accompaniment separators: the baselines every learned separator must beat.

Used in: 06_masks_and_evaluation.ipynb, and later 11 (the grand comparison).

Each function takes a stereo mixture (n, 2) and its rate and returns a dict with "vocals" and
"accompaniment" estimates, each (n, 2) and sample-aligned with the mixture. The spectrogram
methods end with `masks.separate_with_masks`, so their two estimates add up to the mixture.
"""
import warnings

import librosa
import numpy as np
from sklearn.decomposition import NMF, FastICA
from sklearn.exceptions import ConvergenceWarning

from . import masks


def _check_stereo(mixture, sr):
    mixture = masks.check_audio(mixture)
    if mixture.ndim != 2 or mixture.shape[1] != 2:
        raise ValueError(f"The baselines expect a stereo mixture shaped (n, 2), got {mixture.shape}.")
    if not np.any(mixture):
        raise ValueError("The mixture is silent (all zeros): nothing to separate.")
    if not (isinstance(sr, (int, np.integer)) and sr > 0):
        raise ValueError(f"sr must be a positive integer sample rate in Hz, got {sr!r}.")
    return mixture


def _check_oracle(oracle, mixture):
    if not isinstance(oracle, dict) or not {"vocals", "accompaniment"} <= set(oracle):
        raise ValueError("oracle must be a dict with the true 'vocals' and 'accompaniment' (n, 2) signals.")
    return masks.check_sources({k: oracle[k] for k in ("vocals", "accompaniment")}, mixture)


def mixture_as_estimate(mixture, sr, n_sources=4, stems=None):
    """SiSEC's lower anchor: every one of the `n_sources` stems is estimated as mixture / n_sources.

    Used in: 06, 08–11.

    BSS Eval v4's SDR penalises a wrong gain, so SiSEC scales the mixture: vocals = mixture / 4,
    accompaniment = 3 * mixture / 4 (three stems).

    Args:
        mixture: (n, 2); sr: sample rate in Hz; n_sources: how many stems the mixture holds.
        stems: optional stem names (e.g. MUSDB's four): then each of them is mixture / len(stems).
    Returns:
        {"vocals": (n, 2), "accompaniment": (n, 2)}, or {stem: (n, 2)} for the given stems.
    """
    mixture = _check_stereo(mixture, sr)
    if stems is not None:
        return {name: mixture / len(stems) for name in stems}
    return {"vocals": mixture / n_sources, "accompaniment": mixture * (n_sources - 1) / n_sources}


def hpss(mixture, sr, vocals_from="harmonic", kernel_size=31, n_fft=masks.N_FFT, hop_length=masks.HOP_LENGTH):
    """Harmonic/percussive separation (median filtering, librosa.decompose.hpss) used as a vocal separator.

    Used in: 06, 11.

    HPSS splits sounds that are steady in time (horizontal lines) from sounds that are short in time
    (vertical lines). A voice is neither, so any mapping is a choice: "harmonic" sends the harmonic
    part to the vocals (drums then land in the accompaniment, with bass and chords in the vocals);
    "percussive" sends the percussive part to the vocals (sung onsets and consonants, with the drums).
    The masks come from the mono magnitude and apply to both channels.

    Args:
        mixture: (n, 2); sr: sample rate in Hz.
        vocals_from: "harmonic" or "percussive": which part is called vocals; the other is the accompaniment.
        kernel_size: median filter length in bins/frames; n_fft, hop_length: STFT parameters.
    Returns:
        {"vocals": (n, 2), "accompaniment": (n, 2)}.
    """
    mixture = _check_stereo(mixture, sr)
    if vocals_from not in ("harmonic", "percussive"):
        raise ValueError(f"vocals_from must be 'harmonic' or 'percussive', got {vocals_from!r}.")
    magnitude = np.abs(masks.stft(mixture.mean(axis=1), n_fft, hop_length))
    harmonic, percussive = librosa.decompose.hpss(magnitude, kernel_size=kernel_size)
    vocals, accompaniment = (harmonic, percussive) if vocals_from == "harmonic" else (percussive, harmonic)
    return masks.separate_with_masks(mixture, {"vocals": vocals, "accompaniment": accompaniment},
                                     alpha=2, n_fft=n_fft, hop_length=hop_length)


def repet_sim(mixture, sr, min_seconds=1.0, n_fft=masks.N_FFT, hop_length=masks.HOP_LENGTH):
    """REPET-SIM (Rafii & Pardo 2012): the accompaniment repeats, the voice does not.

    Used in: 06, 11.

    librosa's vocal-separation recipe: each frame of the (mono) magnitude spectrogram is replaced
    by the median of its most similar frames at least `min_seconds` away (librosa.decompose.nn_filter);
    what survives the median is the repeating accompaniment, the rest is the voice. The soft masks are
    `masks.ratio_masks` with alpha=2, i.e. librosa.util.softmask with power 2 and no margins.

    Args:
        mixture: (n, 2); sr: sample rate in Hz.
        min_seconds: similar frames closer than this are ignored (so a held note is not its own
            neighbour). librosa's gallery uses 2 s on whole songs; a 7-s excerpt has few frames 2 s away.
        n_fft, hop_length: STFT parameters.
    Returns:
        {"vocals": (n, 2), "accompaniment": (n, 2)}.
    """
    mixture = _check_stereo(mixture, sr)
    magnitude = np.abs(masks.stft(mixture.mean(axis=1), n_fft, hop_length))
    width = int(librosa.time_to_frames(min_seconds, sr=sr, hop_length=hop_length))
    if magnitude.shape[1] <= 2 * width:
        raise ValueError(f"The mixture is too short for min_seconds={min_seconds}: need more than "
                         f"{2 * min_seconds:.1f} s of audio.")
    repeating = np.minimum(magnitude, librosa.decompose.nn_filter(magnitude, aggregate=np.median,
                                                                  metric="cosine", width=width))
    return masks.separate_with_masks(mixture, {"vocals": magnitude - repeating, "accompaniment": repeating},
                                     alpha=2, n_fft=n_fft, hop_length=hop_length)


def nmf_oracle_assigned(mixture, sr, oracle, n_components=16, seed=0, max_iter=200, n_fft=masks.N_FFT,
                        hop_length=masks.HOP_LENGTH):
    """NMF of the magnitude spectrogram, each component assigned to vocals or accompaniment *using the truth*.

    Used in: 06, 11.

    NMF (librosa.decompose.decompose with scikit-learn's NMF) explains the magnitude as a sum of
    `n_components` spectral templates times their activations, but does not say which component
    is the voice. Here a component goes to the vocals when a larger share of its energy falls in bins
    where the true vocals dominate (oracle IRM1 > 0.5) than of the whole model's energy (and the most
    vocal component always does). This is an oracle-assisted, optimistic reference for NMF with this many
    components (the assignment is a heuristic, so not a strict bound), not a blind separator.

    Args:
        mixture: (n, 2); sr: sample rate in Hz.
        oracle: dict with the true "vocals" and "accompaniment", (n, 2) each (used only for the assignment).
        n_components: number of NMF components; seed: NMF initialisation seed.
        max_iter: NMF iterations (a fixed budget: scikit-learn's "not converged" warning is silenced).
        n_fft, hop_length: STFT parameters.
    Returns:
        {"vocals": (n, 2), "accompaniment": (n, 2)}.
    """
    mixture = _check_stereo(mixture, sr)
    oracle = _check_oracle(oracle, mixture)
    magnitude = np.abs(masks.stft(mixture.mean(axis=1), n_fft, hop_length))
    model = NMF(n_components=n_components, init="nndsvda", random_state=seed, max_iter=max_iter)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        templates, activations = librosa.decompose.decompose(magnitude, transformer=model, sort=True)
    vocal_bins = masks.ratio_masks({k: np.abs(masks.stft(v.mean(axis=1), n_fft, hop_length))
                                    for k, v in oracle.items()})["vocals"] > 0.5
    # component k's energy is sum(outer(w_k, h_k)) = sum(w_k) * sum(h_k), and inside the vocal bins w_k . V h_k:
    # products of the small factors rather than n_components spectrograms the size of the song's
    in_vocal_bins = np.sum(templates * (vocal_bins.astype(np.float64) @ activations.T), axis=0)
    energy = templates.sum(axis=0) * activations.sum(axis=1)
    share = in_vocal_bins / np.maximum(energy, 1e-12)
    model_share = np.sum(in_vocal_bins) / np.sum(energy)
    is_vocal = share > model_share
    is_vocal[np.argmax(share)] = True
    estimated = {"vocals": templates[:, is_vocal] @ activations[is_vocal],
                 "accompaniment": templates[:, ~is_vocal] @ activations[~is_vocal]}
    return masks.separate_with_masks(mixture, estimated, alpha=2, n_fft=n_fft, hop_length=hop_length)


def ica_stereo(mixture, sr, oracle, seed=0):
    """FastICA with 2 components on the 2 channels; the component closest to the true vocals is "vocals".

    Used in: 06 (why ICA fails on music), 11.

    ICA assumes as many microphones as sources and an instantaneous mix. A stereo song has two
    channels for four or more sources, and every centre-panned source (vocals, bass, often kick and
    snare) reaches both channels with the same gains: no unmixing matrix can tell them apart. Each
    component is returned as its image in the mixture (mixing column times component), so the two
    images add up to the mixture and have the right scale; `oracle` only decides which one is vocals.

    Args:
        mixture: (n, 2); sr: sample rate in Hz.
        oracle: dict with the true "vocals" and "accompaniment", (n, 2) each (used only for the assignment).
        seed: FastICA's random_state.
    Returns:
        {"vocals": (n, 2), "accompaniment": (n, 2)}.
    """
    mixture = _check_stereo(mixture, sr)
    oracle = _check_oracle(oracle, mixture)
    model = FastICA(n_components=2, whiten="unit-variance", random_state=seed, max_iter=1000, tol=1e-5)
    components = model.fit_transform(mixture)
    images = [np.outer(components[:, k], model.mixing_[:, k]) + model.mean_ / 2 for k in range(2)]
    vocals = oracle["vocals"].ravel()
    closeness = [abs(np.corrcoef(image.ravel(), vocals)[0, 1]) for image in images]
    k = int(np.argmax(closeness))
    return {"vocals": images[k], "accompaniment": images[1 - k]}
