"""Factorised and transformer encoders: they learn what they are built for, on CPU in seconds."""

import numpy as np
import pandas as pd
import pytest
import torch

from cogvision.brain.factorized import FactorizedEncoder, gaussian_maps
from cogvision.brain.transformer import (
    BrainDecoder,
    GatherReadout,
    TransformerBrainEncoder,
    query_assignment,
    sine_position_encoding,
)


def _retinotopic_task(n=200, c=6, grid=(7, 9), t=5, seed=0):
    """Targets = feature weights x Gaussian RF pooling; unequal grid sides catch transposed axes."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, c, *grid)).astype(np.float32)
    centres = np.stack([rng.uniform(1, grid[0] - 2, t), rng.uniform(1, grid[1] - 2, t)], 1)
    sigmas = rng.uniform(0.8, 1.5, t)
    maps = gaussian_maps(torch.tensor(centres), torch.tensor(sigmas), grid).numpy()
    w = rng.normal(size=(t, c))
    y = np.einsum("nchw,thw,tc->nt", x, maps, w) + 0.05 * rng.normal(size=(n, t))
    return x, y, centres, sigmas


def test_gaussian_maps_sum_to_one_and_peak_at_centre():
    maps = gaussian_maps(torch.tensor([[2.0, 5.0]]), torch.tensor([1.0]), (7, 9))
    assert maps.shape == (1, 7, 9)
    assert torch.isclose(maps.sum(), torch.tensor(1.0))
    assert np.unravel_index(int(maps[0].argmax()), (7, 9)) == (2, 5)


@pytest.mark.parametrize("spatial", ["gaussian", "softmax"])
def test_factorized_recovers_receptive_fields(spatial):
    x, y, centres, sigmas = _retinotopic_task()
    enc = FactorizedEncoder(spatial=spatial, epochs=15, device="cpu", lr=2e-2).fit(x[:160], y[:160])
    r = enc.score(x[160:], y[160:], per_target=True)
    assert np.all(r > 0.9)
    err = np.hypot(enc.rf_table_["y"] - centres[:, 0], enc.rf_table_["x"] - centres[:, 1])
    assert np.median(err) < 0.3
    assert enc.receptive_fields_.dims == ("target", "y", "x") and enc.receptive_fields_.shape == (5, 7, 9)
    if spatial == "gaussian":
        np.testing.assert_allclose(enc.rf_table_["sigma"], sigmas, atol=0.15)


def test_factorized_rejects_bad_inputs():
    x, y, *_ = _retinotopic_task(n=40)
    with pytest.raises(ValueError, match="samples"):
        FactorizedEncoder(device="cpu").fit(x, y[:30])
    y_flat = y.copy()
    y_flat[:, 2] = 1.0
    with pytest.raises(ValueError, match="zero-variance"):
        FactorizedEncoder(device="cpu").fit(x, y_flat)
    with pytest.raises(ValueError, match="spatial"):
        FactorizedEncoder(spatial="disc", device="cpu").fit(x, y)
    enc = FactorizedEncoder(epochs=1, device="cpu").fit(x, y)
    with pytest.raises(ValueError, match="fitted on"):
        enc.predict(x[:, :, :5])


def _routing_task(n=320, grid=(6, 6), seed=0):
    """A marker channel sits at a random place; target 0 = channel 1 under the marker (content routing),
    target 1 = channel 1 at fixed place (4, 1) (location routing)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4, *grid)).astype(np.float32)
    x[:, 0] = 0
    where = rng.integers(0, grid[0] * grid[1], n)
    yy, xx = np.unravel_index(where, grid)
    x[np.arange(n), 0, yy, xx] = 4.0
    y = np.stack([x[np.arange(n), 1, yy, xx], x[:, 1, 4, 1]], 1)
    return x, y, yy, xx


def test_transformer_learns_content_and_location_routing():
    x, y, yy, xx = _routing_task()
    info = pd.DataFrame({"roi": ["content", "location"]})
    enc = TransformerBrainEncoder(queries="roi", d_model=32, n_heads=4, dim_feedforward=64, dropout=0.0, epochs=40,
                                  lr=3e-3, validation_fraction=0.0, device="cpu")
    enc.fit(x[:256], y[:256], target_info=info)
    r = enc.score(x[256:], y[256:], per_target=True)
    assert np.all(r > 0.8), r
    maps = enc.routing_maps(x[256:])
    assert maps.dims == ("stimulus", "query", "y", "x")
    np.testing.assert_allclose(maps.sum(("y", "x")), 1.0, atol=1e-5)
    content = maps.sel(query="content").values.reshape(64, -1).argmax(1)
    assert np.mean(content == yy[256:] * 6 + xx[256:]) > 0.8
    location = maps.sel(query="location").values.reshape(64, -1).argmax(1)
    assert np.mean(location == 4 * 6 + 1) > 0.8


@pytest.mark.parametrize("index, max_groups, mode", [
    ([2, 0, 1, 2, 2], 256, "padded"),                   # groups of similar size: one batched product
    ([0] * 10 + [1, 2, 3], 256, "grouped"),             # one big group: a product per group
    ([2, 0, 1, 2, 2], 0, "elementwise"),                # many queries (e.g. one per vertex): gather
])
def test_gather_readout_equals_masked_sum_design(index, max_groups, mode):
    torch.manual_seed(0)
    index = torch.tensor(index)
    n_queries = int(index.max()) + 1
    readout = GatherReadout(index, d_model=8, max_groups=max_groups)
    assert readout.mode == mode
    with torch.no_grad():
        readout.bias.normal_()
    q_out = torch.randn(3, n_queries, 8, requires_grad=True)
    every = q_out @ readout.weight.T  # every query through every target row: (N, Q, T)
    mask = torch.nn.functional.one_hot(index, n_queries).T.float()  # (Q, T)
    expected = (every * mask).sum(1) + readout.bias
    out = readout(q_out)
    torch.testing.assert_close(out, expected)
    grads = torch.autograd.grad(out.square().sum(), (q_out, readout.weight))
    torch.testing.assert_close(grads, torch.autograd.grad(expected.square().sum(), (q_out, readout.weight)))


def test_query_assignment_modes_and_errors():
    info = pd.DataFrame({"roi": ["V1", "V1", "FFA", "FFA"], "hemisphere": ["lh", "rh", "lh", "lh"]})
    index, names = query_assignment(info, 4, "roi_hemisphere")
    assert names == ["FFA|lh", "V1|lh", "V1|rh"] and index.tolist() == [1, 2, 0, 0]
    assert query_assignment(info, 4, "roi")[1] == ["FFA", "V1"]
    assert query_assignment(None, 4, "vertex")[0].tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="stream"):
        query_assignment(info, 4, "stream")
    with pytest.raises(ValueError, match="one per target"):
        query_assignment(info, 5, "roi")
    with pytest.raises(ValueError, match="queries must be"):
        query_assignment(info, 4, "ROIs")


def test_sine_encoding_shape_and_distinct_positions():
    pos = sine_position_encoding((5, 7), 16)
    assert pos.shape == (35, 16)
    assert torch.cdist(pos, pos).add(torch.eye(35) * 10).min() > 1e-3


def test_decoder_attention_is_over_tokens():
    dec = BrainDecoder(4, (5, 7), torch.tensor([0, 1, 1]), 2, d_model=16, n_heads=2, dim_feedforward=32)
    out, weights = dec.decode(torch.randn(2, 4, 5, 7), need_weights=True)
    assert out.shape == (2, 2, 16) and weights.shape == (2, 2, 35)
