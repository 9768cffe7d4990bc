"""nilearn at the boundary: responses from NIfTI + mask or from surface arrays; scores and maps back
to NIfTI images and GIFTI-compatible per-vertex arrays.

Volumes go through ``nilearn.maskers.NiftiMasker`` (a scikit-learn transformer); surfaces are plain
per-vertex arrays in challenge order (Algonauts) or fsaverage order, with the index array that maps
one onto the other.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import nibabel as nib
import numpy as np
from nilearn.maskers import NiftiMasker

from cogvision.io import atomic_write

FSAVERAGE7_VERTICES = 163_842


def _load_img(img, what: str):
    if isinstance(img, (str, os.PathLike)):
        if not Path(img).is_file():
            raise FileNotFoundError(f"{what} {img} does not exist")
        return nib.load(str(img))
    return img


def mask_responses(bold, mask, *, standardize_runs=None) -> tuple[np.ndarray, NiftiMasker]:
    """Responses (n_volumes, n_voxels) of the voxels inside ``mask``.

    Parameters
    ----------
    bold : str, Path or nibabel image
        4-D BOLD series.
    mask : str, Path or nibabel image
        3-D mask with the same voxel grid (shape and affine) as ``bold``.
    standardize_runs : array-like of shape (n_volumes,), optional
        Run of each volume: z-score every voxel within each run (the voxelwise-modelling convention).

    Returns
    -------
    responses : ndarray of shape (n_volumes, n_voxels)
    masker : nilearn.maskers.NiftiMasker
        Fitted; use it with :func:`to_nifti` to write maps back.

    Raises
    ------
    ValueError
        When the mask's shape or affine differs from the image's, the mask is empty, or the runs do
        not match the number of volumes.
    """
    bold_img, mask_img = _load_img(bold, "BOLD image"), _load_img(mask, "mask image")
    if len(bold_img.shape) != 4:
        raise ValueError(f"BOLD image has shape {bold_img.shape}; expected 4-D (x, y, z, volumes)")
    if tuple(mask_img.shape[:3]) != tuple(bold_img.shape[:3]) or len(mask_img.shape) != 3:
        raise ValueError(f"mask has shape {mask_img.shape} but the BOLD volumes are {bold_img.shape[:3]}; "
                         "they must share one voxel grid (resample the mask first)")
    if not np.allclose(mask_img.affine, bold_img.affine, atol=1e-3):
        raise ValueError(f"mask affine\n{mask_img.affine}\ndiffers from the BOLD affine\n{bold_img.affine}")
    if not np.asarray(mask_img.dataobj).astype(bool).any():
        raise ValueError("mask image selects no voxel")
    masker = NiftiMasker(mask_img=mask_img, standardize=None).fit()
    responses = masker.transform(bold_img)
    if standardize_runs is not None:
        responses = zscore_runs(responses, standardize_runs)
    return responses, masker


def zscore_runs(responses: np.ndarray, runs) -> np.ndarray:
    """Z-score each column of ``responses`` within each run (constant columns stay 0)."""
    runs = np.asarray(runs)
    if runs.shape != (responses.shape[0],):
        raise ValueError(f"runs has shape {runs.shape}; expected ({responses.shape[0]},), one run per volume")
    out = np.empty_like(responses, dtype=np.float64)
    for run in np.unique(runs):
        part = responses[runs == run]
        std = part.std(0)
        out[runs == run] = (part - part.mean(0)) / np.where(std > 0, std, 1)
    return out


def to_nifti(values: np.ndarray, masker):
    """Per-voxel values (n_voxels,) or maps (n_maps, n_voxels) back to a NIfTI image through ``masker``."""
    values = np.asarray(values, dtype=np.float32)
    n_voxels = int(np.asarray(masker.mask_img_.dataobj).astype(bool).sum())
    if values.shape[-1] != n_voxels:
        raise ValueError(f"values have {values.shape[-1]} entries per map but the mask holds {n_voxels} voxels")
    return masker.inverse_transform(values)


def save_nifti(img, path: str | os.PathLike) -> Path:
    """Write a NIfTI image atomically (temporary file, then rename); ``.nii.gz`` is gzip-compressed."""
    path = Path(path)
    data = img.to_bytes()
    return atomic_write(path, gzip.compress(data, mtime=0) if path.name.endswith(".gz") else data)


def to_fsaverage(values: np.ndarray, fsaverage_index: np.ndarray, n_vertices: int = FSAVERAGE7_VERTICES,
                 fill: float = np.nan) -> np.ndarray:
    """Challenge-space values (n_challenge,) placed on the full fsaverage surface (n_vertices,).

    Parameters
    ----------
    values : ndarray of shape (n_challenge,)
    fsaverage_index : ndarray of shape (n_challenge,)
        fsaverage vertex of each challenge-space vertex (``np.flatnonzero`` of the Algonauts
        ``?h.all-vertices_fsaverage_space.npy`` mask).
    n_vertices : int
        Vertices per hemisphere of the target surface (163,842 for fsaverage7).
    fill : float
        Value of the vertices outside the challenge space.
    """
    values = np.asarray(values, dtype=np.float64)
    index = np.asarray(fsaverage_index)
    if values.shape != index.shape:
        raise ValueError(
            f"values have shape {values.shape} but fsaverage_index has {index.shape}; expected one index per value"
        )
    if index.size and (index.min() < 0 or index.max() >= n_vertices):
        raise ValueError(f"fsaverage_index must lie in [0, {n_vertices}), got [{index.min()}, {index.max()}]")
    full = np.full(n_vertices, fill, dtype=np.float64)
    full[index] = values
    return full


def save_gifti(values: np.ndarray, path: str | os.PathLike) -> Path:
    """Write a per-vertex array (n_vertices,) as a GIFTI functional file (``.func.gii``), atomically."""
    data = np.asarray(values, dtype=np.float32)
    if data.ndim != 1:
        raise ValueError(f"values have shape {data.shape}; expected one value per vertex (1-D)")
    image = nib.gifti.GiftiImage(darrays=[nib.gifti.GiftiDataArray(data, intent="NIFTI_INTENT_ESTIMATE")])
    return atomic_write(Path(path), image.to_xml())


def load_surface_responses(left, right) -> tuple[np.ndarray, np.ndarray]:
    """Left and right per-vertex responses (n_stimuli, n_lh) and (n_stimuli, n_rh), from arrays or ``.npy`` files.

    Returns
    -------
    responses : ndarray of shape (n_stimuli, n_lh + n_rh)
    hemisphere : ndarray of shape (n_lh + n_rh,)
        ``"lh"`` or ``"rh"`` per column.
    """
    arrays = []
    for side, item in (("left", left), ("right", right)):
        if isinstance(item, (str, os.PathLike)):
            if not Path(item).is_file():
                raise FileNotFoundError(f"{side} hemisphere responses {item} do not exist")
            item = np.load(item)
        item = np.asarray(item)
        if item.ndim != 2:
            raise ValueError(f"{side} hemisphere responses have shape {item.shape}; expected (n_stimuli, n_vertices)")
        arrays.append(item)
    if arrays[0].shape[0] != arrays[1].shape[0]:
        raise ValueError(f"left has {arrays[0].shape[0]} stimuli but right has {arrays[1].shape[0]}")
    hemisphere = np.array(["lh"] * arrays[0].shape[1] + ["rh"] * arrays[1].shape[1])
    return np.concatenate(arrays, 1), hemisphere
