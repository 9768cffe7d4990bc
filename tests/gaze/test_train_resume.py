"""``gaze train`` interrupted (SIGINT in-process, SIGKILL of a child process): the previous output stays intact,
the checkpoint survives, and ``--resume`` gives exactly the result of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from cogvision.cli import app
from cogvision.jobs.gaze_train import checkpoint_folder
from tests.helpers import snapshot

runner = CliRunner()
TINY = {"model": "cogvision.gaze.backbones:gaze_vit", "image_size": 32, "n_train": 24, "n_val": 8, "epochs": 5,
        "batch_size": 8, "lr": 0.002, "seed": 3}


def train(config: Path, out: Path, *flags: str):
    return runner.invoke(app, ["gaze", "train", str(config), "--out", str(out), "--device", "cpu", *flags])


def assert_same_run(a: Path, b: Path) -> None:
    """Same weights, same history (but wall times), same scores and config."""
    wa, wb = torch.load(a / "vitgaze.pt", weights_only=True), torch.load(b / "vitgaze.pt", weights_only=True)
    assert wa["state_dict"].keys() == wb["state_dict"].keys()
    assert all(torch.equal(wa["state_dict"][k], wb["state_dict"][k]) for k in wa["state_dict"])
    ha, hb = pd.read_csv(a / "history.csv"), pd.read_csv(b / "history.csv")
    pd.testing.assert_frame_equal(ha.drop(columns="seconds"), hb.drop(columns="seconds"))
    assert (a / "scores.csv").read_bytes() == (b / "scores.csv").read_bytes()
    assert (a / "config.json").read_bytes() == (b / "config.json").read_bytes()


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A config and the uninterrupted run it gives (the reference)."""
    folder = tmp_path_factory.mktemp("resume")
    config = folder / "config.json"
    config.write_text(json.dumps(TINY))
    result = train(config, folder / "reference")
    assert result.exit_code == 0, result.output
    return config, folder / "reference"


def watch_for_checkpoint(out: Path, action, timeout: float = 120.0, gone=lambda: False) -> threading.Thread:
    """Call ``action()`` as soon as the first epoch's checkpoint of a run into ``out`` exists (or ``gone()``)."""
    last = checkpoint_folder(out) / "last.pt"

    def wait() -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end and not last.is_file() and not gone():
            time.sleep(0.005)
        action()

    thread = threading.Thread(target=wait, daemon=True)
    thread.start()
    return thread


def test_sigint_keeps_the_previous_output_and_resume_reproduces_the_run(setup, tmp_path):
    config, reference = setup
    out = tmp_path / "run"
    out.mkdir()
    (out / "previous.txt").write_text("results of an earlier run")
    before = snapshot(tmp_path)
    armed = threading.Event()
    armed.set()

    def on_sigint(signum, frame):  # a real SIGINT, turned into Ctrl-C only while the run is going on
        if armed.is_set():
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        watch_for_checkpoint(out, lambda: os.kill(os.getpid(), signal.SIGINT))
        interrupted = train(config, out, "--overwrite")
    finally:
        armed.clear()
        signal.signal(signal.SIGINT, previous)
    assert interrupted.exit_code == 130, interrupted.output
    assert "--resume" in interrupted.output and "Traceback" not in interrupted.output
    after = {k: v for k, v in snapshot(tmp_path).items() if not k.startswith(".run.checkpoint/")}
    assert after == before  # the previous output and every other file byte-identical
    ckpt = checkpoint_folder(out)
    assert (ckpt / "last.pt").is_file() and (ckpt / "state.json").is_file()
    assert not list(tmp_path.glob(".run.partial-*"))

    fresh = train(config, out)  # neither --resume nor --overwrite: the checkpoint is not silently dropped
    assert fresh.exit_code == 2 and "--resume" in fresh.output
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps({**TINY, "lr": 0.01, "epochs": 6}))
    refused = train(changed, out, "--resume")
    assert refused.exit_code == 2 and "epochs, lr" in refused.output
    assert (ckpt / "last.pt").is_file() and snapshot(out) == {"previous.txt": b"results of an earlier run"}

    resumed = train(config, out, "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert_same_run(out, reference)
    assert not (out / "previous.txt").exists() and not ckpt.exists()


@pytest.mark.slow
def test_sigkill_leaves_a_checkpoint_that_resume_continues(setup, tmp_path):
    config, reference = setup
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads())}
    child = subprocess.Popen([sys.executable, "-c", "from cogvision.cli import app; app()", "--quiet", "gaze",
                              "train", str(config), "--out", str(out), "--device", "cpu"],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    watch_for_checkpoint(out, child.kill, timeout=300, gone=lambda: child.poll() is not None).join()
    assert child.wait(timeout=60) == -signal.SIGKILL, child.stderr.read().decode()
    assert not out.exists()
    resumed = train(config, out, "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert "removed" in resumed.output  # the killed run's staging folder is cleaned, with a warning
    assert not list(tmp_path.glob(".run.*"))
    assert_same_run(out, reference)
