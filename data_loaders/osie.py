"""OSIE free-viewing fixations (Xu et al. 2014; MIT): 700 images x 15 subjects, x, y, duration (ms), 800 x 600.

``fixations.mat`` holds a struct array ``fixations[i]`` with ``img`` and ``subjects[j].fix_x / fix_y /
fix_duration``. OSIE's object masks are not available here, so scenes use grid cells as objects and have no
target (free viewing).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import scipy.io

from cogvision.scanpath.containers import ScanpathSet
from data_loaders.fixation_table import grid_scanpath_set
from data_loaders.shared import shared_path

WIDTH, HEIGHT = 800, 600
RELATIVE_PATH = ("data", "eyetracking", "osie", "fixations.mat")


def load_osie_table(path: str | Path | None = None, n_images: int | None = None) -> pd.DataFrame:
    """OSIE fixations as a standard table (``subject, trial, fixation, x, y, duration``; trial = image name).

    Parameters
    ----------
    path
        ``fixations.mat``; default: the shared copy.
    n_images
        Read only the first ``n_images`` images.
    """
    path = Path(path) if path is not None else shared_path(*RELATIVE_PATH)
    if not path.exists():
        raise FileNotFoundError(f"OSIE fixation file {path} does not exist")
    try:
        records = scipy.io.loadmat(path, squeeze_me=True, struct_as_record=False)["fixations"]
    except (KeyError, ValueError) as err:
        raise ValueError(f"{path}: expected a MATLAB file with a 'fixations' struct array ({err})") from err
    frames = []
    for rec in np.atleast_1d(records)[:n_images]:
        image = str(rec.img)
        for j, subj in enumerate(np.atleast_1d(rec.subjects)):
            x, y = np.atleast_1d(subj.fix_x).astype(float), np.atleast_1d(subj.fix_y).astype(float)
            d = np.atleast_1d(subj.fix_duration).astype(float)
            if len(x) == 0:
                continue
            frames.append(pd.DataFrame({"subject": str(j + 1), "trial": image, "fixation": np.arange(len(x)),
                                        "x": x, "y": y, "duration": d}))
    return pd.concat(frames, ignore_index=True)


def load_osie(path: str | Path | None = None, n_images: int | None = None, grid: tuple[int, int] = (6, 8),
              allow_outside: bool = True) -> ScanpathSet:
    """OSIE as a :class:`~cogvision.scanpath.ScanpathSet` of grid-cell objects (no target)."""
    table = load_osie_table(path, n_images)
    return grid_scanpath_set(table, WIDTH, HEIGHT, grid, "osie", allow_outside)


def osie_scanpaths(path: str | Path | None = None, n_images: int | None = None) -> list[np.ndarray]:
    """Per scanpath ``(n, 3)`` arrays of x, y, duration in seconds (the MultiMatch input), image-major."""
    table = load_osie_table(path, n_images)
    return [g[["x", "y", "duration"]].to_numpy(float) / [1, 1, 1000.0]
            for _, g in table.groupby(["trial", "subject"], sort=False)]
