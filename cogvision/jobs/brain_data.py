"""The data of a ``fit-encoder`` config: files checked and read, data sets loaded, features computed.

Two steps, so that every mistake in the inputs is found before an output folder is claimed:
:func:`load_inputs` reads everything but the network features (responses, ROI labels, groups, feature files,
images, or a whole data set) and checks that the counts agree; :func:`band_features` then computes the
network features (cached) once the folder exists.
"""

from __future__ import annotations

import glob
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import xarray as xr

from cogvision.brain.features import as_matrix, cached_features
from cogvision.brain.fitting import FitData
from cogvision.brain.metrics import check_responses
from cogvision.brain.nilearn_io import load_surface_responses, mask_responses
from cogvision.jobs.fit_encoder_config import CowleyV4Data, Features, FitEncoderConfig, band_names
from data_loaders.cowley_v4 import load_v4_session, repeats_array
from data_loaders.haxby import category_design, load_haxby
from data_loaders.images import load_images
from data_loaders.synthetic_brain import make_synthetic_brain


def read_array(path: Path, what: str) -> np.ndarray:
    """An array from ``.npy``, ``.nc`` (one variable), ``.txt`` (one value a line) or ``.csv`` (first column).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        For another suffix, or a file that cannot be read as its suffix says (empty, truncated, corrupt).
    """
    if not path.is_file():
        raise FileNotFoundError(f"{what} file {path} does not exist")
    try:
        if path.suffix == ".npy":
            return np.load(path, allow_pickle=False)
        if path.suffix == ".nc":
            with xr.open_dataarray(path) as da:
                return da.values
        if path.suffix == ".txt":
            return np.array([line.strip() for line in path.read_text().splitlines() if line.strip()])
        if path.suffix == ".csv":
            return pd.read_csv(path, header=None).iloc[:, 0].to_numpy()
    except (OSError, ValueError, EOFError, UnicodeDecodeError, pd.errors.ParserError, zipfile.BadZipFile) as err:
        raise ValueError(f"{what} file {path} is not a readable {path.suffix} file ({' '.join(str(err).split())})"
                         ) from None
    raise ValueError(f"{what} file {path} has an unknown type; expected .npy, .nc, .txt (one value a line) or .csv")


def check_files(config: FitEncoderConfig) -> None:
    """Every file and folder the config names exists (one ``FileNotFoundError`` naming the key and the path)."""
    files: list[tuple[str, str | None]] = [("groups", config.groups)]
    entries = config.features if isinstance(config.features, list) else [config.features]
    for i, e in enumerate(entries):
        key = f"features[{i}]" if isinstance(config.features, list) else "features"
        if e is not None:
            files += [(f"{key}.file", e.file), (f"{key}.weights", e.weights)]
    if config.responses is not None:
        r = config.responses
        files += [(f"responses.{k}", getattr(r, k)) for k in ("nifti", "mask", "npy", "lh", "rh", "roi_labels")]
    if config.model is not None:
        files.append(("model.weights", config.model.weights))
    for key, value in files:
        if value is not None and not config.path(value).is_file():
            raise FileNotFoundError(f"config {key}: file {config.path(value)} does not exist")
    folders = [("data.path", getattr(config.data, "path", None)), ("data.root", getattr(config.data, "root", None))]
    for key, value in folders:
        if value is not None and not config.path(value).is_dir():
            raise FileNotFoundError(f"config {key}: folder {config.path(value)} does not exist")
    if config.stimuli is not None:
        images = config.path(config.stimuli.images)
        if not images.is_dir() and not glob.glob(str(images)):
            raise FileNotFoundError(f"config stimuli.images: {images} is neither a folder nor a pattern that "
                                    "matches files")


@dataclass
class Inputs:
    """What :func:`load_inputs` read: a :class:`FitData` whose features may still have to be computed.

    Attributes
    ----------
    data : FitData
        ``features`` is the first band's array, or None while a model has to compute it.
    bands : list
        One entry per feature band: an array (from a file or a data set) or the :class:`Features` block of a model.
    names : list of str
        Band names.
    images : torch.Tensor or None
        The stimuli (n, 3, H, W) in [0, 1], when a model computes features.
    stimulus_ids : list of str
    """

    data: FitData
    bands: list = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    images: torch.Tensor | None = None
    stimulus_ids: list[str] = field(default_factory=list)


def load_inputs(config: FitEncoderConfig, device: str) -> Inputs:
    """Read every input but the network features and check that the numbers of samples agree."""
    dataset = None if config.data is None else config.data.dataset
    if dataset == "haxby":
        return _haxby(config)
    if dataset == "synthetic":
        return _synthetic(config, device)
    entries = config.features if isinstance(config.features, list) else [config.features]
    bands: list = [np.asarray(read_array(config.path(e.file), "features"), dtype=np.float32) if e.file else e
                   for e in entries]
    images, ids = None, []
    if any(isinstance(b, Features) for b in bands):
        images, ids, _ = load_images(config.path(config.stimuli.images), size=config.stimuli.size, strict=True)
    n_samples = {len(b) for b in bands if isinstance(b, np.ndarray)} | ({len(images)} if images is not None else set())
    if len(n_samples) > 1:
        counts = [len(b) if isinstance(b, np.ndarray) else len(images) for b in bands]
        raise ValueError(f"the feature bands {band_names(entries)} have {counts} samples; they must match")
    data = _responses(config, n_samples.pop())
    data.features = bands[0] if isinstance(bands[0], np.ndarray) else None
    return Inputs(data, bands, band_names(entries), images, ids)


def _responses(config: FitEncoderConfig, n_samples: int) -> FitData:
    cfg = config.responses
    groups = read_array(config.path(config.groups), "groups") if config.groups else None
    if groups is not None and groups.shape != (n_samples,):
        raise ValueError(f"groups has shape {groups.shape}; expected ({n_samples},), one group per sample")
    masker, hemisphere = None, None
    if cfg.nifti:
        y, masker = mask_responses(config.path(cfg.nifti), config.path(cfg.mask),
                                   standardize_runs=groups if cfg.zscore_runs else None)
    elif cfg.npy:
        y = read_array(config.path(cfg.npy), "responses")
    else:
        y, hemisphere = load_surface_responses(config.path(cfg.lh), config.path(cfg.rh))
    y = check_responses(y, n_samples=n_samples)
    rois = (read_array(config.path(cfg.roi_labels), "roi_labels").astype(str) if cfg.roi_labels
            else np.full(y.shape[1], "all"))
    if len(rois) != y.shape[1]:
        raise ValueError(f"roi_labels has {len(rois)} labels but the responses have {y.shape[1]} targets")
    targets = pd.DataFrame({"target": np.arange(y.shape[1]), "roi": rois})
    if hemisphere is not None:
        targets["hemisphere"] = hemisphere
    if cfg.rois:
        unknown = sorted(set(cfg.rois) - set(rois))
        if unknown:
            raise ValueError(f"config responses.rois names unknown ROI label(s) {unknown}; known: {sorted(set(rois))}")
        keep = np.isin(rois, cfg.rois)
        y, targets = y[:, keep], targets[keep].reset_index(drop=True)
    return FitData(None, y, targets, groups, masker)


def _haxby(config: FitEncoderConfig) -> Inputs:
    haxby = load_haxby(None if config.data.root is None else config.path(config.data.root))
    runs = haxby.attributes["run"].to_numpy()
    y, masker = mask_responses(haxby.bold, haxby.mask, standardize_runs=runs)
    x = category_design(haxby.attributes, haxby.tr, kind=config.data.design).to_numpy(np.float64)
    targets = pd.DataFrame({"target": np.arange(y.shape[1]), "roi": "slice"})
    return Inputs(FitData(x, check_responses(y, len(x)), targets, runs, masker), [x], ["design"])


def _synthetic(config: FitEncoderConfig, device: str) -> Inputs:
    params = config.data.model_dump(exclude_unset=True, exclude={"dataset"})
    ds = make_synthetic_brain(seed=config.seed, device=device if device != "auto" else "cpu", **params)
    targets = pd.DataFrame({"target": np.arange(ds.sizes["voxel"]), "roi": ds["roi"].values, "kind": ds["kind"].values})
    x = ds["features"].values
    return Inputs(FitData(x, check_responses(ds["responses"].values), targets), [x], ["features"])


def band_features(config: FitEncoderConfig, inputs: Inputs, cache_dir: Path | None, device: str) -> list[np.ndarray]:
    """Every band's features (n_samples, ...): arrays as read, model bands computed (and cached in ``cache_dir``).

    A model band without ``model``/``weights`` takes them from the band before it.
    """
    arrays, carry = [], {}
    for band in inputs.bands:
        if isinstance(band, np.ndarray):
            arrays.append(band)
            continue
        spec = band.model or carry["model"]
        weights = band.weights if band.model or "weights" in band.model_fields_set else carry.get("weights")
        carry = {"model": spec, "weights": weights}
        da = cached_features(spec, inputs.images, band.layer, cache_dir,
                             weights=None if weights is None else str(config.path(weights)), seed=config.seed,
                             stimulus_ids=inputs.stimulus_ids, device=device, allow_code=config.allow_code)
        arrays.append(da.values)
    return arrays


def stacked_bands(arrays: list[np.ndarray]) -> tuple[np.ndarray, list[int]]:
    """The bands flattened and side by side (n_samples, n_features), float64, and each band's width."""
    mats = [as_matrix(a) for a in arrays]
    return np.hstack(mats).astype(np.float64), [m.shape[1] for m in mats]


def load_session(data: CowleyV4Data, config: FitEncoderConfig):
    """A V4 session's images (n, 3, H, W) in [0, 1], responses (n, n_neuroids), raw repeats or None, neuroids."""
    ds = load_v4_session(data.session, root=None if data.path is None else config.path(data.path))
    images = torch.from_numpy(ds["images"].values).permute(0, 3, 1, 2).float() / 255.0
    repeats = repeats_array(ds) if "repeats" in ds else None
    return images, ds["responses"].values, repeats, [str(n) for n in ds["neuroid"].values]
