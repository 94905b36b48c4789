"""course_utils/separator.py and the shared pieces in masks: one contract for every separator."""
import datetime

import numpy as np
import pytest
import soundfile as sf

import course_utils as cu
from course_utils import masks, separator

SR = 8000
CONFIG = {"sr": SR, "n_fft": 256, "hop_length": 64}


def _song(seconds=1.0, seed=0):
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    vocals = np.stack([np.sin(2 * np.pi * 440 * t)] * 2, axis=1) * 0.3
    accompaniment = rng.standard_normal((n, 2)) * 0.1
    return vocals + accompaniment, {"vocals": vocals, "accompaniment": accompaniment}


def _oracle_separator(stems):
    """A Separator whose masks are the ideal ratio masks of `stems` (what a perfect network would predict)."""
    def oracle(magnitude):
        truth = {name: np.abs(masks.stft(audio, CONFIG["n_fft"], CONFIG["hop_length"])) for name, audio in stems.items()}
        ratio = masks.ratio_masks(truth, alpha=2.0)
        return {name: mask.reshape(magnitude.shape) for name, mask in ratio.items()}

    return separator.Separator("unet", CONFIG, ("vocals", "accompaniment"), oracle)


def test_separate_with_the_oracle_gives_the_oracle_separation():
    mixture, stems = _song()
    estimates = cu.separate(mixture, SR, _oracle_separator(stems))
    expected = masks.oracle_separation(mixture, stems, "IRM2", CONFIG["n_fft"], CONFIG["hop_length"])
    assert list(estimates) == ["vocals", "accompaniment"]
    for name in estimates:
        assert estimates[name].shape == mixture.shape
        assert np.allclose(estimates[name], expected[name], atol=1e-9)


def test_wiener_filter_keeps_the_sum_and_gets_closer_to_the_sources():
    mixture, stems = _song()
    model = _oracle_separator(stems)
    plain = cu.separate(mixture, SR, model)
    filtered = cu.separate(mixture, SR, model, wiener_iterations=2)
    assert np.allclose(sum(filtered.values()), mixture, atol=1e-4)

    def error(estimates):
        return sum(np.sum((estimates[name] - stems[name]) ** 2) for name in stems)

    assert error(filtered) < error(plain)


def test_zero_iterations_of_the_wiener_filter_is_the_ratio_mask():
    mixture, stems = _song()
    spec = masks.stft(mixture, CONFIG["n_fft"], CONFIG["hop_length"])
    mags = {name: np.abs(masks.stft(audio, CONFIG["n_fft"], CONFIG["hop_length"])) for name, audio in stems.items()}
    filtered = masks.wiener_filter(spec, mags, iterations=0)
    for name in mags:
        assert np.allclose(filtered[name], mags[name] * np.exp(1j * np.angle(spec)))


@pytest.mark.parametrize("mono", [False, True])
def test_wiener_separation_span_by_span_is_the_whole_filter_bit_for_bit(mono):
    mixture, stems = _song(2.0)
    mixture = mixture[:, 0] if mono else mixture
    spec = masks.stft(mixture, CONFIG["n_fft"], CONFIG["hop_length"])  # 251 frames
    truth = {name: np.abs(masks.stft(audio[:, 0] if mono else audio, CONFIG["n_fft"], CONFIG["hop_length"]))
             for name, audio in stems.items()}
    ratio = {name: mask.astype(np.float32) for name, mask in masks.ratio_masks(truth).items()}
    for iterations, max_frames in [(1, 60), (2, 1000)]:
        filtered = masks.wiener_filter(spec, {name: mask * np.abs(spec) for name, mask in ratio.items()},
                                       iterations, max_frames)
        whole = {name: masks.istft(stft, len(mixture), CONFIG["hop_length"]) for name, stft in filtered.items()}
        for span_frames in (16, 50, None):  # audio spans shorter and longer than the filter's spans, or none
            spans = masks.wiener_separation(mixture, ratio, iterations, CONFIG["n_fft"], CONFIG["hop_length"],
                                            max_frames, span_frames)
            assert all(np.array_equal(spans[name], whole[name]) for name in ratio), (iterations, span_frames)
    with pytest.raises(ValueError, match="iterations must be 0 or more"):
        masks.wiener_separation(mixture, ratio, -1, CONFIG["n_fft"], CONFIG["hop_length"])


def test_joining_blocks_piece_by_piece_or_from_a_list_gives_the_whole_join():
    spec = np.random.default_rng(3).random((2, 33, 200)).astype(np.float32)
    blocks, layout = masks.split_blocks(spec, 16, 0.25, multiple=8)
    outputs = np.random.default_rng(4).random((*blocks.shape[:3], 3)).astype(np.float32)
    whole = masks.join_blocks(outputs, layout)
    per_block = [outputs[b * 2:(b + 1) * 2] for b in range(layout["n_blocks"])]  # (channels, F, T, k) each
    pieces = [masks.join_blocks(per_block, layout, slice(start, start + 13)) for start in range(0, 200, 13)]
    assert whole.shape == (3, 2, 33, 200) and np.array_equal(np.concatenate(pieces, axis=-1), whole)
    with pytest.raises(ValueError, match="do not fit the layout"):
        masks.join_blocks(per_block[:-1], layout)


@pytest.mark.parametrize("shape", [(33, 7), (2, 33, 200), (1, 20, 31)])
@pytest.mark.parametrize("overlap", [0.0, 0.5, 0.75])
def test_blocks_join_back_to_the_spectrogram(shape, overlap):
    spec = np.random.default_rng(1).random(shape).astype(np.float32)
    blocks, layout = masks.split_blocks(spec, 16, overlap, multiple=8)
    assert blocks.shape[1:] == (40 if shape[-2] == 33 else 24, 16, 1)
    joined = masks.join_blocks(blocks, layout)
    assert joined.shape == (1, *shape) and np.allclose(joined[0], spec, atol=1e-6)


def test_overlapping_blocks_fade_between_neighbours():
    spec = np.ones((4, 40), np.float32)
    blocks, layout = masks.split_blocks(spec, 8, 0.5)
    assert layout["hop"] == 4 and layout["lead"] == 4  # every frame lies in two blocks
    outputs = np.stack([np.full_like(block, i % 2) for i, block in enumerate(blocks)])  # even blocks 0, odd 1
    joined = masks.join_blocks(outputs, layout)[0]
    assert 0 < joined.min() and joined.max() < 1  # a mix of both neighbours everywhere, no hard edge


def test_block_and_wiener_refusals():
    with pytest.raises(ValueError, match="0 <= overlap < 1"):
        masks.split_blocks(np.ones((4, 10)), 8, overlap=1.0)
    blocks, layout = masks.split_blocks(np.ones((4, 10)), 8)
    with pytest.raises(ValueError, match="do not fit the layout"):
        masks.join_blocks(blocks[:-1], layout)
    with pytest.raises(ValueError, match="shaped like the mixture STFT"):
        masks.wiener_filter(np.ones((4, 10), complex), {"a": np.ones((4, 9))})


def test_separate_refuses_bad_input():
    mixture, stems = _song()
    model = _oracle_separator(stems)
    with pytest.raises(ValueError, match="at 16000 Hz but the model's configuration expects 8000 Hz: resample"):
        cu.separate(mixture, 16000, model)
    with pytest.raises(ValueError, match="silent .all zeros.: there is nothing to separate"):
        cu.separate(np.zeros_like(mixture), SR, model)
    with pytest.raises(ValueError, match="NaN"):
        cu.separate(np.full_like(mixture, np.nan), SR, model)
    with pytest.raises(ValueError, match=r"looks like \(channels, n\); pass audio.T"):
        cu.separate(mixture.T, SR, model)
    with pytest.raises(ValueError, match="must be a Separator.*load_separator"):
        cu.separate(mixture, SR, "weights/unet.npz")
    broken = separator.Separator("unet", CONFIG, ("vocals", "accompaniment"), lambda m: {"vocals": m})
    with pytest.raises(ValueError, match="not one mask per source"):
        cu.separate(mixture, SR, broken)


def test_separate_file_resamples_your_own_file(tmp_path):
    mixture, stems = _song()
    path = tmp_path / "song.flac"
    sf.write(path, np.repeat(mixture, 2, axis=0) * 0.5, 2 * SR)  # another rate: read at the model's
    read, estimates = cu.separate_file(path, _oracle_separator({k: v for k, v in stems.items()}))
    assert read.shape == mixture.shape and set(estimates) == {"vocals", "accompaniment"}
    assert np.allclose(sum(estimates.values()), read, atol=1e-6)


def test_play_of_a_silent_estimate_plays_silence():
    player = cu.play(np.zeros((SR, 2)), SR)
    assert player.data  # a valid (silent) player, not an error
    with pytest.raises(ValueError, match="silent"):
        cu.check_audio(np.zeros(10))


def test_upload_widget_separates_an_upload(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    mixture, stems = _song()
    path = tmp_path / "mine.wav"
    sf.write(path, mixture, SR)
    shown = []
    monkeypatch.setattr("IPython.display.display", shown.append)
    box = cu.upload_and_separate(_oracle_separator(stems))
    upload, output = box.children
    content = path.read_bytes()
    info = {"name": "mine.wav", "type": "audio/wav", "size": len(content),
            "last_modified": datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)}
    upload.value = {"mine.wav": {**info, "content": content}} if isinstance(upload.value, dict) \
        else ({**info, "content": memoryview(content)},)  # ipywidgets 7 (Colab) or 8
    assert (tmp_path / "uploads" / "mine.wav").is_file()
    assert len(shown) == 3  # players for the mixture, the vocals and the accompaniment
