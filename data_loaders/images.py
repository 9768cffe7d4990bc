"""Real photographs that ship inside installed wheels, and images from a folder or glob.

Images come back as a float tensor (B, 3, H, W) in [0, 1] plus their names; class folders (and the toy
wheel-photograph classes of the foveation suite) as a ``TensorDataset`` of images and labels.
"""

from __future__ import annotations

import glob
import os
import warnings
from pathlib import Path

import matplotlib.cbook
import matplotlib.image
import numpy as np
import skimage.data
import skimage.io
import torch
import torch.nn.functional as F
import torchvision
from PIL import Image, UnidentifiedImageError
from torch.utils.data import TensorDataset

# Natural photographs in scikit-image's and matplotlib's wheels (no download needed).
BUILTIN_IMAGES = ("astronaut", "chelsea", "coffee", "rocket", "camera", "hubble_deep_field", "retina",
                  "grace_hopper")
#: Default pixel limit of :func:`read_image` (40 megapixels: above every data set used here, below the
#: images that would take gigabytes once decoded).
MAX_PIXELS = 40_000_000
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


def _read_builtin(name: str) -> np.ndarray:
    if name == "grace_hopper":
        with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as fh:
            return matplotlib.image.imread(fh, format="jpg")
    if name not in BUILTIN_IMAGES:
        raise ValueError(f"unknown built-in image {name!r}; available: {BUILTIN_IMAGES}")
    return getattr(skimage.data, name)()


def to_tensor(array: np.ndarray) -> torch.Tensor:
    """(H, W), (H, W, 3) or (H, W, 4) uint8/float array -> (3, H, W) float tensor in [0, 1]."""
    array = np.asarray(array)
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=-1)
    if array.ndim != 3 or array.shape[-1] not in (3, 4):
        raise ValueError(f"expected an image array (H, W), (H, W, 3) or (H, W, 4), got shape {array.shape}")
    array = array[..., :3]
    scale = 255.0 if array.dtype == np.uint8 else (65535.0 if array.dtype == np.uint16 else 1.0)
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32) / scale).permute(2, 0, 1).clamp(0, 1)


def square_resize(image: torch.Tensor, size: int) -> torch.Tensor:
    """Centre-crop (3, H, W) to a square and resize to ``size`` x ``size`` (antialiased)."""
    h, w = image.shape[-2:]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    crop = image[..., top:top + side, left:left + side]
    return F.interpolate(crop[None], size=(size, size), mode="bilinear", antialias=True,
                         align_corners=False)[0].clamp(0, 1)


def builtin_images(names: list[str] | None = None, size: int = 224) -> tuple[torch.Tensor, list[str]]:
    """Photographs shipped in scikit-image and matplotlib, centre-cropped square and resized.

    Parameters
    ----------
    names
        Subset of :data:`BUILTIN_IMAGES` (default: all).
    size
        Output side in pixels.

    Returns
    -------
    images : torch.Tensor
        (B, 3, size, size) in [0, 1].
    names : list of str
    """
    names = list(names) if names is not None else list(BUILTIN_IMAGES)
    return torch.stack([square_resize(to_tensor(_read_builtin(n)), size) for n in names]), names


def max_pixels() -> int:
    """The largest image (width x height) :func:`read_image` decodes: ``$COGVISION_MAX_PIXELS`` or
    :data:`MAX_PIXELS`."""
    value = os.environ.get("COGVISION_MAX_PIXELS", "")
    try:
        return int(value) if value else MAX_PIXELS
    except ValueError:
        raise ValueError(f"COGVISION_MAX_PIXELS must be a whole number of pixels, got {value!r}") from None


def _peek(path: Path) -> tuple[tuple[int, int], str] | None:
    """(width, height) and PIL mode from the header only, or ``None`` when PIL cannot identify the file."""
    try:
        with Image.open(path) as image:
            return image.size, image.mode
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError):
        return None


def read_image(path: str | Path, limit: int | None = None) -> torch.Tensor:
    """Read one image file as (3, H, W) in [0, 1].

    Parameters
    ----------
    path
        An image file (PNG, JPEG, TIFF, ...).
    limit
        Largest width x height decoded (default :func:`max_pixels`); checked from the header, before decoding.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        Naming the file: not an image, larger than ``limit``, or undecodable.

    Warns
    -----
    UserWarning
        When a CMYK image is converted to RGB.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image {path} does not exist" if not path.exists() else f"image {path} is not a file")
    limit = max_pixels() if limit is None else limit
    header = _peek(path)
    if header is not None:
        (width, height), mode = header
        if width * height > limit:
            raise ValueError(f"image {path} is {width}x{height} = {width * height} pixels, above the limit of "
                             f"{limit}; resize it, or raise COGVISION_MAX_PIXELS")
        if mode == "CMYK":
            warnings.warn(f"{path} is a CMYK image; converted to RGB", stacklevel=2)
            with Image.open(path) as image:
                return to_tensor(np.asarray(image.convert("RGB")))
    try:
        return to_tensor(skimage.io.imread(path))
    except Exception as err:  # any decoder failure is reported with the path
        if header is None:
            raise ValueError(f"cannot read image {path}: not an image file in a known format "
                             f"({', '.join(IMAGE_SUFFIXES)})") from None
        raise ValueError(f"cannot read image {path}: {' '.join(str(err).split())}") from None


def find_images(source: str | Path) -> list[Path]:
    """Image files in a folder (sorted, non-recursive) or matching a glob pattern."""
    source = str(source)
    if Path(source).is_dir():
        files = sorted(p for p in Path(source).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    else:
        files = sorted(Path(p) for p in glob.glob(source) if Path(p).suffix.lower() in IMAGE_SUFFIXES)
        if not files and not any(ch in source for ch in "*?["):
            raise FileNotFoundError(f"{source} is neither a folder nor a glob pattern that matches images")
    if not files:
        raise ValueError(f"no images ({', '.join(IMAGE_SUFFIXES)}) found in {source}")
    return files


def load_images(source: str | Path, size: int = 224, strict: bool = False) -> tuple[torch.Tensor, list[str], list[str]]:
    """Load every image of a folder or glob, centre-cropped square and resized to ``size``.

    Parameters
    ----------
    source
        Folder or glob pattern.
    size
        Output side in pixels.
    strict
        Raise on the first unreadable image instead of skipping it with a warning.

    Returns
    -------
    images : torch.Tensor
        (B, 3, size, size) in [0, 1].
    names : list of str
        File names of the images loaded.
    skipped : list of str
        Files that could not be read (empty when ``strict``).
    """
    images, names, skipped = [], [], []
    for path in find_images(source):
        try:
            images.append(square_resize(read_image(path), size))
            names.append(path.name)
        except ValueError as err:
            if strict:
                raise
            warnings.warn(f"skipping unreadable image: {err}", stacklevel=2)
            skipped.append(str(path))
    if not images:
        raise ValueError(f"none of the images in {source} could be read ({len(skipped)} unreadable)")
    return torch.stack(images), names, skipped


def load_image_folder(root: str | os.PathLike, size: int = 256) -> TensorDataset:
    """An ImageFolder (one sub-folder per class) as (images (N, 3, size, size) in [0, 1], labels), plus ``classes``.

    Raises
    ------
    FileNotFoundError
        When ``root`` is missing.
    ValueError
        When it holds no class folders with images.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"image folder {root} does not exist")
    transform = torchvision.transforms.Compose([
        torchvision.transforms.Resize((size, size), antialias=True), torchvision.transforms.ToTensor()])
    try:
        folder = torchvision.datasets.ImageFolder(str(root), transform=transform)
    except FileNotFoundError as err:
        raise ValueError(f"{root} holds no class sub-folders with images ({err})") from err
    images = torch.stack([folder[i][0] for i in range(len(folder))])
    dataset = TensorDataset(images, torch.tensor(folder.targets))
    dataset.classes = folder.classes
    return dataset


def wheel_dataset(n_per_class: int = 8, size: int = 64, seed: int = 0) -> TensorDataset:
    """A toy ImageFolder stand-in: random crops (with flips) of the 8 built-in photographs, one class each.

    Returns
    -------
    torch.utils.data.TensorDataset
        (images (8 n_per_class, 3, size, size) in [0, 1], labels), with ``classes`` the photographs' names.
    """
    photos, names = builtin_images(size=2 * size)
    generator = torch.Generator().manual_seed(seed)
    images, labels = [], []
    for label, photo in enumerate(photos):
        for _ in range(n_per_class):
            top, left = (int(v) for v in torch.randint(0, size + 1, (2,), generator=generator))
            crop = photo[:, top:top + size, left:left + size]
            if torch.rand(1, generator=generator) < 0.5:
                crop = crop.flip(-1)
            images.append(crop)
            labels.append(label)
    dataset = TensorDataset(torch.stack(images), torch.tensor(labels))
    dataset.classes = names
    return dataset
