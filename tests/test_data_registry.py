"""data_loaders.load(name, ...) dispatches to each dataset's own loader; bad names and arguments are clear errors."""

import pathlib

import numpy as np
import pytest

import data_loaders
from data_loaders.synthetic_gaze import make_gaze_scenes
from data_loaders.synthetic_scanpaths import make_synthetic_scanpaths

# modules that are readers shared by several datasets, not datasets themselves
GENERIC = {"__init__", "registry", "shared", "fixation_table", "images"}


def test_every_dataset_module_is_registered():
    folder = pathlib.Path(data_loaders.__file__).parent
    modules = {p.stem for p in folder.glob("*.py")} - GENERIC
    registered = {loader.__module__.rsplit(".", 1)[-1] for loader in data_loaders.DATASETS.values()}
    assert modules <= registered, f"dataset modules without a registry entry: {sorted(modules - registered)}"
    assert data_loaders.available() == sorted(data_loaders.DATASETS)
    assert data_loaders.describe("osie").startswith("data_loaders.osie.load_osie: OSIE as a")


def test_load_equals_the_loader_called_directly():
    via_registry = data_loaders.load("synthetic_scanpaths", n_scenes=3, n_subjects=2, seed=4)
    direct = make_synthetic_scanpaths(n_scenes=3, n_subjects=2, seed=4)
    assert via_registry.fixations.equals(direct.fixations) and list(via_registry.scenes) == list(direct.scenes)
    scenes = data_loaders.load("synthetic_gaze", 2, image_size=32, seed=3)  # positional arguments pass on too
    np.testing.assert_array_equal(scenes.images.numpy(), make_gaze_scenes(2, image_size=32, seed=3).images.numpy())


@pytest.mark.parametrize("name, message", [
    ("osei", r"unknown dataset 'osei' \(did you mean 'osie'\?\); choices: algonauts, amazon_covers, "),
    ("nsd", ("unknown dataset 'nsd'; choices: .*synthetic_brain, synthetic_gaze, synthetic_scanpaths, "
             "videoattentiontarget$")),
])
def test_unknown_names_list_the_choices(name, message):
    with pytest.raises(ValueError, match=message):
        data_loaders.load(name)


def test_arguments_a_loader_does_not_take_are_refused_before_reading(tmp_path):
    with pytest.raises(ValueError, match=r"dataset 'osie' \(data_loaders.osie.load_osie\) cannot take these "
                                         r"arguments .*'grid_size'.*; its parameters: path, n_images, grid"):
        data_loaders.load("osie", path=tmp_path / "missing.mat", grid_size=(2, 2))
    with pytest.raises(ValueError, match="cannot take these arguments"):
        data_loaders.load("algonauts")  # root is required
    with pytest.raises(FileNotFoundError, match="missing"):  # good arguments reach the loader and its own errors
        data_loaders.load("osie", path=tmp_path / "missing.mat")


def test_a_real_dataset_by_name(shared):
    rdms = data_loaders.load("kriegeskorte92")
    assert rdms.sizes["stimulus"] == 92
