"""`cogvision disrt` bad inputs that tests/test_reliability.py does not cover: each is one clear error, exit code 2,
no traceback, every file that existed before byte-identical and no new or hidden folder; and the typed settings
(choices in --help, --config read once, flags overriding it)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file
from typer.testing import CliRunner

from cogvision.cli import app
from cogvision.io import read_dataset
from tests.helpers import snapshot

runner = CliRunner()
TINY = "builtin:tiny_cnn"


@pytest.fixture
def ws(tmp_path):
    """Two small photographs, bad inputs of every kind, and a previous result folder that must survive."""
    rng = np.random.default_rng(1)
    (tmp_path / "images").mkdir()
    for name in ("a", "b"):
        Image.fromarray((rng.random((40, 48, 3)) * 255).astype(np.uint8)).save(tmp_path / "images" / f"{name}.png")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "x.png").write_text("not a PNG")
    (tmp_path / "junk" / "y.jpg").write_bytes(b"\xff\xd8 truncated")
    save_file({"w": torch.zeros(4)}, str(tmp_path / "good.safetensors"))
    data = (tmp_path / "good.safetensors").read_bytes()
    (tmp_path / "truncated.safetensors").write_bytes(data[: len(data) // 2])
    (tmp_path / "unknown.yaml").write_text("grids: [2]\ncolour: red\n")
    (tmp_path / "badtype.yaml").write_text("trials: many\n")
    (tmp_path / "badchoice.json").write_text(json.dumps({"pooling": "max"}))
    (tmp_path / "broken.yaml").write_text("grids: [2, 4\n")
    (tmp_path / "list.toml").write_text("grids = 2\n")
    prev = tmp_path / "prev"
    prev.mkdir()
    (prev / "keep.txt").write_text("finished results")
    return tmp_path


W = "{ws}"
BASE = ["disrt", "--model", TINY, "--images", f"{W}/images", "--device", "cpu", "--out", f"{W}/new"]
CASES = [
    (["--pool", "max"], "'max' is not one of 'cls', 'mean', 'flat'"),
    (["--similarity", "manhattan"], "'manhattan' is not one of"),
    (["--nuisance", "blur"], "'blur' is not one of 'local', 'shift', 'color'"),
    (["--token-mode", "pixel"], "'pixel' is not one of 'token', 'channel'"),
    (["--distortion", "shuffle,warp"], "--distortion: 'warp' not one of shuffle, shuffle_seamless, rotate, texform"),
    (["--topk", "1.5"], "--topk expects fractions in (0, 1)"),
    (["--topk", "0.1,a"], "--topk expects comma-separated float values"),
    (["--grid", "1,2"], "grids must be a non-empty list of distinct integers >= 2"),
    (["--n-boot", "0"], "--n-boot must be >= 1"),
    (["--batch-size", "0"], "0 is not a positive integer"),
    (["--layers", ","], "--layers: expected a comma-separated list of names"),
    (["--config", f"{W}/unknown.yaml"], "unknown.yaml: colour: unknown key"),
    (["--config", f"{W}/badtype.yaml"], "badtype.yaml: trials: Input should be a valid integer"),
    (["--config", f"{W}/badchoice.json"], "badchoice.json: pooling: expected 'cls', 'mean' or 'flat', got 'max'"),
    (["--config", f"{W}/broken.yaml"], "broken.yaml: not valid yaml"),
    (["--config", f"{W}/list.toml"], "list.toml: grids: Input should be a valid tuple"),
    (["--config", f"{W}/missing.yaml"], "missing.yaml: no such file"),
    (["--weights", f"{W}/truncated.safetensors"], "is not a valid .safetensors file"),
    (["--images", f"{W}/junk"], "none of the images in"),
    (["--model", "os:getcwd"], "returned a str, expected a torch.nn.Module"),
]


@pytest.mark.parametrize("extra, message", CASES, ids=[" ".join(c[0])[:40] for c in CASES])
def test_bad_disrt_input_is_one_clear_error_and_nothing_is_written(ws, extra, message):
    before = snapshot(ws)
    args = [a.format(ws=ws) for a in [*BASE, *extra]]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split()), result.output
    assert "Traceback" not in result.output
    assert snapshot(ws) == before
    assert not (ws / "new").exists() and not [p for p in ws.iterdir() if p.name.startswith(".")]


def test_help_lists_the_choices():
    text = runner.invoke(app, ["disrt", "--help"], terminal_width=200).output
    for choices in ("cls|mean|flat", "cosine|correlation|euclidean", "local|shift|color", "token|channel",
                    "shuffle, shuffle_seamless, rotate, texform"):
        assert choices in text


def test_config_file_is_read_once_and_flags_given_override_it(ws):
    (ws / "settings.yaml").write_text("grids: [2]\ntrials: 1\npooling: flat\nn_boot: 20\ndistortions: [rotate]\n")
    out = ws / "run"
    result = runner.invoke(app, ["disrt", "--model", TINY, "--images", str(ws / "images"), "--layers", "features.1",
                                 "--config", str(ws / "settings.yaml"), "--trials", "2", "--device", "cpu",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    protocol = json.loads(read_dataset(out / "results.nc").attrs["protocol"])
    assert protocol["grids"] == [2] and protocol["pooling"] == "flat" and protocol["distortions"] == ["rotate"]
    assert protocol["trials"] == 2  # the flag given on the command line wins over the file
    assert protocol["similarity"] == "cosine"  # neither in the file nor given: the default
    summary = json.loads((out / "summary.json").read_text())
    assert "--config" in summary["command"] and set(summary["files"]) >= {"scores.parquet", "trials.parquet"}
