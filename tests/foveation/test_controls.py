"""Foveation controls: blur matched to the texture system in SSIM (or reported infeasible), per-image noise,
high-pass filling, grayscale controls, cue conflict on rendered images, ``foveate --match-to texture``."""

from __future__ import annotations

import json

import matplotlib.image
import numpy as np
import pytest
import torch
from torch.utils.data import TensorDataset
from typer.testing import CliRunner

from cogvision.cli import app
from cogvision.foveation import FoveatedTexture, emergent
from cogvision.foveation.matching import match_system, ssim


def _textured(n: int = 2, size: int = 64) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    return (torch.rand(n, 3, size, size, generator=generator) * 0.5 + torch.linspace(0, 0.5, size)).clamp(0, 1)


def test_texture_noise_is_fresh_per_image_and_independent_of_batching():
    x = _textured(1).expand(4, -1, -1, -1).contiguous()  # the same image four times
    system = FoveatedTexture(0.5, seed=3)
    # no index: the noise follows the batch position, so two batches reuse the same fields
    assert torch.allclose(system(x[:2]), system(x[2:]))
    dataset = TensorDataset(x, torch.zeros(4, dtype=torch.long))
    rendered = emergent.prerender(dataset, system, batch_size=3, device="cpu").tensors[0]
    assert not torch.allclose(rendered[0], rendered[1], atol=1e-3)  # index-seeded: fresh noise per image
    again = emergent.prerender(dataset, system, batch_size=1, device="cpu").tensors[0]
    assert torch.allclose(rendered, again, atol=1e-5)  # batching does not change which noise an image gets
    assert torch.allclose(system(x[:1], index=[2]), rendered[2:3], atol=1e-5)


def test_match_system_reaches_the_target_or_reports_the_shortfall():
    images = _textured()
    texture = FoveatedTexture(0.25, fovea_deg=2.0)
    record = match_system("uniform", images, texture)
    assert set(record) >= {"measure", "target", "achieved", "parameter", "feasible"}
    assert record["feasible"] and abs(record["achieved"] - record["target"]) < 0.01
    target_ssim = float(ssim(texture(images), images).mean())
    assert record["target"] == pytest.approx(target_ssim)
    # a flat image keeps SSIM 1 under any blur: the texture target is out of reach, reported, not raised
    flat = torch.full((1, 3, 64, 64), 0.5)
    flat[..., :, 32:] = 0.6  # one edge only
    strong = FoveatedTexture(0.8, fovea_deg=0.5)
    noise = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    record = match_system("foveated_blur", flat + 0.2 * noise, strong)
    assert record["achieved"] >= record["target"] - 1e-6
    if not record["feasible"]:
        assert record["achieved"] > record["target"]
    with pytest.raises(ValueError, match="kind"):
        match_system("texture", images, texture)


def test_high_pass_sits_on_the_fill_and_grayscale_rows_exist():
    images = _textured()
    fill = torch.rand(3, 64, 64, generator=torch.Generator().manual_seed(2)) * 0.2 + 0.4
    high = emergent.frequency_filter(images, 4.0, "high", fill)
    low = emergent.frequency_filter(images, 4.0, "low")
    assert torch.allclose(high, (images - low + fill).clamp(0, 1), atol=1e-5)
    gray = emergent.grayscale(images)
    assert torch.allclose(gray[:, 0], gray[:, 2]) and torch.allclose(
        gray[:, 0], 0.299 * images[:, 0] + 0.587 * images[:, 1] + 0.114 * images[:, 2], atol=1e-6)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 64 * 64, 3))
    curve = emergent.frequency_curve(net, images, torch.tensor([0, 1]), (0, 2), fill=fill)
    assert list(curve["filter"].values) == ["low", "high", "low_gray", "high_gray"]


def test_cue_conflict_mixes_the_images_it_is_given():
    # a "network" that reports the class written in the centre pixel: with rendered images passed in, the
    # mix is of those images, so the centre cue wins whatever the front-end did
    images = torch.zeros(4, 3, 16, 16)
    labels = torch.tensor([0, 1, 2, 3])
    for i in range(4):
        images[i] = i / 4

    class Centre(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.p = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x):
            value = x[:, 0, 8, 8]
            return torch.nn.functional.one_hot((value * 4).round().long().clamp(0, 3), 4).float()

    share = emergent.cue_conflict(Centre(), images, labels, radii=(0.5,))
    assert float(share.sel(cue="centre").item()) == 1.0


def test_matched_systems_records_each_blur_control():
    systems, matching = emergent.matched_systems(_textured(), scaling=0.25)
    assert set(systems) == set(emergent.SYSTEMS)
    assert [m["system"] for m in matching] == ["uniform", "foveated_blur"]
    for record in matching:
        if record["feasible"]:
            assert abs(record["achieved"] - record["target"]) < 0.01


def test_foveate_match_to_texture_writes_matching_json(tmp_path):
    image = tmp_path / "img.png"
    matplotlib.image.imsave(image, np.clip(np.random.default_rng(0).random((64, 64, 3)) * 0.5
                                           + np.linspace(0, 0.5, 64)[None, :, None], 0, 1))
    runner = CliRunner()
    out = tmp_path / "out"
    result = runner.invoke(app, ["foveate", str(image), "--out", str(out), "--system", "uniform", "--match-to",
                                 "texture", "--scaling", "0.25", "--size", "64"])
    assert result.exit_code == 0, result.output
    record = json.loads((out / "matching.json").read_text())
    assert {"measure", "target", "achieved", "parameter", "feasible"} <= set(record) and record["measure"] == "ssim"
    assert (out / "img_uniform.png").is_file()
    bad = runner.invoke(app, ["foveate", str(image), "--out", str(tmp_path / "o2"), "--system", "texture",
                              "--match-to", "texture"])
    assert bad.exit_code == 2 and "--match-to" in bad.output
