"""The OAT network (Fang et al., ECCV 2024) on padded batches (:class:`~cogvision.scanpath.oat_batch.OATBatch`).

Encoder tokens: index 0 the target token, ``1..N`` the objects; each token is ``concat(appearance, position)``
with appearance from a label embedding, the paper's crop CNN, or a linear map of given features, and position
from :mod:`cogvision.scanpath.positional` applied to ``[row, col, is_target]``. The decoder reads ``BOS`` (at the
grid centre) and the objects fixated so far plus a 1-D sinusoidal order code. A pointer head scores every
encoder token: for each of ``pointer_heads`` heads ``A_d A_e^T / sqrt(d)``, combined by a linear layer.
Pointing at the target token ends the scanpath; at the first step it is not allowed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cogvision.scanpath.oat_batch import CROP_HW, EOS, OATBatch
from cogvision.scanpath.positional import gaussian_table, sinusoidal_table

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
    appearance: str = "label"
    feature_dim: int = 0
    max_steps: int = 128
    relative_bias: bool = False


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
        """Appearance ``(B, out_dim)`` of crops ``(B, 3, 150, 93)``."""
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
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask,
                                                 dropout_p=attn.dropout if self.training else 0.0)
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
                cache: torch.Tensor | None = None, start: int = 0, scene: torch.Tensor | None = None) -> torch.Tensor:
        """Outputs ``(B, T, d)`` for new tokens ``x`` ``(B, T, d)`` at positions ``start..``.

        Parameters
        ----------
        memory
            Encoder states ``(B, S, d)``, or ``(n_scenes, S, d)`` with ``scene``.
        memory_keep
            :meth:`OATNetwork.key_mask` of the encoder padding: ``(B, 1, 1, S)``, true on real tokens, or ``None``
            (per scene with ``scene``).
        scene
            ``(B,)`` scene of each row when ``memory`` holds each scene once: the cross-attention keys and values
            are then projected once per scene and shared by its rows.
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
            if scene is not None:
                ck, cv = ck[scene], cv[scene]
                memory_keep = memory_keep[scene] if memory_keep is not None else None
            cross = self._attend(self.cross_attn, cq, ck, cv, memory_keep)
        h = self.norms[1](h + self.drop(cross))
        return self.norms[2](h + self.drop(self.ff(h)))


class OATNetwork(nn.Module):
    """The OAT network on padded batches (:class:`~cogvision.scanpath.oat_batch.OATBatch`).

    Encoder tokens: index 0 the target token, ``1..N`` the objects. ``forward`` returns pointer logits
    ``(B, T, 1 + N)`` for decoder inputs ``dec_in`` ``(B, T)`` (0 = BOS, ``k`` = object token ``k``).
    """

    def __init__(self, config: OATConfig):
        super().__init__()
        self.config = config
        d, half = config.d_model, config.d_model // 2
        self.half = half
        if config.appearance == "crop":
            self.crop_cnn = CropCNN(half)
        elif config.appearance == "features":
            self.feature_proj = nn.Sequential(nn.LayerNorm(config.feature_dim), nn.Linear(config.feature_dim, half))
        elif config.appearance == "label":
            self.label_embed = nn.Embedding(config.n_labels, half)
        else:
            raise ValueError(f"appearance must be 'label', 'crop' or 'features', got {config.appearance!r}")
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
        if config.relative_bias:
            # b[dr, dc]: a learned bias of every object's pointer logit by its grid offset from the current
            # fixation (zero at the start: the paper's pointer).
            self.rel_bias = nn.Parameter(torch.zeros(2 * n_pos - 1, 2 * n_pos - 1))

    def _position(self, pos: torch.Tensor) -> torch.Tensor:
        code = self.pos_table[pos].flatten(-2)  # (..., 3k)
        return code[..., : self.config.d_model - self.half]

    def tokens(self, batch: OATBatch) -> torch.Tensor:
        """Encoder input embeddings ``(S, 1 + N, d)`` of the batch's scenes: target token then objects."""
        if self.config.appearance == "crop":
            crops = torch.cat([batch.tgt_crop[:, None], batch.obj_crop], 1)
            b, n = crops.shape[:2]
            appearance = self.crop_cnn(crops.flatten(0, 1)).view(b, n, -1)
        elif self.config.appearance == "features":
            appearance = self.feature_proj(torch.cat([batch.tgt_feat[:, None], batch.obj_feat], 1))
        else:
            appearance = self.label_embed(torch.cat([batch.tgt_label[:, None], batch.obj_label], 1))
        pos = torch.cat([batch.tgt_pos[:, None], batch.obj_pos], 1)
        return torch.cat([appearance, self._position(pos)], -1)

    def encode(self, batch: OATBatch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Token embeddings ``(S, 1 + N, d)``, encoder states ``(S, 1 + N, d)`` and padding mask ``(S, 1 + N)``,
        once per scene of the batch."""
        tokens = self.tokens(batch)
        pad = ~torch.cat([torch.ones_like(batch.obj_mask[:, :1]), batch.obj_mask], 1)
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

    def relative_logits(self, token_pos: torch.Tensor, current: torch.Tensor) -> torch.Tensor:
        """The relative-position bias ``(B, T, S)``: ``b[pos_s - current_t]`` for every object token ``s``, 0 for
        the target token (the stop choice).

        Parameters
        ----------
        token_pos
            ``(B, S, 3)`` grid codes of the encoder tokens (target token first).
        current
            ``(B, T, 2)`` grid position of the fixation each step starts from (BOS: the grid centre).
        """
        offset = self.config.n_positions - 1
        n_pos = self.rel_bias.shape[0]
        d = (token_pos[:, None, :, :2] - current[:, :, None, :] + offset).clamp(0, n_pos - 1)  # (B, T, S, 2)
        bias = self.rel_bias[d[..., 0], d[..., 1]]
        bias[..., EOS] = 0.0
        return bias

    def token_positions(self, batch: OATBatch) -> torch.Tensor:
        """Grid codes ``(n_scenes, 1 + N, 3)`` of the encoder tokens, target token first."""
        return torch.cat([batch.tgt_pos[:, None], batch.obj_pos], 1)

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
        """The pointer head folded into one query per decoder state: ``g = h @ A + a``, ``A`` ``(d, d)``,
        ``a`` ``(d,)``.

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

    def forward(self, batch: OATBatch) -> torch.Tensor:
        """Teacher-forced pointer logits ``(B, T, 1 + N)`` of the batch's scanpath rows."""
        # Everything computed from the encoder states (cross-attention keys and values, pointer keys) is computed
        # once per scene and shared by the scene's rows (all subjects of an image).
        tokens, memory, pad = self.encode(batch)
        scene = batch.scene
        keys = self.pointer_keys(memory)[scene]
        x = self.decoder_inputs(tokens[scene], batch.dec_in, batch.bos_pos[scene])
        keep = self.key_mask(pad)
        for layer in self.decoder:
            x = layer(x, memory, keep, scene=scene)
        first = torch.zeros_like(batch.dec_in, dtype=torch.bool)
        first[:, 0] = True
        eos = torch.arange(pad.shape[1], device=pad.device) == EOS
        logits = self.pointer_logits(x, keys, pad[scene][:, None, :] | (first[..., None] & eos))
        if self.config.relative_bias:
            token_pos = self.token_positions(batch)[scene]  # (B, S, 3)
            current = token_pos.gather(1, batch.dec_in[..., None].expand(-1, -1, 3))[..., :2]
            current[:, 0] = batch.bos_pos[scene, :2]
            logits = logits + self.relative_logits(token_pos, current)
        return logits

    @torch.inference_mode()
    def generate(self, batch: OATBatch, max_len: int, sample: bool = False, generator: torch.Generator | None = None,
                 repeats: int = 1) -> torch.Tensor:
        """Decode pointer indices ``(B * repeats, max_len)``: object token ``k``, 0 from the scanpath's end on.

        Each scene is encoded once and decoded ``repeats`` times (rows scene-major), greedily or by sampling
        from ``generator`` (a CPU generator). A step costs one new token per scanpath: the self-attention keys
        and values of earlier steps are cached, and the encoder states are read as they are by the
        cross-attention of every layer (:meth:`_DecoderLayer._cross_one`) and by the pointer
        (:meth:`pointer_query`). Finished scanpaths are dropped from the batch as they accumulate.
        """
        tokens, memory, pad = self.encode(batch)
        bos_pos = batch.bos_pos
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
        if self.config.relative_bias:
            token_pos = self.token_positions(batch)  # (n_scenes, S, 3)
            current = bos_pos[:, :2]
        x = (self._bos(bos_pos) + order[0])[:, None]
        for step in range(max_len):
            for layer, cache in zip(self.decoder, caches):
                x = layer(x, memory, keep, cache, step)
            query = torch.addmm(query_b, x[:, 0], query_w)  # (n, d)
            # the pointer logits less a constant per row: the same argmax and softmax
            logits = torch.bmm(memory, query[:, :, None])[..., 0].masked_fill(blocked, float("-inf"))
            if self.config.relative_bias:
                logits = logits + self.relative_logits(token_pos[scene], current[:, None])[:, 0]
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
            if self.config.relative_bias:
                current = token_pos[scene, choice, :2]
            # The next inputs: the chosen objects' tokens (finished rows read the target token; they are masked).
            x = (tokens[scene, choice] + order[step + 1])[:, None]
        return out


def _keep_rows(cache: torch.Tensor, rows: torch.Tensor, filled: int) -> torch.Tensor:
    """A self-attention cache ``(2, B, heads, max_len, dh)`` reduced to ``rows``, copying its first ``filled`` steps."""
    kept = cache.new_empty(2, len(rows), *cache.shape[2:])
    kept[:, :, :, :filled] = cache[:, rows, :, :filled]
    return kept

