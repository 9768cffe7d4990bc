"""OAT: the Object-level Attention Transformer for visual-search scanpaths (Fang et al., ECCV 2024).

A scanpath is a sequence of object indices. The encoder reads one token per object plus one target token;
each token is ``concat(appearance, position)`` with appearance from a small CNN on the object's crop (when
scenes carry images) or an embedding of the object's label, and position from
:mod:`cogvision.scanpath.positional` applied to ``[row, col, is_target]``. The decoder reads ``BOS`` (placed at
the grid centre) and the objects fixated so far (the same token embeddings) plus a 1-D sinusoidal order code.
A pointer head scores every encoder token: for each of ``pointer_heads`` heads ``A_d A_e^T / sqrt(d)``, combined
by a linear layer. Pointing at the target token (index 0 here) ends the scanpath; at the first step it is
not allowed. Trained with teacher-forced cross-entropy through :func:`cogvision.training.fit`, early-stopped on
the behavioural delta of scanpaths decoded on a validation set (``val_samples`` seeded samples per trial,
or the greedy one).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from cogvision.device import resolve_device
from cogvision.scanpath.containers import Scene, ScanpathSet, prediction_frame
from cogvision.scanpath.metrics.behaviour import behaviour_delta, behaviour_summary
from cogvision.scanpath.positional import gaussian_table, sinusoidal_table
from cogvision.training import atomic_torch_save, fit, seed_everything, to_device

EOS = 0  # pointer index of the target token
IGNORE = -100
CROP_HW = (150, 93)  # the paper's crop size (h x w)
ENCODER_CHUNK = 128  # scenes per encoder call (see OATNetwork.encode)


@dataclass
class OATConfig:
    """Architecture of :class:`OATNetwork` (defaults: the paper's)."""

    n_labels: int
    n_positions: int
    d_model: int = 512
    n_heads: int = 4
    n_layers: int = 4
    ffn: int = 512
    dropout: float = 0.1
    pointer_heads: int = 2
    position: str = "learned"
    sigma: float = 2.0
    pe_iterations: int = 10_000
    use_images: bool = False
    max_steps: int = 128


class CropCNN(nn.Module):
    """The paper's appearance CNN: conv 5x5 (16) - pool 5 - conv 3x3 (32) - pool 3 - linear, on 150 x 93 crops.

    Input ``(B, 3, 150, 93)`` in [0, 1]; output ``(B, out_dim)``.
    """

    def __init__(self, out_dim: int):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 16, 5), nn.ReLU(), nn.MaxPool2d(5), nn.Conv2d(16, 32, 3), nn.ReLU(),
                                      nn.MaxPool2d(3))
        with torch.no_grad():
            n = self.features(torch.zeros(1, 3, *CROP_HW)).numel()
        self.head = nn.Linear(n, out_dim)

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(crops).flatten(1))


class _DecoderLayer(nn.Module):
    """Post-norm transformer decoder layer that can run one new token at a time.

    The projected keys and values of earlier tokens are kept in a preallocated cache, and a single new
    token attends to the encoder states without projecting them (:meth:`_cross_one`), so a decoding step
    costs one token's work and reads nothing per layer but the encoder states all layers share.
    """

    def __init__(self, d: int, heads: int, ffn: int, dropout: float):
        super().__init__()
        self.heads = heads
        self.self_attn = nn.MultiheadAttention(d, heads, dropout=dropout, batch_first=True)
        self.cross_attn = nn.MultiheadAttention(d, heads, dropout=dropout, batch_first=True)
        self.ff = nn.Sequential(nn.Linear(d, ffn), nn.ReLU(), nn.Dropout(dropout), nn.Linear(ffn, d))
        self.norms = nn.ModuleList([nn.LayerNorm(d) for _ in range(3)])
        self.drop = nn.Dropout(dropout)

    def _proj(self, attn: nn.MultiheadAttention, x: torch.Tensor, which: slice) -> torch.Tensor:
        d = x.shape[-1]
        w = attn.in_proj_weight[which.start * d:which.stop * d]
        b = attn.in_proj_bias[which.start * d:which.stop * d]
        y = F.linear(x, w, b)  # (B, T, n * d)
        n = which.stop - which.start
        return y.view(x.shape[0], x.shape[1], n, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)  # (n, B, h, T, dh)

    def _attend(self, attn: nn.MultiheadAttention, q, k, v, mask) -> torch.Tensor:
        if q.shape[2] == 1 and not self.training:
            # One query per row (a decoding step): two batched products are about 1.5x faster on the CPU than
            # scaled_dot_product_attention's kernel, which is built for many queries.
            scores = (q * q.shape[-1] ** -0.5) @ k.transpose(-1, -2)
            if mask is not None:
                scores = scores.masked_fill(~mask, float("-inf"))
            out = torch.softmax(scores, -1) @ v
        else:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=attn.dropout if self.training else 0.0)
        b, h, t, dh = out.shape
        return attn.out_proj(out.transpose(1, 2).reshape(b, t, h * dh))

    def _cross_one(self, x: torch.Tensor, memory: torch.Tensor, keep: torch.Tensor | None) -> torch.Tensor:
        """Cross-attention of one token per row ``x`` ``(B, 1, d)`` to the encoder states ``memory`` ``(B, S, d)``.

        Head ``j``'s score ``q_j . (K_j m_s + k_j)`` equals ``(K_j^T q_j) . m_s`` plus a term that is the same
        for every ``s`` (dropped: the softmax ignores it), and its output ``sum_s a_s (V_j m_s + v_j)`` equals
        ``V_j (sum_s a_s m_s) + v_j``. So the states are never projected: a step reads ``memory`` itself,
        shared by all layers, instead of per-layer keys and values that would have to be computed for every
        encoder token and copied whenever finished scanpaths leave the batch.
        """
        b, _, d = x.shape
        heads, dh = self.heads, d // self.heads
        w, bias = self.cross_attn.in_proj_weight, self.cross_attn.in_proj_bias
        q = F.linear(x[:, 0], w[:d], bias[:d]).view(b, heads, dh) * dh ** -0.5
        q = torch.bmm(q.transpose(0, 1), w[d:2 * d].view(heads, dh, d)).transpose(0, 1)  # (B, heads, d): K_j^T q_j
        scores = torch.bmm(q, memory.transpose(1, 2))  # (B, heads, S)
        if keep is not None:
            scores = scores.masked_fill(~keep[:, 0], float("-inf"))
        context = torch.bmm(torch.softmax(scores, -1), memory)  # (B, heads, d)
        out = torch.bmm(context.transpose(0, 1), w[2 * d:].view(heads, dh, d).transpose(1, 2))  # (heads, B, dh)
        return self.cross_attn.out_proj(out.transpose(0, 1).reshape(b, d) + bias[2 * d:])[:, None]

    def forward(self, x: torch.Tensor, memory: torch.Tensor, memory_keep: torch.Tensor | None,
                cache: torch.Tensor | None = None, start: int = 0) -> torch.Tensor:
        """Outputs ``(B, T, d)`` for new tokens ``x`` ``(B, T, d)`` at positions ``start..``.

        Parameters
        ----------
        memory
            Encoder states ``(B, S, d)``.
        memory_keep
            :meth:`OATNetwork.key_mask` of the encoder padding: ``(B, 1, 1, S)``, true on real tokens, or ``None``.
        cache
            ``(2, B, heads, max_len, d / heads)``, when given, holds the self-attention keys and values of
            positions ``< start`` and receives those of the new tokens.
        """
        q, k, v = self._proj(self.self_attn, x, slice(0, 3))
        t = x.shape[1]
        if cache is not None:
            cache[0, :, :, start:start + t] = k
            cache[1, :, :, start:start + t] = v
            k, v = cache[0, :, :, :start + t], cache[1, :, :, :start + t]
        s = k.shape[2]
        allowed = torch.ones(t, s, dtype=torch.bool, device=x.device).tril(s - t) if t > 1 else None
        h = self.norms[0](x + self.drop(self._attend(self.self_attn, q, k, v, allowed)))
        if t == 1 and not self.training:
            cross = self._cross_one(h, memory, memory_keep)
        else:
            cq = self._proj(self.cross_attn, h, slice(0, 1))[0]
            ck, cv = self._proj(self.cross_attn, memory, slice(1, 3))
            cross = self._attend(self.cross_attn, cq, ck, cv, memory_keep)
        h = self.norms[1](h + self.drop(cross))
        return self.norms[2](h + self.drop(self.ff(h)))


class OATNetwork(nn.Module):
    """The OAT network on padded tensor batches (see :meth:`OAT.fit` for the batch layout).

    Encoder tokens: index 0 the target token, ``1..N`` the objects. ``forward`` returns pointer logits
    ``(B, T, 1 + N)`` for decoder inputs ``dec_in`` ``(B, T)`` (0 = BOS, ``k`` = object token ``k``).
    """

    def __init__(self, config: OATConfig):
        super().__init__()
        self.config = config
        d, half = config.d_model, config.d_model // 2
        self.half = half
        if config.use_images:
            self.crop_cnn = CropCNN(half)
        else:
            self.label_embed = nn.Embedding(config.n_labels, half)
        k = math.ceil((d - half) / 3)
        n_pos = max(config.n_positions, 2)
        if config.position == "learned":
            table = gaussian_table(n_pos, k, config.sigma, config.pe_iterations)
        elif config.position == "sinusoidal":
            table = sinusoidal_table(n_pos, k)
        else:
            raise ValueError(f"position must be 'learned' or 'sinusoidal', got {config.position!r}")
        self.register_buffer("pos_table", torch.as_tensor(np.asarray(table), dtype=torch.float32))
        self.register_buffer("order_table", torch.as_tensor(sinusoidal_table(config.max_steps + 1, d)))
        self.bos = nn.Parameter(torch.zeros(half))
        layer = nn.TransformerEncoderLayer(d, config.n_heads, config.ffn, config.dropout, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, config.n_layers, enable_nested_tensor=False)
        self.decoder = nn.ModuleList([_DecoderLayer(d, config.n_heads, config.ffn, config.dropout)
                                      for _ in range(config.n_layers)])
        self.ptr_enc = nn.ModuleList([nn.Linear(d, d) for _ in range(config.pointer_heads)])
        self.ptr_dec = nn.ModuleList([nn.Linear(d, d) for _ in range(config.pointer_heads)])
        self.combine = nn.Linear(config.pointer_heads, 1)
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def _position(self, pos: torch.Tensor) -> torch.Tensor:
        code = self.pos_table[pos].flatten(-2)  # (..., 3k)
        return code[..., : self.config.d_model - self.half]

    def tokens(self, batch: dict) -> torch.Tensor:
        """Encoder input embeddings ``(B, 1 + N, d)``: target token then objects."""
        if self.config.use_images:
            crops = torch.cat([batch["tgt_crop"][:, None], batch["obj_crop"]], 1)
            b, n = crops.shape[:2]
            appearance = self.crop_cnn(crops.flatten(0, 1)).view(b, n, -1)
        else:
            appearance = self.label_embed(torch.cat([batch["tgt_label"][:, None], batch["obj_label"]], 1))
        pos = torch.cat([batch["tgt_pos"][:, None], batch["obj_pos"]], 1)
        return torch.cat([appearance, self._position(pos)], -1)

    def encode(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Token embeddings ``(B, S, d)``, encoder states ``(B, S, d)`` and padding mask ``(B, S)``."""
        tokens = self.tokens(batch)
        pad = ~torch.cat([torch.ones_like(batch["obj_mask"][:, :1]), batch["obj_mask"]], 1)
        # The encoder runs on chunks of at most 128 scenes: on the CPU their attention maps stay in cache (about
        # 25% faster per scene than 256 at once, 2x faster than 1,000). A chunk without padding passes no mask, so
        # that torch's fused encoder uses a plain softmax (also faster).
        memory = torch.cat([self.encoder(t, src_key_padding_mask=p if p.any() else None)
                            for t, p in zip(tokens.split(ENCODER_CHUNK), pad.split(ENCODER_CHUNK))])
        return tokens, memory, pad

    def pointer_keys(self, memory: torch.Tensor) -> torch.Tensor:
        """Pointer keys ``(B, pointer_heads, S, d)`` of encoder states ``(B, S, d)``."""
        return torch.stack([lin(memory) for lin in self.ptr_enc], 1)

    def decoder_inputs(self, tokens: torch.Tensor, dec_in: torch.Tensor, bos_pos: torch.Tensor, start: int = 0):
        """Decoder input embeddings ``(B, T, d)`` for pointer indices ``dec_in`` (0 = BOS) at steps ``start..``."""
        gathered = tokens.gather(1, dec_in[..., None].expand(-1, -1, tokens.shape[-1]))
        x = torch.where((dec_in == 0)[..., None], self._bos(bos_pos)[:, None, :], gathered)
        stop = start + dec_in.shape[1]
        return x + self._order(stop)[start:stop]

    def _bos(self, bos_pos: torch.Tensor) -> torch.Tensor:
        """BOS embeddings ``(B, d)`` at grid positions ``bos_pos`` ``(B, 3)``."""
        return torch.cat([self.bos.expand(len(bos_pos), -1), self._position(bos_pos)], -1)

    def _order(self, stop: int) -> torch.Tensor:
        """Order codes of steps ``0..stop - 1`` (at least), ``(>= stop, d)``."""
        if stop <= len(self.order_table):
            return self.order_table
        return torch.as_tensor(sinusoidal_table(stop, self.config.d_model), device=self.order_table.device)

    def pointer_logits(self, h: torch.Tensor, keys: torch.Tensor, blocked: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, T, S)`` over encoder tokens for decoder states ``h`` ``(B, T, d)``.

        ``keys`` ``(B, pointer_heads, S, d)`` come from :meth:`pointer_keys`; ``blocked`` (broadcastable to
        ``(B, T, S)``) marks tokens that cannot be pointed at (padding; EOS at the first step), set to -inf.
        """
        queries = torch.stack([lin(h) for lin in self.ptr_dec], 1)  # (B, H, T, d)
        scores = queries @ keys.transpose(-1, -2) / math.sqrt(self.config.d_model)  # (B, H, T, S)
        logits = self.combine(scores.permute(0, 2, 3, 1)).squeeze(-1)
        return logits.masked_fill(blocked, float("-inf"))

    def pointer_query(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The pointer head folded into one query per decoder state: ``g = h @ A + a``, ``A`` ``(d, d)``, ``a`` ``(d,)``.

        With pointer keys ``U_j m_s + u_j`` (``ptr_enc[j]``) of encoder states ``m_s``, queries ``W_j h + w_j``
        (``ptr_dec[j]``) of a decoder state ``h`` and head weights ``c_j`` (``combine``, with ``1 / sqrt(d)``),
        the logit of token ``s`` is ``m_s . g + const`` with ``g = sum_j c_j U_j^T (W_j h + w_j)`` and
        ``const`` the same for every ``s``. So ``memory @ g`` has the argmax and the softmax of
        :meth:`pointer_logits`, and a decoding step needs no pointer keys.
        """
        c = self.combine.weight[0] / math.sqrt(self.config.d_model)  # (H,)
        W = torch.stack([lin.weight for lin in self.ptr_dec])  # (H, d, d)
        w = torch.stack([lin.bias for lin in self.ptr_dec])  # (H, d)
        U = torch.stack([lin.weight for lin in self.ptr_enc])
        return torch.einsum("h,hei,hej->ji", c, U, W), torch.einsum("h,hei,he->i", c, U, w)

    @staticmethod
    def key_mask(pad: torch.Tensor) -> torch.Tensor | None:
        """Attention mask ``(B, 1, 1, S)`` over encoder tokens, true on real ones, from the padding mask ``(B, S)``;
        ``None`` when nothing is padded."""
        return ~pad[:, None, None, :] if pad.any() else None

    def forward(self, batch: dict) -> torch.Tensor:
        tokens, memory, pad = self.encode(batch)
        keys = self.pointer_keys(memory)
        x = self.decoder_inputs(tokens, batch["dec_in"], batch["bos_pos"])
        keep = self.key_mask(pad)
        for layer in self.decoder:
            x = layer(x, memory, keep)
        first = torch.zeros_like(batch["dec_in"], dtype=torch.bool)
        first[:, 0] = True
        eos = torch.arange(pad.shape[1], device=pad.device) == EOS
        return self.pointer_logits(x, keys, pad[:, None, :] | (first[..., None] & eos))

    @torch.inference_mode()
    def generate(self, batch: dict, max_len: int, sample: bool = False, generator: torch.Generator | None = None,
                 repeats: int = 1) -> torch.Tensor:
        """Decode pointer indices ``(B * repeats, max_len)``: object token ``k``, 0 from the scanpath's end on.

        Each scene is encoded once and decoded ``repeats`` times (rows scene-major), greedily or by sampling
        from ``generator`` (a CPU generator). A step costs one new token per scanpath: the self-attention keys
        and values of earlier steps are cached, and the encoder states are read as they are by the
        cross-attention of every layer (:meth:`_DecoderLayer._cross_one`) and by the pointer
        (:meth:`pointer_query`). Finished scanpaths are dropped from the batch as they accumulate.
        """
        tokens, memory, pad = self.encode(batch)
        bos_pos = batch["bos_pos"]
        if repeats > 1:
            memory, pad, bos_pos = (t.repeat_interleave(repeats, 0) for t in (memory, pad, bos_pos))
        n, dev = len(memory), memory.device
        heads, d = self.config.n_heads, self.config.d_model
        keep = self.key_mask(pad)
        caches = [memory.new_empty(2, n, heads, max_len, d // heads) for _ in self.decoder]
        order = self._order(max_len)
        out = torch.zeros(n, max_len, dtype=torch.long, device=dev)
        rows = torch.arange(n, device=dev)  # the output row of each scanpath in the batch
        scene = rows // repeats  # its scene's row in tokens
        done = torch.zeros(n, dtype=torch.bool, device=dev)
        blocked = pad | (torch.arange(pad.shape[1], device=dev) == EOS)  # no EOS at the first step
        query_w, query_b = self.pointer_query()
        x = (self._bos(bos_pos) + order[0])[:, None]
        for step in range(max_len):
            for layer, cache in zip(self.decoder, caches):
                x = layer(x, memory, keep, cache, step)
            query = torch.addmm(query_b, x[:, 0], query_w)  # (n, d)
            # the pointer logits less a constant per row: the same argmax and softmax
            logits = torch.bmm(memory, query[:, :, None])[..., 0].masked_fill(blocked, float("-inf"))
            if sample:
                # Draw for all n rows (those not in the batch from a dummy uniform), so that the random stream,
                # and hence every sample, does not depend on when finished scanpaths leave the batch.
                probs = torch.ones(n, logits.shape[1])
                probs[rows.cpu()] = torch.softmax(logits.float(), -1).cpu()
                choice = torch.multinomial(probs, 1, generator=generator)[rows.cpu(), 0].to(dev)
            else:
                choice = logits.argmax(-1)
            choice = choice.masked_fill(done, EOS)
            out[rows, step] = choice
            done = done | (choice == EOS)
            n_done = int(done.sum())
            if n_done == len(rows) or step + 1 == max_len:
                break
            if n_done > len(rows) // 8:
                # Copying the batch's per-row tensors costs about as much as a step, so finished scanpaths
                # ride along (their outputs masked) until they are an eighth of the batch.
                live = (~done).nonzero()[:, 0]
                rows, scene, choice, memory, pad, done = (
                    t.index_select(0, live) for t in (rows, scene, choice, memory, pad, done))
                caches = [_keep_rows(cache, live, step + 1) for cache in caches]
                keep = keep.index_select(0, live) if keep is not None else None
            blocked = pad
            # The next inputs: the chosen objects' tokens (finished rows read the target token; they are masked).
            x = (tokens[scene, choice] + order[step + 1])[:, None]
        return out


def _keep_rows(cache: torch.Tensor, rows: torch.Tensor, filled: int) -> torch.Tensor:
    """A self-attention cache ``(2, B, heads, max_len, dh)`` reduced to ``rows``, copying its first ``filled`` steps."""
    kept = cache.new_empty(2, len(rows), *cache.shape[2:])
    kept[:, :, :, :filled] = cache[:, rows, :, :filled]
    return kept


def _scene_tensors(scene: Scene, vocab: dict[str, int], use_images: bool) -> dict:
    """One scene's encoder inputs: label ids ``(N,)``, positions ``[row, col, is_target]`` ``(N, 3)``, the
    target token's label and position, the BOS position (the grid centre) and, with images, crops
    ``(N, 3, 150, 93)``. NumPy arrays (crops: a tensor); :func:`_collate` makes the batch tensors."""
    rows, cols = scene.grid_shape
    is_target = np.zeros((scene.n_objects, 1), np.int64)
    is_target[scene.target] = 1
    out = {
        "obj_label": np.array([vocab.get(lab, 0) for lab in scene.labels], np.int64),
        "obj_pos": np.concatenate([scene.grid_pos, is_target], 1),
        "tgt_label": vocab.get(scene.target_label, 0),
        "tgt_pos": [*scene.grid_pos[scene.target], 1],
        "bos_pos": [rows // 2, cols // 2, 0],
    }
    if use_images:
        image = torch.as_tensor(np.asarray(scene.image), dtype=torch.float32).permute(2, 0, 1) / 255.0
        crops = []
        for x0, y0, x1, y1 in scene.boxes.round().astype(int):
            crop = image[:, max(y0, 0):max(y1, y0 + 1), max(x0, 0):max(x1, x0 + 1)]
            crops.append(F.interpolate(crop[None], size=CROP_HW, mode="bilinear", align_corners=False)[0])
        out["obj_crop"] = torch.stack(crops)
        out["tgt_crop"] = out["obj_crop"][scene.target]
    return out


def _collate(items: Sequence[tuple[dict, np.ndarray | None]]) -> dict:
    """Pad scenes from :func:`_scene_tensors` (and scanpaths of object indices, or ``None``) into a batch.

    Returns
    -------
    dict
        ``obj_label`` ``(B, N)``, ``obj_pos`` ``(B, N, 3)``, ``obj_mask`` ``(B, N)`` (true on real objects),
        ``tgt_label`` ``(B,)``, ``tgt_pos`` and ``bos_pos`` ``(B, 3)``; crops when the scenes have them; with
        scanpaths, ``dec_in`` (0 = BOS, then object token ``k + 1``) and ``dec_out`` (the next token, ``EOS``
        after the last fixation, ``IGNORE`` on padding), both ``(B, T)``.
    """
    b = len(items)
    n = max(len(s["obj_label"]) for s, _ in items)
    label = np.zeros((b, n), np.int64)
    pos = np.zeros((b, n, 3), np.int64)
    mask = np.zeros((b, n), bool)
    for k, (s, _) in enumerate(items):
        m = len(s["obj_label"])
        label[k, :m], pos[k, :m], mask[k, :m] = s["obj_label"], s["obj_pos"], True
    batch = {
        "obj_label": torch.from_numpy(label), "obj_pos": torch.from_numpy(pos), "obj_mask": torch.from_numpy(mask),
        "tgt_label": torch.tensor([s["tgt_label"] for s, _ in items]),
        "tgt_pos": torch.tensor([s["tgt_pos"] for s, _ in items]),
        "bos_pos": torch.tensor([s["bos_pos"] for s, _ in items]),
    }
    if "obj_crop" in items[0][0]:
        batch["obj_crop"] = torch.zeros(b, n, 3, *CROP_HW)
        for k, (s, _) in enumerate(items):
            batch["obj_crop"][k, :len(s["obj_crop"])] = s["obj_crop"]
        batch["tgt_crop"] = torch.stack([s["tgt_crop"] for s, _ in items])
    if items[0][1] is not None:
        t = max(len(seq) for _, seq in items) + 1
        dec_in = np.zeros((b, t), np.int64)
        dec_out = np.full((b, t), IGNORE, np.int64)
        for k, (_, seq) in enumerate(items):
            ptr = np.asarray(seq, np.int64) + 1
            dec_in[k, 1:len(ptr) + 1] = ptr
            dec_out[k, :len(ptr)] = ptr
            dec_out[k, len(ptr)] = EOS
        batch["dec_in"], batch["dec_out"] = torch.from_numpy(dec_in), torch.from_numpy(dec_out)
    return batch


def _oat_loss(model: OATNetwork, batch: dict) -> torch.Tensor:
    logits = model(batch)
    return F.cross_entropy(logits.flatten(0, 1).float(), batch["dec_out"].flatten(), ignore_index=IGNORE)


class _Items(torch.utils.data.Dataset):
    def __init__(self, items):
        self.items = items

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


class OAT:
    """Object-level Attention Transformer as a scikit-learn-like estimator.

    Parameters
    ----------
    d_model, n_heads, n_layers, ffn, dropout, pointer_heads
        Architecture (paper: 512, 4, 4, 512, 0.1, 2).
    position
        ``"learned"`` (the paper's Gaussian-similarity table) or ``"sinusoidal"``.
    sigma, pe_iterations
        Width and fitting iterations of the learned table.
    use_images
        ``"auto"``: use the crop CNN when every scene carries an image; else label embeddings.
    epochs, batch_size, lr, weight_decay, grad_clip, patience
        Training (paper: up to 500 epochs, batch 20, Adam lr 1e-4, clip 1.0, patience 30 on the delta).
    max_len
        Longest decoded scanpath (default: the longest training scanpath).
    val_samples
        Scanpaths sampled per validation trial (with a fixed seed) for the early-stopping delta; 0 uses
        the greedy scanpath (one per trial, a much noisier estimate).
    warmup_epochs
        Epochs trained before early stopping starts watching the delta (0, the paper's protocol, watches
        from the first epoch). A barely trained model samples long, near-random scanpaths whose summary
        statistics can match the humans' by chance, so with short training budgets the delta would
        otherwise select an untrained model. These epochs count towards ``epochs``.
    device
        ``"auto"``, ``"cpu"``, ``"cuda"``...
    seed
        Seed of initialisation, batch order and sampling.
    progress
        Show a progress bar while fitting.
    """

    def __init__(self, d_model: int = 512, n_heads: int = 4, n_layers: int = 4, ffn: int = 512, dropout: float = 0.1,
                 pointer_heads: int = 2, position: str = "learned", sigma: float = 2.0, pe_iterations: int = 10_000,
                 use_images: bool | str = "auto", epochs: int = 500, batch_size: int = 20, lr: float = 1e-4,
                 weight_decay: float = 0.0, grad_clip: float | None = 1.0, patience: int | None = 30,
                 max_len: int | None = None, val_samples: int = 10, warmup_epochs: int = 0, device: str = "auto",
                 seed: int = 1234,
                 progress: bool = False):
        self.d_model, self.n_heads, self.n_layers, self.ffn, self.dropout = d_model, n_heads, n_layers, ffn, dropout
        self.pointer_heads, self.position, self.sigma, self.pe_iterations = pointer_heads, position, sigma, pe_iterations
        self.use_images, self.epochs, self.batch_size, self.lr = use_images, epochs, batch_size, lr
        self.weight_decay, self.grad_clip, self.patience, self.max_len = weight_decay, grad_clip, patience, max_len
        self.val_samples, self.warmup_epochs = val_samples, warmup_epochs
        self.device, self.seed, self.progress = device, seed, progress

    # ----------------------------------------------------------------- data
    def _check(self, data: ScanpathSet, what: str) -> None:
        if not isinstance(data, ScanpathSet):
            raise ValueError(f"{what} must be a ScanpathSet, got {type(data).__name__}")
        no_target = [t for t, s in data.scenes.items() if s.target < 0]
        if no_target:
            raise ValueError(f"{what}: trial {no_target[0]!r} has no search target; OAT models visual search")

    def _scene_items(self, scenes: Sequence[Scene]) -> list[dict]:
        for s in scenes:
            if max(s.grid_shape) > self.config_.n_positions:
                raise ValueError(f"trial {s.trial!r}: grid {s.grid_shape} is larger than the {self.config_.n_positions} "
                                 "positions this model was trained with")
            if self.images_ and s.image is None:
                raise ValueError(f"trial {s.trial!r}: this model reads object crops but the scene has no image")
        return [_scene_tensors(s, self.vocab_, self.images_) for s in scenes]

    def _training_items(self, data: ScanpathSet) -> list:
        tensors = dict(zip(data.trials, self._scene_items([data.scenes[t] for t in data.trials])))
        items = []
        for trial, subject, seq in data.sequences():
            if len(seq) == 0:
                raise ValueError(f"trial {trial!r}, subject {subject!r}: no fixation on any object (empty scanpath)")
            items.append((tensors[trial], seq[: self.max_len_]))
        return items

    # ----------------------------------------------------------------- fit
    def fit(self, train: ScanpathSet, val: ScanpathSet | None = None, checkpoint_dir: str | os.PathLike | None = None,
            resume: bool = False) -> OAT:
        """Train on ``train``; with ``val``, early-stop on the behavioural delta of greedy scanpaths.

        Returns
        -------
        self
        """
        self._check(train, "train")
        if len(train) == 0:
            raise ValueError("train has no scanpaths")
        if val is not None:
            self._check(val, "val")
        scenes = list(train.scenes.values())
        labels = sorted({lab for s in scenes for lab in s.labels} | {s.target_label for s in scenes})
        self.vocab_ = {lab: i + 1 for i, lab in enumerate(labels)}  # 0: unseen label
        self.images_ = bool(self.use_images) and all(s.image is not None for s in scenes)
        if self.use_images is True and not self.images_:
            raise ValueError("use_images=True but some training scenes carry no image")
        lengths = [len(s) for *_, s in train.sequences()]
        self.max_len_ = int(self.max_len or max(lengths))
        n_positions = max(max(max(s.grid_shape) for s in scenes), 2)
        if val is not None:
            n_positions = max(n_positions, max(max(s.grid_shape) for s in val.scenes.values()))
        self.config_ = OATConfig(len(self.vocab_) + 1, n_positions, self.d_model, self.n_heads, self.n_layers, self.ffn,
                                 self.dropout, self.pointer_heads, self.position, self.sigma, self.pe_iterations,
                                 self.images_, max(self.max_len_, 1) + 1)
        seed_everything(self.seed)
        self.network_ = OATNetwork(self.config_)
        metric = None
        if val is not None and len(val):
            seqs = val.sequences()
            human = behaviour_summary([s for *_, s in seqs], [val.scenes[t].target for t, *_ in seqs])
            val_trials = val.trials

            def metric(model):
                pred = self._decode_sequences(model, [val.scenes[t] for t in val_trials], self.val_samples)
                targets = [val.scenes[t].target for t in val_trials for _ in range(max(self.val_samples, 1))]
                return behaviour_delta(behaviour_summary(pred, targets), human)

        items = _Items(self._training_items(train))
        common = dict(batch_size=self.batch_size, lr=self.lr, weight_decay=self.weight_decay,
                      optimizer=lambda m: torch.optim.Adam(m.parameters(), lr=self.lr, weight_decay=self.weight_decay),
                      grad_clip=self.grad_clip, collate_fn=_collate, device=self.device, progress=self.progress)
        warmup = min(self.warmup_epochs, self.epochs - 1) if metric is not None else 0
        histories = []
        if warmup > 0:
            first = fit(self.network_, items, _oat_loss, epochs=warmup, seed=self.seed, resume=resume,
                        checkpoint_dir=Path(checkpoint_dir) / "warmup" if checkpoint_dir is not None else None, **common)
            histories.append(first.history)
        result = fit(self.network_, items, _oat_loss, epochs=self.epochs - warmup, val_metric=metric, mode="min",
                     patience=self.patience if metric is not None else None, seed=self.seed + warmup, resume=resume,
                     checkpoint_dir=Path(checkpoint_dir) / "main" if checkpoint_dir is not None else None, **common)
        history = result.history.assign(epoch=result.history["epoch"] + warmup)
        self.history_ = pd.concat(histories + [history], ignore_index=True)
        self.best_epoch_ = result.best_epoch + warmup
        self.best_delta_ = result.best_metric
        self.network_.eval()
        return self

    # ----------------------------------------------------------------- decoding
    def _decode_sequences(self, model: OATNetwork, scenes: Sequence[Scene], n_samples: int,
                          batch_size: int | None = None) -> list[np.ndarray]:
        """Greedy (``n_samples=0``) or ``n_samples`` seeded sampled scanpaths per scene (object indices).

        ``batch_size`` scanpaths are decoded together; by default 256 when greedy (the fastest on CPU) and 512
        when sampling (the batches decide which random numbers each scanpath draws, so they stay the size the
        seeded samples have always been drawn with).
        """
        dev = next(model.parameters()).device
        items = self._scene_items(scenes)
        repeats = max(n_samples, 1)
        batch_size = batch_size or (512 if n_samples else 256)
        generator = torch.Generator().manual_seed(self.seed)
        out: list[np.ndarray] = []
        was_training = model.training
        model.eval()
        per_batch = max(batch_size // repeats, 1)
        for start in range(0, len(items), per_batch):
            batch = to_device(_collate([(item, None) for item in items[start:start + per_batch]]), dev)
            ptr = model.generate(batch, self.max_len_, sample=n_samples > 0, generator=generator,
                                 repeats=repeats).cpu().numpy()
            ended = ptr == EOS
            lengths = np.where(ended.any(1), ended.argmax(1), ptr.shape[1])
            out.extend(row[:k] - 1 for row, k in zip(ptr, lengths))
        model.train(was_training)
        return out

    def _trained(self) -> None:
        if not hasattr(self, "network_"):
            raise ValueError("this OAT is not fitted yet; call fit() or OAT.load()")

    def predict(self, data: ScanpathSet | Sequence[Scene], n_samples: int = 0) -> pd.DataFrame:
        """Predicted scanpaths: greedy (``n_samples=0``) or ``n_samples`` sampled ones per trial (seeded).

        Returns
        -------
        DataFrame
            Columns ``trial, sample, fixation, object, x, y`` (x, y: object box centres).
        """
        self._trained()
        scenes = [data.scenes[t] for t in data.trials] if isinstance(data, ScanpathSet) else list(data)
        for s in scenes:
            if s.target < 0:
                raise ValueError(f"trial {s.trial!r} has no search target")
        return prediction_frame(scenes, self._decode_sequences(self.network_, scenes, n_samples), max(n_samples, 1))

    @torch.no_grad()
    def log_likelihood(self, data: ScanpathSet) -> pd.DataFrame:
        """Exact per-step log-probabilities of the human scanpaths under the model (teacher forcing).

        Returns
        -------
        DataFrame
            Columns ``trial, subject, step, object, log_prob``; the last step of each scanpath is the stop
            decision (``object == -1``: the model points at the target token).
        """
        self._trained()
        self._check(data, "data")
        model = self.network_.eval()
        dev = next(model.parameters()).device
        tensors = dict(zip(data.trials, self._scene_items([data.scenes[t] for t in data.trials])))
        seqs = [(t, subj, s) for t, subj, s in data.sequences() if len(s)]
        frames = []
        for start in range(0, len(seqs), 256):
            chunk = seqs[start:start + 256]
            batch = to_device(_collate([(tensors[t], s) for t, _, s in chunk]), dev)
            logp = torch.log_softmax(model(batch).float(), -1)
            target = batch["dec_out"]
            picked = logp.gather(-1, target.clamp(min=0)[..., None]).squeeze(-1).cpu().numpy()
            for k, (trial, subject, seq) in enumerate(chunk):
                n = len(seq) + 1
                frames.append(pd.DataFrame({"trial": trial, "subject": subject, "step": np.arange(n),
                                            "object": np.append(seq, -1), "log_prob": picked[k, :n]}))
        return pd.concat(frames, ignore_index=True)

    def score(self, data: ScanpathSet) -> float:
        """Mean log-likelihood per step (nats) of the human scanpaths in ``data``; higher is better."""
        return float(self.log_likelihood(data)["log_prob"].mean())

    # ----------------------------------------------------------------- persistence
    def save(self, path: str | os.PathLike) -> None:
        """Write the fitted model to one file (atomically): config, vocabulary and weights."""
        self._trained()
        atomic_torch_save({"config": json.dumps(asdict(self.config_)), "vocab": json.dumps(self.vocab_),
                           "params": json.dumps(self._params()), "max_len": self.max_len_,
                           "state": self.network_.state_dict()}, path)

    def _params(self) -> dict:
        keys = ["d_model", "n_heads", "n_layers", "ffn", "dropout", "pointer_heads", "position", "sigma", "pe_iterations",
                "use_images", "epochs", "batch_size", "lr", "weight_decay", "grad_clip", "patience", "max_len", "val_samples",
                "warmup_epochs", "device",
                "seed", "progress"]
        return {k: getattr(self, k) for k in keys}

    @classmethod
    def load(cls, path: str | os.PathLike, device: str = "auto") -> OAT:
        """Read a model written by :meth:`save` (weights only; no code is unpickled)."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"OAT model file {path} does not exist")
        blob = torch.load(path, map_location="cpu", weights_only=True)
        model = cls(**json.loads(blob["params"]))
        model.config_ = OATConfig(**json.loads(blob["config"]))
        model.vocab_ = json.loads(blob["vocab"])
        model.images_ = model.config_.use_images
        model.max_len_ = int(blob["max_len"])
        model.network_ = OATNetwork(model.config_)
        model.network_.load_state_dict(blob["state"])
        model.network_.to(resolve_device(device)).eval()
        return model
