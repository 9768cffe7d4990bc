"""MultiMatch scanpath similarity (vector, direction, length, position, duration), many pairs at once.

Source: Jarodzka, Holmqvist & Nyström 2010 (ETRA), Dewhurst et al. 2012 (Behav. Res. Methods 44:1079);
the MATLAB toolbox and its Python port multimatch-gaze 0.1.3 (Wagner et al. 2019), which this
implementation reproduces (checked to 1e-5 on real scanpaths and on the toolbox's golden values).

Algorithm
---------
1. A scanpath of fixations ``(x, y, duration)`` becomes saccade vectors between consecutive fixations.
2. Optional grouping (simplification) repeats until the number of fixations stops changing: first
   consecutive saccades whose angle is below ``tdir`` degrees, with a middle fixation shorter than
   ``tdur``, merge; then saccades shorter than ``tamp`` pixels next to a fixation shorter than ``tdur``
   merge with their successor (the last saccade with its predecessor). The bookkeeping follows the
   reference exactly, including its stopping rule.
3. ``M[i, j] = |v1_i - v2_j|``; the saccade alignment is the cheapest path through ``M`` from ``(0, 0)``
   to ``(n1-1, n2-1)`` moving right, down or diagonally. Because it only moves that way this is a
   dynamic programme (the reference runs Dijkstra on the same graph); exact ties prefer the diagonal,
   then down, then right.
4. Along the path, the medians of the vector difference, the angle between saccades, the length
   difference, the distance between saccade start points and ``|d1 - d2| / max(d1, d2)`` of the start
   fixations' durations, normalised to similarities by ``2 * diagonal``, ``pi``, ``diagonal``, ``diagonal``
   and 1.

Where the reference fails
-------------------------
multimatch-gaze raises ``IndexError`` when grouping leaves a single saccade that the length rule would
merge with a predecessor it does not have (a scanpath reduced to one short saccade next to a short
fixation). Here that saccade is kept as it is, so the pair gets a defined score. Scanpaths with fewer
than 3 fixations give NaN, as in the reference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from cogvision.scanpath.metrics._batch import as_pairs, chunks_by_size, pad

DIMENSIONS = ("vector", "direction", "length", "position", "duration")


@dataclass
class _Saccades:
    x: list  # start x
    y: list
    dx: list
    dy: list
    dur: list  # fixation durations (the reference's list, including its bookkeeping)


def _angle_deg(ax, ay, bx, by) -> float:
    norm = math.hypot(ax, ay) * math.hypot(bx, by)
    if norm == 0:
        return math.nan
    return math.degrees(math.acos(min(1.0, max(-1.0, (ax * bx + ay * by) / norm))))


def _keep(out: _Saccades, s: _Saccades, i: int) -> None:
    """Copy saccade ``i`` of ``s`` into ``out`` unchanged."""
    for name in ("x", "y", "dx", "dy", "dur"):
        getattr(out, name).append(getattr(s, name)[i])


def _join(out: _Saccades, s: _Saccades, i: int) -> None:
    """Append saccades ``i`` and ``i + 1`` of ``s`` to ``out`` as one (vectors added)."""
    out.x.append(s.x[i])
    out.y.append(s.y[i])
    out.dx.append(s.dx[i] + s.dx[i + 1])
    out.dy.append(s.dy[i] + s.dy[i + 1])
    out.dur.append(s.dur[i])


def _merge_direction(s: _Saccades, tdir: float, tdur: float) -> _Saccades:
    n = len(s.x)
    if n < 1:
        return s
    out = _Saccades([], [], [], [], [])
    i = 0
    while i < n:
        if i < n - 1 and _angle_deg(s.dx[i], s.dy[i], s.dx[i + 1], s.dy[i + 1]) < tdir and s.dur[i + 1] < tdur:
            _join(out, s, i)
            i += 2
        else:
            _keep(out, s, i)
            i += 1
    out.dur.append(s.dur[-1])
    return out


def _merge_length(s: _Saccades, tamp: float, tdur: float) -> _Saccades:
    n = len(s.x)
    if n < 1:
        return s
    out = _Saccades([], [], [], [], [])
    i = 0
    while i < n:
        short = math.hypot(s.dx[i], s.dy[i]) < tamp
        if i == n - 1:
            if short and n >= 2 and (s.dur[-1] < tdur or s.dur[-2] < tdur):
                # the reference adds the last two input saccades into the last output one
                out.dx[-1] = s.dx[-2] + s.dx[-1]
                out.dy[-1] = s.dy[-2] + s.dy[-1]
                out.dur.append(s.dur[i - 1])
            else:
                _keep(out, s, i)
            i += 1
        elif short and (s.dur[i + 1] < tdur or s.dur[i] < tdur):
            _join(out, s, i)
            i += 2
        else:
            _keep(out, s, i)
            i += 1
    out.dur.append(s.dur[-1])
    return out


def saccades(fixations: np.ndarray, grouping: bool = False, tdir: float = 0.0, tdur: float = 0.0,
             tamp: float = 0.0) -> np.ndarray:
    """Saccade representation of one scanpath, optionally simplified.

    Parameters
    ----------
    fixations
        ``(n, 3)``: x, y (pixels), duration (any unit; ``tdur`` in the same unit).

    Returns
    -------
    ndarray, shape (n_saccades, 5)
        Start x, start y, dx, dy and the duration of the start fixation.
    """
    f = np.asarray(fixations, float)
    s = _Saccades(list(f[:-1, 0]), list(f[:-1, 1]), list(np.diff(f[:, 0])), list(np.diff(f[:, 1])), list(f[:, 2]))
    if grouping:
        previous = len(s.dur)
        while True:
            s = _merge_length(_merge_direction(s, tdir, tdur), tamp, tdur)
            if len(s.dur) == previous:
                break
            previous = len(s.dur)
    n = len(s.x)
    return np.column_stack([s.x, s.y, s.dx, s.dy, s.dur[:n]]).reshape(n, 5)


def _alignment_mask(cost: np.ndarray, n1: np.ndarray, n2: np.ndarray) -> np.ndarray:
    """Cells on the cheapest right/down/diagonal path of each ``cost[b, :n1, :n2]``; ``(B, N1, N2)`` bool."""
    b, r, c = cost.shape
    acc = np.empty_like(cost)
    acc[:, 0, 0] = 0.0
    acc[:, 0, 1:] = np.cumsum(cost[:, 0, 1:], axis=1)
    acc[:, 1:, 0] = np.cumsum(cost[:, 1:, 0], axis=1)
    for i in range(1, r):
        best = np.minimum(acc[:, i - 1, :-1], acc[:, i - 1, 1:])
        for j in range(1, c):
            acc[:, i, j] = cost[:, i, j] + np.minimum(best[:, j - 1], acc[:, i, j - 1])
    mask = np.zeros((b, r, c), bool)
    rows = np.arange(b)
    i, j = n1 - 1, n2 - 1
    mask[rows, i, j] = True
    inf = np.inf
    for _ in range(r + c):
        active = (i > 0) | (j > 0)
        if not active.any():
            break
        ii, jj = np.maximum(i - 1, 0), np.maximum(j - 1, 0)
        diag = np.where((i > 0) & (j > 0), acc[rows, ii, jj], inf)
        up = np.where(i > 0, acc[rows, ii, j], inf)
        left = np.where(j > 0, acc[rows, i, jj], inf)
        go_diag = (diag <= up) & (diag <= left)
        go_up = ~go_diag & (up <= left)
        ni = np.where(go_diag | go_up, i - 1, i)
        nj = np.where(go_up, j, j - 1)
        i, j = np.where(active, ni, i), np.where(active, nj, j)
        mask[rows[active], i[active], j[active]] = True
    return mask


def _masked_median(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    flat = np.where(mask, values, np.nan).reshape(len(values), -1)
    nan_in_path = (np.isnan(values) & mask).reshape(len(values), -1).any(1)
    flat.sort(axis=1)
    k = mask.reshape(len(values), -1).sum(1)
    rows = np.arange(len(values))
    med = (flat[rows, (k - 1) // 2] + flat[rows, k // 2]) / 2
    med[nan_in_path] = np.nan
    return med


def multimatch_many(scanpaths: Sequence[np.ndarray], screen_size: tuple[float, float], pairs=None, *,
                    grouping: bool = False, tdir: float = 0.0, tdur: float = 0.0, tamp: float = 0.0,
                    chunk: int = 2048) -> np.ndarray:
    """MultiMatch similarities of many scanpath pairs.

    Parameters
    ----------
    scanpaths
        Each ``(n_i, 3)``: x, y (pixels), duration (seconds in the reference; any unit matching ``tdur``).
    screen_size
        ``(width, height)`` in pixels (only the diagonal is used, so the order does not matter).
    pairs
        ``(n_pairs, 2)`` indices into ``scanpaths``; every ``i < j`` pair when None.
    grouping, tdir, tdur, tamp
        Simplification and its thresholds (degrees, duration unit, pixels).
    chunk
        Pairs per vectorised batch.

    Returns
    -------
    ndarray, shape (n_pairs, 5)
        Vector, direction, length, position, duration similarity in [0, 1]; NaN rows for scanpaths with
        fewer than 3 fixations.
    """
    screen = np.asarray(screen_size, float).ravel()
    if screen.shape != (2,) or not np.isfinite(screen).all() or (screen <= 0).any():
        raise ValueError(f"screen_size must be (width, height) in pixels, both positive, got {tuple(screen_size)!r}")
    pairs = as_pairs(len(scanpaths), pairs)
    reps = []
    for k, f in enumerate(scanpaths):
        f = np.asarray(f, float)
        if f.ndim != 2 or f.shape[1] != 3:
            raise ValueError(f"scanpath {k}: expected an (n, 3) array of x, y, duration, got shape {f.shape}")
        if not np.isfinite(f[:, :2]).all():
            raise ValueError(f"scanpath {k}: NaN or infinite coordinates")
        reps.append(saccades(f, grouping, tdir, tdur, tamp) if len(f) >= 3 else None)
    diag = math.hypot(*screen)
    out = np.full((len(pairs), 5), np.nan)
    valid = np.array([reps[a] is not None and reps[b] is not None for a, b in pairs], bool)
    index = np.flatnonzero(valid)
    n_sac = np.array([len(r) if r is not None else 0 for r in reps])
    for part in chunks_by_size(n_sac[pairs[index, 0]], n_sac[pairs[index, 1]], chunk):
        sel = index[part]
        s1 = pad([reps[a] for a in pairs[sel, 0]], np.nan)
        s2 = pad([reps[b] for b in pairs[sel, 1]], np.nan)
        n1, n2 = n_sac[pairs[sel, 0]], n_sac[pairs[sel, 1]]
        a, b = s1[:, :, None, :], s2[:, None, :, :]
        vector = np.hypot(a[..., 2] - b[..., 2], a[..., 3] - b[..., 3])
        mask = _alignment_mask(np.nan_to_num(vector, nan=0.0), n1, n2)
        th1 = np.arctan2(a[..., 3], a[..., 2])
        th1 = np.where(th1 < 0, 2 * np.pi + th1, th1)
        th2 = np.arctan2(b[..., 3], b[..., 2])
        th2 = np.where(th2 < 0, 2 * np.pi + th2, th2)
        angle = np.abs(th1 - th2)
        angle = np.where(angle > np.pi, 2 * np.pi - angle, angle)
        length = np.abs(np.hypot(a[..., 2], a[..., 3]) - np.hypot(b[..., 2], b[..., 3]))
        position = np.hypot(a[..., 0] - b[..., 0], a[..., 1] - b[..., 1])
        with np.errstate(invalid="ignore", divide="ignore"):
            duration = np.abs(a[..., 4] - b[..., 4]) / np.abs(np.maximum(a[..., 4], b[..., 4]))
        medians = np.stack([_masked_median(v, mask) for v in (vector, angle, length, position, duration)], 1)
        out[sel] = 1 - medians / np.array([2 * diag, np.pi, diag, diag, 1.0])
    return out


def multimatch(scanpath1: np.ndarray, scanpath2: np.ndarray, screen_size: tuple[float, float], *,
               grouping: bool = False, tdir: float = 0.0, tdur: float = 0.0, tamp: float = 0.0) -> np.ndarray:
    """MultiMatch of one pair: ``[vector, direction, length, position, duration]`` (see :func:`multimatch_many`)."""
    return multimatch_many([scanpath1, scanpath2], screen_size, [[0, 1]], grouping=grouping,
                           tdir=tdir, tdur=tdur, tamp=tamp)[0]
