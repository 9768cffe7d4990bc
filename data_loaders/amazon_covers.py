"""Amazon book-cover visual search (Sattar et al. 2015; annotations of Stauden et al. 2018, CC BY-NC-SA 4.0).

``Amazon.json``: ``{image: {"fixations": {subject: [[x, y], ...]}, "ground_truth": [{xmin, xmax, ymin, ymax}],
"size": {width, height}, "target": name}}``. 100 collages of 6 x 14 covers, 6 subjects each, no durations,
no images. Each cover is one grid cell, ``cell = floor(y / (H / 6)) * 14 + floor(x / (W / 14))``; the target
is the cell with the largest overlap (IoU) with the target box. Covers are labelled ``cover``; the target
cover carries the target's name (e.g. ``target_0.jpg``), as its crop would in OAT.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from cogvision.scanpath.containers import ScanpathSet, Scene
from cogvision.scanpath.mapping import box_iou, grid_boxes, objects_by_grid
from data_loaders.shared import read_json, shared_path

ROWS, COLS = 6, 14
RELATIVE_PATH = ("data", "eyetracking", "amazon_book_covers", "Amazon.json")


def load_amazon_covers(path: str | Path | None = None, rows: int = ROWS, cols: int = COLS) -> ScanpathSet:
    """Load the Amazon book-cover scanpaths as a :class:`~cogvision.scanpath.ScanpathSet`.

    Parameters
    ----------
    path
        ``Amazon.json``; default: the copy in the shared data folder.
    rows, cols
        Grid of covers.

    Raises
    ------
    FileNotFoundError
        When the file is missing.
    ValueError
        On malformed JSON, a collage lacking a field, a non-positive size or a target box outside the collage,
        naming the file and the collage.
    """
    path = Path(path) if path is not None else shared_path(*RELATIVE_PATH)
    data = read_json(path, "Amazon covers file", dict, "an object of collages")
    scenes, frames = {}, []
    for image, entry in data.items():
        try:
            width, height = float(entry["size"]["width"]), float(entry["size"]["height"])
            gt = entry["ground_truth"][0]
            target_box = np.array([gt["xmin"], gt["ymin"], gt["xmax"], gt["ymax"]], float)
            target_name = str(entry["target"])
            fixations = entry["fixations"]
        except (KeyError, IndexError, TypeError) as err:
            raise ValueError(f"{path}: collage {image!r} lacks field {err} (expected fixations, ground_truth, size, "
                             "target)") from err
        if not (np.isfinite([width, height]).all() and width > 0 and height > 0):
            raise ValueError(f"{path}: collage {image!r}: size must be positive, got {width} x {height}")
        if not (np.isfinite(target_box).all() and target_box[2] > target_box[0] and target_box[3] > target_box[1]):
            raise ValueError(f"{path}: collage {image!r}: ground_truth box {target_box.tolist()} must have "
                             "xmin < xmax and ymin < ymax")
        boxes, pos = grid_boxes(width, height, rows, cols)
        overlap = box_iou(target_box, boxes)
        if not overlap.max() > 0:
            raise ValueError(f"{path}: collage {image!r}: ground_truth box {target_box.tolist()} lies outside the "
                             f"{width:g} x {height:g} collage; expected a box overlapping a cover")
        target = int(np.argmax(overlap))
        labels = ["cover"] * len(boxes)
        labels[target] = target_name
        scenes[image] = Scene(image, width, height, boxes, labels, pos, (rows, cols), target, target_name, image)
        for subject, points in fixations.items():
            xy = np.asarray(points, float)
            if xy.ndim != 2 or xy.shape[1] != 2 or len(xy) == 0:
                raise ValueError(f"{path}: collage {image!r}, subject {subject}: expected a non-empty list of [x, y], "
                                 f"got shape {xy.shape}")
            frames.append(pd.DataFrame({
                "subject": str(subject), "trial": image, "fixation": np.arange(len(xy)), "x": xy[:, 0], "y": xy[:, 1],
                "duration": np.nan, "object": objects_by_grid(xy[:, 0], xy[:, 1], width, height, rows, cols),
            }))
    if not frames:
        raise ValueError(f"{path}: no scanpaths")
    return ScanpathSet(pd.concat(frames, ignore_index=True), scenes, "amazon_covers")
