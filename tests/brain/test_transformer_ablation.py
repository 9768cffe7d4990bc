"""The ablation study of the transformer encoder's claim: its generator control, readout and statistics."""

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

from cogvision.brain.ablation import summarize, t_interval, target_table
from cogvision.brain.transformer import (
    GatherReadout,
    MembershipReadout,
    TransformerBrainEncoder,
    query_membership,
)
from cogvision.jobs.brain_ablation import ablation_study
from data_loaders.synthetic_brain import category_pooling_maps, make_synthetic_brain


@pytest.fixture(scope="module")
def brains():
    kw = dict(n_retinotopic=8, n_category=4, noise_ceiling=0.8, seed=3)
    return make_synthetic_brain(80, **kw), make_synthetic_brain(80, category_pooling="fixed", **kw)


def test_fixed_pooling_maps_ignore_content():
    rng = np.random.default_rng(0)
    content = rng.random((5, 2, 8, 8)) * (rng.random((5, 2, 1, 1)) > 0.5)
    fixed = category_pooling_maps(content, "fixed", seed=1)
    assert np.array_equal(category_pooling_maps(content, "content", seed=1), content)
    # the same maps for every stimulus, and for any other content
    assert np.allclose(fixed, fixed[:1])
    assert np.array_equal(fixed, category_pooling_maps(rng.random(content.shape), "fixed", seed=1))
    assert np.allclose(fixed.sum((2, 3)), 1)
    assert not np.allclose(fixed[0, 0], fixed[0, 1])  # each category its own place
    with pytest.raises(ValueError, match="category_pooling"):
        category_pooling_maps(content, "gated", seed=1)


def test_fixed_brain_has_no_content_gating(brains):
    content_ds, fixed_ds = brains
    category = content_ds["kind"].values == "category"
    for ds, gated in ((content_ds, True), (fixed_ds, False)):
        spread = []
        for cat in ds["category"].values:
            absent = ds["content"].sel(category=cat).sum(("y", "x")).values == 0
            voxels = category & (ds["preferred"].values == cat)
            spread.append(ds["signal"].values[np.ix_(absent, voxels)].std(0))
        spread = np.concatenate(spread)
        if gated:  # content absent -> nothing pooled -> one constant value
            assert spread.max() < 1e-9
        else:
            assert spread.min() > 0.3
    # everything but the category voxels is drawn identically
    assert np.array_equal(content_ds["signal"].values[:, ~category], fixed_ds["signal"].values[:, ~category])
    assert not np.allclose(content_ds["signal"].values[:, category], fixed_ds["signal"].values[:, category])
    assert fixed_ds.attrs["category_pooling"] == "fixed"


def test_hemisphere_labels(brains):
    ds = brains[0]
    retino = ds["kind"].values == "retinotopic"
    right_field = ds["rf_x"].values[retino] > (ds.sizes["x"] - 1) / 2
    assert np.array_equal(ds["hemisphere"].values[retino] == "lh", right_field)
    assert set(ds["hemisphere"].values[~retino]) == {"lh", "rh"}


def test_shuffled_labels_keep_roi_sizes(brains):
    ds = brains[0]
    true, shuffled = target_table(ds, "transformer", 0), target_table(ds, "shuffled_roi", 0)
    assert (true["roi"].value_counts().sort_index() == shuffled["roi"].value_counts().sort_index()).all()
    assert (true["roi"] != shuffled["roi"]).mean() > 0.3
    assert true["hemisphere"].equals(shuffled["hemisphere"])


def test_membership_readout_sums_its_queries_and_equals_gather_with_one_each():
    torch.manual_seed(0)
    out = torch.randn(4, 3, 8)
    membership = torch.tensor([[1, 0, 1], [0, 1, 0], [1, 1, 1]], dtype=torch.float32)
    readout = MembershipReadout(membership, 8)
    expect = torch.stack([(out[:, membership[t].bool()].sum(1) * readout.weight[t]).sum(-1) for t in range(3)], 1)
    assert torch.allclose(readout(out), expect + readout.bias, atol=1e-6)
    index = torch.tensor([2, 0, 1, 2])
    gather, single = GatherReadout(index, 8), MembershipReadout(torch.eye(3)[index], 8)
    single.load_state_dict({**single.state_dict(), "weight": gather.weight.detach(), "bias": gather.bias.detach()})
    assert torch.allclose(gather(out), single(out), atol=1e-6)
    with pytest.raises(ValueError, match="at least one query"):
        MembershipReadout(torch.tensor([[1.0, 0.0], [0.0, 0.0]]), 8)


def test_query_membership_and_errors():
    info = pd.DataFrame({"roi": ["a", "b", "a"], "hemisphere": ["lh", "lh", "rh"]})
    m, names = query_membership(info, 3, "roi+hemisphere")
    assert names == ["roi=a", "roi=b", "hemisphere=lh", "hemisphere=rh"]
    assert np.array_equal(m, [[1, 0, 1, 0], [0, 1, 1, 0], [1, 0, 0, 1]])
    for mode, match in (("roi+roi", "distinct"), ("roi+colour", "distinct"), ("roi+stream", "lacks")):
        with pytest.raises(ValueError, match=match):
            query_membership(info, 3, mode)
    with pytest.raises(ValueError, match="rows"):
        query_membership(info, 4, "roi+hemisphere")


def test_multi_membership_encoder_fits(brains):
    ds = brains[0]
    x, y = ds["features"].values, ds["responses"].values
    info = target_table(ds, "roi+hemisphere", 0)
    model = TransformerBrainEncoder(queries="roi+hemisphere", d_model=16, n_heads=2, dim_feedforward=16, epochs=2,
                                    device="cpu").fit(x[:60], y[:60], target_info=info)
    assert model.membership_.shape == (y.shape[1], len(model.query_names_))
    assert (model.membership_.sum(1) == 2).all()
    assert model.predict(x[60:]).shape == (20, y.shape[1])
    assert model.routing_maps(x[60:62]).sizes["query"] == len(model.query_names_)


def test_t_interval_equals_scipy():
    values = np.array([0.2, 0.35, 0.31, 0.18, 0.4])
    mean, low, high = t_interval(values)
    ref = stats.t.interval(0.95, 4, loc=values.mean(), scale=stats.sem(values))
    assert mean == pytest.approx(values.mean())
    assert (low, high) == pytest.approx(ref, abs=1e-12)
    assert np.isnan(t_interval([0.3])[1])


def test_summarize_pairs_by_seed():
    rows = []
    for seed, shift in enumerate([0.0, 0.5, 1.0]):  # large between-seed spread, constant paired gap
        rows += [{"seed": seed, "pooling": "content", "encoder": "ridge", "kind": "category", "mean_r": 0.2 + shift},
                 {"seed": seed, "pooling": "content", "encoder": "transformer", "kind": "category",
                  "mean_r": 0.3 + shift + 0.01 * seed}]
    table = summarize(pd.DataFrame(rows), baselines=("ridge",)).set_index("encoder")
    assert table.loc["transformer", "minus_ridge"] == pytest.approx(0.11)
    assert table.loc["transformer", "minus_ridge_low"] > 0  # paired: the gap is clear
    assert table.loc["transformer", "low"] < table.loc["ridge", "high"]  # unpaired intervals overlap
    assert np.isnan(table.loc["ridge", "minus_ridge"])


def test_study_rejects_unknown_encoder():
    with pytest.raises(ValueError, match="unknown encoder"):
        ablation_study([0], plan={"content": ("ridge", "lasso")})


def test_study_runs_at_tiny_size():
    table = ablation_study([0], plan={"content": ("ridge", "single"), "fixed": ("ridge",)}, n_stimuli=60,
                           n_retinotopic=4, n_category=2,
                           transformer={"d_model": 16, "n_heads": 2, "dim_feedforward": 16, "epochs": 2})
    assert len(table) == 3 * 2
    assert set(table["pooling"]) == {"content", "fixed"}
    assert (table["mean_r"] < table["ceiling"]).all()
