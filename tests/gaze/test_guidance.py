"""Spatial guidance: head boxes onto patches, masked softmax weights, box validation."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from cogvision.gaze.guidance import SpatialGuidance, check_boxes, expand_boxes, head_patch_mask


def _rasterised_reference(box: torch.Tensor, size: tuple[int, int], patch: tuple[int, int]) -> torch.Tensor:
    """ViTGaze's way: a binary head channel at input resolution (>= 1 px), max-pooled with the patch size."""
    h, w = size
    channel = torch.zeros(1, 1, h, w)
    x0, y0 = int(torch.floor(box[0] * w)), int(torch.floor(box[1] * h))
    x1 = max(int(torch.ceil(box[2] * w)), x0 + 1)
    y1 = max(int(torch.ceil(box[3] * h)), y0 + 1)
    channel[..., y0:y1, x0:x1] = 1
    return F.max_pool2d(channel, patch, patch)[0, 0] > 0


@pytest.mark.parametrize("size, patch", [((64, 48), (8, 8)), ((70, 84), (14, 14)), ((96, 64), (16, 16))])
def test_head_patch_mask_equals_rasterise_and_max_pool(size, patch):
    gen = torch.Generator().manual_seed(1)
    corners = torch.rand(40, 2, 2, generator=gen)
    boxes = torch.cat([corners.min(1).values, corners.max(1).values], dim=1)
    boxes[:5, 2:] = boxes[:5, :2] + 1e-3  # tiny boxes still mark one patch
    grid = (size[0] // patch[0], size[1] // patch[1])
    masks = head_patch_mask(boxes, size, patch, grid)
    for box, mask in zip(boxes, masks):
        torch.testing.assert_close(mask, _rasterised_reference(box, size, patch))
        assert mask.any()


def test_box_beyond_the_last_full_patch_maps_to_the_last_patch():
    # 70 px wide with patch 16: pixels 64..69 belong to no full patch
    mask = head_patch_mask(torch.tensor([[0.95, 0.0, 1.0, 0.1]]), (64, 70), (16, 16), (4, 4))
    assert mask[0, 0, 3] and mask.sum() == 1


def test_expand_boxes_grows_and_clips():
    grown = expand_boxes(torch.tensor([[0.2, 0.2, 0.4, 0.6], [0.0, 0.0, 0.1, 0.1]]), 0.1)
    torch.testing.assert_close(grown, torch.tensor([[0.18, 0.16, 0.42, 0.64], [0.0, 0.0, 0.11, 0.11]]))


def test_guidance_weights_live_on_head_patches_and_sum_to_one():
    torch.manual_seed(0)
    guidance = SpatialGuidance((8, 8))
    images = torch.randn(2, 3, 48, 64)
    boxes = torch.tensor([[0.0, 0.0, 0.3, 0.3], [0.5, 0.5, 0.9, 0.7], [0.1, 0.6, 0.2, 0.9]])
    masks = head_patch_mask(boxes, (48, 64), (8, 8), (6, 8))
    weights = guidance(images, masks, torch.tensor([0, 1, 1]))
    assert weights.shape == (3, 48)
    torch.testing.assert_close(weights.sum(1), torch.ones(3))
    assert (weights[~masks.flatten(1)] == 0).all()
    assert (weights[masks.flatten(1)] > 0).all()


@pytest.mark.parametrize("box, message", [
    ([0.2, 0.2, 0.2, 0.5], "zero area"),
    ([0.5, 0.6, 0.4, 0.7], "zero area"),
    ([-0.3, 0.1, 0.2, 0.2], "outside the image"),
    ([0.5, 0.5, 1.4, 0.9], "outside the image"),
])
def test_bad_boxes_raise(box, message):
    with pytest.raises(ValueError, match=message):
        check_boxes(torch.tensor([[0.1, 0.1, 0.2, 0.2], box]))


def test_box_shape_is_checked():
    with pytest.raises(ValueError, match=r"\(people, 4\)"):
        check_boxes(torch.tensor([0.1, 0.1, 0.2, 0.2]))
