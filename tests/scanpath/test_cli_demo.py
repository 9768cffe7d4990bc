"""The ``cogvision scanpath`` commands and the demo section, at a tiny size."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from typer.testing import CliRunner

import cogvision.cli  # noqa: F401 - registers the one error handler on the scanpath commands
from cogvision.commands.scanpath import app
from cogvision.demo.section import Section

TINY = ["--d-model", "16", "--n-layers", "1", "--epochs", "2", "--warmup", "1", "--batch-size", "16",
        "--pe-iterations", "300",
        "--device", "cpu"]


def test_train_predict_evaluate(tmp_path, monkeypatch):
    monkeypatch.setenv("COGVISION_CACHE", str(tmp_path / "cache"))
    runner = CliRunner()
    model_dir = tmp_path / "model"
    res = runner.invoke(app, ["train", "synthetic", "--out", str(model_dir), *TINY])
    assert res.exit_code == 0, res.output
    split = json.loads((model_dir / "split.json").read_text())
    assert not set(split["train"]) & set(split["test"])
    assert (model_dir / "model.pt").exists() and len(pd.read_csv(model_dir / "history.csv")) == 2
    again = runner.invoke(app, ["train", "synthetic", "--out", str(model_dir), *TINY])
    assert again.exit_code == 2 and "--overwrite" in again.output

    pred_dir = tmp_path / "pred"
    res = runner.invoke(app, ["predict", str(model_dir), "--out", str(pred_dir), "--samples", "3", "--figures", "1",
                              "--device", "cpu"])
    assert res.exit_code == 0, res.output
    pred = pd.read_csv(pred_dir / "predictions.csv")
    assert set(pred["trial"]) == set(split["test"]) and set(pred["sample"]) == {0, 1, 2}
    assert len(list(pred_dir.glob("*.png"))) == 1

    eval_dir = tmp_path / "eval"
    res = runner.invoke(app, ["evaluate", "synthetic", "--out", str(eval_dir), "--seeds", "0", "--samples", "2", *TINY])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(eval_dir / "metrics.csv")
    assert set(table["model"]) == {"oat", "random", "centre", "saliency", "human"}
    assert (eval_dir / "summary.md").read_text().startswith("| model | decoding |")


def test_bad_dataset_is_a_clean_error(tmp_path):
    res = CliRunner().invoke(app, ["train", str(tmp_path / "nothing.json"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "neither a known name" in res.output
    bad = tmp_path / "bad.json"
    bad.write_text("{oops")
    res = CliRunner().invoke(app, ["train", str(bad), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "not valid JSON" in res.output
    assert not (tmp_path / "o").exists()


def test_demo_runs_on_synthetic_data(tmp_path, monkeypatch):
    monkeypatch.setenv("COGVISION_CACHE", str(tmp_path / "cache"))
    from cogvision.demo import scanpath as demo

    out = demo.run(tmp_path / "demo", shared=None, device="cpu")
    assert isinstance(out, Section) and out.title and out.command
    assert (tmp_path / "demo" / "scanpath_example.png").exists()
    assert (tmp_path / "demo" / "scanpath_metrics.png").exists()
    assert "scanpath_example.png" in out.markdown and "| oat | sampled |" in out.markdown
    assert all(isinstance(v, float) for v in out.numbers.values())
    assert np.isfinite(out.numbers["oat_sampled_sequence_score"])
    assert out.command.startswith("cogvision scanpath evaluate amazon")


def test_summary_shows_sd_only_over_several_seeds():
    import pandas as pd

    from cogvision.scanpath.compare import summarise

    rows = [{"seed": s, "model": "oat", "decoding": "greedy", "delta": d} for s, d in ((0, 0.2), (1, 0.4))]
    assert summarise(pd.DataFrame(rows), ["delta"]).iloc[0, 0] == "0.3 ± 0.1"
    assert summarise(pd.DataFrame(rows[:1]), ["delta"]).iloc[0, 0] == "0.2"
