"""Per-model image preprocessing: resize, centre crop, normalise.

Every harness uses the same object, found by :func:`preprocessing_for`. Images are float tensors
(B, 3, H, W) in [0, 1].
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
import torch.nn.functional as F
import torchvision
from timm.data import resolve_data_config

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
ATTRIBUTE = "cogvision_preprocessing"


@dataclass(frozen=True)
class Preprocessing:
    """Resize the shorter side to ``resize``, centre-crop to ``crop``, normalise by ``mean``/``std``.

    Attributes
    ----------
    crop : int
        Side of the square input the model expects.
    resize : int
        Shorter side before cropping (``crop`` / crop_pct).
    mean, std : tuple of float
        Per-channel normalisation.
    interpolation : str
        ``"bilinear"`` or ``"bicubic"``.
    source : str
        Where the values came from (``timm``, ``torchvision``, ``default``, ``user``).
    """

    crop: int = 224
    resize: int = 256
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    interpolation: str = "bilinear"
    source: str = "default"

    def resize_crop(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) in [0, 1] -> (B, C, crop, crop) in [0, 1]."""
        _check_images(images)
        h, w = images.shape[-2:]
        scale = self.resize / min(h, w)
        size = (max(self.crop, round(h * scale)), max(self.crop, round(w * scale)))
        if size != (h, w):
            images = F.interpolate(images, size=size, mode=self.interpolation, align_corners=False,
                                   antialias=True).clamp(0, 1)
        top = (size[0] - self.crop) // 2
        left = (size[1] - self.crop) // 2
        return images[..., top:top + self.crop, left:left + self.crop]

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        """Subtract ``mean`` and divide by ``std`` per channel."""
        _check_images(images)
        mean = torch.tensor(self.mean, dtype=images.dtype, device=images.device).view(1, -1, 1, 1)
        std = torch.tensor(self.std, dtype=images.dtype, device=images.device).view(1, -1, 1, 1)
        return (images - mean) / std

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """Resize, crop and normalise."""
        return self.normalize(self.resize_crop(images))


def as_float_images(images: torch.Tensor) -> torch.Tensor:
    """Images as a float tensor: uint8 in [0, 255] is converted to [0, 1] with a warning; other integer
    or boolean tensors are refused.

    Raises
    ------
    ValueError
        If ``images`` is not a tensor, or holds integers other than uint8.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     as_float_images(torch.full((1, 3, 2, 2), 255, dtype=torch.uint8)).max().item()
    1.0
    """
    if not isinstance(images, torch.Tensor):
        raise ValueError(f"expected images as a torch tensor (B, 3, H, W), got {type(images).__name__}")
    if images.dtype == torch.uint8:
        warnings.warn("uint8 images converted to float in [0, 1] (divided by 255)", stacklevel=3)
        return images.float() / 255.0
    if not images.is_floating_point():
        raise ValueError(f"expected images as float in [0, 1] (or uint8 in [0, 255]), got dtype {images.dtype}")
    return images


def _check_images(images: torch.Tensor) -> None:
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.shape[1] not in (1, 3):
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"expected images as a float tensor (B, 3, H, W) in [0, 1], got {shape}")


def timm_preprocessing(model: torch.nn.Module) -> Preprocessing:
    """Preprocessing from timm's data config of ``model``."""
    cfg = resolve_data_config({}, model=model)
    crop = int(cfg["input_size"][-1])
    return Preprocessing(crop=crop, resize=round(crop / cfg.get("crop_pct", 0.875)),
                         mean=tuple(cfg["mean"]), std=tuple(cfg["std"]),
                         interpolation="bicubic" if cfg.get("interpolation") == "bicubic" else "bilinear",
                         source="timm")


def torchvision_preprocessing(name: str) -> Preprocessing:
    """Preprocessing from the default weights' transforms of torchvision model ``name``."""
    try:
        weights = torchvision.models.get_model_weights(name).DEFAULT
    except (ValueError, AttributeError):
        return Preprocessing(source="default")
    t = weights.transforms()
    return Preprocessing(crop=int(t.crop_size[0]), resize=int(t.resize_size[0]), mean=tuple(t.mean),
                         std=tuple(t.std), interpolation=t.interpolation.value, source="torchvision")


def preprocessing_for(model: torch.nn.Module) -> Preprocessing:
    """The preprocessing attached to ``model`` by ``load_model`` (ImageNet defaults otherwise)."""
    return getattr(model, ATTRIBUTE, None) or Preprocessing()


def set_preprocessing(model: torch.nn.Module, preprocessing: Preprocessing) -> torch.nn.Module:
    """Attach ``preprocessing`` to ``model`` (e.g. explicit mean/std for a custom network)."""
    setattr(model, ATTRIBUTE, preprocessing)
    return model
