"""Bad inputs to ``gaze train``, ``gaze predict`` and ``gaze evaluate``: exit code 2, one message naming the
problem, no traceback, and every file that existed before byte-identical (nothing created either)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from cogvision.cli import app
from cogvision.gaze.model import build_vitgaze
from tests.helpers import snapshot

runner = CliRunner()
TINY = {"model": "cogvision.gaze.backbones:gaze_vit", "image_size": 32, "n_train": 8, "n_val": 4, "epochs": 1,
        "batch_size": 4}


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    """A folder with every input the cases below need (good ones and bad ones)."""
    root = tmp_path_factory.mktemp("inputs")
    torch.manual_seed(0)
    model = build_vitgaze("cogvision.gaze.backbones:gaze_vit", device="cpu", image_size=32)
    model.save(root / "vitgaze.pt")
    torch.save(model.backbone.state_dict(), root / "backbone.pt")
    (root / "empty.pt").write_bytes(b"")
    (root / "corrupt.pt").write_bytes(b"PK\x03\x04 this is not a torch file" * 10)
    Image.new("RGB", (80, 60), (120, 90, 60)).save(root / "scene.jpg")
    (root / "text.jpg").write_text("not an image at all")
    (root / "a_file").write_text("I am a file, not a folder")
    (root / "previous").mkdir()
    (root / "previous" / "scores.csv").write_text("method,auc\nViTGaze,0.9\n")
    (root / "annotations.json").write_text("{}")
    (root / "corrupt.mat").write_bytes(b"MATLAB 5.0 MAT-file, but truncated")
    configs = {
        "good.json": TINY,
        "unknown_key.json": {**TINY, "learning_rate": 0.1},
        "wrong_type.json": {**TINY, "epochs": "ten"},
        "zero_batch.json": {**TINY, "batch_size": 0},
        "bad_choice.json": {**TINY, "guidance": "none"},
        "missing_weights.json": {**TINY, "weights": str(root / "absent.safetensors")},
        "empty_weights.json": {**TINY, "weights": str(root / "empty.pt")},
        "not_a_vit.json": {**TINY, "model": "builtin:tiny_cnn"},
        "code_spec.json": {**TINY, "model": "os:getcwd"},
        "gazefollow_missing.json": {**TINY, "data": "gazefollow", "annotations": str(root / "absent.txt"),
                                    "image_root": str(root)},
        "gazefollow_incomplete.json": {**TINY, "data": "gazefollow"},
    }
    for name, config in configs.items():
        (root / name).write_text(json.dumps(config))
    (root / "malformed.json").write_text('{"epochs": 2,')
    (root / "list.yaml").write_text("- epochs\n- 2\n")
    return root


def train(config: str, *flags: str) -> list[str]:
    return ["gaze", "train", "{root}/" + config, "--out", "{root}/new_run", "--device", "cpu", *flags]


def predict(*flags: str, image: str = "scene.jpg", weights: str = "vitgaze.pt") -> list[str]:
    return ["gaze", "predict", "{root}/" + image, "--weights", "{root}/" + weights, "--out", "{root}/pred",
            "--device", "cpu", *flags]


CASES = {
    # gaze train: config
    "train unknown key": (train("unknown_key.json"), r"unknown key 'learning_rate'.*allowed keys: model"),
    "train wrong type": (train("wrong_type.json"), r"wrong_type.json: epochs: .*integer.*'ten'"),
    "train zero batch size": (train("zero_batch.json"), r"batch_size: .*greater than 0"),
    "train bad choice": (train("bad_choice.json"), r"guidance: expected 'learned' or 'uniform', got 'none'"),
    "train malformed json": (train("malformed.json"), r"malformed.json: not valid json"),
    "train config not a mapping": (train("list.yaml"), r"list.yaml: expected a mapping"),
    "train missing config": (train("absent.json"), r"absent.json: no such file"),
    "train gazefollow without files": (train("gazefollow_incomplete.json"), r"needs the keys 'annotations' and"),
    # gaze train: model, weights, data, device, output
    "train missing weights": (train("missing_weights.json"), r"absent.safetensors.*(does not exist|no such)"),
    "train empty weights": (train("empty_weights.json"), r"empty.pt is empty"),
    "train not a ViT": (train("not_a_vit.json"), r"not a ViT"),
    "train code spec refused": (train("code_spec.json"), r"allow_code"),
    "train missing annotations": (train("gazefollow_missing.json"), r"absent.txt does not exist"),
    "train bad device": (train("good.json", "--device", "gpu"), r"device 'gpu'.*expected 'auto', 'cpu'"),
    "train out is a file": (["gaze", "train", "{root}/good.json", "--out", "{root}/a_file"], r"a_file is a file"),
    "train out exists": (["gaze", "train", "{root}/good.json", "--out", "{root}/previous"], r"--overwrite"),
    "train resume nothing": (train("good.json", "--resume"), r"no interrupted run of .*new_run"),
    "train overwrite and resume": (train("good.json", "--resume", "--overwrite"), r"exclude each other"),
    "train negative seed": (train("good.json", "--seed", "-1"), r"seed: .*greater than or equal to 0"),
    # gaze predict
    "predict missing image": (predict("--head", "1,1,9,9", image="absent.jpg"), r"absent.jpg does not exist"),
    "predict non-image file": (predict("--head", "1,1,9,9", image="text.jpg"), r"text.jpg: not an image file"),
    "predict bad head": (predict("--head", "1,2,3"), r"--head '1,2,3': expected four numbers"),
    "predict head outside": (predict("--head", "10,10,200,40"), r"head 0: box .* outside the 80x60 image"),
    "predict head zero area": (predict("--head", "10,10,10,40"), r"zero area"),
    "predict empty checkpoint": (predict("--head", "1,1,9,9", weights="empty.pt"), r"empty.pt is empty"),
    "predict corrupt checkpoint": (predict("--head", "1,1,9,9", weights="corrupt.pt"), r"corrupt.pt"),
    "predict backbone weights alone": (predict("--head", "1,1,9,9", weights="backbone.pt"),
                                       r"not a ViTGaze checkpoint.*--model"),
    "predict missing checkpoint": (predict("--head", "1,1,9,9", weights="absent.pt"), r"absent.pt.*does not exist"),
    "predict no model": (["gaze", "predict", "{root}/scene.jpg", "--head", "1,1,9,9", "--out", "{root}/pred"],
                         r"--model SPEC or --weights"),
    "predict out is a file": (["gaze", "predict", "{root}/scene.jpg", "--head", "1,1,9,9", "--weights",
                               "{root}/vitgaze.pt", "--out", "{root}/a_file"], r"a_file is a file"),
    "predict image size zero": (predict("--head", "1,1,9,9", "--image-size", "0"), r"0 is not a positive integer"),
    "predict cuda absent": (predict("--head", "1,1,9,9", "--device", "cuda:7"), r"cuda:7.*not available|CUDA"),
    # gaze evaluate
    "evaluate nothing": (["gaze", "evaluate"], r"nothing to evaluate"),
    "evaluate unknown format": (["gaze", "evaluate", "--gazefollow", "{root}/annotations.json"],
                                r"--gazefollow .*annotations.json: expected the .mat release"),
    "evaluate corrupt mat": (["gaze", "evaluate", "--gazefollow", "{root}/corrupt.mat"], r"corrupt.mat is not a "
                             r"readable .mat file"),
    "evaluate empty checkpoint": (["gaze", "evaluate", "--weights", "{root}/empty.pt"], r"empty.pt is empty"),
    "evaluate no scenes": (["gaze", "evaluate", "--weights", "{root}/vitgaze.pt", "--synthetic", "0"],
                           r"--synthetic 0: expected a positive"),
    "evaluate out exists": (["gaze", "evaluate", "--weights", "{root}/vitgaze.pt", "--synthetic", "2", "--out",
                             "{root}/previous"], r"previous exists and is not empty; pass --overwrite"),
}


def plain(text: str) -> str:
    """The output without rich's panel borders, whitespace runs as one space."""
    return " ".join(text.replace("│", " ").replace("╭", " ").replace("╰", " ").split())


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_is_one_clear_error_and_changes_nothing(name, files):
    args, message = CASES[name]
    if name == "predict cuda absent" and torch.cuda.device_count() > 7:
        pytest.skip("this machine has a cuda:7")
    before = snapshot(files, folders=True)
    result = runner.invoke(app, [a.replace("{root}", str(files)) for a in args])
    output = plain(result.output)
    assert result.exit_code == 2, f"{name}: exit {result.exit_code}: {result.output}"
    assert "Traceback" not in result.output and "weights_only=False" not in result.output
    assert re.search(message, output, flags=re.IGNORECASE), f"{name}: {message!r} not in: {output}"
    assert snapshot(files, folders=True) == before, f"{name}: files were created, changed or removed"
