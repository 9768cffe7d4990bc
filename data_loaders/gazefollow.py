"""GazeFollow annotations (Recasens et al. 2015; Chong et al. 2018 extended format).

Two formats:

- The MIT ``.mat`` release (``test2_annotations.mat``): per person the normalised eye point, body box
  and 6-19 annotator gaze points, no head box (:func:`read_gazefollow_mat`).
- Chong et al.'s comma-separated text files without a header: 17 columns for the training split
  (``path, idx, body_bbox_x, body_bbox_y, body_bbox_w, body_bbox_h, eye_x, eye_y, gaze_x, gaze_y,
  bbox_x_min, bbox_y_min, bbox_x_max, bbox_y_max, inout, source, meta``; head box in pixels, eye and
  gaze normalised, ``inout`` 1 in frame, 0 out, -1 invalid) and 16 for the test split (no ``inout``,
  one row per annotator) (:func:`read_gazefollow_txt`).

Tables use the column names ``path, eye_x, eye_y, body_x, body_y, body_w, body_h, gaze_x, gaze_y,
x1, y1, x2, y2, inout``; several annotators per person become a ``gaze`` column of (K, 2) arrays
(:func:`group_annotators`). :func:`read_annotations` reads either format into annotator points for scoring;
:func:`gazefollow_samples` gives the training rows with their images as a
:class:`~cogvision.gaze.samples.GazeSamples`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image
from scipy.io import loadmat

from cogvision.gaze.samples import GazeSamples, stretch_resize
from data_loaders.images import read_image

TEXT_SUFFIXES = (".txt", ".csv")

TXT_COLUMNS = ["path", "idx", "body_x", "body_y", "body_w", "body_h", "eye_x", "eye_y", "gaze_x", "gaze_y",
               "x1", "y1", "x2", "y2", "inout", "source", "meta"]


def check_images(paths, root: str | os.PathLike) -> list[str]:
    """The unique relative image ``paths``, after checking that each exists under ``root``.

    Raises
    ------
    FileNotFoundError
        Naming the missing images (the first ten and the count); none is dropped silently.
    """
    root = Path(root)
    unique = list(dict.fromkeys(paths))
    missing = [str(root / p) for p in unique if not (root / p).is_file()]
    if missing:
        raise FileNotFoundError(f"{len(missing)} image(s) missing under {root}: " + ", ".join(missing[:10])
                                + (" ..." if len(missing) > 10 else ""))
    return unique


def image_sizes(paths, root: str | os.PathLike) -> pd.DataFrame:
    """Width and height of every image under ``root`` (header only, via PIL), indexed by path.

    Raises
    ------
    FileNotFoundError
        Listing the missing images (see :func:`check_images`).
    """
    root = Path(root)
    unique = check_images(paths, root)
    rows = []
    for p in unique:
        with Image.open(root / p) as image:
            rows.append((p, *image.size))
    return pd.DataFrame(rows, columns=["path", "width", "height"]).set_index("path")


def read_gazefollow_mat(path: str | os.PathLike) -> pd.DataFrame:
    """Read the MIT ``.mat`` GazeFollow annotations.

    Returns
    -------
    pandas.DataFrame
        One row per person: ``path, eye_x, eye_y, body_x, body_y, body_w, body_h`` (normalised),
        ``gaze`` ((K, 2) normalised annotator points), ``n_annotators``, ``inout`` (1: the test split has
        only in-frame people), ``source``, ``source_file``.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If a needed field (``test_path`` / ``train_path``, ``*_eyes``, ``*_gaze``, ``*_bbox``) is absent.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"GazeFollow annotation file {path} does not exist")
    try:
        mat = loadmat(path)
    except Exception as err:  # noqa: BLE001 - scipy raises many kinds of error for a damaged file
        raise ValueError(f"{path} is not a readable .mat file ({' '.join(str(err).split())})") from None
    prefix = next((p for p in ("test", "train") if f"{p}_path" in mat), None)
    if prefix is None:
        fields = [k for k in mat if not k.startswith("__")]
        raise ValueError(f"{path}: no 'test_path' or 'train_path' field; has {fields}")
    needed = [f"{prefix}_{f}" for f in ("path", "eyes", "gaze", "bbox")]
    absent = [f for f in needed if f not in mat]
    if absent:
        raise ValueError(f"{path}: missing field(s) {absent}")
    paths = [str(np.asarray(p).ravel()[0]) for p in mat[f"{prefix}_path"].ravel()]
    eyes = np.stack([np.asarray(e, dtype=float).ravel()[:2] for e in mat[f"{prefix}_eyes"].ravel()])
    body = np.stack([np.asarray(b, dtype=float).ravel()[:4] for b in mat[f"{prefix}_bbox"].ravel()])
    gaze = [np.asarray(g, dtype=float).reshape(-1, 2) for g in mat[f"{prefix}_gaze"].ravel()]
    meta_key = f"{prefix}_meta"
    sources, files = [""] * len(paths), [""] * len(paths)
    if meta_key in mat:
        for i, m in enumerate(mat[meta_key].ravel()):
            record = np.asarray(m).ravel()[0]
            sources[i] = str(np.asarray(record["dataset"]).ravel()[0])
            files[i] = str(np.asarray(record["name"]).ravel()[0])
    lengths = {len(paths), len(eyes), len(body), len(gaze)}
    if len(lengths) != 1:
        raise ValueError(f"{path}: fields have different lengths {sorted(lengths)}")
    return pd.DataFrame({
        "path": paths, "eye_x": eyes[:, 0], "eye_y": eyes[:, 1], "body_x": body[:, 0], "body_y": body[:, 1],
        "body_w": body[:, 2], "body_h": body[:, 3], "gaze": gaze, "n_annotators": [len(g) for g in gaze],
        "inout": 1, "source": sources, "source_file": files,
    })


def read_gazefollow_txt(path: str | os.PathLike, normalise_boxes: bool = False,
                        image_root: str | os.PathLike | None = None, drop_invalid: bool = True) -> pd.DataFrame:
    """Read Chong et al.'s 17-column (train) or 16-column (test) GazeFollow text annotations.

    Parameters
    ----------
    path
        The text file (comma-separated, no header).
    normalise_boxes
        Divide the pixel head boxes by each image's size (read from ``image_root``); adds ``width`` and
        ``height`` columns.
    image_root
        Folder of the images (needed for ``normalise_boxes``).
    drop_invalid
        Drop rows with ``inout == -1`` (invalid in Chong's release); the count goes to ``attrs["dropped_invalid"]``.

    Returns
    -------
    pandas.DataFrame
        Columns of :data:`TXT_COLUMNS` (``inout`` = 1 for the 16-column test format); gaze set to -1
        where ``inout`` is 0; one row per line (use :func:`group_annotators` for the test split).

    Raises
    ------
    FileNotFoundError
        Missing annotation file, or (with ``normalise_boxes``) missing images, listed by path.
    ValueError
        Wrong number of columns, or ``normalise_boxes`` without ``image_root``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"GazeFollow annotation file {path} does not exist")
    table = pd.read_csv(path, header=None, index_col=False, encoding="utf-8-sig")
    if table.shape[1] == 17:
        table.columns = TXT_COLUMNS
    elif table.shape[1] == 16:
        table.columns = [c for c in TXT_COLUMNS if c != "inout"]
        table.insert(TXT_COLUMNS.index("inout"), "inout", 1)
    else:
        raise ValueError(f"{path}: expected 17 (train) or 16 (test) comma-separated columns, got {table.shape[1]}")
    invalid = table["inout"] == -1
    if drop_invalid:
        table = table[~invalid].reset_index(drop=True)
    table.loc[table["inout"] == 0, ["gaze_x", "gaze_y"]] = -1.0
    table.attrs["dropped_invalid"] = int(invalid.sum()) if drop_invalid else 0
    if normalise_boxes:
        if image_root is None:
            raise ValueError("normalise_boxes=True needs image_root to read each image's width and height")
        sizes = image_sizes(table["path"], image_root)
        table["width"] = sizes.loc[table["path"], "width"].to_numpy()
        table["height"] = sizes.loc[table["path"], "height"].to_numpy()
        for col, dim in (("x1", "width"), ("x2", "width"), ("y1", "height"), ("y2", "height")):
            table[col] = (table[col] / table[dim]).clip(0.0, 1.0)
    return table


def group_annotators(table: pd.DataFrame, keys: tuple[str, ...] = ("path", "eye_x", "eye_y")) -> pd.DataFrame:
    """One row per person with a ``gaze`` column of (K, 2) annotator points (test split: one line per annotator).

    People are identified by ``keys`` (Chong groups the test rows by ``path`` and ``eye_x``).
    """
    missing = [k for k in (*keys, "gaze_x", "gaze_y") if k not in table.columns]
    if missing:
        raise ValueError(f"table lacks column(s) {missing}")
    rows = []
    for _, group in table.groupby(list(keys), sort=False):
        first = group.iloc[0].drop(["gaze_x", "gaze_y"]).to_dict()
        first["gaze"] = group[["gaze_x", "gaze_y"]].to_numpy(float)
        first["n_annotators"] = len(group)
        rows.append(first)
    return pd.DataFrame(rows)


def gaze_array(table: pd.DataFrame, k: int | None = None) -> np.ndarray:
    """(P, K, 2) annotator points of a per-person table, padded with -1 (Chong pads to K = 20)."""
    if "gaze" not in table.columns:
        raise ValueError("table has no 'gaze' column: read the .mat file or call group_annotators first")
    k = k or max(len(g) for g in table["gaze"])
    out = np.full((len(table), k, 2), -1.0)
    for i, g in enumerate(table["gaze"]):
        g = np.asarray(g, dtype=float).reshape(-1, 2)
        if len(g) > k:
            raise ValueError(f"row {i} has {len(g)} annotators, more than k={k}")
        out[i, :len(g)] = g
    return out


def read_annotations(path: str | os.PathLike, image_root: str | os.PathLike | None = None
                     ) -> tuple[np.ndarray, np.ndarray | None]:
    """(P, K, 2) annotator points (-1 padded) and (P, 2) image (height, width) or ``None``, from a file.

    Parameters
    ----------
    path
        GazeFollow annotations: the MIT ``.mat`` release, or Chong's 16/17-column text (``.txt``/``.csv``;
        rows are grouped into people by path and eye point; out-of-frame rows are left out).
    image_root
        Image folder: image sizes are read from it (missing images are listed), so AUC can be at image size.

    Raises
    ------
    ValueError
        If the suffix is neither ``.mat`` nor a text format.
    """
    path = Path(path)
    if path.suffix == ".mat":
        people = read_gazefollow_mat(path)
    elif path.suffix in TEXT_SUFFIXES:
        table = read_gazefollow_txt(path)
        people = group_annotators(table[table["inout"] == 1])
    else:
        raise ValueError(f"--gazefollow {path}: expected the .mat release or Chong's text annotations "
                         f"({', '.join(TEXT_SUFFIXES)}), got {path.suffix!r}")
    if image_root is None:
        return gaze_array(people), None
    sizes = image_sizes(people["path"], image_root).loc[people["path"]]
    return gaze_array(people), sizes[["height", "width"]].to_numpy(int)


class FolderImages:
    """Images under ``root`` read when indexed and resized to ``size`` x ``size`` (a GazeSamples image source).

    Parameters
    ----------
    paths
        Relative image paths (duplicates are read once; see :attr:`paths`).
    root
        Image folder.
    size
        Side S of the returned (3, S, S) images (resized without keeping the aspect ratio, as ViTGaze does).

    Raises
    ------
    FileNotFoundError
        Listing the missing images (see :func:`check_images`).
    """

    def __init__(self, paths, root: str | os.PathLike, size: int):
        self.root = Path(root)
        self.paths = check_images(paths, self.root)
        self.size = int(size)
        self.shape = (len(self.paths), 3, self.size, self.size)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> torch.Tensor:
        return stretch_resize(read_image(self.root / self.paths[index]), self.size)


def gazefollow_samples(path: str | os.PathLike, image_root: str | os.PathLike, image_size: int) -> GazeSamples:
    """Chong's 17-column training annotations (head boxes normalised by each image's size) with their images.

    Raises
    ------
    FileNotFoundError
        Missing annotation file or images (listed by path).
    ValueError
        A file with the wrong number of columns.
    """
    table = read_gazefollow_txt(path, normalise_boxes=True, image_root=image_root)
    images = FolderImages(table["path"], image_root, image_size)
    index = {p: i for i, p in enumerate(images.paths)}
    table["scene"] = table["path"].map(index).astype(int)
    return GazeSamples(table, images)
