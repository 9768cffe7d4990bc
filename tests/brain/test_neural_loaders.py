"""V4 and 92-image loaders: real files (skipped without ../shared) and clear errors on bad folders."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from data_loaders.cowley_v4 import list_sessions, load_v4_session
from data_loaders.kriegeskorte92 import load_92images


def make_session(root, session="100", n_neurons=3, n_images=4, n_zip=None, raw=False, nan=False):
    from PIL import Image

    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "responses_repeat_averaged").mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    reps = rng.poisson(3.0, size=(n_neurons, n_images, 5)).astype(float)
    reps[:, 0, 3:] = np.nan
    avg = np.nanmean(reps, 2)
    if nan:
        avg[1, 2] = np.nan
    np.save(root / "responses_repeat_averaged" / f"responses_{session}.npy", avg)
    if raw:
        (root / "responses_raw").mkdir(exist_ok=True)
        np.save(root / "responses_raw" / f"responses_{session}.npy", reps)
    with zipfile.ZipFile(root / "images" / f"images_{session}.zip", "w") as archive:
        for i in reversed(range(n_zip if n_zip is not None else n_images)):  # stored out of order on purpose
            buf = io.BytesIO()
            Image.fromarray(np.full((8, 8, 3), (i * 10) % 250, np.uint8)).save(buf, format="JPEG", quality=100)
            archive.writestr(f"image{i + 1:04d}.jpg", buf.getvalue())
    return avg


def test_v4_session_layout(tmp_path):
    avg = make_session(tmp_path, raw=True)
    ds = load_v4_session("100", root=tmp_path)
    assert ds["responses"].dims == ("stimulus", "neuroid") and ds["responses"].shape == (4, 3)
    np.testing.assert_allclose(ds["responses"].values, avg.T)
    # images in numeric order whatever the zip order: image i+1 is column i
    assert [int(v) for v in ds["images"].values[:, 0, 0, 0]] == pytest.approx([0, 10, 20, 30], abs=2)
    assert ds["repeats"].dims == ("stimulus", "neuroid", "repeat") and ds.attrs["has_repeats"] == 1
    assert list_sessions(tmp_path) == ["100"]


def test_v4_errors(tmp_path):
    make_session(tmp_path, session="100", n_zip=5)
    with pytest.raises(FileNotFoundError, match=r"session '999'.*known sessions: \['100'\]"):
        load_v4_session("999", root=tmp_path)
    with pytest.raises(ValueError, match="session 100: images_100.zip holds 5 images but responses_100.npy has 4"):
        load_v4_session("100", root=tmp_path)
    make_session(tmp_path, session="101", nan=True)
    with pytest.raises(ValueError, match="NaN/Inf.*neuron 1, image 2.*session 101"):
        load_v4_session("101", root=tmp_path)


def test_v4_real_sessions(shared):
    root = shared / "data/neural/cowley2023_v4"
    assert len(list_sessions(root)) == 8
    ds = load_v4_session("190925", root=root)
    assert ds["images"].shape == (1200, 112, 112, 3) and ds["responses"].shape == (1200, 36)
    assert ds.attrs["has_repeats"] == 0


def test_92_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="Kriegeskorte_Neuron2008_supplementalData.mat does not exist"):
        load_92images(tmp_path)


def test_92_wrong_rdm_size(tmp_path, shared):
    import scipy.io

    src = shared / "data/fmri/kriegeskorte2008_92images"
    (tmp_path / "Kriegeskorte_Neuron2008_supplementalData.mat").symlink_to(
        src / "Kriegeskorte_Neuron2008_supplementalData.mat")
    scipy.io.savemat(tmp_path / "92_brainRDMs.mat",
                     {"RDMs": np.array([[{"RDM": np.zeros((91, 91)), "name": "hIT | XX | Session: 1"}]], dtype=object)})
    with pytest.raises(ValueError, match=r"92_brainRDMs.mat: RDM 'hIT \| XX \| Session: 1' has shape \(91, 91\)"):
        load_92images(tmp_path)
