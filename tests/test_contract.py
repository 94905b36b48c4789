"""The separator contract (issue 14), one table over every kind of weights file (weights.KINDS).

Each kind is built tiny with seeded random weights, saved with its module's own save function, loaded back with
`cu.load_separator(path)` and run on the same tiny stereo track through the same `cu.separate` call (with and
without the Wiener filter); wrong rates, silence and files of another kind are refused with messages that say
why. Then an oracle stand-in network, which outputs the oracle of exactly what the pipeline gives it, is pushed
through each kind's own `as_separator` pipeline (blocks, spans, windows) and must give the oracle separation
sample for sample. The tiny configurations and oracle stand-ins are those of the per-module tests.
"""
import re
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest

import course_utils as cu
from course_utils import autoencoder, mask_cnn, masks, open_unmix, unet
from course_utils.weights import KINDS
from test_autoencoder import TINY as AUTOENCODER_TINY
from test_autoencoder import oracle_network as autoencoder_oracle
from test_mask_cnn import TINY as FRAME_TINY
from test_mask_cnn import TINY_FCN
from test_mask_cnn import oracle_model as frame_oracle
from test_mask_cnn import oracle_network as fcn_oracle
from test_open_unmix import TINY as OPEN_UNMIX_TINY
from test_open_unmix import oracle_stand_in as open_unmix_oracle
from test_unet import TINY as UNET_TINY
from test_unet import oracle_network as unet_oracle
from test_unet import stereo_song

SOURCES = ["vocals", "accompaniment"]  # the track's stems; every tiny configuration separates these
FCN_TINY = {**TINY_FCN, "sources": SOURCES}
LOADERS = {"unet": unet.load, "mask_cnn": mask_cnn.load, "autoencoder": autoencoder.load, "open_unmix": open_unmix.load}


@dataclass(frozen=True)
class Case:
    """One separator of the contract: its kind, tiny config, how to save a seeded random one, and its oracle."""
    kind: str
    config: dict
    save: Callable    # (path) -> None: build the tiny network (random weights) and save it with the module's own save
    oracle: Callable  # (mixture, stems) -> Separator whose stand-in network outputs the oracle of what it is given
    oracle_mask: str  # the oracle that stand-in gives: "IRM1" (ratio masks) or "IBM1" (S3's binary masks)
    sums: bool        # masks that add up to one in every bin, so the estimates add up to the mixture


def _save_unet(path):
    unet.save_weights(unet.build_from_config(UNET_TINY), path, UNET_TINY, alpha=0.5)


def _save_fcn(path):
    mask_cnn.save_weights(mask_cnn.build_fcn(FCN_TINY), path)


def _save_frame(path):
    mask_cnn.save_weights(mask_cnn.build_mask_cnn(FRAME_TINY), path, source="vocals")


def _save_autoencoder(path):
    autoencoder.save_weights(autoencoder.build_from_config(AUTOENCODER_TINY), path, AUTOENCODER_TINY)


def _save_open_unmix(path):
    open_unmix.save_weights(open_unmix.build_separator_model(OPEN_UNMIX_TINY), path, OPEN_UNMIX_TINY)


CASES = {
    # U-Net: ratio masks of the two magnitude estimates (alpha 0.5), blocks of segment_frames, overlap 0.5
    "unet": Case("unet", UNET_TINY, _save_unet,
                 lambda mix, stems: unet.as_separator(unet_oracle(mix, stems, UNET_TINY, 0.5), UNET_TINY, 0.5),
                 "IRM1", True),
    # the mask CNN that separates (FCN): softmax across the sources, spans of span_frames frames
    "mask_cnn-fcn": Case("mask_cnn", FCN_TINY, _save_fcn,
                         lambda mix, stems: mask_cnn.as_separator(
                             fcn_oracle(mix, stems, {**FCN_TINY, "span_frames": 9})),  # several spans
                         "IRM1", True),
    # S3's per-frame model: one file holds one source's binary mask, so nothing makes the estimates add up; what it
    # guarantees instead is a mask of 0s and 1s (each bin of the mixture STFT kept or removed), checked below
    "mask_cnn-frame": Case("mask_cnn", FRAME_TINY, _save_frame,
                           lambda mix, stems: mask_cnn.as_separator(
                               {name: frame_oracle(mix, stems, name, FRAME_TINY) for name in stems}, FRAME_TINY),
                           "IBM1", False),
    # Chandna's autoencoder: soft masks (o_i + eps) / sum, turned into ratio masks after the blocks are joined
    "autoencoder": Case("autoencoder", AUTOENCODER_TINY, _save_autoencoder,
                        lambda mix, stems: autoencoder.as_separator(
                            autoencoder_oracle(cu.Track(mix, stems, AUTOENCODER_TINY["sr"]), AUTOENCODER_TINY),
                            AUTOENCODER_TINY),
                        "IRM1", True),
    # Open-Unmix: ratio masks of the targets' estimates, spans of span_frames frames (overlap 0.25)
    "open_unmix": Case("open_unmix", OPEN_UNMIX_TINY, _save_open_unmix,
                       lambda mix, stems: open_unmix.as_separator(
                           open_unmix_oracle(mix, stems, OPEN_UNMIX_TINY, 0.25), OPEN_UNMIX_TINY),
                       "IRM1", True),
}


def track(sr):
    """The one tiny track of the contract: 1 s of test_unet's stereo song (noise-like vocals, two tones) at `sr`."""
    song = stereo_song(seconds=1.0, sr=sr)
    return song["mixture"], {name: song[name] for name in SOURCES}


@pytest.fixture(scope="module", params=list(CASES))
def saved(request, tmp_path_factory):
    """(case, path of its saved tiny random network, the Separator `cu.load_separator` builds from it, no config)."""
    import keras

    case = CASES[request.param]
    path = tmp_path_factory.mktemp(request.param) / f"{request.param}.npz"
    keras.utils.set_random_seed(0)
    case.save(path)
    return case, path, cu.load_separator(path)


def test_the_cases_cover_every_kind_and_loader():
    """Every kind a weights file can name has a case here and a module `load`."""
    assert {case.kind for case in CASES.values()} == set(KINDS) == set(LOADERS)


def test_each_kind_separates_the_same_track_through_the_same_call(saved):
    """Loaded from its file, each kind separates the track into finite, mixture-shaped estimates, one per source."""
    case, _, model = saved
    assert isinstance(model, cu.Separator) and model.kind == case.kind and model.config["sr"] == case.config["sr"]
    sr = model.config["sr"]
    mixture, _ = track(sr)
    for iterations in (0, 1):
        estimates = cu.separate(mixture, sr, model, wiener_iterations=iterations)
        assert list(estimates) == list(model.sources)
        for name, estimate in estimates.items():
            assert estimate.shape == mixture.shape, (name, iterations)
            assert np.all(np.isfinite(estimate)), (name, iterations)
        if case.sums:  # masks that add up to 1; the Wiener filter's STFTs add up to the mixture's up to its
            # regularisation (measured: at most 2e-8 without it, 6e-6 with one iteration, on this track)
            assert np.allclose(sum(estimates.values()), mixture, atol=1e-4 if iterations else 1e-6), iterations
    if not case.sums:  # S3's per-frame model: binary masks, each bin of the mixture kept or removed
        predicted, _ = cu.separator.predict_masks(mixture, sr, model)
        assert all(set(np.unique(mask)) <= {0.0, 1.0} for mask in predicted.values())


def test_each_kind_refuses_a_wrong_rate_and_silence(saved):
    """A mixture at another rate or an all-zero one raises a ValueError that says what to do."""
    _, _, model = saved
    sr = model.config["sr"]
    mixture, _ = track(sr)
    with pytest.raises(ValueError, match=f"at {2 * sr} Hz but the model's configuration expects {sr} Hz: resample"):
        cu.separate(mixture, 2 * sr, model)
    with pytest.raises(ValueError, match=r"silent \(all zeros\): there is nothing to separate"):
        cu.separate(np.zeros_like(mixture), sr, model)


def test_each_kinds_file_is_refused_by_every_other_kinds_load(saved):
    """Another module's `load` refuses the file with a message naming the kind it holds and `load_separator`."""
    case, path, _ = saved
    for other, load in LOADERS.items():
        if other == case.kind:
            continue
        message = (rf"holds an? {re.escape(KINDS[case.kind])} \('{case.kind}'\), not an? {re.escape(KINDS[other])}: "
                   rf"load it with course_utils.load_separator")
        with pytest.raises(ValueError, match=message):
            load(path)


@pytest.mark.parametrize("name", list(CASES))
def test_an_oracle_through_each_kinds_pipeline_scores_the_oracle(name):
    """An oracle stand-in through the kind's blocks/spans/windows gives masks.oracle_separation sample for sample."""
    case = CASES[name]
    sr = case.config["sr"]
    mixture, stems = track(sr)
    model = case.oracle(mixture, stems)
    assert model.kind == case.kind and list(model.sources) == SOURCES
    through = cu.separate(mixture, sr, model)
    direct = masks.oracle_separation(mixture, stems, case.oracle_mask, case.config["n_fft"], case.config["hop_length"])
    assert list(through) == SOURCES
    for source in SOURCES:
        assert through[source].shape == mixture.shape
        assert np.max(np.abs(through[source] - direct[source])) < 1e-5, source  # stand-ins pass float32 blocks
