"""Top-K activation sparsity inserted at named modules (used by DiSRT's restoration experiments).

Keeps the ``k`` fraction of largest-magnitude activations and zeroes the rest:

- conv maps (B, C, H, W): per channel over space (``ceil(k * H * W)`` kept per channel);
- token sequences (B, N, C): ``token_mode="token"`` per token over channels, or ``"channel"`` per
  channel over tokens;
- vectors (B, C): over channels.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from cogvision.models.probe import get_layer

TOKEN_MODES = ("token", "channel")


def topk_sparsify(x: torch.Tensor, k: float, token_mode: str = "token") -> torch.Tensor:
    """Zero all but the top ``k`` fraction (by magnitude) of ``x`` along the documented axis.

    Parameters
    ----------
    x
        (B, C, H, W), (B, N, C) or (B, C).
    k
        Fraction in (0, 1]; at least one value is always kept.
    token_mode
        For (B, N, C): ``"token"`` (per token over channels) or ``"channel"`` (per channel over tokens).
    """
    if not 0 < k <= 1:
        raise ValueError(f"Top-K fraction k must be in (0, 1], got {k}")
    if token_mode not in TOKEN_MODES:
        raise ValueError(f"token_mode must be one of {TOKEN_MODES}, got {token_mode!r}")
    if x.ndim == 4:
        flat = x.flatten(2)  # (B, C, HW): per channel over space
    elif x.ndim == 3:
        flat = x if token_mode == "token" else x.transpose(1, 2)  # along the last axis
    elif x.ndim == 2:
        flat = x
    else:
        raise ValueError(f"Top-K needs a (B, C, H, W), (B, N, C) or (B, C) activation, got shape {tuple(x.shape)}")
    n = flat.shape[-1]
    keep = max(1, math.ceil(k * n))
    if keep >= n:
        return x
    threshold = flat.abs().topk(keep, dim=-1).values[..., -1:]
    mask = flat.abs() >= threshold
    out = flat * mask
    if x.ndim == 4:
        return out.view_as(x)
    if x.ndim == 3 and token_mode == "channel":
        return out.transpose(1, 2)
    return out


class TopKHandle:
    """Hooks that apply Top-K at named modules; ``remove()`` (or leaving the ``with`` block) detaches them."""

    def __init__(self, handles: list):
        self._handles = handles

    def remove(self) -> None:
        """Detach every hook."""
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def __enter__(self) -> TopKHandle:
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


def attach_topk(model: nn.Module, layers: list[str], k: float, token_mode: str = "token") -> TopKHandle:
    """Apply :func:`topk_sparsify` to the outputs of ``layers`` (module names) of ``model``.

    Returns
    -------
    TopKHandle
        Call ``remove()`` or use as a context manager to restore the dense model.
    """
    topk_sparsify(torch.zeros(1, 1), k, token_mode)  # validate k and mode before touching the model
    handles = []
    for name in layers:
        module = get_layer(model, name)

        def hook(mod, args, output):
            if isinstance(output, tuple):
                return (topk_sparsify(output[0], k, token_mode),) + tuple(output[1:])
            return topk_sparsify(output, k, token_mode)

        handles.append(module.register_forward_hook(hook))
    return TopKHandle(handles)
