"""Bad inputs to ``fit-encoder`` and ``rsa``: one ``error:`` line, exit code 2, no traceback, every file that was there
byte-identical and nothing added; an interrupted fit keeps the previous output and ``--resume`` reproduces the
uninterrupted result exactly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml
from typer.testing import CliRunner

from cogvision.brain.fitting import fit_fold
from cogvision.cli import app
from tests.brain.test_neural_loaders import make_session
from tests.helpers import snapshot

runner = CliRunner()
TINY = "builtin:tiny_cnn"


def _good(ws: Path) -> dict:
    return {"features": {"file": "x.npy"}, "responses": {"npy": "y.npy"},
            "encoder": {"type": "ridge", "alphas": [0.1, 1.0, 10.0]}, "cv": {"scheme": "kfold", "n_splits": 3}}


@pytest.fixture
def ws(tmp_path):
    """Inputs, good and broken, and a finished result folder that must survive every failure."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(36, 5))
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", x @ rng.normal(size=(5, 4)) + rng.normal(size=(36, 4)))
    np.save(tmp_path / "y_short.npy", rng.normal(size=(30, 4)))
    y_nan = rng.normal(size=(36, 4))
    y_nan[3, 2] = np.nan
    np.save(tmp_path / "y_nan.npy", y_nan)
    (tmp_path / "corrupt.npy").write_bytes(b"\x93NUMPY garbage")
    (tmp_path / "corrupt.nc").write_bytes(b"CDF\x01 not really netcdf")
    (tmp_path / "rois.txt").write_text("V1\nV1\nV4\n")
    make_session(tmp_path / "v4", session="100", n_neurons=3, n_images=12)
    (tmp_path / "file").write_text("a file, not a folder")
    prev = tmp_path / "prev"
    prev.mkdir()
    (prev / "keep.txt").write_text("finished results")
    return tmp_path


def _sweep(ws: Path) -> dict:
    return {"data": {"dataset": "cowley_v4", "path": "v4", "session": "100"},
            "model": {"spec": TINY, "layers": ["features.1"], "pool": 2, "size": 32},
            "encoders": [{"type": "ridge", "alphas": [1.0]}], "cv": {"scheme": "kfold", "n_splits": 3}}


def _to_sweep(block: str, remove: bool = False, **changes):
    def change(config: dict) -> None:
        config.clear()
        config.update(_sweep(Path(".")))
        config[block].update(changes)
        if remove:
            del config[block]
    return change


def _without(key: str, **changes):
    def change(config: dict) -> None:
        del config[key]
        config.update(changes)
    return change


def _set(path: str, value):
    def change(config: dict) -> None:
        *parents, key = path.split(".")
        for part in parents:
            config = config[part]
        config[key] = value
    return change


CASES = [
    # (change to the good config, extra flags, expected message)
    (_set("encoder.alpahs", [1]), [], "encoder: unknown key(s) ['alpahs']; expected some of ['alphas'"),
    (_set("cv.folds", 3), [], "cv: unknown key(s) ['folds']; expected some of ['n_splits', 'scheme', 'test_fraction']"),
    (_set("features.layr", "x"), [], "features: unknown key(s) ['layr']; expected some of ['file', 'layer'"),
    (_set("responses.npz", "y.npz"), [], "responses: unknown key(s) ['npz']"),
    (_set("colour", "red"), [], "unknown section(s) ['colour']; expected some of ['allow_code'"),
    (_set("encoder.type", "svm"), [],
     "encoder.type: 'svm' is not one of 'ridge', 'factorized', 'transformer', 'banded'"),
    (_set("cv.scheme", "loo"), [], "cv.scheme: expected 'kfold', 'logo' or 'split', got 'loo'"),
    (_set("cv.n_splits", "3"), [], "cv.n_splits: input should be a valid integer, got '3'"),
    (_set("encoder.alphas", "1, 10"), [], "encoder.alphas: input should be a valid list, got '1, 10'"),
    (_set("encoder.alphas", [1, -10]), [], "encoder.alphas[1]: input should be greater than 0, got -10"),
    (_set("seed", 1.5), [], "seed: input should be a valid integer, got 1.5"),
    (_set("encoder", {"type": "transformer", "queries": "voxel"}), [], "encoder.queries: expected one of"),
    (_set("encoder", {"type": "factorized", "spatial": "square"}), [], "encoder.spatial: expected 'gaussian' or "
                                                                       "'softmax', got 'square'"),
    (_set("data", {"dataset": "haxby", "design": "hrf", "runs": 3}), [], "data: unknown key(s) ['runs']"),
    (_set("features", {"model": "os:getcwd", "layer": "a"}), [], "features.model 'os:getcwd' imports and calls "
                                                                 "Python code"),
    (_set("features.file", "corrupt.npy"), [], "features file"),
    (_set("features.file", "corrupt.nc"), [], "corrupt.nc is not a readable .nc file"),
    (_set("features.file", "missing.npy"), [], "features.file: file"),
    (_set("responses.npy", "y_short.npy"), [], "responses has 30 samples but the features have 36"),
    (_set("responses.npy", "y_nan.npy"), [], "responses holds NaN or Inf in 1 targets (first: [2])"),
    (_set("responses.roi_labels", "rois.txt"), [], "roi_labels has 3 labels but the responses have 4 targets"),
    (_set("responses.rois", ["FFA"]), [], "responses.rois names unknown ROI label(s) ['FFA']"),
    (_set("cv.scheme", "logo"), [], "cv.scheme 'logo' needs groups"),
    (_set("device", "gpu"), [], "unknown device 'gpu'"),
    (lambda c: None, ["--out", "{ws}/file"], "is a file; expected a folder"),
    (lambda c: None, ["--out", "{ws}/prev"], "exists and is not empty"),
    (lambda c: None, ["--overwrite", "--resume"], "exclude each other"),
    (_to_sweep("data", session="999"), [], "session '999' not found"),
    (_to_sweep("model", weights="none.pt"), [], "model.weights: file"),
    (_to_sweep("model", layers=[]), [], "model.layers: list should have at least 1 item"),
    (_to_sweep("model", remove=True), [], "a layer sweep needs both 'model' and data.dataset 'cowley_v4'"),
    (_without("encoder", encoders=[{"type": "ridge"}]), [], "'encoders' (a list) is for a layer sweep"),
]


@pytest.mark.parametrize("change, flags, message", CASES, ids=[m[:40] for _, _, m in CASES])
def test_bad_input_is_one_clear_error_and_nothing_is_lost(ws, change, flags, message):
    config = _good(ws)
    change(config)
    (ws / "fit.yaml").write_text(yaml.safe_dump(config))
    before = snapshot(ws)
    flags = [f.format(ws=ws) for f in flags]
    out = [] if "--out" in flags else ["--out", str(ws / ("prev" if "--overwrite" in flags else "new"))]
    device = [] if "device" in config else ["--device", "cpu"]
    result = runner.invoke(app, ["fit-encoder", str(ws / "fit.yaml"), *out, *device, *flags])
    output = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert output.startswith("error:") and message in output, result.output
    assert "Traceback" not in result.output
    assert snapshot(ws) == before  # every file byte-identical, nothing added
    assert not [p for p in ws.iterdir() if ".partial-" in p.name or ".tmp" in p.name]


RSA_CASES = [
    (["--metric", "manhattan"], "'manhattan' is not one of"),
    (["--method", "spearman_rho"], "'spearman_rho' is not one of"),
    (["--paired-untrained"], "--paired-untrained compares trained with untrained weights"),
    (["--layers", " , "], "--layers: expected a comma-separated list"),
    (["--device", "cuda:7"], "CUDA is not available"),
]


@pytest.mark.parametrize("flags, message", RSA_CASES, ids=[m[:30] for _, m in RSA_CASES])
def test_rsa_bad_input(ws, flags, message):
    before = snapshot(ws)
    result = runner.invoke(app, ["rsa", "--model", TINY, "--stimuli", str(ws / "v4"), "--out", str(ws / "new"),
                                 *flags])
    assert result.exit_code == 2 and message in " ".join(result.output.split()), result.output
    assert "Traceback" not in result.output and snapshot(ws) == before


def _slow_config(ws: Path) -> Path:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(60, 2, 4, 4)).astype(np.float32)
    np.save(ws / "grid.npy", x)
    np.save(ws / "y_grid.npy", x.reshape(60, -1) @ rng.normal(size=(32, 5)) + rng.normal(size=(60, 5)))
    path = ws / "slow.yaml"
    path.write_text(yaml.safe_dump({
        "features": {"file": "grid.npy"}, "responses": {"npy": "y_grid.npy"},
        "encoder": {"type": "transformer", "queries": "single", "d_model": 8, "n_heads": 2, "dim_feedforward": 8,
                    "epochs": 3, "patience": None}, "cv": {"scheme": "kfold", "n_splits": 4}, "device": "cpu"}))
    return path


def test_interrupted_fit_resumes_to_the_uninterrupted_result(ws, monkeypatch):
    config = _slow_config(ws)
    assert runner.invoke(app, ["fit-encoder", str(config), "--out", str(ws / "full")]).exit_code == 0
    calls = []
    real = fit_fold

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr("cogvision.jobs.fit_encoder.fit_fold", interrupted)
    stopped = runner.invoke(app, ["fit-encoder", str(config), "--out", str(ws / "part")])
    assert stopped.exit_code == 130, stopped.output
    assert sorted(p.name for p in (ws / "part" / "folds").iterdir()) == ["fold_0.npz", "fold_1.npz"]
    assert not (ws / "part" / "summary.json").exists()
    monkeypatch.setattr("cogvision.jobs.fit_encoder.fit_fold", real)
    resumed = runner.invoke(app, ["fit-encoder", str(config), "--out", str(ws / "part"), "--resume"])
    assert resumed.exit_code == 0, resumed.output
    pd.testing.assert_frame_equal(pd.read_csv(ws / "part" / "scores.csv"), pd.read_csv(ws / "full" / "scores.csv"))
    np.testing.assert_array_equal(np.load(ws / "part" / "predictions.npy"), np.load(ws / "full" / "predictions.npy"))
    xr.testing.assert_identical(xr.load_dataset(ws / "part" / "routing_maps.nc"),
                                xr.load_dataset(ws / "full" / "routing_maps.nc"))


def test_sigint_during_overwrite_keeps_the_previous_output(ws):
    config = _slow_config(ws)
    before = snapshot(ws / "prev")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "cogvision.cli", "fit-encoder", str(config), "--out",
                             str(ws / "prev"), "--overwrite"], cwd=Path(__file__).parents[2], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while not list(ws.glob(".prev.partial-*/prev/folds/fold_0.npz")) and proc.poll() is None:
        assert time.monotonic() < deadline, "the fit never saved a fold"
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    output = proc.communicate(timeout=60)[0].decode()
    assert proc.returncode == 130, output
    assert snapshot(ws / "prev") == before
    assert not list(ws.glob(".prev.partial-*"))
