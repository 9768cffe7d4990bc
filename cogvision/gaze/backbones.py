"""A small ViT for training gaze following from scratch on CPU (synthetic scenes, tests, the demo).

ViTGaze starts from a pretrained DINOv2 whose attention already knows where things are. A randomly
initialised ViT does not: with timm's default position embedding (small random values) it first has
to discover the 2-D layout. :func:`gaze_vit` starts the (still learnable) position embedding from the
fixed 2-D sine-cosine embedding of MAE (He et al. 2022), so attention can be spatial from the first
step. It is a registered constructor: load it with ``load_model("cogvision.gaze.backbones:gaze_vit")`` (or
``"builtin:gaze_vit"`` once :mod:`cogvision.gaze` is imported), without ``allow_code``.
"""

from __future__ import annotations

import torch
from timm.models.vision_transformer import VisionTransformer
from torch import nn

from cogvision.models import Preprocessing, register_model, set_preprocessing


def sincos_position_embedding(dim: int, grid: tuple[int, int]) -> torch.Tensor:
    """(rows * cols, dim) 2-D sine-cosine embedding: half the channels encode the row, half the column.

    Raises
    ------
    ValueError
        If ``dim`` is not a multiple of 4.
    """
    if dim % 4:
        raise ValueError(f"embedding width must be a multiple of 4 for a 2-D sin-cos embedding, got {dim}")
    quarter = dim // 4
    omega = 1.0 / (10000 ** (torch.arange(quarter, dtype=torch.float64) / quarter))
    rows, cols = torch.meshgrid(torch.arange(grid[0], dtype=torch.float64),
                                torch.arange(grid[1], dtype=torch.float64), indexing="ij")
    parts = []
    for coord in (rows.reshape(-1), cols.reshape(-1)):
        angle = coord[:, None] * omega[None]
        parts += [torch.sin(angle), torch.cos(angle)]
    return torch.cat(parts, dim=1).float()


@register_model
def gaze_vit(image_size: int = 64, patch_size: int = 8, embed_dim: int = 64, depth: int = 4, num_heads: int = 4,
             reg_tokens: int = 0) -> nn.Module:
    """A timm VisionTransformer (dynamic image size) with a sin-cos-initialised, learnable position embedding.

    Parameters
    ----------
    image_size, patch_size, embed_dim, depth, num_heads, reg_tokens
        As in timm's ``VisionTransformer``; ``embed_dim`` must be a multiple of 4.

    Returns
    -------
    torch.nn.Module
        With preprocessing mean = std = 0.5 attached.
    """
    model = VisionTransformer(img_size=image_size, patch_size=patch_size, embed_dim=embed_dim, depth=depth,
                              num_heads=num_heads, reg_tokens=reg_tokens, num_classes=0, dynamic_img_size=True)
    grid = model.patch_embed.grid_size
    with torch.no_grad():
        prefix = model.pos_embed.shape[1] - grid[0] * grid[1]
        model.pos_embed[0, prefix:] = sincos_position_embedding(embed_dim, tuple(grid))
    return set_preprocessing(model, Preprocessing(crop=image_size, resize=image_size, mean=(0.5,) * 3,
                                                  std=(0.5,) * 3, source="builtin"))
