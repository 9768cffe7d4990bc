"""The fitting loop: :func:`fit` composes :func:`train_epoch`, :class:`~cogvision.training.state.LoopState` and
:class:`~cogvision.training.state.EarlyStopping`."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset

from cogvision import reporting
from cogvision._docs import fill_doc
from cogvision.device import resolve_device
from cogvision.io import read_checkpoint
from cogvision.training.state import EarlyStopping, LoopState
from cogvision.training.utils import atomic_torch_save, seed_everything, to_device

LossFn = Callable[[torch.nn.Module, Any], torch.Tensor]
MetricFn = Callable[[torch.nn.Module], float]
OptimizerFactory = Callable[[torch.nn.Module], torch.optim.Optimizer]

CHECKPOINT_NAME = "last.pt"
DEFAULT_LR = 1e-3
DEFAULT_WEIGHT_DECAY = 0.0

log = reporting.get_logger(__name__)


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


def default_optimizer(lr: float | None = None, weight_decay: float | None = None) -> OptimizerFactory:
    """The optimiser :func:`fit` uses unless given one: AdamW over the parameters with ``requires_grad``.

    Parameters
    ----------
    lr : float, optional
        Learning rate (default 1e-3).
    weight_decay : float, optional
        Decoupled weight decay (default 0).

    Returns
    -------
    callable
        ``factory(model) -> torch.optim.AdamW``.
    """
    lr = DEFAULT_LR if lr is None else lr
    weight_decay = DEFAULT_WEIGHT_DECAY if weight_decay is None else weight_decay

    def factory(model: torch.nn.Module) -> torch.optim.Optimizer:
        return torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=weight_decay)

    return factory


def train_epoch(
    model: torch.nn.Module,
    batches: Iterable[Any],
    loss_fn: LossFn,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    *,
    device: torch.device,
    grad_clip: float | None = None,
    epoch: int = 0,
) -> float:
    """One pass over ``batches`` in train mode: forward, backward, optional clipping, optimiser step.

    Parameters
    ----------
    model : torch.nn.Module
        On ``device``.
    batches : iterable
        Batches as the ``DataLoader`` gives them; each is moved to ``device`` with
        :func:`~cogvision.training.to_device`.
    loss_fn : callable
        ``loss_fn(model, batch) -> scalar tensor``.
    optimizer : torch.optim.Optimizer
        Stepped once per batch.
    scaler : torch.amp.GradScaler
        Mixed-precision scaler; when enabled (CUDA) the forward pass runs under float16 autocast.
    device : torch.device
        Where the batches go.
    grad_clip : float, optional
        Clip the global gradient norm to this value.
    epoch : int
        Epoch index, for the error message.

    Returns
    -------
    float
        Mean loss over the batches.

    Raises
    ------
    FloatingPointError
        If the loss is not finite.
    """
    model.train()
    total, count = 0.0, 0
    for batch in batches:
        batch = to_device(batch, device)
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device_type=device.type, dtype=torch.float16, enabled=scaler.is_enabled()):
            loss = loss_fn(model, batch)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"loss became {loss.item()} at epoch {epoch}; lower lr or check the data")
        scaler.scale(loss).backward()
        if grad_clip is not None:
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        scaler.step(optimizer)
        scaler.update()
        total += float(loss.detach())
        count += 1
    return total / max(count, 1)


def _check(epochs: int, patience: int | None, val_metric, resume: bool, checkpoint_dir, train_data: Dataset,
           optimizer, lr: float | None, weight_decay: float | None) -> None:
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    if patience is not None and val_metric is None:
        raise ValueError("patience (early stopping) needs a val_metric")
    if resume and checkpoint_dir is None:
        raise ValueError("resume=True needs a checkpoint_dir")
    if optimizer is not None and (lr is not None or weight_decay is not None):
        given = ", ".join(n for n, v in (("lr", lr), ("weight_decay", weight_decay)) if v is not None)
        raise ValueError(f"fit got both optimizer= and {given}=, which only configure the default AdamW; set the "
                         "learning rate and weight decay inside the optimizer factory, or drop optimizer=")
    if len(train_data) == 0:
        raise ValueError("train_data is empty")


# over 80 lines only by its signature and numpydoc (22 documented keywords); its code is 40 lines
@fill_doc
def fit(
    model: torch.nn.Module,
    train_data: Dataset,
    loss_fn: LossFn,
    *,
    epochs: int = 10,
    batch_size: int = 32,
    optimizer: OptimizerFactory | None = None,
    lr: float | None = None,
    weight_decay: float | None = None,
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
    model : torch.nn.Module
        Moved to ``device`` and trained in place.
    train_data : torch.utils.data.Dataset
        A map-style dataset. Batches are shuffled with a generator seeded by ``seed`` and the epoch, so a
        resumed fit sees the same batches as an uninterrupted one.
    loss_fn : callable
        ``loss_fn(model, batch) -> scalar tensor``; ``batch`` is already on the device.
    epochs : int
        Number of epochs (a resumed fit counts the ones already done).
    batch_size : int
        Samples per batch.
    optimizer : callable, optional
        ``optimizer(model) -> torch.optim.Optimizer`` (e.g. SGD, layer-wise learning rates). Without it, AdamW
        over the parameters with ``requires_grad`` (:func:`default_optimizer`).
    lr, weight_decay : float, optional
        Learning rate (default 1e-3) and weight decay (default 0) of the default AdamW. Giving either together
        with ``optimizer`` is an error: the factory sets its own.
    scheduler : callable, optional
        ``scheduler(optimizer) -> LRScheduler``, stepped once per epoch.
    val_metric : callable, optional
        ``val_metric(model) -> float`` computed after each epoch (in eval mode, without gradients).
    mode : {"min", "max"}
        Whether a lower or higher ``val_metric`` is better.
    patience : int, optional
        Stop after this many epochs without improvement (needs ``val_metric``); ``None`` never stops early.
    restore_best : bool
        Load the best epoch's weights into ``model`` at the end (needs ``val_metric``).
    grad_clip : float, optional
        Clip the global gradient norm to this value.
    mixed_precision : bool
        Use float16 autocast with a gradient scaler on CUDA (ignored elsewhere).
    collate_fn : callable, optional
        Passed to the ``DataLoader``.
    checkpoint_dir : str or os.PathLike, optional
        Write ``last.pt`` (a :meth:`LoopState.state_dict`) there after every epoch, atomically.
    resume : bool
        Continue from ``checkpoint_dir/last.pt`` when it exists. On the CPU the result equals an
        uninterrupted fit.
    %(device)s
    %(seed)s
    %(progress)s
    num_workers : int
        ``DataLoader`` worker processes.

    Returns
    -------
    FitResult

    Raises
    ------
    ValueError
        On inconsistent arguments (``patience`` without ``val_metric``, ``resume`` without ``checkpoint_dir``,
        ``optimizer`` together with ``lr``/``weight_decay``, an empty dataset, ...).
    FloatingPointError
        If the loss stops being finite.

    Examples
    --------
    >>> from torch.utils.data import TensorDataset
    >>> x = torch.randn(64, 3); y = x @ torch.tensor([1.0, -2.0, 0.5])
    >>> model = torch.nn.Linear(3, 1)
    >>> loss = lambda m, batch: torch.nn.functional.mse_loss(m(batch[0]).squeeze(-1), batch[1])
    >>> result = fit(model, TensorDataset(x, y), loss, epochs=3, lr=0.1, progress=False)
    >>> list(result.history.columns)
    ['epoch', 'train_loss', 'lr', 'seconds']
    """
    _check(epochs, patience, val_metric, resume, checkpoint_dir, train_data, optimizer, lr, weight_decay)
    stopper = EarlyStopping(mode, patience)
    dev = resolve_device(device)
    seed_everything(seed)
    model.to(dev)
    opt = (optimizer or default_optimizer(lr, weight_decay))(model)
    scaler = torch.amp.GradScaler("cuda", enabled=mixed_precision and dev.type == "cuda")
    state = LoopState(model, opt, scheduler(opt) if scheduler is not None else None, scaler, stopper)
    ckpt_path = Path(checkpoint_dir) / CHECKPOINT_NAME if checkpoint_dir is not None else None
    if resume and ckpt_path is not None and ckpt_path.exists():
        # on the CPU: the RNG states must stay CPU tensors; load_state_dict moves the rest to the model's device
        state.load_state_dict(read_checkpoint(ckpt_path))
        log.info("resumed from %s after epoch %d of %d", ckpt_path, state.epoch, epochs)
    last = state.epoch if state.stopped_early else epochs  # a resumed fit that had stopped early runs no epoch
    bar = reporting.progress(range(state.epoch, last), desc="fit", initial=state.epoch, total=epochs,
                             disable=None if progress else True)
    for epoch in bar:
        generator = torch.Generator().manual_seed(seed * 100_003 + epoch)
        loader = DataLoader(train_data, batch_size=batch_size, shuffle=True, generator=generator,
                            collate_fn=collate_fn, num_workers=num_workers, pin_memory=dev.type == "cuda")
        t0 = time.perf_counter()
        row = {"epoch": epoch, "train_loss": train_epoch(model, loader, loss_fn, opt, scaler, device=dev,
                                                         grad_clip=grad_clip, epoch=epoch)}
        if state.scheduler is not None:
            state.scheduler.step()
        if val_metric is not None:
            model.eval()
            with torch.no_grad():
                row["val_metric"] = float(val_metric(model))
        row["lr"] = opt.param_groups[0]["lr"]
        row["seconds"] = time.perf_counter() - t0
        state.end_epoch(row, validated=val_metric is not None)
        bar.set_postfix({k: f"{v:.4g}" for k, v in row.items() if k in ("train_loss", "val_metric")})
        if ckpt_path is not None:
            atomic_torch_save(state.state_dict(), ckpt_path)
        if state.stopped_early:
            log.info("early stop after epoch %d: no improvement in %d epochs", epoch, patience)
            break
    bar.close()
    if restore_best and state.best_state is not None:
        model.load_state_dict({k: v.to(dev) for k, v in state.best_state.items()})
    return FitResult(history=state.history_frame(), best_epoch=stopper.best_epoch, best_metric=stopper.best,
                     stopped_early=state.stopped_early)
