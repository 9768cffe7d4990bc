"""The transformer encoder's ablation over seeds: a new synthetic brain per seed and pooling, every encoder refitted.

Composes :func:`data_loaders.synthetic_brain.make_synthetic_brain` with
:func:`cogvision.brain.ablation.ablate_brain` (the encoders, variants and the reason for the study are described
there); :func:`cogvision.brain.ablation.summarize` turns the table into means with intervals.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from cogvision.brain.ablation import DEFAULT_PLAN, ENCODERS, ablate_brain
from data_loaders.synthetic_brain import make_synthetic_brain


def ablation_study(seeds: Sequence[int] = (0, 1, 2, 3, 4), *, plan: dict[str, Sequence[str]] | None = None,
                   n_stimuli: int = 300, n_retinotopic: int = 16, n_category: int = 8, noise_ceiling: float = 0.8,
                   train_fraction: float = 0.8, alphas: Sequence[float] = tuple(np.logspace(0, 6, 7)),
                   factorized: dict | None = None, transformer: dict | None = None,
                   device: str = "cpu") -> pd.DataFrame:
    """Held-out mean r per seed, brain, encoder and voxel kind.

    Parameters
    ----------
    seeds : sequence of int
        One synthetic brain and split per seed.
    plan : dict of str to sequence of str, optional
        Pooling (``"content"``, ``"fixed"``) -> encoders of :data:`cogvision.brain.ablation.ENCODERS` to fit;
        default :data:`cogvision.brain.ablation.DEFAULT_PLAN`.
    n_stimuli, n_retinotopic, n_category, noise_ceiling
        Passed to :func:`data_loaders.synthetic_brain.make_synthetic_brain`.
    train_fraction, alphas, factorized, transformer, device
        Passed to :func:`cogvision.brain.ablation.ablate_brain`.

    Returns
    -------
    pandas.DataFrame
        ``seed, pooling, encoder, kind, mean_r, ceiling, seconds``.
    """
    plan = DEFAULT_PLAN if plan is None else plan
    unknown = sorted({e for encoders in plan.values() for e in encoders} - set(ENCODERS))
    if unknown:
        raise ValueError(f"unknown encoder(s) {unknown}; choose from {ENCODERS}")
    tables = []
    for seed in seeds:
        for pooling, encoders in plan.items():
            ds = make_synthetic_brain(n_stimuli, n_retinotopic=n_retinotopic, n_category=n_category,
                                      noise_ceiling=noise_ceiling, category_pooling=pooling, seed=seed)
            table = ablate_brain(ds, encoders, seed=seed, train_fraction=train_fraction, alphas=alphas,
                                 factorized=factorized, transformer=transformer, device=device)
            table.insert(0, "pooling", pooling)
            table.insert(0, "seed", seed)
            tables.append(table)
    return pd.concat(tables, ignore_index=True)
