"""What the trained encoders share: input checks, standardisation, the fit through
:func:`cogvision.training.fit`, batched prediction, per-target scores, and ``save``/``load``.

Subclasses build an ``nn.Module`` mapping a feature grid (N, C, H, W) to responses (N, n_targets).
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator
from torch import nn
from torch.utils.data import TensorDataset

from cogvision.brain.features import as_grid
from cogvision.brain.metrics import check_responses, pearson_r, score_predictions
from cogvision.brain.persist import json_params, read_encoder, write_encoder
from cogvision.device import resolve_device
from cogvision.training import fit as training_fit


class NeuralEncoder(BaseEstimator):
    """Base class of the gradient-trained encoders (not used directly).

    Subclasses set the common parameters in ``__init__`` (``epochs``, ``batch_size``, ``lr``,
    ``weight_decay``, ``validation_fraction``, ``patience``, ``device``, ``seed``, ``checkpoint_dir``,
    ``progress``) and implement ``_build(x, y, **fit_info) -> nn.Module`` (the initialised module) and
    ``_new_module(channels, grid, n_targets) -> nn.Module`` (the bare module :meth:`load` fills with weights);
    what else a fit learns goes through ``_fitted_state``/``_restore_state``.
    """

    def _build(self, x: torch.Tensor, y: torch.Tensor, **fit_info) -> nn.Module:
        raise NotImplementedError

    def _new_module(self, channels: int, grid: tuple[int, int], n_targets: int) -> nn.Module:
        raise NotImplementedError

    def _fitted_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Arrays and JSON settings a subclass learns besides the module (default none)."""
        return {}, {}

    def _restore_state(self, arrays: dict[str, np.ndarray], settings: dict[str, Any]) -> None:
        """Set what :meth:`_fitted_state` saved (default nothing)."""

    def _describe(self) -> None:
        """Derived attributes of a fitted module (set after :meth:`fit` and :meth:`load`; default none)."""

    def save(self, path: str | os.PathLike) -> Path:
        """Write the fitted encoder to a ``.safetensors`` file: weights, standardisation and the JSON config.

        :meth:`load` rebuilds it by keyword from the saved parameters and gives identical predictions.

        Parameters
        ----------
        path : str or os.PathLike
            A ``.safetensors`` file (written atomically).

        Returns
        -------
        pathlib.Path
        """
        if not hasattr(self, "module_"):
            raise ValueError(f"{type(self).__name__} is not fitted yet; call fit before save")
        arrays, extra = self._fitted_state()
        arrays = {"x_mean": self.x_mean_, "x_std": self.x_std_, "y_mean": self.y_mean_, "y_std": self.y_std_,
                  **{f"module.{k}": v for k, v in self.module_.state_dict().items()},
                  **{f"fitted.{k}": v for k, v in arrays.items()}}
        settings = {"params": json_params({**self.get_params(), "checkpoint_dir": None}),
                    "grid_shape": list(self.grid_shape_), "n_targets": int(len(self.y_mean_)),
                    "history": self.history_.to_json(orient="split"), **extra}
        return write_encoder(path, type(self).__name__, arrays, settings)

    @classmethod
    def load(cls, path: str | os.PathLike, device: str = "auto") -> NeuralEncoder:
        """Rebuild an encoder written by :meth:`save` on ``device`` (no code is read from the file).

        Raises
        ------
        FileNotFoundError
            If ``path`` does not exist.
        ValueError
            If it is not an encoder of this class saved by cogvision.
        """
        tensors, settings = read_encoder(path, cls.__name__)
        model = cls(**{**settings["params"], "device": device})
        model.grid_shape_ = tuple(settings["grid_shape"])
        model.x_mean_, model.x_std_ = tensors["x_mean"].numpy(), tensors["x_std"].numpy()
        model.y_mean_, model.y_std_ = tensors["y_mean"].numpy(), tensors["y_std"].numpy()
        model.history_ = pd.read_json(io.StringIO(settings["history"]), orient="split")
        model._restore_state({k.removeprefix("fitted."): v.numpy() for k, v in tensors.items()
                              if k.startswith("fitted.")}, settings)
        channels, h, w = model.grid_shape_
        model.module_ = model._new_module(channels, (h, w), settings["n_targets"])
        model.module_.load_state_dict({k.removeprefix("module."): v for k, v in tensors.items()
                                       if k.startswith("module.")})
        model.module_.to(resolve_device(device)).eval()
        model._describe()
        return model

    def _prepare_x(self, features) -> torch.Tensor:
        x = as_grid(features)
        return torch.from_numpy((x - self.x_mean_) / self.x_std_)

    def _fit_module(self, features, y, **fit_info) -> "NeuralEncoder":
        x = as_grid(features)
        y = check_responses(y, n_samples=x.shape[0])
        self.grid_shape_ = tuple(x.shape[1:])
        self.x_mean_ = x.mean((0, 2, 3), keepdims=True)[0]
        self.x_std_ = x.std((0, 2, 3), keepdims=True)[0] + 1e-6
        self.y_mean_, self.y_std_ = y.mean(0), y.std(0)
        xt = self._prepare_x(x)
        yt = torch.from_numpy(((y - self.y_mean_) / self.y_std_).astype(np.float32))
        rng = np.random.default_rng(self.seed)
        order = rng.permutation(len(xt))
        n_val = int(round(self.validation_fraction * len(xt)))
        val, train = order[:n_val], order[n_val:]
        if len(train) < 2:
            raise ValueError(f"{len(xt)} samples leave {len(train)} for training; need at least 2")
        torch.manual_seed(self.seed)
        self.module_ = self._build(xt[train], yt[train], **fit_info)
        device = resolve_device(self.device)
        val_metric = None
        if n_val >= 2:
            xv, yv = xt[val].to(device), yt[val]

            def val_metric(model: nn.Module) -> float:
                return float(pearson_r(yv, model(xv).float().cpu()).mean())

        result = training_fit(
            self.module_, TensorDataset(xt[train], yt[train]), _mse, epochs=self.epochs, batch_size=self.batch_size,
            lr=self.lr, weight_decay=self.weight_decay, val_metric=val_metric, mode="max",
            patience=self.patience if val_metric is not None else None, checkpoint_dir=self.checkpoint_dir,
            resume=self.checkpoint_dir is not None, device=device, seed=self.seed, progress=self.progress,
        )
        self.history_ = result.history
        self.module_.eval()
        self._describe()
        return self

    @torch.no_grad()
    def predict(self, features, batch_size: int = 256) -> np.ndarray:
        """Predicted responses (n_stimuli, n_targets) in the units of the fitted responses."""
        if not hasattr(self, "module_"):
            raise ValueError(f"{type(self).__name__} is not fitted yet; call fit first")
        x = self._prepare_x(features)
        if tuple(x.shape[1:]) != self.grid_shape_:
            raise ValueError(
                f"features have shape (C, H, W) = {tuple(x.shape[1:])}; the encoder was fitted on {self.grid_shape_}"
            )
        device = next(self.module_.parameters()).device
        out = [self.module_(x[i:i + batch_size].to(device)).float().cpu().numpy() for i in range(0, len(x), batch_size)]
        return np.concatenate(out) * self.y_std_ + self.y_mean_

    def score(self, features, y, *, metric: str = "pearson", per_target: bool = False):
        """Held-out Pearson r (default) or R^2 of each target, or their mean."""
        return score_predictions(y, self.predict(features), metric, per_target)


def _mse(model: nn.Module, batch) -> torch.Tensor:
    x, y = batch
    return torch.nn.functional.mse_loss(model(x).float(), y)
