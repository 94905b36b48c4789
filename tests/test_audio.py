"""Tests for course_utils/audio.py."""
import io

import matplotlib
import numpy as np
import pytest
import soundfile as sf

import course_utils as cu
from conftest import tone

matplotlib.use("Agg")


@pytest.mark.parametrize("bad, message", [
    (np.array([]), "empty"),
    (np.array([0.1, np.nan, 0.2]), "NaN"),
    (np.zeros(100), "silent"),
    (np.ones((2, 3, 4)), "dimension"),
])
def test_check_audio_rejects_bad_input(bad, message):
    with pytest.raises(ValueError, match=message):
        cu.check_audio(bad, ndim=(1, 2))


def test_load_audio_resamples_and_mixes_down(tmp_path):
    stereo = np.stack([tone(1.0, 44_100), tone(1.0, 44_100, freq=330)], axis=1)
    sf.write(tmp_path / "s.wav", stereo, 44_100)
    audio, sr = cu.load_audio(tmp_path / "s.wav", sr=16_000)
    assert sr == 16_000 and audio.shape == (16_000,) and audio.dtype == np.float32
    both, _ = cu.load_audio(tmp_path / "s.wav", mono=False)
    assert both.shape == (44_100, 2)
    np.testing.assert_allclose(both, stereo, atol=1e-4)


def test_load_audio_excerpt(tmp_path):
    sf.write(tmp_path / "s.wav", tone(2.0, 8_000), 8_000)
    audio, _ = cu.load_audio(tmp_path / "s.wav", offset=0.5, duration=1.0)
    np.testing.assert_allclose(audio, tone(2.0, 8_000)[4_000:12_000], atol=1e-4)


def _embedded(player):
    return sf.read(io.BytesIO(player.data))


def test_play_downsamples_and_truncates():
    audio, sr = _embedded(cu.play(tone(12.0, 44_100), 44_100, max_seconds=2))
    assert sr == cu.audio.PLAYER_SR and audio.shape == (2 * sr,)
    audio, sr = _embedded(cu.play(np.stack([tone(1.0, 8_000)] * 2, axis=1), 8_000))
    assert sr == 8_000 and audio.shape == (8_000, 2)


def test_plots_return_axes_and_figure():
    ax = cu.plot_waveform(tone(0.5, 8_000), 8_000, title="t")
    assert ax.get_title() == "t"
    ax = cu.plot_spectrogram(tone(0.5, 8_000), 8_000, y_axis="mel")
    assert ax.get_ylabel() == "Hz"
    fig = cu.show_audio(np.stack([tone(0.5, 8_000)] * 2, axis=1), 8_000, title="stereo")
    assert len(fig.axes) >= 2


def test_listening_widget_swaps_the_sound():
    signals = {"low": tone(1.0, 8_000, 200), "high": tone(1.0, 8_000, 900)}
    box = cu.listening_widget(signals, 8_000)
    menu, player = box.children
    first = player.value
    menu.value = "high"
    assert player.value != first and player.value == cu.play(signals["high"], 8_000).data
    with pytest.raises(ValueError, match="empty"):
        cu.listening_widget({}, 8_000)


def test_listening_widget_with_track_and_method_menus():
    signals = {("a", "truth"): tone(1.0, 8_000, 200), ("a", "model"): tone(1.0, 8_000, 300),
               ("b", "truth"): tone(1.0, 8_000, 900)}
    box = cu.listening_widget(signals, 8_000, description=("track", "method"))
    (track_menu, method_menu), player, note = box.children[0].children, *box.children[1:]
    assert list(track_menu.options) == ["a", "b"] and list(method_menu.options) == ["truth", "model"]
    method_menu.value = "model"
    assert player.value == cu.play(signals[("a", "model")], 8_000).data and note.value == ""
    track_menu.value = "b"  # ("b", "model") does not exist: the player keeps its sound, the note says why
    assert "no signal" in note.value and player.value == cu.play(signals[("a", "model")], 8_000).data
    with pytest.raises(ValueError, match="same length"):
        cu.listening_widget({("a", "b"): tone(1.0, 8_000, 200), "c": tone(1.0, 8_000, 200)}, 8_000)
    with pytest.raises(ValueError, match="one label per key"):
        cu.listening_widget(signals, 8_000, description=("track",))


def test_interactive_plot_draws_once_then_redraws_in_place(monkeypatch):
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    from course_utils import audio

    shown, updates = [], []

    class Handle:
        def update(self, obj):
            updates.append(obj)

    def fake_display(obj, display_id=False):
        shown.append(obj)
        return Handle() if display_id else None

    monkeypatch.setattr("IPython.display.display", fake_display)
    calls = []

    def draw(gain=1.0):
        calls.append(gain)
        fig, ax = plt.subplots()
        ax.plot([0, gain])
        return fig

    slider = widgets.FloatSlider(value=1.0, min=0, max=2)
    open_figures = len(plt.get_fignums())
    handles = audio.interactive_plot(draw, gain=slider)
    assert calls == [1.0] and len(handles) == 1 and slider.description == "gain"
    assert len(plt.get_fignums()) == open_figures, "figures are shown through their display handle only"
    slider.value = 2.0
    assert calls == [1.0, 2.0] and len(updates) == 1
    with pytest.raises(ValueError, match="at least one control"):
        audio.interactive_plot(draw)
    with pytest.raises(ValueError, match="value widget"):
        audio.interactive_plot(draw, gain=(0, 2))


def test_excerpt_cuts_in_seconds():
    audio = np.arange(10 * 100, dtype=np.float64).reshape(-1, 1)  # 10 s at 100 Hz
    assert cu.audio.excerpt(audio, 100) is audio
    assert np.array_equal(cu.audio.excerpt(audio, 100, 2), audio[:200])
    assert np.array_equal(cu.audio.excerpt(audio, 100, (3, 4.5)), audio[300:450])
    assert len(cu.audio.excerpt(audio, 100, (8, 30))) == 200  # an end past the signal stops at its end
    assert np.array_equal(cu.audio.excerpt(audio, 100, (8, 13), fit=True), audio[500:])  # moved back to the end
    assert np.array_equal(cu.audio.excerpt(audio, 100, (60, 90), fit=True), audio)  # a shorter signal: all of it
    with pytest.raises(ValueError, match="lasts 10.0 s"):
        cu.audio.excerpt(audio, 100, (12, 15))
    with pytest.raises(ValueError, match="start < end"):
        cu.audio.excerpt(audio, 100, (5, 5))
