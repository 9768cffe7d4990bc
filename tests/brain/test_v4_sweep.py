"""fit-encoder layer sweeps on a V4-layout session and ``cogvision rsa`` on a 92-image-layout folder."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from distributed import Client, LocalCluster
from typer.testing import CliRunner

from cogvision.brain.layer_sweep import encoder_differences, network_differences, rms_scaled
from cogvision.brain.metrics import r2_per_target
from cogvision.brain.ridge import RidgeCV
from cogvision.cli import app
from cogvision.jobs.fit_encoder import run_fit
from cogvision.jobs.fit_encoder_config import load_config
from tests.brain.test_neural_loaders import make_session

TINY = "cogvision.models.builtin:tiny_cnn"


@pytest.fixture
def session_dir(tmp_path):
    root = tmp_path / "v4"
    make_session(root, session="100", n_neurons=4, n_images=30, raw=True)
    return root


def sweep_config(root, **extra):
    return {"data": {"dataset": "cowley_v4", "path": str(root), "session": "100"},
            "model": {"spec": TINY, "weights": None, "layers": ["features.1", "features.3"], "pool": 2, "size": 32},
            "encoders": [{"type": "ridge", "alphas": [1.0, 100.0, 10000.0], "inner_cv": 3}],
            "cv": {"scheme": "kfold", "n_splits": 3}, "device": "cpu", **extra}


def test_sweep_scores_contract(session_dir, tmp_path):
    run_fit(sweep_config(session_dir), tmp_path / "out", progress=False)
    scores = pd.read_csv(tmp_path / "out" / "scores.csv")
    assert {"layer", "encoder", "neuroid", "r", "r2", "r2_noise_corrected"} <= set(scores.columns)
    assert len(scores) == 2 * 4 and set(scores["layer"]) == {"features.1", "features.3"}
    # the session has raw repeats (pure noise here, so r^2_ER is NaN where the signal variance estimate is <= 0)
    assert scores["r2_noise_corrected"].notna().any()
    summary = pd.read_csv(tmp_path / "out" / "summary.csv")
    assert (summary["median_r_low"] <= summary["median_r_high"]).all()
    assert (tmp_path / "out" / "summary.json").is_file()
    assert (tmp_path / "out" / "figures" / "layer_curves.png").is_file()


def test_sweep_without_repeats_gives_nan(tmp_path):
    root = tmp_path / "v4"
    make_session(root, session="100", n_neurons=4, n_images=30, raw=False)
    run_fit(sweep_config(root), tmp_path / "out", progress=False)
    assert pd.read_csv(tmp_path / "out" / "scores.csv")["r2_noise_corrected"].isna().all()


def test_sweep_dask_equals_single_process(session_dir, tmp_path):
    run_fit(sweep_config(session_dir), tmp_path / "single", progress=False)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, protocol="tcp://", host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as client:
        run_fit(sweep_config(session_dir), tmp_path / "dask", progress=False, dask=client)
    a, b = (pd.read_csv(tmp_path / d / "scores.csv") for d in ("single", "dask"))
    np.testing.assert_allclose(a["r"], b["r"], atol=1e-12)
    np.testing.assert_array_equal(a["best_alpha"], b["best_alpha"])


@pytest.mark.parametrize("change, message", [
    (lambda c: c["data"].update(session="999"), r"session '999' not found"),
    (lambda c: c["data"].update(colour="red"), r"data: unknown key\(s\) \['colour'\]; expected some of \['dataset', "),
    (lambda c: c["model"].update(layers="features.1"), r"model.layers: input should be a valid list, got 'features.1'"),
    (lambda c: c["model"].update(pool="4"), r"model.pool: input should be a valid integer, got '4'"),
    (lambda c: c["encoders"][0].update(alpha=3),
     r"encoders\[0\]: unknown key\(s\) \['alpha'\]; expected some of \['alphas'"),
    (lambda c: c.update(extra=1), r"unknown section\(s\) \['extra'\]"),
    (lambda c: c["model"].update(scale="zscore"), r"model.scale: expected 'none' or 'rms', got 'zscore'"),
    (lambda c: c["model"].update(weights="nowhere.pt"), r"model.weights: file .*nowhere.pt does not exist"),
    (lambda c: c["encoders"].append({"type": "ridge"}), r"encoders have repeated names \['ridge', 'ridge'\]"),
    (lambda c: c["model"].update(spec="os:getcwd"), r"model.spec 'os:getcwd' imports and calls Python code"),
])
def test_sweep_bad_config_writes_nothing(session_dir, tmp_path, change, message):
    config = sweep_config(session_dir)
    change(config)
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        run_fit(config, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_rms_scaling_undoes_a_tiny_feature_scale():
    """A fixed alpha grid shrinks tiny (untrained deep-layer) features to the mean; RMS scaling does not."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 40))
    y = x @ rng.normal(size=(40, 3)) + rng.normal(size=(200, 3))
    alphas = [1.0, 100.0, 10000.0]

    def held_out_r2(features):
        model = RidgeCV(alphas=alphas, cv=3, device="cpu").fit(features[:150], y[:150])
        return np.median(r2_per_target(y[150:], model.predict(features[150:])))

    assert held_out_r2(x) > 0.8
    assert held_out_r2(1e-8 * x) < 0.05  # over-regularised into the mean
    assert held_out_r2(rms_scaled(1e-8 * x)) == pytest.approx(held_out_r2(rms_scaled(x)), abs=1e-9)
    assert np.sqrt(np.mean(rms_scaled(1e-8 * x) ** 2)) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="all zero"):
        rms_scaled(np.zeros((3, 2)))


def test_network_differences_pairs_neurons_at_best_layers(tmp_path):
    neurons = [f"n{i}" for i in range(20)]
    rng = np.random.default_rng(0)
    base = rng.uniform(0.1, 0.3, len(neurons))
    layers = {"trained": {"a": base + 0.2, "b": base + 0.1}, "untrained": {"a": base - 0.05, "b": base}}
    for network, per_layer in layers.items():
        rows = [{"session": "7", "layer": layer, "encoder": "ridge", "neuroid": n, "r2": v}
                for layer, values in per_layer.items() for n, v in zip(neurons, values)]
        (tmp_path / f"{network}_7").mkdir()
        pd.DataFrame(rows).sample(frac=1, random_state=0).to_csv(tmp_path / f"{network}_7" / "scores.csv", index=False)
    (tmp_path / "trained_8").mkdir()  # no untrained partner, no scores: skipped
    table = network_differences(tmp_path, n_boot=200)
    assert len(table) == 1
    row = table.iloc[0]
    assert (row.trained_layer, row.untrained_layer, row.n_neuroids) == ("a", "b", 20)
    assert row.median_difference == pytest.approx(0.2) and row.low == pytest.approx(0.2)
    assert row.fraction_trained_better == 1.0


def test_sweep_yaml_relative_paths(session_dir, tmp_path):
    config = sweep_config("v4")
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config))
    config = load_config(path)
    assert config.path(config.data.path) == tmp_path / "v4"
    run_fit(path, tmp_path / "out", progress=False)
    assert (tmp_path / "out" / "summary.json").is_file()


def test_rsa_command(tmp_path, shared):
    stimuli = shared / "data/fmri/kriegeskorte2008_92images"
    out = tmp_path / "rsa"
    args = ["rsa", "--model", TINY, "--stimuli", str(stimuli), "--out", str(out), "--layers", "features.1,features.3",
            "--n-boot", "5", "--mixed-splits", "2", "--device", "cpu"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "rsa.csv")
    columns = {"layer", "reference", "tau_a", "tau_a_low", "tau_a_high", "ceiling_low", "ceiling_high"}
    assert columns <= set(table.columns)
    assert set(table["reference"]) == {"human_it", "monkey_it"}
    assert table.loc[table["reference"] == "monkey_it", "ceiling_low"].isna().all()  # one monkey RDM: no band
    assert (out / "mixed.csv").is_file() and (out / "figures" / "rsa_layers.png").is_file()
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 2 and "exists and is not" in again.output


def test_rsa_command_bad_stimuli(tmp_path):
    result = CliRunner().invoke(app, ["rsa", "--model", TINY, "--stimuli", str(tmp_path), "--out",
                                      str(tmp_path / "out")])
    assert result.exit_code == 2 and "supplementalData.mat does not exist" in result.output
    assert not (tmp_path / "out").exists()


def test_encoder_differences_at_each_best_layer():
    rows = []
    for n in range(10):
        for layer, ridge, other in (("a", 0.5, 0.1), ("b", 0.2, 0.4 + 0.01 * n)):
            rows += [{"layer": layer, "encoder": "ridge", "neuroid": n, "r2": ridge},
                     {"layer": layer, "encoder": "other", "neuroid": n, "r2": other}]
    table = encoder_differences(pd.DataFrame(rows), n_boot=200)
    row = table.iloc[0]
    assert (row.encoder, row.layer, row.reference_layer) == ("other", "b", "a")  # each at its own best layer
    assert row.median_difference == pytest.approx(0.4 + 0.045 - 0.5) and row.fraction_better == 0.0
    with pytest.raises(ValueError, match="reference encoder 'lasso'"):
        encoder_differences(pd.DataFrame(rows), reference="lasso")
