"""A synthetic brain with known ground truth, built from real photographs.

Stimuli are composites of the wheel photographs (scikit-image and matplotlib, no download):
an augmented crop of a scene photograph as background, and in most stimuli one "object" (a face from
``astronaut`` or ``grace_hopper``, or the cat from ``chelsea``) pasted at a random place and size
with a soft mask. A fixed network (seeded) gives a feature grid F (C, H, W) per stimulus; features
are z-scored per channel. Two kinds of simulated voxels read those features:

- **retinotopic**: a fixed isotropic Gaussian receptive field g over the grid times a feature weight
  vector w: ``s = w . sum_hw g(hw) F(hw)``. Their ROI is the quadrant of the RF centre (``ret_ul``,
  ``ret_ur``, ``ret_ll``, ``ret_lr``);
- **category-selective**: the features pooled wherever a given content is, wherever it appears:
  ``s = w . sum_hw m_c(hw) F(hw) / sum_hw m_c(hw)`` with m_c the content's mask on the grid (0 when
  the content is absent). ROI ``cat_<category>``. With ``category_pooling="fixed"`` (the control of the
  transformer encoder's claim) m_c is instead a fixed broad Gaussian per category at a random place, the
  same for every stimulus: no content gating, so a linear map over positions can express these voxels.

Each voxel also has a ``hemisphere``: retinotopic voxels the one contralateral to their RF centre
(left half of the grid -> ``rh``), category voxels alternately ``lh`` / ``rh`` within each category.

Signals are z-scored, then noise is added so that the noise ceiling (signal fraction of the variance
of the response averaged over ``n_repeats``) is ``noise_ceiling``; the best possible Pearson r is
``sqrt(noise_ceiling)``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
import xarray as xr

from cogvision.models import extract_features, load_model
from data_loaders.images import _read_builtin, to_tensor

BACKGROUNDS = ("coffee", "rocket", "camera", "hubble_deep_field", "retina")
# (photograph, (row0, row1, col0, col1)) crops holding each content
OBJECTS = {
    "face": (("astronaut", (20, 230, 150, 330)), ("grace_hopper", (80, 380, 110, 400))),
    "cat": (("chelsea", (0, 300, 60, 420)),),
}
QUADRANTS = ("ret_ul", "ret_ur", "ret_ll", "ret_lr")
CATEGORY_POOLING = ("content", "fixed")


def _shrink(photo: torch.Tensor, side: int) -> torch.Tensor:
    """Downscale (3, H, W) once so that its shorter side is ``side`` (later crops stay sharp enough)."""
    scale = side / min(photo.shape[-2:])
    size = (round(photo.shape[-2] * scale), round(photo.shape[-1] * scale))
    return F.interpolate(photo[None], size=size, mode="bilinear", antialias=True, align_corners=False)[0]


def _background(photo: torch.Tensor, size: int, rng: np.random.Generator) -> torch.Tensor:
    h, w = photo.shape[-2:]
    side = int(min(h, w) * rng.uniform(0.4, 1.0))
    top, left = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
    crop = photo[:, top:top + side, left:left + side]
    if rng.random() < 0.5:
        crop = crop.flip(-1)
    image = F.interpolate(crop[None], size=(size, size), mode="bilinear", antialias=True, align_corners=False)[0]
    return (image * rng.uniform(0.7, 1.2)).clamp(0, 1)


def _paste(image: torch.Tensor, obj: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Paste ``obj`` at a random place and size with a soft elliptical mask; returns the pixel mask."""
    size = image.shape[-1]
    side = int(size * rng.uniform(0.3, 0.5))
    patch = F.interpolate(obj[None], size=(side, side), mode="bilinear", antialias=True, align_corners=False)[0]
    if rng.random() < 0.5:
        patch = patch.flip(-1)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, side), torch.linspace(-1, 1, side), indexing="ij")
    alpha = torch.sigmoid((1 - (yy**2 + xx**2)) * 8)
    top, left = rng.integers(0, size - side + 1), rng.integers(0, size - side + 1)
    mask = torch.zeros(size, size)
    mask[top:top + side, left:left + side] = alpha
    region = image[:, top:top + side, left:left + side]
    image[:, top:top + side, left:left + side] = alpha * patch.clamp(0, 1) + (1 - alpha) * region
    return mask


def synthetic_stimuli(n_stimuli: int, size: int = 64, p_object: float = 0.8,
                      seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Composite stimuli and their content masks.

    Returns
    -------
    images : torch.Tensor
        (n_stimuli, 3, size, size) in [0, 1].
    masks : torch.Tensor
        (n_stimuli, n_categories, size, size) soft pixel masks of each content (zeros when absent).
    categories : list of str
        Order of the mask channels.
    """
    rng = np.random.default_rng(seed)
    categories = list(OBJECTS)
    backgrounds = [_shrink(to_tensor(_read_builtin(name)), 2 * size) for name in BACKGROUNDS]
    objects = {cat: [_shrink(to_tensor(_read_builtin(name))[:, r0:r1, c0:c1], size) for name, (r0, r1, c0, c1) in crops]
               for cat, crops in OBJECTS.items()}
    images = torch.empty(n_stimuli, 3, size, size)
    masks = torch.zeros(n_stimuli, len(categories), size, size)
    for i in range(n_stimuli):
        images[i] = _background(backgrounds[rng.integers(len(backgrounds))], size, rng)
        if rng.random() < p_object:
            c = int(rng.integers(len(categories)))
            choices = objects[categories[c]]
            obj = choices[rng.integers(len(choices))] * rng.uniform(0.8, 1.2)
            masks[i, c] = _paste(images[i], obj, rng)
    return images, masks, categories


def _gaussian_maps(centres: np.ndarray, sigmas: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    yy, xx = np.meshgrid(np.arange(grid[0]), np.arange(grid[1]), indexing="ij")
    d2 = (yy[None] - centres[:, 0, None, None]) ** 2 + (xx[None] - centres[:, 1, None, None]) ** 2
    maps = np.exp(-d2 / (2 * sigmas[:, None, None] ** 2))
    return maps / maps.sum((1, 2), keepdims=True)


def category_pooling_maps(content: np.ndarray, pooling: str, seed: int) -> np.ndarray:
    """Where each category voxel pools the features, per stimulus: (n, n_categories, H, W).

    Parameters
    ----------
    content : ndarray of shape (n, n_categories, H, W)
        Content masks on the feature grid.
    pooling : {"content", "fixed"}
        ``"content"``: the masks themselves (content-gated). ``"fixed"``: one Gaussian per category
        (centre uniform in the middle 80% of the grid, sigma 0.2 of its height, drawn from ``seed + 2``),
        the same for every stimulus whatever it shows.
    seed : int
    """
    if pooling not in CATEGORY_POOLING:
        raise ValueError(f"category_pooling must be one of {CATEGORY_POOLING}, got {pooling!r}")
    if pooling == "content":
        return content
    n, k, gh, gw = content.shape
    rng = np.random.default_rng(seed + 2)  # its own stream: every other draw stays that of "content"
    centres = rng.uniform([0.1 * gh, 0.1 * gw], [0.9 * gh - 1, 0.9 * gw - 1], size=(k, 2))
    fixed = _gaussian_maps(centres, np.full(k, 0.2 * gh), (gh, gw))
    return np.broadcast_to(fixed, (n, *fixed.shape))


def make_synthetic_brain(  # 107 lines: one generative recipe, step by step; its parts are the helpers above
    n_stimuli: int = 240,
    *,
    image_size: int = 64,
    model: str = "cogvision.models.builtin:tiny_cnn",
    layer: str = "features.2",
    n_retinotopic: int = 32,
    n_category: int = 16,
    noise_ceiling: float = 0.6,
    n_repeats: int = 2,
    category_pooling: str = "content",
    seed: int = 0,
    device: str = "cpu",
) -> xr.Dataset:
    """Stimuli, features of a fixed network and simulated voxels with known receptive fields.

    Parameters
    ----------
    n_stimuli
        Number of composite stimuli.
    image_size
        Side of the stimuli in pixels.
    model, layer
        Feature network (seeded by ``seed``; random init for built-in models) and a conv layer.
    n_retinotopic, n_category
        Voxels of each kind (category voxels are split evenly over the categories).
    noise_ceiling
        Signal fraction of the variance of the averaged responses (0 < nc <= 1).
    n_repeats
        Independent noisy repeats averaged into ``responses``.
    category_pooling : {"content", "fixed"}
        Category voxels pool the features under their content's mask (content-gated, the default) or
        under a fixed Gaussian map per category (centre uniform in the middle 80% of the grid, sigma
        0.2 of its side) that ignores the stimulus.
    seed
        Seeds stimuli, network, receptive fields, weights and noise.
    device
        Where the network runs.

    Returns
    -------
    xarray.Dataset
        ``images`` (stimulus, rgb, py, px); ``content`` (stimulus, category, y, x) masks on the feature
        grid; ``features`` (stimulus, channel, y, x); ``signal`` and ``responses`` (stimulus, voxel);
        ``repeats`` (repeat, stimulus, voxel). Voxel coordinates ``kind`` (retinotopic/category),
        ``roi``, ``preferred`` (category), ``rf_y``, ``rf_x``, ``rf_sigma`` (grid units, NaN for category voxels).
        ``hemisphere`` (lh/rh). ``attrs``: model, layer, seed, noise_ceiling, category_pooling.
    """
    if category_pooling not in CATEGORY_POOLING:
        raise ValueError(f"category_pooling must be one of {CATEGORY_POOLING}, got {category_pooling!r}")
    if not 0 < noise_ceiling <= 1:
        raise ValueError(f"noise_ceiling must be in (0, 1], got {noise_ceiling}")
    if n_repeats < 1:
        raise ValueError(f"n_repeats must be >= 1, got {n_repeats}")
    images, pixel_masks, categories = synthetic_stimuli(n_stimuli, image_size, seed=seed)
    torch.manual_seed(seed)
    net = load_model(model, device=device)
    feats = extract_features(net, images, [layer])[layer]
    if feats.ndim != 4:
        raise ValueError(f"layer {layer!r} of {model} gives dims {feats.dims}; the synthetic brain needs a conv map")
    fmap = feats.values.astype(np.float64)
    fmap = (fmap - fmap.mean((0, 2, 3), keepdims=True)) / (fmap.std((0, 2, 3), keepdims=True) + 1e-8)
    n, c, gh, gw = fmap.shape
    content = F.adaptive_avg_pool2d(pixel_masks, (gh, gw)).numpy()

    rng = np.random.default_rng(seed + 1)
    centres = rng.uniform([0.1 * gh, 0.1 * gw], [0.9 * gh - 1, 0.9 * gw - 1], size=(n_retinotopic, 2))
    sigmas = rng.uniform(0.06, 0.15, n_retinotopic) * gh
    rfs = _gaussian_maps(centres, sigmas, (gh, gw))
    weights = rng.normal(size=(n_retinotopic + n_category, c)) / np.sqrt(c)
    retino = np.einsum("nchw,vhw,vc->nv", fmap, rfs, weights[:n_retinotopic])
    cat_of = np.arange(n_category) % len(categories)
    pooling_maps = category_pooling_maps(content, category_pooling, seed)
    area = pooling_maps.sum((2, 3))  # (n, categories)
    pooled = np.einsum("nchw,nkhw->nkc", fmap, pooling_maps) / np.maximum(area, 1e-6)[..., None]
    category = np.einsum("nvc,vc->nv", pooled[:, cat_of], weights[n_retinotopic:])
    signal = np.concatenate([retino, category], 1)
    signal = (signal - signal.mean(0)) / signal.std(0)

    noise_sd = np.sqrt(n_repeats * (1 - noise_ceiling) / noise_ceiling)
    repeats = signal[None] + noise_sd * rng.normal(size=(n_repeats, *signal.shape))
    half = np.array([gh - 1, gw - 1]) / 2
    quadrant = (centres[:, 0] > half[0]) * 2 + (centres[:, 1] > half[1])
    hemisphere = np.where(centres[:, 1] > half[1], "lh", "rh").tolist()  # contralateral to the RF
    hemisphere += ["lh" if (k // len(categories)) % 2 == 0 else "rh" for k in range(n_category)]
    voxel = {
        "kind": ("voxel", ["retinotopic"] * n_retinotopic + ["category"] * n_category),
        "roi": ("voxel", [QUADRANTS[q] for q in quadrant] + [f"cat_{categories[k]}" for k in cat_of]),
        "preferred": ("voxel", [""] * n_retinotopic + [categories[k] for k in cat_of]),
        "rf_y": ("voxel", np.concatenate([centres[:, 0], np.full(n_category, np.nan)])),
        "rf_x": ("voxel", np.concatenate([centres[:, 1], np.full(n_category, np.nan)])),
        "rf_sigma": ("voxel", np.concatenate([sigmas, np.full(n_category, np.nan)])),
        "hemisphere": ("voxel", hemisphere),
    }
    return xr.Dataset(
        {
            "images": (("stimulus", "rgb", "py", "px"), images.numpy()),
            "content": (("stimulus", "category", "y", "x"), content.astype(np.float32)),
            "features": (("stimulus", "channel", "y", "x"), fmap.astype(np.float32)),
            "signal": (("stimulus", "voxel"), signal),
            "responses": (("stimulus", "voxel"), repeats.mean(0)),
            "repeats": (("repeat", "stimulus", "voxel"), repeats),
        },
        coords={"stimulus": np.arange(n), "category": categories, "voxel": np.arange(signal.shape[1]), **voxel},
        attrs={"model": model, "layer": layer, "seed": seed, "noise_ceiling": noise_ceiling,
               "category_pooling": category_pooling},
    )
