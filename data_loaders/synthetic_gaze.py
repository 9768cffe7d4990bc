"""Synthetic gaze-following scenes with exact labels, for CPU training, tests and the demo.

Each scene is a smooth random background with a few coloured objects (discs and squares) and one or
more "people". A person is a round head whose *face half* (dark, with two light eyes) points in the
gaze direction and whose back half is light ("hair"), so the orientation is visible in the pixels.
An in-frame person looks at the centre of one object; the other objects sit at least
``min_separation`` degrees away from that direction, so the head's orientation is needed to pick the
target. An out-of-frame person looks along a direction that passes no object (label ``-1, -1``).

>>> scenes = make_gaze_scenes(4, image_size=64, seed=0)
>>> scenes.images.shape
torch.Size([4, 3, 64, 64])
>>> list(scenes.people.columns)[:6]
['scene', 'person', 'x1', 'y1', 'x2', 'y2']
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from cogvision.gaze.samples import GazeSamples

PEOPLE_COLUMNS = ["scene", "person", "x1", "y1", "x2", "y2", "head_x", "head_y", "gaze_x", "gaze_y", "inout",
                  "target", "angle"]
OBJECT_COLUMNS = ["scene", "object", "x", "y", "radius", "shape"]
_PALETTE = np.array([[0.90, 0.10, 0.10], [0.10, 0.70, 0.15], [0.15, 0.30, 0.95], [0.95, 0.85, 0.05],
                     [0.80, 0.15, 0.85], [0.05, 0.80, 0.85]], dtype=np.float32)
_HAIR = np.array([0.95, 0.92, 0.85], dtype=np.float32)
_FACE = np.array([0.30, 0.18, 0.10], dtype=np.float32)
_EYE = np.array([1.0, 1.0, 1.0], dtype=np.float32)


@dataclass
class GazeScenes:
    """Rendered scenes and their exact labels.

    Attributes
    ----------
    images : torch.Tensor
        (n_scenes, 3, S, S) float in [0, 1].
    people : pandas.DataFrame
        One row per person: ``scene, person``; head box ``x1, y1, x2, y2`` and head centre ``head_x, head_y``
        normalised to [0, 1]; gaze target ``gaze_x, gaze_y`` normalised (``-1`` when out of frame);
        ``inout`` (1 in frame, 0 out); ``target`` (object index, -1 when out); ``angle`` (gaze direction in
        radians, image coordinates: 0 = right, pi/2 = down).
    objects : pandas.DataFrame
        One row per object: ``scene, object, x, y`` (centre, normalised), ``radius`` (normalised),
        ``shape`` (``"disc"`` or ``"square"``).
    """

    images: torch.Tensor
    people: pd.DataFrame
    objects: pd.DataFrame

    def samples(self) -> GazeSamples:
        """The people of these scenes as :class:`~cogvision.gaze.samples.GazeSamples` (one item per person)."""
        return GazeSamples(self.people, self.images)


def _angle_gap(a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
    """Absolute angular difference in radians, in [0, pi]."""
    return np.abs((np.asarray(a) - np.asarray(b) + np.pi) % (2 * np.pi) - np.pi)


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    corners = rng.uniform(0.25, 0.6, size=(4, 3)).astype(np.float32)
    top = corners[0] * (1 - xx[..., None]) + corners[1] * xx[..., None]
    bottom = corners[2] * (1 - xx[..., None]) + corners[3] * xx[..., None]
    image = top * (1 - yy[..., None]) + bottom * yy[..., None]
    return image + rng.normal(0, 0.03, size=image.shape).astype(np.float32)


def _draw_head(image: np.ndarray, cx: float, cy: float, r: float, angle: float) -> None:
    size = image.shape[0]
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    dx, dy = xx - cx, yy - cy
    inside = dx**2 + dy**2 <= r**2
    facing = dx * np.cos(angle) + dy * np.sin(angle) > -0.15 * r
    image[inside & ~facing] = _HAIR
    image[inside & facing] = _FACE
    for side in (-1, 1):
        ex = cx + 0.55 * r * np.cos(angle + side * 0.6)
        ey = cy + 0.55 * r * np.sin(angle + side * 0.6)
        image[(xx - ex) ** 2 + (yy - ey) ** 2 <= (0.22 * r) ** 2] = _EYE


def _draw_object(image: np.ndarray, cx: float, cy: float, r: float, shape: str, colour: np.ndarray) -> None:
    size = image.shape[0]
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    if shape == "disc":
        region = (xx - cx) ** 2 + (yy - cy) ** 2 <= r**2
    else:
        region = (np.abs(xx - cx) <= r) & (np.abs(yy - cy) <= r)
    image[region] = colour


def _free(point: np.ndarray, radius: float, placed: list[tuple[np.ndarray, float]], margin: float) -> bool:
    return all(np.hypot(*(point - p)) > radius + r + margin for p, r in placed)


def _place(rng: np.random.Generator, count: int, radius: float, gap: float, placed: list[tuple[np.ndarray, float]],
           size: int, max_tries: int) -> list[np.ndarray] | None:
    """Centres of ``count`` discs of ``radius`` that keep ``gap`` from every disc in ``placed`` (appended to it);
    ``None`` when one of them finds no room in ``max_tries`` draws."""
    centres = []
    for _ in range(count):
        for _ in range(max_tries):
            p = rng.uniform(radius + 1, size - radius - 1, size=2)
            if _free(p, radius, placed, gap):
                placed.append((p, radius))
                centres.append(p)
                break
        else:
            return None
    return centres


def _sample_scene(rng: np.random.Generator, size: int, n_people: int, n_objects: int, p_out: float,
                  min_separation: float, max_tries: int = 200):
    """Positions of heads and objects and each person's gaze; ``None`` if the constraints fail."""
    head_r = 0.09 * size
    obj_r = 0.065 * size
    placed: list[tuple[np.ndarray, float]] = []
    heads = _place(rng, n_people, head_r, 0.08 * size, placed, size, max_tries)
    objects = _place(rng, n_objects, obj_r, 0.06 * size, placed, size, max_tries) if heads is not None else None
    if objects is None:
        return None
    objects_arr = np.array(objects)
    gazes = []
    for head in heads:
        directions = np.arctan2(objects_arr[:, 1] - head[1], objects_arr[:, 0] - head[0])
        if rng.uniform() < p_out:
            candidates = rng.uniform(-np.pi, np.pi, size=64)
            ok = [a for a in candidates if _angle_gap(a, directions).min() > min_separation]
            if not ok:
                return None
            gazes.append((-1, float(ok[0])))
        else:
            order = rng.permutation(n_objects)
            for t in order:
                others = np.delete(directions, t)
                if others.size == 0 or _angle_gap(directions[t], others).min() > min_separation:
                    gazes.append((int(t), float(directions[t])))
                    break
            else:
                return None
    return heads, head_r, objects_arr, obj_r, gazes


def make_gaze_scenes(
    n_scenes: int,
    image_size: int = 64,
    n_people: int | tuple[int, int] = (1, 2),
    n_objects: int = 3,
    p_out: float = 0.2,
    min_separation_deg: float = 35.0,
    seed: int = 0,
) -> GazeScenes:
    """Render ``n_scenes`` gaze-following scenes with exact labels.

    Parameters
    ----------
    n_scenes
        Number of images.
    image_size
        Side S of the square images in pixels (>= 32).
    n_people
        People per scene: an int, or an inclusive (min, max) range sampled uniformly.
    n_objects
        Objects per scene (>= 1).
    p_out
        Probability that a person looks out of frame.
    min_separation_deg
        Smallest angle between the gaze direction and the direction of any non-target object.
    seed
        Seed of the NumPy generator: the same arguments give the same scenes.

    Returns
    -------
    GazeScenes
        ``images`` (n_scenes, 3, S, S), ``people`` and ``objects`` tables (see :class:`GazeScenes`).
    """
    if n_scenes < 1:
        raise ValueError(f"n_scenes must be >= 1, got {n_scenes}")
    if image_size < 32:
        raise ValueError(f"image_size must be >= 32 pixels, got {image_size}")
    if n_objects < 1:
        raise ValueError(f"n_objects must be >= 1, got {n_objects}")
    if not 0.0 <= p_out <= 1.0:
        raise ValueError(f"p_out must be in [0, 1], got {p_out}")
    low, high = (n_people, n_people) if isinstance(n_people, int) else n_people
    if low < 1 or high < low:
        raise ValueError(f"n_people must be >= 1 (or a range (min, max) with 1 <= min <= max), got {n_people}")
    rng = np.random.default_rng(seed)
    min_sep = np.deg2rad(min_separation_deg)
    images = np.empty((n_scenes, image_size, image_size, 3), dtype=np.float32)
    people_rows, object_rows = [], []
    for s in range(n_scenes):
        while True:
            count = int(rng.integers(low, high + 1))
            sample = _sample_scene(rng, image_size, count, n_objects, p_out, min_sep)
            if sample is not None:
                break
        heads, head_r, objects, obj_r, gazes = sample
        image = _background(rng, image_size)
        colours = rng.permutation(len(_PALETTE))
        for o, centre in enumerate(objects):
            shape = "disc" if rng.uniform() < 0.5 else "square"
            _draw_object(image, *centre, obj_r, shape, _PALETTE[colours[o % len(_PALETTE)]])
            object_rows.append([s, o, centre[0] / image_size, centre[1] / image_size, obj_r / image_size, shape])
        for p, (head, (target, angle)) in enumerate(zip(heads, gazes)):
            _draw_head(image, *head, head_r, angle)
            box = np.array([head[0] - head_r, head[1] - head_r, head[0] + head_r, head[1] + head_r]) / image_size
            gaze = objects[target] / image_size if target >= 0 else np.array([-1.0, -1.0])
            people_rows.append([s, p, *np.clip(box, 0, 1), *(head / image_size), *gaze, int(target >= 0),
                                target, angle])
        images[s] = image
    tensor = torch.from_numpy(images).permute(0, 3, 1, 2).clamp(0, 1).contiguous()
    people = pd.DataFrame(people_rows, columns=PEOPLE_COLUMNS)
    people = people.astype({"scene": int, "person": int, "inout": int, "target": int})
    objects_df = pd.DataFrame(object_rows, columns=OBJECT_COLUMNS).astype({"scene": int, "object": int})
    return GazeScenes(images=tensor, people=people, objects=objects_df)
