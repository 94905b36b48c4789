"""Tests for course_utils/unet.py: shapes, network, loss, segments, sample-exact reconstruction, denoiser, weights."""
import numpy as np
import pytest

from course_utils import masks, unet

SR = 8000
TINY = {"sr": SR, "n_fft": 64, "hop_length": 16, "segment_frames": 20, "n_levels": 2, "base_filters": 2,
        "dropout": 0.0, "n_sources": 2}


def stereo_song(seconds=1.0, sr=SR, seed=0):
    """Noise-like 'vocals' and a two-tone 'accompaniment', stereo, and their exact sum."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    vocals = rng.normal(0, 0.1, (t.size, 2)) * np.sin(2 * np.pi * 3 * t)[:, None]
    accompaniment = np.stack([0.3 * np.sin(2 * np.pi * 440 * t), 0.2 * np.sin(2 * np.pi * 660 * t)], axis=1)
    return {"mixture": vocals + accompaniment, "vocals": vocals, "accompaniment": accompaniment, "sr": sr}


@pytest.mark.parametrize("shape", [(1025, 173), (513, 128), (1, 1), (17, 33), (16, 16), (31, 5, 3)])
def test_pad_then_crop_is_exact(shape):
    spec = np.random.default_rng(0).random(shape)
    padded, original = unet.pad_to_multiple(spec, 16)
    assert padded.shape[0] % 16 == 0 and padded.shape[1] % 16 == 0
    assert np.array_equal(unet.crop_to_shape(padded, original), spec)
    assert padded[original[0]:].sum() == 0 and padded[:, original[1]:].sum() == 0


def test_padded_shape_matches_s2():
    assert unet.padded_shape(1025, 173) == (1040, 176)


def test_shape_table_shows_s2_table_1():
    table = unet.unet_shape_table(1025, 173)
    assert table.loc[0, "output"] == "512 x 86 x 32"
    assert table.loc[3, "output"] == "64 x 10 x 256"
    first_decoder = table.iloc[5]
    assert first_decoder["output"] == "128 x 20 x 256" and first_decoder["skip"] == "128 x 21 x 256"
    assert not first_decoder["ok"]
    assert unet.unet_shape_table(1025, 173, pad=True)["ok"].all()


def test_build_unet_on_padded_sizes_and_clear_error_otherwise():
    model = unet.build_unet((32, 16), base_filters=2, n_levels=2)
    out = model(np.ones((1, 32, 16, 1), np.float32))
    assert out.shape == (1, 32, 16, 2) and np.all(np.asarray(out) >= 0)
    with pytest.raises(ValueError, match=r"528, 128"):
        unet.build_unet((513, 128), base_filters=2)
    masked = unet.build_unet((32, 16), base_filters=2, n_levels=2, mask_activation="sigmoid")
    assert np.all(np.asarray(masked(np.ones((1, 32, 16, 1), np.float32))) <= 1.0)  # sigmoid masks x |X| = 1
    with pytest.raises(ValueError, match="mask_activation"):
        unet.build_unet((32, 16), mask_activation="tanh")


def test_parameter_counts():
    # hand count for base 4, one level: convs 36+144+288+576, transposed 128, decoder convs 288+144,
    # batch norms 4 * (4+4+8+8+4+4+4), 1x1 conv 4*2+2
    assert unet.build_unet((16, 16), base_filters=4, n_levels=1).count_params() == 1758
    assert unet.build_from_config(unet.FULL_CONFIG).count_params() == 7_769_826  # S2's model: 7.77 M


def test_weighted_l1_loss_by_hand():
    y_true = np.array([[[[1.0, 2.0], [0.0, 4.0]], [[3.0, 0.0], [1.0, 1.0]]]], np.float32)  # (1, 2, 2, 2)
    y_pred = np.array([[[[0.0, 2.5], [1.0, 4.0]], [[3.0, 1.0], [3.0, 0.0]]]], np.float32)
    vocals = (1 + 1 + 0 + 2) / 4
    accompaniment = (0.5 + 0 + 1 + 1) / 4
    loss = float(unet.weighted_l1_loss(0.7)(y_true, y_pred))
    assert loss == pytest.approx(0.7 * vocals + 0.3 * accompaniment, rel=1e-6)
    for bad in (-0.1, 1.5, "half"):
        with pytest.raises(ValueError, match=r"\[0, 1\]"):
            unet.weighted_l1_loss(bad)


def test_alpha_from_norms():
    assert unet.alpha_from_norms([1.0, 1.0], [2.0, 2.0]) == pytest.approx(2 / 3)
    # S2's 0.707 means the accompaniment's mean 2-norm is 2.41 times the vocals'
    assert unet.alpha_from_norms([1.0], [0.707 / 0.293]) == pytest.approx(0.707)


def test_segments_cut_every_stem_at_the_same_offset():
    song = stereo_song()
    song = {**song, "vocals": 0.25 * song["mixture"], "accompaniment": 0.75 * song["mixture"]}
    x, y = next(unet.segment_examples([song], TINY, seed=3))
    assert x.shape == (36, 20, 1) and y.shape == (36, 20, 2)  # 33 bins padded to 36
    assert np.allclose(y[..., 0], 0.25 * x[..., 0], atol=1e-5) and np.allclose(y[..., 1], 0.75 * x[..., 0], atol=1e-5)
    assert x[33:].sum() == 0


def test_remixed_segments_are_valid_mixtures_of_two_songs():
    tone, noise = stereo_song(seed=1), stereo_song(seed=2)
    songs = [{**tone, "vocals": tone["mixture"], "accompaniment": 0 * tone["mixture"]},
             {**noise, "vocals": 0 * noise["mixture"], "accompaniment": noise["mixture"]}]
    examples = unet.segment_examples(songs, TINY, seed=0, remix=True)
    pairs = [next(examples) for _ in range(40)]
    # |X| = |gV + gA| <= g|V| + g|A|, with equality where only one song sounds
    assert all(np.all(x[..., 0] <= y.sum(axis=-1) + 1e-4) for x, y in pairs)
    both = [x for x, y in pairs if y[..., 0].max() > 0 and y[..., 1].max() > 0]
    assert both, "some examples must mix the vocals of one song with the accompaniment of another"
    plain = [next(unet.segment_examples(songs, TINY, seed=k)) for k in range(10)]
    assert not [y for _, y in plain if y[..., 0].max() > 0 and y[..., 1].max() > 0], "without remix, songs stay apart"


def test_oracle_mask_through_the_pipeline_equals_the_oracle():
    song = stereo_song(seconds=1.3)
    stems = {"vocals": song["vocals"], "accompaniment": song["accompaniment"]}
    oracle = masks.oracle_masks(song["mixture"], stems, "IRM1", TINY["n_fft"], TINY["hop_length"])
    direct = masks.apply_masks(song["mixture"], oracle, TINY["n_fft"], TINY["hop_length"])
    blocks = np.concatenate([unet.split_frames(oracle[name], 20, 4)[0] for name in unet.SOURCES], axis=-1)
    estimates, magnitude = unet.predict_magnitudes(song["mixture"], lambda batch: blocks * batch, TINY)
    through = masks.apply_masks(song["mixture"], unet.masks_from_magnitudes(estimates, magnitude, alpha=0.5),
                                TINY["n_fft"], TINY["hop_length"])
    for name in unet.SOURCES:
        assert through[name].shape == song["mixture"].shape
        assert np.max(np.abs(through[name] - direct[name])) < 1e-6


def test_split_and_join_frames_are_exact_inverses():
    spec = np.random.default_rng(1).random((2, 33, 47))
    batch, layout = unet.split_frames(spec, 20, 16)
    assert batch.shape == (6, 48, 32, 1)
    assert np.array_equal(unet.join_frames(batch, layout)[0], spec)


def test_denoiser_keeps_a_steady_tone_and_mutes_a_click_in_silence():
    t = np.arange(3 * SR) / SR
    tone = 0.5 * np.sin(2 * np.pi * 220 * t)
    assert np.allclose(unet.hilbert_denoise(tone, SR), tone)
    signal = tone.copy()
    signal[SR:2 * SR] = 0.0
    signal[int(1.5 * SR)] = 0.9  # a click in the silent second
    out = unet.hilbert_denoise(signal, SR)
    assert np.abs(out[int(1.4 * SR):int(1.6 * SR)]).max() < 1e-3
    assert np.allclose(out[:int(0.8 * SR)], signal[:int(0.8 * SR)])


@pytest.fixture
def tiny_weights(tmp_path):
    model = unet.build_from_config(TINY)
    path = tmp_path / "tiny.npz"
    unet.save_weights(model, path, TINY, alpha=0.5)
    return path


def test_separate_gives_aligned_estimates_that_add_up(tiny_weights):
    song = stereo_song(seconds=0.7)
    for mixture in (song["mixture"], song["mixture"][:, 0]):
        estimates = unet.separate(mixture, sr=SR, weights=tiny_weights)
        assert set(estimates) == set(unet.SOURCES)
        assert estimates["vocals"].shape == mixture.shape
        assert np.allclose(estimates["vocals"] + estimates["accompaniment"], mixture, atol=1e-6)


def test_weights_for_another_configuration_are_rejected(tiny_weights):
    other = unet.build_from_config({**TINY, "base_filters": 4})
    with pytest.raises(ValueError, match="Build the model with the file's configuration"):
        unet.load_weights_into(other, tiny_weights)
    with pytest.raises(ValueError, match="another configuration"):
        unet.load_unet(tiny_weights, config={**TINY, "n_fft": 128})
    with pytest.raises(FileNotFoundError):
        unet.load_unet(tiny_weights.parent / "missing.npz")


def test_clear_errors_on_bad_input(tiny_weights):
    song = stereo_song()
    with pytest.raises(ValueError, match="mono stem with a stereo"):
        next(unet.segment_examples([{**song, "vocals": song["vocals"][:, 0]}], TINY))
    with pytest.raises(ValueError, match="resample"):
        next(unet.segment_examples([{**song, "sr": 44100}], TINY))
    with pytest.raises(ValueError, match="resample"):
        unet.separate(song["mixture"], sr=44100, weights=tiny_weights)
    with pytest.raises(ValueError, match="shorter than one STFT frame"):
        unet.check_config({**TINY, "segment_frames": 2})
    with pytest.raises(ValueError, match="shorter than one STFT frame"):
        unet.separate(song["mixture"][:32], sr=SR, weights=tiny_weights)
    with pytest.raises(ValueError, match="channels"):
        unet.separate(song["mixture"].T, sr=SR, weights=tiny_weights)
