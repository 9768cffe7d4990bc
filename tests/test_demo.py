import json
import re

import pytest
from typer.testing import CliRunner

import cogvision.demo.foveation
from cogvision.cli import app
from cogvision.demo import run_demo

runner = CliRunner()


def test_report_holds_the_run_numbers_figures_and_commands(tmp_path):
    out = tmp_path / "demo"
    results = run_demo(out, sections=("foveation",), device="cpu")
    assert not results[0].error
    html = (out / "report.html").read_text()
    numbers = json.loads((out / "numbers.json").read_text())["foveation"]["numbers"]
    assert numbers and str(int(numbers["windows_s0.4"])) in html
    for link in re.findall(r'src="([^"]+)"', html):
        assert (out / link).is_file(), link
    assert "cogvision demo --sections foveation" in html
    assert not list(tmp_path.glob(".demo.tmp*"))  # built aside, then moved into place


def test_refuses_to_overwrite_and_rejects_unknown_sections(tmp_path):
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="--overwrite"):
        run_demo(tmp_path / "demo", sections=("foveation",))
    assert (tmp_path / "demo" / "keep.txt").read_text() == "mine"
    with pytest.raises(ValueError, match="unknown demo sections"):
        run_demo(tmp_path / "other", sections=("nope",))


def test_a_failing_part_is_reported_and_fails_the_command(tmp_path, monkeypatch):
    def broken(out_dir, shared=None, device="auto"):
        raise RuntimeError("deliberate failure")

    monkeypatch.setattr(cogvision.demo.foveation, "run", broken)
    result = runner.invoke(app, ["demo", "--sections", "foveation", "--out", str(tmp_path / "d"), "--no-data"])
    assert result.exit_code == 1
    assert "deliberate failure" in (tmp_path / "d" / "report.md").read_text()
