"""A tiny `cogvision scanpath train` pinned to the numbers the code gave before the redesign (issues 16/17).

The history below was produced by the command line of commit 219ff1f (flags then `--layers 1`); the presets, jobs
and resumable checkpoints must leave it unchanged (CPU, one thread).
"""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from cogvision.cli import app

PINNED = pd.DataFrame({"epoch": [0, 1, 2], "train_loss": [3.733262897, 3.33491689, 3.242053866],
                       "val_metric": [float("nan"), 2.317823609, 2.328244784]})


def test_tiny_training_history_is_unchanged(tmp_path, monkeypatch):
    monkeypatch.setenv("COGVISION_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "model"
    result = CliRunner().invoke(app, ["scanpath", "train", "synthetic", "--out", str(out), "--d-model", "16",
                                      "--n-layers", "1", "--epochs", "3", "--warmup", "1", "--batch-size", "16",
                                      "--pe-iterations", "300", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    history = pd.read_csv(out / "history.csv")
    assert history["lr"].eq(5e-4).all()
    for column in ("train_loss", "val_metric"):
        assert history[column].to_numpy() == pytest.approx(PINNED[column].to_numpy(), rel=1e-8, nan_ok=True)
