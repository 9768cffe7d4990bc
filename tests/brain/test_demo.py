"""The brain section of ``cogvision demo`` runs end to end and reports computed numbers."""

import numpy as np

from cogvision.demo import brain as demo
from cogvision.demo.section import Section


def test_demo_runs_on_builtin_data(tmp_path):
    result = demo.run(tmp_path, shared=None, device="cpu")
    assert isinstance(result, Section) and result.title and result.command
    numbers = result.numbers
    assert all(np.isfinite(v) for v in numbers.values())
    assert 0 < numbers["synthetic_ridge_retinotopic_r"] < numbers["synthetic_ceiling_retinotopic_r"]
    for name in ("encoders.png", "receptive_fields.png", "routing.png"):
        assert (tmp_path / name).is_file() and name in result.markdown


def test_demo_shared_parts_haxby_and_algonauts(tmp_path, shared):
    md, numbers = demo._haxby(tmp_path, shared, "cpu")
    assert 0.45 < numbers["haxby_max_r"] < 0.65 and "haxby_r.png" in md
    assert (tmp_path / "haxby_r.png").is_file()
    _, numbers = demo._algonauts(shared)
    assert abs(numbers["algonauts_mean_r"] - 0.474) < 0.002
