"""Library functions that used to return silently wrong results or raw tracebacks on bad inputs."""

from __future__ import annotations

import json
import os
import warnings

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import TensorDataset

from cogvision.io import read_checkpoint
from cogvision.models import extract_features, load_model
from data_loaders.images import read_image


def _gradient(h=40, w=60) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 4, y * 6, 255 - x * 4], -1).astype(np.uint8)


def test_cmyk_jpeg_is_converted_to_rgb_with_a_warning(tmp_path):
    rgb = _gradient()
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "c.jpg", quality=100)
    with pytest.warns(UserWarning, match="CMYK image; converted to RGB"):
        image = read_image(tmp_path / "c.jpg")
    assert image.shape == (3, 40, 60)
    np.testing.assert_allclose(image.permute(1, 2, 0).numpy() * 255, rgb, atol=1.0)


def test_non_image_and_oversized_images_are_refused_before_decoding(tmp_path, monkeypatch):
    (tmp_path / "x.jpg").write_text("hello")
    with pytest.raises(ValueError, match=r"x.jpg: not an image file") as info:
        read_image(tmp_path / "x.jpg")
    assert "pip install" not in str(info.value)
    Image.fromarray(_gradient()).save(tmp_path / "big.png")
    with pytest.raises(ValueError, match="60x40 = 2400 pixels, above the limit of 1000"):
        read_image(tmp_path / "big.png", limit=1000)
    monkeypatch.setenv("COGVISION_MAX_PIXELS", "100")
    with pytest.raises(ValueError, match="above the limit of 100"):
        read_image(tmp_path / "big.png")
    monkeypatch.setenv("COGVISION_MAX_PIXELS", "lots")
    with pytest.raises(ValueError, match="COGVISION_MAX_PIXELS must be a whole number"):
        read_image(tmp_path / "big.png")


def test_extract_features_on_uint8_equals_float_and_other_integers_are_refused():
    model = load_model("cogvision.models.builtin:tiny_cnn", device="cpu")
    images = torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8)
    with pytest.warns(UserWarning, match="uint8 images converted"):
        as_uint8 = extract_features(model, images, ["features.1"])
    as_float = extract_features(model, images.float() / 255, ["features.1"])
    assert np.isfinite(as_uint8["features.1"].values).all()
    np.testing.assert_allclose(as_uint8["features.1"].values, as_float["features.1"].values)
    with pytest.raises(ValueError, match="got dtype torch.int64"):
        extract_features(model, images.long(), ["features.1"])


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo should-never-run",))


@pytest.mark.parametrize("content, message", [
    (b"", r"is empty \(0 bytes\)"),
    (b"garbage" * 20, "not a weights-only torch file"),
    ("truncated", "truncated or not a torch file"),
    ("evil", "refused to load"),
])
def test_bad_checkpoints_are_clear_errors_without_torch_advice(tmp_path, content, message):
    path = tmp_path / "last.pt"
    if content == "truncated":
        torch.save({"a": torch.zeros(3)}, path)
        path.write_bytes(path.read_bytes()[:40])
    elif content == "evil":
        torch.save({"a": _Evil()}, path)
    else:
        path.write_bytes(content)
    with pytest.raises(ValueError, match=message) as info:
        read_checkpoint(path)
    assert "weights_only=False" not in str(info.value) and str(path) in str(info.value)


def test_training_resume_from_an_empty_checkpoint_is_a_clear_error(tmp_path):
    from cogvision.training import CHECKPOINT_NAME, fit

    (tmp_path / CHECKPOINT_NAME).write_bytes(b"")
    x = torch.randn(16, 3)
    data = TensorDataset(x, x.sum(1))
    loss = lambda m, batch: torch.nn.functional.mse_loss(m(batch[0]).squeeze(-1), batch[1])  # noqa: E731
    with pytest.raises(ValueError, match="last.pt is empty"):
        fit(torch.nn.Linear(3, 1), data, loss, epochs=1, checkpoint_dir=tmp_path, resume=True, progress=False)


def test_empty_detections_folder_is_an_error(shared, tmp_path):
    from data_loaders.coco_search18 import load_coco_search18

    fixations = shared / "data" / "eyetracking" / "coco_search18_excerpt" / "coco_search18_fixations_TP_excerpt.json"
    (tmp_path / "det").mkdir()
    with pytest.raises(ValueError, match="holds no \\*.csv files"):
        load_coco_search18(fixations, tmp_path / "det")
    (tmp_path / "det" / "chair.csv").write_text("\n")
    with pytest.raises(ValueError, match="hold no detections"):
        load_coco_search18(fixations, tmp_path / "det")


def test_detections_are_keyed_by_task_and_image(tmp_path):
    from data_loaders.coco_search18 import load_coco_search18

    trial = {"name": "img.jpg", "subject": 1, "condition": "present", "bbox": [100, 100, 50, 50],
             "X": [120.0, 500.0], "Y": [120.0, 500.0], "T": [100, 100]}
    (tmp_path / "fix.json").write_text(json.dumps([dict(trial, task="chair"), dict(trial, task="potted plant")]))
    det = tmp_path / "det"
    det.mkdir()
    (det / "chair.csv").write_text("img.jpg,\"[['chair', 90.0, 150, 100, 150, 100]]\"\n")
    (det / "plotted_plant.csv").write_text("img.jpg,\"[['potted plant', 80.0, 150, 100, 150, 100], "
                                           "['cup', 70.0, 600, 450, 600, 450]]\"\n")
    data = load_coco_search18(tmp_path / "fix.json", det)
    assert data.scenes["chair/img.jpg"].labels == ("chair",)
    assert data.scenes["potted plant/img.jpg"].labels == ("potted plant", "cup")


def _amazon(tmp_path, box, size=(1400, 600)):
    entry = {"fixations": {"1": [[10, 10], [700, 300]]}, "size": {"width": size[0], "height": size[1]},
             "target": "target_0.jpg", "ground_truth": [dict(zip(("xmin", "ymin", "xmax", "ymax"), box))]}
    path = tmp_path / "Amazon.json"
    path.write_text(json.dumps({"collage_1.jpg": entry}))
    return path


@pytest.mark.parametrize("box, size, message", [
    ((5000, 5000, 5100, 5100), (1400, 600), "lies outside the 1400 x 600 collage"),
    ((100, 100, 50, 150), (1400, 600), "must have xmin < xmax"),
    ((0, 0, 100, 100), (0, 600), "size must be positive"),
])
def test_amazon_target_box_outside_the_collage_is_an_error(tmp_path, box, size, message):
    from data_loaders.amazon_covers import load_amazon_covers

    with pytest.raises(ValueError, match=message):
        load_amazon_covers(_amazon(tmp_path, box, size))
    assert load_amazon_covers(_amazon(tmp_path, (0, 0, 100, 100))).scenes["collage_1.jpg"].target == 0


@pytest.mark.parametrize("screen", [(0, 0), (-10, 100), (float("nan"), 100), (100,)])
def test_multimatch_refuses_a_degenerate_screen(screen):
    from cogvision.scanpath.metrics.multimatch import multimatch

    path = np.array([[1, 2, 0.1], [30, 40, 0.2], [50, 10, 0.3]], float)
    with pytest.raises(ValueError, match="screen_size must be"):
        multimatch(path, path, screen)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isfinite(multimatch(path, path, (100, 80))).all()
