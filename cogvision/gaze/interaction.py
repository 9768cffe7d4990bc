"""Interaction features: the softmax attention of chosen ViT blocks between patch tokens.

ViTGaze (Song et al. 2024) reads the self-attention maps of four blocks of a plain ViT, removes the
special tokens (CLS, registers) *after* the softmax and arranges the maps as a 4-D tensor
``(heads x blocks, N query patches, H, W key grid)``. Spatial guidance (:mod:`cogvision.gaze.guidance`)
then sums the rows of the person's head patches.

:class:`QueryKeyCapture` hooks the ``qkv`` projection of each chosen attention module, so the maps are
built from the very queries and keys the block uses (its own ``q_norm``/``k_norm`` and ``scale``), with
gradients when the backbone is fine-tuned, and without recomputing the projection.
:func:`guided_interaction` computes only the attention rows of head patches: O(N_head * N) memory per
person instead of O(N^2), and every person of an image shares one backbone pass.
"""

from __future__ import annotations

import torch
from torch import nn

from cogvision.models import TokenLayout, attention_modules, block_names, token_layout


def default_blocks(model: nn.Module, n: int = 4) -> list[str]:
    """``n`` evenly spaced blocks ending with the last one (ViT-S/12: blocks 2, 5, 8, 11 as in ViTGaze).

    Raises
    ------
    ValueError
        If ``model`` has no timm-style attention blocks (not a ViT) or ``n < 1``.
    """
    names = block_names(model)
    if not names:
        raise ValueError(f"{type(model).__name__} has no ViT attention blocks (modules with qkv + num_heads); "
                         "gaze interaction features need a ViT")
    if n < 1:
        raise ValueError(f"number of blocks must be >= 1, got {n}")
    n = min(n, len(names))
    return [names[round((i + 1) * len(names) / n) - 1] for i in range(n)]


class QueryKeyCapture:
    """Context manager keeping the queries and keys of chosen attention blocks during a forward pass.

    Parameters
    ----------
    model
        A ViT whose attention modules have ``qkv`` (Linear), ``num_heads``, ``q_norm``, ``k_norm``
        (timm's ``Attention``).
    blocks
        Block names such as ``"blocks.2"``.

    Attributes
    ----------
    blocks : list of str
        The captured blocks, in order.
    """

    def __init__(self, model: nn.Module, blocks: list[str]):
        modules = {name.rsplit(".", 1)[0]: m for name, m in attention_modules(model).items()}
        if not modules:
            raise ValueError(f"{type(model).__name__} has no ViT attention blocks (modules with qkv + num_heads); "
                             "gaze interaction features need a ViT")
        missing = [b for b in blocks if b not in modules]
        if missing:
            raise ValueError(f"no attention block(s) {missing}; available: {list(modules)}")
        self.blocks = list(blocks)
        self._modules = {b: modules[b] for b in blocks}
        self._qkv: dict[str, torch.Tensor] = {}
        self._handles: list = []

    def __enter__(self) -> "QueryKeyCapture":
        self._qkv.clear()
        for block, module in self._modules.items():
            self._handles.append(module.qkv.register_forward_hook(self._hook(block)))
        return self

    def _hook(self, block: str):
        def hook(_module, _args, output):
            self._qkv[block] = output
        return hook

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def query_key(self, block: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Scaled queries and keys of ``block``, each (B, heads, T, head_dim) over all T tokens."""
        if block not in self._qkv:
            raise RuntimeError(f"block {block!r} was not run inside the capture context")
        module = self._modules[block]
        qkv = self._qkv[block]
        b, t, _ = qkv.shape
        q, k, _ = qkv.reshape(b, t, 3, module.num_heads, -1).permute(2, 0, 3, 1, 4).unbind(0)
        q, k = module.q_norm(q), module.k_norm(k)
        scale = getattr(module, "scale", q.shape[-1] ** -0.5)
        return q * scale, k

    def clear(self) -> None:
        """Drop the captured tensors (frees memory between passes)."""
        self._qkv.clear()


def _check_layout(capture: QueryKeyCapture, layout: TokenLayout) -> tuple[int, int]:
    t = next(iter(capture._qkv.values())).shape[1] if capture._qkv else None
    n = layout.grid[0] * layout.grid[1]
    if t is not None and t != layout.n_prefix + n:
        raise ValueError(f"token count {t} does not match the layout: {layout.n_prefix} special tokens + "
                         f"{layout.grid[0]}x{layout.grid[1]} patches")
    return layout.n_prefix, n


def interaction_tensor(capture: QueryKeyCapture, layout: TokenLayout) -> torch.Tensor:
    """The full 4-D interaction tensor of a captured pass.

    Parameters
    ----------
    capture
        A :class:`QueryKeyCapture` after the backbone ran inside it.
    layout
        Token layout of the backbone for the input size (:func:`cogvision.models.token_layout`).

    Returns
    -------
    torch.Tensor
        (B, blocks x heads, N, H, W): channel ``i * heads + h`` is head ``h`` of the ``i``-th block;
        row ``n`` is query patch ``n`` (row-major over the H x W grid); the last two axes are the key
        patch grid. Special tokens are removed after the softmax, so rows sum to at most 1.
    """
    prefix, n = _check_layout(capture, layout)
    maps = []
    for block in capture.blocks:
        q, k = capture.query_key(block)
        attn = (q @ k.transpose(-2, -1)).softmax(dim=-1)
        maps.append(attn[:, :, prefix:, prefix:])
    out = torch.cat(maps, dim=1)
    return out.reshape(out.shape[0], out.shape[1], n, *layout.grid)


def guided_interaction(capture: QueryKeyCapture, layout: TokenLayout, weights: torch.Tensor,
                       image_index: torch.Tensor) -> torch.Tensor:
    """Interaction tensor summed over query patches with per-person weights (ViTGaze's 4-D -> 2-D step).

    Equals ``(interaction_tensor(...)[image_index] * weights[:, None, :, None, None]).sum(2)`` but computes
    only the attention rows of patches with a non-zero weight.

    Parameters
    ----------
    capture
        A :class:`QueryKeyCapture` after the backbone ran inside it.
    layout
        Token layout of the backbone for the input size.
    weights
        (P, N) non-negative weights over query patches per person (zero off the head).
    image_index
        (P,) long: the image of each person in the batch.

    Returns
    -------
    torch.Tensor
        (P, blocks x heads, H, W).
    """
    prefix, n = _check_layout(capture, layout)
    if weights.ndim != 2 or weights.shape[1] != n:
        raise ValueError(f"weights must be (people, {n} patches), got {tuple(weights.shape)}")
    active = weights > 0
    rows = int(active.sum(1).max().clamp(min=1))
    idx = torch.argsort(active.to(torch.int8), dim=1, descending=True, stable=True)[:, :rows]  # (P, R)
    w = weights.gather(1, idx)  # zero on padding rows
    out = []
    for block in capture.blocks:
        q, k = capture.query_key(block)  # (B, h, T, d)
        q_rows = q.permute(0, 2, 1, 3)[image_index[:, None], prefix + idx]  # (P, R, h, d)
        logits = torch.einsum("prhd,phtd->phrt", q_rows, k[image_index])
        attn = logits.softmax(dim=-1)[..., prefix:]  # (P, h, R, N)
        out.append(torch.einsum("phrn,pr->phn", attn, w))
    out = torch.cat(out, dim=1)
    return out.reshape(out.shape[0], out.shape[1], *layout.grid)


def interaction_features(model: nn.Module, images: torch.Tensor, blocks: list[str] | None = None) -> torch.Tensor:
    """Run ``model`` on ``images`` and return the 4-D interaction tensor.

    Parameters
    ----------
    model
        A ViT loaded by :func:`cogvision.models.load_model` (any patch size; a timm model needs
        ``dynamic_img_size=True`` for inputs other than its own size).
    images
        (B, 3, H, W) already normalised for the model.
    blocks
        Block names; default :func:`default_blocks` (four evenly spaced blocks).

    Returns
    -------
    torch.Tensor
        (B, blocks x heads, N, H', W') with H' x W' the patch grid (see :func:`interaction_tensor`).
    """
    blocks = blocks if blocks is not None else default_blocks(model)
    layout = token_layout(model, tuple(images.shape[-2:]))
    with QueryKeyCapture(model, blocks) as capture:
        forward = getattr(model, "forward_features", model)
        forward(images)
        return interaction_tensor(capture, layout)
