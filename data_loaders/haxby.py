"""Haxby et al. (2001), subject 1: one posterior axial slice of BOLD (PyMVPA's example dataset).

Files in ``<shared>/data/fmri/haxby2001_subj1/``: ``bold.nii.gz`` (40, 20, 1, 1452 volumes),
``mask.nii.gz`` (530 voxels), ``attributes.txt`` (``label run`` per volume: 0 rest, 1 face, 2 house,
3 shoe, 4 cat, 5 scissors, 6 scrambledpix, 7 bottle, 8 chair; runs 0-11; TR 2.5 s).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from nilearn.glm.first_level import make_first_level_design_matrix

from data_loaders.shared import shared_path

TR = 2.5
CATEGORIES = ("rest", "face", "house", "shoe", "cat", "scissors", "scrambledpix", "bottle", "chair")
SUBDIR = ("data", "fmri", "haxby2001_subj1")


@dataclass
class HaxbySlice:
    """The BOLD slice, its mask and the volume attributes.

    Attributes
    ----------
    bold, mask : str
        Paths of the NIfTI files.
    attributes : pandas.DataFrame
        One row per volume: ``volume, label, category, run``.
    tr : float
        Repetition time in seconds.
    """

    bold: str
    mask: str
    attributes: pd.DataFrame
    tr: float = TR


def load_haxby(root: str | Path | None = None) -> HaxbySlice:
    """Locate and read the Haxby subject-1 slice (``root`` defaults to the shared data folder).

    Raises
    ------
    FileNotFoundError
        When a file is missing.
    ValueError
        When ``attributes.txt`` is not two integer columns.
    """
    root = Path(root) if root is not None else shared_path(*SUBDIR)
    paths = {name: root / name for name in ("bold.nii.gz", "mask.nii.gz", "attributes.txt")}
    for path in paths.values():
        if not path.is_file():
            raise FileNotFoundError(f"Haxby file {path} does not exist")
    table = pd.read_csv(paths["attributes.txt"], sep=r"\s+", header=None)
    if table.shape[1] != 2 or not all(np.issubdtype(t, np.integer) for t in table.dtypes):
        raise ValueError(
            f"{paths['attributes.txt']} must hold two integer columns 'label run', got {table.shape[1]} columns"
        )
    labels, runs = table[0].to_numpy(), table[1].to_numpy()
    if labels.min() < 0 or labels.max() >= len(CATEGORIES):
        raise ValueError(f"{paths['attributes.txt']} has labels outside 0..{len(CATEGORIES) - 1}")
    attributes = pd.DataFrame({"volume": np.arange(len(labels)), "label": labels,
                               "category": [CATEGORIES[i] for i in labels], "run": runs})
    return HaxbySlice(str(paths["bold.nii.gz"]), str(paths["mask.nii.gz"]), attributes)


def category_events(attributes: pd.DataFrame, tr: float = TR) -> dict[int, pd.DataFrame]:
    """Blocks of consecutive volumes of one category (rest excluded) as nilearn events, per run.

    Returns
    -------
    dict of int to pandas.DataFrame
        Run -> events with columns ``onset, duration, trial_type`` (seconds from the run's first volume).
    """
    events = {}
    for run, part in attributes.groupby("run", sort=True):
        cats = part["category"].to_numpy()
        starts = np.flatnonzero(np.r_[True, cats[1:] != cats[:-1]])
        ends = np.r_[starts[1:], len(cats)]
        rows = [{"onset": s * tr, "duration": (e - s) * tr, "trial_type": cats[s]}
                for s, e in zip(starts, ends) if cats[s] != "rest"]
        events[int(run)] = pd.DataFrame(rows, columns=["onset", "duration", "trial_type"])
    return events


def category_design(attributes: pd.DataFrame, tr: float = TR, kind: str = "hrf",
                    lags: tuple[int, ...] = (1, 2, 3)) -> pd.DataFrame:
    """Category regressors for every volume, built run by run.

    Parameters
    ----------
    attributes
        From :func:`load_haxby`.
    tr
        Repetition time (s).
    kind
        ``"hrf"``: block regressors convolved with the Glover HRF (nilearn's design-matrix tools);
        ``"lagged"``: the block indicators shifted by each of ``lags`` volumes (a finite impulse response).
    lags
        Shifts in volumes for ``"lagged"``.

    Returns
    -------
    pandas.DataFrame
        (n_volumes, n_regressors), indexed like ``attributes``; no drift or constant columns.
    """
    if kind not in ("hrf", "lagged"):
        raise ValueError(f"kind must be 'hrf' or 'lagged', got {kind!r}")
    names = [c for c in CATEGORIES if c != "rest"]
    parts = []
    for run, events in category_events(attributes, tr).items():
        n = int((attributes["run"] == run).sum())
        if kind == "hrf":

            design = make_first_level_design_matrix(np.arange(n) * tr, events, hrf_model="glover", drift_model=None)
            parts.append(design.reindex(columns=names, fill_value=0.0).reset_index(drop=True))
        else:
            cats = attributes.loc[attributes["run"] == run, "category"].to_numpy()
            onehot = np.stack([(cats == c).astype(float) for c in names], 1)
            shifted = {f"{c}_lag{lag}": np.r_[np.zeros(lag), onehot[:n - lag, i]]
                       for lag in lags for i, c in enumerate(names)}
            parts.append(pd.DataFrame(shifted))
    return pd.concat(parts, ignore_index=True).set_axis(attributes.index)
