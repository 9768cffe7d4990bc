"""Metrics with known answers, nilearn input/output, the dataset loaders and the feature cache."""

import nibabel as nib
import numpy as np
import pytest
import torch

from cogvision.brain.metrics import (
    check_responses,
    explainable_variance,
    noise_normalized_score,
    pearson_r,
    r2_per_target,
    roi_summary,
)
from cogvision.brain.nilearn_io import mask_responses, save_gifti, to_fsaverage, to_nifti, zscore_runs


def test_noise_normalized_score_known_values_and_units():
    r = np.array([0.5, -0.3, 0.9, 0.2, 0.1])
    nc = np.array([50.0, 40.0, 50.0, 8.0, 0.0])
    np.testing.assert_allclose(noise_normalized_score(r, nc, ceiling_unit="percent"), [50, 0, 100, 50, 100])
    np.testing.assert_allclose(noise_normalized_score(r, nc / 100, ceiling_unit="fraction"), [50, 0, 100, 50, 100])
    with pytest.raises(ValueError, match="looks like a fraction"):
        noise_normalized_score(r, nc / 100, ceiling_unit="percent")
    with pytest.raises(ValueError, match="fraction"):
        noise_normalized_score(r, nc, ceiling_unit="fraction")
    with pytest.raises(ValueError, match="ceiling_unit"):
        noise_normalized_score(r, nc, ceiling_unit="%")


def test_explainable_variance_recovers_known_signal_fraction():
    rng = np.random.default_rng(0)
    signal = rng.normal(size=(4000, 3))
    noise_sd = np.array([0.0, 1.0, 2.0])  # single-repeat signal fractions 1, 1/2, 1/5
    repeats = signal[None] + noise_sd * rng.normal(size=(4, 4000, 3))
    np.testing.assert_allclose(explainable_variance(repeats), [1.0, 0.5, 0.2], atol=0.03)


def test_pearson_and_r2_against_numpy_and_sklearn():
    from sklearn.metrics import r2_score

    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(50, 4)), rng.normal(size=(50, 4))
    np.testing.assert_allclose(pearson_r(a, b), [np.corrcoef(a[:, j], b[:, j])[0, 1] for j in range(4)])
    np.testing.assert_allclose(r2_per_target(a, b), r2_score(a, b, multioutput="raw_values"))
    assert pearson_r(a, np.ones_like(a))[0] == 0.0
    t = pearson_r(torch.tensor(a), torch.tensor(b))
    assert isinstance(t, torch.Tensor)


def test_roi_summary_and_response_checks():
    table = roi_summary(np.array([0.1, 0.3, 0.5, 0.7]), ["FFA", "V1", "FFA", "V1"])
    assert table["roi"].tolist() == ["FFA", "V1"]
    np.testing.assert_allclose(table["mean"], [0.3, 0.5])
    with pytest.raises(ValueError, match="one label per target"):
        roi_summary(np.zeros(3), ["a", "b"])
    y = np.random.default_rng(0).normal(size=(10, 5))
    y[:, 3] = np.nan
    with pytest.raises(ValueError, match=r"NaN or Inf in 1 targets \(first: \[3\]\)"):
        check_responses(y)
    with pytest.raises(ValueError, match="9 samples but the features have 10"):
        check_responses(np.ones((9, 2)), n_samples=10)


def _volume(shape=(7, 8, 9), n=6, seed=0):
    rng = np.random.default_rng(seed)
    affine = np.diag([2.0, 3.0, 4.0, 1.0])
    bold = nib.Nifti1Image(rng.normal(size=(*shape, n)).astype(np.float32), affine)
    mask = np.zeros(shape, dtype=np.uint8)
    mask[2:5, 1:4, 3:8] = 1
    return bold, nib.Nifti1Image(mask, affine)


def test_mask_responses_round_trip_and_errors(tmp_path):
    bold, mask = _volume()
    y, masker = mask_responses(bold, mask)
    assert y.shape == (6, 45)
    np.testing.assert_allclose(y[:, 0], bold.get_fdata()[2, 1, 3])
    img = to_nifti(np.arange(45.0), masker)
    assert img.shape == (7, 8, 9) and img.get_fdata()[mask.get_fdata() > 0].tolist() == list(range(45))
    with pytest.raises(ValueError, match=r"mask has shape \(7, 9, 8\) but the BOLD volumes are \(7, 8, 9\)"):
        mask_responses(bold, nib.Nifti1Image(np.ones((7, 9, 8), np.uint8), bold.affine))
    with pytest.raises(ValueError, match="affine"):
        mask_responses(bold, nib.Nifti1Image(mask.get_fdata().astype(np.uint8), np.eye(4)))
    with pytest.raises(FileNotFoundError, match="nothere.nii.gz"):
        mask_responses(tmp_path / "nothere.nii.gz", mask)
    with pytest.raises(ValueError, match="mask holds 45 voxels"):
        to_nifti(np.zeros(44), masker)
    z = zscore_runs(y, np.repeat([0, 1], 3))
    np.testing.assert_allclose(z[:3].mean(0), 0, atol=1e-6)


def test_surface_arrays_and_gifti(tmp_path):
    full = to_fsaverage(np.array([1.0, 2.0]), np.array([5, 2]), n_vertices=8)
    assert np.isnan(full[0]) and full[5] == 1.0 and full[2] == 2.0
    with pytest.raises(ValueError, match="fsaverage_index must lie"):
        to_fsaverage(np.array([1.0]), np.array([9]), n_vertices=8)
    path = save_gifti(np.arange(10.0), tmp_path / "r.func.gii")
    assert np.allclose(nib.load(path).darrays[0].data, np.arange(10))


def test_algonauts_folder_layout(tmp_path):
    from data_loaders.algonauts import load_algonauts_subject

    masks = tmp_path / "subj01" / "roi_masks"
    masks.mkdir(parents=True)
    for hemi, n in (("lh", 5), ("rh", 4)):
        space = np.zeros(20, dtype=int)
        space[np.arange(n) * 3] = 1
        np.save(masks / f"{hemi}.all-vertices_fsaverage_space.npy", space)
        np.save(masks / f"{hemi}.prf-visualrois_challenge_space.npy", np.r_[1, 7, np.zeros(n - 2, int)])
        np.save(masks / f"{hemi}.floc-faces_challenge_space.npy", np.r_[0, 0, 2, np.zeros(n - 3, int)])
    fmri = tmp_path / "subj01" / "training_split" / "training_fmri"
    fmri.mkdir(parents=True)
    np.save(fmri / "lh_training_fmri.npy", np.zeros((3, 5)))
    np.save(fmri / "rh_training_fmri.npy", np.zeros((3, 4)))
    subject = load_algonauts_subject(tmp_path / "subj01")
    assert subject.responses.shape == (3, 9)
    t = subject.targets
    assert t["roi"].tolist()[:4] == ["V1v", "hV4", "FFA-1", "unknown"]
    assert t["fsaverage_index"].tolist()[:5] == [0, 3, 6, 9, 12] and t["hemisphere"].tolist()[5] == "rh"
    np.save(masks / "lh.floc-faces_challenge_space.npy", np.full(5, 9))
    with pytest.raises(ValueError, match="ROI codes up to 9"):
        load_algonauts_subject(tmp_path / "subj01")
    with pytest.raises(FileNotFoundError, match="all-vertices"):
        load_algonauts_subject(tmp_path)


def test_shared_algonauts_maps_score(shared):
    from data_loaders.algonauts import load_noise_ceiling, load_reference_correlation

    nc, r = load_noise_ceiling(1), load_reference_correlation()
    assert nc["lh"].shape == r["lh"].shape == (19004,) and nc["rh"].shape == (20544,)
    r_all = np.concatenate([r["lh"], r["rh"]])
    score = noise_normalized_score(r_all, np.concatenate([nc["lh"], nc["rh"]]), ceiling_unit="percent")
    assert abs(r_all.mean() - 0.474) < 0.002  # the released validation mean r of this run
    assert 55 < score.mean() < 70  # the team's challenge score was 63.5 (test set)


def test_haxby_ridge_loro_reaches_known_range(shared):
    from cogvision.brain import RidgeCV, make_splits
    from data_loaders.haxby import category_design, load_haxby

    haxby = load_haxby()
    runs = haxby.attributes["run"].to_numpy()
    y, _ = mask_responses(haxby.bold, haxby.mask, standardize_runs=runs)
    x = category_design(haxby.attributes).to_numpy()
    assert y.shape == (1452, 530) and x.shape == (1452, 8)
    pred = np.zeros_like(y)
    for train, test in make_splits(len(y), "logo", runs):
        model = RidgeCV(alphas=np.logspace(-2, 5, 8), cv="logo", device="cpu")
        model.fit(x[train], y[train], groups=runs[train])
        pred[test] = model.predict(x[test])
    r = pearson_r(y, pred)
    assert 0.45 < r.max() < 0.65  # the research note: best voxels reach about 0.4-0.56


def test_feature_cache_reuses_and_records(tmp_path, monkeypatch):
    from cogvision.brain import features

    images = torch.rand(3, 3, 32, 32)
    spec = "cogvision.models.builtin:tiny_cnn"
    a = features.cached_features(spec, images, "features.1", tmp_path, device="cpu")
    assert a.dims == ("stimulus", "channel", "y", "x") and a.attrs["layer"] == "features.1"
    monkeypatch.setattr(features, "load_model", lambda *a, **k: pytest.fail("cache was not used"))
    b = features.cached_features(spec, images, "features.1", tmp_path, device="cpu")
    np.testing.assert_array_equal(a.values, b.values)
    assert len(list(tmp_path.glob("features_*.nc"))) == 1


def test_vit_tokens_become_a_grid(tmp_path):
    from cogvision.brain.features import cached_features

    images = torch.rand(2, 3, 64, 64)
    da = cached_features("cogvision.models.builtin:tiny_vit", images, "blocks.1", None, device="cpu")
    assert da.shape == (2, 64, 8, 8)  # 64 px / 8 px patches, CLS dropped, 64 channels
