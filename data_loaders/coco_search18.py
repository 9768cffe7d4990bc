"""COCO-Search18 target-present search fixations (Chen et al. 2021; Yang et al. 2020) with YOLOv3 boxes.

Fixation JSON: a list of trials ``{"name", "subject", "task", "condition", "bbox": [x, y, w, h], "X": [...],
"Y": [...], "T": [...] (ms), ...}`` on a 1680 x 1050 display; the first fixation is the centre.
Detections: CSV files ``image,"[[label, score %, xmax, xmin, ymax, ymin], ...]"`` in the same pixel frame
(one file per target category; every file in the folder is read and indexed by image).

A trial (``task/name``) is one image searched for one category. Its objects are the detections; the
detection overlapping the target box best (IoU >= ``target_iou``) becomes the target, relabelled with the
task name so that it looks like the target token; otherwise the target box is added as one more object.
Fixations map to the box holding them, else the nearest box within ``max_distance`` px, else background.
"""

from __future__ import annotations

import ast
import csv
import math
from pathlib import Path

import numpy as np
import pandas as pd

from cogvision.reporting import get_logger
from cogvision.scanpath.containers import ScanpathSet, Scene
from cogvision.scanpath.mapping import box_iou, objects_by_box
from data_loaders.shared import read_json, shared_path

log = get_logger(__name__)

WIDTH, HEIGHT = 1680, 1050
TASK_FILE_ALIASES = {"plotted_plant": "potted_plant"}
EXCERPT = ("data", "eyetracking", "coco_search18_excerpt")


def _read_detection_file(file: Path) -> dict[str, list[tuple[str, float, np.ndarray]]]:
    out: dict[str, list] = {}
    with open(file, newline="") as handle:
        for line_no, row in enumerate(csv.reader(handle), 1):
            if not row:
                continue
            if len(row) != 2:
                raise ValueError(f"{file}:{line_no}: expected "
                                 "'image,\"[[label, score, xmax, xmin, ymax, ymin], ...]\"'")
            try:
                items = ast.literal_eval(row[1])
                dets = [(str(lab), float(score), np.array([xmin, ymin, xmax, ymax], float))
                        for lab, score, xmax, xmin, ymax, ymin in items]
            except (ValueError, SyntaxError, TypeError) as err:
                raise ValueError(f"{file}:{line_no}: malformed detection list for image {row[0]!r}: {err}") from err
            out.setdefault(row[0], dets)
    return out


def task_key(task: str) -> str:
    """The detection-file stem of a search task (``"potted plant"`` -> ``"potted_plant"``; the release spells
    that file ``plotted_plant.csv``, accepted as well)."""
    key = task.strip().lower().replace(" ", "_")
    return TASK_FILE_ALIASES.get(key, key)


def read_detections_by_task(folder: str | Path) -> dict[str, dict[str, list[tuple[str, float, np.ndarray]]]]:
    """``task -> image -> [(label, score, box xmin ymin xmax ymax), ...]``, one task per ``TASK.csv`` in ``folder``.

    Raises
    ------
    FileNotFoundError
        If ``folder`` does not exist.
    ValueError
        If it holds no ``*.csv`` file or no detection at all (every scene would be the target alone), or a
        malformed line (naming the file and line).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"detections folder {folder} does not exist")
    files = sorted(folder.glob("*.csv"))
    if not files:
        raise ValueError(f"detections folder {folder} holds no *.csv files; expected one TASK.csv per search task "
                         "with lines 'image,\"[[label, score, xmax, xmin, ymax, ymin], ...]\"'")
    out = {task_key(file.stem): _read_detection_file(file) for file in files}
    if not any(out.values()):
        raise ValueError(f"detections folder {folder}: its *.csv files hold no detections")
    return out


def read_detections(folder: str | Path) -> dict[str, list[tuple[str, float, np.ndarray]]]:
    """``image -> [(label, score, box xmin ymin xmax ymax), ...]`` from every ``*.csv`` in ``folder`` (the first
    file, in name order, holding an image wins; see :func:`read_detections_by_task` for per-task boxes)."""
    out: dict[str, list] = {}
    for per_image in read_detections_by_task(folder).values():
        for image, dets in per_image.items():
            out.setdefault(image, dets)
    return out


def load_coco_search18(fixations: str | Path | None = None, detections: str | Path | None = None, *,
                       grid: tuple[int, int] = (7, 11), target_iou: float = 0.3, max_distance: float = math.inf,
                       width: float = WIDTH, height: float = HEIGHT, allow_outside: bool = True) -> ScanpathSet:
    """Load COCO-Search18 fixations (any file of the released JSON format) with detector boxes as objects.

    Parameters
    ----------
    fixations
        The fixation JSON; default: the excerpt in the shared data folder.
    detections
        Folder of detection CSVs; default: the excerpt's ``yolov3_detections``.
    grid
        ``(rows, cols)`` grid on which box centres are quantised for OAT's position code.
    target_iou
        Smallest IoU for a detection to count as the target.
    max_distance
        Nearest-object fallback distance (px) for fixations outside every box.
    allow_outside
        Keep fixations outside the display (they occur in the released data).

    Raises
    ------
    FileNotFoundError, ValueError
        Missing files, malformed JSON, trials lacking fields or with NaN coordinates (naming the trial).
    """
    if fixations is None:
        fixations = shared_path(*EXCERPT, "coco_search18_fixations_TP_excerpt.json")
    if detections is None:
        detections = shared_path(*EXCERPT, "yolov3_detections")
    fixations = Path(fixations)
    trials = read_json(fixations, "COCO-Search18 fixation file", list, "a list of trials")
    by_task = read_detections_by_task(detections)
    any_task: dict[str, list] = {}
    for per_image in by_task.values():
        for image, found in per_image.items():
            any_task.setdefault(image, found)
    missing: list[str] = []
    rows, cols = grid
    scenes: dict[str, Scene] = {}
    frames = []
    for k, t in enumerate(trials):
        try:
            name, task, subject = str(t["name"]), str(t["task"]), str(t["subject"])
            x, y = np.asarray(t["X"], float), np.asarray(t["Y"], float)
            dur = np.asarray(t.get("T", [np.nan] * len(x)), float)
            bx, by, bw, bh = (float(v) for v in t["bbox"])
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"{fixations}: trial {k} lacks or has a malformed field ({err}); expected name, "
                             "subject, task, bbox [x, y, w, h], X, Y, T") from err
        trial = f"{task}/{name}"
        if len(x) == 0 or len(x) != len(y) or len(dur) != len(x):
            raise ValueError(f"{fixations}: trial {trial!r}, subject {subject}: X, Y, T must be non-empty and of "
                             f"equal length (got {len(x)}, {len(y)}, {len(dur)})")
        if trial not in scenes:
            found = by_task.get(task_key(task), {}).get(name, any_task.get(name))  # boxes keyed by (task, image)
            if found is None:
                missing.append(trial)
            scenes[trial] = _scene(trial, name, task, np.array([bx, by, bx + bw, by + bh]), found or [],
                                   width, height, rows, cols, target_iou)
        frames.append(pd.DataFrame({"subject": subject, "trial": trial, "fixation": np.arange(len(x)), "x": x, "y": y,
                                    "duration": dur}))
    if not frames:
        raise ValueError(f"{fixations}: no trials")
    if missing:
        log.warning("%d of %d COCO-Search18 scenes have no detections in %s (e.g. %s); their only object is the "
                    "target box", len(missing), len(scenes), detections, missing[0])
    table = pd.concat(frames, ignore_index=True)
    bad = ~np.isfinite(table[["x", "y"]].to_numpy()).all(1)
    if bad.any():
        row = table[bad].iloc[0]
        raise ValueError(f"{fixations}: trial {row.trial!r}, subject {row.subject}: NaN coordinates at fixation "
                         f"{row.fixation}")
    table["object"] = -1
    for trial, index in table.groupby("trial").indices.items():
        table.loc[table.index[index], "object"] = objects_by_box(
            table["x"].to_numpy()[index], table["y"].to_numpy()[index], scenes[trial].boxes, max_distance)
    return ScanpathSet(table, scenes, "coco_search18", allow_outside)


def _scene(trial, name, task, target_box, detections, width, height, rows, cols, target_iou) -> Scene:
    labels = [d[0] for d in detections]
    boxes = np.array([d[2] for d in detections], float).reshape(-1, 4)
    boxes = np.clip(boxes, 0, [width, height, width, height])
    target = -1
    if len(boxes):
        iou = box_iou(target_box, boxes)
        if iou.max() >= target_iou:
            target = int(iou.argmax())
    if target < 0:
        boxes = np.vstack([boxes, target_box])
        labels.append(task)
        target = len(boxes) - 1
    labels[target] = task
    centres = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2], 1)
    pos = np.stack([np.clip((centres[:, 1] / height * rows).astype(int), 0, rows - 1),
                    np.clip((centres[:, 0] / width * cols).astype(int), 0, cols - 1)], 1)
    return Scene(trial, width, height, boxes, labels, pos, (rows, cols), target, task, name)
