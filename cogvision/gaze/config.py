"""The typed configuration of a ViTGaze training run, and the presets shipped with the package.

A run is described by a :class:`TrainConfig` (the keys of a ``cogvision gaze train CONFIG`` file): the
backbone spec, frozen or fine-tuned with layer-wise learning-rate decay (ViTGaze: AdamW, decay 0.65,
cosine schedule to 0.1 x lr), the loss weights, and the data (synthetic scenes, or GazeFollow rows with
head boxes and an image folder). Unknown keys, wrongly typed values and values out of range are one
``ValueError`` naming the file, the key and what was expected.

>>> TrainConfig(epochs=2).epochs
2
>>> train_config({"data": "vat"}, "run.yaml")
Traceback (most recent call last):
...
ValueError: run.yaml: data: expected 'synthetic' or 'gazefollow', got 'vat'
>>> train_config({"epoch": 3}, "run.yaml")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ValueError: run.yaml: unknown key 'epoch' (did you mean 'epochs'?); allowed keys: model, weights, ...
>>> preset("demo").n_train
1000
"""

from __future__ import annotations

import difflib
import os
from importlib import resources
from typing import Any, Literal, Mapping

from pydantic import Field, NonNegativeFloat, NonNegativeInt, PositiveFloat, PositiveInt, model_validator

from cogvision.config import Config, read_mapping, validate_config

__all__ = ["PRESETS", "TrainConfig", "preset", "read_train_config", "train_config"]

#: Preset names: ``cogvision/gaze/configs/<name>.json`` (``synthetic``: the run reported in the docs;
#: ``demo``: the ``cogvision demo`` section).
PRESETS = ("demo", "synthetic")


class TrainConfig(Config):
    """Everything a ViTGaze training run needs (the keys of a ``cogvision gaze train`` config file).

    Attributes
    ----------
    model
        Backbone spec for :func:`cogvision.models.load_model`.
    weights
        Local backbone weights, or ``None`` for random init.
    backbone_kwargs
        Extra constructor arguments for the backbone.
    image_size
        Square input side in pixels.
    n_blocks
        Evenly spaced attention blocks tapped (4 in ViTGaze).
    freeze_backbone
        Train only guidance, decoder and in/out head.
    layer_decay
        Layer-wise lr decay of a fine-tuned backbone (0.65 in ViTGaze), in (0, 1]; ``None`` for one lr everywhere.
    epochs, batch_size, lr, weight_decay, patience, grad_clip, cosine
        Optimisation (AdamW; ``cosine``: per-epoch cosine from lr to 0.1 lr).
    heatmap_weight, inout_weight
        Loss weights (1e4 and 100 in ViTGaze).
    data
        ``"synthetic"`` or ``"gazefollow"``.
    n_train, n_val, n_objects, p_out
        Synthetic scenes for training and validation.
    annotations, image_root, val_annotations
        GazeFollow 17-column annotation files (with head boxes) and the image folder.
    seed
        Seeds scenes, initialisation and batch order.
    features, guidance
        Ablations of :class:`~cogvision.gaze.model.ViTGaze`: ``features`` ``"interaction"`` (default) or
        ``"tokens"``; ``guidance`` ``"learned"`` (default) or ``"uniform"``.
    zero_init_output
        Start the decoder's output convolution at zero (see :class:`~cogvision.gaze.model.ViTGaze`).
    """

    model: str = "cogvision.models.builtin:tiny_vit"
    weights: str | None = None
    backbone_kwargs: dict[str, Any] = Field(default_factory=dict)
    image_size: PositiveInt = 64
    n_blocks: PositiveInt = 4
    freeze_backbone: bool = False
    layer_decay: float | None = Field(default=None, gt=0.0, le=1.0)
    epochs: PositiveInt = 10
    batch_size: PositiveInt = 32
    lr: PositiveFloat = 1e-3
    weight_decay: NonNegativeFloat = 0.05
    patience: PositiveInt | None = None
    grad_clip: PositiveFloat | None = 1.0
    cosine: bool = True
    heatmap_weight: NonNegativeFloat = 1e4
    inout_weight: NonNegativeFloat = 100.0
    data: Literal["synthetic", "gazefollow"] = "synthetic"
    n_train: PositiveInt = 2000
    n_val: PositiveInt = 200
    n_objects: PositiveInt = 3
    p_out: float = Field(default=0.2, ge=0.0, le=1.0)
    annotations: str | None = None
    val_annotations: str | None = None
    image_root: str | None = None
    seed: NonNegativeInt = 0
    features: Literal["interaction", "tokens"] = "interaction"
    guidance: Literal["learned", "uniform"] = "learned"
    zero_init_output: bool = False

    @model_validator(mode="after")
    def _gazefollow_needs_files(self) -> "TrainConfig":
        if self.data == "gazefollow" and (self.annotations is None or self.image_root is None):
            raise ValueError("data='gazefollow' needs the keys 'annotations' and 'image_root'")
        return self


def train_config(raw: Mapping[str, Any], source: str = "config") -> TrainConfig:
    """Validate a mapping of settings as a :class:`TrainConfig`.

    Raises
    ------
    ValueError
        Naming ``source`` and the bad keys: unknown ones (with the closest allowed key and the allowed keys),
        or every wrongly typed or out-of-range value with what was expected.
    """
    allowed = list(TrainConfig.model_fields)
    unknown = [key for key in raw if key not in allowed] if isinstance(raw, Mapping) else []
    if unknown:
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise ValueError(f"{source}: unknown key{'s' * (len(unknown) > 1)} {', '.join(hints)}; allowed keys: "
                         f"{', '.join(allowed)}")
    return validate_config(TrainConfig, raw, source)


def read_train_config(path: str | os.PathLike) -> TrainConfig:
    """Read a ``.json``, ``.toml`` or ``.yaml``/``.yml`` training config and validate it (:func:`train_config`).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        Naming the file: unreadable syntax, or every bad key (unknown, wrongly typed or out of range).
    """
    return train_config(read_mapping(path), str(path))


def preset(name: str, **changes: Any) -> TrainConfig:
    """A preset config shipped with the package (:data:`PRESETS`), with ``changes`` applied and validated.

    Raises
    ------
    ValueError
        For an unknown preset name, or a change that is not a valid setting.
    """
    if name not in PRESETS:
        raise ValueError(f"unknown gaze preset {name!r}; choose from {', '.join(PRESETS)}")
    with resources.as_file(resources.files("cogvision.gaze") / "configs" / f"{name}.json") as path:
        config = read_train_config(path)
    return train_config({**config.model_dump(), **changes}, source=f"preset {name!r}")
