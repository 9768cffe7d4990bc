"""Paired bootstrap of model minus baseline RSA (trained minus untrained network)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cogvision.brain.rsa import bootstrap_compare, compare_rdms, compute_rdm, paired_difference

TINY = "cogvision.models.builtin:tiny_cnn"


@pytest.fixture
def rdms():
    rng = np.random.default_rng(1)
    truth = rng.normal(size=(30, 12))
    subjects = np.stack([compute_rdm(truth + 1.0 * rng.normal(size=truth.shape)) for _ in range(3)])
    feats = {"a": truth + 0.3 * rng.normal(size=truth.shape), "b": truth + 0.6 * rng.normal(size=truth.shape)}
    good = {k: compute_rdm(f) for k, f in feats.items()}
    # the baseline degrades the model's own features: their scores rise and fall with the same stimuli
    poor = {k: compute_rdm(f + 1.5 * rng.normal(size=truth.shape)) for k, f in feats.items()}
    return good, poor, {"ref": subjects}


def test_difference_is_model_minus_baseline(rdms):
    good, poor, refs = rdms
    table = paired_difference(good, poor, refs, n_boot=200, seed=0).set_index("layer")
    point_good = compare_rdms(np.stack(list(good.values())), refs["ref"]).mean(1)
    point_poor = compare_rdms(np.stack(list(poor.values())), refs["ref"]).mean(1)
    assert table.loc["a", "difference"] == pytest.approx(point_good[0] - point_poor[0], abs=1e-12)
    assert table.loc["best", "difference"] == pytest.approx(point_good.max() - point_poor.max(), abs=1e-12)
    assert table.loc["a", "model"] == pytest.approx(point_good[0], abs=1e-12)
    assert (table["difference_low"] > 0).all() and (table["p_value"] < 0.05).all()
    assert list(table.index) == ["a", "b", "best"]


def test_paired_interval_narrower_than_unpaired(rdms):
    good, poor, refs = rdms
    table = paired_difference(good, poor, refs, n_boot=300, seed=0).set_index("layer")
    a = bootstrap_compare(good["a"], refs["ref"], n_boot=300, seed=1, ceiling=False)["score"][:, 0]
    b = bootstrap_compare(poor["a"], refs["ref"], n_boot=300, seed=2, ceiling=False)["score"][:, 0]
    unpaired = np.percentile(a - b, [2.5, 97.5])  # independent samples of stimuli for each network
    assert table.loc["a", "difference_high"] - table.loc["a", "difference_low"] < unpaired[1] - unpaired[0]


def test_same_network_gives_zero(rdms):
    good, _, refs = rdms
    table = paired_difference(good, good, refs, n_boot=50, seed=0)
    assert np.allclose(table[["difference", "difference_low", "difference_high"]], 0)
    assert (table["p_value"] == 1).all()


def test_paired_errors(rdms):
    good, _, refs = rdms
    with pytest.raises(ValueError, match="at least one layer"):
        paired_difference(good, {}, refs)
    with pytest.raises(ValueError, match="same stimuli"):
        paired_difference(good, {"a": np.zeros((5, 5))}, refs, n_boot=2)


def test_rsa_command_paired_untrained(tmp_path, shared):
    import torch
    from typer.testing import CliRunner

    from cogvision.cli import app
    from cogvision.models import load_model

    torch.manual_seed(7)  # "trained" weights: another init than the command's seed-0 untrained network
    weights = tmp_path / "tiny.pth"
    torch.save(load_model(TINY, device="cpu").state_dict(), weights)
    stimuli = shared / "data/fmri/kriegeskorte2008_92images"
    base = ["rsa", "--model", TINY, "--stimuli", str(stimuli), "--layers", "features.1,features.3", "--n-boot", "5",
            "--device", "cpu", "--paired-untrained"]
    result = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "no_weights")])
    assert result.exit_code != 0 and not (tmp_path / "no_weights").exists()
    out = tmp_path / "rsa"
    result = CliRunner().invoke(app, [*base, "--weights", str(weights), "--out", str(out)])
    assert result.exit_code == 0, result.output
    paired = pd.read_csv(out / "paired.csv")
    assert set(paired["layer"]) == {"features.1", "features.3", "best"}
    assert set(paired["reference"]) == {"human_it", "monkey_it"}
    rsa = pd.read_csv(out / "rsa.csv").set_index(["layer", "reference"])
    row = paired.set_index(["layer", "reference"]).loc[("features.3", "human_it")]
    assert row["model"] == pytest.approx(rsa.loc[("features.3", "human_it"), "tau_a"], abs=1e-12)
    assert abs(row["difference"]) > 0  # a different init gives a different RDM
