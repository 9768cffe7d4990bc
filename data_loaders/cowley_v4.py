"""Macaque V4 spike counts to natural images (Cowley, Stan, Pillow & Smith 2023), read in place.

Folder layout (``<shared>/data/neural/cowley2023_v4/``)::

    images/images_<session>.zip                          112 x 112 JPEGs image0001.jpg, image0002.jpg, ...
    responses_repeat_averaged/responses_<session>.npy     (n_neurons, n_images); column i = image i+1
    responses_raw/responses_<session>.npy                 (n_neurons, n_images, n_repeats), NaN-padded

:func:`load_v4_session` returns one session as an ``xarray.Dataset`` with dims ``stimulus``,
``neuroid`` (and ``repeat`` when raw repeats exist): ``responses`` (stimulus, neuroid), ``images``
(stimulus, y, x, channel) uint8 and, where present, ``repeats`` (stimulus, neuroid, repeat).
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import numpy as np
import xarray as xr
from PIL import Image

from data_loaders.shared import shared_path

SUBDIR = ("data", "neural", "cowley2023_v4")
IMAGE_NAME = re.compile(r"^image(\d+)\.jpg$")


def default_root() -> Path:
    """The shared V4 folder (``FileNotFoundError`` naming it when absent)."""
    return shared_path(*SUBDIR)


def _files(root: Path, session: str) -> dict[str, Path]:
    return {"images": root / "images" / f"images_{session}.zip",
            "responses": root / "responses_repeat_averaged" / f"responses_{session}.npy",
            "raw": root / "responses_raw" / f"responses_{session}.npy"}


def list_sessions(root: str | Path | None = None, with_images: bool = True) -> list[str]:
    """Session IDs in the folder (those with an image zip, unless ``with_images=False``)."""
    root = Path(root) if root is not None else default_root()
    found = {p.stem.removeprefix("responses_") for p in (root / "responses_repeat_averaged").glob("responses_*.npy")}
    found |= {p.stem.removeprefix("responses_") for p in (root / "responses_raw").glob("responses_*.npy")}
    if with_images:
        found = {s for s in found if _files(root, s)["images"].is_file()}
    return sorted(found)


def read_zip_images(path: Path) -> np.ndarray:
    """Images ``image0001.jpg ... imageNNNN.jpg`` of a zip in numeric order, as (n, H, W, 3) uint8.

    Raises
    ------
    ValueError
        When the numbering has gaps, names do not follow ``imageNNNN.jpg`` or image sizes differ.
    """
    with zipfile.ZipFile(path) as archive:
        names = {}
        for info in archive.infolist():
            if info.is_dir():
                continue
            base = Path(info.filename).name
            match = IMAGE_NAME.match(base)
            if match is None:
                if base.startswith(".") or info.filename.startswith("__MACOSX"):
                    continue
                raise ValueError(f"{path}: member {info.filename!r} is not named imageNNNN.jpg")
            names[int(match.group(1))] = info.filename
        numbers = sorted(names)
        if numbers != list(range(1, len(numbers) + 1)):
            missing = sorted(set(range(1, max(numbers, default=0) + 1)) - set(numbers))[:5]
            raise ValueError(f"{path}: images must be numbered image0001.jpg..image{len(numbers):04d}.jpg "
                             f"without gaps; missing {missing}")
        arrays = [np.asarray(Image.open(io.BytesIO(archive.read(names[k]))).convert("RGB")) for k in numbers]
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise ValueError(f"{path}: images have different sizes {sorted(shapes)[:3]}")
    return np.stack(arrays)


def load_v4_session(session: str | int, root: str | Path | None = None, *, images: bool = True) -> xr.Dataset:
    """One V4 session: responses, images (in column order) and raw repeats where present.

    Parameters
    ----------
    session
        Session ID, e.g. ``"190925"``.
    root
        The V4 folder (default: the shared one).
    images
        Read the image zip (required when it exists; ``False`` skips it, e.g. for noise ceilings).

    Returns
    -------
    xarray.Dataset
        ``responses`` (stimulus, neuroid) float64 spike counts (repeat-averaged);
        ``images`` (stimulus, y, x, channel) uint8 when read; ``repeats`` (stimulus, neuroid, repeat)
        NaN-padded when ``responses_raw/`` has the session; coordinates ``stimulus`` (image file
        names), ``neuroid`` (``<session>_<index>``), attrs ``session``, ``has_repeats``.

    Raises
    ------
    FileNotFoundError
        Unknown session (listing the known ones) or a missing file.
    ValueError
        Responses and images of different counts, NaN in the averaged responses, raw repeats whose
        shape or mean disagrees with the averaged responses.
    """
    root = Path(root) if root is not None else default_root()
    session = str(session)
    files = _files(root, session)
    if not files["responses"].is_file() and not files["raw"].is_file():
        raise FileNotFoundError(f"V4 session {session!r} not found in {root}: no {files['responses'].name} in "
                                f"responses_repeat_averaged/ or responses_raw/; known sessions: "
                                f"{list_sessions(root, with_images=False)}")
    raw = np.load(files["raw"]) if files["raw"].is_file() else None
    if raw is not None and (raw.ndim != 3 or raw.shape[2] < 2):
        raise ValueError(f"{files['raw']} has shape {raw.shape}; expected (n_neurons, n_images, n_repeats >= 2)")
    if files["responses"].is_file():
        avg = np.load(files["responses"])
    else:
        avg = np.nanmean(raw, axis=2)
    if avg.ndim != 2:
        raise ValueError(f"{files['responses']} has shape {avg.shape}; expected (n_neurons, n_images)")
    if not np.isfinite(avg).all():
        bad = np.argwhere(~np.isfinite(avg))[0]
        raise ValueError(f"{files['responses']} holds NaN/Inf (first at neuron {bad[0]}, image {bad[1]}); "
                         f"session {session} responses must be finite")
    n_neurons, n_images = avg.shape
    coords = {"stimulus": [f"image{i + 1:04d}.jpg" for i in range(n_images)],
              "neuroid": [f"{session}_{j}" for j in range(n_neurons)]}
    data = {"responses": (("stimulus", "neuroid"), avg.T.astype(np.float64))}
    if raw is not None:
        if raw.shape[:2] != avg.shape:
            raise ValueError(f"{files['raw']} has (neurons, images) = {raw.shape[:2]} but {files['responses'].name} "
                             f"has {avg.shape}; session {session}")
        if not np.allclose(np.nanmean(raw, 2), avg, equal_nan=False):
            raise ValueError(f"{files['raw']}: the mean over repeats differs from {files['responses'].name}")
        data["repeats"] = (("stimulus", "neuroid", "repeat"), raw.transpose(1, 0, 2).astype(np.float64))
    if images:
        if files["images"].is_file():
            pixels = read_zip_images(files["images"])
            if len(pixels) != n_images:
                raise ValueError(f"session {session}: {files['images'].name} holds {len(pixels)} images but "
                                 f"{files['responses'].name} has {n_images} image columns; they must match")
            data["images"] = (("stimulus", "y", "x", "channel"), pixels)
        else:
            raise FileNotFoundError(f"session {session} has no images ({files['images']} does not exist); "
                                    "pass images=False to read responses only")
    return xr.Dataset(data, coords=coords, attrs={"session": session, "has_repeats": int(raw is not None),
                                                  "source": str(root)})


def repeats_array(ds: xr.Dataset) -> np.ndarray:
    """The raw repeats as (n_repeats, n_stimuli, n_neurons), the layout of :mod:`cogvision.brain.metrics`."""
    if "repeats" not in ds:
        raise ValueError(f"session {ds.attrs.get('session')} has no raw repeats")
    return ds["repeats"].transpose("repeat", "stimulus", "neuroid").values
