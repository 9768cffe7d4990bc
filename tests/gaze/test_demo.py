"""The gaze section of ``cogvision demo`` (at test size: a smaller config, every 50th GazeFollow person)."""

from __future__ import annotations

import math

from cogvision.demo import gaze as demo
from cogvision.demo.section import Section


def test_demo_section_runs_and_reports_computed_numbers(tmp_path, shared, monkeypatch):
    monkeypatch.setattr(demo, "CONFIG_CHANGES", dict(n_train=24, n_val=8, epochs=1, image_size=32))
    monkeypatch.setattr(demo, "GAZEFOLLOW_STRIDE", 50)
    out = demo.run(tmp_path, shared=shared, device="cpu")
    assert isinstance(out, Section) and out.title and out.command
    assert (tmp_path / "gaze_examples.png").stat().st_size > 0 and (tmp_path / "gaze_scores.png").exists()
    assert "gaze_examples.png" in out.markdown and "GazeFollow test2" in out.markdown
    numbers = out.numbers
    assert all(isinstance(v, float) for v in numbers.values())
    assert all(math.isfinite(v) for k, v in numbers.items() if not k.endswith(": ap"))
    assert 0.0 <= numbers["ViTGaze: auc"] <= 1.0
    # the oracle Gaussian at the mean annotator point is off only by the 64x64 argmax quantisation
    assert numbers["GazeFollow test2 Gaussian at mean annotator point: avg_l2"] < 1.5 / 64
    test2 = "GazeFollow test2 "
    assert numbers[test2 + "centre prior: auc"] < numbers[test2 + "Gaussian at mean annotator point: auc"]
