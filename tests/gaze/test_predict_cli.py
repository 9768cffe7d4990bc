"""Prediction API, figures, the command line and short training runs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from cogvision.cli import app
from cogvision.gaze.config import read_train_config
from cogvision.gaze.model import ViTGaze, build_vitgaze
from cogvision.gaze.predict import pixel_boxes_to_normalised, predict
from cogvision.gaze.samples import GazeSamples
from data_loaders.gazefollow import FolderImages

runner = CliRunner()
TINY = dict(model="cogvision.gaze.backbones:gaze_vit", image_size=32, n_train=24, n_val=8, epochs=2,
            batch_size=16, lr=2e-3, seed=0)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_vitgaze("cogvision.gaze.backbones:gaze_vit", device="cpu")


def test_predict_returns_labelled_results_in_image_pixels(model):
    image = torch.rand(3, 90, 120)
    result = predict(model, image, [(10, 10, 40, 40), (80, 20, 110, 60)], device="cpu")
    assert result["heatmap"].dims == ("person", "y", "x") and result["heatmap"].shape == (2, 64, 64)
    assert result["x"].values.max() < 120 and result["y"].values.max() < 90
    assert ((result["gaze_x"] >= 0) & (result["gaze_x"] <= 120)).all()
    np.testing.assert_allclose(result["gaze_x"] / 120, result["gaze_x_norm"])
    assert ((result["inout"] > 0) & (result["inout"] < 1)).all()
    np.testing.assert_allclose(result["box"].sel(person=1), [80, 20, 110, 60])
    refined = predict(model, image, [(10, 10, 40, 40)], refine=True, device="cpu")
    assert refined.attrs["refined"] == 1


@pytest.mark.parametrize("head, message", [((10, 10, 10, 40), "zero area"), ((-5, 10, 20, 40), "outside"),
                                           ((100, 10, 130, 40), "outside"), ((1, 2, 3), "4 finite numbers")])
def test_bad_head_boxes_are_named(head, message):
    with pytest.raises(ValueError, match=f"head 1: .*{message}|head 1: expected"):
        pixel_boxes_to_normalised([(0, 0, 5, 5), head], width=120, height=90)


def test_predict_takes_float_image_tensors(model, tmp_path):
    with pytest.raises(ValueError, match="tensor"):
        predict(model, tmp_path / "nope.jpg", [(0, 0, 5, 5)])
    with pytest.raises(ValueError, match="uint8"):
        predict(model, torch.zeros(3, 20, 20, dtype=torch.uint8), [(0, 0, 5, 5)])


def test_missing_images_in_a_dataset_are_reported_not_dropped(tmp_path):
    import pandas as pd

    people = pd.DataFrame({"path": ["a.jpg", "b.jpg"], "x1": 0.1, "y1": 0.1, "x2": 0.2, "y2": 0.2,
                           "gaze_x": 0.5, "gaze_y": 0.5, "inout": 1})
    Image.new("RGB", (40, 30)).save(tmp_path / "a.jpg")
    with pytest.raises(FileNotFoundError, match="b.jpg"):
        FolderImages(people["path"], tmp_path, 32)
    (tmp_path / "b.jpg").write_bytes((tmp_path / "a.jpg").read_bytes())
    images = FolderImages(people["path"], tmp_path, 32)
    item = GazeSamples(people.assign(scene=[0, 1]), images)[1]
    assert item["image"].shape == (3, 32, 32)
    with pytest.raises(ValueError, match="scene"):
        GazeSamples(people.assign(scene=[0, 2]), images)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One short training run through the command line, shared by the tests below."""
    folder = tmp_path_factory.mktemp("gaze")
    config = folder / "config.json"
    config.write_text(json.dumps(TINY))
    result = runner.invoke(app, ["gaze", "train", str(config), "--out", str(folder / "run"), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    return folder / "run"


def test_short_training_learns_and_writes_a_run(run):
    import pandas as pd

    history = pd.read_csv(run / "history.csv")
    assert len(history) == 2 and history["train_loss"].iloc[1] < history["train_loss"].iloc[0]
    scores = pd.read_csv(run / "scores.csv")
    assert set(scores["method"]) == {"ViTGaze", "centre prior", "training-mean prior", "objects, no head direction"}
    for name in ("vitgaze.pt", "config.json", "scores.png", "scores.parquet", "history.parquet", "run.json"):
        assert (run / name).exists()
    assert not (run.parent / f".{run.name}.checkpoint").exists()  # removed once the run is published
    again = ViTGaze.load(run / "vitgaze.pt", device="cpu")
    assert again.image_size == 32 and again.config["spec"] == TINY["model"]
    assert again.extra["train_config"] == json.loads((run / "config.json").read_text())


def test_config_files_are_validated(tmp_path):
    (tmp_path / "c.json").write_text(json.dumps({"epochs": 1, "learning_rate": 0.1}))
    with pytest.raises(ValueError, match="c.json: unknown key 'learning_rate'.*allowed keys: model"):
        read_train_config(tmp_path / "c.json")
    (tmp_path / "c.toml").write_text('data = "vat"\n')
    with pytest.raises(ValueError, match="data: expected 'synthetic' or 'gazefollow', got 'vat'"):
        read_train_config(tmp_path / "c.toml")
    (tmp_path / "c.yaml").write_text("epochs: 3\n")
    assert read_train_config(tmp_path / "c.yaml").epochs == 3


def test_cli_predict_and_evaluate(run, tmp_path, shared):
    config = tmp_path / "config.json"
    config.write_text(json.dumps(TINY))
    refused = runner.invoke(app, ["gaze", "train", str(config), "--out", str(run)])
    assert refused.exit_code == 2 and "--overwrite" in refused.output

    frames = shared / "data/gaze_following/chong_demo_frames"
    out = tmp_path / "pred"
    result = runner.invoke(app, ["gaze", "predict", str(frames / "00002575.jpg"), "--head", "553,71,752,275",
                                 "--head", "1093,33,1347,299", "--weights", str(run / "vitgaze.pt"),
                                 "--out", str(out), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} == {"prediction.nc", "prediction.csv", "prediction.parquet", "overlay.png",
                                               "run.json"}
    again = runner.invoke(app, ["gaze", "predict", str(frames / "00002575.jpg"), "--head", "553,71,752,275",
                                "--weights", str(run / "vitgaze.pt"), "--out", str(out)])
    assert again.exit_code == 2 and "--overwrite" in again.output
    bad = runner.invoke(app, ["gaze", "predict", str(frames / "00002575.jpg"), "--head", "553,71,2000,275",
                              "--weights", str(run / "vitgaze.pt"), "--out", str(tmp_path / "p2")])
    assert bad.exit_code == 2 and "outside" in bad.output
    missing = runner.invoke(app, ["gaze", "predict", str(frames / "absent.jpg"), "--head", "1,1,5,5",
                                  "--weights", str(run / "vitgaze.pt"), "--out", str(tmp_path / "p4")])
    assert missing.exit_code == 2 and "absent.jpg" in missing.output
    non_vit = runner.invoke(app, ["gaze", "predict", str(frames / "00002575.jpg"), "--head", "553,71,752,275",
                                  "--model", "cogvision.models.builtin:tiny_cnn", "--out", str(tmp_path / "p3")])
    assert non_vit.exit_code == 2 and "not a ViT" in non_vit.output

    result = runner.invoke(app, ["gaze", "evaluate", "--weights", str(run / "vitgaze.pt"), "--synthetic", "6",
                                 "--out", str(tmp_path / "ev"), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    synthetic = json.loads((tmp_path / "ev" / "scores.json").read_text())["synthetic"]
    assert len(synthetic) == 4 and all(0 <= row["auc"] <= 1 for row in synthetic)
