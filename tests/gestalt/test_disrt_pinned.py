"""Pinned DiSRT results: the scores and trials tables of three small runs, computed with ``run_disrt`` as it was
before it was split into steps (make trials, read out features, score; commit 06c10ad), on the CPU.

The refactor reproduced them bit for bit on the machine that wrote them. Labels and choices must match
exactly; float columns (credits, indices, similarities, MSEs, intervals) get a tolerance that only absorbs last-bit
differences between CPUs' float32 kernels, far below what a change of seeds, nuisance search steps, Top-K
placement or readout order would shift. Regenerate (only after a deliberate change of the protocol) with
``python tests/gestalt/test_disrt_pinned.py --write``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from cogvision.gestalt import DisrtProtocol, run_disrt, to_frame, trials_frame
from cogvision.models.builtin import tiny_cnn, tiny_vit
from data_loaders.images import builtin_images

PINNED = Path(__file__).parent / "pinned"
PIXEL_VARS = ["mse_distortion", "mse_nuisance", "nuisance_magnitude"]
EXACT = ("strength", "k", "trial", "choice", "n_trials", "degenerate")  # labels and counts

CASES = {
    # conv net, local nuisance matched, three distortions, two batches (seeds across batches), Top-K
    "cnn_local": dict(net=tiny_cnn, images=["astronaut", "chelsea", "coffee"], batch_size=2,
                      protocol=DisrtProtocol(distortions=("shuffle", "rotate", "shuffle_seamless"), grids=(2, 3),
                                             trials=2, n_boot=30, seed=3),
                      layers=["features.1", "features.3"], topk=(0.25,), topk_layers=["features.1"]),
    # conv net, colour nuisance matched, flat pooling, euclidean similarity, two Top-K fractions
    "cnn_color": dict(net=tiny_cnn, images=["rocket", "camera"], batch_size=4,
                      protocol=DisrtProtocol(distortions=("shuffle",), grids=(2, 4), pooling="flat",
                                             similarity="euclidean", nuisance="color", trials=2, n_boot=30),
                      layers=["features.0", "features.2"], topk=(0.5, 0.1), topk_layers=["features.0", "features.2"]),
    # ViT: class token, correlation, a fixed (unmatched) shift, Top-K per channel
    "vit_shift": dict(net=tiny_vit, images=["astronaut", "grace_hopper"], batch_size=1,
                      protocol=DisrtProtocol(distortions=("rotate", "shuffle"), grids=(2, 4), pooling="cls",
                                             similarity="correlation", nuisance="shift", match=False,
                                             token_mode="channel", trials=1, n_boot=30),
                      layers=["blocks.1", "blocks.3"], topk=(0.3,), topk_layers=["blocks.1"]),
}


def run_case(name: str):
    case = CASES[name]
    torch.manual_seed(0)
    model = case["net"]()
    images, names = builtin_images(case["images"], size=72)
    ds = run_disrt(model, images, case["protocol"], layers=case["layers"], topk=case["topk"],
                   topk_layers=case["topk_layers"], batch_size=case["batch_size"], image_names=names)
    pixels = ds[PIXEL_VARS].to_dataframe().reset_index()
    return {"scores": to_frame(ds), "trials": trials_frame(ds), "pixels": pixels}


def _path(name: str, table: str) -> Path:
    return PINNED / f"{name}_{table}.csv.gz"


def _compare(got: pd.DataFrame, want: pd.DataFrame, where: str) -> None:
    assert list(got.columns) == list(want.columns), where
    assert len(got) == len(want), where
    for column in got.columns:
        a, b = got[column].to_numpy(), want[column].to_numpy()
        if not np.issubdtype(b.dtype, np.number) and b.dtype != bool:
            assert [str(v) for v in a] == [str(v) for v in b], f"{where}: {column}"
        elif column in EXACT:
            assert np.array_equal(a.astype(float), b.astype(float)), f"{where}: {column}"
        else:
            np.testing.assert_allclose(a.astype(float), b.astype(float), rtol=1e-6, atol=1e-9,
                                       err_msg=f"{where}: {column}")


@pytest.mark.parametrize("name", sorted(CASES))
def test_run_disrt_reproduces_the_pinned_tables(name):
    got = run_case(name)
    for table, frame in got.items():
        want = pd.read_csv(_path(name, table))
        _compare(frame.reset_index(drop=True), want, f"{name} {table}")


if __name__ == "__main__" and "--write" in sys.argv:
    PINNED.mkdir(exist_ok=True)
    for case_name in CASES:
        for table_name, table_frame in run_case(case_name).items():
            table_frame.to_csv(_path(case_name, table_name), index=False, float_format="%.17g")
