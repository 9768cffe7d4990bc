"""Training ViTGaze on :class:`~cogvision.gaze.samples.GazeSamples` through :func:`cogvision.training.fit`.

The run's settings are a :class:`~cogvision.gaze.config.TrainConfig`; the data are given as samples (the job
``cogvision.jobs.gaze_train`` builds them from a named data set and writes the run folder). The optimiser is
AdamW (0.9, 0.99), optionally with ViTGaze's layer-wise learning-rate decay, and a per-epoch cosine from
``lr`` to ``0.1 lr``; the validation metric is Avg L2 (argmax to the target), lower is better.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass

import torch

from cogvision._docs import fill_doc
from cogvision.gaze.config import TrainConfig
from cogvision.gaze.evaluate import evaluate_heatmaps
from cogvision.gaze.losses import vitgaze_loss
from cogvision.gaze.model import ViTGaze, build_vitgaze
from cogvision.gaze.predict import predict_dataset
from cogvision.gaze.samples import GazeSamples
from cogvision.models import block_names
from cogvision.training import FitResult, fit

_EMBEDDINGS = ("patch_embed", "cls_token", "pos_embed", "reg_token", "norm_pre", "mask_token")


def layer_decay_groups(model: ViTGaze, lr: float, weight_decay: float, layer_decay: float) -> list[dict]:
    """AdamW parameter groups with layer-wise learning-rate decay (BEiT/ViTGaze).

    With ``L`` blocks, block ``i`` (0-based) gets ``lr * layer_decay ** (L - i)``; the embeddings (patch,
    position, CLS, registers) ``lr * layer_decay ** (L + 1)``; the gaze parts (guidance, decoder, in/out
    head) and any backbone parameter after the blocks get ``lr``. Biases, norms and tokens get no weight
    decay.
    """
    blocks = block_names(model.backbone)
    depth = len(blocks)
    groups: dict[tuple[float, float], list] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        layer = depth + 1
        if name.startswith("backbone."):
            sub = name[len("backbone."):]
            layer = next((i + 1 for i, b in enumerate(blocks) if sub.startswith(b + ".")), None)
            if layer is None:
                layer = 0 if sub.split(".")[0] in _EMBEDDINGS else depth + 1
        scale = layer_decay ** (depth + 1 - layer)
        no_decay = param.ndim <= 1 or name.endswith(("cls_token", "pos_embed", "reg_token"))
        key = (scale, 0.0 if no_decay else weight_decay)
        groups.setdefault(key, []).append(param)
    return [{"params": params, "lr": lr * scale, "weight_decay": wd} for (scale, wd), params in groups.items()]


def build_model(config: TrainConfig) -> ViTGaze:
    """The untrained :class:`ViTGaze` of ``config``, initialised from ``config.seed`` (on the CPU).

    Raises
    ------
    ValueError
        For a backbone spec that cannot be loaded or is not a ViT, or weights that do not fit it.
    FileNotFoundError
        If ``config.weights`` does not exist.
    """
    torch.manual_seed(config.seed)
    return build_vitgaze(config.model, weights=config.weights, device="cpu", backbone_kwargs=config.backbone_kwargs,
                         n_blocks=config.n_blocks, freeze_backbone=config.freeze_backbone,
                         image_size=config.image_size, features=config.features, guidance=config.guidance,
                         zero_init_output=config.zero_init_output)


def make_optimizer(config: TrainConfig):
    """``optimizer(model) -> AdamW`` of ``config`` (layer-wise decay when ``layer_decay`` is set and the
    backbone is fine-tuned), for :func:`cogvision.training.fit`."""
    def optimizer(model: ViTGaze) -> torch.optim.Optimizer:
        if config.layer_decay is not None and not config.freeze_backbone:
            groups = layer_decay_groups(model, config.lr, config.weight_decay, config.layer_decay)
        else:
            groups = [{"params": [p for p in model.parameters() if p.requires_grad],
                       "weight_decay": config.weight_decay}]
        return torch.optim.AdamW(groups, lr=config.lr, betas=(0.9, 0.99))

    return optimizer


def cosine_schedule(epochs: int):
    """``scheduler(optimizer)``: per-epoch cosine from 1 to 0.1 times each group's lr over ``epochs``."""
    total = max(epochs, 1)

    def scheduler(opt: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LambdaLR:
        return torch.optim.lr_scheduler.LambdaLR(
            opt, lambda e: 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(e, total) / total)))

    return scheduler


@dataclass
class TrainResult:
    """What :func:`train_vitgaze` returns.

    Attributes
    ----------
    model : ViTGaze
        The trained model (best validation epoch).
    fit : cogvision.training.FitResult
        History of the fit.
    seconds : float
        Wall time of the fit.
    """

    model: ViTGaze
    fit: FitResult
    seconds: float


@fill_doc
def train_vitgaze(model: ViTGaze, train: GazeSamples, val: GazeSamples, config: TrainConfig, *,
                  checkpoint_dir: str | os.PathLike | None = None, resume: bool = False,
                  device: str | torch.device = "auto", progress: bool = True) -> TrainResult:
    """Train ``model`` (from :func:`build_model`) on ``train`` as ``config`` says, keeping the best epoch on ``val``.

    Parameters
    ----------
    model
        The model to train in place.
    train, val
        Training and validation samples.
    config
        Optimisation and loss settings (``epochs``, ``batch_size``, ``lr``, ``weight_decay``, ``layer_decay``,
        ``cosine``, ``patience``, ``grad_clip``, ``heatmap_weight``, ``inout_weight``, ``seed``).
    checkpoint_dir
        Folder for the fit's checkpoint ``last.pt``, written atomically after every epoch.
    resume
        Continue from ``checkpoint_dir/last.pt``; on the CPU the result equals an uninterrupted run.
    %(device)s
    %(progress)s

    Returns
    -------
    TrainResult
    """
    def loss_fn(m: ViTGaze, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        out = m(batch["image"], batch["box"])
        return vitgaze_loss(out.heatmap, out.inout_logit, batch["gaze"], batch["inout"],
                            heatmap_weight=config.heatmap_weight, inout_weight=config.inout_weight)

    def val_metric(m: ViTGaze) -> float:
        heatmaps, inout = predict_dataset(m, val, device=next(m.parameters()).device, progress=False)
        return evaluate_heatmaps(heatmaps, inout, val)["avg_l2"]

    t0 = time.perf_counter()
    result = fit(model, train, loss_fn, epochs=config.epochs, batch_size=config.batch_size,
                 optimizer=make_optimizer(config), scheduler=cosine_schedule(config.epochs) if config.cosine else None,
                 val_metric=val_metric, mode="min", patience=config.patience, grad_clip=config.grad_clip,
                 checkpoint_dir=checkpoint_dir, resume=resume, device=device, seed=config.seed, progress=progress)
    return TrainResult(model=model, fit=result, seconds=time.perf_counter() - t0)
