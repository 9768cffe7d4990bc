"""Job: the ViTGaze ablation study on synthetic scenes (variants x seeds trained, then scored together).

The statistics and the table are :mod:`cogvision.gaze.study`; this job trains the runs
(:func:`cogvision.jobs.gaze_train.run_training`, one run folder each) and draws the test scenes.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from cogvision._docs import fill_doc
from cogvision.gaze.config import TrainConfig
from cogvision.gaze.study import VARIANTS, score_study
from cogvision.jobs.gaze_train import run_training, synthetic_samples


@fill_doc
def train_variants(base: TrainConfig, seeds: list[int], out: str | os.PathLike,
                   variants: dict[str, dict[str, str]] = VARIANTS, device: str = "auto",
                   progress: bool = True) -> dict[tuple[str, int], Path]:
    """Train every variant with every seed into ``out/<features>_<guidance>_seed<seed>``.

    Runs whose ``vitgaze.pt`` exists are kept (a study interrupted between runs goes on where it stopped).

    Parameters
    ----------
    base
        Settings shared by every run (``seed``, ``features`` and ``guidance`` are set per run).
    seeds
        Seeds of each variant.
    out
        Folder of the run folders.
    variants
        ``name -> {"features": ..., "guidance": ...}``.
    %(device)s
    %(progress)s

    Returns
    -------
    dict
        ``(variant, seed) -> checkpoint path``.
    """
    out = Path(out)
    paths = {}
    for name, settings in variants.items():
        for seed in seeds:
            run = out / f"{settings['features']}_{settings['guidance']}_seed{seed}"
            if not (run / "vitgaze.pt").is_file():
                config = TrainConfig.model_validate({**base.model_dump(), "seed": seed, **settings})
                run_training(config, run, device=device, progress=progress)
            paths[(name, seed)] = run / "vitgaze.pt"
    return paths


@fill_doc
def score_synthetic_study(paths: dict[tuple[str, int], Path], base: TrainConfig, n_test: int = 300,
                          test_seed: int = 12345, device: str = "auto",
                          n_boot: int = 1000) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`cogvision.gaze.study.score_study` on fresh synthetic scenes with ``base``'s scene settings.

    Parameters
    ----------
    paths
        From :func:`train_variants`.
    base
        Settings whose ``image_size``, ``n_objects`` and ``p_out`` the test scenes use.
    n_test
        Test scenes; the training-mean prior comes from another ``n_test`` scenes (seed ``test_seed + 1``).
    test_seed
        Seed of the test scenes.
    %(device)s
    n_boot
        Bootstrap resamples of the baselines' intervals.
    """
    test, objects = synthetic_samples(n_test, base.image_size, test_seed, base.n_objects, base.p_out)
    prior_set, _ = synthetic_samples(n_test, base.image_size, test_seed + 1, base.n_objects, base.p_out)
    return score_study(paths, test, objects, prior_set, device=device, n_boot=n_boot)
