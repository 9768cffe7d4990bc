"""Generic reader for fixation tables in CSV/TSV (including BIDS-like ``*_events.tsv``), and grid scenes.

A BIDS-like events file has one row per event (``onset, duration, trial_type`` plus gaze columns);
fixation rows are chosen with ``where`` (e.g. ``{"label": "FIXA"}``) and columns renamed with ``columns``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from cogvision.scanpath.containers import ScanpathSet, Scene
from cogvision.scanpath.mapping import grid_boxes, objects_by_grid


def read_fixation_table(path: str | Path, columns: dict[str, str] | None = None, *, sep: str | None = None,
                        where: dict[str, object] | None = None, duration_unit: str = "ms",
                        subject: str | None = None, trial: str | None = None) -> pd.DataFrame:
    r"""Read a fixation table into the standard columns ``subject, trial, fixation, x, y, duration``.

    Parameters
    ----------
    path
        CSV (``,``) or TSV (``\\t``) file; the separator is taken from the suffix unless ``sep`` is given.
    columns
        ``standard name -> column in the file``, e.g. ``{"x": "start_x", "y": "start_y"}``. Standard names
        present in the file need no entry.
    where
        Keep rows whose columns equal these values (e.g. ``{"label": "FIXA"}``).
    duration_unit
        ``"ms"`` or ``"s"``; durations are returned in ms.
    subject, trial
        Values for a missing ``subject``/``trial`` column (default: the file stem).

    Raises
    ------
    FileNotFoundError
        When ``path`` is missing.
    ValueError
        When a required column is missing or values are not numeric, naming the file and column.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"fixation table {path} does not exist")
    if sep is None:
        sep = "\t" if path.suffix.lower() in (".tsv", ".txt") else ","
    table = pd.read_csv(path, sep=sep)
    for key, value in (where or {}).items():
        if key not in table:
            raise ValueError(f"{path}: no column {key!r} to filter on (columns: {list(table.columns)})")
        table = table[table[key] == value]
    rename = {v: k for k, v in (columns or {}).items()}
    table = table.rename(columns=rename)
    for name in ("x", "y"):
        if name not in table:
            raise ValueError(f"{path}: no column for {name!r}; pass columns={{'{name}': '<column>'}} "
                             f"(columns: {list(table.columns)})")
    if duration_unit not in ("ms", "s"):
        raise ValueError(f"duration_unit must be 'ms' or 's', got {duration_unit!r}")
    table = table.reset_index(drop=True)
    out = pd.DataFrame({
        "subject": table["subject"].astype(str) if "subject" in table else (subject or path.stem),
        "trial": table["trial"].astype(str) if "trial" in table else (trial or path.stem),
    }, index=table.index)
    for name in ("x", "y", "duration"):
        if name in table:
            values = pd.to_numeric(table[name], errors="coerce")
            if values.isna().any() and name != "duration":
                raise ValueError(f"{path}: column {name!r} has non-numeric or missing values at row "
                                 f"{int(values.isna().to_numpy().argmax())}")
            out[name] = values.to_numpy(float) * (1000.0 if name == "duration" and duration_unit == "s" else 1.0)
        else:
            out[name] = np.nan
    out["fixation"] = out.groupby(["subject", "trial"]).cumcount()
    return out[["subject", "trial", "fixation", "x", "y", "duration"]].reset_index(drop=True)


def grid_scene(trial: str, width: float, height: float, rows: int, cols: int, target: int = -1,
               image_id: str | None = None, image: np.ndarray | None = None) -> Scene:
    """A scene whose objects are the cells of a ``rows x cols`` grid (row-major), labelled ``cell``.

    The target cell (if any) is labelled ``target``.
    """
    boxes, pos = grid_boxes(width, height, rows, cols)
    labels = ["cell"] * len(boxes)
    if target >= 0:
        labels[target] = "target"
    return Scene(trial, width, height, boxes, labels, pos, (rows, cols), target, "target" if target >= 0 else "",
                 image_id or trial, image)


def grid_scanpath_set(fixations: pd.DataFrame, width: float, height: float, grid: tuple[int, int] = (6, 8),
                      name: str = "fixations", allow_outside: bool = False) -> ScanpathSet:
    """Turn a standard fixation table into a :class:`ScanpathSet` with grid-cell objects and no target."""
    rows, cols = grid
    scenes = {str(t): grid_scene(str(t), width, height, rows, cols) for t in fixations["trial"].unique()}
    fixations = fixations.copy()
    fixations["object"] = objects_by_grid(fixations["x"], fixations["y"], width, height, rows, cols)
    return ScanpathSet(fixations, scenes, name, allow_outside)
