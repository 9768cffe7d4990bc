"""The container of gaze-following data: people (head box, gaze, in/out) in images, as a torch ``Dataset``.

Loaders (``data_loaders.synthetic_gaze``, ``data_loaders.gazefollow``) build a :class:`GazeSamples`; training,
prediction and scoring read it. Images are a tensor, or any sequence of (3, S, S) tensors with a ``shape``
(e.g. images read lazily from a folder).

>>> import pandas as pd
>>> people = pd.DataFrame({"scene": [0, 0], "x1": 0.1, "y1": 0.1, "x2": 0.2, "y2": 0.2,
...                        "gaze_x": [0.5, -1.0], "gaze_y": [0.5, -1.0], "inout": [1, 0]})
>>> samples = GazeSamples(people, torch.rand(1, 3, 32, 32))
>>> len(samples), samples[1]["image"].shape, samples.size
(2, torch.Size([3, 32, 32]), (32, 32))
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

BOX_COLUMNS = ["x1", "y1", "x2", "y2"]


class ImageSource(Protocol):
    """What :class:`GazeSamples` needs of its images: ``shape`` (n, 3, H, W) and ``[i]`` -> (3, H, W) in [0, 1]."""

    shape: Any

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> torch.Tensor: ...


def stretch_resize(image: torch.Tensor, size: int) -> torch.Tensor:
    """(3, H, W) -> (3, size, size) in [0, 1], bilinear and antialiased, without keeping the aspect ratio (ViTGaze)."""
    return F.interpolate(image[None].float(), size=(size, size), mode="bilinear", align_corners=False,
                         antialias=True)[0].clamp(0, 1)


class GazeSamples(Dataset):
    """One item per person: ``image`` (3, S, S) in [0, 1], ``box`` (4,), ``gaze`` (K, 2), ``inout`` ().

    Parameters
    ----------
    people
        Table with normalised head boxes ``x1, y1, x2, y2``, ``scene`` (row of ``images``), gaze ``gaze_x, gaze_y``
        (or, for several annotators per person, a column ``gaze`` of (K, 2) arrays; -1 when out of frame) and
        ``inout`` (1/0). Optional ``height, width``: the original image sizes, for AUC at image size.
    images
        (n, 3, S, S) tensor in [0, 1], or an :class:`ImageSource` with that ``shape``.

    Raises
    ------
    ValueError
        If a column is missing or a ``scene`` is not a row of ``images``.
    """

    def __init__(self, people: pd.DataFrame, images: torch.Tensor | ImageSource):
        missing = [c for c in BOX_COLUMNS + ["inout", "scene"] if c not in people.columns]
        if "gaze" not in people.columns:
            missing += [c for c in ("gaze_x", "gaze_y") if c not in people.columns]
        if missing:
            raise ValueError(f"people table lacks columns {missing}; has {list(people.columns)}")
        if len(images.shape) != 4 or images.shape[1] != 3:
            raise ValueError(f"images must be (n, 3, S, S), got shape {tuple(images.shape)}")
        scenes = people["scene"].to_numpy()
        if len(scenes) and (scenes.min() < 0 or scenes.max() >= len(images)):
            raise ValueError(f"people.scene must index the {len(images)} images, got values in "
                             f"[{scenes.min()}, {scenes.max()}]")
        self.people = people.reset_index(drop=True)
        self.images = images
        if "gaze" in self.people.columns:
            rows = [np.asarray(g, dtype=np.float32).reshape(-1, 2) for g in self.people["gaze"]]
            k = max(len(r) for r in rows)
            self.gaze = np.full((len(rows), k, 2), -1.0, dtype=np.float32)
            for i, r in enumerate(rows):
                self.gaze[i, :len(r)] = r
        else:
            self.gaze = self.people[["gaze_x", "gaze_y"]].to_numpy(np.float32)[:, None]
        self._gaze = torch.from_numpy(self.gaze.copy())
        self.boxes = torch.tensor(self.people[BOX_COLUMNS].to_numpy(np.float32))
        self.inout = torch.tensor(self.people["inout"].to_numpy(np.float32))

    @property
    def size(self) -> tuple[int, int]:
        """(H, W) of the images fed to the model."""
        return int(self.images.shape[-2]), int(self.images.shape[-1])

    def __len__(self) -> int:
        return len(self.people)

    def image(self, i: int) -> torch.Tensor:
        """(3, S, S) image of item ``i``."""
        return self.images[int(self.people["scene"].iat[i])]

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"image": self.image(i), "box": self.boxes[i], "gaze": self._gaze[i], "inout": self.inout[i]}
