"""OAT's inputs: one scene's encoder inputs (:class:`SceneInputs`) and padded batches of them (:class:`OATBatch`).

Pointer indices: 0 is the target token (choosing it ends the scanpath, ``EOS``), ``k + 1`` is object ``k``.
A batch holds each scene once and maps every scanpath row to its scene (``scene``), so that the encoder runs
once per scene however many scanpaths of it the batch holds (all subjects of an image, or many samples).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from cogvision.scanpath.containers import Scene

EOS = 0  # pointer index of the target token
IGNORE = -100
CROP_HW = (150, 93)  # the paper's crop size (h x w)
APPEARANCES = ("label", "crop", "features")


@dataclass
class SceneInputs:
    """One scene's encoder inputs.

    Attributes
    ----------
    obj_label : ndarray of int, shape (N,)
        Label ids (0: a label unseen in training).
    obj_pos : ndarray of int, shape (N, 3)
        ``[row, col, is_target]`` of each object; ``is_target`` is 0 for every object: only the target token
        carries 1, so that "stop" (pointing at the target token) and "fixate the target object" are different
        choices with different inputs (the paper's design).
    tgt_label : int
    tgt_pos : list of int
        ``[row, col, 1]``: the target object's grid position, flagged as the target.
    bos_pos : list of int
        ``[row, col, 0]`` of the BOS token: the grid centre.
    obj_crop, tgt_crop : Tensor or None
        ``(N, 3, 150, 93)`` and ``(3, 150, 93)`` crops in [0, 1] (appearance ``"crop"``).
    obj_feat, tgt_feat : ndarray or None
        ``(N, F)`` and ``(F,)`` appearance features (appearance ``"features"``).
    """

    obj_label: np.ndarray
    obj_pos: np.ndarray
    tgt_label: int
    tgt_pos: list
    bos_pos: list
    obj_crop: torch.Tensor | None = None
    tgt_crop: torch.Tensor | None = None
    obj_feat: np.ndarray | None = None
    tgt_feat: np.ndarray | None = None


def scene_inputs(scene: Scene, vocab: dict[str, int], appearance: str) -> SceneInputs:
    """The encoder inputs of ``scene`` for appearance ``"label"``, ``"crop"`` or ``"features"``."""
    if appearance not in APPEARANCES:
        raise ValueError(f"appearance must be one of {APPEARANCES}, got {appearance!r}")
    rows, cols = scene.grid_shape
    out = SceneInputs(
        obj_label=np.array([vocab.get(lab, 0) for lab in scene.labels], np.int64),
        obj_pos=np.concatenate([scene.grid_pos, np.zeros((scene.n_objects, 1), np.int64)], 1),
        tgt_label=vocab.get(scene.target_label, 0),
        tgt_pos=[*scene.grid_pos[scene.target], 1],
        bos_pos=[rows // 2, cols // 2, 0],
    )
    if appearance == "crop":
        if scene.image is None:
            raise ValueError(f"trial {scene.trial!r}: this model reads object crops but the scene has no image")
        image = torch.as_tensor(np.asarray(scene.image), dtype=torch.float32).permute(2, 0, 1) / 255.0
        crops = []
        for x0, y0, x1, y1 in scene.boxes.round().astype(int):
            crop = image[:, max(y0, 0):max(y1, y0 + 1), max(x0, 0):max(x1, x0 + 1)]
            crops.append(F.interpolate(crop[None], size=CROP_HW, mode="bilinear", align_corners=False)[0])
        out.obj_crop = torch.stack(crops)
        out.tgt_crop = out.obj_crop[scene.target]
    elif appearance == "features":
        if scene.features is None or scene.target_features is None:
            raise ValueError(f"trial {scene.trial!r}: this model reads appearance features but the scene has none")
        out.obj_feat = np.asarray(scene.features, np.float32)
        out.tgt_feat = np.asarray(scene.target_features, np.float32)
    return out


@dataclass
class OATBatch:
    """Padded scenes (``S`` of them, up to ``N`` objects) and, optionally, scanpaths (``B`` rows, ``T`` steps).

    Attributes
    ----------
    obj_label : (S, N) long
    obj_pos : (S, N, 3) long
    obj_mask : (S, N) bool, true on real objects
    tgt_label : (S,) long
    tgt_pos, bos_pos : (S, 3) long
    scene : (B,) long
        The scene of each scanpath row (``arange(S)`` without scanpaths).
    obj_crop, tgt_crop : (S, N, 3, 150, 93), (S, 3, 150, 93) or None
    obj_feat, tgt_feat : (S, N, F), (S, F) or None
    dec_in : (B, T) long or None
        Decoder inputs: 0 (BOS), then the pointer index of each fixated object.
    dec_out : (B, T) long or None
        The next pointer index at each step: the fixated objects, ``EOS`` after the last, ``IGNORE`` on padding.
    """

    obj_label: torch.Tensor
    obj_pos: torch.Tensor
    obj_mask: torch.Tensor
    tgt_label: torch.Tensor
    tgt_pos: torch.Tensor
    bos_pos: torch.Tensor
    scene: torch.Tensor
    obj_crop: torch.Tensor | None = None
    tgt_crop: torch.Tensor | None = None
    obj_feat: torch.Tensor | None = None
    tgt_feat: torch.Tensor | None = None
    dec_in: torch.Tensor | None = None
    dec_out: torch.Tensor | None = None

    def to(self, device: torch.device | str) -> OATBatch:
        """The batch with every tensor on ``device``."""
        return replace(self, **{f.name: getattr(self, f.name).to(device) for f in fields(self)
                                if getattr(self, f.name) is not None})

    @property
    def n_scenes(self) -> int:
        """Number of distinct scenes ``S``."""
        return len(self.obj_label)


def collate(items: Sequence[tuple[SceneInputs, Sequence[np.ndarray] | np.ndarray | None]]) -> OATBatch:
    """Batch ``(scene inputs, scanpaths)`` items: each scene is stored once, its scanpaths become rows.

    Parameters
    ----------
    items
        ``(SceneInputs, scanpaths)`` pairs; scanpaths is one sequence of object indices, a list of them, or
        ``None`` (scenes only: a batch for :meth:`OATNetwork.generate`). Items holding the same
        :class:`SceneInputs` object share one scene.
    """
    unique: dict[int, int] = {}
    scenes: list[SceneInputs] = []
    rows_scene: list[int] = []
    seqs: list[np.ndarray] = []
    for inputs, paths in items:
        if id(inputs) not in unique:
            unique[id(inputs)] = len(scenes)
            scenes.append(inputs)
        k = unique[id(inputs)]
        if paths is None:
            rows_scene.append(k)
            continue
        paths = [paths] if isinstance(paths, np.ndarray) and paths.ndim == 1 else list(paths)
        for seq in paths:
            rows_scene.append(k)
            seqs.append(np.asarray(seq, np.int64))
    s = len(scenes)
    n = max(len(x.obj_label) for x in scenes)
    label = np.zeros((s, n), np.int64)
    pos = np.zeros((s, n, 3), np.int64)
    mask = np.zeros((s, n), bool)
    for k, x in enumerate(scenes):
        m = len(x.obj_label)
        label[k, :m], pos[k, :m], mask[k, :m] = x.obj_label, x.obj_pos, True
    batch = OATBatch(
        obj_label=torch.from_numpy(label), obj_pos=torch.from_numpy(pos), obj_mask=torch.from_numpy(mask),
        tgt_label=torch.tensor([x.tgt_label for x in scenes]), tgt_pos=torch.tensor([x.tgt_pos for x in scenes]),
        bos_pos=torch.tensor([x.bos_pos for x in scenes]), scene=torch.tensor(rows_scene, dtype=torch.long),
    )
    if scenes[0].obj_crop is not None:
        batch.obj_crop = torch.zeros(s, n, 3, *CROP_HW)
        for k, x in enumerate(scenes):
            batch.obj_crop[k, :len(x.obj_crop)] = x.obj_crop
        batch.tgt_crop = torch.stack([x.tgt_crop for x in scenes])
    if scenes[0].obj_feat is not None:
        feat = np.zeros((s, n, scenes[0].obj_feat.shape[1]), np.float32)
        for k, x in enumerate(scenes):
            feat[k, :len(x.obj_feat)] = x.obj_feat
        batch.obj_feat = torch.from_numpy(feat)
        batch.tgt_feat = torch.from_numpy(np.stack([x.tgt_feat for x in scenes]))
    if seqs:
        b, t = len(seqs), max(len(q) for q in seqs) + 1
        dec_in = np.zeros((b, t), np.int64)
        dec_out = np.full((b, t), IGNORE, np.int64)
        for k, seq in enumerate(seqs):
            ptr = seq + 1
            dec_in[k, 1:len(ptr) + 1] = ptr
            dec_out[k, :len(ptr)] = ptr
            dec_out[k, len(ptr)] = EOS
        batch.dec_in, batch.dec_out = torch.from_numpy(dec_in), torch.from_numpy(dec_out)
    return batch
