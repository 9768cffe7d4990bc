"""VideoAttentionTarget annotations (Chong et al. CVPR 2020) and per-person head-box tracks.

Formats:

- Per-clip files ``<root>/<show>/<clip>/<person>.txt`` (e.g. ``s00.txt``), one line per frame:
  ``frame, xmin, ymin, xmax, ymax, gaze_x, gaze_y`` in pixels, ``-1, -1`` when the target is out of
  frame (:func:`read_vat_annotations`).
- A flattened CSV with the columns ``frame path, xmin, ymin, xmax, ymax, gaze_x, gaze_y``, with or
  without a header (:func:`read_vat_csv`).
- Head-box tracks like ``chong_demo_frames/person1.txt``: ``frame, left, top, right, bottom`` per line
  (:func:`read_head_boxes`).

Tables use ``x1, y1, x2, y2`` for head boxes, ``gaze_x, gaze_y`` and ``inout`` (1 in frame, 0 out).
Like Chong's loader, slightly negative in-frame gaze coordinates are clipped to 0.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from data_loaders.gazefollow import image_sizes

VAT_COLUMNS = ["path", "x1", "y1", "x2", "y2", "gaze_x", "gaze_y"]


def _finish(table: pd.DataFrame) -> pd.DataFrame:
    out = (table["gaze_x"] == -1) & (table["gaze_y"] == -1)
    table["inout"] = (~out).astype(int)
    for col in ("gaze_x", "gaze_y"):
        table.loc[~out, col] = table.loc[~out, col].clip(lower=0)
    return table


def read_vat_csv(path: str | os.PathLike) -> pd.DataFrame:
    """Read a flattened VideoAttentionTarget CSV (``frame path, xmin, ymin, xmax, ymax, gaze_x, gaze_y``).

    Returns
    -------
    pandas.DataFrame
        ``path, x1, y1, x2, y2, gaze_x, gaze_y`` (pixels) and ``inout``.

    Raises
    ------
    FileNotFoundError
        Missing file.
    ValueError
        Not seven columns.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"VideoAttentionTarget CSV {path} does not exist")
    first = path.read_text(encoding="utf-8-sig").splitlines()[0].split(",")
    has_header = len(first) > 1 and not _is_number(first[1])
    table = pd.read_csv(path, header=0 if has_header else None, encoding="utf-8-sig", skipinitialspace=True)
    if table.shape[1] != 7:
        raise ValueError(f"{path}: expected 7 columns (frame path, xmin, ymin, xmax, ymax, gaze_x, gaze_y), "
                         f"got {table.shape[1]}")
    table.columns = VAT_COLUMNS
    return _finish(table)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_vat_annotations(root: str | os.PathLike) -> pd.DataFrame:
    """Read every per-person file under ``root/<show>/<clip>/*.txt``.

    Returns
    -------
    pandas.DataFrame
        ``show, clip, person, frame, path`` (``show/clip/frame``), ``x1, y1, x2, y2, gaze_x, gaze_y``
        (pixels), ``inout``; ordered by show, clip, person and file order.

    Raises
    ------
    FileNotFoundError
        If ``root`` is not a folder or holds no annotation file.
    ValueError
        If a file does not have 7 columns (naming the file).
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"VideoAttentionTarget annotation folder {root} does not exist")
    files = sorted(root.glob("*/*/*.txt"))
    if not files:
        raise FileNotFoundError(f"no annotation files <show>/<clip>/<person>.txt under {root}")
    tables = []
    for file in files:
        table = pd.read_csv(file, header=None, skipinitialspace=True)
        if table.shape[1] != 7:
            raise ValueError(f"{file}: expected 7 columns (frame, xmin, ymin, xmax, ymax, gaze_x, gaze_y), "
                             f"got {table.shape[1]}")
        table.columns = ["frame", "x1", "y1", "x2", "y2", "gaze_x", "gaze_y"]
        show, clip = file.parent.parent.name, file.parent.name
        table.insert(0, "person", file.stem)
        table.insert(0, "clip", clip)
        table.insert(0, "show", show)
        table.insert(4, "path", [f"{show}/{clip}/{f}" for f in table["frame"]])
        tables.append(table)
    return _finish(pd.concat(tables, ignore_index=True))


def read_head_boxes(path: str | os.PathLike) -> pd.DataFrame:
    """Read a head-box track ``frame, left, top, right, bottom`` (pixels), e.g. Chong's demo ``person1.txt``.

    Returns
    -------
    pandas.DataFrame
        ``frame, x1, y1, x2, y2``.

    Raises
    ------
    FileNotFoundError
        Missing file.
    ValueError
        Not five columns, or a box with zero area (naming the line).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"head-box file {path} does not exist")
    table = pd.read_csv(path, header=None, skipinitialspace=True)
    if table.shape[1] != 5:
        raise ValueError(f"{path}: expected 5 columns (frame, left, top, right, bottom), got {table.shape[1]}")
    table.columns = ["frame", "x1", "y1", "x2", "y2"]
    bad = (table["x2"] <= table["x1"]) | (table["y2"] <= table["y1"])
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{path}: line {i + 1} has a box with zero area: {table.iloc[i].tolist()}")
    return table


def smooth_boxes(table: pd.DataFrame, window: int = 11, by: list[str] | None = None) -> pd.DataFrame:
    """Moving average of head boxes along each track (Chong's ``smooth_by_conv``, 11 frames).

    Each track is padded with copies of its first and last box (``window // 2`` each side) and averaged
    with a flat window, so its length is unchanged.

    Parameters
    ----------
    table
        With ``x1, y1, x2, y2``, ordered by frame within a track.
    window
        Odd window length in frames.
    by
        Columns identifying a track (default ``show, clip, person`` when present, else the whole table).
    """
    if window < 1 or window % 2 == 0:
        raise ValueError(f"window must be a positive odd number of frames, got {window}")
    by = by if by is not None else [c for c in ("show", "clip", "person") if c in table.columns]
    out = table.copy()
    groups = out.groupby(by, sort=False).indices.values() if by else [np.arange(len(out))]
    kernel = np.ones(window) / window
    half = window // 2
    for index in groups:
        for col in ("x1", "y1", "x2", "y2"):
            values = out[col].to_numpy(float)[index]
            padded = np.concatenate([np.full(half, values[0]), values, np.full(half, values[-1])])
            out.loc[out.index[index], col] = np.convolve(padded, kernel, mode="valid")
    return out


def normalise(table: pd.DataFrame, image_root: str | os.PathLike) -> pd.DataFrame:
    """Add ``width, height`` from the images under ``image_root`` and divide boxes and in-frame gaze by them.

    Raises
    ------
    FileNotFoundError
        Listing the missing images.
    """
    sizes = image_sizes(table["path"], image_root)
    out = table.astype({c: float for c in ("x1", "y1", "x2", "y2", "gaze_x", "gaze_y")})
    out["width"] = sizes.loc[out["path"], "width"].to_numpy()
    out["height"] = sizes.loc[out["path"], "height"].to_numpy()
    for col, dim in (("x1", "width"), ("x2", "width"), ("y1", "height"), ("y2", "height")):
        out[col] = (out[col] / out[dim]).clip(0.0, 1.0)
    inside = out["inout"] == 1
    out.loc[inside, "gaze_x"] = out.loc[inside, "gaze_x"] / out.loc[inside, "width"]
    out.loc[inside, "gaze_y"] = out.loc[inside, "gaze_y"] / out.loc[inside, "height"]
    return out
