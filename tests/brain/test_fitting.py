"""Scripted fits: configs, outputs, overwrite/resume, dask equality, boundary errors, the CLI."""

import json

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml
from distributed import Client, LocalCluster
from typer.testing import CliRunner

from cogvision.brain import RidgeCV, make_splits, pearson_r
from cogvision.cli import app
from cogvision.jobs.fit_encoder import run_fit
from cogvision.jobs.fit_encoder_config import load_config


def _write_npy_problem(tmp_path, n=72, p=9, t=12, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, p))
    y = x @ rng.normal(size=(p, t)) + rng.normal(size=(n, t)) * np.linspace(0.5, 6, t)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    np.save(tmp_path / "runs.npy", np.repeat(np.arange(6), n // 6))
    (tmp_path / "rois.txt").write_text("\n".join(["V1"] * (t // 2) + ["FFA"] * (t - t // 2)))
    config = {
        "features": {"file": "x.npy"},
        "responses": {"npy": "y.npy", "roi_labels": "rois.txt"},
        "groups": "runs.npy",
        "encoder": {"type": "ridge", "alphas": [0.1, 1.0, 10.0, 100.0], "inner_cv": "logo", "n_blocks": 3},
        "cv": {"scheme": "logo"},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path, x, y


def test_ridge_fit_writes_scores_and_matches_direct_loop(tmp_path):
    path, x, y = _write_npy_problem(tmp_path)
    summary = run_fit(path, tmp_path / "out", device="cpu", progress=False)
    scores = pd.read_csv(tmp_path / "out" / "scores.csv")
    assert list(scores.columns[:4]) == ["target", "roi", "r", "r2"] and len(scores) == 12
    groups = np.repeat(np.arange(6), 12)
    pred = np.zeros_like(y)
    for train, test in make_splits(72, "logo", groups):
        model = RidgeCV(alphas=[0.1, 1.0, 10.0, 100.0], cv="logo", device="cpu")
        model.fit(x[train], y[train], groups=groups[train])
        pred[test] = model.predict(x[test])
    np.testing.assert_allclose(scores["r"], pearson_r(y, pred), atol=1e-6)
    assert summary["n_folds"] == 6 and json.loads((tmp_path / "out" / "summary.json").read_text()) == summary
    rois = pd.read_csv(tmp_path / "out" / "roi_summary.csv")
    assert sorted(rois["roi"]) == ["FFA", "V1"]
    assert (tmp_path / "out" / "figures" / "score_hist.png").is_file()
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "out" / "scores.parquet"), scores)
    assert json.loads((tmp_path / "out" / "run.json").read_text())["seed"] == 0


def test_refuses_overwrite_and_resumes(tmp_path):
    path, *_ = _write_npy_problem(tmp_path)
    out = tmp_path / "out"
    run_fit(path, out, device="cpu", progress=False)
    with pytest.raises(FileExistsError, match="overwrite"):
        run_fit(path, out, device="cpu", progress=False)
    first = pd.read_csv(out / "scores.csv")
    # simulate an interruption after fold 2: outputs and later folds gone
    for name in ("summary.json", "scores.csv", "folds/fold_3.npz", "folds/fold_4.npz", "folds/fold_5.npz"):
        (out / name).unlink()
    before = (out / "folds" / "fold_0.npz").stat().st_mtime_ns
    run_fit(path, out, device="cpu", progress=False, resume=True)
    assert (out / "folds" / "fold_0.npz").stat().st_mtime_ns == before  # finished folds are not refitted
    pd.testing.assert_frame_equal(pd.read_csv(out / "scores.csv"), first)
    run_fit(path, out, device="cpu", progress=False, overwrite=True)


def test_dask_local_cluster_gives_identical_results(tmp_path):
    path, *_ = _write_npy_problem(tmp_path)
    run_fit(path, tmp_path / "single", device="cpu", progress=False)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, protocol="tcp://", host="127.0.0.1",
                      dashboard_address=None) as cluster, \
            Client(cluster) as client:
        run_fit(path, tmp_path / "dask", device="cpu", progress=False, dask=client)
    single = pd.read_csv(tmp_path / "single" / "scores.csv")
    dask = pd.read_csv(tmp_path / "dask" / "scores.csv")
    np.testing.assert_array_equal(single["best_alpha"], dask["best_alpha"])
    np.testing.assert_allclose(single["r"], dask["r"], atol=1e-12)


def test_config_and_data_errors_are_clear(tmp_path):
    path, *_ = _write_npy_problem(tmp_path)
    config = yaml.safe_load(path.read_text())
    config["base_dir"] = str(tmp_path)
    with pytest.raises(ValueError, match="encoder.type: 'svm' is not one of 'ridge', 'factorized'"):
        load_config({**config, "encoder": {"type": "svm"}})
    with pytest.raises(ValueError, match=r"unknown section\(s\) \['voxels'\]; expected some of \['allow_code'"):
        load_config({**config, "voxels": 3})
    bad_rois = {**config, "responses": {**config["responses"], "rois": ["V1", "PPA"]}}
    with pytest.raises(ValueError, match=r"unknown ROI label\(s\) \['PPA'\]"):
        run_fit(bad_rois, tmp_path / "o1", device="cpu", progress=False)
    np.save(tmp_path / "short.npy", np.zeros((10, 3)))
    with pytest.raises(ValueError, match="samples but the features have"):
        run_fit({**config, "responses": {"npy": "short.npy"}}, tmp_path / "o2", device="cpu", progress=False)
    y = np.load(tmp_path / "y.npy")
    y[5, 1] = np.inf
    np.save(tmp_path / "inf.npy", y)
    with pytest.raises(ValueError, match="NaN or Inf"):
        run_fit({**config, "responses": {"npy": "inf.npy"}}, tmp_path / "o3", device="cpu", progress=False)
    y[5, 1] = 0
    y[:, 4] = 2.0
    np.save(tmp_path / "flat.npy", y)
    with pytest.raises(ValueError, match="zero-variance"):
        run_fit({**config, "responses": {"npy": "flat.npy"}}, tmp_path / "o4", device="cpu", progress=False)
    with pytest.raises(FileNotFoundError, match="features.file: file .*missing.npy does not exist"):
        run_fit({**config, "features": {"file": "missing.npy"}}, tmp_path / "o5", device="cpu", progress=False)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("o")]  # every failure before any folder


def test_surface_responses_write_gifti_scores(tmp_path):
    path, x, y = _write_npy_problem(tmp_path)
    np.save(tmp_path / "lh.npy", y[:, :5])
    np.save(tmp_path / "rh.npy", y[:, 5:])
    config = {"features": {"file": "x.npy"}, "responses": {"lh": "lh.npy", "rh": "rh.npy"},
              "encoder": {"type": "ridge", "alphas": [1.0, 10.0]}, "cv": {"scheme": "kfold", "n_splits": 3},
              "base_dir": str(tmp_path)}
    run_fit(config, tmp_path / "out", device="cpu", progress=False)
    scores = pd.read_csv(tmp_path / "out" / "scores.csv")
    assert scores["hemisphere"].tolist() == ["lh"] * 5 + ["rh"] * 7
    rh = nib.load(tmp_path / "out" / "scores_rh.func.gii").darrays[0].data
    np.testing.assert_allclose(rh, scores["r"][5:], atol=1e-6)


def test_cli_fit_encoder_runs_and_refuses_overwrite(tmp_path):
    path, *_ = _write_npy_problem(tmp_path)
    runner = CliRunner()
    out = tmp_path / "cli_out"
    result = runner.invoke(app, ["fit-encoder", str(path), "--out", str(out), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "mean_r" in result.output
    again = runner.invoke(app, ["fit-encoder", str(path), "--out", str(out), "--device", "cpu"])
    assert again.exit_code == 2 and "overwrite" in again.output


def test_transformer_fit_on_synthetic_dataset_writes_routing_maps(tmp_path):
    config = {
        "data": {"dataset": "synthetic", "n_stimuli": 60, "n_retinotopic": 4, "n_category": 4},
        "encoder": {"type": "transformer", "queries": "roi", "d_model": 16, "n_heads": 2, "dim_feedforward": 32,
                    "epochs": 2},
        "cv": {"scheme": "split", "test_fraction": 0.2},
    }
    summary = run_fit(config, tmp_path / "out", device="cpu", progress=False)
    assert summary["n_targets"] == 8 and summary["n_folds"] == 1
    with xr.open_dataarray(tmp_path / "out" / "routing_maps.nc") as routing:
        assert routing.dims == ("stimulus", "query", "y", "x") and routing.sizes["stimulus"] == 12
    assert (tmp_path / "out" / "checkpoints" / "fold_0" / "last.pt").is_file()
