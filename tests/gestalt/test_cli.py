"""`cogvision disrt` end to end on a tiny model and two images, and its documented errors."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from cogvision.cli import app

runner = CliRunner()
TINY = "cogvision.models.builtin:tiny_cnn"


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory):
    import skimage.io

    from data_loaders.images import builtin_images

    folder = tmp_path_factory.mktemp("images")
    images, names = builtin_images(["astronaut", "coffee"], size=72)
    for image, name in zip(images, names):
        skimage.io.imsave(folder / f"{name}.png", (image.permute(1, 2, 0).numpy() * 255).astype(np.uint8))
    return folder


def _run(*args):
    return runner.invoke(app, ["disrt", *map(str, args)])


def test_end_to_end_on_a_tiny_model_and_two_images(image_dir, tmp_path):
    out = tmp_path / "res"
    result = _run("--model", TINY, "--images", image_dir, "--layers", "features.1,features.3", "--grid", "2,4",
                  "--topk", "0.2", "--n-boot", "50", "--device", "cpu", "--out", out)
    assert result.exit_code == 0, result.output
    info = json.loads((out / "summary.json").read_text())
    assert info["n_images"] == 2 and info["readout_layer"] == "features.3" and "0.2" in info["topk"]
    assert info["command"].startswith("cogvision disrt --model " + TINY)
    report = (out / "report.md").read_text()
    assert "![accuracy](accuracy.png)" in report and "pixel observer (measured)" in report
    assert "null: structure-blind observer" in report
    assert "score" in result.output
    # the same command again refuses to overwrite, then replaces with --overwrite
    again = _run("--model", TINY, "--images", image_dir, "--grid", "2", "--out", out)
    assert again.exit_code == 2 and "--overwrite" in again.output
    assert _run("--model", TINY, "--images", image_dir, "--grid", "2", "--n-boot", "20", "--out", out,
                "--overwrite").exit_code == 0


def test_unreadable_images_are_skipped_and_counted_or_fail_with_strict(image_dir, tmp_path):
    bad = tmp_path / "mixed"
    bad.mkdir()
    for f in image_dir.iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    (bad / "broken.png").write_bytes(b"not an image")
    result = _run("--model", TINY, "--images", bad, "--grid", "2", "--n-boot", "20", "--out", tmp_path / "a")
    assert result.exit_code == 0, result.output
    assert "1 unreadable" in result.output and "broken.png" in result.output
    strict = _run("--model", TINY, "--images", bad, "--grid", "2", "--strict", "--out", tmp_path / "b")
    assert strict.exit_code == 2 and "cannot read image" in strict.output
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize("args, message", [
    (["--model", "torchvision:mobilenet_v9"], "mobilenet"),
    (["--model", TINY, "--layers", "features.7"], "close matches"),
    (["--model", TINY, "--grid", "2,x"], "--grid expects"),
    (["--model", TINY, "--distortion", "warp"], "--distortion: 'warp' not one of shuffle"),
    (["--model", TINY, "--pool", "cls"], "cls"),
])
def test_bad_inputs_give_clear_errors(image_dir, tmp_path, args, message):
    result = _run(*args, "--images", image_dir, "--out", tmp_path / "x")
    assert result.exit_code == 2
    assert message in result.output
    assert not (tmp_path / "x").exists()


def test_empty_image_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    result = _run("--model", TINY, "--images", tmp_path / "empty", "--out", tmp_path / "x")
    assert result.exit_code == 2 and "no images" in result.output
