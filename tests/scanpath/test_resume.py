"""Interrupting ``cogvision scanpath train``/``evaluate``: earlier results intact; ``--resume`` gives the same model.

The interruption is a ``KeyboardInterrupt`` raised from inside an epoch (what Ctrl-C does), at a chosen batch,
and once a real SIGINT sent to a ``cogvision`` process. A resumed run must equal an uninterrupted one exactly:
weights, history (less the timing column) and split.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

import cogvision.scanpath.oat as oat_module
from cogvision.cli import app
from tests.helpers import snapshot

# synthetic: 124 training scanpaths, batches of 16 -> 8 batches per epoch; 2 warm-up epochs, then 2 more
TINY = ["--d-model", "8", "--n-layers", "1", "--epochs", "4", "--warmup", "2", "--patience", "10", "--batch-size",
        "16", "--pe-iterations", "30", "--device", "cpu"]
BATCHES_PER_EPOCH = 8


def _train(out: Path, *extra: str):
    return CliRunner().invoke(app, ["scanpath", "train", "synthetic", "--out", str(out), *TINY, *extra])


def _result(folder: Path) -> tuple[dict, pd.DataFrame, dict]:
    state = torch.load(folder / "model.pt", weights_only=True)["state"]
    history = pd.read_csv(folder / "history.csv").drop(columns="seconds")
    return state, history, json.loads((folder / "split.json").read_text())


def _assert_same(a: Path, b: Path) -> None:
    state_a, history_a, split_a = _result(a)
    state_b, history_b, split_b = _result(b)
    assert state_a.keys() == state_b.keys()
    for key in state_a:
        assert torch.equal(state_a[key], state_b[key]), key
    pd.testing.assert_frame_equal(history_a, history_b, check_exact=True)
    assert split_a == split_b


def _interrupt_at(monkeypatch, batch: int) -> None:
    """Raise KeyboardInterrupt at training batch number ``batch`` (0-based, counted over epochs)."""
    calls = {"n": 0}
    loss = oat_module._oat_loss

    def interrupted(model, data):
        calls["n"] += 1
        if calls["n"] > batch:
            raise KeyboardInterrupt
        return loss(model, data)

    monkeypatch.setattr(oat_module, "_oat_loss", interrupted)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run."""
    out = tmp_path_factory.mktemp("reference") / "model"
    result = _train(out)
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize("epoch", [1, 3], ids=["in warm-up", "after warm-up"])
def test_resume_equals_uninterrupted(tmp_path, monkeypatch, reference, epoch):
    out = tmp_path / "model"
    _interrupt_at(monkeypatch, epoch * BATCHES_PER_EPOCH + 3)
    result = _train(out)
    assert result.exit_code == 130 and "Traceback" not in result.output
    assert not out.exists() and (tmp_path / "model.partial" / "config.json").is_file()
    assert "--resume" in " ".join(result.output.split()) and "model.partial" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.partial"]  # no hidden staging folder left
    monkeypatch.undo()
    resumed = _train(out, "--resume")
    assert resumed.exit_code == 0, resumed.output
    _assert_same(reference, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # checkpoints removed once published


def test_resume_refuses_another_configuration(tmp_path, monkeypatch):
    out = tmp_path / "model"
    _interrupt_at(monkeypatch, 3)
    assert _train(out).exit_code == 130
    monkeypatch.undo()
    before = snapshot(tmp_path)
    result = CliRunner().invoke(app, ["scanpath", "train", "synthetic", "--out", str(out), *TINY, "--resume",
                                      "--epochs", "5", "--seed", "1"])
    text = " ".join(result.output.split())
    assert result.exit_code == 2 and "oat.epochs: 4 -> 5" in text and "seed: 0 -> 1" in text, result.output
    assert snapshot(tmp_path) == before


def test_a_new_run_removes_stale_checkpoints_with_a_warning(tmp_path, monkeypatch, reference):
    out = tmp_path / "model"
    _interrupt_at(monkeypatch, 3)
    assert _train(out).exit_code == 130
    monkeypatch.undo()
    result = _train(out)
    assert result.exit_code == 0, result.output
    assert "removed" in result.output and "model.partial" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    _assert_same(reference, out)


@pytest.mark.slow  # a fresh `cogvision` process: its start (imports) dominates, about 15 s on a loaded 2-core machine
def test_real_sigint_keeps_the_previous_output_and_resume_finishes_it(tmp_path):
    """A cogvision process replacing an earlier result (--overwrite) gets SIGINT after its first checkpoint."""
    longer = ["--epochs", "16", "--patience", "30"]
    out = tmp_path / "model"
    result = _train(out, *longer)  # the earlier result: the same run, so that the resumed one must equal it
    assert result.exit_code == 0, result.output
    earlier = snapshot(out)
    shutil.copytree(out, tmp_path.parent / f"{tmp_path.name}_earlier")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    args = [sys.executable, "-m", "cogvision.cli", "scanpath", "train", "synthetic", "--out", str(out), *TINY,
            *longer, "--overwrite"]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    checkpoint = tmp_path / "model.partial" / "warmup" / "last.pt"
    deadline = time.monotonic() + 120
    while not checkpoint.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "--resume" in stderr
    assert snapshot(out) == earlier  # the earlier result is untouched
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no hidden staging folder
    resumed = _train(out, *longer, "--overwrite", "--resume")
    assert resumed.exit_code == 0, resumed.output
    _assert_same(tmp_path.parent / f"{tmp_path.name}_earlier", out)


def test_interrupted_evaluate_keeps_the_previous_output(tmp_path, monkeypatch):
    out = tmp_path / "evaluation"
    out.mkdir()
    (out / "metrics.csv").write_text("seed,model\n0,oat\n")
    (out / "summary.md").write_text("| earlier |\n")
    before = snapshot(out)
    _interrupt_at(monkeypatch, 5)
    result = CliRunner().invoke(app, ["scanpath", "evaluate", "synthetic", "--out", str(out), "--overwrite",
                                      "--seeds", "0", "--samples", "2", *TINY])
    assert result.exit_code == 130 and "Traceback" not in result.output
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evaluation"]


def test_resume_after_sigkill_cleans_the_stale_staging_folder(tmp_path, monkeypatch, reference):
    """What SIGKILL leaves: checkpoints in OUT.partial and the publisher's hidden staging folder of a dead process."""
    out = tmp_path / "model"
    _interrupt_at(monkeypatch, 2 * BATCHES_PER_EPOCH + 1)
    assert _train(out).exit_code == 130
    monkeypatch.undo()
    stale = tmp_path / ".model.partial-999999999-dead" / "model"  # no process has this id
    stale.mkdir(parents=True)
    (stale / "model.pt").write_bytes(b"half written")
    resumed = _train(out, "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert "left behind by an interrupted run" in " ".join(resumed.output.split())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    _assert_same(reference, out)
