"""Algonauts 2023 (NSD) challenge data: the per-subject folder layout, ROI labels and the shared maps.

A subject folder ``subjXX/`` of the challenge holds::

    training_split/training_fmri/{lh,rh}_training_fmri.npy   (n_train, n_vertices) per hemisphere
    training_split/training_images/*.png
    test_split/test_images/*.png
    roi_masks/{lh,rh}.all-vertices_fsaverage_space.npy          (163842,) 0/1: challenge vertices
    roi_masks/{lh,rh}.<family>_challenge_space.npy              (n_vertices,) integer ROI codes

with ROI families ``prf-visualrois``, ``floc-bodies``, ``floc-faces``, ``floc-places``,
``floc-words`` and ``streams``. Integer codes are named with the challenge's published tables
(:data:`ROI_NAMES`); the ``mapping_*.npy`` files are pickled dicts and are not read, so no pickle is
ever loaded.

The shared folder holds real per-vertex noise ceilings (percent, challenge order) for 8 subjects,
the RSC masks on fsaverage and a real per-vertex validation-r map of the transformer encoder for
subject 1 (:func:`load_noise_ceiling`, :func:`load_reference_correlation`, :func:`load_rsc_mask`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from data_loaders.shared import shared_path

HEMISPHERES = ("lh", "rh")
ROI_NAMES = {
    "prf-visualrois": ("V1v", "V1d", "V2v", "V2d", "V3v", "V3d", "hV4"),
    "floc-bodies": ("EBA", "FBA-1", "FBA-2", "mTL-bodies"),
    "floc-faces": ("OFA", "FFA-1", "FFA-2", "mTL-faces", "aTL-faces"),
    "floc-places": ("OPA", "PPA", "RSC"),
    "floc-words": ("OWFA", "VWFA-1", "VWFA-2", "mfs-words", "mTL-words"),
    "streams": ("early", "midventral", "midlateral", "midparietal", "ventral", "lateral", "parietal"),
}
ROI_FAMILIES = tuple(f for f in ROI_NAMES if f != "streams")
SHARED = ("data", "fmri", "algonauts2023")


@dataclass
class AlgonautsSubject:
    """One subject's challenge data.

    Attributes
    ----------
    train_images, test_images : list of pathlib.Path
        Sorted image files.
    responses : ndarray of shape (n_train, n_lh + n_rh) or None
        Training fMRI, left then right hemisphere (None when the files are absent).
    targets : pandas.DataFrame
        One row per vertex: ``hemisphere``, ``challenge_index`` (within its hemisphere),
        ``fsaverage_index``, one column per ROI family (name or ``""``), ``roi`` (the first family
        label found, else ``"unknown"``) and ``stream``.
    """

    train_images: list[Path]
    test_images: list[Path]
    responses: np.ndarray | None
    targets: pd.DataFrame


def _names(codes: np.ndarray, family: str, path: Path) -> np.ndarray:
    names = np.array(("",) + ROI_NAMES[family], dtype=object)
    codes = np.asarray(codes).astype(int)
    if codes.min() < 0 or codes.max() >= len(names):
        raise ValueError(f"{path} has ROI codes up to {codes.max()}; {family} knows 0..{len(names) - 1}")
    return names[codes]


def load_algonauts_subject(root: str | Path) -> AlgonautsSubject:
    """Read a challenge subject folder (``.../subj01``).

    Raises
    ------
    FileNotFoundError
        When ``roi_masks/?h.all-vertices_fsaverage_space.npy`` is missing.
    ValueError
        When an ROI file or the fMRI has a vertex count that differs from the challenge-space mask.
    """
    root = Path(root)
    frames, fmri = [], []
    for hemi in HEMISPHERES:
        space = root / "roi_masks" / f"{hemi}.all-vertices_fsaverage_space.npy"
        if not space.is_file():
            raise FileNotFoundError(f"Algonauts file {space} does not exist (is {root} a challenge subject folder?)")
        fsaverage_index = np.flatnonzero(np.load(space))
        n = len(fsaverage_index)
        frame = pd.DataFrame({"hemisphere": hemi, "challenge_index": np.arange(n), "fsaverage_index": fsaverage_index})
        for family in ROI_NAMES:
            path = root / "roi_masks" / f"{hemi}.{family}_challenge_space.npy"
            if path.is_file():
                codes = np.load(path)
                if codes.shape != (n,):
                    raise ValueError(f"{path} has shape {codes.shape}; expected ({n},), one code per challenge vertex")
                frame[family] = _names(codes, family, path)
            else:
                frame[family] = ""
        frames.append(frame)
        path = root / "training_split" / "training_fmri" / f"{hemi}_training_fmri.npy"
        if path.is_file():
            data = np.load(path)
            if data.ndim != 2 or data.shape[1] != n:
                raise ValueError(f"{path} has shape {data.shape}; expected (n_images, {n})")
            fmri.append(data)
    targets = pd.concat(frames, ignore_index=True)
    labels = targets[list(ROI_FAMILIES)].to_numpy()
    first = np.argmax(labels != "", axis=1)
    roi = labels[np.arange(len(labels)), first]
    targets["roi"] = np.where(roi == "", "unknown", roi)
    targets["stream"] = targets["streams"].replace("", "unknown")
    responses = np.concatenate(fmri, 1) if len(fmri) == 2 else None
    if responses is not None and fmri[0].shape[0] != fmri[1].shape[0]:
        raise ValueError("left and right training fMRI have different numbers of images")
    images = {split: sorted((root / split / kind).glob("*.png")) for split, kind in
              (("training_split", "training_images"), ("test_split", "test_images"))}
    if responses is not None and len(images["training_split"]) not in (0, len(responses)):
        raise ValueError(f"{len(images['training_split'])} training images but {len(responses)} fMRI rows")
    return AlgonautsSubject(images["training_split"], images["test_split"], responses, targets)


def _subject(subject: int | str) -> str:
    return f"subj{int(str(subject).removeprefix('subj')):02d}"


def load_noise_ceiling(subject: int | str = 1, root: str | Path | None = None) -> dict[str, np.ndarray]:
    """Per-vertex NSD noise ceilings in **percent**, challenge order: ``{"lh": ..., "rh": ...}``."""
    base = Path(root) if root is not None else shared_path(*SHARED, "algonauts2023_noise_ceiling")
    out = {}
    for hemi in HEMISPHERES:
        path = base / _subject(subject) / f"{hemi}.npy"
        if not path.is_file():
            raise FileNotFoundError(f"noise ceiling file {path} does not exist")
        out[hemi] = np.load(path).astype(np.float64)
    return out


def load_reference_correlation(root: str | Path | None = None) -> dict[str, np.ndarray]:
    """The transformer encoder's real per-vertex validation r of subject 1 (challenge order)."""
    base = Path(root) if root is not None else shared_path(*SHARED, "algonauts2023_transformer_val_corr_subj01")
    out = {}
    for hemi in HEMISPHERES:
        path = base / f"{hemi}_roi_correlation.npy"
        if not path.is_file():
            raise FileNotFoundError(f"correlation map {path} does not exist")
        out[hemi] = np.load(path).astype(np.float64)
    return out


def load_rsc_mask(hemi: str = "lh", root: str | Path | None = None) -> np.ndarray:
    """Kendrick Kay's RSC mask on fsaverage (163,842 vertices, bool)."""
    if hemi not in HEMISPHERES:
        raise ValueError(f"hemi must be 'lh' or 'rh', got {hemi!r}")
    base = Path(root) if root is not None else shared_path(*SHARED, "algonauts2023_fsaverage_rsc_mask")
    path = base / f"{hemi}.nsdgeneralRSC.mgz"
    if not path.is_file():
        raise FileNotFoundError(f"RSC mask {path} does not exist")
    return np.asarray(nib.load(str(path)).dataobj).ravel() > 0
