"""A small ViTGaze run pinned to the numbers the code gave before the layering refactor (commit 219ff1f, CPU, one
thread): history and validation scores of the same config must stay the same."""

from __future__ import annotations

import pytest
import torch

from cogvision.gaze.config import TrainConfig
from cogvision.jobs.gaze_train import train_in_memory

CONFIG = TrainConfig(model="cogvision.gaze.backbones:gaze_vit", image_size=32, n_train=128, n_val=16, epochs=4,
                     batch_size=16, lr=2e-3, seed=1, zero_init_output=True, heatmap_weight=100.0)
TRAIN_LOSS = [15.882280111312866, 16.106746157010395, 15.467935959498087, 14.435988505681356]
VAL_METRIC = [0.647958981093174, 0.4452031657834068, 0.43346540601022504, 0.5743695059232099]
SCORES = {
    "ViTGaze": {"auc": 0.684506353861, "avg_l2": 0.43346540601, "vat_auc": 0.580031771068, "ap": 0.803586338842},
    "centre prior": {"auc": 0.537180561374, "avg_l2": 0.363249627197, "vat_auc": 0.531274159524,
                     "ap": 0.636363636364},
    "training-mean prior": {"auc": 0.731217707024, "avg_l2": 0.333547337962, "vat_auc": 0.586276280393,
                            "ap": 0.636363636364},
    "objects, no head direction": {"auc": 0.996613601452, "avg_l2": 0.33995855873, "vat_auc": 0.876285599605,
                                   "ap": 0.636363636364},
}


def test_small_run_reproduces_the_pinned_numbers():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run = train_in_memory(CONFIG, device="cpu", progress=False)
    finally:
        torch.set_num_threads(threads)
    assert run.fit.history["train_loss"].tolist() == pytest.approx(TRAIN_LOSS, rel=1e-5)
    assert run.fit.history["val_metric"].tolist() == pytest.approx(VAL_METRIC, rel=1e-5)
    scores = run.scores.set_index("method")
    for method, expected in SCORES.items():
        for metric, value in expected.items():
            assert scores.loc[method, metric] == pytest.approx(value, rel=1e-5, abs=1e-9), (method, metric)
