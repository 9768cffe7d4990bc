"""A real V4 session fitted in-process and through dask: identical scores (issue 14's "identical in a dask run").

Session 190925 of Cowley et al. (1,200 images, 36 neurons), the ImageNet MobileNetV2 of ``../shared``, two
layers at 64 px pooled 2 x 2, RidgeCV with 5 outer folds. Skips when ``../shared`` (or ``$COGVISION_SHARED``)
is absent. 6 s on one idle thread (25 s on the busy shared machine); the features are extracted once and
cached for both runs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from distributed import Client, LocalCluster

from cogvision.jobs.fit_encoder import run_fit

WEIGHTS = ("models", "mobilenet_v2_imagenet", "mobilenet_v2-b0353104.pth")


def real_config(shared, cache) -> dict:
    return {"data": {"dataset": "cowley_v4", "path": str(shared / "data" / "neural" / "cowley2023_v4"),
                     "session": "190925"},
            "model": {"spec": "torchvision:mobilenet_v2", "weights": str(shared.joinpath(*WEIGHTS)),
                      "layers": ["features.4", "features.7"], "pool": 2, "size": 64, "scale": "rms"},
            "encoders": [{"type": "ridge", "alphas": [1, 10, 100, 1000, 10000, 100000]}],
            "cv": {"scheme": "kfold", "n_splits": 5}, "cache_dir": str(cache), "device": "cpu", "seed": 0}


def test_real_v4_session_identical_in_process_and_in_dask(shared, tmp_path):
    config = real_config(shared, tmp_path / "cache")
    run_fit(config, tmp_path / "single", progress=False)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, protocol="tcp://", host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as client:
        run_fit(config, tmp_path / "dask", progress=False, dask=client)
    single, dask = (pd.read_csv(tmp_path / name / "scores.csv") for name in ("single", "dask"))
    assert len(single) == 2 * 36 and list(single["neuroid"]) == list(dask["neuroid"])
    for column in ("r", "r2", "r_fold_mean"):
        np.testing.assert_allclose(single[column], dask[column], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(single["best_alpha"], dask["best_alpha"])
    # a real fit, not two identical failures: V4 is predicted well above chance at these layers
    assert single.groupby("layer")["r2"].median().max() > 0.2
    summaries = [pd.read_csv(tmp_path / name / "summary.csv") for name in ("single", "dask")]
    pd.testing.assert_frame_equal(*summaries, check_exact=False, rtol=0, atol=1e-12)
