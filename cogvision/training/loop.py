"""The one fitting loop every cogvision module uses.

A module passes its model, its data (a ``torch.utils.data.Dataset``) and a loss function; this loop
handles the device, mixed precision on CUDA, seeding, the progress bar, validation with early
stopping, an atomic checkpoint each epoch, resumption, gradient clipping and the history.

Example
-------
>>> import torch
>>> from torch.utils.data import TensorDataset
>>> from cogvision.training import fit
>>> x = torch.randn(64, 3); y = x @ torch.tensor([1.0, -2.0, 0.5])
>>> model = torch.nn.Linear(3, 1)
>>> loss = lambda m, batch: torch.nn.functional.mse_loss(m(batch[0]).squeeze(-1), batch[1])
>>> result = fit(model, TensorDataset(x, y), loss, epochs=3, lr=0.1, progress=False)
>>> list(result.history.columns)
['epoch', 'train_loss', 'lr', 'seconds']
"""

from __future__ import annotations

import dataclasses
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from cogvision.device import resolve_device
from cogvision.io import atomic_write, read_checkpoint

LossFn = Callable[[torch.nn.Module, Any], torch.Tensor]
MetricFn = Callable[[torch.nn.Module], float]

CHECKPOINT_NAME = "last.pt"


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def to_device(batch: Any, device: torch.device) -> Any:
    """Move every tensor inside a (nested) tuple/list/dict batch to ``device``; a dataclass batch moves itself
    (its ``to(device)``)."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if dataclasses.is_dataclass(batch) and hasattr(batch, "to"):
        return batch.to(device)
    if isinstance(batch, dict):
        return {key: to_device(value, device) for key, value in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(value, device) for value in batch)
    return batch


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` to a temporary file beside ``path``, then rename: never a half-written file."""
    atomic_write(path, lambda tmp: torch.save(obj, tmp))


@dataclass
class FitResult:
    """What :func:`fit` returns.

    Attributes
    ----------
    history : pandas.DataFrame
        One row per epoch: ``epoch``, ``train_loss``, ``val_metric`` (when a metric is given), ``lr``, ``seconds``.
    best_epoch : int
        Epoch with the best validation metric (the last epoch without a metric).
    best_metric : float or None
        Its value.
    stopped_early : bool
        Whether early stopping ended the fit.
    """

    history: pd.DataFrame
    best_epoch: int
    best_metric: float | None
    stopped_early: bool


def _numpy_state_to_tensors(state: tuple) -> tuple:
    # checkpoints are read with weights_only=True, which accepts tensors but not NumPy arrays
    name, keys, pos, has_gauss, cached = state
    return (name, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached))


def _rng_state() -> dict:
    return {
        "torch": torch.get_rng_state(),
        "numpy": _numpy_state_to_tensors(np.random.get_state()),
        "python": random.getstate(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    random.setstate(state["python"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def fit(
    model: torch.nn.Module,
    train_data: Dataset,
    loss_fn: LossFn,
    *,
    epochs: int = 10,
    batch_size: int = 32,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    optimizer: Callable[[torch.nn.Module], torch.optim.Optimizer] | None = None,
    scheduler: Callable[[torch.optim.Optimizer], Any] | None = None,
    val_metric: MetricFn | None = None,
    mode: str = "min",
    patience: int | None = None,
    restore_best: bool = True,
    grad_clip: float | None = None,
    mixed_precision: bool = True,
    collate_fn: Callable | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    resume: bool = False,
    device: str | torch.device = "auto",
    seed: int = 0,
    progress: bool = True,
    num_workers: int = 0,
) -> FitResult:
    """Fit ``model`` by minimising ``loss_fn`` over ``train_data``.

    Parameters
    ----------
    model
        Any ``nn.Module``; moved to ``device`` and trained in place.
    train_data
        A map-style dataset. Batches are shuffled with a generator seeded by ``seed + epoch``, so a
        resumed fit sees the same batches as an uninterrupted one.
    loss_fn
        ``loss_fn(model, batch) -> scalar tensor``; ``batch`` is already on the device.
    epochs, batch_size, lr, weight_decay
        The usual. The default optimiser is AdamW over parameters with ``requires_grad``.
    optimizer
        ``optimizer(model) -> torch.optim.Optimizer`` to override the default (e.g. layer-wise lr decay).
    scheduler
        ``scheduler(optimizer) -> LRScheduler``, stepped once per epoch.
    val_metric
        ``val_metric(model) -> float`` computed after each epoch (in eval mode, without gradients).
    mode
        ``"min"`` or ``"max"``: whether a lower or higher ``val_metric`` is better.
    patience
        Stop after this many epochs without improvement (needs ``val_metric``); ``None`` never stops early.
    restore_best
        Load the best epoch's weights into ``model`` at the end (needs ``val_metric``).
    grad_clip
        Clip the global gradient norm to this value.
    mixed_precision
        Use float16 autocast with a gradient scaler on CUDA (ignored elsewhere).
    collate_fn
        Passed to the ``DataLoader``.
    checkpoint_dir
        Write ``last.pt`` there after every epoch (atomically: temp file + rename).
    resume
        Continue from ``checkpoint_dir/last.pt`` when it exists. On CPU the result equals an
        uninterrupted fit.
    device
        ``"auto"`` (cuda, mps, cpu) or explicit.
    seed
        Seeds Python, NumPy, torch and the batch order.
    progress
        Show a progress bar over epochs.

    Returns
    -------
    FitResult
    """
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
    if patience is not None and val_metric is None:
        raise ValueError("patience (early stopping) needs a val_metric")
    if resume and checkpoint_dir is None:
        raise ValueError("resume=True needs a checkpoint_dir")
    if len(train_data) == 0:
        raise ValueError("train_data is empty")

    dev = resolve_device(device)
    seed_everything(seed)
    model.to(dev)
    opt = optimizer(model) if optimizer is not None else torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=weight_decay
    )
    sched = scheduler(opt) if scheduler is not None else None
    use_amp = mixed_precision and dev.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)

    rows: list[dict] = []
    start_epoch = 0
    best_metric: float | None = None
    best_epoch = -1
    best_state: dict | None = None
    bad_epochs = 0
    ckpt_path = Path(checkpoint_dir) / CHECKPOINT_NAME if checkpoint_dir is not None else None

    if resume and ckpt_path is not None and ckpt_path.exists():
        # on the CPU: the RNG states must stay CPU tensors; load_state_dict moves the rest to the model's device
        state = read_checkpoint(ckpt_path)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        if sched is not None and state["scheduler"] is not None:
            sched.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        rows = list(state["history"])
        start_epoch = int(state["epoch"]) + 1
        best_metric = state["best_metric"]
        best_epoch = int(state["best_epoch"])
        best_state = state["best_state"]
        bad_epochs = int(state["bad_epochs"])
        _set_rng_state(state["rng"])
        if state["stopped_early"]:
            return _finish(model, rows, best_epoch, best_metric, best_state, True, restore_best, dev)

    generator = torch.Generator()
    stopped_early = False
    bar = tqdm(range(start_epoch, epochs), desc="fit", disable=not progress, initial=start_epoch, total=epochs)
    for epoch in bar:
        generator.manual_seed(seed * 100_003 + epoch)
        loader = DataLoader(
            train_data, batch_size=batch_size, shuffle=True, generator=generator,
            collate_fn=collate_fn, num_workers=num_workers, pin_memory=dev.type == "cuda",
        )
        t0 = time.perf_counter()
        model.train()
        total, count = 0.0, 0
        for batch in loader:
            batch = to_device(batch, dev)
            opt.zero_grad(set_to_none=True)
            with torch.autocast(device_type=dev.type, dtype=torch.float16, enabled=use_amp):
                loss = loss_fn(model, batch)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"loss became {loss.item()} at epoch {epoch}; lower lr or check the data")
            scaler.scale(loss).backward()
            if grad_clip is not None:
                scaler.unscale_(opt)
                torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            scaler.step(opt)
            scaler.update()
            total += float(loss.detach())
            count += 1
        if sched is not None:
            sched.step()
        row = {"epoch": epoch, "train_loss": total / max(count, 1)}
        improved = True
        if val_metric is not None:
            model.eval()
            with torch.no_grad():
                value = float(val_metric(model))
            row["val_metric"] = value
            improved = best_metric is None or (value < best_metric if mode == "min" else value > best_metric)
        if improved:
            best_metric = row.get("val_metric")
            best_epoch = epoch
            bad_epochs = 0
            if val_metric is not None:
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            bad_epochs += 1
        row["lr"] = opt.param_groups[0]["lr"]
        row["seconds"] = time.perf_counter() - t0
        rows.append(row)
        bar.set_postfix({k: f"{v:.4g}" for k, v in row.items() if k in ("train_loss", "val_metric")})
        stopped_early = patience is not None and bad_epochs >= patience
        if ckpt_path is not None:
            atomic_torch_save(
                {
                    "model": model.state_dict(), "optimizer": opt.state_dict(),
                    "scheduler": sched.state_dict() if sched is not None else None,
                    "scaler": scaler.state_dict(), "history": rows, "epoch": epoch,
                    "best_metric": best_metric, "best_epoch": best_epoch, "best_state": best_state,
                    "bad_epochs": bad_epochs, "rng": _rng_state(), "stopped_early": stopped_early,
                },
                ckpt_path,
            )
        if stopped_early:
            break
    bar.close()
    return _finish(model, rows, best_epoch, best_metric, best_state, stopped_early, restore_best, dev)


def _finish(model, rows, best_epoch, best_metric, best_state, stopped_early, restore_best, dev) -> FitResult:
    if restore_best and best_state is not None:
        model.load_state_dict({k: v.to(dev) for k, v in best_state.items()})
    history = pd.DataFrame(rows)
    columns = ["epoch", "train_loss"] + (["val_metric"] if "val_metric" in history else []) + ["lr", "seconds"]
    return FitResult(history=history[columns], best_epoch=best_epoch, best_metric=best_metric, stopped_early=stopped_early)
