"""Interiors visual search (Sclar et al. 2020) in the ViSioNS layout (Travi et al.): images, templates, scanpaths.

A folder of that layout holds ``dataset_info.json`` (image size, folders), ``trials_properties.json`` (one entry
per image: ``image``, ``target`` template file, target position, initial fixation, ``target_object``),
``images/``, ``templates/``, ``human_scanpaths/subjNN_scanpaths.json`` (``image -> {X, Y, T, target_bbox
[top, left, bottom, right], target_found, max_fixations, ...}``) and optionally ``center_bias_24x32.npy``.

Each image is one trial (one target per image). Its objects are the cells of the model grid (24 x 32 cells
of 32 px on the 768 x 1024 images), row-major; a fixation's object is its cell by ViSioNS' rule
``int(value / size * grid)`` (:func:`cogvision.scanpath.metrics.hsp.grid_cells`). The target object is the cell
holding the target box's centre; ``target_objects`` are all cells of its box (ViSioNS' found criterion).
Durations come from ``T`` when it has one value per fixation, else NaN (the release's ``T`` often has more
entries than ``X``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cogvision.scanpath.containers import ScanpathSet, Scene
from cogvision.scanpath.mapping import grid_boxes
from cogvision.scanpath.metrics.hsp import grid_cells, target_cells
from data_loaders.images import read_image
from data_loaders.shared import read_json, shared_path

GRID = (24, 32)
RELATIVE_PATH = ("data", "eyetracking", "interiors")


@dataclass
class InteriorsData:
    """One folder of the ViSioNS layout.

    Attributes
    ----------
    scanpaths : ScanpathSet
        Every subject's scanpath on every image (trial = image file name).
    image_paths, template_paths : dict of str to Path
        ``image -> file``.
    centre_bias : ndarray of shape (rows, cols) or None
        ``center_bias_<rows>x<cols>.npy`` when the folder has it.
    root : Path
    """

    scanpaths: ScanpathSet
    image_paths: dict[str, Path]
    template_paths: dict[str, Path]
    centre_bias: np.ndarray | None
    root: Path

    def images(self) -> dict[str, np.ndarray]:
        """``image -> (H, W, 3)`` float32 array in [0, 1] (grayscale files repeated over the channels)."""
        return {k: read_image(p).permute(1, 2, 0).numpy() for k, p in self.image_paths.items()}

    def templates(self) -> dict[str, np.ndarray]:
        """``image -> (h, w, 3)`` float32 template of its target, in [0, 1]."""
        return {k: read_image(p).permute(1, 2, 0).numpy() for k, p in self.template_paths.items()}


def load_interiors(path: str | Path | None = None, grid: tuple[int, int] = GRID) -> InteriorsData:
    """Load a folder of the ViSioNS layout (default: the shared Interiors copy).

    Raises
    ------
    FileNotFoundError
        Naming the missing folder, image or template file.
    ValueError
        Naming the file and trial with a missing field, an unknown image, an empty scanpath or a fixation
        outside the image.
    """
    root = Path(path) if path is not None else shared_path(*RELATIVE_PATH)
    if not root.is_dir():
        raise FileNotFoundError(f"Interiors folder {root} does not exist")
    info = read_json(root / "dataset_info.json", "dataset info file", dict, "an object")
    try:
        height, width = float(info["image_height"]), float(info["image_width"])
        images_dir = root / info.get("images_dir", "images/")
        templates_dir = root / info.get("targets_dir", "templates/")
        scanpaths_dir = root / info.get("scanpaths_dir", "human_scanpaths/")
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{root / 'dataset_info.json'}: missing or bad field {err} (expected image_height, "
                         "image_width)") from err
    trials_file = root / "trials_properties.json"
    trials = read_json(trials_file, "trials file", list, "a list of trials")
    rows, cols = grid
    boxes, pos = grid_boxes(width, height, rows, cols)
    scenes, image_paths, template_paths = {}, {}, {}
    for k, trial in enumerate(trials):
        try:
            image, template = str(trial["image"]), str(trial["target"])
            top, left = float(trial["target_matched_row"]), float(trial["target_matched_column"])
            t_h, t_w = float(trial["target_height"]), float(trial["target_width"])
            target_name = str(trial.get("target_object", "target"))
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"{trials_file}: trial {k} lacks field {err} (expected image, target, "
                             "target_matched_row, target_matched_column, target_height, target_width)") from err
        for folder, name, what in ((images_dir, image, "image"), (templates_dir, template, "template")):
            if not (folder / name).is_file():
                raise FileNotFoundError(f"{trials_file}: trial {image!r}: {what} file {folder / name} does not exist")
        image_paths[image], template_paths[image] = images_dir / image, templates_dir / template
        r0, c0, r1, c1 = target_cells((top, left, top + t_h, left + t_w), width, height, rows, cols)
        r1, c1 = min(r1, rows - 1), min(c1, cols - 1)
        covered = tuple(int(r * cols + c) for r in range(r0, r1 + 1) for c in range(c0, c1 + 1))
        centre = grid_cells([left + t_w / 2], [top + t_h / 2], width, height, rows, cols)[0]
        labels = ["cell"] * len(boxes)
        scenes[image] = Scene(image, width, height, boxes, labels, pos, grid, int(centre[0] * cols + centre[1]),
                              target_name, image, target_objects=covered)
    frames = _read_scanpaths(scanpaths_dir, scenes, trials_file, width, height, grid)
    bias_file = root / f"center_bias_{rows}x{cols}.npy"
    centre_bias = None
    if bias_file.is_file():
        centre_bias = np.load(bias_file, allow_pickle=False)
        if centre_bias.shape != (rows, cols):
            raise ValueError(f"{bias_file}: expected a {rows}x{cols} map, got shape {centre_bias.shape}")
    data = ScanpathSet(pd.concat(frames, ignore_index=True), scenes, "interiors")
    return InteriorsData(data, image_paths, template_paths, centre_bias, root)


def _read_scanpaths(scanpaths_dir: Path, scenes: dict[str, Scene], trials_file: Path, width: float, height: float,
                    grid: tuple[int, int]) -> list[pd.DataFrame]:
    """One fixation table per subject file and image; errors name the file and trial."""
    rows, cols = grid
    files = sorted(scanpaths_dir.glob("subj*_scanpaths.json"))
    if not files:
        raise FileNotFoundError(f"no subjNN_scanpaths.json files in {scanpaths_dir}")
    frames = []
    for file in files:
        per_image = read_json(file, "scanpath file", dict, "an object of images")
        subject = file.name[4:].split("_")[0]
        for image, entry in per_image.items():
            if image not in scenes:
                raise ValueError(f"{file}: image {image!r} is not in {trials_file}")
            try:
                x, y = np.asarray(entry["X"], float), np.asarray(entry["Y"], float)
                durations = np.asarray(entry.get("T", []), float)
            except (KeyError, TypeError, ValueError) as err:
                raise ValueError(f"{file}: trial {image!r} lacks field {err} (expected X, Y)") from err
            if x.shape != y.shape or x.ndim != 1:
                raise ValueError(f"{file}: trial {image!r}: X and Y must be lists of one length, got {x.shape}, "
                                 f"{y.shape}")
            if len(x) == 0:
                raise ValueError(f"{file}: trial {image!r}: empty scanpath")
            try:
                cells = grid_cells(x, y, width, height, rows, cols)
            except ValueError as err:
                raise ValueError(f"{file}: trial {image!r}: {err}") from None
            frames.append(pd.DataFrame({
                "subject": subject, "trial": image, "fixation": np.arange(len(x)), "x": x, "y": y,
                "duration": durations if len(durations) == len(x) else np.nan,
                "object": cells[:, 0] * cols + cells[:, 1]}))
    if not frames:
        raise ValueError(f"{scanpaths_dir}: no scanpaths")
    return frames
