"""OAT's behavioural statistics of object scanpaths and their relative difference, the behavioural delta.

Source: Fang et al. 2024 (OAT, ECCV), section on the behaviour-based metric. Per scanpath of objects
``o_1 .. o_L`` searching for target ``t``:

- ``target_found``: 1 when the last fixation is on the target (``o_L == t``), else 0;
- ``length``: ``L``;
- ``search_ratio``: first visits to an object / ``L``;
- ``refixation_ratio``: fixations on the same object as the previous one / ``L``;
- ``revisit_ratio``: returns to an object seen before, after leaving it / ``L``.

Every fixation is exactly one of first visit, refixation or revisit, so the three ratios sum to 1.
Each statistic is averaged over scanpaths, and
``delta = mean over the five statistics of |model - human| / human`` (lower is better).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

STATISTICS = ("target_found", "length", "search_ratio", "refixation_ratio", "revisit_ratio")


def scanpath_statistics(objects: np.ndarray, target: int) -> dict[str, float]:
    """The five statistics of one object scanpath (empty scanpaths give NaN ratios and length 0)."""
    objects = np.asarray(objects, int)
    n = len(objects)
    if n == 0:
        return {"target_found": 0.0, "length": 0.0, "search_ratio": np.nan, "refixation_ratio": np.nan,
                "revisit_ratio": np.nan}
    refix = int((objects[1:] == objects[:-1]).sum())
    first = len(np.unique(objects))
    return {
        "target_found": float(objects[-1] == target),
        "length": float(n),
        "search_ratio": first / n,
        "refixation_ratio": refix / n,
        "revisit_ratio": (n - first - refix) / n,
    }


def behaviour_table(sequences: Sequence[np.ndarray], targets: Sequence[int]) -> pd.DataFrame:
    """One row of :data:`STATISTICS` per scanpath."""
    if len(sequences) != len(targets):
        raise ValueError(f"{len(sequences)} scanpaths but {len(targets)} targets")
    return pd.DataFrame([scanpath_statistics(s, t) for s, t in zip(sequences, targets)], columns=list(STATISTICS))


def behaviour_summary(sequences: Sequence[np.ndarray], targets: Sequence[int]) -> pd.Series:
    """Mean of each statistic over scanpaths."""
    return behaviour_table(sequences, targets).mean()


def behaviour_delta(model: pd.Series, human: pd.Series) -> float:
    """``mean_k |model_k - human_k| / human_k`` over the five statistics (OAT's delta; 0 is perfect).

    A statistic that is 0 for the humans contributes 0 when the model's is 0 too and ``inf`` otherwise
    (the relative error is undefined there; this happens with few test scanpaths, e.g. no revisits).
    """
    m = np.array([model[k] for k in STATISTICS], float)
    h = np.array([human[k] for k in STATISTICS], float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.abs(m - h) / np.abs(h)
    rel = np.where((h == 0) & (m == 0), 0.0, rel)
    return float(np.mean(rel))
