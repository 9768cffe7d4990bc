"""A built-in synthetic visual-search data set with a known generating process (for tests, demo, CI).

Each scene is a ``rows x cols`` grid of objects of ``n_colours`` colours; the target has one colour and
shares it with some distractors. A simulated searcher starts on the object nearest the centre and picks
each next object with probability ``softmax(-distance / spread + guidance * [same colour as target] -
inhibition * [visited])``, refixates the current object with probability ``p_refixate``, and stops when it
lands on the target. Object labels are the colours (``colour_k``), so a model that reads appearance and
position can learn the guidance; random or centre-out orders cannot.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cogvision.scanpath.containers import ScanpathSet, Scene
from cogvision.scanpath.mapping import grid_boxes


def make_synthetic_scanpaths(n_scenes: int = 40, n_subjects: int = 4, rows: int = 4, cols: int = 6,
                             n_colours: int = 4, guidance: float = 2.5, spread: float = 1.0,
                             inhibition: float = 1.0, p_refixate: float = 0.15, max_length: int = 40,
                             cell_px: float = 100.0, seed: int = 0, with_images: bool = False) -> ScanpathSet:
    """Generate scenes and search scanpaths (see the module docstring).

    Parameters
    ----------
    n_scenes, n_subjects
        Scenes, and scanpaths per scene.
    rows, cols, n_colours
        Grid and number of colours.
    guidance, spread, inhibition, p_refixate
        Parameters of the searcher.
    max_length
        Longest scanpath.
    cell_px
        Cell size in pixels (fixations jitter around cell centres).
    seed
        Seed of everything.
    with_images
        Also render each scene as an RGB image (each cell a noisy patch of its colour on grey), so that
        appearance can come from object crops.
    """
    rng = np.random.default_rng(seed)
    width, height = cols * cell_px, rows * cell_px
    boxes, pos = grid_boxes(width, height, rows, cols)
    centres = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2], 1)
    dist = np.hypot(*(pos[:, None, :] - pos[None, :, :]).transpose(2, 0, 1))
    start = int(np.argmin(np.hypot(centres[:, 0] - width / 2, centres[:, 1] - height / 2)))
    scenes, frames = {}, []
    for s in range(n_scenes):
        colours = rng.integers(0, n_colours, len(boxes))
        target = int(rng.integers(0, len(boxes)))
        labels = [f"colour_{c}" for c in colours]
        trial = f"scene_{s:03d}"
        image = _render(boxes, colours, n_colours, int(width), int(height), rng) if with_images else None
        scenes[trial] = Scene(trial, width, height, boxes, labels, pos, (rows, cols), target,
                              labels[target], trial, image)
        guide = guidance * (colours == colours[target])
        for subject in range(n_subjects):
            path = [start]
            visited = np.zeros(len(boxes), bool)
            visited[start] = True
            while path[-1] != target and len(path) < max_length:
                if rng.random() < p_refixate:
                    path.append(path[-1])
                    continue
                score = -dist[path[-1]] / spread + guide - inhibition * visited
                score[path[-1]] = -np.inf
                p = np.exp(score - score.max())
                nxt = int(rng.choice(len(boxes), p=p / p.sum()))
                visited[nxt] = True
                path.append(nxt)
            path = np.asarray(path)
            xy = centres[path] + rng.normal(0, cell_px / 8, (len(path), 2))
            xy = np.clip(xy, boxes[path, :2] + 1, boxes[path, 2:] - 1)
            frames.append(pd.DataFrame({
                "subject": str(subject), "trial": trial, "fixation": np.arange(len(path)), "x": xy[:, 0], "y": xy[:, 1],
                "duration": rng.gamma(4.0, 60.0, len(path)).round(), "object": path,
            }))
    return ScanpathSet(pd.concat(frames, ignore_index=True), scenes, "synthetic")


def _render(boxes: np.ndarray, colours: np.ndarray, n_colours: int, width: int, height: int,
            rng: np.random.Generator) -> np.ndarray:
    palette = (np.stack([np.linspace(0, 1, n_colours), np.linspace(1, 0, n_colours),
                         (np.arange(n_colours) % 2).astype(float)], 1) * 200 + 30)
    image = np.full((height, width, 3), 128.0)
    for (x0, y0, x1, y1), c in zip(boxes.astype(int), colours):
        mx, my = (x1 - x0) // 5, (y1 - y0) // 5
        image[y0 + my:y1 - my, x0 + mx:x1 - mx] = palette[c]
    image += rng.normal(0, 8, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)
