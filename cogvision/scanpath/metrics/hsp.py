"""Human scanpath prediction (HSP): likelihood-based scores of a model's next-fixation maps.

Kümmerer & Bethge (2021) score a scanpath model by letting it *follow* each human scanpath: before fixation
``i`` the model sees the human's fixations ``0 .. i-1`` and gives a probability map ``p_i`` over where the next
fixation goes; the map is scored at the fixation the human actually made. The ViSioNS benchmark (Travi et al.)
applies this to visual search on a grid of cells; this module follows its protocol (``PAPERS.md`` section 6):

- **Cells.** A fixation ``(x, y)`` on an image of ``height x width`` pixels falls in cell
  ``(int(y / height * rows), int(x / width * cols))`` (:func:`grid_cells`; 24 x 32 cells on Interiors).
- **Merging.** Consecutive fixations in the same cell are one fixation (:func:`collapse_repeats`).
- **Cut.** The scanpath ends at the first fixation inside the target's cells, the cells from the converted
  top-left to the converted bottom-right corner of its box, inclusive (:func:`cut_at_target`).
- **Scores per fixation** ``i = 1 .. n-1`` (fixation 0 is given), with ``p`` the map summing to 1, ``f`` the
  fixated cell, ``b`` the centre-bias map summing to 1, ``N`` the number of cells and ``eps = 2.2e-16``:

  - ``auc``: the fraction of all ``N`` cells whose value is below ``p(f)``, ties counted 1/2 (the fixated cell
    itself is among the negatives, as in ViSioNS);
  - ``nss``: ``(p(f) - mean p) / std p`` (population std; 0 for a flat map), set to 0 when below ``2e-20``
    -- so every negative NSS counts 0, as the ViSioNS code does and its published NSS column reports;
  - ``nss_standard``: the same without that clip (the usual NSS; a named option);
  - ``ig``: ``log2(eps + p(f)) - log2(eps + b(f))``, information gain over the centre bias, in bits;
  - ``ll``: ``log2(eps + p(f)) - log2(eps + 1 / N)``, log-likelihood over the uniform map, in bits.

- **Averages** (:func:`aggregate_hsp`): mean over a trial's scored fixations, then over the subjects of an
  image, then over images.

Models hand their maps as *log*-densities (natural log), so that a probability below the float32 floor is not
lost; every score here is computed in float64. Everything is vectorised over all fixations of all scanpaths
at once (:func:`hsp_scores`); ``benchmarks/hsp_speed.py`` compares it with a per-fixation loop.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

EPS = 2.2204e-16
NSS_FLOOR = 2e-20
HSP_METRICS = ("auc", "nss", "ig", "ll", "nss_standard")


def grid_cells(x: np.ndarray, y: np.ndarray, width: float, height: float, rows: int, cols: int) -> np.ndarray:
    """Cells ``(n, 2)`` as ``(row, col)`` of pixel fixations, by ``int(value / size * grid)`` (truncation).

    Raises
    ------
    ValueError
        When a fixation lies outside the image (its cell would be outside the grid).
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.shape != y.shape:
        raise ValueError(f"x and y differ in shape: {x.shape} vs {y.shape}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("fixation coordinates must be finite")
    row = (y / height * rows).astype(int)
    col = (x / width * cols).astype(int)
    bad = (y < 0) | (x < 0) | (row >= rows) | (col >= cols)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise ValueError(f"fixation {k} at ({x[k]}, {y[k]}) lies outside the {width:g} x {height:g} image")
    return np.stack([row, col], 1)


def collapse_repeats(cells: np.ndarray) -> np.ndarray:
    """Drop every fixation that lands in the same cell as the one before it: ``(n, 2)`` -> ``(m, 2)``."""
    cells = np.asarray(cells).reshape(-1, 2)
    if len(cells) == 0:
        return cells
    keep = np.ones(len(cells), bool)
    keep[1:] = (cells[1:] != cells[:-1]).any(1)
    return cells[keep]


def target_cells(box: tuple[float, float, float, float], width: float, height: float, rows: int,
                 cols: int) -> tuple[int, int, int, int]:
    """Cell range ``(row0, col0, row1, col1)`` (inclusive) of a target box ``(top, left, bottom, right)`` pixels."""
    top, left, bottom, right = (float(v) for v in box)
    return (int(top / height * rows), int(left / width * cols), int(bottom / height * rows), int(right / width * cols))


def cut_at_target(cells: np.ndarray, target: tuple[int, int, int, int]) -> np.ndarray:
    """The scanpath up to and including its first fixation in the target's cell range (all of it if none)."""
    cells = np.asarray(cells).reshape(-1, 2)
    r0, c0, r1, c1 = target
    inside = (cells[:, 0] >= r0) & (cells[:, 0] <= r1) & (cells[:, 1] >= c0) & (cells[:, 1] <= c1)
    return cells[: int(np.argmax(inside)) + 1] if inside.any() else cells


def hsp_scores(log_density: np.ndarray, fixated: np.ndarray, baseline: np.ndarray) -> dict[str, np.ndarray]:
    """The five HSP scores of each map at its fixated cell.

    Parameters
    ----------
    log_density
        Natural-log probability maps, shape ``(n, N)`` (``N`` cells, flattened row-major); each row is
        normalised here (its probabilities summed to 1), so an unnormalised log-map is fine.
    fixated
        Index of the fixated cell of each map, shape ``(n,)``.
    baseline
        The centre-bias map, shape ``(N,)`` (non-negative; normalised to sum 1 here).

    Returns
    -------
    dict
        ``auc, nss, ig, ll, nss_standard``, each an array of shape ``(n,)`` (see the module docstring).
    """
    logp = np.asarray(log_density, float)
    if logp.ndim != 2:
        raise ValueError(f"log_density must be (n_fixations, n_cells), got shape {logp.shape}")
    n, cells = logp.shape
    fixated = np.asarray(fixated, int).reshape(-1)
    if len(fixated) != n:
        raise ValueError(f"{n} maps but {len(fixated)} fixated cells")
    if n and (fixated.min() < 0 or fixated.max() >= cells):
        raise ValueError(f"fixated cells must lie in 0..{cells - 1}")
    base = np.asarray(baseline, float).reshape(-1)
    if base.shape != (cells,) or (base < 0).any() or not base.sum() > 0:
        raise ValueError(f"baseline must be a non-negative map of {cells} cells, got shape {base.shape}")
    if np.isnan(logp).any() or np.isposinf(logp).any():
        raise ValueError("log_density holds NaN or +inf")
    logp = logp - logp.max(1, keepdims=True)
    p = np.exp(logp)
    p /= p.sum(1, keepdims=True)
    rows = np.arange(n)
    at = p[rows, fixated][:, None]
    auc = ((p < at).sum(1) + 0.5 * (p == at).sum(1)) / cells
    # A flat map has NSS 0; its float std is rounding noise (1e-19 for 84 equal cells), not 0, so test the spread.
    flat = p.max(1) - p.min(1) <= 1e-12 * p.max(1)
    sd = p.std(1)
    nss = np.divide(at[:, 0] - p.mean(1), sd, out=np.zeros(n), where=~flat & (sd > 0))
    base = base / base.sum()
    log_at = np.log2(EPS + at[:, 0])
    return {"auc": auc, "nss": np.where(nss < NSS_FLOOR, 0.0, nss), "ig": log_at - np.log2(EPS + base[fixated]),
            "ll": log_at - np.log2(EPS + 1.0 / cells), "nss_standard": nss}


def aggregate_hsp(per_fixation: pd.DataFrame, metrics=HSP_METRICS) -> tuple[pd.DataFrame, pd.Series]:
    """ViSioNS averaging: mean over a trial's fixations, then over subjects per image, then over images.

    Parameters
    ----------
    per_fixation
        One row per scored fixation with columns ``image, subject`` and the metrics.

    Returns
    -------
    per_image : DataFrame
        Index ``image``, one column per metric.
    overall : Series
        The mean over images.
    """
    per_trial = per_fixation.groupby(["image", "subject"], sort=True)[list(metrics)].mean()
    per_image = per_trial.groupby(level="image", sort=True).mean()
    return per_image, per_image.mean()
