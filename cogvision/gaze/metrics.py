"""Gaze-following metrics, with the variants the reference codebases use as explicit options.

Sources (see ``docs/gaze.md`` for the full comparison):

- Chong et al. 2020 (``ejcgt/attention-target-detection``, ``utils/evaluation.py``, ``utils/imutils.py``,
  ``eval_on_gazefollow.py``, ``eval_on_videoatttarget.py``) define the shared functions: AUC is
  ``sklearn.metrics.roc_auc_score`` of a binary target map against the heatmap values (computed here
  by the equivalent rank formula, :func:`roc_auc`); the gaze point
  is the heatmap's argmax divided by the map size; L2 is in normalised [0, 1] image coordinates; AP is
  ``sklearn.metrics.average_precision_score`` with "in frame" as the positive class.
- GazeFollow AUC: the heatmap is resized bilinearly to the image (Chong: ``scipy.misc.imresize``, i.e.
  uint8, the **default** here; Gaze-LLE and ViTGaze: float, ``resize="bilinear"``) against one pixel per
  annotator; Sharingan computes it at the 64 x 64 prediction size instead (``size=None`` and
  ``scale="size-1"`` here).
- Avg L2: distance from the predicted point to the *mean* annotator point; Min L2: to the closest annotator.
- VideoAttentionTarget AUC: the map quantised to uint8 at 64 x 64 (Chong's ``imresize``; the **default**)
  against a square of side 6 sigma + 1 (Chong, Gaze-LLE; the default) or a disc ``d^2 <= 10 sigma^2``
  (ViTGaze) around the target; in-frame samples only.
- DARK sub-pixel refinement (Zhang et al. CVPR 2020), used by ViTGaze's published numbers, with
  ViTGaze's 39-px Gaussian kernel and its acceptance rule (:func:`dark_refine`).

:data:`REFERENCE` names the default convention of each metric; every result states it (:func:`conventions`).

Points are normalised ``(x, y)``: pixel column ``j`` of a map of width ``w`` is at ``x = j / w``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from scipy.ndimage import gaussian_filter
from scipy.stats import rankdata
from sklearn.metrics import average_precision_score

REFERENCE = {"resize": "uint8", "vat_region": "square", "dark_kernel": 39}


def conventions(resize: str = "uint8", region: str = "square", refine: bool = False, auc_size: str = "image",
                kernel: int = 39) -> dict[str, str]:
    """A record of the metric conventions behind a result (written beside every score table).

    Parameters
    ----------
    resize
        Resize of the map before AUC (``"uint8"``: Chong's ``imresize``, the reference; ``"bilinear"``: float).
    region
        VAT AUC tolerance region (``"square"``, the reference, or ``"disc"``).
    refine
        Whether gaze points use DARK refinement.
    auc_size
        ``"image"`` (GazeFollow AUC at the image size, the reference) or ``"64x64"`` (at the map size).
    kernel
        DARK blur kernel in map pixels (when ``refine``).
    """
    reference = resize == "uint8" and region == "square" and auc_size == "image"
    return {"gazefollow_auc": f"{auc_size} size, {resize} resize, one pixel per annotator",
            "vat_auc": f"64x64 {resize} map, {'19x19 square' if region == 'square' else 'disc d^2 <= 10 sigma^2'}",
            "gaze_point": f"DARK ({kernel}-px kernel, ViTGaze rule)" if refine else "argmax / map size",
            "reference": "yes" if reference else "no (a named variant)"}


def roc_auc(target: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC of binary ``target`` against ``scores`` by the Mann-Whitney rank formula.

    Identical to ``sklearn.metrics.roc_auc_score`` (ties get average ranks; tested) and several times
    faster, which matters for thousands of 4,096-pixel maps. ``nan`` when one class is empty.
    """
    target = np.asarray(target, dtype=bool).ravel()
    n_pos = int(target.sum())
    n_neg = target.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(np.asarray(scores, dtype=np.float64).ravel())
    return float((ranks[target].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _as_map(heatmap) -> np.ndarray:
    array = heatmap.detach().cpu().numpy() if isinstance(heatmap, torch.Tensor) else np.asarray(heatmap)
    array = np.asarray(array, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"heatmap must be 2-D (h, w), got shape {array.shape}")
    return array


def _valid_points(points) -> np.ndarray:
    array = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    array = array[(array >= 0).all(axis=1)]
    if len(array) == 0:
        raise ValueError("no valid gaze point (all coordinates negative: out of frame or padding)")
    return array


def resize_heatmap(heatmap, size: tuple[int, int], method: str = "bilinear") -> np.ndarray:
    """Resize a heatmap to ``size`` = (height, width).

    Parameters
    ----------
    heatmap
        (h, w) array or tensor.
    size
        Target (height, width).
    method
        ``"bilinear"``: float bilinear (half-pixel centres, as ``F.interpolate(align_corners=False)``;
        Gaze-LLE). ``"uint8"``: Chong's ``scipy.misc.imresize``: the map is first scaled to 0..255 by its
        min and max (``bytescale``), resized bilinearly, and rounded to uint8, so ties appear.
    """
    array = _as_map(heatmap)
    if method not in ("bilinear", "uint8"):
        raise ValueError(f"resize method must be 'bilinear' or 'uint8', got {method!r}")
    if method == "uint8":
        low, high = array.min(), array.max()
        array = (array - low) * (255.0 / (high - low)) if high > low else np.zeros_like(array)
        array = np.round(array)
    if tuple(array.shape) != tuple(size):
        tensor = torch.from_numpy(array)[None, None]
        array = F.interpolate(tensor, size=tuple(size), mode="bilinear", align_corners=False)[0, 0].numpy()
    if method == "uint8":
        array = np.clip(np.round(array), 0, 255).astype(np.uint8)
    return array


def multi_hot_map(points, size: tuple[int, int], scale: str = "size") -> np.ndarray:
    """Binary (height, width) map with one pixel per annotator point.

    ``scale="size"``: pixel ``(min(int(y h), h - 1), min(int(x w), w - 1))`` (Chong's ``multi_hot_targets``).
    ``scale="size-1"``: pixel ``(round(y (h - 1)), round(x (w - 1)))`` (Sharingan-style 64 x 64 variant).
    Negative points (padding) are skipped.
    """
    h, w = size
    target = np.zeros((h, w), dtype=bool)
    for x, y in _valid_points(points):
        if scale == "size":
            row, col = min(int(y * h), h - 1), min(int(x * w), w - 1)
        elif scale == "size-1":
            row, col = int(round(y * (h - 1))), int(round(x * (w - 1)))
        else:
            raise ValueError(f"scale must be 'size' or 'size-1', got {scale!r}")
        target[row, col] = True
    return target


def gazefollow_auc(heatmap, points, size: tuple[int, int] | None = None, resize: str = "uint8",
                   scale: str = "size") -> float:
    """GazeFollow AUC: ROC AUC of the heatmap values against one positive pixel per annotator.

    Parameters
    ----------
    heatmap
        (h, w) predicted map.
    points
        (K, 2) normalised annotator points (rows with negative values are ignored).
    size
        (height, width) of the original image: the map is resized to it (Chong, Gaze-LLE, ViTGaze).
        ``None`` scores at the heatmap's own size (the 64 x 64 variant).
    resize
        ``"uint8"`` (Chong's ``imresize``, the reference script; default) or ``"bilinear"`` (float, Gaze-LLE
        and ViTGaze); see :func:`resize_heatmap`.
    scale
        Annotator pixel convention; see :func:`multi_hot_map`.

    Returns
    -------
    float
        AUC in [0, 1]; 0.5 is chance. ``nan`` if every pixel is an annotator pixel.
    """
    array = _as_map(heatmap)
    size = tuple(array.shape) if size is None else tuple(int(s) for s in size)
    scores = resize_heatmap(array, size, resize)
    return roc_auc(multi_hot_map(points, size, scale), scores)


def dark_kernel_sigma(kernel: int) -> float:
    """OpenCV's default standard deviation of a ``kernel``-tap Gaussian: ``0.3 ((kernel - 1) / 2 - 1) + 0.8``."""
    return 0.3 * ((kernel - 1) * 0.5 - 1) + 0.8


def dark_blur(heatmap, kernel: int = 39, sigma: float | None = None) -> np.ndarray:
    """ViTGaze's DARK blur: a ``kernel``-tap Gaussian (OpenCV's sigma by default), zero outside the map.

    Parameters
    ----------
    heatmap
        (h, w) map.
    kernel
        Odd number of taps (39 in ViTGaze).
    sigma
        Standard deviation in map pixels (default :func:`dark_kernel_sigma`).

    Returns
    -------
    numpy.ndarray
        (h, w) float64 blurred map (not rescaled).
    """
    array = _as_map(heatmap)
    if kernel < 3 or kernel % 2 == 0:
        raise ValueError(f"DARK kernel must be an odd number of taps >= 3, got {kernel}")
    sigma = dark_kernel_sigma(kernel) if sigma is None else float(sigma)
    radius = (kernel - 1) // 2
    return gaussian_filter(array, sigma, mode="constant", cval=0.0, truncate=(radius + 0.25) / sigma)


def dark_refine(heatmap, kernel: int = 39, sigma: float | None = None, accept: str = "vitgaze") -> tuple[float, float]:
    """Sub-pixel peak by DARK (Zhang et al. 2020): blur, log, one Newton step from the argmax.

    ViTGaze's ``dark_inference``: the map is blurred with a ``kernel``-tap Gaussian (zero outside the map)
    and rescaled to its original maximum; the log of ``max(map, 1e-10)`` is expanded to second order at
    the argmax of the *unblurred* map.

    Parameters
    ----------
    heatmap
        (h, w) map.
    kernel
        Odd number of taps of the blur (39 in ViTGaze, on its 296 x 296 maps).
    sigma
        Blur standard deviation in map pixels (default: OpenCV's for ``kernel``, 6.2 for 39 taps).
    accept
        ``"vitgaze"``: take the Newton step whenever the argmax is at least 2 pixels inside the map and the
        Hessian's determinant is not 0 (ViTGaze). ``"concave"``: only where the Hessian is negative
        definite, with the step clipped to one pixel (a stricter variant).

    Returns
    -------
    tuple of float
        (column, row) of the peak in map pixels; the argmax itself where the step is not taken.
    """
    array = _as_map(heatmap)
    if accept not in ("vitgaze", "concave"):
        raise ValueError(f"DARK accept must be 'vitgaze' or 'concave', got {accept!r}")
    blurred = dark_blur(array, kernel, sigma)
    if blurred.max() > 0:
        blurred = blurred * (array.max() / blurred.max())
    b = np.log(np.maximum(blurred, 1e-10))
    row, col = np.unravel_index(int(np.argmax(array)), array.shape)
    h, w = array.shape
    if not (1 < row < h - 2 and 1 < col < w - 2):
        return float(col), float(row)
    dx = 0.5 * (b[row, col + 1] - b[row, col - 1])
    dy = 0.5 * (b[row + 1, col] - b[row - 1, col])
    dxx = 0.25 * (b[row, col + 2] - 2 * b[row, col] + b[row, col - 2])
    dyy = 0.25 * (b[row + 2, col] - 2 * b[row, col] + b[row - 2, col])
    dxy = 0.25 * (b[row + 1, col + 1] - b[row - 1, col + 1] - b[row + 1, col - 1] + b[row - 1, col - 1])
    det = dxx * dyy - dxy**2
    if det == 0 or (accept == "concave" and not (det > 0 and dxx < 0)):
        return float(col), float(row)
    offset = -np.linalg.solve(np.array([[dxx, dxy], [dxy, dyy]]), np.array([dx, dy]))
    if accept == "concave":
        offset = np.clip(offset, -1.0, 1.0)
    return float(col + offset[0]), float(row + offset[1])


def gaze_point(heatmap, offset: float = 0.0, refine: bool = False, kernel: int = 39,
               sigma: float | None = None) -> tuple[float, float]:
    """Normalised gaze point ``(x, y)`` of a heatmap.

    Parameters
    ----------
    heatmap
        (h, w) map.
    offset
        Added to the pixel index before dividing by the size: 0 (Chong, Gaze-LLE, ViTGaze), 0.5 (pixel
        centre) or 1 (Sharingan's ``(idx + 1) / size``).
    refine
        DARK sub-pixel refinement (:func:`dark_refine`, ViTGaze's rule) instead of the plain argmax.
    kernel, sigma
        Blur of the refinement, in map pixels (see :func:`dark_refine`).
    """
    array = _as_map(heatmap)
    h, w = array.shape
    if refine:
        col, row = dark_refine(array, kernel=kernel, sigma=sigma)
    else:
        row, col = np.unravel_index(int(np.argmax(array)), array.shape)
    return (float(col) + offset) / w, (float(row) + offset) / h


def avg_l2(point, points) -> float:
    """Distance from ``point`` to the mean of the valid annotator ``points`` (GazeFollow "Avg L2")."""
    mean = _valid_points(points).mean(axis=0)
    return float(np.hypot(point[0] - mean[0], point[1] - mean[1]))


def min_l2(point, points) -> float:
    """Distance from ``point`` to the closest valid annotator point (GazeFollow "Min L2")."""
    valid = _valid_points(points)
    return float(np.min(np.hypot(valid[:, 0] - point[0], valid[:, 1] - point[1])))


def vat_region(point, size: int = 64, sigma: float = 3.0, region: str = "square") -> np.ndarray:
    """Binary (size, size) tolerance region around a normalised target point (VideoAttentionTarget AUC).

    ``"square"``: Chong's binarised ``draw_labelmap`` patch, side 6 sigma + 1 with its upper-left corner
    at ``int(x size - 3 sigma)``, clipped at the borders. ``"disc"``: ViTGaze's binarised
    ``draw_labelmap_no_quant``, which zeroes only ``d^2 > 10 sigma^2``: the disc keeps its boundary.
    """
    x, y = float(point[0]) * size, float(point[1]) * size
    target = np.zeros((size, size), dtype=bool)
    if region == "square":
        left, top = max(int(x - 3 * sigma), 0), max(int(y - 3 * sigma), 0)
        right, bottom = min(int(x + 3 * sigma + 1), size), min(int(y + 3 * sigma + 1), size)
        target[top:bottom, left:right] = True
    elif region == "disc":
        ys, xs = np.mgrid[0:size, 0:size]
        target = (xs - x) ** 2 + (ys - y) ** 2 <= 10 * sigma**2
    else:
        raise ValueError(f"region must be 'square' or 'disc', got {region!r}")
    return target


def vat_auc(heatmap, point, size: int = 64, sigma: float = 3.0, region: str = "square",
            resize: str = "uint8") -> float:
    """VideoAttentionTarget AUC: the heatmap at ``size`` x ``size`` against :func:`vat_region`.

    ``resize="uint8"`` (default) quantises the map as Chong's ``imresize`` does before scoring, even when
    it is already ``size`` x ``size``; ``"bilinear"`` keeps floats (peaked maps then score higher: ties
    between the many near-zero pixels are broken).
    """
    scores = resize_heatmap(heatmap, (size, size), resize)
    return roc_auc(vat_region(point, size, sigma, region), scores)


def inout_ap(labels, scores) -> float:
    """Average precision of in-frame scores with "in frame" (1) as the positive class (``sklearn``).

    ``nan`` when no person is in frame (precision undefined).
    """
    labels = np.asarray(labels).astype(int).ravel()
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if labels.shape != scores.shape:
        raise ValueError(f"labels {labels.shape} and scores {scores.shape} differ in length")
    if labels.sum() == 0:
        return float("nan")
    return float(average_precision_score(labels, scores))


def gazefollow_scores(heatmaps, gaze, sizes=None, resize: str = "uint8", scale: str = "size",
                      offset: float = 0.0, refine: bool = False) -> pd.DataFrame:
    """Per-person GazeFollow metrics.

    Parameters
    ----------
    heatmaps
        (P, h, w) predicted maps.
    gaze
        (P, K, 2) normalised annotator points, padded with -1.
    sizes
        (P, 2) image (height, width) for AUC at image size; ``None`` for AUC at the map size.
    resize, scale
        See :func:`gazefollow_auc`.
    offset, refine
        See :func:`gaze_point`.

    Returns
    -------
    pandas.DataFrame
        Columns ``auc, avg_l2, min_l2, pred_x, pred_y``; one row per person.
    """
    gaze = np.asarray(gaze, dtype=np.float64)
    if gaze.ndim == 2:
        gaze = gaze[:, None]
    if len(heatmaps) != len(gaze):
        raise ValueError(f"{len(heatmaps)} heatmaps but {len(gaze)} gaze rows")
    rows = []
    for i, heatmap in enumerate(heatmaps):
        point = gaze_point(heatmap, offset=offset, refine=refine)
        size = None if sizes is None else tuple(np.asarray(sizes[i]).astype(int))
        rows.append({"auc": gazefollow_auc(heatmap, gaze[i], size, resize, scale),
                     "avg_l2": avg_l2(point, gaze[i]), "min_l2": min_l2(point, gaze[i]),
                     "pred_x": point[0], "pred_y": point[1]})
    return pd.DataFrame(rows, columns=["auc", "avg_l2", "min_l2", "pred_x", "pred_y"])


def vat_scores(heatmaps, gaze, inout, inout_scores, region: str = "square", sigma: float = 3.0,
               offset: float = 0.0, refine: bool = False, resize: str = "uint8") -> dict[str, float]:
    """VideoAttentionTarget metrics: AUC and L2 over in-frame people, AP over all.

    Parameters
    ----------
    heatmaps
        (P, h, w) predicted maps.
    gaze
        (P, 2) normalised targets (ignored where ``inout`` is 0).
    inout
        (P,) 1 in frame, 0 out.
    inout_scores
        (P,) any monotone score of "in frame" (probability or logit).
    region, sigma, resize
        See :func:`vat_auc` (defaults: Chong's uint8 map against the 19 x 19 square).
    offset, refine
        See :func:`gaze_point`.

    Returns
    -------
    dict
        ``auc``, ``l2``, ``ap``, ``n_in``, ``n``.
    """
    gaze = np.asarray(gaze, dtype=np.float64).reshape(-1, 2)
    inout = np.asarray(inout).astype(int).ravel()
    if not (len(heatmaps) == len(gaze) == len(inout) == len(np.ravel(inout_scores))):
        raise ValueError("heatmaps, gaze, inout and inout_scores must have one entry per person")
    aucs, l2s = [], []
    for heatmap, point, is_in in zip(heatmaps, gaze, inout):
        if is_in:
            aucs.append(vat_auc(heatmap, point, sigma=sigma, region=region, resize=resize))
            pred = gaze_point(heatmap, offset=offset, refine=refine)
            l2s.append(float(np.hypot(pred[0] - point[0], pred[1] - point[1])))
    return {"auc": float(np.nanmean(aucs)) if aucs else float("nan"),
            "l2": float(np.mean(l2s)) if l2s else float("nan"),
            "ap": inout_ap(inout, inout_scores), "n_in": int(inout.sum()), "n": int(len(inout))}
