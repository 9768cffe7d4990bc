"""The 92 object images of Kriegeskorte et al. (2008) with human and monkey IT RDMs, read in place.

Folder layout (``<shared>/data/fmri/kriegeskorte2008_92images/``, the rsatoolbox demo files):

- ``Kriegeskorte_Neuron2008_supplementalData.mat``: ``stimuli_92objs`` (92 structs with a 175 x 175 x 3
  ``image``), ``categoryVectors`` (92, 12), ``categoryLabels`` (12,), ``RDMs_mIT_hIT_fig1`` (monkey IT,
  674 cells, and the human-IT group RDM of figure 1, each as 4,186 upper-triangle values);
- ``92_brainRDMs.mat``: ``RDMs`` (4 subjects x 2 sessions) of human IT, each (92, 92).

:func:`load_92images` returns an ``xarray.Dataset``; RDMs are (…, stimulus, stimulus2).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io
import xarray as xr
from scipy.spatial.distance import squareform

from data_loaders.shared import shared_path

SUBDIR = ("data", "fmri", "kriegeskorte2008_92images")
SUPPLEMENT = "Kriegeskorte_Neuron2008_supplementalData.mat"
BRAIN = "92_brainRDMs.mat"
N_STIMULI = 92


def default_root() -> Path:
    """The shared 92-image folder (``FileNotFoundError`` naming it when absent)."""
    return shared_path(*SUBDIR)


def _loadmat(path: Path) -> dict:

    if not path.is_file():
        raise FileNotFoundError(f"92-image file {path} does not exist (expected the Kriegeskorte 2008 layout)")
    return scipy.io.loadmat(path, squeeze_me=True, struct_as_record=False)


def _square(values, path: Path, name: str) -> np.ndarray:
    """A (92, 92) symmetric RDM from a square array or the 4,186 upper-triangle values."""
    values = np.asarray(values, dtype=np.float64)
    n_upper = N_STIMULI * (N_STIMULI - 1) // 2
    if values.shape == (N_STIMULI, N_STIMULI):
        square = values
    elif values.shape == (n_upper,) or values.shape == (1, n_upper):

        square = squareform(values.ravel(), checks=False)
    else:
        raise ValueError(f"{path}: RDM {name!r} has shape {values.shape}; expected (92, 92) or ({n_upper},)")
    if not np.isfinite(square).all():
        raise ValueError(f"{path}: RDM {name!r} holds NaN or Inf")
    return square


def load_92images(root: str | Path | None = None) -> xr.Dataset:
    """Images, category vectors and IT RDMs of the 92-image set.

    Parameters
    ----------
    root
        Folder with the ``.mat`` files (default: the shared one).

    Returns
    -------
    xarray.Dataset
        ``images`` (stimulus, y, x, channel) uint8; ``categories`` (stimulus, category) bool with the 12
        category labels; ``human_it`` (subject, session, stimulus, stimulus2) from ``92_brainRDMs.mat``;
        ``monkey_it`` (stimulus, stimulus2) (674 cells); ``human_it_group`` (stimulus, stimulus2)
        (figure 1, 316 voxels); coordinate ``category_name`` per stimulus.

    Raises
    ------
    FileNotFoundError
        A missing file.
    ValueError
        A missing field, an RDM of the wrong size, NaN in an RDM.
    """
    root = Path(root) if root is not None else default_root()
    supp_path, brain_path = root / SUPPLEMENT, root / BRAIN
    supp = _loadmat(supp_path)
    for key in ("stimuli_92objs", "categoryVectors", "categoryLabels", "RDMs_mIT_hIT_fig1"):
        if key not in supp:
            raise ValueError(f"{supp_path} has no field {key!r}")
    stimuli = np.atleast_1d(supp["stimuli_92objs"])
    if len(stimuli) != N_STIMULI:
        raise ValueError(f"{supp_path}: stimuli_92objs has {len(stimuli)} entries; expected {N_STIMULI}")
    images = np.stack([np.asarray(s.image, dtype=np.uint8) for s in stimuli])
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"{supp_path}: stimuli_92objs images stack to {images.shape}; expected (92, H, W, 3)")
    vectors = np.asarray(supp["categoryVectors"])
    labels = [str(x) for x in np.atleast_1d(supp["categoryLabels"])]
    if vectors.shape != (N_STIMULI, len(labels)):
        raise ValueError(f"{supp_path}: categoryVectors has shape {vectors.shape}; expected (92, {len(labels)})")
    fig1 = {str(r.name): _square(r.RDM, supp_path, str(r.name)) for r in np.atleast_1d(supp["RDMs_mIT_hIT_fig1"])}
    monkey = [k for k in fig1 if k.startswith("mIT")]
    human_group = [k for k in fig1 if k.startswith("hIT")]
    if not monkey or not human_group:
        raise ValueError(
            f"{supp_path}: RDMs_mIT_hIT_fig1 should hold an 'mIT...' and an 'hIT...' RDM, got {list(fig1)}"
        )

    brain = _loadmat(brain_path)
    if "RDMs" not in brain:
        raise ValueError(f"{brain_path} has no field 'RDMs'")
    structs = np.asarray(brain["RDMs"], dtype=object)
    if structs.ndim < 2:  # squeeze_me drops axes of length 1
        structs = structs.reshape(-1, 1)
    if structs.ndim != 2:
        raise ValueError(f"{brain_path}: RDMs has shape {structs.shape}; expected (subjects, sessions)")
    human = np.stack([[_square(structs[i, j].RDM, brain_path, str(structs[i, j].name))
                       for j in range(structs.shape[1])] for i in range(structs.shape[0])])
    subjects = [str(structs[i, 0].name).split("|")[1].strip() for i in range(structs.shape[0])]

    stim = np.arange(N_STIMULI)
    return xr.Dataset(
        {"images": (("stimulus", "y", "x", "channel"), images),
         "categories": (("stimulus", "category"), vectors.astype(bool)),
         "human_it": (("subject", "session", "stimulus", "stimulus2"), human),
         "monkey_it": (("stimulus", "stimulus2"), fig1[monkey[0]]),
         "human_it_group": (("stimulus", "stimulus2"), fig1[human_group[0]])},
        coords={"stimulus": stim, "stimulus2": stim, "category": labels, "subject": subjects,
                "session": np.arange(1, structs.shape[1] + 1),
                "category_name": ("stimulus", [str(s.category) for s in stimuli])},
        attrs={"source": str(root), "monkey_it_name": monkey[0], "human_it_group_name": human_group[0]},
    )


def reference_rdms(ds: xr.Dataset) -> dict[str, np.ndarray]:
    """Reference RDM stacks for RSA: ``human_it`` (4 subjects, sessions averaged) and ``monkey_it`` (one).

    Returns
    -------
    dict of str to ndarray of shape (n_subjects, 92, 92)
    """
    return {"human_it": ds["human_it"].mean("session").values, "monkey_it": ds["monkey_it"].values[None]}
