"""OAT presets (YAML package data read into OATParams) and the numbered scanpath figure."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pytest
from matplotlib.figure import Figure

from cogvision.scanpath import OAT
from cogvision.scanpath.containers import prediction_frame
from cogvision.scanpath.presets import OATParams, Preset, preset_path, read_preset
from cogvision.viz.scanpath import plot_scanpaths
from data_loaders.synthetic_scanpaths import make_synthetic_scanpaths

#: What `cogvision scanpath train|evaluate` used before the presets moved into files (the CLI's small OAT).
OLD_CLI_SMALL = dict(d_model=128, n_layers=2, ffn=256, epochs=50, warmup_epochs=15, patience=10, lr=5e-4,
                     batch_size=20, pe_iterations=10_000)


def test_every_preset_is_shipped_and_valid():
    configs = Path(preset_path("paper")).parent
    assert {p.stem for p in configs.glob("*.yaml")} == {p.value for p in Preset}
    for preset in Preset:
        assert isinstance(read_preset(preset), OATParams)


def test_paper_preset_is_the_library_default():
    params = read_preset("paper").oat_kwargs()
    defaults = OAT().get_params()
    assert params == {k: defaults[k] for k in params}
    assert set(defaults) - set(params) == {"device", "seed", "progress"}
    assert OATParams().oat_kwargs() == params


def test_small_preset_is_what_the_command_line_used():
    params = read_preset(Preset.small).oat_kwargs()
    assert {k: params[k] for k in OLD_CLI_SMALL} == OLD_CLI_SMALL
    assert read_preset("small").updated("flags", d_model=64, epochs=None).oat_kwargs()["ffn"] == 128
    interiors = read_preset("interiors").oat_kwargs()
    assert (interiors["appearance"], interiors["early_stopping"], interiors["scenes_per_batch"],
            interiors["relative_bias"], interiors["warmup_epochs"]) == ("features", "nll", 2, True, 0)


@pytest.mark.parametrize("text, message", [
    ("d_model: 16\nalpahs: [1]\n", "alpahs: unknown key"),
    ("d_model: wide\n", "d_model: "),
    ("epochs: 0\n", "epochs: "),
    ("appearance: colour\n", "appearance: "),
    ("- 1\n- 2\n", "expected a mapping"),
])
def test_bad_preset_files_are_one_error_naming_file_and_key(tmp_path, text, message):
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as err:
        read_preset(path)
    assert "mine.yaml" in str(err.value)


def test_unknown_preset_name_lists_the_choices():
    with pytest.raises(ValueError, match="small, interiors, paper"):
        read_preset("huge")


def test_scanpath_figure_numbers_every_fixation_and_separates_refixations():
    backend = matplotlib.get_backend()
    data = make_synthetic_scanpaths(n_scenes=2, n_subjects=2, with_images=True, seed=1)
    trial = data.trials[0]
    scene = data.scenes[trial]
    path = np.array([3, 4, 4, 9, 4, scene.target])  # a refixation (4, 4) and a return to 4
    fig = plot_scanpaths(data, trial, prediction_frame([scene], [path], 1), max_humans=1)
    assert isinstance(fig, Figure) and matplotlib.get_backend() == backend
    model_panel = fig.axes[1]
    labels = {t.get_text(): t.get_position() for t in model_panel.texts}
    assert sorted(labels, key=int) == [str(k) for k in range(1, len(path) + 1)]
    visits = np.array([labels[str(k)] for k in (2, 3, 5)])  # three fixations on object 4
    assert min(np.hypot(*(a - b)) for i, a in enumerate(visits) for b in visits[i + 1:]) > 5
    assert len(model_panel.images) == 1  # drawn over the stimulus
    humans = fig.axes[0].texts
    first = data.fixations.query("trial == @trial").groupby("subject").size().iloc[0]
    assert len(humans) == first
