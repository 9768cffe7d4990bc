"""From a layer's output to the odd-one-out decision: pooling, similarity, oddity, graded index.

Pooling (``pool``) turns a layer output into one vector per image:

- conv maps (B, C, H, W): ``mean`` = average over space, ``flat`` = every value; ``cls`` is an error;
- token sequences (B, N, C): ``cls`` = the class token, ``mean`` = average over the patch tokens
  (class and register tokens excluded), ``flat`` = every patch token's values;
- vectors (B, C): used as they are (``cls`` is an error).

Similarity (``similarity``): ``cosine`` (default), ``correlation`` (Pearson over features) or
``euclidean`` (negative Euclidean distance). The dissimilarity ``D`` is ``1 - s`` for the first two and
the distance for ``euclidean``.
"""

from __future__ import annotations

import torch

POOLINGS = ("cls", "mean", "flat")
SIMILARITIES = ("cosine", "correlation", "euclidean")
TIE_TOLERANCE = 1e-6  # relative: mean similarities this close count as tied


def pool(output: torch.Tensor, pooling: str, n_prefix: int = 0, has_cls: bool = False, layer: str = "") -> torch.Tensor:
    """Pool one layer output into (B, F) float64 vectors.

    Parameters
    ----------
    output
        (B, C, H, W), (B, N, C) or (B, C).
    pooling
        ``"cls"``, ``"mean"`` or ``"flat"``.
    n_prefix
        Leading non-patch tokens (class + registers) of a token sequence.
    has_cls
        Whether token 0 is a class token (needed by ``cls``).
    layer
        Name used in error messages.
    """
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    x = output.detach().double()
    if x.ndim == 4:
        if pooling == "cls":
            raise ValueError(f"layer {layer!r} gives a conv map {tuple(x.shape)}: 'cls' pooling needs a token "
                             "sequence (B, N, C); use 'mean' or 'flat'")
        return x.mean(dim=(2, 3)) if pooling == "mean" else x.flatten(1)
    if x.ndim == 3:
        if pooling == "cls":
            if not has_cls:
                raise ValueError(f"layer {layer!r}: the model has no class token; use 'mean' or 'flat' pooling")
            return x[:, 0]
        patches = x[:, n_prefix:]
        return patches.mean(dim=1) if pooling == "mean" else patches.flatten(1)
    if x.ndim == 2:
        if pooling == "cls":
            raise ValueError(f"layer {layer!r} gives vectors {tuple(x.shape)}: 'cls' pooling needs tokens")
        return x
    raise ValueError(f"layer {layer!r} gives an output of shape {tuple(x.shape)}; expected 2-D, 3-D or 4-D")


def similarity(a: torch.Tensor, b: torch.Tensor, metric: str = "cosine") -> torch.Tensor:
    """Row-wise similarity of (B, F) vectors -> (B,) float64."""
    if metric not in SIMILARITIES:
        raise ValueError(f"similarity must be one of {SIMILARITIES}, got {metric!r}")
    a, b = a.double(), b.double()
    if metric == "euclidean":
        return -(a - b).norm(dim=1)
    if metric == "correlation":
        a = a - a.mean(dim=1, keepdim=True)
        b = b - b.mean(dim=1, keepdim=True)
    norm = a.norm(dim=1) * b.norm(dim=1)
    return torch.where(norm > 0, (a * b).sum(1) / norm.clamp_min(1e-300), torch.ones_like(norm))


def triplet_similarity(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor,
                       metric: str = "cosine") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Similarities ``(s(a, b), s(a, c), s(b, c))`` of three (B, F) batches, each (B,) float64.

    Equal to three :func:`similarity` calls; cosine and correlation come from one batched Gram matrix
    (a single pass over the features, which matters for long flattened vectors).
    """
    if metric not in SIMILARITIES:
        raise ValueError(f"similarity must be one of {SIMILARITIES}, got {metric!r}")
    if metric == "euclidean":
        return similarity(a, b, metric), similarity(a, c, metric), similarity(b, c, metric)
    x = torch.empty(a.shape[0], 3, a.shape[1], dtype=torch.float64, device=a.device)  # (B, 3, F)
    for i, item in enumerate((a, b, c)):
        x[:, i] = item  # converted to float64 as it is copied in (no float32 stack first)
    if metric == "correlation":
        x = x - x.mean(dim=2, keepdim=True)
    gram = torch.bmm(x, x.transpose(1, 2))  # (B, 3, 3)
    norms = gram.diagonal(dim1=1, dim2=2).clamp_min(0).sqrt()

    def cos(i: int, j: int) -> torch.Tensor:
        norm = norms[:, i] * norms[:, j]
        return torch.where(norm > 0, gram[:, i, j] / norm.clamp_min(1e-300), torch.ones_like(norm))

    return cos(0, 1), cos(0, 2), cos(1, 2)


def dissimilarity(s: torch.Tensor, metric: str = "cosine") -> torch.Tensor:
    """``D`` from a similarity: ``1 - s`` (cosine, correlation) or the distance (euclidean)."""
    return -s if metric == "euclidean" else 1 - s


def oddity(s_in: torch.Tensor, s_id: torch.Tensor, s_nd: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Odd-one-out among (image, nuisance, distortion) from their pairwise similarities.

    The odd item has the lowest mean similarity to the other two. Ties (within
    :data:`TIE_TOLERANCE`, relative) share the credit: when the distortion ties for lowest with ``m``
    items the trial scores ``1/m`` (the expected accuracy of a uniform random tie-break), so an
    observer that sees three identical items scores exactly 1/3.

    Parameters
    ----------
    s_in, s_id, s_nd
        (B,) similarities image-nuisance, image-distortion, nuisance-distortion.

    Returns
    -------
    choice : torch.Tensor
        (B,) int: 0 image, 1 nuisance, 2 distortion (the first of the tied lowest).
    credit : torch.Tensor
        (B,) float64 in {0, 1/3, 1/2, 1}.
    """
    means = torch.stack([(s_in + s_id) / 2, (s_in + s_nd) / 2, (s_id + s_nd) / 2], dim=1).double()
    low = means.min(dim=1, keepdim=True).values
    tol = TIE_TOLERANCE * means.abs().amax(dim=1, keepdim=True).clamp_min(1.0)
    tied = means <= low + tol
    credit = tied[:, 2].double() / tied.sum(dim=1).double()
    return tied.double().argmax(dim=1), credit


def graded_index(s_in: torch.Tensor, s_id: torch.Tensor, metric: str = "cosine") -> torch.Tensor:
    """``D(image, distortion) / (D(image, distortion) + D(image, nuisance))``; 0.5 where both are 0.

    0.5 = as far from the distortion as from the nuisance (blind to global structure beyond the pixel
    change), 1 = only the distortion changes the representation, 0 = only the nuisance does.
    """
    d_id = dissimilarity(s_id, metric).clamp_min(0)
    d_in = dissimilarity(s_in, metric).clamp_min(0)
    total = d_id + d_in
    return torch.where(total > 0, d_id / total.clamp_min(1e-300), torch.full_like(total, 0.5))
