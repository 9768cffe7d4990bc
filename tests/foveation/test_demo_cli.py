"""The demo and the ``cogvision foveate`` command."""

from __future__ import annotations

import matplotlib.image
import numpy as np
from typer.testing import CliRunner

from cogvision.cli import app
from cogvision.demo import foveation as demo
from cogvision.demo.section import Section


def test_demo_runs_and_reports_numbers(tmp_path):
    report = demo.run(tmp_path, device="cpu")
    assert isinstance(report, Section) and report.title and report.command
    numbers = report.numbers
    assert numbers["ssim_reference"] == 1.0
    assert abs(numbers["ssim_uniform_blur"] - numbers["target_ssim_s0.25"]) < 0.01
    assert numbers["ssim_texture_s=0.4"] < numbers["target_ssim_s0.25"] < 1
    assert (tmp_path / "foveation_windows.png").is_file() and (tmp_path / "foveation_systems.png").is_file()


def test_cli_writes_images_and_refuses_overwrite(tmp_path):
    image = tmp_path / "img.png"
    matplotlib.image.imsave(image, np.random.default_rng(0).random((40, 50, 3)))
    out = tmp_path / "out"
    runner = CliRunner()
    result = runner.invoke(app, ["foveate", str(image), "--out", str(out), "--system", "blur", "--size", "64",
                                 "--fixation", "10,20", "--show-windows"])
    assert result.exit_code == 0, result.output
    assert (out / "img_blur.png").is_file() and (out / "windows.png").is_file()
    assert runner.invoke(app, ["foveate", str(image), "--out", str(out)]).exit_code == 2
    bad = runner.invoke(app, ["foveate", str(image), "--out", str(tmp_path / "o2"), "--fixation", "500,5",
                              "--size", "64"])
    assert bad.exit_code == 2 and "outside" in bad.output
