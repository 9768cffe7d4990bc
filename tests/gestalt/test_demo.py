"""The DiSRT part of `cogvision demo` runs end to end and reports numbers it computed."""

import math

import pytest

from cogvision.demo import gestalt as demo
from cogvision.demo.section import Section


@pytest.mark.slow
def test_demo_without_shared_data(tmp_path, monkeypatch):
    # keep the test small: two photographs, one grid, one layer of the random network
    monkeypatch.setattr(demo, "LAYERS", ["features.4"])
    monkeypatch.setattr(demo, "GRIDS", (4,))
    monkeypatch.setattr(demo, "IMAGES", ["astronaut", "coffee"])
    result = demo.run(tmp_path, shared=None, device="cpu")
    assert isinstance(result, Section) and result.title and result.command
    numbers = result.numbers
    assert numbers["control_score"] <= 1 / 3  # the permutation-invariant control never beats chance
    assert all(math.isfinite(v) for v in numbers.values())
    for name in ("disrt_accuracy_0.png", "disrt_accuracy_1.png", "disrt_trials.png"):
        assert (tmp_path / name).stat().st_size > 0
        assert f"({name})" in result.markdown
    assert result.command.startswith("cogvision disrt")
