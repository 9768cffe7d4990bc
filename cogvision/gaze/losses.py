"""ViTGaze's training targets and losses (``GazeMapperCriterion``).

- Target: an unnormalised Gaussian (peak 1, sigma 3) on a 64 x 64 grid at the gaze point; several
  annotators give the mean of their Gaussians.
- Heatmap loss: mean squared error per map x 10,000, averaged over in-frame people only.
- In/out loss: focal binary cross-entropy (gamma 2, no alpha weighting) x 100.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

HEATMAP_SIZE = 64
SIGMA = 3.0


def gaussian_heatmap(points: torch.Tensor, size: int | tuple[int, int] = HEATMAP_SIZE,
                     sigma: float = SIGMA) -> torch.Tensor:
    """Gaussian targets at normalised gaze points.

    Pixel ``(i, j)`` of an (h, w) map sits at normalised position ``(j / w, i / h)``, the same convention
    as the metrics' argmax (``argmax / size``), so the target's peak is at ``(x * w, y * h)`` without
    quantisation (ViTGaze's ``draw_labelmap_no_quant``).

    Parameters
    ----------
    points
        (P, 2) normalised ``x, y``, or (P, K, 2) for K annotators; rows with a negative coordinate
        (out of frame, padding) are ignored, and a person with none gets an all-zero map.
    size
        Map side, or (h, w).
    sigma
        Standard deviation in map pixels.

    Returns
    -------
    torch.Tensor
        (P, h, w) with peak 1 for a single point; the mean over valid annotators otherwise.
    """
    h, w = (size, size) if isinstance(size, int) else size
    if points.ndim == 2:
        points = points[:, None]
    if points.ndim != 3 or points.shape[-1] != 2:
        raise ValueError(f"points must be (people, 2) or (people, annotators, 2), got {tuple(points.shape)}")
    valid = (points >= 0).all(-1)  # (P, K)
    ys = torch.arange(h, dtype=points.dtype, device=points.device)
    xs = torch.arange(w, dtype=points.dtype, device=points.device)
    dx = xs[None, None, None, :] - (points[..., 0] * w)[..., None, None]
    dy = ys[None, None, :, None] - (points[..., 1] * h)[..., None, None]
    maps = torch.exp(-(dx**2 + dy**2) / (2 * sigma**2)) * valid[..., None, None]
    return maps.sum(1) / valid.sum(1).clamp(min=1)[:, None, None]


def heatmap_loss(pred: torch.Tensor, target: torch.Tensor, inout: torch.Tensor, weight: float = 1e4) -> torch.Tensor:
    """Mean squared error per map, averaged over in-frame people, times ``weight``.

    Parameters
    ----------
    pred
        (P, h', w') predicted maps; resized bilinearly to the target size when they differ.
    target
        (P, h, w) Gaussian targets.
    inout
        (P,) 1 for in-frame people (counted), 0 for out-of-frame (ignored).
    weight
        Loss scale (10,000 in ViTGaze).
    """
    if pred.shape[-2:] != target.shape[-2:]:
        pred = F.interpolate(pred[:, None], size=target.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    per_map = ((pred - target) ** 2).mean(dim=(-2, -1))
    inout = inout.to(per_map.dtype)
    return weight * (per_map * inout).sum() / inout.sum().clamp(min=1.0)


def focal_bce(logits: torch.Tensor, labels: torch.Tensor, gamma: float = 2.0,
              alpha: float | None = None) -> torch.Tensor:
    """Mean sigmoid focal loss (Lin et al. 2017): ``BCE * (1 - p_t) ** gamma``, optional ``alpha`` class weight.

    ``alpha=None`` is ViTGaze's setting (its ``alpha=-1`` disables the weighting).
    """
    labels = labels.to(logits.dtype)
    bce = F.binary_cross_entropy_with_logits(logits, labels, reduction="none")
    p = torch.sigmoid(logits)
    p_t = p * labels + (1 - p) * (1 - labels)
    loss = bce * (1 - p_t) ** gamma
    if alpha is not None:
        loss = loss * (alpha * labels + (1 - alpha) * (1 - labels))
    return loss.mean()


def vitgaze_loss(heatmap: torch.Tensor, inout_logit: torch.Tensor, gaze: torch.Tensor, inout: torch.Tensor,
                 heatmap_weight: float = 1e4, inout_weight: float = 100.0, sigma: float = SIGMA,
                 size: int = HEATMAP_SIZE) -> torch.Tensor:
    """Total ViTGaze loss: ``heatmap_weight * MSE(in-frame) + inout_weight * focal BCE``.

    Parameters
    ----------
    heatmap
        (P, h', w') predicted maps.
    inout_logit
        (P,) in/out logits.
    gaze
        (P, 2) or (P, K, 2) normalised gaze points (negative when out of frame).
    inout
        (P,) 1 in frame, 0 out.
    """
    target = gaussian_heatmap(gaze, size=size, sigma=sigma)
    return (heatmap_loss(heatmap, target, inout, weight=heatmap_weight)
            + inout_weight * focal_bce(inout_logit, inout))
