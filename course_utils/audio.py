"""Audio input/output, validation, listening and plotting.

Used in: 00_course_map_and_audio_basics.ipynb and every later notebook (load, listen, look).
"""
from pathlib import Path

import librosa
import librosa.display
import matplotlib.pyplot as plt
import numpy as np
import soundfile as sf

PLAYER_SR = 16_000  # saved audio players are resampled to this rate to keep notebooks small


def check_audio(audio, name="audio", ndim=(1,), allow_silent=False, channels_last=False):
    """Validate an audio array and return it as float64: the one input check every public function calls.

    Used in: every public function of the course that takes audio (directly or through `masks.check_audio`).

    Args:
        audio: array of samples.
        name: what to call the array in error messages.
        ndim: allowed numbers of dimensions, e.g. (1,) for mono, (1, 2) for mono or multichannel.
        allow_silent: accept all-zero audio (a player of a silent estimate plays silence; a separator refuses it).
        channels_last: 2-D audio must be (n, channels); (channels, n) gets a message that says to transpose.
    Returns:
        The audio as a float64 numpy array.
    Raises:
        ValueError: empty, wrong rank or layout, NaN/inf, or (unless allow_silent) all-zero audio.
    """
    audio = np.asarray(audio, dtype=np.float64)
    if audio.ndim not in ndim:
        wanted = "shape (n,) or (n, channels)" if channels_last else f"{' or '.join(map(str, ndim))} dimension(s)"
        raise ValueError(f"{name} must have {wanted}, got shape {audio.shape}.")
    if audio.size == 0:
        raise ValueError(f"{name} is empty (shape {audio.shape}): check the file or the slice you took.")
    if channels_last and audio.ndim == 2 and audio.shape[0] < audio.shape[1]:
        raise ValueError(f"{name} of shape {audio.shape} looks like (channels, n); pass audio.T, shaped (n, channels).")
    if not np.all(np.isfinite(audio)):
        raise ValueError(f"{name} contains NaN or infinite values: check the processing that produced it.")
    if not allow_silent and not np.any(audio):
        raise ValueError(f"{name} is silent (all zeros): pick another file or excerpt.")
    return audio


def load_audio(path, sr=None, mono=True, offset=0.0, duration=None):
    """Read an audio file, decoding by content (not by extension), and optionally resample it.

    Used in: 00–05 (speaker clips); datasets.py (Kaggle files that are MP3 data under a .wav name).

    Args:
        path: file path. WAV, FLAC and Ogg are read with soundfile; anything else (e.g. MP3,
            whatever the extension says) falls back to librosa's audioread/ffmpeg decoder.
        sr: target sample rate in Hz, or None to keep the file's rate.
        mono: average the channels to one.
        offset, duration: excerpt in seconds (duration None = to the end).
    Returns:
        (audio, sr): float32 array of shape (n,) if mono else (n, channels), and its rate in Hz.
    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file cannot be decoded, or decodes to empty or NaN audio.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Audio file not found: {path}")
    try:
        with sf.SoundFile(path) as f:
            f.seek(int(offset * f.samplerate))
            frames = -1 if duration is None else int(duration * f.samplerate)
            audio, file_sr = f.read(frames, dtype="float32", always_2d=True), f.samplerate
    except (sf.LibsndfileError, RuntimeError):
        try:  # not a format libsndfile knows (e.g. MP3 data in a .wav file): decode with ffmpeg
            audio, file_sr = librosa.load(path, sr=None, mono=False, offset=offset, duration=duration)
        except Exception as err:
            raise ValueError(f"Cannot decode {path}: {err}. Is it an audio file? Is ffmpeg installed?") from err
        audio = np.atleast_2d(audio).T
    if mono:
        audio = audio.mean(axis=1)
    if sr is not None and sr != file_sr:
        audio = librosa.resample(audio, orig_sr=file_sr, target_sr=sr, axis=0)
        file_sr = sr
    if audio.size == 0 or not np.all(np.isfinite(audio)):
        raise ValueError(f"{path} decodes to empty or non-finite audio; the file is damaged.")
    return audio.astype(np.float32), int(file_sr)


def excerpt(audio, sr, seconds=None, fit=False):
    """A part of a signal, cut in seconds: the whole of it, its first seconds, or from a start to an end.

    Used in: 06 (the example song's excerpt), `datasets.track_arrays` (10's example excerpt),
    `comparison.run_comparison` (the excerpts kept for listening in 06, 11).

    Args:
        audio: (n,) or (n, channels) samples.
        sr: sample rate in Hz.
        seconds: None (all of it), s (the first s seconds) or (start, end) in seconds.
        fit: for songs of unknown length: move a window that runs past the end back so that it ends
            there (the whole signal if it is shorter). Without it, an end past the signal stops at the
            signal's end and a start past it is an error.
    Returns:
        the excerpt, a view of `audio` (same dtype).
    """
    if seconds is None:
        return audio
    start, end = (0.0, seconds) if np.isscalar(seconds) else seconds
    if not 0 <= start < end:
        raise ValueError(f"seconds must be None, a positive length or (start, end) with 0 <= start < end, "
                         f"got {seconds!r}.")
    first, last = int(round(start * sr)), int(round(end * sr))
    if fit and last > len(audio):
        first, last = max(0, len(audio) - (last - first)), len(audio)
    if first >= len(audio):
        raise ValueError(f"The excerpt starts at {start} s but the signal lasts {len(audio) / sr:.1f} s: choose a "
                         f"start inside it, or pass fit=True to take the window at its end.")
    return audio[first:last]


def play(audio, sr, max_seconds=10.0, normalize=True):
    """An audio player for a notebook, resampled to PLAYER_SR so saved notebooks stay small.

    Used in: every notebook, next to every sound.

    Args:
        audio: shape (n,) mono, or (n, 2) / (2, n) stereo.
        sr: sample rate of `audio` in Hz.
        max_seconds: only the first `max_seconds` are embedded.
        normalize: scale to full volume (turn off to hear true relative levels).
    Returns:
        IPython.display.Audio.
    """
    from IPython.display import Audio

    audio = check_audio(audio, ndim=(1, 2), allow_silent=True)
    normalize = normalize and bool(np.any(audio))  # a silent estimate plays as silence
    if audio.ndim == 2 and audio.shape[0] > audio.shape[1]:
        audio = audio.T  # IPython wants (channels, n)
    audio = audio[..., : int(max_seconds * sr)]
    if sr > PLAYER_SR:
        audio = librosa.resample(audio, orig_sr=sr, target_sr=PLAYER_SR, axis=-1)
        sr = PLAYER_SR
    return Audio(audio, rate=sr, normalize=normalize)


def listening_widget(signals, sr, max_seconds=10.0, description="listen to"):
    """Menus and a player: pick a signal by name (or by track and method) and hear it.

    Used in: 00 (speakers), 01, 06, 09, 11 (methods and tracks).

    The player is a native ipywidgets.Audio whose sound is swapped when a menu changes, so a
    headless run just shows the first signal (no output capture that could stall execution).

    Args:
        signals: dict name -> audio array at rate `sr` (mono (n,) or stereo). Keys may be tuples of equal
            length, e.g. (track, method): then there is one menu per position, and combinations that are
            not in `signals` leave the player silent with a note.
        sr: sample rate in Hz of every signal.
        max_seconds: length of the excerpt played.
        description: label of the menu (tuple keys: a tuple of labels, one per menu).
    Returns:
        ipywidgets.VBox holding the menu(s), the player and (tuple keys) a note line.
    """
    import ipywidgets as widgets

    if not signals:
        raise ValueError("signals is empty: pass a dict of name -> audio array.")
    keys = list(signals)
    if not isinstance(keys[0], tuple):
        def wav(name):
            return play(signals[name], sr, max_seconds=max_seconds).data

        player = widgets.Audio(value=wav(keys[0]), format="wav", autoplay=False)
        menu = widgets.Dropdown(options=keys, description=description)
        menu.observe(lambda change: setattr(player, "value", wav(change["new"])), names="value")
        return widgets.VBox([menu, player])
    width = len(keys[0])
    if any(not isinstance(key, tuple) or len(key) != width for key in keys):
        raise ValueError("signals' keys must be all names or all tuples of the same length, e.g. (track, method).")
    labels = description if isinstance(description, (tuple, list)) else [description] * width
    if len(labels) != width:
        raise ValueError(f"description needs one label per key position ({width}), got {len(labels)}.")
    menus = [widgets.Dropdown(options=list(dict.fromkeys(key[i] for key in keys)), value=keys[0][i],
                              description=str(label)) for i, label in enumerate(labels)]
    player = widgets.Audio(value=play(signals[keys[0]], sr, max_seconds=max_seconds).data, format="wav",
                           autoplay=False)
    note = widgets.Label("")

    def update(_=None):
        key = tuple(menu.value for menu in menus)
        if key in signals:
            player.value, note.value = play(signals[key], sr, max_seconds=max_seconds).data, ""
        else:
            note.value = f"no signal for {key}"

    for menu in menus:
        menu.observe(update, names="value")
    return widgets.VBox([widgets.HBox(menus), player, note])


def interactive_plot(function, **controls):
    """Controls that redraw a figure (and players): a headless-safe `ipywidgets.interact`.

    Used in: 01 (the delays), 02 (the STFT window and hop), 06 (a mask's threshold and exponent), 08 (the threshold T).

    `interact` draws even the first picture inside an Output widget, and capturing that output can
    stall a headless run (papermill, nbclient). Here the first picture is ordinary cell output with a
    display id, so headless runs and saved notebooks show it; moving a control replaces it in place.

    Args:
        function: takes keyword arguments named like the controls and returns what to show: a matplotlib
            figure, a player (`play`), or a tuple of them, always the same number of objects.
        controls: name -> ipywidgets value widget (slider, dropdown, toggle); its description defaults to the name.
    Returns:
        the list of IPython display handles (one per object shown).
    """
    import ipywidgets as widgets
    from IPython.display import display
    from matplotlib.figure import Figure

    if not controls:
        raise ValueError("Give at least one control, e.g. interactive_plot(f, theta=widgets.FloatSlider(...)).")
    for name, control in controls.items():
        if not isinstance(control, widgets.ValueWidget):
            raise ValueError(f"Control {name!r} must be an ipywidgets value widget (a slider, dropdown, ...), "
                             f"got {type(control).__name__}.")
        control.description = control.description or name

    def render():
        shown = function(**{name: control.value for name, control in controls.items()})
        shown = list(shown) if isinstance(shown, (list, tuple)) else [shown]
        for obj in shown:
            if isinstance(obj, Figure):
                plt.close(obj)  # shown through its display handle only
        return shown

    display(widgets.HBox(list(controls.values())))
    handles = [display(obj, display_id=True) for obj in render()]

    def redraw(_):
        for handle, obj in zip(handles, render()):
            handle.update(obj)

    for control in controls.values():
        control.observe(redraw, names="value")
    return handles


def plot_waveform(audio, sr, ax=None, title=None, **kwargs):
    """Plot a waveform against time in seconds; returns the matplotlib Axes.

    Used in: 00, 01, 05, 06 and wherever a signal is shown.
    """
    audio = check_audio(audio, ndim=(1, 2))
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 2.2))
    librosa.display.waveshow(audio.T if audio.ndim == 2 else audio, sr=sr, ax=ax, **kwargs)
    ax.set(title=title, xlabel="time (s)", ylabel="amplitude")
    return ax


def plot_spectrogram(audio, sr, n_fft=1024, hop_length=256, y_axis="log", ax=None, title=None, ref=np.max,
                     vmin=None, vmax=None):
    """Plot a dB-scaled STFT (or mel) spectrogram with librosa.display.specshow; returns the Axes.

    Used in: 00, 02, 06 and wherever a signal is shown.

    Args:
        audio: mono signal, shape (n,).
        sr: sample rate in Hz.
        n_fft, hop_length: STFT window and hop in samples.
        y_axis: "linear", "log" or "mel" (a 128-band mel spectrogram).
        ref: 0 dB reference: np.max (default, each plot relative to its own loudest bin) or a number (an
            amplitude for STFTs, a power for mel), so that several plots share one scale.
        vmin, vmax: colour limits in dB (default: each plot's own range); give both with a shared `ref` to
            compare the brightness of several plots.
    """
    audio = check_audio(audio)
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 3))
    if y_axis == "mel":
        power = librosa.feature.melspectrogram(y=audio, sr=sr, n_fft=n_fft, hop_length=hop_length)
        spec_db = librosa.power_to_db(power, ref=ref)
    else:
        spec_db = librosa.amplitude_to_db(np.abs(librosa.stft(audio, n_fft=n_fft, hop_length=hop_length)), ref=ref)
    image = librosa.display.specshow(spec_db, sr=sr, hop_length=hop_length, x_axis="time", y_axis=y_axis, ax=ax,
                                     vmin=vmin, vmax=vmax)
    ax.figure.colorbar(image, ax=ax, format="%+2.0f dB")
    ax.set(title=title)
    return ax


def show_audio(audio, sr, title="", n_fft=1024, hop_length=256):
    """Display a player, the waveform and the spectrogram of one signal together.

    Used in: 00 and the listening sections of later notebooks.

    Returns:
        The matplotlib Figure (waveform above, spectrogram below).
    """
    from IPython.display import display

    mono = check_audio(audio, ndim=(1, 2))
    if mono.ndim == 2:
        mono = mono.mean(axis=int(np.argmin(mono.shape)))
    display(play(audio, sr))
    fig, (ax_wave, ax_spec) = plt.subplots(2, 1, figsize=(10, 4.5), sharex=True, constrained_layout=True)
    plot_waveform(mono, sr, ax=ax_wave, title=title)
    plot_spectrogram(mono, sr, n_fft=n_fft, hop_length=hop_length, ax=ax_spec)
    ax_spec.set(xlabel="time (s)")
    return fig
