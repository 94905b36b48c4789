"""Automatic checks for the exercises at the end of each notebook, one section per notebook.

Each check recomputes the right answer from the same inputs the student used, prints a line starting with
"✓" when the answer is right, and raises AssertionError with what is off (and a hint) when it is not.
Usage in a notebook: ``from course_utils import exercises`` then ``exercises.check_peak_and_rms(...)``.
"""
import numpy as np
import pandas as pd

from . import masks
from .classifiers import cnn_shape_table
from .comparison import paired_differences, per_track, speed_table
from .datasets import MUSDB_TARGETS
from .evaluation import sisec_medians
from .features import hz_to_mel
from .ica import match_estimates


def _passed(text):
    print(f"✓ {text}")


def _rms_db(audio):
    return 20 * np.log10(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))


# 00 · Course map and audio basics ---------------------------------------------------------------------------

def check_peak_and_rms(peak_dbfs, rms_dbfs, clip):
    """Check the peak and RMS levels of a clip in dB relative to full scale (dBFS).

    Used in: 00_course_map_and_audio_basics.ipynb, exercise 1.

    Args:
        peak_dbfs, rms_dbfs: the student's levels in dB (floats, <= 0 for audio in [-1, 1]).
        clip: the mono signal they were measured on, values in [-1, 1].
    """
    clip = np.asarray(clip, dtype=np.float64)
    expected = {"peak": 20 * np.log10(np.max(np.abs(clip))), "RMS": _rms_db(clip)}
    for name, answer in (("peak", peak_dbfs), ("RMS", rms_dbfs)):
        if np.isclose(answer, expected[name], atol=0.05):
            continue
        hint = ""
        if np.isclose(answer, expected[name] / 2, atol=0.05):
            hint = " It is half the right value: amplitudes take 20·log10, powers 10·log10."
        elif name == "RMS" and np.isclose(answer, expected["peak"], atol=0.05):
            hint = " That is the peak level: RMS is the square root of the mean of the squared samples."
        raise AssertionError(f"Your {name} level is {answer:.2f} dBFS but the clip's {name} level is "
                             f"{expected[name]:.2f} dBFS.{hint}")
    _passed(f"peak {expected['peak']:.1f} dBFS, RMS {expected['RMS']:.1f} dBFS: the crest factor is "
            f"{expected['peak'] - expected['RMS']:.1f} dB.")


def check_stem_levels(stem_levels, loudest, track):
    """Check the RMS level in dBFS of every stem of a MUSDB18 track, and which stem is loudest.

    Used in: 00_course_map_and_audio_basics.ipynb, exercise 2.

    Args:
        stem_levels: dict {stem name: RMS level in dBFS over both channels}.
        loudest: name of the loudest stem.
        track: the musdb track (``track.targets[name].audio``, shape (n_samples, 2)).
    """
    missing = set(MUSDB_TARGETS) - set(stem_levels)
    assert not missing, f"stem_levels needs one entry per stem {list(MUSDB_TARGETS)}; missing {sorted(missing)}."
    expected = {name: _rms_db(track.targets[name].audio) for name in MUSDB_TARGETS}
    for name, level in expected.items():
        assert np.isclose(stem_levels[name], level, atol=0.05), (
            f"{name}: you have {stem_levels[name]:.2f} dBFS but its RMS level over both channels is {level:.2f} dBFS "
            f"(20·log10 of the square root of the mean of all squared samples).")
    right = max(expected, key=expected.get)
    assert loudest == right, (f"loudest is {loudest!r}, but {right!r} has the highest RMS level "
                              f"({expected[right]:.1f} dBFS).")
    _passed(f"{right} is the loudest stem at {expected[right]:.1f} dBFS.")


# 01 · The cocktail party -------------------------------------------------------------------------------------

def check_unmixing_matrix(W, A):
    """Check that W undoes the mixing A exactly: W @ A is the identity.

    Used in: 01_cocktail_party_ica.ipynb, exercise 1.

    Args:
        W: the student's unmixing matrix, shape (n_speakers, n_mics).
        A: the mixing matrix, shape (n_mics, n_speakers).
    """
    W, A = np.asarray(W, dtype=np.float64), np.asarray(A, dtype=np.float64)
    assert W.shape == A.T.shape, f"W has shape {W.shape}; it must map {A.shape[0]} microphones to {A.shape[1]} speakers, shape {A.T.shape}."
    product = W @ A
    error = np.max(np.abs(product - np.eye(len(product))))
    hint = " W is A's transpose, not its inverse: use np.linalg.inv(A)." if np.allclose(W, A.T) else ""
    assert error < 1e-6, f"W @ A should be the identity matrix but differs from it by up to {error:.3g}.{hint}"
    _passed("W @ A is the identity: with A known, unmixing is exact (the oracle of this notebook).")


def check_component_for_speaker(component_for_speaker, estimates, sources):
    """Check which ICA component estimates each speaker (the largest |correlation|, one component per speaker).

    Used in: 01_cocktail_party_ica.ipynb, exercise 2.

    Args:
        component_for_speaker: integer array (n_speakers,): the component index chosen for each speaker.
        estimates: ICA components, shape (n_components, n_samples); sources: shape (n_speakers, n_samples).
    """
    answer = np.asarray(component_for_speaker).ravel()
    matching = match_estimates(estimates, sources)
    expected = np.empty(len(sources), dtype=int)
    expected[matching.source_index] = matching.permutation
    assert answer.shape == expected.shape, (f"Give one component index per speaker: {len(expected)} numbers, "
                                            f"got {answer.size}.")
    wrong = np.flatnonzero(answer != expected)
    assert not wrong.size, (
        f"Speakers {wrong.tolist()} get the wrong component (you: {answer[wrong].tolist()}, expected "
        f"{expected[wrong].tolist()}). Rows of |corr| are components, columns speakers: for each column take the row "
        f"with the largest value (argmax over axis 0).")
    _passed(f"component for each speaker: {expected.tolist()}; the order ICA returns is arbitrary.")


# 02 · Features: spectrograms and MFCCs --------------------------------------------------------------------

def check_mel_to_hz(mel_to_hz):
    """Check a student's inverse of the HTK mel formula on 0–8000 Hz.

    Used in: 02_features_spectrograms_mfcc.ipynb, exercise 1.

    Args:
        mel_to_hz: a function from mels (float or array) to Hz.
    """
    assert callable(mel_to_hz), "Pass the function itself (mel_to_hz), not its result."
    freqs = np.linspace(0, 8000, 81)
    back = np.asarray(mel_to_hz(hz_to_mel(freqs)), dtype=np.float64)
    assert back.shape == freqs.shape, f"mel_to_hz must work on arrays: got shape {back.shape} for {freqs.shape} inputs."
    bad = np.flatnonzero(~np.isclose(back, freqs, rtol=1e-6, atol=1e-6))
    assert not bad.size, (f"mel_to_hz(hz_to_mel({freqs[bad[0]]:.0f} Hz)) = {back[bad[0]]:.2f} Hz, not {freqs[bad[0]]:.0f}. "
                          f"Invert mel = 2595·log10(1 + f/700) step by step: divide, raise 10 to the power, "
                          f"subtract 1, multiply.")
    _passed(f"mel_to_hz inverts the mel scale: 1000 mel = {float(mel_to_hz(1000.0)):.1f} Hz.")


def check_stft_window(n_fft, hop_length, spec, audio, sr, milliseconds=64, overlap=0.75):
    """Check an STFT with a window of `milliseconds` and `overlap` between frames, and its shape.

    Used in: 02_features_spectrograms_mfcc.ipynb, exercise 2.

    Args:
        n_fft, hop_length: the student's window and hop in samples.
        spec: their spectrogram of `audio` (``features.stft_db``, centred frames), shape (freq, time).
        audio: the mono signal; sr: its sample rate in Hz.
        milliseconds, overlap: what the exercise asks for.
    """
    want_fft = int(round(milliseconds / 1000 * sr))
    want_hop = int(round(want_fft * (1 - overlap)))
    assert n_fft == want_fft, (f"Your window is {n_fft} samples but the exercise asks for {milliseconds} ms at "
                               f"{sr} Hz = {want_fft} samples.")
    assert hop_length == want_hop, (f"Your hop is {hop_length} samples; {overlap:.0%} overlap of a {want_fft}-sample "
                                    f"window leaves a hop of {want_hop} samples.")
    shape = (want_fft // 2 + 1, 1 + len(audio) // want_hop)
    assert np.shape(spec) == shape, (f"Your spectrogram has shape {np.shape(spec)}; with n_fft={want_fft} and "
                                     f"hop_length={want_hop} it should be {shape} (n_fft/2 + 1 frequencies, "
                                     f"1 + len/hop centred frames).")
    _passed(f"{want_fft}-sample window, hop {want_hop}: {shape[0]} bins of {sr / want_fft:.1f} Hz, "
            f"a frame every {1000 * want_hop / sr:.0f} ms.")


# 03 · ANN speaker classifier ---------------------------------------------------------------------------------

def check_ann_parameters(n_params, n_features, n_classes, hidden_units=40):
    """Check the number of trainable parameters of S0's ANN (two hidden Dense layers) counted by hand.

    Used in: 03_ann_speaker_classifier.ipynb, exercise 1.

    Args:
        n_params: the student's count.
        n_features, n_classes, hidden_units: the network's sizes (S0: 20 features, 8 speakers, 40 units).
    """
    sizes = (n_features, hidden_units, hidden_units, n_classes)
    weights = sum(a * b for a, b in zip(sizes, sizes[1:]))
    expected = weights + sum(sizes[1:])
    hint = " You counted the weights but not the biases (one per unit)." if n_params == weights else ""
    assert n_params == expected, (f"You have {n_params} parameters; {n_features} → {hidden_units} → {hidden_units} → "
                                  f"{n_classes} dense layers have {expected}: (inputs + 1) × units per layer.{hint}")
    _passed(f"{expected} parameters (dropout adds none).")


def check_majority_vote(vote_predictions, probabilities, file_ids):
    """Check recording-level predictions made by a majority vote of segment predictions.

    Used in: 03_ann_speaker_classifier.ipynb, exercise 2.

    Args:
        vote_predictions: integer array (n_files,), one predicted class per recording, recordings in sorted id
            order (as `classifiers.file_level`); ties go to the lowest class index.
        probabilities: segment probabilities (n_segments, n_classes); file_ids: (n_segments,) recording of each.
    """
    frame = pd.DataFrame({"file": np.asarray(file_ids), "vote": np.asarray(probabilities).argmax(axis=1)})
    grouped = frame.groupby("file", sort=True)["vote"]
    expected = grouped.agg(lambda votes: np.bincount(votes).argmax()).to_numpy()
    answer = np.asarray(vote_predictions).ravel()
    assert answer.shape == expected.shape, (f"Give one prediction per recording: {len(expected)} recordings, "
                                            f"got {answer.size} numbers.")
    averaged = pd.DataFrame(np.asarray(probabilities)).groupby(frame["file"], sort=True).mean().to_numpy().argmax(axis=1)
    wrong = np.flatnonzero(answer != expected)
    hint = (" These are the predictions of averaged probabilities; the exercise asks for a vote of the segments' "
            "argmax." if np.array_equal(answer, averaged) else
            " Vote with np.bincount(segment_predictions).argmax() per recording, recordings sorted by id.")
    assert not wrong.size, f"{len(wrong)} of {len(expected)} recordings differ from the majority vote.{hint}"
    _passed(f"majority vote over {len(expected)} recordings; it differs from averaging on "
            f"{int(np.sum(expected != averaged))} of them.")


# 04 · CNN speaker classifier ---------------------------------------------------------------------------------

def check_smallest_input(size, padding="valid"):
    """Check the smallest square image (size x size) on which S0's CNN can be built.

    Used in: 04_cnn_speaker_classifier.ipynb, exercise 1.

    Args:
        size: the student's answer in pixels.
        padding: "valid" (as S0 describes the network) or "same".
    """
    def fits(n):
        return bool(cnn_shape_table((n, n), padding=padding)["ok"].all())

    assert fits(size), f"S0's CNN cannot be built on {size}x{size}:\n{cnn_shape_table((size, size), padding=padding)}"
    assert size == 1 or not fits(size - 1), (f"{size}x{size} works, but so does {size - 1}x{size - 1}: look for the "
                                             f"smallest size (try sizes upwards until the table's ok column is all True).")
    _passed(f"{size}x{size} is the smallest square input with {padding!r} padding; S0's 64x64 is too small.")


def check_conv_parameters(n_params, kernel, in_channels, filters):
    """Check the number of parameters of one Conv2D layer counted by hand.

    Used in: 04_cnn_speaker_classifier.ipynb, exercise 2; 09_cnn_autoencoder.ipynb, exercise 2.

    Args:
        n_params: the student's count.
        kernel: (height, width) of the kernel; in_channels: channels of its input; filters: output channels.
    """
    weights = kernel[0] * kernel[1] * in_channels * filters
    expected = weights + filters
    if n_params == weights:
        hint = " You forgot the biases: one per filter."
    elif n_params == (kernel[0] * kernel[1] + 1) * filters:
        hint = f" Each filter spans all {in_channels} input channels: multiply the kernel size by them."
    else:
        hint = " Each filter has height × width × input channels weights and one bias."
    assert n_params == expected, f"You have {n_params}; the layer has {expected} parameters.{hint}"
    _passed(f"{expected} parameters: {kernel[0]}×{kernel[1]}×{in_channels} weights + 1 bias, times {filters} filters.")


# 05 · Separate, then identify -------------------------------------------------------------------------------

def check_noise_at_snr(noisy, clean, snr_db):
    """Check that `noisy` is `clean` plus noise at `snr_db` dB signal-to-noise ratio (±0.3 dB).

    Used in: 05_separate_then_identify.ipynb, exercise 1.

    Args:
        noisy, clean: arrays of the same shape (one signal, or one per row).
        snr_db: the ratio the exercise asks for, in dB.
    """
    noisy, clean = np.asarray(noisy, dtype=np.float64), np.asarray(clean, dtype=np.float64)
    assert noisy.shape == clean.shape, f"noisy has shape {noisy.shape} but the clean signal {clean.shape}."
    noise = noisy - clean
    assert np.any(noise), "noisy equals the clean signal: add the noise."
    measured = 10 * np.log10(np.sum(clean**2, axis=-1) / np.sum(noise**2, axis=-1))
    worst = float(np.atleast_1d(measured)[np.argmax(np.abs(np.atleast_1d(measured) - snr_db))])
    hint = (" Off by a factor of 2 in dB: the noise *power* is signal power / 10**(SNR/10), so its standard "
            "deviation is the square root of that." if np.isclose(worst, 2 * snr_db, atol=0.5) or
            np.isclose(worst, snr_db / 2, atol=0.5) else "")
    assert abs(worst - snr_db) <= 0.3, f"Your noise gives an SNR of {worst:.2f} dB, not {snr_db} dB.{hint}"
    _passed(f"SNR {worst:.2f} dB (target {snr_db} dB).")


def check_unknown_rule(labels, probabilities, speakers, threshold):
    """Check labels from the rule "the most probable speaker, or 'unknown' below `threshold`".

    Used in: 05_separate_then_identify.ipynb, exercise 2.

    Args:
        labels: the student's list, one speaker name or "unknown" per signal.
        probabilities: (n_signals, n_speakers) mean speaker probabilities; speakers: names in column order.
        threshold: the smallest top probability that still names a speaker.
    """
    probabilities = np.asarray(probabilities)
    expected = [speakers[k] if p >= threshold else "unknown"
                for k, p in zip(probabilities.argmax(axis=1), probabilities.max(axis=1))]
    labels = list(labels)
    assert len(labels) == len(expected), f"Give one label per signal: {len(expected)} signals, got {len(labels)} labels."
    wrong = [i for i, (a, b) in enumerate(zip(labels, expected)) if a != b]
    assert not wrong, (f"Signal {wrong[0]}: you say {labels[wrong[0]]!r}, the rule says {expected[wrong[0]]!r} (top "
                       f"probability {probabilities[wrong[0]].max():.2f}, threshold {threshold}); "
                       f"{len(wrong)} label(s) differ.")
    _passed(f"{expected.count('unknown')} of {len(expected)} signals are 'unknown' at threshold {threshold}.")


# 06 · Masks and evaluation ----------------------------------------------------------------------------------

def check_best_binary_threshold(best_theta, thetas, mixture, reference, magnitudes, mixture_magnitude, n_fft,
                                hop_length, target="vocals"):
    """Check the threshold theta of the binary mask that gives the best SNR for `target` among `thetas`.

    Used in: 06_masks_and_evaluation.ipynb, exercise 1.

    Args:
        best_theta: the student's answer, one of `thetas`.
        thetas: the thresholds tried.
        mixture, reference: time-domain mixture and true target, (n,) or (n, channels).
        magnitudes: dict source -> |STFT| of each true source; mixture_magnitude: |STFT| of the mixture.
        n_fft, hop_length: the STFT used for the masks.
    """
    def snr(theta):
        mask = masks.binary_masks(magnitudes, mixture_magnitude, alpha=1, theta=theta)[target]
        estimate = masks.apply_masks(mixture, {target: mask}, n_fft, hop_length)[target]
        return 10 * np.log10(np.sum(reference**2) / np.sum((reference - estimate) ** 2))

    scores = {float(theta): snr(theta) for theta in thetas}
    best = max(scores, key=scores.get)
    assert best_theta is not None and float(best_theta) in scores, (
        f"best_theta must be one of the thresholds you tried ({sorted(scores)}), got {best_theta!r}.")
    assert scores[float(best_theta)] >= scores[best] - 1e-9, (
        f"theta = {best_theta} gives {scores[float(best_theta)]:.2f} dB, but theta = {best} gives "
        f"{scores[best]:.2f} dB. Take the theta with the *highest* SNR (np.argmax over your list).")
    _passed(f"theta = {best:g} is best: {scores[best]:.2f} dB (theta = 0.5: "
            f"{scores.get(0.5, snr(0.5)):.2f} dB).")


def check_sisec_median(value, frames, method, target="vocals"):
    """Check a SiSEC aggregate computed by hand: median over a track's kept frames, then over tracks.

    Used in: 06_masks_and_evaluation.ipynb, exercise 2.

    Args:
        value: the student's number in dB.
        frames: the frame-wise BSS Eval table (`bss_eval_frames` rows with method, track, excluded).
        method, target: which row of the results table.
    """
    rows = frames[(frames["method"] == method) & (frames["target"] == target)]
    assert len(rows), f"No frames for method {method!r} and target {target!r}: check the spelling."
    expected = float(sisec_medians(rows)["SDR"].iloc[0])
    assert value is not None and np.isfinite(value), f"Your value is {value!r}; the median must be a number."
    kept = rows[~rows["excluded"]]
    hints = {"the mean over frames": kept.groupby("track")["SDR"].mean().median(),
             "one median over all frames of all tracks": kept["SDR"].median(),
             "the excluded (silent or quiet) frames left in": rows.groupby("track")["SDR"].median().median()}
    if abs(value - expected) > 1e-6:
        near = [why for why, v in hints.items() if np.isfinite(v) and abs(value - v) < 1e-6]
        raise AssertionError(f"You got {value:.3f} dB, SiSEC's aggregation gives {expected:.3f} dB."
                             + (f" Your number is {near[0]}." if near else "")
                             + " Drop the excluded frames, take the median per track, then the median of those.")
    _passed(f"{method}, {target}: {expected:.2f} dB (median over frames, then over tracks).")


# 07 · The U-Net vocal separator -----------------------------------------------------------------------------

def check_padded_shape(padded, freq, time, n_levels):
    """Check the (freq, time) shape a U-Net with `n_levels` poolings needs for a freq x time spectrogram.

    Used in: 07_unet_vocal_separator.ipynb, exercise 1.
    """
    multiple = 2 ** n_levels
    expected = (-(-freq // multiple) * multiple, -(-time // multiple) * multiple)
    assert padded is not None and len(padded) == 2, f"Give a (freq, time) pair, got {padded!r}."
    padded = tuple(int(s) for s in padded)
    if padded != expected:
        hint = (" Pad up to the next multiple, never crop down." if any(p < s for p, s in zip(padded, (freq, time)))
                else f" {n_levels} poolings halve each axis {n_levels} times, so it must divide by 2**{n_levels} = "
                     f"{multiple}, and no more padding than that.")
        raise AssertionError(f"{padded} is not right for {freq} x {time} and {n_levels} levels.{hint}")
    _passed(f"{freq} x {time} -> {expected} (multiples of {multiple}): "
            f"{expected[0] * expected[1] / (freq * time) - 1:.1%} padding.")


def check_norm_ratio(ratio, alpha):
    """Check the ratio mean||accompaniment|| / mean||vocals|| that S2's rule turns into `alpha`.

    Used in: 07_unet_vocal_separator.ipynb, exercise 2.
    """
    expected = alpha / (1 - alpha)
    assert ratio is not None and np.isfinite(ratio), f"ratio must be a number, got {ratio!r}."
    if abs(ratio - expected) > 0.01 * expected:
        hint = (" That is the inverse: the louder accompaniment's norm is on top." if abs(ratio * expected - 1) < 0.02
                else " Solve alpha * v = (1 - alpha) * a for a / v.")
        raise AssertionError(f"For alpha = {alpha:.3f} the ratio is not {ratio:.3f}.{hint}")
    _passed(f"alpha = {alpha:.3f} <=> the accompaniment's mean 2-norm is {expected:.2f} times the vocals'.")


# 08 · Binary-mask CNN (S3) ------------------------------------------------------------------------------------

def check_all_zeros_accuracy(accuracy, target_masks):
    """Check the bin accuracy of a mask that is 0 everywhere ("the source is never there").

    Used in: 08_binary_mask_cnn.ipynb, exercise 1.

    Args:
        accuracy: the student's accuracy, a share in [0, 1].
        target_masks: the ideal binary masks it was measured on (any shapes, values 0 and 1).
    """
    ones = np.concatenate([np.asarray(mask, dtype=np.float64).ravel() for mask in target_masks])
    expected = 1.0 - ones.mean()
    assert accuracy is not None and np.isfinite(accuracy), f"accuracy must be a number, got {accuracy!r}."
    if accuracy > 1:
        raise AssertionError(f"{accuracy} is above 1: give a share (0.87), not a percentage.")
    if not np.isclose(accuracy, expected, atol=5e-4):
        hint = (" That is the share of 1-bins: the all-zeros mask is right on the 0-bins." if np.isclose(
            accuracy, 1 - expected, atol=5e-4) else " Count the bins where the target is 0, over all bins of all tracks.")
        raise AssertionError(f"The all-zeros accuracy is not {accuracy:.4f}.{hint}")
    _passed(f"never saying 'source' is right on {expected:.1%} of the bins, always saying it on {1 - expected:.1%}: "
            f"a mask CNN's accuracy must beat both.")


def check_dense_parameters(n_params, freq, context, filters, pool_size, dense_units):
    """Check the first Dense layer's parameter count of S3's CNN for a given pooling size.

    Used in: 08_binary_mask_cnn.ipynb, exercise 2.

    Args:
        n_params: the student's count (weights + biases).
        freq, context: the window's size (513, 25); filters: the last conv's filters (16);
        pool_size: of both max poolings ("same" convs, so only the poolings shrink the window);
        dense_units: the Dense layer's units (128).
    """
    rows, cols = freq // pool_size // pool_size, context // pool_size // pool_size
    inputs = rows * cols * filters
    expected = inputs * dense_units + dense_units
    if n_params != expected:
        if n_params == inputs * dense_units:
            hint = " Add the biases: one per unit."
        else:
            hint = (f" Each pooling floors the size: {freq} -> {freq // pool_size} -> {rows} bins, {context} -> "
                    f"{context // pool_size} -> {cols} frames; times {filters} channels are the Dense inputs.")
        raise AssertionError(f"{n_params!r} is not the parameter count.{hint}")
    _passed(f"{rows} x {cols} x {filters} = {inputs:,} inputs x {dense_units} units + {dense_units} biases = "
            f"{expected:,} parameters.")


# 09 · CNN autoencoder (S1) -----------------------------------------------------------------------------------

def check_minmax_stats(shift, scale, magnitudes):
    """Check MIN-MAX statistics computed by hand: per frequency bin, shift = min and scale = max - min.

    Used in: 09_cnn_autoencoder.ipynb, exercise 1.

    Args:
        shift, scale: the student's (freq,) arrays.
        magnitudes: the training magnitudes they were computed from, (..., freq, frames).
    """
    magnitudes = np.asarray(magnitudes, dtype=np.float64)
    per_bin = np.moveaxis(magnitudes, -2, 0).reshape(magnitudes.shape[-2], -1)
    low, high = per_bin.min(axis=1), per_bin.max(axis=1)
    shift, scale = np.asarray(shift, dtype=np.float64), np.asarray(scale, dtype=np.float64)
    freq = len(low)
    if shift.shape != (freq,) or scale.shape != (freq,):
        raise AssertionError(f"shift and scale need one value per frequency bin, shape ({freq},); got {shift.shape} "
                             f"and {scale.shape}. Reduce over every axis except the frequency axis (-2).")
    if not np.allclose(shift, low, rtol=1e-5, atol=1e-8):
        hint = " That is the mean (CMVN's shift)." if np.allclose(shift, per_bin.mean(axis=1), rtol=1e-5) else \
            " MIN-MAX shifts each bin by its smallest training value."
        raise AssertionError(f"shift is not the per-bin minimum.{hint}")
    if not np.allclose(scale, high - low, rtol=1e-5, atol=1e-8):
        hint = " That is the maximum; the range is max - min." if np.allclose(scale, high, rtol=1e-5) else \
            " MIN-MAX divides by each bin's range, max - min."
        raise AssertionError(f"scale is not the per-bin range.{hint}")
    _passed(f"(|X| - min) / (max - min) maps every one of the {freq} bins' training values onto [0, 1].")


# 10 · Open-Unmix ----------------------------------------------------------------------------------------------

def check_max_bin(published_bins):
    """Check the number of STFT bins the published Open-Unmix encodes (bandwidth 16 kHz, n_fft 4096 at 44.1 kHz).

    Used in: 10_open_unmix.ipynb, exercise 1.
    """
    from .open_unmix import FULL_CONFIG, max_bin

    expected = max_bin(FULL_CONFIG)
    if published_bins != expected:
        hint = " k = 0 is a bin too." if published_bins == expected - 1 else ""
        raise AssertionError(f"{published_bins} bins; count every k from 0 with k * 44100 / 4096 <= 16000.{hint}")
    _passed(f"{expected} of {4096 // 2 + 1} bins are encoded.")


def check_lstm_parameters(lstm_params):
    """Check the parameter count of one bidirectional LSTM layer of the published Open-Unmix (hidden 512).

    Used in: 10_open_unmix.ipynb, exercise 2.
    """
    from .open_unmix import FULL_CONFIG, build_open_unmix

    expected = build_open_unmix({**FULL_CONFIG, "nb_layers": 1}).get_layer("blstm_1").count_params()
    if lstm_params != expected:
        raise AssertionError(f"{lstm_params:,}, but the layer has {expected:,}: per direction 4 gates x (inputs + "
                             f"units + 1 bias) x units.")
    _passed(f"{expected:,} parameters per BLSTM layer.")


# 11 · The grand comparison -----------------------------------------------------------------------------------

def check_paired_differences(differences, frames, method, other, target="vocals", metric="SDR"):
    """Check per-song differences computed by hand: each song's median `metric` of `method` minus `other`'s.

    Used in: 11_grand_comparison.ipynb, exercise 1.

    Args:
        differences: the student's pandas Series, indexed by song (track) name.
        frames: the frame-wise scores of the songs compared (`run_comparison` frames of one song set).
        method, other: the two methods; target, metric: which scores.
    """
    per_song = per_track(frames, target, metric)
    for name in (method, other):
        assert name in per_song.index, f"No {target} rows for {name!r}; the methods are {sorted(per_song.index)}."
    paired = paired_differences(per_song, method, other, label=f"{target} {metric}")
    expected = paired["differences"]
    assert isinstance(differences, pd.Series), \
        f"differences must be a pandas Series indexed by song, got {type(differences).__name__}."
    if set(differences.index) != set(expected.index):
        raise AssertionError(f"Your songs are {sorted(differences.index)}; the frames have {sorted(expected.index)}: "
                             f"keep one song set (e.g. frames[frames['songs'] == 'test']).")
    differences = differences.reindex(expected.index).astype(float)
    if not np.allclose(differences, expected, atol=1e-6):
        hint = (" You subtracted the other way round." if np.allclose(differences, -expected, atol=1e-6) else
                " Take each song's median over its kept (not excluded) frames for each method, then subtract.")
        raise AssertionError(f"Your differences {differences.round(2).to_dict()} are not {method} minus {other} "
                             f"per song ({expected.round(2).to_dict()}).{hint}")
    _passed(paired["line"] + ".")


def check_real_time_factor(factor, timings, method):
    """Check a method's speed as x real time: seconds of audio separated per second of computing.

    Used in: 11_grand_comparison.ipynb, exercise 2.

    Args:
        factor: the student's number.
        timings: the `timings` DataFrame of `comparison.run_comparison` (method, track, seconds, audio_seconds).
        method: the method it was computed for.
    """
    rows = timings[timings["method"] == method]
    assert len(rows), f"No timings for {method!r}; the methods are {sorted(timings['method'].unique())}."
    expected = speed_table(rows).loc[method, "x real time"]
    assert factor is not None and np.isfinite(factor), f"factor must be a number, got {factor!r}."
    if not np.isclose(factor, expected, rtol=1e-3):
        if np.isclose(factor, 1 / expected, rtol=1e-3):
            hint = " That is seconds of computing per second of audio: the inverse."
        elif np.isclose(factor, (rows["audio_seconds"] / rows["seconds"]).mean(), rtol=1e-3):
            hint = " That is the mean of the per-track factors; divide the total audio by the total time."
        else:
            hint = " Divide the total audio seconds by the total separation seconds of that method."
        raise AssertionError(f"{method} does not run at {factor:.2f} x real time.{hint}")
    _passed(f"{method}: {expected:.1f} x real time ({rows['audio_seconds'].sum():.0f} s of audio in "
            f"{rows['seconds'].sum():.2f} s).")
