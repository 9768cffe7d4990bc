"""Ablation parts of :class:`cogvision.gaze.model.ViTGaze`: what replaces the interaction features or the guidance.

- :class:`TokenFeatures` (``features="tokens"``): the decoder reads plain patch tokens of the tapped blocks
  instead of their attention maps. Each block's tokens are projected to as many channels as the block has
  heads (so the decoder is the very same), and the person enters through the block's head token (the
  tokens pooled with the guidance weights), projected and added to every patch: the decoder sees the
  scene and the head, but no query-key attention between them.
- :func:`uniform_weights` (``guidance="uniform"``): equal weights on the head patches, no learned scoring.
"""

from __future__ import annotations

import torch
from torch import nn

FEATURES = ("interaction", "tokens")
GUIDANCE = ("learned", "uniform")


def check_choice(value: str, choices: tuple[str, ...], name: str) -> str:
    """Return ``value`` if it is one of ``choices``, else raise ``ValueError`` naming the setting ``name``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")
    return value


def uniform_weights(masks: torch.Tensor) -> torch.Tensor:
    """Equal weights on the head patches.

    Parameters
    ----------
    masks
        (P, rows, cols) bool head-patch masks (every row has at least one patch).

    Returns
    -------
    torch.Tensor
        (P, rows x cols) float, ``1 / n_head_patches`` on the head and 0 elsewhere.
    """
    flat = masks.flatten(1).float()
    return flat / flat.sum(1, keepdim=True).clamp(min=1.0)


class TokenFeatures(nn.Module):
    """Decoder input from patch tokens: ``Linear(tokens) + Linear(head token)`` per tapped block.

    Parameters
    ----------
    dim
        Token width D of the backbone.
    channels
        Output channels per tapped block (its number of heads, to match the interaction features).
    """

    def __init__(self, dim: int, channels: list[int]):
        super().__init__()
        self.scene = nn.ModuleList(nn.Linear(dim, c) for c in channels)
        self.head = nn.ModuleList(nn.Linear(dim, c, bias=False) for c in channels)

    def forward(self, tokens: list[torch.Tensor], weights: torch.Tensor, image_index: torch.Tensor,
                grid: tuple[int, int]) -> torch.Tensor:
        """Per-person feature maps.

        Parameters
        ----------
        tokens
            One (B, N, D) patch-token tensor per tapped block (special tokens removed).
        weights
            (P, N) guidance weights over patches.
        image_index
            (P,) long: the image of each person.
        grid
            (rows, cols) with rows x cols = N.

        Returns
        -------
        torch.Tensor
            (P, sum(channels), rows, cols).
        """
        if len(tokens) != len(self.scene):
            raise ValueError(f"{len(tokens)} token tensors for {len(self.scene)} tapped blocks")
        out = []
        for scene, head, t in zip(self.scene, self.head, tokens):
            t = t[image_index]  # (P, N, D)
            pooled = torch.einsum("pn,pnd->pd", weights, t)
            out.append(scene(t) + head(pooled)[:, None])  # (P, N, c)
        maps = torch.cat(out, dim=-1).transpose(1, 2)
        return maps.reshape(maps.shape[0], maps.shape[1], *grid)
