"""`cogvision foveate` and the foveation API: bad inputs tests/test_reliability.py does not cover (one clear error,
exit code 2, files byte-identical, nothing new), and the one registry of system names (the alias ``blur``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from cogvision.cli import app
from cogvision.foveation import ALL_SYSTEMS, FoveatedBlur, SystemParameters, make_system, system_name
from cogvision.foveation.emergent import SYSTEMS
from cogvision.foveation.matching import BLUR_SYSTEMS
from tests.helpers import snapshot

runner = CliRunner()


@pytest.fixture
def ws(tmp_path):
    rng = np.random.default_rng(2)
    Image.fromarray((rng.random((36, 44, 3)) * 255).astype(np.uint8)).save(tmp_path / "good.png")
    (tmp_path / "folder.png").mkdir()
    (tmp_path / "file").write_text("a file")
    prev = tmp_path / "prev"
    prev.mkdir()
    (prev / "keep.txt").write_text("finished results")
    return tmp_path


W = "{ws}"
CASES = [
    (["--image-size", "4"], "--image-size must be at least 8 pixels, got 4"),
    (["--image-size", "0"], "0 is not a positive integer"),
    (["--batch-size", "0"], "0 is not a positive integer"),
    (["--system", "Texture"], "--system must be one of reference, texture, uniform, foveated_blur (alias: blur"),
    (["--system", "reference", "--match-to", "texture"], "--match-to texture applies to --system foveated_blur"),
    (["--scaling", "0"], "scaling must be a positive number"),
    (["--fov-deg", "-1"], "fov_deg must be positive"),
    (["--system", "uniform", "--blur-sigma", "-1"], "sigma_deg must be >= 0"),
    (["--system", "blur", "--blur-slope", "-0.1"], "slope must be >= 0"),
]


@pytest.mark.parametrize("extra, message", CASES, ids=[" ".join(c[0]) for c in CASES])
def test_bad_foveate_input_is_one_clear_error_and_nothing_is_written(ws, extra, message):
    before = snapshot(ws)
    result = runner.invoke(app, ["foveate", str(ws / "good.png"), "--out", str(ws / "new"), *extra])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split()), result.output
    assert "Traceback" not in result.output
    assert snapshot(ws) == before
    assert not (ws / "new").exists() and not [p for p in ws.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("args, message", [
    (["{ws}/folder.png"], "is not a file"),
    (["{ws}/good.png", "--out", "{ws}/file/inner"], "is a file"),
])
def test_bad_paths(ws, args, message):
    before = snapshot(ws)
    argv = ["foveate", *[a.format(ws=ws) for a in args]]
    if "--out" not in argv:
        argv += ["--out", str(ws / "new")]
    result = runner.invoke(app, argv)
    assert result.exit_code == 2 and message in result.output, result.output
    assert snapshot(ws) == before


def test_one_set_of_names_and_the_blur_alias(ws):
    assert SYSTEMS == tuple(ALL_SYSTEMS) == ("reference", "texture", "uniform", "foveated_blur")
    assert set(BLUR_SYSTEMS) <= set(ALL_SYSTEMS)
    assert system_name("blur") == "foveated_blur" and isinstance(make_system("blur"), FoveatedBlur)
    with pytest.raises(ValueError, match="expected one of reference, texture, uniform, foveated_blur"):
        make_system("foveated")
    with pytest.raises(TypeError):
        make_system("texture", scalling=0.3)  # a misspelt parameter is not silently ignored
    x = torch.rand(1, 3, 32, 32)
    params = SystemParameters(foveated_slope=0.2, fixation=(10.0, 12.0))
    torch.testing.assert_close(make_system("blur", params)(x), FoveatedBlur(0.2, fixation=(10.0, 12.0))(x),
                               rtol=0, atol=0)
    # the command accepts both names; files are named after the name given, with identical pixels
    for name in ("blur", "foveated_blur"):
        result = runner.invoke(app, ["foveate", str(ws / "good.png"), "--system", name, "--image-size", "32",
                                     "--out", str(ws / name)])
        assert result.exit_code == 0, result.output
        assert "through the foveated_blur system" in result.output
    alias, canonical = ws / "blur" / "good_blur.png", ws / "foveated_blur" / "good_foveated_blur.png"
    assert alias.read_bytes() == canonical.read_bytes()


def test_size_is_the_hidden_older_name_of_image_size(ws):
    result = runner.invoke(app, ["foveate", str(ws / "good.png"), "--system", "reference", "--size", "24",
                                 "--out", str(ws / "old")])
    assert result.exit_code == 0, result.output
    assert Image.open(ws / "old" / "good_reference.png").size == (24, 24)
    help_text = runner.invoke(app, ["foveate", "--help"], terminal_width=200).output
    assert "--image-size" in help_text and "--size " not in help_text
    assert "reference|texture|uniform|foveated_blur|blur" in help_text
