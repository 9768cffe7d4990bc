import math

import pytest
import torch

from cogvision.models import attach_topk, load_model, topk_sparsify


def test_conv_maps_keep_k_per_channel():
    x = torch.randn(2, 5, 7, 9)
    y = topk_sparsify(x, 0.2)
    keep = math.ceil(0.2 * 63)
    assert ((y != 0).flatten(2).sum(-1) == keep).all()
    # the survivors are the largest magnitudes of their channel
    kept_min = torch.where(y != 0, x.abs(), torch.inf).flatten(2).min(-1).values
    dropped_max = torch.where(y == 0, x.abs(), -torch.inf).flatten(2).max(-1).values
    assert (kept_min >= dropped_max).all()
    torch.testing.assert_close(y[y != 0], x[y != 0])


@pytest.mark.parametrize("mode, axis, keep", [("token", -1, math.ceil(0.1 * 16)), ("channel", 1, math.ceil(0.1 * 11))])
def test_token_modes(mode, axis, keep):
    x = torch.randn(3, 11, 16)
    y = topk_sparsify(x, 0.1, token_mode=mode)
    assert ((y != 0).sum(axis) == keep).all()


def test_bad_k_and_shape():
    with pytest.raises(ValueError, match="k must be"):
        topk_sparsify(torch.randn(2, 3), 0.0)
    with pytest.raises(ValueError, match="token_mode"):
        topk_sparsify(torch.randn(2, 3, 4), 0.5, token_mode="space")
    with pytest.raises(ValueError, match="activation"):
        topk_sparsify(torch.randn(2, 3, 4, 5, 6), 0.5)


def test_hook_attaches_and_removes():
    model = load_model("cogvision.models.builtin:tiny_cnn", device="cpu")
    x = torch.rand(2, 3, 64, 64)
    dense = model(x)
    seen = {}
    with attach_topk(model, ["features.1"], 0.05):
        probe = model.features[1].register_forward_hook(lambda m, a, out: seen.update(out=out))  # runs after Top-K
        sparse = model(x)
        frac = (seen["out"] != 0).float().mean().item()
    assert frac <= 0.06
    assert not torch.allclose(dense, sparse)
    torch.testing.assert_close(model(x), dense)
    probe.remove()
    with pytest.raises(ValueError, match="close matches"):
        attach_topk(model, ["features.9"], 0.1)


def test_vit_blocks_accept_topk():
    vit = load_model("cogvision.models.builtin:tiny_vit", device="cpu")
    x = torch.rand(1, 3, 64, 64)
    with attach_topk(vit, ["blocks.1"], 0.1, token_mode="channel"):
        assert vit(x).shape == (1, 10)
