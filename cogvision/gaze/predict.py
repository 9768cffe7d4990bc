"""Prediction API: an image and one or more head boxes -> heatmaps, gaze points, in-frame probabilities.

>>> import torch
>>> from cogvision.gaze.model import build_vitgaze
>>> from cogvision.gaze.predict import predict
>>> model = build_vitgaze("cogvision.models.builtin:tiny_vit", device="cpu")
>>> result = predict(model, torch.rand(3, 120, 160), [(10, 10, 40, 40), (100, 20, 130, 60)])
>>> result["heatmap"].dims, result["inout"].shape
(('person', 'y', 'x'), (2,))
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import xarray as xr
from torch.utils.data import DataLoader, Dataset

from cogvision._docs import fill_doc
from cogvision.device import resolve_device
from cogvision.gaze.metrics import gaze_point
from cogvision.gaze.model import ViTGaze
from cogvision.gaze.samples import stretch_resize
from cogvision.reporting import progress as progress_bar


def pixel_boxes_to_normalised(heads: Sequence[Sequence[float]], width: int, height: int) -> torch.Tensor:
    """(P, 4) normalised boxes from pixel ``x1, y1, x2, y2`` boxes, checking they fit the image.

    Raises
    ------
    ValueError
        Naming the head whose box is not 4 numbers, lies outside the ``width`` x ``height`` image, or has
        zero area.
    """
    if len(heads) == 0:
        raise ValueError("at least one head box x1,y1,x2,y2 is needed")
    boxes = []
    for i, head in enumerate(heads):
        head = [float(v) for v in head]
        if len(head) != 4 or not np.all(np.isfinite(head)):
            raise ValueError(f"head {i}: expected 4 finite numbers x1,y1,x2,y2 in pixels, got {head}")
        x1, y1, x2, y2 = head
        if x2 <= x1 or y2 <= y1:
            raise ValueError(f"head {i}: box {head} has zero area (need x2 > x1 and y2 > y1)")
        if x1 < 0 or y1 < 0 or x2 > width or y2 > height:
            raise ValueError(f"head {i}: box {head} lies outside the {width}x{height} image")
        boxes.append([x1 / width, y1 / height, x2 / width, y2 / height])
    return torch.tensor(boxes, dtype=torch.float32)


@fill_doc
@torch.no_grad()
def predict(model: ViTGaze, image: torch.Tensor, heads: Sequence[Sequence[float]],
            refine: bool = False, image_size: int | None = None, device: str | torch.device = "auto") -> xr.Dataset:
    """Gaze of every person in one image, from a single backbone pass.

    Parameters
    ----------
    model
        A :class:`~cogvision.gaze.model.ViTGaze`.
    image
        (3, H, W) float in [0, 1] (read a file with ``data_loaders.images.read_image``).
    heads
        Head boxes ``(x1, y1, x2, y2)`` in pixels of the original image, one per person.
    refine
        Sub-pixel gaze points by DARK (:func:`cogvision.gaze.metrics.dark_refine`).
    image_size
        Square input side; default ``model.image_size``. The image is resized without keeping its aspect
        ratio (as ViTGaze does).
    %(device)s

    Returns
    -------
    xarray.Dataset
        ``heatmap`` (person, y, x) on the output grid, with ``y``/``x`` coordinates in image pixels;
        ``gaze_x``, ``gaze_y`` (person) in pixels; ``gaze_x_norm``, ``gaze_y_norm`` in [0, 1];
        ``inout`` (person): probability that the target is inside the frame; ``box`` (person, corner).
        Attributes ``width``, ``height``, ``input_size``.
    """
    if not isinstance(image, torch.Tensor) or image.ndim != 3 or image.shape[0] != 3:
        raise ValueError(f"image must be a (3, H, W) tensor in [0, 1], got {getattr(image, 'shape', type(image))}")
    if not image.is_floating_point():
        raise ValueError(f"image must be float in [0, 1], got {image.dtype} (divide uint8 images by 255)")
    height, width = image.shape[-2:]
    boxes = pixel_boxes_to_normalised(heads, width, height)
    size = int(image_size or model.image_size)
    dev = resolve_device(device)
    model = model.to(dev).eval()
    x = stretch_resize(image, size)[None].to(dev)
    out = model(x, boxes.to(dev), torch.zeros(len(boxes), dtype=torch.long, device=dev))
    heatmaps = out.heatmap.float().cpu().numpy()
    points = np.array([gaze_point(h, refine=refine) for h in heatmaps])
    h, w = heatmaps.shape[-2:]
    return xr.Dataset(
        {
            "heatmap": (("person", "y", "x"), heatmaps),
            "gaze_x": ("person", points[:, 0] * width),
            "gaze_y": ("person", points[:, 1] * height),
            "gaze_x_norm": ("person", points[:, 0]),
            "gaze_y_norm": ("person", points[:, 1]),
            "inout": ("person", torch.sigmoid(out.inout_logit).float().cpu().numpy()),
            "box": (("person", "corner"), boxes.numpy() * np.array([width, height, width, height])),
        },
        coords={"person": np.arange(len(boxes)), "y": (np.arange(h) + 0.5) * height / h,
                "x": (np.arange(w) + 0.5) * width / w, "corner": ["x1", "y1", "x2", "y2"]},
        attrs={"width": int(width), "height": int(height), "input_size": size, "refined": int(refine)},
    )


@fill_doc
@torch.no_grad()
def predict_dataset(model: ViTGaze, dataset: Dataset, batch_size: int = 64, device: str | torch.device = "auto",
                    progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Heatmaps and in-frame probabilities for every item of a :class:`~cogvision.gaze.samples.GazeSamples`.

    Parameters
    ----------
    model
        A :class:`~cogvision.gaze.model.ViTGaze`.
    dataset
        Items ``{"image", "box", ...}`` (one person each).
    batch_size
        People per forward pass.
    %(device)s
    %(progress)s

    Returns
    -------
    heatmaps : numpy.ndarray
        (P, h, w).
    inout : numpy.ndarray
        (P,) probabilities.
    """
    dev = resolve_device(device)
    model = model.to(dev).eval()
    heatmaps, inout = [], []
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False)
    for batch in progress_bar(loader, desc="predict", disable=None if progress else True):
        out = model(batch["image"].to(dev), batch["box"].to(dev))
        heatmaps.append(out.heatmap.float().cpu())
        inout.append(torch.sigmoid(out.inout_logit).float().cpu())
    return torch.cat(heatmaps).numpy(), torch.cat(inout).numpy()
