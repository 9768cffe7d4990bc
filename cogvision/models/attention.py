"""Softmax attention maps of ViT blocks, computed explicitly.

timm's ``Attention`` uses fused scaled-dot-product attention, which never materialises the
attention matrix. :class:`AttentionRecorder` hooks the input of each attention module and
recomputes ``softmax(q k^T * scale)`` from the module's own ``qkv``, ``q_norm`` and ``k_norm``: the
maps are the ones the block uses (tested: ``proj(maps @ v)`` equals the module's output).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class TokenLayout:
    """How a ViT's token sequence is laid out.

    Attributes
    ----------
    n_prefix : int
        Special tokens before the patches (CLS + registers).
    has_cls : bool
        Whether the first prefix token is a CLS token.
    n_registers : int
        Register tokens.
    grid : tuple of int
        (rows, cols) of the patch grid for the given image size.
    patch_size : tuple of int
        Patch height and width in pixels.
    """

    n_prefix: int
    has_cls: bool
    n_registers: int
    grid: tuple[int, int]
    patch_size: tuple[int, int]

    def labels(self) -> list[str]:
        """``["cls", "reg0", ..., "patch"...]`` for every token."""
        prefix = (["cls"] if self.has_cls else []) + [f"reg{i}" for i in range(self.n_registers)]
        return prefix + ["patch"] * (self.grid[0] * self.grid[1])


def token_layout(model: nn.Module, image_size: tuple[int, int]) -> TokenLayout:
    """Token layout of a timm-style ViT for images of ``image_size`` (H, W).

    Raises
    ------
    ValueError
        If ``model`` has no ``patch_embed`` (not a ViT).
    """
    patch_embed = getattr(model, "patch_embed", None)
    if patch_embed is None:
        raise ValueError(
            f"{type(model).__name__} is not a ViT (no patch_embed): token layout and attention maps need one"
        )
    patch = patch_embed.patch_size
    patch = (patch, patch) if isinstance(patch, int) else tuple(patch)
    grid = (image_size[0] // patch[0], image_size[1] // patch[1])
    has_cls = getattr(model, "cls_token", None) is not None
    n_prefix = int(getattr(model, "num_prefix_tokens", int(has_cls)))
    return TokenLayout(n_prefix=n_prefix, has_cls=has_cls, n_registers=n_prefix - int(has_cls), grid=grid,
                       patch_size=patch)


def attention_modules(model: nn.Module) -> dict[str, nn.Module]:
    """Named self-attention modules of the kind this module can read (``qkv`` + ``num_heads``)."""
    return {name: m for name, m in model.named_modules()
            if hasattr(m, "qkv") and hasattr(m, "num_heads") and isinstance(m.qkv, nn.Linear)}


def block_names(model: nn.Module) -> list[str]:
    """Names of the transformer blocks that hold an attention module (e.g. ``blocks.0``)."""
    return [name.rsplit(".", 1)[0] for name in attention_modules(model)]


def explicit_attention(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Softmax attention (B, heads, N, N) that ``module`` computes on input tokens ``x`` (B, N, C)."""
    b, n, _ = x.shape
    heads = module.num_heads
    qkv = module.qkv(x).reshape(b, n, 3, heads, -1).permute(2, 0, 3, 1, 4)
    q, k, _ = qkv.unbind(0)
    q, k = module.q_norm(q), module.k_norm(k)
    scale = getattr(module, "scale", q.shape[-1] ** -0.5)
    return ((q * scale) @ k.transpose(-2, -1)).softmax(dim=-1)


class AttentionRecorder:
    """Context manager recording the attention maps of named attention modules.

    Parameters
    ----------
    model
        A ViT whose attention modules expose ``qkv``, ``num_heads``, ``q_norm``, ``k_norm``, ``scale``
        (timm's ``Attention``).
    blocks
        Block names (``blocks.3``) or attention module names; ``None`` for all.

    Attributes
    ----------
    maps : dict of str to torch.Tensor
        Block name -> (B, heads, N, N) after a forward pass inside the context.
    """

    def __init__(self, model: nn.Module, blocks: list[str] | None = None):
        modules = attention_modules(model)
        if not modules:
            raise ValueError(f"{type(model).__name__} has no timm-style attention modules (qkv + num_heads); "
                             "attention maps need a ViT")
        by_block = {name.rsplit(".", 1)[0]: (name, m) for name, m in modules.items()}
        if blocks is None:
            blocks = list(by_block)
        self.targets = {}
        for block in blocks:
            if block in by_block:
                self.targets[block] = by_block[block][1]
            elif block in modules:
                self.targets[block.rsplit(".", 1)[0]] = modules[block]
            else:
                raise ValueError(f"no attention block {block!r}; available: {list(by_block)}")
        self.maps: dict[str, torch.Tensor] = {}
        self._handles: list = []

    def __enter__(self) -> AttentionRecorder:
        for block, module in self.targets.items():
            self._handles.append(module.register_forward_pre_hook(self._hook(block)))
        return self

    def _hook(self, block: str):
        def hook(module, args, kwargs=None):
            self.maps[block] = explicit_attention(module, args[0])
        return hook

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
