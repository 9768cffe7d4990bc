"""2-D spatial guidance: which query patches belong to a person's head, and how much each counts.

ViTGaze's ``PatchPAM``: the head box is rasterised at input resolution and max-pooled onto the patch
grid (a patch is "head" if any of its pixels is in the box); a small conv stem with the backbone's
patch size scores every patch; a softmax restricted to the head patches gives weights that are zero
off the head and sum to one.
"""

from __future__ import annotations

import torch
from torch import nn


def check_boxes(boxes: torch.Tensor, name: str = "boxes") -> None:
    """Raise ``ValueError`` unless ``boxes`` is (P, 4) ``x1, y1, x2, y2`` in [0, 1] with positive area."""
    if not isinstance(boxes, torch.Tensor) or boxes.ndim != 2 or boxes.shape[1] != 4:
        shape = tuple(boxes.shape) if isinstance(boxes, torch.Tensor) else type(boxes).__name__
        raise ValueError(f"{name} must be a (people, 4) tensor of normalised x1, y1, x2, y2; got {shape}")
    if not torch.isfinite(boxes).all():
        raise ValueError(f"{name} contain NaN or inf")
    tol = 1e-6
    outside = ((boxes < -tol) | (boxes > 1 + tol)).any(1)
    if outside.any():
        i = int(outside.nonzero()[0])
        raise ValueError(f"{name}[{i}] = {boxes[i].tolist()} lies outside the image (normalised coordinates "
                         "must be in [0, 1])")
    empty = (boxes[:, 2] <= boxes[:, 0]) | (boxes[:, 3] <= boxes[:, 1])
    if empty.any():
        i = int(empty.nonzero()[0])
        raise ValueError(f"{name}[{i}] = {boxes[i].tolist()} has zero area (need x2 > x1 and y2 > y1)")


def expand_boxes(boxes: torch.Tensor, fraction: float) -> torch.Tensor:
    """Grow (P, 4) normalised boxes by ``fraction`` of their width/height on each side, clipped to [0, 1]."""
    w = (boxes[:, 2] - boxes[:, 0]) * fraction
    h = (boxes[:, 3] - boxes[:, 1]) * fraction
    grown = boxes + torch.stack([-w, -h, w, h], dim=1)
    return grown.clamp(0.0, 1.0)


def head_patch_mask(boxes: torch.Tensor, image_size: tuple[int, int], patch_size: tuple[int, int],
                    grid: tuple[int, int]) -> torch.Tensor:
    """Patches touched by each head box.

    Same result as rasterising the box at input resolution (at least one pixel) and max-pooling with
    the patch size. Pixels beyond the last full patch are assigned to the last patch, so every box
    marks at least one patch.

    Parameters
    ----------
    boxes
        (P, 4) normalised ``x1, y1, x2, y2``.
    image_size
        Input (H, W) in pixels.
    patch_size
        (patch height, patch width) in pixels.
    grid
        (rows, cols) of the patch grid.

    Returns
    -------
    torch.Tensor
        (P, rows, cols) bool.
    """
    (height, width), (ph, pw), (rows, cols) = image_size, patch_size, grid
    x0 = torch.floor(boxes[:, 0] * width).long().clamp(0, width - 1)
    y0 = torch.floor(boxes[:, 1] * height).long().clamp(0, height - 1)
    x1 = torch.maximum(torch.ceil(boxes[:, 2] * width).long(), x0 + 1)
    y1 = torch.maximum(torch.ceil(boxes[:, 3] * height).long(), y0 + 1)
    c_lo, c_hi = (x0 // pw).clamp(max=cols - 1), ((x1 - 1) // pw).clamp(max=cols - 1)
    r_lo, r_hi = (y0 // ph).clamp(max=rows - 1), ((y1 - 1) // ph).clamp(max=rows - 1)
    c = torch.arange(cols, device=boxes.device)
    r = torch.arange(rows, device=boxes.device)
    in_c = (c[None] >= c_lo[:, None]) & (c[None] <= c_hi[:, None])
    in_r = (r[None] >= r_lo[:, None]) & (r[None] <= r_hi[:, None])
    return in_r[:, :, None] & in_c[:, None, :]


class SpatialGuidance(nn.Module):
    """Per-person weights over query patches from the image and the head mask (ViTGaze ``PatchPAM``).

    ``Conv2d(3, embed_dim, patch, stride=patch) -> ReLU -> Conv2d(embed_dim, 1, 1)`` scores every patch;
    a softmax over the head patches only turns the scores into weights.

    Parameters
    ----------
    patch_size
        The backbone's (patch height, patch width).
    embed_dim
        Width of the conv stem (8 in ViTGaze).
    """

    def __init__(self, patch_size: tuple[int, int], embed_dim: int = 8):
        super().__init__()
        self.stem = nn.Conv2d(3, embed_dim, kernel_size=patch_size, stride=patch_size)
        self.score = nn.Conv2d(embed_dim, 1, kernel_size=1)

    def forward(self, images: torch.Tensor, masks: torch.Tensor, image_index: torch.Tensor) -> torch.Tensor:
        """Weights over patches.

        Parameters
        ----------
        images
            (B, 3, H, W) normalised images.
        masks
            (P, rows, cols) bool head-patch masks (:func:`head_patch_mask`).
        image_index
            (P,) long: the image of each person.

        Returns
        -------
        torch.Tensor
            (P, rows x cols) weights, zero off the head, summing to 1 per person.
        """
        logits = self.score(torch.relu(self.stem(images)))[:, 0]  # (B, rows, cols)
        if logits.shape[-2:] != masks.shape[-2:]:
            raise ValueError(f"guidance grid {tuple(logits.shape[-2:])} differs from the mask grid "
                             f"{tuple(masks.shape[-2:])}")
        logits = logits[image_index].flatten(1).masked_fill(~masks.flatten(1), float("-inf"))
        return logits.softmax(dim=1)
