"""ViTGaze: gaze following from a ViT's own attention (Song et al. 2024, arXiv 2403.12778).

``image -> backbone (one pass for every person) -> interaction tensor of 4 blocks -> spatial guidance
(head patches) -> (blocks x heads, H, W) -> decoder -> heatmap``; in/out-of-frame from an MLP on the
last block's patch tokens pooled with the same guidance weights.

>>> import torch
>>> from cogvision.gaze.model import build_vitgaze
>>> model = build_vitgaze("cogvision.models.builtin:tiny_vit", device="cpu")
>>> out = model(torch.rand(1, 3, 64, 64), torch.tensor([[0.1, 0.1, 0.3, 0.3], [0.6, 0.5, 0.8, 0.7]]),
...             torch.tensor([0, 0]))
>>> tuple(out.heatmap.shape), tuple(out.inout_logit.shape)
((2, 64, 64), (2,))

Save and load (weights plus the JSON config the model is rebuilt from):

>>> import tempfile
>>> from pathlib import Path
>>> path = model.save(Path(tempfile.mkdtemp()) / "vitgaze.safetensors")
>>> ViTGaze.load(path, device="cpu").config == model.config
True
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from torch import nn

from cogvision._docs import fill_doc
from cogvision.device import resolve_device
from cogvision.gaze.ablations import FEATURES, GUIDANCE, TokenFeatures, check_choice, uniform_weights
from cogvision.gaze.guidance import SpatialGuidance, check_boxes, expand_boxes, head_patch_mask
from cogvision.gaze.interaction import QueryKeyCapture, default_blocks, guided_interaction
from cogvision.io import atomic_write, read_checkpoint, read_safetensors
from cogvision.models import (
    FeatureRecorder,
    attention_modules,
    block_names,
    load_model,
    preprocessing_for,
    token_layout,
)

CHECKPOINT_FORMAT = "cogvision.gaze.ViTGaze/1"


@dataclass
class GazeOutput:
    """What :class:`ViTGaze` returns for P people.

    Attributes
    ----------
    heatmap : torch.Tensor
        (P, 8*rows, 8*cols) gaze heatmap (regressed onto a Gaussian with peak 1; not a probability).
    inout_logit : torch.Tensor
        (P,) logit of "gaze target inside the frame".
    weights : torch.Tensor
        (P, rows, cols) spatial-guidance weights over the patch grid.
    """

    heatmap: torch.Tensor
    inout_logit: torch.Tensor
    weights: torch.Tensor


class HeatmapDecoder(nn.Sequential):
    """``len(channels)`` x [bilinear x2 (align_corners) -> Conv3x3 -> BN -> ReLU], then Conv1x1 to one map.

    ViTGaze's ``UpSampleConv`` with channels 24 -> 16 -> 8 -> 1: 4,757 parameters for ViT-S.
    """

    def __init__(self, in_channels: int, channels: tuple[int, ...] = (16, 8, 1)):
        layers: list[nn.Module] = []
        for out in channels:
            layers += [nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True),
                       nn.Conv2d(in_channels, out, 3, padding=1), nn.BatchNorm2d(out), nn.ReLU()]
            in_channels = out
        layers.append(nn.Conv2d(in_channels, 1, 1))
        super().__init__(*layers)


class ViTGaze(nn.Module):
    """Gaze following on any timm-style ViT.

    Parameters
    ----------
    backbone
        A ViT with timm-style attention modules (``qkv``, ``num_heads``, ``q_norm``, ``k_norm``), a
        ``patch_embed`` and ``embed_dim``; e.g. from :func:`cogvision.models.load_model`.
    blocks
        Blocks whose attention forms the interaction tensor; default ``n_blocks`` evenly spaced ones.
    n_blocks
        How many evenly spaced blocks to tap when ``blocks`` is not given (4 in the paper).
    guidance_dim
        Width of the spatial-guidance conv stem (8 in the paper).
    decoder_channels
        Output channels of the decoder stages (16, 8, 1 in the paper; each stage doubles the size).
    head_box_expand
        Fraction of the head box's size added on each side before pooling onto patches (0.1 in the
        paper's data loader).
    freeze_backbone
        Keep the backbone fixed (no gradients, eval mode) and train only guidance, decoder and in/out head.
    image_size
        Default input side for :mod:`cogvision.gaze.predict` (default: the backbone's preprocessing crop).
    features
        ``"interaction"`` (the paper: attention rows of the head patches) or ``"tokens"`` (ablation: the
        same decoder on the tapped blocks' plain patch tokens plus the head token, see
        :class:`cogvision.gaze.ablations.TokenFeatures`).
    guidance
        ``"learned"`` (the paper's ``PatchPAM`` scoring) or ``"uniform"`` (ablation: equal weights on the
        head patches).
    zero_init_output
        Start the decoder's last 1x1 convolution at zero, so the first maps are 0 rather than an offset
        of about 0.5 that the 10,000-weighted MSE then removes by killing the decoder's ReLUs (a flat-map
        collapse seen in some seeds when training from scratch). ``False`` is the paper's initialisation.

    Notes
    -----
    ``forward`` takes images in [0, 1] and normalises them with the backbone's preprocessing mean/std.
    """

    def __init__(self, backbone: nn.Module, blocks: list[str] | None = None, n_blocks: int = 4, guidance_dim: int = 8,
                 decoder_channels: tuple[int, ...] = (16, 8, 1), head_box_expand: float = 0.1,
                 freeze_backbone: bool = False, image_size: int | None = None, features: str = "interaction",
                 guidance: str = "learned", zero_init_output: bool = False):
        super().__init__()
        self.features = check_choice(features, FEATURES, "features")
        self.guidance_kind = check_choice(guidance, GUIDANCE, "guidance")
        self.blocks = list(blocks) if blocks is not None else default_blocks(backbone, n_blocks)
        modules = {name.rsplit(".", 1)[0]: m for name, m in attention_modules(backbone).items()}
        missing = [b for b in self.blocks if b not in modules]
        if missing:
            raise ValueError(f"no attention block(s) {missing} in {type(backbone).__name__}; "
                             f"available: {list(modules)}")
        if not hasattr(backbone, "embed_dim"):
            raise ValueError(f"{type(backbone).__name__} has no embed_dim: the in/out head needs the token width")
        prep = preprocessing_for(backbone)
        self.backbone = backbone
        self.last_block = block_names(backbone)[-1]
        self.patch_size = token_layout(backbone, (1, 1)).patch_size
        self.head_box_expand = float(head_box_expand)
        self.freeze_backbone = bool(freeze_backbone)
        self.image_size = int(image_size or prep.crop)
        channels = sum(modules[b].num_heads for b in self.blocks)
        dim = int(backbone.embed_dim)
        self.guidance = SpatialGuidance(self.patch_size, guidance_dim) if guidance == "learned" else None
        self.token_features = (TokenFeatures(dim, [modules[b].num_heads for b in self.blocks])
                               if features == "tokens" else None)
        self.decoder = HeatmapDecoder(channels, tuple(decoder_channels))
        if zero_init_output:
            nn.init.zeros_(self.decoder[-1].weight)
            nn.init.zeros_(self.decoder[-1].bias)
        self.inout = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, 1))
        self.register_buffer("mean", torch.tensor(prep.mean, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(prep.std, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)
        if self.freeze_backbone:
            self.backbone.requires_grad_(False)
        self.config: dict[str, Any] = {}
        self.extra: dict[str, Any] = {}

    def save(self, path: str | os.PathLike, extra: dict[str, Any] | None = None) -> Path:
        """Write the model as weights plus the JSON config it is rebuilt from, atomically.

        Parameters
        ----------
        path
            ``.safetensors``: tensors with the config in the file's metadata; any other suffix (``.pt``): a
            weights-only torch file ``{"format", "config", "extra", "state_dict"}``. Both are read by
            :meth:`load` without running code from the file.
        extra
            JSON-ready record stored beside the config (e.g. the training config).

        Raises
        ------
        ValueError
            If the model was not built by :func:`build_vitgaze` (it has no config to rebuild it from).
        """
        if not self.config:
            raise ValueError("model has no config: build it with build_vitgaze so that it can be rebuilt on load")
        path = Path(path)
        state = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        config = json.loads(json.dumps(self.config))  # plain JSON values only
        extra = json.loads(json.dumps(extra or {}, default=str))
        if path.suffix == ".safetensors":
            meta = {"format": CHECKPOINT_FORMAT, "config": json.dumps(config), "extra": json.dumps(extra)}
            return atomic_write(path, lambda tmp: save_file(state, str(tmp), metadata=meta))
        record = {"format": CHECKPOINT_FORMAT, "config": config, "extra": extra, "state_dict": state}
        return atomic_write(path, lambda tmp: torch.save(record, tmp))

    @classmethod
    @fill_doc
    def load(cls, path: str | os.PathLike, device: str | torch.device = "auto") -> "ViTGaze":
        """Rebuild a model written by :meth:`save` (by keyword, from its config), with its weights.

        Parameters
        ----------
        path
            A ``.safetensors`` or weights-only torch file from :meth:`save`.
        %(device)s

        Raises
        ------
        FileNotFoundError
            If ``path`` does not exist.
        ValueError
            If the file is empty, corrupt, not a ViTGaze checkpoint, or its weights do not fit its config.
        """
        path = Path(path)
        config, extra, state = _read_vitgaze_file(path)
        try:
            model = build_vitgaze(config["spec"], device="cpu", backbone_kwargs=config["backbone_kwargs"],
                                  **config["gaze_kwargs"])
            model.load_state_dict(state)
        except (KeyError, TypeError, RuntimeError) as err:
            raise ValueError(f"ViTGaze checkpoint {path} does not rebuild its model "
                             f"({type(err).__name__}: {' '.join(str(err).split())[:300]})") from None
        model.extra = extra
        return model.to(resolve_device(device)).eval()

    def train(self, mode: bool = True) -> "ViTGaze":
        """Set training mode; a frozen backbone stays in eval mode."""
        super().train(mode)
        if self.freeze_backbone:
            self.backbone.eval()
        return self

    def forward(self, images: torch.Tensor, boxes: torch.Tensor, image_index: torch.Tensor | None = None) -> GazeOutput:
        """Heatmaps and in/out logits for every person.

        Parameters
        ----------
        images
            (B, 3, H, W) in [0, 1]; H and W are best multiples of the patch size.
        boxes
            (P, 4) head boxes, normalised ``x1, y1, x2, y2`` in [0, 1].
        image_index
            (P,) long: which image each person is in; default ``arange(B)`` (one person per image).

        Returns
        -------
        GazeOutput
        """
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"images must be (B, 3, H, W), got {tuple(images.shape)}")
        check_boxes(boxes)
        if image_index is None:
            if boxes.shape[0] != images.shape[0]:
                raise ValueError(f"{boxes.shape[0]} boxes for {images.shape[0]} images: pass image_index "
                                 "to say which image each person is in")
            image_index = torch.arange(images.shape[0], device=images.device)
        if image_index.shape != (boxes.shape[0],) or (image_index < 0).any() or (image_index >= images.shape[0]).any():
            raise ValueError(f"image_index must be ({boxes.shape[0]},) with values in [0, {images.shape[0]}), "
                             f"got {image_index.tolist()}")
        x = (images - self.mean) / self.std
        layout = token_layout(self.backbone, tuple(x.shape[-2:]))
        masks = head_patch_mask(expand_boxes(boxes, self.head_box_expand), tuple(x.shape[-2:]),
                                layout.patch_size, layout.grid)
        weights = self.guidance(x, masks, image_index) if self.guidance is not None else uniform_weights(masks)
        forward = getattr(self.backbone, "forward_features", self.backbone)
        grad = torch.is_grad_enabled() and not self.freeze_backbone
        if self.token_features is None:
            with QueryKeyCapture(self.backbone, self.blocks) as capture, \
                    FeatureRecorder(self.backbone, [self.last_block]) as recorder:
                with torch.set_grad_enabled(grad):
                    forward(x)
                features = guided_interaction(capture, layout, weights, image_index)
        else:
            with FeatureRecorder(self.backbone, list(dict.fromkeys(self.blocks + [self.last_block]))) as recorder:
                with torch.set_grad_enabled(grad):
                    forward(x)
            features = self.token_features([recorder.outputs[b][:, layout.n_prefix:] for b in self.blocks],
                                           weights, image_index, layout.grid)
        tokens = recorder.outputs[self.last_block][:, layout.n_prefix:]  # (B, N, D)
        pooled = torch.einsum("pn,pnd->pd", weights, tokens[image_index])
        heatmap = self.decoder(features)[:, 0]
        return GazeOutput(heatmap=heatmap, inout_logit=self.inout(pooled)[:, 0],
                          weights=weights.reshape(-1, *layout.grid))


@fill_doc
def build_vitgaze(spec: str, weights: str | os.PathLike | None = None, device: str | torch.device = "auto",
                  backbone_kwargs: dict | None = None, **gaze_kwargs: Any) -> ViTGaze:
    """Load a backbone with :func:`cogvision.models.load_model` and wrap it in :class:`ViTGaze`.

    Parameters
    ----------
    spec
        Backbone spec, e.g. ``timm:vit_small_patch14_dinov2`` or ``cogvision.models.builtin:tiny_vit``.
    weights
        Local backbone weights (safetensors or torch state dict).
    %(device)s
    backbone_kwargs
        Passed to the backbone constructor; for ``timm:`` specs ``dynamic_img_size=True`` is added unless
        given, so that any input size works.
    **gaze_kwargs
        Passed to :class:`ViTGaze` (``blocks``, ``freeze_backbone``, ``image_size``, ...).

    Raises
    ------
    ValueError
        If the backbone is not a ViT (no attention blocks).
    """
    backbone_kwargs = dict(backbone_kwargs or {})
    if spec.startswith("timm:"):
        backbone_kwargs.setdefault("dynamic_img_size", True)
    backbone = load_model(spec, weights=weights, device="cpu", **backbone_kwargs)
    if not block_names(backbone):
        raise ValueError(f"{spec} ({type(backbone).__name__}) is not a ViT: it has no attention blocks with "
                         "qkv + num_heads, so there are no attention maps to read gaze from")
    model = ViTGaze(backbone, **gaze_kwargs)
    model.config = {"spec": spec, "backbone_kwargs": backbone_kwargs,
                    "gaze_kwargs": {**gaze_kwargs, "blocks": model.blocks, "image_size": model.image_size}}
    return model.to(resolve_device(device)).eval()


def _read_vitgaze_file(path: Path) -> tuple[dict[str, Any], dict[str, Any], dict[str, torch.Tensor]]:
    """(config, extra, state dict) of a file written by :meth:`ViTGaze.save`; errors name the file."""
    if not path.is_file():
        raise FileNotFoundError(f"ViTGaze checkpoint {path} does not exist" if not path.exists()
                                else f"ViTGaze checkpoint {path} is not a file")
    not_ours = (f"{path} is not a ViTGaze checkpoint (expected format {CHECKPOINT_FORMAT!r}, as written by "
                "ViTGaze.save or `cogvision gaze train`; a plain backbone state dict goes to --weights together "
                "with --model)")
    if path.suffix == ".safetensors":
        state, meta = read_safetensors(path, "ViTGaze checkpoint")
        if meta.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(not_ours)
        try:
            return json.loads(meta["config"]), json.loads(meta.get("extra", "{}")), state
        except (KeyError, json.JSONDecodeError):
            raise ValueError(f"{path}: the ViTGaze config in its metadata is missing or not JSON") from None
    stored = read_checkpoint(path, "ViTGaze checkpoint")
    if not isinstance(stored, dict) or stored.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(not_ours)
    return stored["config"], stored.get("extra", {}), stored["state_dict"]


def is_vitgaze_checkpoint(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a readable file written by :meth:`ViTGaze.save` (``False`` for anything else)."""
    try:
        _read_vitgaze_file(Path(path))
    except (OSError, ValueError):
        return False
    return True
