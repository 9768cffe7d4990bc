"""``cogvision gaze evaluate --gazefollow`` on the text annotation format, with the conventions it reports."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from cogvision.cli import app
from cogvision.gaze.evaluate import score_analytic
from data_loaders.gazefollow import read_annotations
from tests.gaze.test_loaders import TEST_LINES, _image

runner = CliRunner()


def test_text_annotations_are_read_and_scored(tmp_path):
    path = tmp_path / "test2.txt"
    path.write_text(TEST_LINES)
    gaze, sizes = read_annotations(path)
    assert gaze.shape == (2, 2, 2) and sizes is None
    np.testing.assert_allclose(gaze[1], [[0.1, 0.2], [-1, -1]])
    result = runner.invoke(app, ["gaze", "evaluate", "--gazefollow", str(path), "--out", str(tmp_path / "ev")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "ev" / "scores.json").read_text())
    assert [row["n"] for row in report["gazefollow"]] == [2, 2, 2]
    assert report["conventions"]["gazefollow"]["gazefollow_auc"].startswith("64x64 size, uint8")

    _image(tmp_path / "img/test2/0/c.jpg", (200, 100))
    gaze, sizes = read_annotations(path, tmp_path / "img")
    assert sizes.tolist() == [[100, 200], [100, 200]]
    result = runner.invoke(app, ["gaze", "evaluate", "--gazefollow", str(path), "--image-root",
                                 str(tmp_path / "img"), "--out", str(tmp_path / "ev2")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "ev2" / "scores.json").read_text())
    assert report["conventions"]["gazefollow"]["reference"] == "yes"
    oracle = score_analytic(gaze, methods=("Gaussian at mean annotator point",), sizes=sizes)
    assert oracle["auc"].iloc[0] > 0.9


def test_unknown_annotation_format_names_the_flag(tmp_path):
    path = tmp_path / "annotations.json"
    path.write_text("{}")
    result = runner.invoke(app, ["gaze", "evaluate", "--gazefollow", str(path)])
    assert result.exit_code == 2 and "--gazefollow" in result.output
    with pytest.raises(ValueError, match="expected the .mat release"):
        read_annotations(path)
