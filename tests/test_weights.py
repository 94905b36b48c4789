"""course_utils/weights.py: one weights format for every model, refusing files that do not fit."""
import numpy as np
import pytest

from course_utils import weights


def tiny_model(units=3):
    import keras

    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(units)])


def test_round_trip_keeps_arrays_and_meta(tmp_path):
    model = tiny_model()
    path = tmp_path / "sub" / "model.npz"
    weights.save_weights_file(model, path, "unet", {"config": {"units": 3}, "note": "x"})
    meta, arrays = weights.read_weights_file(path)
    assert meta == {"format": weights.FORMAT, "kind": "unet", "config": {"units": 3}, "note": "x"}
    other = tiny_model()
    weights.set_checked_weights(other, arrays, path)
    assert all(np.array_equal(a, b) for a, b in zip(other.get_weights(), model.get_weights()))


def test_large_kernels_are_stored_in_half_precision(tmp_path):
    model = tiny_model(units=weights.HALF_PRECISION_MIN_SIZE // 4)  # kernel 4 x units: just large enough
    path = tmp_path / "model.npz"
    weights.save_weights_file(model, path, "unet", {"config": {}})
    with np.load(path) as data:
        assert data["w000"].dtype == np.float16 and data["w001"].dtype == np.float32  # kernel, bias
    _, arrays = weights.read_weights_file(path)
    kernel, bias = model.get_weights()
    assert arrays[0].dtype == np.float32 and np.allclose(arrays[0], kernel, rtol=1e-3, atol=1e-7)
    assert np.array_equal(arrays[1], bias)
    too_big = np.full((64, 64), 1e6, np.float32)  # beyond float16's range: kept as it is
    assert weights._compact(too_big).dtype == np.float32


def test_refusals(tmp_path):
    model = tiny_model()
    path = tmp_path / "model.npz"
    weights.save_weights_file(model, path, "unet", {"config": {"units": 3}})
    _, arrays = weights.read_weights_file(path)
    with pytest.raises(ValueError, match="2 arrays for 2 weights"):
        weights.set_checked_weights(tiny_model(units=5), arrays, path)
    with pytest.raises(ValueError, match=r"another configuration: \(file, requested\) = \{'units': \(3, 5\)\}"):
        weights.check_same_config(path, {"units": 3}, {"units": 5})
    weights.check_same_config(path, {"units": 3}, None)  # nothing requested: nothing to refuse
    with pytest.raises(FileNotFoundError, match="No U-Net weights at .*: run the script"):
        weights.read_weights_file(tmp_path / "missing.npz", "unet", "run the script")
    with pytest.raises(ValueError, match="holds a U-Net .'unet'., not a mask CNN: load it with .*load_separator"):
        weights.read_weights_file(path, "mask_cnn")
    with pytest.raises(ValueError, match="kind must be one of"):
        weights.save_weights_file(model, path, "unets", {})
    np.savez(tmp_path / "old.npz", meta=np.array('{"format": 1, "config": {}}'), w000=np.ones(2))
    with pytest.raises(ValueError, match="older version of the course.*retrain"):
        weights.read_weights_file(tmp_path / "old.npz")
    np.savez(tmp_path / "plain.npz", w000=np.ones(2))
    with pytest.raises(ValueError, match="no 'meta' entry"):
        weights.read_weights_file(tmp_path / "plain.npz")
