"""save/load of every fitted encoder: safetensors + JSON config, rebuilt by keyword, identical predictions."""

import numpy as np
import pandas as pd
import pytest

from cogvision.brain import FactorizedEncoder, RidgeCV, TransformerBrainEncoder


@pytest.fixture(scope="module")
def grid_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 5, 6, 7)).astype(np.float32)  # unequal sizes: a transposed axis would fail
    y = x.reshape(40, -1) @ rng.normal(size=(5 * 6 * 7, 9)) * 0.1 + rng.normal(size=(40, 9))
    return x, y


@pytest.mark.parametrize("make", [
    lambda: FactorizedEncoder(epochs=2, n_centres=3, device="cpu"),
    lambda: FactorizedEncoder(spatial="softmax", init="centre", epochs=2, device="cpu"),
    lambda: TransformerBrainEncoder(queries="roi", d_model=8, n_heads=2, dim_feedforward=16, epochs=2, device="cpu"),
    lambda: TransformerBrainEncoder(queries="roi+hemisphere", d_model=8, n_heads=2, dim_feedforward=16, epochs=2,
                                    device="cpu"),
])
def test_neural_encoders_round_trip(tmp_path, grid_data, make):
    x, y = grid_data
    info = pd.DataFrame({"roi": ["a", "b", "c"] * 3, "hemisphere": ["lh"] * 4 + ["rh"] * 5})
    model = make()
    model.fit(x, y, target_info=info) if isinstance(model, TransformerBrainEncoder) else model.fit(x, y)
    path = model.save(tmp_path / "enc.safetensors")
    loaded = type(model).load(path, device="cpu")
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.get_params() == {**model.get_params(), "sigmas": list(model.get_params().get("sigmas", []))} \
        if isinstance(model, FactorizedEncoder) else loaded.get_params() == model.get_params()
    pd.testing.assert_frame_equal(loaded.history_, model.history_, check_dtype=False)
    if isinstance(model, FactorizedEncoder):
        pd.testing.assert_frame_equal(loaded.rf_table_, model.rf_table_)
    else:
        assert loaded.query_names_ == model.query_names_
        np.testing.assert_array_equal(loaded.routing_maps(x[:3]).values, model.routing_maps(x[:3]).values)


def test_ridge_round_trip(tmp_path, grid_data):
    x, y = grid_data
    for target in (y, y[:, 0]):
        model = RidgeCV(alphas=[0.1, 10.0, 1000.0], cv=3, device="cpu").fit(x.reshape(40, -1), target)
        loaded = RidgeCV.load(model.save(tmp_path / "ridge.safetensors"), device="cpu")
        np.testing.assert_array_equal(loaded.predict(x.reshape(40, -1)), model.predict(x.reshape(40, -1)))
        np.testing.assert_array_equal(loaded.best_alphas_, model.best_alphas_)
        assert loaded.get_params()["alphas"] == [0.1, 10.0, 1000.0]


def test_load_refuses_other_files(tmp_path, grid_data):
    x, y = grid_data
    model = RidgeCV(alphas=[1.0], cv=3, device="cpu").fit(x.reshape(40, -1), y)
    path = model.save(tmp_path / "ridge.safetensors")
    with pytest.raises(ValueError, match="holds RidgeCV .* not a FactorizedEncoder"):
        FactorizedEncoder.load(path)
    (tmp_path / "bad.safetensors").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="not a readable .safetensors file"):
        RidgeCV.load(tmp_path / "bad.safetensors")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        RidgeCV.load(tmp_path / "none.safetensors")
    with pytest.raises(ValueError, match="not fitted"):
        FactorizedEncoder().save(tmp_path / "f.safetensors")
    with pytest.raises(ValueError, match=".safetensors file"):
        model.save(tmp_path / "ridge.pt")
