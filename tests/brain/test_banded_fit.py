"""fit-encoder with several feature spaces (``features: [...]``): outputs, partition tables, resume, errors."""

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from cogvision.jobs.fit_encoder import run_fit
from tests.brain.test_banded import synthetic_partition


def _config(tmp_path, **encoder):
    x, y, bands = synthetic_partition(n=400, t=12)
    np.save(tmp_path / "a.npy", x[:, bands[0]])
    np.save(tmp_path / "b.npy", x[:, bands[1]])
    np.save(tmp_path / "y.npy", y)
    (tmp_path / "rois.txt").write_text("\n".join(["V1"] * 6 + ["V4"] * 6))
    return {"features": [{"file": "a.npy", "name": "early"}, {"file": "b.npy"}],
            "responses": {"npy": "y.npy", "roi_labels": "rois.txt"},
            "encoder": {"type": "banded", "alphas": [0.1, 1, 10, 100], "n_iter": 4, "inner_cv": 3, **encoder},
            "cv": {"scheme": "kfold", "n_splits": 3}, "base_dir": str(tmp_path)}


def test_fit_encoder_writes_per_band_scores_and_partition(tmp_path):
    summary = run_fit(_config(tmp_path), tmp_path / "out", device="cpu", progress=False)
    out = tmp_path / "out"
    scores = pd.read_csv(out / "scores.csv")
    for column in ("r", "r2", "r2_early", "r2_b", "unique_early", "unique_b", "shared", "weight_early", "best_alpha"):
        assert column in scores
    assert len(scores) == 12 and summary["bands"] == {"early": 8, "b": 8}
    rois = pd.read_csv(out / "partition_rois.csv")
    assert list(rois["roi"]) == ["V1", "V4"] and list(rois["n_targets"]) == [6, 6]
    part = xr.load_dataset(out / "partition.nc")
    np.testing.assert_allclose(part["unique"].sel(band="early").values, scores["unique_early"])
    # the synthetic contributions (unique 0.30 and 0.15, shared 0.20), loosely: 12 targets and 400 samples
    assert abs(summary["mean_unique"]["early"] - 0.30) < 0.05 and abs(summary["mean_shared"] - 0.20) < 0.05
    assert (out / "figures" / "partition.png").stat().st_size > 0
    assert json.loads((out / "summary.json").read_text())["n_folds"] == 3
    # resume after losing the summary: the saved folds are reused, the results are the same
    (out / "summary.json").unlink()
    again = run_fit(_config(tmp_path), out, resume=True, device="cpu", progress=False)
    assert again == summary


def test_fit_encoder_banded_config_errors(tmp_path):
    config = _config(tmp_path)
    with pytest.raises(ValueError, match=r"features\[1\]: needs 'file', or 'layer'"):
        run_fit({**config, "features": [{"file": "a.npy"}, {"weights": None}]}, tmp_path / "o1", progress=False)
    with pytest.raises(ValueError, match="same name"):
        run_fit({**config, "features": [{"file": "a.npy"}, {"file": "a.npy"}]}, tmp_path / "o2", progress=False)
    with pytest.raises(ValueError, match=r"encoder: unknown key\(s\) \['epochs'\]"):
        run_fit(_config(tmp_path, epochs=3), tmp_path / "o3", progress=False)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("o")]


def test_fit_encoder_three_bands_writes_pair_specific_shared_variance(tmp_path):
    config = _config(tmp_path, refine=3)
    a = np.load(tmp_path / "a.npy")
    np.save(tmp_path / "a1.npy", a[:, :4])
    np.save(tmp_path / "a2.npy", a[:, 4:])
    config["features"] = [{"file": "a1.npy"}, {"file": "a2.npy"}, {"file": "b.npy"}]
    run_fit(config, tmp_path / "out", device="cpu", progress=False)
    scores = pd.read_csv(tmp_path / "out" / "scores.csv")
    part = xr.load_dataset(tmp_path / "out" / "partition.nc")
    assert list(part["pair"].values) == ["a1&a2", "a1&b", "a2&b"]
    for i, pair in enumerate(part["pair"].values):
        np.testing.assert_allclose(scores[f"shared_{pair}"], part["pair_shared"].values[i])
    np.testing.assert_allclose(scores["shared_higher"], part["shared_higher"].values)
    assert "shared_higher" in pd.read_csv(tmp_path / "out" / "partition_rois.csv")
