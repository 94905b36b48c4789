"""Audio features for speaker classification: spectrograms, the mel scale, MFCCs and S0's "voiceprints".

Used in: 02_features_spectrograms_mfcc.ipynb (every function), 03–05 (`feature_table`).

Everything spectral is computed by librosa; this module only chooses parameters, cuts clips into
segments, turns spectrograms into fixed-size images and caches the feature tables.
"""
import hashlib
import json
import os
import sys
from pathlib import Path

import librosa
import numpy as np
import pandas as pd
import scipy.ndimage

from .audio import check_audio
from .datasets import SPEAKER_SR, load_speaker_file
from .runtime import cache_dir

N_MFCC = 20            # S0: 20 MFCCs per file
IMAGE_SIZE = 64        # S0: spectrogram images resized to 64x64
TOP_DB = 80.0          # dynamic range kept in the images
FEATURE_KINDS = ("mfcc_mean", "mfcc_mean_std", "voiceprint", "mel_image")


def hz_to_mel(freq_hz):
    """The mel scale as S0 writes it: mel = 2595 * log10(1 + f / 700) (the HTK formula).

    Used in: 02 (plotted and compared with ``librosa.hz_to_mel(f, htk=True)``).

    Args:
        freq_hz: frequency or array of frequencies in Hz (>= 0).
    Returns:
        float array of mels, same shape as `freq_hz`.
    """
    freq_hz = np.asarray(freq_hz, dtype=np.float64)
    if np.any(freq_hz < 0):
        raise ValueError("Frequencies must be >= 0 Hz.")
    return 2595.0 * np.log10(1.0 + freq_hz / 700.0)


def stft_db(audio, n_fft=1024, hop_length=256, center=True):
    """Magnitude STFT in dB (0 dB = the loudest bin), computed with librosa.

    Used in: 02 (window/hop trade-off), `voiceprint_image`.

    Args:
        audio: mono signal, shape (n,).
        n_fft: window length in samples (frequency resolution sr / n_fft Hz).
        hop_length: hop between frames in samples (time resolution hop_length / sr s).
        center: pad the signal so frames are centred on their time stamps (librosa's default).
    Returns:
        array (1 + n_fft // 2, n_frames) of dB values in [-TOP_DB, 0].
    """
    audio = check_audio(audio)
    if n_fft > audio.size:
        raise ValueError(f"n_fft={n_fft} is longer than the signal ({audio.size} samples): use a shorter window.")
    magnitude = np.abs(librosa.stft(audio, n_fft=n_fft, hop_length=hop_length, center=center))
    return librosa.amplitude_to_db(magnitude, ref=np.max, top_db=TOP_DB)


def mel_spectrogram_db(audio, sr, n_fft=1024, hop_length=256, n_mels=64):
    """Mel-scaled power spectrogram in dB (0 dB = the loudest bin), computed with librosa.

    Used in: 02, `mel_image`.

    Args:
        audio: mono signal, shape (n,); sr: its rate in Hz.
        n_fft, hop_length: STFT window and hop in samples.
        n_mels: number of mel bands.
    Returns:
        array (n_mels, n_frames) of dB values in [-TOP_DB, 0].
    """
    audio = check_audio(audio)
    power = librosa.feature.melspectrogram(y=audio, sr=sr, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels)
    return librosa.power_to_db(power, ref=np.max, top_db=TOP_DB)


def mfcc(audio, sr, n_mfcc=N_MFCC):
    """MFCCs with librosa's defaults (2048-sample window, hop 512, 128 mel bands), as S0 used them.

    Used in: 02, `mfcc_summary`.

    Returns:
        array (n_mfcc, n_frames).
    """
    return librosa.feature.mfcc(y=check_audio(audio), sr=sr, n_mfcc=n_mfcc)


def mfcc_summary(audio, sr, n_mfcc=N_MFCC, with_std=False):
    """S0's feature vector: the mean of each MFCC over time (optionally followed by the standard deviations).

    Used in: 02, 03, 05 (through `feature_table`).

    Args:
        audio: mono signal (a file or a segment), shape (n,); sr: its rate in Hz.
        n_mfcc: number of coefficients (S0: 20).
        with_std: append each coefficient's standard deviation over time (2 * n_mfcc values; an
            improvement on S0, not S0's recipe).
    Returns:
        float array (n_mfcc,) or (2 * n_mfcc,).
    """
    coefficients = mfcc(audio, sr, n_mfcc)
    parts = [coefficients.mean(axis=1)] + ([coefficients.std(axis=1)] if with_std else [])
    return np.concatenate(parts)


def segment(audio, sr, seconds=1.0, hop_seconds=None):
    """Cut a clip into fixed-length segments; the incomplete tail is dropped.

    Used in: 02–05 (more examples per recording than one feature vector per file).

    Args:
        audio: mono signal, shape (n,); sr: its rate in Hz.
        seconds: segment length in seconds.
        hop_seconds: start-to-start distance in seconds (default `seconds`: no overlap).
    Returns:
        array (n_segments, round(seconds * sr)); segment k starts at sample k * round(hop_seconds * sr).
    Raises:
        ValueError: non-positive lengths, or a clip shorter than one segment.
    """
    audio = check_audio(audio)
    hop_seconds = seconds if hop_seconds is None else hop_seconds
    if seconds <= 0 or hop_seconds <= 0:
        raise ValueError(f"seconds and hop_seconds must be > 0, got {seconds} and {hop_seconds}.")
    length, hop = int(round(seconds * sr)), int(round(hop_seconds * sr))
    if audio.size < length:
        raise ValueError(f"The clip lasts {audio.size / sr:.2f} s, shorter than one {seconds}-s segment: "
                         f"use shorter segments.")
    return librosa.util.frame(audio, frame_length=length, hop_length=hop, axis=0).copy()


def steadiest_voiced(audio, sr, fmin=80.0, fmax=400.0, tolerance=0.03, hop_length=160, top_db=25.0):
    """The longest stretch of a recording whose pitch holds still: a sustained vowel, found with librosa.yin.

    Used in: 02 (the window-length trade-off needs a stationary sound to show harmonics).

    A frame counts as voiced when its RMS is within `top_db` of the loudest frame and yin's f0 lies inside
    (fmin, fmax); a stretch continues while f0 changes by less than 1 % from frame to frame and stays within
    `tolerance` of its first frame.

    Args:
        audio: mono signal, shape (n,); sr: its rate in Hz.
        fmin, fmax: pitch search range in Hz.
        tolerance: largest relative pitch change over the stretch (0.03: 3 %, about half a semitone).
        hop_length: frame hop in samples (yin's frame is 1024 samples).
        top_db: voiced frames are at most this many dB below the loudest frame.
    Returns:
        (start, seconds, f0): start and length of the stretch in seconds, and its median f0 in Hz
        ((0.0, 0.0, nan) when nothing is voiced).
    """
    audio = check_audio(audio)
    f0 = librosa.yin(audio, fmin=fmin, fmax=fmax, sr=sr, frame_length=1024, hop_length=hop_length)
    rms = librosa.feature.rms(y=audio, frame_length=1024, hop_length=hop_length)[0]
    voiced = (rms > rms.max() * 10 ** (-top_db / 20)) & (f0 > fmin * 1.05) & (f0 < fmax * 0.95)
    best, start = (0, 0, float("nan")), 0
    while start < len(f0):
        if not voiced[start]:
            start += 1
            continue
        stop = start + 1
        while (stop < len(f0) and voiced[stop] and abs(f0[stop] / f0[stop - 1] - 1) < 0.01
               and abs(f0[stop] / f0[start] - 1) < tolerance):
            stop += 1
        if stop - start > best[0]:
            best = (stop - start, start, float(np.median(f0[start:stop])))
        start = stop
    return best[1] * hop_length / sr, best[0] * hop_length / sr, best[2]


def resize_image(image, size=IMAGE_SIZE):
    """Resize a 2-D array to (size, size): box-filter then interpolate (scipy.ndimage), so shrinking does not alias.

    Used in: `voiceprint_image`, `mel_image`.
    """
    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 2:
        raise ValueError(f"Expected a 2-D image, got shape {image.shape}.")
    shrink = [max(1, int(round(n / size))) for n in image.shape]
    smoothed = scipy.ndimage.uniform_filter(image, size=shrink, mode="nearest")
    zoom = [size / n for n in image.shape]
    return scipy.ndimage.zoom(smoothed, zoom, order=1, mode="nearest", grid_mode=True)


def _to_unit_image(spec_db, size):
    """dB spectrogram in [-TOP_DB, 0] -> (size, size) float32 image in [0, 1], low frequencies at row 0."""
    return np.clip((resize_image(spec_db, size) + TOP_DB) / TOP_DB, 0.0, 1.0).astype(np.float32)


def voiceprint_image(audio, sr, window_seconds=0.5, hop_fraction=0.125, size=IMAGE_SIZE):
    """S0's "voiceprint": a dB spectrogram with a very long window, resized to a size x size image.

    Used in: 02, 04, 05 (through `feature_table`).

    S0 used NFFT = 51200 samples (about 2.3 s at 22.05 kHz) on 60-s files; on shorter segments the
    window must be shorter than the segment. A long window averages over several syllables, so each
    column shows the speaker's average spectrum (pitch harmonics, formants, tilt) rather than one sound.

    Args:
        audio: mono signal, shape (n,); sr: its rate in Hz.
        window_seconds: STFT window (n_fft = window_seconds * sr samples, no centring).
        hop_fraction: hop as a fraction of the window.
        size: output image side in pixels (S0: 64).
    Returns:
        float32 array (size, size) in [0, 1]; rows are frequency 0..sr/2 (row 0 = 0 Hz), columns time.
    """
    n_fft = int(round(window_seconds * sr))
    hop_length = max(1, int(round(hop_fraction * n_fft)))
    return _to_unit_image(stft_db(audio, n_fft=n_fft, hop_length=hop_length, center=False), size)


def mel_image(audio, sr, n_fft=1024, hop_length=256, size=IMAGE_SIZE):
    """The alternative S0 proposes as future work: a mel spectrogram (size mel bands) resized to size x size.

    Used in: 02, 04.

    Returns:
        float32 array (size, size) in [0, 1]; rows are mel bands (row 0 = lowest), columns time.
    """
    return _to_unit_image(mel_spectrogram_db(audio, sr, n_fft=n_fft, hop_length=hop_length, n_mels=size), size)


def _features_of(audio, sr, kind, n_mfcc):
    if kind == "mfcc_mean":
        return mfcc_summary(audio, sr, n_mfcc)
    if kind == "mfcc_mean_std":
        return mfcc_summary(audio, sr, n_mfcc, with_std=True)
    if kind == "voiceprint":
        return voiceprint_image(audio, sr)
    return mel_image(audio, sr)


def segment_features(audio, sr, kind="mfcc_mean", segment_seconds=1.0, hop_seconds=None, n_mfcc=N_MFCC):
    """Features of every segment of one signal (a recording, or an ICA component).

    Used in: 05 (features of separated components); `feature_table` (every file).

    Args:
        audio: mono signal, shape (n,); sr: its rate in Hz.
        kind: one of FEATURE_KINDS (see `feature_table`).
        segment_seconds: segment length in seconds; None = one feature vector for the whole signal.
        hop_seconds: distance between segment starts (default: no overlap).
        n_mfcc: number of MFCCs for the MFCC kinds.
    Returns:
        float32 array (n_segments, width) for the MFCC kinds, (n_segments, 64, 64) for the images.
    """
    if kind not in FEATURE_KINDS:
        raise ValueError(f"kind must be one of {FEATURE_KINDS}, got {kind!r}.")
    pieces = [check_audio(audio)] if segment_seconds is None else segment(audio, sr, segment_seconds, hop_seconds)
    return np.stack([_features_of(piece, sr, kind, n_mfcc) for piece in pieces]).astype(np.float32)


def _cache_key(files, params):
    listing = [(str(p), Path(p).stat().st_size) for p in files["path"]]
    text = json.dumps({"params": params, "files": listing}, sort_keys=True)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def feature_table(files, kind="mfcc_mean", segment_seconds=1.0, hop_seconds=None, sr=SPEAKER_SR,
                  n_mfcc=N_MFCC, use_cache=True):
    """Features for every segment of every file, cached on disk (git-ignored ``.cache/features``).

    Used in: 02–05.

    Args:
        files: DataFrame with ``speaker``, ``file`` and ``path`` columns (`datasets.list_speaker_files`;
            extra columns such as ``split`` are carried over).
        kind: "mfcc_mean" (S0: n_mfcc means), "mfcc_mean_std" (means and standard deviations),
            "voiceprint" (`voiceprint_image`) or "mel_image" (`mel_image`).
        segment_seconds: segment length in seconds; None = one feature vector per whole file (S0).
        hop_seconds: distance between segment starts (default: no overlap).
        sr: rate the files are loaded at, in Hz.
        n_mfcc: number of MFCCs for the MFCC kinds.
        use_cache: read/write the cache (keyed by the parameters and the list of files).
    Returns:
        (table, features): table is a DataFrame with one row per segment (the columns of `files`
        plus ``segment``, its index within the file), features an array (n_rows, width) for the MFCC
        kinds or (n_rows, 64, 64) for the images. Row i of `table` describes `features[i]`.
    """
    # tqdm's text bar, not its notebook widget: a widget's saved state stays frozen at the value it had when the
    # notebook was saved (0 % in an executed copy), while the text bar's last line reads 100 % once it has finished;
    # `delay` leaves out the 0 % line that a static view would show above it.
    from tqdm.std import tqdm

    if kind not in FEATURE_KINDS:
        raise ValueError(f"kind must be one of {FEATURE_KINDS}, got {kind!r}.")
    missing = {"speaker", "file", "path"} - set(files.columns)
    if missing:
        raise ValueError(f"files lacks the column(s) {sorted(missing)}: build it with list_speaker_files().")
    params = dict(kind=kind, segment_seconds=segment_seconds, hop_seconds=hop_seconds, sr=sr, n_mfcc=n_mfcc)
    cache_file = cache_dir("features") / f"{kind}_{_cache_key(files, params)}.npz"
    if use_cache and cache_file.is_file():
        with np.load(cache_file) as cached:
            rows, features = cached["rows"], cached["features"]
    else:
        rows, features = [], []
        for row_index, path in enumerate(tqdm(files["path"], desc=f"{kind} features", unit="file", file=sys.stderr,
                                                 mininterval=1.0, delay=0.5)):
            per_segment = segment_features(load_speaker_file(path, sr=sr), sr, kind, segment_seconds, hop_seconds, n_mfcc)
            rows += [(row_index, k) for k in range(len(per_segment))]
            features.append(per_segment)
        rows, features = np.array(rows), np.concatenate(features)
        if use_cache:  # write to a temporary name, then rename: a parallel reader never sees half a file
            partial = cache_file.with_name(f"{cache_file.stem}.{os.getpid()}.partial.npz")
            np.savez(partial, rows=rows, features=features)
            os.replace(partial, cache_file)
    table = files.iloc[rows[:, 0]].reset_index(drop=True)
    table["segment"] = rows[:, 1]
    return table, features


def mfcc_dataframe(table, features):
    """S0's Figure 1: one row per file/segment, columns Feature_1..Feature_N, then the speaker label.

    Used in: 02, 03.
    """
    names = [f"Feature_{i + 1}" for i in range(features.shape[1])]
    frame = pd.DataFrame(features, columns=names)
    frame["Speaker"] = table["speaker"].to_numpy()
    return frame
