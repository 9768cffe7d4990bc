"""Fixation -> object mapping (by box, grid or mask) and pixel <-> degree conversion.

A fixation inside one box maps to that box (to the smallest box when boxes overlap); otherwise to the
nearest box within ``max_distance`` pixels (distance to the box edge); otherwise to background (``-1``).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import ndimage

from cogvision.scanpath.containers import BACKGROUND, Scene


def grid_boxes(width: float, height: float, rows: int, cols: int) -> tuple[np.ndarray, np.ndarray]:
    """Boxes and ``(row, col)`` codes of a ``rows x cols`` grid over a ``width x height`` image, row-major.

    Returns
    -------
    boxes : ndarray, shape (rows * cols, 4)
    grid_pos : ndarray of int, shape (rows * cols, 2)
    """
    r, c = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    r, c = r.ravel(), c.ravel()
    cw, ch = width / cols, height / rows
    boxes = np.stack([c * cw, r * ch, (c + 1) * cw, (r + 1) * ch], 1).astype(float)
    return boxes, np.stack([r, c], 1)


def box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection over union of one box ``(4,)`` with each of ``boxes`` ``(n, 4)`` (``x0, y0, x1, y1``).

    Examples
    --------
    >>> box_iou(np.array([0, 0, 2, 2]), np.array([[1, 0, 3, 2], [5, 5, 6, 6]])).tolist()
    [0.3333333333333333, 0.0]
    """
    ix = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    iy = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    inter = ix * iy
    area_box = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / (area_box + areas - inter)


def objects_by_grid(x: np.ndarray, y: np.ndarray, width: float, height: float, rows: int, cols: int) -> np.ndarray:
    """Row-major cell index ``floor(y / (H / rows)) * cols + floor(x / (W / cols))``, clipped to the grid."""
    row = np.clip(np.floor(np.asarray(y, float) / (height / rows)), 0, rows - 1).astype(int)
    col = np.clip(np.floor(np.asarray(x, float) / (width / cols)), 0, cols - 1).astype(int)
    return row * cols + col


def objects_by_box(x: np.ndarray, y: np.ndarray, boxes: np.ndarray, max_distance: float = math.inf) -> np.ndarray:
    """Index of the box holding each point (the smallest one if several), else the nearest within ``max_distance``.

    Parameters
    ----------
    x, y
        Points, shape ``(n,)``.
    boxes
        ``(n_objects, 4)`` as ``xmin, ymin, xmax, ymax``.
    max_distance
        Largest distance (pixels, to the box edge) for the nearest-object fallback; beyond it: ``-1``.

    Returns
    -------
    ndarray of int, shape (n,)
    """
    x = np.asarray(x, float)[:, None]
    y = np.asarray(y, float)[:, None]
    boxes = np.asarray(boxes, float)
    dx = np.maximum(np.maximum(boxes[None, :, 0] - x, x - boxes[None, :, 2]), 0)
    dy = np.maximum(np.maximum(boxes[None, :, 1] - y, y - boxes[None, :, 3]), 0)
    dist = np.hypot(dx, dy)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    inside = dist == 0
    by_area = np.where(inside, area[None, :], np.inf).argmin(1)
    nearest = dist.argmin(1)
    out = np.where(inside.any(1), by_area, nearest)
    out[~inside.any(1) & (dist.min(1, initial=np.inf) > max_distance)] = BACKGROUND
    return out.astype(int)


def objects_by_mask(x: np.ndarray, y: np.ndarray, mask: np.ndarray, max_distance: float = math.inf) -> np.ndarray:
    """Object id of a label image at each point; background pixels (``-1``) fall back to the nearest object pixel.

    Parameters
    ----------
    mask
        Integer label image, shape ``(height, width)``; ``-1`` is background.
    """
    mask = np.asarray(mask)
    h, w = mask.shape
    col = np.clip(np.round(np.asarray(x, float)).astype(int), 0, w - 1)
    row = np.clip(np.round(np.asarray(y, float)).astype(int), 0, h - 1)
    background = mask == BACKGROUND
    if background.all():
        return np.full(len(col), BACKGROUND)
    dist, (ri, ci) = ndimage.distance_transform_edt(background, return_indices=True)
    out = mask[ri[row, col], ci[row, col]].astype(int)
    out[dist[row, col] > max_distance] = BACKGROUND
    return out


def map_fixations(fixations: pd.DataFrame, scenes: dict[str, Scene], max_distance: float = math.inf,
                  masks: dict[str, np.ndarray] | None = None) -> pd.DataFrame:
    """Fill the ``object`` column of a fixation table from each trial's boxes (or its mask when given).

    Returns
    -------
    DataFrame
        A copy of ``fixations`` with ``object`` set.
    """
    out = fixations.copy()
    objects = np.full(len(out), BACKGROUND, dtype=int)
    for trial, index in out.groupby("trial", sort=False).indices.items():
        if trial not in scenes:
            raise ValueError(f"trial {trial!r} has fixations but no scene")
        xs, ys = out["x"].to_numpy(float)[index], out["y"].to_numpy(float)[index]
        if masks is not None and trial in masks:
            objects[index] = objects_by_mask(xs, ys, masks[trial], max_distance)
        else:
            objects[index] = objects_by_box(xs, ys, scenes[trial].boxes, max_distance)
    out["object"] = objects
    return out


def pixels_per_degree(screen_px: float, screen_cm: float, distance_cm: float) -> float:
    """Pixels per degree of visual angle at the screen centre.

    Parameters
    ----------
    screen_px, screen_cm
        Screen extent along one axis in pixels and in centimetres.
    distance_cm
        Viewing distance in centimetres.
    """
    if min(screen_px, screen_cm, distance_cm) <= 0:
        raise ValueError("screen size in px and cm and the viewing distance must be positive")
    return screen_px / math.degrees(2 * math.atan(screen_cm / (2 * distance_cm)))


def pixels_to_degrees(pixels, screen_px: float, screen_cm: float, distance_cm: float) -> np.ndarray:
    """Convert an offset from the screen centre in pixels to degrees of visual angle (exact, not linearised)."""
    cm = np.asarray(pixels, float) * screen_cm / screen_px
    return np.degrees(np.arctan(cm / distance_cm))


def degrees_to_pixels(degrees, screen_px: float, screen_cm: float, distance_cm: float) -> np.ndarray:
    """Inverse of :func:`pixels_to_degrees`."""
    cm = np.tan(np.radians(np.asarray(degrees, float))) * distance_cm
    return cm * screen_px / screen_cm
