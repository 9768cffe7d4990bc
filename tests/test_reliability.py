"""Bad inputs to every command this suite covers: one clear ``error:`` line, exit code 2, no traceback, and every
file that existed before byte-identical afterwards (no hidden temporary folder left either)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image
from typer.testing import CliRunner

from cogvision.cli import app
from tests.helpers import snapshot

runner = CliRunner()
TINY = "cogvision.models.builtin:tiny_cnn"


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo should-never-run",))


@pytest.fixture
def ws(tmp_path):
    """A workspace: good and bad inputs, and a previous result folder that must survive every failure."""
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((48, 40, 3)) * 255).astype(np.uint8)).save(tmp_path / "good.png")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    Image.fromarray((rng.random((30, 30, 3)) * 255).astype(np.uint8)).save(tmp_path / "a" / "same.png")
    Image.fromarray((rng.random((30, 30, 3)) * 255).astype(np.uint8)).save(tmp_path / "b" / "same.png")
    (tmp_path / "text.jpg").write_text("this is not a JPEG")
    (tmp_path / "file").write_text("a file, not a folder")
    (tmp_path / "empty.pt").write_bytes(b"")
    (tmp_path / "garbage.pt").write_bytes(b"garbage" * 20)
    torch.save({"w": _Evil()}, tmp_path / "evil.pt")
    (tmp_path / "bad.yaml").write_text("data: [unclosed\n  - x: :")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    (tmp_path / "unknown.yaml").write_text(yaml.safe_dump({"encoder": {"type": "ridge"}, "features": {"file": "x.npy"},
                                                           "responses": {"npy": "y.npy"}, "colour": 1}))
    (tmp_path / "missing_data.yaml").write_text(yaml.safe_dump({"encoder": {"type": "ridge"},
                                                                "features": {"file": "nope.npy"},
                                                                "responses": {"npy": "nope_y.npy"}}))
    prev = tmp_path / "prev"
    prev.mkdir()
    (prev / "keep.txt").write_text("finished results")
    return tmp_path


W = "{ws}"
CASES = [
    # foveate
    (["foveate", f"{W}/good.png", "--out", f"{W}/file"], "is a file"),
    (["foveate", f"{W}/a/same.png", f"{W}/b/same.png", "--out", f"{W}/new"],
     "would both be written as same_texture.png"),
    (["foveate", f"{W}/text.jpg", "--out", f"{W}/new"], "not an image file"),
    (["foveate", f"{W}/good.png", "--out", f"{W}/new", "--device", "gpu"], "unknown device 'gpu'"),
    (["foveate", f"{W}/missing.png", "--out", f"{W}/prev", "--overwrite"], "does not exist"),
    (["foveate", f"{W}/good.png", "--out", f"{W}/prev"], "exists and is not empty"),
    (["foveate", f"{W}/good.png", "--out", f"{W}/new", "--size", "0"], "--size must be at least 8"),
    (["foveate", f"{W}/good.png", "--out", f"{W}/new", "--system", "warp"], "--system must be one of"),
    (["foveate", f"{W}/good.png", "--out", f"{W}/new", "--fixation", "a,b"], "--fixation must be"),
    (["foveate", f"{W}/no[red]such.png", "--out", f"{W}/new"], "no[red]such.png does not exist"),
    (["foveate", f"{W}/good.png", "--out", f"{W}/new", "--match-to", "blur", "--system", "blur"], "--match-to"),
    # disrt
    (["disrt", "--model", TINY, "--out", f"{W}/file", "--device", "cpu"], "is a file"),
    (["disrt", "--model", TINY, "--weights", f"{W}/empty.pt", "--out", f"{W}/new"], "is empty (0 bytes)"),
    (["disrt", "--model", TINY, "--weights", f"{W}/garbage.pt", "--out", f"{W}/new"], "not a weights-only torch file"),
    (["disrt", "--model", TINY, "--weights", f"{W}/evil.pt", "--out", f"{W}/new"], "refused to load"),
    (["disrt", "--model", "torchvision:mobilenet_v9", "--out", f"{W}/prev", "--overwrite"], "mobilenet"),
    (["disrt", "--model", TINY, "--trials", "0", "--out", f"{W}/new"], "--trials must be >= 1"),
    (["disrt", "--model", TINY, "--device", "gpu", "--out", f"{W}/new"], "unknown device"),
    (["disrt", "--model", TINY, "--images", f"{W}/text.jpg", "--strict", "--out", f"{W}/new"], "not an image file"),
    (["disrt", "--model", TINY, "--grid", "2,[x]", "--out", f"{W}/new"], "2,[x]"),
    # models inspect
    (["models", "inspect", TINY, "--weights", f"{W}/empty.pt"], "is empty"),
    (["models", "inspect", TINY, "--weights", f"{W}/evil.pt"], "refused to load"),
    (["models", "inspect", TINY, "--image-size", "0"], "--image-size must be at least 8"),
    (["models", "inspect", "timm:[not_a_model]"], "[not_a_model]"),
    # rsa
    (["rsa", "--model", TINY, "--stimuli", f"{W}/a", "--out", f"{W}/file"], "is a file"),
    (["rsa", "--model", TINY, "--stimuli", f"{W}/a", "--out", f"{W}/new", "--n-boot", "0"], "--n-boot must be >= 1"),
    (["rsa", "--model", TINY, "--stimuli", f"{W}/nowhere", "--out", f"{W}/prev", "--overwrite"], "nowhere"),
    (["rsa", "--model", TINY, "--stimuli", f"{W}/a", "--out", f"{W}/new", "--mixed-splits", "-1"], "--mixed-splits"),
    (["rsa", "--model", TINY, "--stimuli", f"{W}/a", "--out", f"{W}/new", "--weights", f"{W}/w.pt"], "does not exist"),
    (["rsa", "--model", TINY, "--stimuli", f"{W}/a", "--out", f"{W}/new", "--metric", "cosine[x]"], "is not one of"),
    # fit-encoder
    (["fit-encoder", f"{W}/bad.yaml", "--out", f"{W}/new"], "not valid yaml"),
    (["fit-encoder", f"{W}/list.yaml", "--out", f"{W}/new"], "expected a mapping"),
    (["fit-encoder", f"{W}/nothing.yaml", "--out", f"{W}/new"], "nothing.yaml: no such file"),
    (["fit-encoder", f"{W}/unknown.yaml", "--out", f"{W}/new"], "unknown section(s) ['colour']"),
    (["fit-encoder", f"{W}/missing_data.yaml", "--out", f"{W}/prev", "--overwrite"], "nope.npy"),
    (["fit-encoder", f"{W}/missing_data.yaml", "--out", f"{W}/new"], "nope.npy"),
    (["fit-encoder", f"{W}/missing_data.yaml", "--out", f"{W}/file"], "is a file"),
    (["fit-encoder", f"{W}/missing_data.yaml", "--out", f"{W}/prev", "--overwrite", "--resume"], "exclude each other"),
    (["fit-encoder", f"{W}/missing_data.yaml", "--out", f"{W}/new", "--device", "gpu"], "unknown device"),
    # demo
    (["demo", "--sections", "nonsense", "--out", f"{W}/new", "--no-data"], "--sections"),
    (["demo", "--sections", "gestalt", "--device", "gpu", "--out", f"{W}/new", "--no-data"], "unknown device"),
    (["demo", "--sections", "gestalt", "--out", f"{W}/file", "--no-data"], "is a file"),
    (["demo", "--data", f"{W}/file", "--out", f"{W}/new"], "is not a folder"),
    (["demo", "--sections", "gestalt", "--out", f"{W}/prev", "--no-data"], "exists and is not empty"),
]


@pytest.mark.parametrize("args, message", CASES, ids=[" ".join(a[:1] + [m]) for a, m in CASES])
def test_bad_input_is_one_clear_error_and_nothing_is_lost(ws, args, message):
    before = snapshot(ws)
    result = runner.invoke(app, [a.replace(W, str(ws)) for a in args])
    output = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert message in output, result.output
    assert "Traceback" not in result.output and "weights_only=False" not in result.output
    assert snapshot(ws) == before  # every file that was there is byte-identical, and nothing was added
    assert not (ws / "new").exists()
    assert not [p for p in ws.iterdir() if ".partial-" in p.name or ".tmp" in p.name]


def test_fit_encoder_after_a_failed_fresh_run_reports_the_real_error_again(ws):
    args = ["fit-encoder", str(ws / "missing_data.yaml"), "--out", str(ws / "new")]
    first, second = runner.invoke(app, args), runner.invoke(app, args)
    assert first.exit_code == second.exit_code == 2
    assert "nope.npy" in second.output and "exists" not in second.output


def _npy_config(folder: Path, alphas=(0.1, 1.0, 10.0)) -> Path:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(36, 5))
    np.save(folder / "x.npy", x)
    np.save(folder / "y.npy", x @ rng.normal(size=(5, 4)) + rng.normal(size=(36, 4)))
    path = folder / "fit.yaml"
    path.write_text(yaml.safe_dump({"features": {"file": "x.npy"}, "responses": {"npy": "y.npy"},
                                    "encoder": {"type": "ridge", "alphas": list(alphas)},
                                    "cv": {"scheme": "kfold", "n_splits": 3}}))
    return path


def test_fit_encoder_resume_names_the_keys_that_differ(ws):
    config = _npy_config(ws)
    out = ws / "fit"
    assert runner.invoke(app, ["fit-encoder", str(config), "--out", str(out), "--device", "cpu"]).exit_code == 0
    assert (out / "run.json").is_file()
    (out / "summary.json").unlink()  # as if interrupted before the end
    before = snapshot(out)
    changed = _npy_config(ws, alphas=(1.0, 100.0))
    result = runner.invoke(app, ["fit-encoder", str(changed), "--out", str(out), "--resume", "--device", "cpu"])
    assert result.exit_code == 2 and "encoder.alphas" in result.output, result.output
    assert snapshot(out) == before


@pytest.mark.parametrize("command, target", [
    (["fit-encoder", "{config}", "--out", "{prev}", "--overwrite", "--device", "cpu"],
     "cogvision.jobs.fit_encoder.run_fit"),
    (["disrt", "--model", TINY, "--images", "{ws}/a", "--grid", "2", "--n-boot", "5", "--trials", "1", "--device",
      "cpu", "--out", "{prev}", "--overwrite"], "cogvision.gestalt.report.save_results"),
    (["foveate", "{ws}/good.png", "--system", "reference", "--out", "{prev}", "--overwrite"],
     "matplotlib.image.imsave"),
    (["demo", "--sections", "gestalt", "--out", "{prev}", "--overwrite", "--no-data"], "cogvision.demo.run_demo"),
])
def test_ctrl_c_while_writing_keeps_the_previous_output(ws, monkeypatch, command, target):
    config = _npy_config(ws)

    def interrupted(*args, **kwargs):
        folder = next((Path(a) for a in args if isinstance(a, (str, Path)) and ".partial-" in str(a)), None)
        if folder is not None and folder.is_dir():
            (folder / "half.txt").write_text("half-written")
        raise KeyboardInterrupt

    module, name = target.rsplit(".", 1)
    monkeypatch.setattr(module + "." + name, interrupted)
    before = snapshot(ws / "prev")
    args = [a.format(ws=ws, prev=ws / "prev", config=config) for a in command]
    result = runner.invoke(app, args)
    assert result.exit_code == 130 and "interrupted" in result.output, result.output
    assert snapshot(ws / "prev") == before
    assert not [p for p in ws.iterdir() if ".partial-" in p.name]


def test_foveate_writes_what_it_says_and_records_the_run(ws):
    out = ws / "fov"
    result = runner.invoke(app, ["foveate", str(ws / "a" / "same.png"), str(ws / "good.png"), "--system", "blur",
                                 "--size", "32", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.glob("*.png")) == ["good_blur.png", "same_blur.png"]
    assert "wrote 2 image(s)" in result.output and (out / "run.json").is_file()


def test_internal_errors_exit_1_with_one_line(ws, monkeypatch):
    def bug(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr("cogvision.commands.models.Table", bug, raising=False)
    monkeypatch.setattr("cogvision.models.SPEC_EXAMPLES", None)
    result = runner.invoke(app, ["models", "list"])
    assert result.exit_code == 1 and "internal error" in result.output and "Traceback" not in result.output
