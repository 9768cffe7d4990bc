"""The state of a fitting loop: early stopping and everything a checkpoint must hold to resume exactly."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

MODES = ("min", "max")


@dataclass
class EarlyStopping:
    """Track the best validation value and the epochs since it last improved.

    Parameters
    ----------
    mode : {"min", "max"}
        Whether a lower or a higher value is better.
    patience : int or None
        Stop after this many epochs in a row without improvement; ``None`` never stops.

    Attributes
    ----------
    best : float or None
        Best value so far (``None`` before the first value, and always when no value is given).
    best_epoch : int
        Epoch of ``best`` (-1 before the first update).
    bad_epochs : int
        Epochs since the last improvement.

    Examples
    --------
    >>> stopper = EarlyStopping(mode="min", patience=2)
    >>> [stopper.update(v, epoch) for epoch, v in enumerate([3.0, 2.0, 2.5, 2.1])]
    [True, True, False, False]
    >>> stopper.best, stopper.best_epoch, stopper.should_stop
    (2.0, 1, True)
    """

    mode: str = "min"
    patience: int | None = None
    best: float | None = None
    best_epoch: int = -1
    bad_epochs: int = 0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.patience is not None and self.patience < 1:
            raise ValueError(f"patience must be >= 1 epoch (or None to never stop early), got {self.patience}")

    def update(self, value: float | None, epoch: int) -> bool:
        """Record ``value`` for ``epoch``; return whether it is the best so far.

        Without a value (no validation metric) every epoch counts as an improvement, so the last epoch is the best.
        """
        improved = (value is None or self.best is None
                    or (value < self.best if self.mode == "min" else value > self.best))
        if improved:
            self.best, self.best_epoch, self.bad_epochs = value, epoch, 0
        else:
            self.bad_epochs += 1
        return improved

    @property
    def should_stop(self) -> bool:
        """Whether ``patience`` epochs in a row went without improvement."""
        return self.patience is not None and self.bad_epochs >= self.patience

    def state_dict(self) -> dict:
        """``best_metric``, ``best_epoch`` and ``bad_epochs`` (the keys of :class:`LoopState` checkpoints)."""
        return {"best_metric": self.best, "best_epoch": self.best_epoch, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` returned."""
        self.best = state["best_metric"]
        self.best_epoch = int(state["best_epoch"])
        self.bad_epochs = int(state["bad_epochs"])


def _numpy_state_to_tensors(state: tuple) -> tuple:
    # checkpoints are read with weights_only=True, which accepts tensors but not NumPy arrays
    name, keys, pos, has_gauss, cached = state
    return (name, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached))


def rng_state() -> dict:
    """The states of torch's, NumPy's, Python's and CUDA's global random number generators."""
    return {
        "torch": torch.get_rng_state(),
        "numpy": _numpy_state_to_tensors(np.random.get_state()),
        "python": random.getstate(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(state: dict) -> None:
    """Restore what :func:`rng_state` returned (the CUDA part only where CUDA is available)."""
    torch.set_rng_state(state["torch"])
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    random.setstate(state["python"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


@dataclass
class LoopState:
    """Everything a fitting loop carries from one epoch to the next, saved and restored as one dict.

    Parameters
    ----------
    model : torch.nn.Module
        The network being fitted.
    optimizer : torch.optim.Optimizer
        Its optimiser.
    scheduler : object or None
        A learning-rate scheduler (``state_dict``/``load_state_dict``), stepped once per epoch.
    scaler : torch.amp.GradScaler
        The mixed-precision gradient scaler (disabled off CUDA).
    stopper : EarlyStopping
        Best validation value and patience counter.

    Attributes
    ----------
    epoch : int
        Epochs completed so far, i.e. the index of the next epoch to run.
    history : list of dict
        One row per completed epoch (``epoch``, ``train_loss``, ``val_metric`` when validated, ``lr``, ``seconds``).
    best_state : dict of str to torch.Tensor or None
        Copy of the model's weights at the best validated epoch (``None`` without validation).
    stopped_early : bool
        Whether early stopping ended the loop.
    """

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: torch.amp.GradScaler
    stopper: EarlyStopping
    epoch: int = 0
    history: list[dict] = field(default_factory=list)
    best_state: dict[str, torch.Tensor] | None = None
    stopped_early: bool = False

    def end_epoch(self, row: dict, validated: bool) -> None:
        """Record a finished epoch's ``row`` (``epoch``, ``train_loss``, maybe ``val_metric``): update early
        stopping, keep a copy of the weights when ``validated`` and they are the best, append the row."""
        if self.stopper.update(row.get("val_metric"), row["epoch"]) and validated:
            self.best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        self.history.append(row)
        self.epoch = row["epoch"] + 1
        self.stopped_early = self.stopper.should_stop

    def state_dict(self) -> dict:
        """Weights, optimiser, scheduler and scaler states, history, early stopping and random number
        generator states: enough to resume and get what an uninterrupted loop gets.

        The keys are those of the checkpoints written before this class existed, so those still resume.
        """
        return {
            "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "scaler": self.scaler.state_dict(), "history": self.history, "epoch": self.epoch - 1,
            **self.stopper.state_dict(), "best_state": self.best_state, "rng": rng_state(),
            "stopped_early": self.stopped_early,
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` returned (weights move to the model's device)."""
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state["scheduler"] is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.history = list(state["history"])
        self.epoch = int(state["epoch"]) + 1
        self.stopper.load_state_dict(state)
        self.best_state = state["best_state"]
        self.stopped_early = bool(state["stopped_early"])
        set_rng_state(state["rng"])

    def history_frame(self) -> pd.DataFrame:
        """The history as a table with columns ``epoch, train_loss, [val_metric,] lr, seconds``."""
        history = pd.DataFrame(self.history)
        columns = ["epoch", "train_loss"] + (["val_metric"] if "val_metric" in history else []) + ["lr", "seconds"]
        return history[columns]
