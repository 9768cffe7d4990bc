"""The Emergent-Properties suite at a toy size."""

from __future__ import annotations

import matplotlib.image
import numpy as np
import pytest
import torch

from cogvision.foveation import emergent
from data_loaders.images import load_image_folder, wheel_dataset


def test_perturbations():
    images = torch.rand(2, 3, 32, 32)
    scotoma = emergent.occlude(images, 0.25, "scotoma")
    assert torch.isclose((scotoma == 0.5).all(1).float().mean(), torch.tensor(0.25), atol=0.02)
    assert torch.equal(scotoma[..., 0, 0], images[..., 0, 0])
    glaucoma = emergent.occlude(images, 0.75, "glaucoma")
    assert (glaucoma[..., 0, 0] == 0.5).all() and torch.equal(glaucoma[..., 16, 16], images[..., 16, 16])
    low, high = emergent.frequency_filter(images, 2.0, "low"), emergent.frequency_filter(images, 2.0, "high")
    assert low.std() < images.std() and abs(float(high.mean()) - 0.5) < 0.05
    with pytest.raises(ValueError, match="mode"):
        emergent.occlude(images, 0.5, "sideways")


def test_image_folder_loading(tmp_path):
    for name in ("cat", "dog"):
        (tmp_path / name).mkdir()
        for i in range(2):
            matplotlib.image.imsave(tmp_path / name / f"{i}.png", np.random.default_rng(i).random((20, 30, 3)))
    data = load_image_folder(tmp_path, size=32)
    assert data.tensors[0].shape == (4, 3, 32, 32) and data.classes == ["cat", "dog"]
    with pytest.raises(FileNotFoundError):
        load_image_folder(tmp_path / "missing")


@pytest.mark.slow
def test_suite_runs_end_to_end_with_paired_initialisation():
    train = wheel_dataset(n_per_class=2, size=64, seed=0)
    test = wheel_dataset(n_per_class=1, size=64, seed=1)
    systems = {name: emergent.make_system(name) for name in ("reference", "texture")}
    result = emergent.run_suite(train, test, systems=systems, arch="alexnet", runs=1, epochs=1, batch_size=16,
                                device="cpu", fractions=(0.0, 0.5), sigmas_px=(0, 4), radii=(0.5,))
    assert result["accuracy"].dims == ("system", "run")
    assert result["occlusion"].sizes == {"system": 2, "run": 1, "occluder": 2, "fraction": 2}
    assert result["generalisation"].sizes == {"system": 2, "run": 1, "tested_on": 2}
    # the unoccluded point of the occlusion curve is the plain accuracy
    assert np.allclose(result["occlusion"].sel(occluder="scotoma", fraction=0.0), result["accuracy"])
    share = result["cue_conflict"].sum("cue")
    assert (share <= 1 + 1e-6).all()
    # paired initialisation: building the network under the same seed gives the same weights
    torch.manual_seed(1000)
    a = emergent.build_network("alexnet", 8).state_dict()
    torch.manual_seed(1000)
    b = emergent.build_network("alexnet", 8).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
