"""Transformer brain encoder (Adeli, Sun & Kriegeskorte, NeurIPS 2025).

Learned queries, by default one per ROI per hemisphere, cross-attend to the tokens of a frozen
network's feature grid (one DETR-style decoder layer: the query embeddings are the queries, the
target starts at zero; a 2-D sine positional encoding is added to the keys only; then a
feed-forward block). Each target (vertex or voxel) is read out linearly from the output of its own
ROI's query.

The readout is a **gather**: each target picks its query's output vector and takes a dot product
with its own weight vector (N x T x d multiply-adds). The reference implementation instead sends
every query's output through every target's weight row and keeps the right one with a mask
(N x Q x T x d); ``benchmarks/brain_readout.py`` compares the two.

The reference also lets a target belong to several ROIs, summing those queries' outputs before its
weight vector (``y_t = <sum_q M_tq out_q, w_t> + b_t``): :class:`MembershipReadout`, chosen with a
query mode that joins label columns by ``+`` (e.g. ``queries="roi+hemisphere"``: one query per ROI and
one per hemisphere, each target reading the sum of its ROI's and its hemisphere's queries).

The queries' cross-attention weights (averaged over heads) are the routing maps:
:meth:`TransformerBrainEncoder.routing_maps` returns them as (stimulus, query, y, x).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch
import xarray as xr
from torch import nn

from cogvision.brain.neural import NeuralEncoder

QUERY_MODES = ("roi_hemisphere", "roi", "hemisphere", "stream", "stream_hemisphere", "vertex", "single")
MEMBERSHIP_COLUMNS = ("roi", "hemisphere", "stream")


def sine_position_encoding(grid: tuple[int, int], dim: int, temperature: float = 10000.0) -> torch.Tensor:
    """DETR's normalised 2-D sine encoding, (H*W, dim): half the channels code y, half code x."""
    if dim % 4:
        raise ValueError(f"d_model must be a multiple of 4 for the 2-D sine encoding, got {dim}")
    half = dim // 2
    freqs = temperature ** (2 * (torch.arange(half) // 2) / half)
    ys = (torch.arange(grid[0], dtype=torch.float32) + 1) / grid[0] * 2 * math.pi
    xs = (torch.arange(grid[1], dtype=torch.float32) + 1) / grid[1] * 2 * math.pi

    def code(pos: torch.Tensor) -> torch.Tensor:
        angles = pos[:, None] / freqs
        return torch.stack([angles[:, 0::2].sin(), angles[:, 1::2].cos()], 2).flatten(1)

    py, px = code(ys), code(xs)
    return torch.cat([py[:, None].expand(-1, grid[1], -1), px[None].expand(grid[0], -1, -1)], -1).reshape(-1, dim)


class GatherReadout(nn.Module):
    """Target t reads query ``query_index[t]``: ``y_t = <out[:, q_t], w_t> + b_t``.

    N x T x d multiply-adds, never the N x Q x T x d of reading every target from every query. Three
    ways to compute it, chosen once from the group sizes:

    - ``"padded"`` (queries of similar size): the weights are laid out per query, padded to the largest
      group, and one batched product ``out[:, q] @ W_q^T`` over all queries gives every target (one kernel
      on a GPU; used when padding at most doubles the work);
    - ``"grouped"`` (few queries of unequal size): one matrix product per query's group of targets;
    - ``"elementwise"`` (many queries, e.g. one per vertex): each target's query output is gathered and
      multiplied elementwise with its weights.
    """

    def __init__(self, query_index: torch.Tensor, d_model: int, max_groups: int = 256):
        super().__init__()
        query_index = torch.as_tensor(query_index).long()
        self.register_buffer("query_index", query_index)
        order = torch.argsort(query_index, stable=True)
        self.register_buffer("order", order)
        self.register_buffer("inverse", torch.argsort(order))
        counts = torch.bincount(query_index)
        starts = torch.cumsum(counts, 0) - counts
        self.groups = [(int(q), int(start), int(start + c))
                       for q, (start, c) in enumerate(zip(starts, counts)) if c > 0]
        n_queries, width = len(counts), int(counts.max()) if len(counts) else 0
        if len(self.groups) > max_groups:
            self.mode = "elementwise"
        elif n_queries * width <= 2 * len(query_index):
            self.mode = "padded"
        else:
            self.mode = "grouped"
        # slot of each target in its query's padded row, and its flat position in (query, slot) order
        slot = torch.empty_like(query_index)
        slot[order] = torch.arange(len(query_index)) - starts[query_index[order]]
        self.register_buffer("slot", slot, persistent=False)
        self.register_buffer("flat", query_index * width + slot, persistent=False)
        self.width = width
        self.weight = nn.Parameter(torch.randn(len(query_index), d_model) / math.sqrt(d_model))
        self.bias = nn.Parameter(torch.zeros(len(query_index)))

    def forward(self, query_out: torch.Tensor) -> torch.Tensor:
        """(N, Q, d) query outputs -> (N, T) target responses."""
        if self.mode == "elementwise":
            gathered = torch.index_select(query_out, 1, self.query_index)  # (N, T, d)
            return (gathered * self.weight).sum(-1) + self.bias
        if self.mode == "padded":
            n, q, d = query_out.shape
            padded = self.weight.new_zeros(q, self.width, d).index_put((self.query_index, self.slot), self.weight)
            every = torch.bmm(query_out.transpose(0, 1), padded.transpose(1, 2))  # (Q, N, width)
            return torch.index_select(every.transpose(0, 1).reshape(n, -1), 1, self.flat) + self.bias
        weights = torch.index_select(self.weight, 0, self.order).split([end - start for _, start, end in self.groups])
        outs = query_out.unbind(1)  # one stack in the backward pass, not one full-size gradient per query
        parts = [outs[q] @ w.T for (q, _, _), w in zip(self.groups, weights)]
        return torch.index_select(torch.cat(parts, 1), 1, self.inverse) + self.bias


class MembershipReadout(nn.Module):
    """Target t reads the sum of the outputs of every query it belongs to: ``y_t = <sum_q M_tq out_q, w_t> + b_t``.

    The reference implementation's readout with several memberships per target (N x T x Q x d
    multiply-adds; with one membership per target it equals :class:`GatherReadout`).

    Parameters
    ----------
    membership : torch.Tensor
        (T, Q) 0/1 matrix: which queries each target belongs to (at least one each).
    d_model : int
        Width of the query outputs.
    """

    def __init__(self, membership: torch.Tensor, d_model: int):
        super().__init__()
        membership = torch.as_tensor(membership, dtype=torch.float32)
        if membership.ndim != 2 or (membership.sum(1) < 1).any():
            raise ValueError("membership must be a (targets, queries) 0/1 matrix with at least one query per target")
        self.register_buffer("membership", membership)
        self.weight = nn.Parameter(torch.randn(membership.shape[0], d_model) / math.sqrt(d_model))
        self.bias = nn.Parameter(torch.zeros(membership.shape[0]))

    def forward(self, query_out: torch.Tensor) -> torch.Tensor:
        """(N, Q, d) query outputs -> (N, T) target responses."""
        summed = torch.einsum("tq,nqd->ntd", self.membership, query_out)
        return (summed * self.weight).sum(-1) + self.bias


class BrainDecoder(nn.Module):
    """Input projection, one cross-attention decoder layer and the gather (or membership) readout.

    Input (N, C, H, W) feature grids; output (N, T) responses. With ``membership`` (T, Q) given,
    ``query_index`` is ignored and targets sum the outputs of all their queries (:class:`MembershipReadout`).
    """

    def __init__(self, channels: int, grid: tuple[int, int], query_index: torch.Tensor | None, n_queries: int,
                 d_model: int = 128, n_heads: int = 8, dim_feedforward: int = 256, dropout: float = 0.1,
                 membership: torch.Tensor | None = None):
        super().__init__()
        self.grid = tuple(grid)
        self.input_proj = nn.Linear(channels, d_model)
        self.query_embed = nn.Embedding(n_queries, d_model)
        self.register_buffer("pos", sine_position_encoding(self.grid, d_model))
        self.cross_attn = nn.MultiheadAttention(d_model, n_heads, dropout=dropout, batch_first=True)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.ffn = nn.Sequential(nn.Linear(d_model, dim_feedforward), nn.ReLU(), nn.Dropout(dropout),
                                 nn.Linear(dim_feedforward, d_model))
        self.dropout = nn.Dropout(dropout)
        if membership is not None:
            self.readout = MembershipReadout(membership, d_model)
        else:
            self.readout = GatherReadout(query_index, d_model)

    def decode(self, x: torch.Tensor, need_weights: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Query outputs (N, Q, d) and, if asked, head-averaged attention (N, Q, H*W)."""
        memory = self.input_proj(x.flatten(2).transpose(1, 2))  # (N, HW, d)
        queries = self.query_embed.weight[None].expand(x.shape[0], -1, -1)  # target 0 + query position
        attended, weights = self.cross_attn(queries, memory + self.pos, memory, need_weights=need_weights,
                                            average_attn_weights=True)
        out = self.norm1(self.dropout(attended))
        out = self.norm2(out + self.dropout(self.ffn(out)))
        return out, weights

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Predicted responses (N, T) of feature grids ``x`` (N, C, H, W)."""
        return self.readout(self.decode(x)[0])


def query_assignment(target_info: pd.DataFrame | None, n_targets: int, mode: str) -> tuple[np.ndarray, list[str]]:
    """Query index of each target and the query names, for a query ``mode``.

    Parameters
    ----------
    target_info : pandas.DataFrame, optional
        One row per target with the columns the mode needs: ``roi``, ``hemisphere``, ``stream``.
    n_targets : int
    mode : str
        One of ``roi_hemisphere`` (the paper's default), ``roi``, ``hemisphere``, ``stream``,
        ``stream_hemisphere``, ``vertex`` (one query per target) or ``single``.

    Raises
    ------
    ValueError
        Unknown mode, wrong number of rows, or a missing column.
    """
    if mode not in QUERY_MODES:
        raise ValueError(f"queries must be one of {QUERY_MODES}, got {mode!r}")
    if mode == "vertex":
        return np.arange(n_targets), [f"target{i}" for i in range(n_targets)]
    if mode == "single":
        return np.zeros(n_targets, dtype=int), ["all"]
    columns = {"roi_hemisphere": ["roi", "hemisphere"], "stream_hemisphere": ["stream", "hemisphere"]}.get(mode, [mode])
    if target_info is None:
        raise ValueError(f"queries={mode!r} needs target_info with columns {columns}")
    if len(target_info) != n_targets:
        raise ValueError(f"target_info has {len(target_info)} rows; expected one per target ({n_targets})")
    if mode == "roi_hemisphere" and "hemisphere" not in target_info:
        columns = ["roi"]
    missing = [c for c in columns if c not in target_info]
    if missing:
        raise ValueError(f"target_info lacks column(s) {missing} needed by queries={mode!r}")
    labels = target_info[columns].astype(str).agg("|".join, axis=1).to_numpy()
    names, index = np.unique(labels, return_inverse=True)
    return index, names.tolist()


def query_membership(target_info: pd.DataFrame | None, n_targets: int, mode: str) -> tuple[np.ndarray, list[str]]:
    """Multi-membership query design: one query per label of each column joined by ``+`` in ``mode``.

    Parameters
    ----------
    target_info : pandas.DataFrame
        One row per target with the named columns.
    n_targets : int
    mode : str
        Columns joined by ``+``, e.g. ``"roi+hemisphere"``; each from ``roi``, ``hemisphere``, ``stream``.

    Returns
    -------
    membership : ndarray of shape (n_targets, n_queries)
        1 where a target belongs to a query (one per column).
    names : list of str
        ``column=label`` per query.

    Raises
    ------
    ValueError
        Unknown or repeated column, missing table or column, wrong number of rows.
    """
    columns = mode.split("+")
    if len(columns) < 2 or len(set(columns)) != len(columns) or any(c not in MEMBERSHIP_COLUMNS for c in columns):
        raise ValueError(f"a multi-membership query mode joins two or more distinct columns of {MEMBERSHIP_COLUMNS} "
                         f"by '+', got {mode!r}")
    if target_info is None:
        raise ValueError(f"queries={mode!r} needs target_info with columns {columns}")
    if len(target_info) != n_targets:
        raise ValueError(f"target_info has {len(target_info)} rows; expected one per target ({n_targets})")
    missing = [c for c in columns if c not in target_info]
    if missing:
        raise ValueError(f"target_info lacks column(s) {missing} needed by queries={mode!r}")
    blocks, names = [], []
    for column in columns:
        labels, index = np.unique(target_info[column].astype(str).to_numpy(), return_inverse=True)
        blocks.append(np.eye(len(labels))[index])
        names += [f"{column}={label}" for label in labels]
    return np.concatenate(blocks, 1), names


class TransformerBrainEncoder(NeuralEncoder):
    """Queries cross-attend to feature tokens; each target is read out from its ROI's query.

    Parameters
    ----------
    queries : str
        Query design (see :func:`query_assignment`); default one per ROI per hemisphere. Columns joined
        by ``+`` (e.g. ``"roi+hemisphere"``) give the multi-membership readout (:func:`query_membership`).
    d_model, n_heads, dim_feedforward, dropout
        Decoder width (paper: 768, 16, 1024 or 2048, 0.1; smaller defaults suit CPU work).
    epochs, batch_size, lr, weight_decay
        Training with MSE and AdamW (paper: 15 epochs, lr 5e-4).
    validation_fraction, patience
        Held-out part of the training stimuli for early stopping on mean Pearson r.
    device, seed, checkpoint_dir, progress
        As in :func:`cogvision.training.fit`.

    Attributes
    ----------
    module_ : BrainDecoder
    query_names_ : list of str
    query_index_ : ndarray of shape (n_targets,)
        Each target's query (single membership); None with a multi-membership mode.
    membership_ : ndarray of shape (n_targets, n_queries) or None
        With a multi-membership mode, which queries each target sums.
    history_ : pandas.DataFrame
    """

    def __init__(self, queries: str = "roi_hemisphere", d_model: int = 128, n_heads: int = 8,
                 dim_feedforward: int = 256, dropout: float = 0.1, epochs: int = 30, batch_size: int = 32,
                 lr: float = 1e-3, weight_decay: float = 1e-4, validation_fraction: float = 0.1,
                 patience: int | None = 8, device: str = "auto", seed: int = 0, checkpoint_dir=None,
                 progress: bool = False):
        self.queries = queries
        self.d_model = d_model
        self.n_heads = n_heads
        self.dim_feedforward = dim_feedforward
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.device = device
        self.seed = seed
        self.checkpoint_dir = checkpoint_dir
        self.progress = progress

    def fit(self, features, y, target_info: pd.DataFrame | None = None) -> "TransformerBrainEncoder":
        """Fit on features (n, C, H, W) and responses (n, n_targets).

        Parameters
        ----------
        features : array-like of shape (n_stimuli, C, H, W)
        y : array-like of shape (n_stimuli, n_targets)
        target_info : pandas.DataFrame, optional
            Per-target ``roi`` / ``hemisphere`` / ``stream`` labels for the query design.
        """
        n_targets = np.asarray(y).reshape(len(y), -1).shape[1]
        if "+" in self.queries:
            self.membership_, self.query_names_ = query_membership(target_info, n_targets, self.queries)
            self.query_index_ = None
        else:
            self.query_index_, self.query_names_ = query_assignment(target_info, n_targets, self.queries)
            self.membership_ = None
        return self._fit_module(features, y)

    def _build(self, x: torch.Tensor, y: torch.Tensor) -> nn.Module:
        return self._new_module(x.shape[1], tuple(x.shape[-2:]), y.shape[1])

    def _new_module(self, channels: int, grid: tuple[int, int], n_targets: int) -> nn.Module:
        index = None if self.query_index_ is None else torch.as_tensor(self.query_index_)
        membership = None if self.membership_ is None else torch.as_tensor(self.membership_)
        return BrainDecoder(channels, grid, index, len(self.query_names_), self.d_model, self.n_heads,
                            self.dim_feedforward, self.dropout, membership=membership)

    def _fitted_state(self) -> tuple[dict[str, np.ndarray], dict]:
        arrays = {"query_index": self.query_index_} if self.query_index_ is not None else {
            "membership": self.membership_}
        return arrays, {"query_names": list(self.query_names_)}

    def _restore_state(self, arrays: dict[str, np.ndarray], settings: dict) -> None:
        self.query_names_ = list(settings["query_names"])
        self.query_index_ = arrays.get("query_index")
        self.membership_ = arrays.get("membership")

    @torch.no_grad()
    def routing_maps(self, features, stimulus_ids=None, batch_size: int = 256) -> xr.DataArray:
        """The queries' cross-attention over the token grid, averaged over heads.

        Returns
        -------
        xarray.DataArray
            (stimulus, query, y, x); each map sums to 1.
        """
        if not hasattr(self, "module_"):
            raise ValueError("TransformerBrainEncoder is not fitted yet; call fit first")
        x = self._prepare_x(features)
        device = next(self.module_.parameters()).device
        maps = [self.module_.decode(x[i:i + batch_size].to(device), need_weights=True)[1].cpu().numpy()
                for i in range(0, len(x), batch_size)]
        h, w = self.grid_shape_[1:]
        values = np.concatenate(maps).reshape(len(x), len(self.query_names_), h, w)
        stimulus = np.arange(len(x)) if stimulus_ids is None else np.asarray(stimulus_ids)
        return xr.DataArray(values, dims=("stimulus", "query", "y", "x"),
                            coords={"stimulus": stimulus, "query": self.query_names_}, name="routing")
