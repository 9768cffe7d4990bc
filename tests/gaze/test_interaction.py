"""Interaction features: the maps are the blocks' own attention, in the documented layout."""

from __future__ import annotations

import pytest
import torch

from cogvision.gaze.interaction import (
    QueryKeyCapture,
    default_blocks,
    guided_interaction,
    interaction_features,
    interaction_tensor,
)
from cogvision.models import AttentionRecorder, load_model, token_layout
from cogvision.models.attention import attention_modules
from cogvision.models.builtin import tiny_cnn, tiny_vit


def test_maps_equal_the_blocks_own_attention():
    """softmax(q k^T) from the captured qkv reproduces each attention module's output: proj(A v) == out."""
    model = tiny_vit(image_size=48, patch_size=8, depth=3, num_heads=2, reg_tokens=1).eval()
    modules = {n.rsplit(".", 1)[0]: m for n, m in attention_modules(model).items()}
    blocks = list(modules)
    outputs, inputs = {}, {}

    def keep(block):
        def hook(_module, args, output):
            inputs[block], outputs[block] = args[0], output
        return hook

    hooks = [m.register_forward_hook(keep(b)) for b, m in modules.items()]
    x = torch.randn(2, 3, 48, 48)
    with torch.no_grad(), QueryKeyCapture(model, blocks) as capture:
        model.forward_features(x)
        for block in blocks:
            q, k = capture.query_key(block)
            attn = (q @ k.transpose(-2, -1)).softmax(-1)
            mod = modules[block]
            b, t, _ = inputs[block].shape
            v = mod.qkv(inputs[block]).reshape(b, t, 3, mod.num_heads, -1).permute(2, 0, 3, 1, 4)[2]
            mixed = (attn @ v).transpose(1, 2).reshape(b, t, -1)
            torch.testing.assert_close(mod.proj(mod.norm(mixed)), outputs[block], rtol=1e-4, atol=1e-5)
    for h in hooks:
        h.remove()


def test_interaction_tensor_matches_attention_recorder_without_special_tokens():
    model = tiny_vit(image_size=48, patch_size=8, depth=4, num_heads=2, reg_tokens=2).eval()
    x = torch.randn(2, 3, 48, 40)  # unequal sides: transposed axes would fail
    blocks = ["blocks.1", "blocks.3"]
    with torch.no_grad(), AttentionRecorder(model, blocks) as rec:
        model.forward_features(x)
        tensor = interaction_features(model, x, blocks)
    expected = torch.cat([rec.maps[b][:, :, 3:, 3:] for b in blocks], dim=1).reshape(2, 4, 30, 6, 5)
    torch.testing.assert_close(tensor, expected)
    # rows lose the special tokens' share of attention after the softmax
    assert (tensor.sum(dim=(-2, -1)) < 1).all()


@pytest.mark.parametrize("patch, size, grid", [(8, (64, 48), (8, 6)), (14, (70, 56), (5, 4)), (16, (64, 80), (4, 5))])
def test_interaction_tensor_shape_for_several_patch_sizes(patch, size, grid):
    model = tiny_vit(image_size=size[0], patch_size=patch, depth=5, embed_dim=48, num_heads=3).eval()
    with torch.no_grad():
        tensor = interaction_features(model, torch.randn(2, 3, *size))
    n_blocks = len(default_blocks(model))
    assert tensor.shape == (2, n_blocks * 3, grid[0] * grid[1], *grid)


def test_default_blocks_are_evenly_spaced_like_vitgaze():
    model = load_model("timm:vit_small_patch14_dinov2", device="cpu", img_size=56)
    assert default_blocks(model) == ["blocks.2", "blocks.5", "blocks.8", "blocks.11"]
    assert default_blocks(tiny_vit(depth=4)) == ["blocks.0", "blocks.1", "blocks.2", "blocks.3"]
    assert default_blocks(tiny_vit(depth=6), n=2) == ["blocks.2", "blocks.5"]


def test_guided_interaction_equals_weighted_sum_of_full_tensor():
    model = tiny_vit(image_size=48, patch_size=8, depth=2, num_heads=2, reg_tokens=1).eval()
    x = torch.randn(3, 3, 48, 56)
    layout = token_layout(model, (48, 56))
    n = 6 * 7
    weights = torch.zeros(4, n)
    weights[0, [0, 1, 7]] = torch.tensor([0.2, 0.5, 0.3])
    weights[1, 20] = 1.0
    weights[2, [40, 41]] = 0.5
    weights[3, 3] = 1.0
    image_index = torch.tensor([0, 0, 2, 1])
    with torch.no_grad(), QueryKeyCapture(model, ["blocks.0", "blocks.1"]) as capture:
        model.forward_features(x)
        full = interaction_tensor(capture, layout)
        guided = guided_interaction(capture, layout, weights, image_index)
    expected = (full[image_index] * weights[:, None, :, None, None]).sum(2)
    torch.testing.assert_close(guided, expected)
    assert guided.shape == (4, 4, 6, 7)


def test_non_vit_models_give_clear_errors():
    with pytest.raises(ValueError, match="not a ViT|no ViT attention"):
        default_blocks(tiny_cnn())
    with pytest.raises(ValueError, match="no ViT attention"):
        QueryKeyCapture(tiny_cnn(), ["features.0"])
    with pytest.raises(ValueError, match="no attention block"):
        QueryKeyCapture(tiny_vit(depth=2), ["blocks.7"])
