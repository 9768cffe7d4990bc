"""The DiSRT protocol as cogvision defines it: odd-one-out trials at chosen layers, with Top-K restoration.

For every image, distortion and strength (grid g) ``trials`` trials (distortion seeds) each show three
items: the image, a nuisance variant (global structure kept) and the distortion (local texture kept,
global relations broken). All three are cropped to the grid (:func:`cogvision.gestalt.distortions.crop_to_grid`)
and resized to the model's input side; the nuisance is matched per image and trial so that its pixel MSE
equals the distortion's. At each layer the pooled representation gives three pairwise similarities; the
odd item is the one with the lowest mean similarity to the other two (ties share credit,
:func:`~cogvision.gestalt.readout.oddity`); the trial is correct when it is the distortion.

The **pixel observer** (baseline layer ``pixels``) applies the same rule to negative pixel MSE, the
quantity the nuisance is matched in, and counts MSEs within :data:`MATCH_TOLERANCE` of each other as
equal: it scores exactly 1/2 on a matched trial (it cannot tell the two variants apart), 1 where the
nuisance falls short of the distortion's MSE, 0 where it overshoots. It is the validation of the
matching. A **structure-blind observer** (the image and its distortion identical to it) picks the
nuisance and scores 0, index 0. With ``topk`` the whole protocol is repeated with Top-K sparsity
(:func:`cogvision.models.attach_topk`) at ``topk_layers`` for each k.
"""

from __future__ import annotations

import json
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F
import xarray as xr
from torch import nn

from cogvision._docs import fill_doc
from cogvision.gestalt.distortions import crop_to_grid, distort
from cogvision.gestalt.nuisance import fixed_nuisance, matched_nuisance, pixel_mse
from cogvision.gestalt.readout import graded_index, oddity, pool, triplet_similarity
from cogvision.gestalt.scoring import CHANCE, MATCH_TOLERANCE, NULL_PIXEL, NULL_STRUCTURE_BLIND, PIXELS, add_summary
from cogvision.gestalt.settings import DisrtProtocol
from cogvision.models import (
    FeatureRecorder,
    Preprocessing,
    attach_topk,
    default_layers,
    get_layer,
    preprocessing_for,
    token_layout,
)
from cogvision.reporting import progress as progress_bar

DENSE = 1.0  # the k of the dense (no Top-K) condition
TRIAL_STRIDE = 100_003  # trial r of image i uses seed + i + r * TRIAL_STRIDE (a prime: no overlap below 100k images)
SCORES = ("correct", "index", "s_in", "s_id", "s_nd")  # float per-trial outputs (``choice`` is int8)


def pixel_similarities(mse_distortion: torch.Tensor, mse_nuisance: torch.Tensor, mse_between: torch.Tensor,
                       tolerance: float = MATCH_TOLERANCE) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The pixel observer's similarities ``(s_in, s_id, s_nd)`` = negative pixel MSEs, each (B,) float64.

    A nuisance MSE within ``tolerance`` (relative) of the distortion's counts as equal to it, so on a
    matched trial the observer ties the nuisance and the distortion (credit 1/2, graded index 1/2).
    """
    d, n = mse_distortion.double(), mse_nuisance.double()
    n = torch.where((n - d).abs() <= tolerance * d, d, n)
    return -n, -d, -mse_between.double()


def topk_fractions(topk) -> list[float]:
    """The Top-K conditions of a run: dense (``k = 1``) first, then the fractions in ``topk`` from the largest.

    Raises
    ------
    ValueError
        If a fraction is not in (0, 1].
    """
    values = sorted({float(k) for k in topk} - {DENSE}, reverse=True)
    bad = [k for k in values if not 0 < k < 1]
    if bad:
        raise ValueError(f"Top-K fractions must be in (0, 1], got {bad}")
    return [DENSE, *values]


def _nuisances(protocol: DisrtProtocol, crops: list[torch.Tensor], targets: list[torch.Tensor],
               seed: int) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """``(variants, magnitude, mse)`` of the nuisance of every cell, given its crop (B, C, h, w) and its
    distortion's MSE (B,).

    Matched nuisances of the cells whose crops have the same size (the same pixels: crops are centred)
    are searched in one :func:`~cogvision.gestalt.nuisance.matched_nuisance` call, which gives each cell
    the result it would get alone.
    """
    if not protocol.match:
        return [fixed_nuisance(protocol.nuisance, crop, protocol.nuisance_magnitude, seed) for crop in crops]
    by_size: dict[tuple[int, ...], list[int]] = {}
    for cell, crop in enumerate(crops):
        by_size.setdefault(tuple(crop.shape), []).append(cell)
    out: list = [None] * len(crops)
    for group in by_size.values():
        found = matched_nuisance(protocol.nuisance, crops[group[0]], torch.stack([targets[c] for c in group]), seed)
        for i, cell in enumerate(group):
            out[cell] = tuple(result[i] for result in found)
    return out


@dataclass
class Trial:
    """One cell (distortion, grid) of one trial for a batch of images: the two variants beside the crop.

    Attributes
    ----------
    distorted, nuisance : torch.Tensor
        (B, 3, h, w) in [0, 1], the size of the cell's crop.
    mse_distortion, mse_nuisance, magnitude : torch.Tensor
        (B,) float64: the distortion's pixel MSE to the crop (the nuisance's target), the nuisance's, and
        the nuisance magnitude used.
    """

    distorted: torch.Tensor
    nuisance: torch.Tensor
    mse_distortion: torch.Tensor
    mse_nuisance: torch.Tensor
    magnitude: torch.Tensor


@dataclass
class TrialBatch:
    """Every trial of a batch of images (:func:`make_trials`).

    Attributes
    ----------
    images : slice
        Which images of the run (their rows in the results).
    crops : list of torch.Tensor
        Per cell (distortions outer, grids inner): the images cropped to the grid, (B, 3, h, w).
    trials : list of list of Trial
        ``trials[r][c]``: trial ``r`` of cell ``c``.
    """

    images: slice
    crops: list[torch.Tensor]
    trials: list[list[Trial]]


def _cells(protocol: DisrtProtocol) -> list[tuple[str, int]]:
    return [(d, g) for d in protocol.distortions for g in protocol.grids]


def make_trials(protocol: DisrtProtocol, images: torch.Tensor, start: int = 0) -> TrialBatch:
    """Step 1: the distortions and matched nuisances of every cell and trial for one batch of images.

    Parameters
    ----------
    protocol
        The settings.
    images
        (B, 3, S, S) in [0, 1], already resized and cropped to the model's input side.
    start
        Index of the first image in the run: image ``i`` of trial ``r`` is seeded with
        ``protocol.seed + i + r * TRIAL_STRIDE``, so batching never changes a trial.
    """
    cells = _cells(protocol)
    crops = [crop_to_grid(images, grid) for _, grid in cells]
    trials = []
    for r in range(protocol.trials):
        seed = protocol.seed + start + r * TRIAL_STRIDE
        distorted = [distort(dist, crop, grid, seed) for (dist, grid), crop in zip(cells, crops)]
        targets = [pixel_mse(d, crop) for d, crop in zip(distorted, crops)]
        nuisances = _nuisances(protocol, crops, targets, seed)
        trials.append([Trial(d, nuis, target, mse, magnitude)
                       for d, target, (nuis, magnitude, mse) in zip(distorted, targets, nuisances)])
    return TrialBatch(slice(start, start + images.shape[0]), crops, trials)


@dataclass
class Readout:
    """How a model's layers become one vector per image: preprocessing, input side, pooling, token layout."""

    model: nn.Module
    layers: list[str]
    pooling: str
    prep: Preprocessing
    device: torch.device
    n_prefix: int = 0
    has_cls: bool = False

    @classmethod
    def of(cls, model: nn.Module, layers: list[str], pooling: str) -> "Readout":
        """The readout of ``model`` (its attached preprocessing, its device, its class/register tokens)."""
        prep = preprocessing_for(model)
        device = next(iter(model.parameters()), torch.empty(0)).device
        layout = token_layout(model, (prep.crop, prep.crop)) if getattr(model, "patch_embed", None) is not None \
            else None
        return cls(model, layers, pooling, prep, device, *((layout.n_prefix, layout.has_cls) if layout else ()))

    def features(self, x: torch.Tensor, recorder: FeatureRecorder) -> list[torch.Tensor]:
        """Pooled (B, F) float64 features of ``x`` (B, 3, h, w) at every layer, on the CPU."""
        side = self.prep.crop
        if x.shape[-1] != side or x.shape[-2] != side:  # the grid crop lost a few pixels: back to the input side
            x = F.interpolate(x, size=(side, side), mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)
        self.model(self.prep.normalize(x).to(self.device))
        return [pool(recorder.outputs[name], self.pooling, self.n_prefix, self.has_cls, name).cpu()
                for name in self.layers]


Features = tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor]]


def read_features(readout: Readout, recorder: FeatureRecorder,
                  batch: TrialBatch) -> Iterator[tuple[int, int, Features]]:
    """Step 2: ``(trial, cell, (image, nuisance, distortion features))`` for every trial of ``batch``, in order.

    A generator, so that only one trial's features are held at a time (flat pooling makes them large). The
    image's features depend only on its crop size, so they are computed once per size.
    """
    by_side: dict[int, list[torch.Tensor]] = {}
    for r, row in enumerate(batch.trials):
        for c, (crop, trial) in enumerate(zip(batch.crops, row)):
            if crop.shape[-1] not in by_side:
                by_side[crop.shape[-1]] = readout.features(crop, recorder)
            yield r, c, (by_side[crop.shape[-1]], readout.features(trial.nuisance, recorder),
                         readout.features(trial.distorted, recorder))


def score_trial(sims: tuple[torch.Tensor, torch.Tensor, torch.Tensor], metric: str) -> dict[str, np.ndarray]:
    """Step 3: choice, credit, graded index and the similarities of one trial from its similarities (B,) each."""
    pick, credit = oddity(*sims)
    return {"choice": pick.numpy(), "correct": credit.numpy(), "index": graded_index(sims[0], sims[1], metric).numpy(),
            "s_in": sims[0].numpy(), "s_id": sims[1].numpy(), "s_nd": sims[2].numpy()}


class _Results:
    """The result arrays of a run, filled trial by trial."""

    def __init__(self, n_layers: int, protocol: DisrtProtocol, n_k: int, n_images: int) -> None:
        self.n_grids = len(protocol.grids)
        shape = (n_layers, len(protocol.distortions), self.n_grids, n_k, n_images, protocol.trials)
        self.trial = {name: np.zeros(shape) for name in SCORES}
        self.trial["choice"] = np.zeros(shape, dtype=np.int8)
        pixel_shape = (len(protocol.distortions), self.n_grids, n_images, protocol.trials)
        self.pixel = {name: np.zeros(pixel_shape) for name in ("mse_distortion", "mse_nuisance", "nuisance_magnitude")}

    def add(self, layer: int | slice, cell: int, k: int | slice, r: int, images: slice,
            values: dict[str, np.ndarray]) -> None:
        at = (layer, *divmod(cell, self.n_grids), k, images, r)
        for name, value in values.items():
            self.trial[name][at] = value

    def add_pixels(self, batch: TrialBatch) -> None:
        """The trials' pixel MSEs, and the pixel observer (layer 0) at every k: it does not depend on Top-K."""
        for r, row in enumerate(batch.trials):
            for c, trial in enumerate(row):
                at = (*divmod(c, self.n_grids), batch.images, r)
                self.pixel["mse_distortion"][at], self.pixel["mse_nuisance"][at] = \
                    trial.mse_distortion.numpy(), trial.mse_nuisance.numpy()
                self.pixel["nuisance_magnitude"][at] = trial.magnitude.numpy()
                sims = pixel_similarities(trial.mse_distortion, trial.mse_nuisance,
                                          pixel_mse(trial.nuisance, trial.distorted))
                self.add(0, c, slice(None), r, batch.images, score_trial(sims, "euclidean"))


def _check_inputs(model: nn.Module, images: torch.Tensor, layers: list[str] | None, topk,
                  topk_layers: list[str] | None, batch_size: int,
                  image_names: list[str] | None) -> tuple[list[str], list[str], list[float], list[str]]:
    """Validated ``(layers, topk_layers, ks, names)``; every bad argument is one ``ValueError``."""
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.shape[1] != 3 or images.shape[0] < 1:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"images must be a float tensor (B, 3, H, W) in [0, 1] with B >= 1, got {shape}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    layers = list(layers) if layers else default_layers(model)
    topk_layers = list(topk_layers) if topk_layers else list(layers)
    for name in {*layers, *topk_layers}:
        get_layer(model, name)  # unknown names -> ValueError with close matches
    if PIXELS in layers:
        raise ValueError(f"layer name {PIXELS!r} is reserved for the pixel-space baseline")
    ks = topk_fractions(topk)
    names = list(image_names) if image_names is not None else [str(i) for i in range(images.shape[0])]
    if len(names) != images.shape[0]:
        raise ValueError(f"image_names has {len(names)} entries for {images.shape[0]} images")
    return layers, topk_layers, ks, names


@fill_doc
@torch.no_grad()
def run_disrt(
    model: nn.Module,
    images: torch.Tensor,
    protocol: DisrtProtocol | None = None,
    *,
    layers: list[str] | None = None,
    topk: list[float] | tuple[float, ...] = (),
    topk_layers: list[str] | None = None,
    batch_size: int = 16,
    image_names: list[str] | None = None,
    progress: bool = True,
) -> xr.Dataset:
    """Run the DiSRT odd-one-out protocol on ``model``.

    Three steps: :func:`make_trials` (distortions and matched nuisances, once per image batch),
    :func:`read_features` (pooled features of the three items) and :func:`score_trial` (odd one out, graded
    index). The Top-K loop is outermost: each fraction's hooks are attached once and every trial is read
    out under them; with a Top-K sweep the trials are made once and kept in memory for every fraction
    (about ``2 x trials x cells + cells`` copies of the resized images).

    Parameters
    ----------
    model
        Any ``nn.Module`` (run in eval mode on its own device, with its attached preprocessing).
    images
        (B, 3, H, W) float in [0, 1]; resized and centre-cropped by the model's preprocessing first.
    protocol
        Settings (default :class:`DisrtProtocol`).
    layers
        Module names to read out (default :func:`cogvision.models.default_layers`).
    topk
        Top-K fractions in (0, 1) to sweep; the dense model is always included as ``k = 1``.
    topk_layers
        Where Top-K is attached (default: ``layers``); a probed layer that carries Top-K is read out
        after sparsification.
    batch_size
        Images per forward pass.
    image_names
        Labels of the ``image`` dim (default ``0..B-1``).
    %(progress)s

    Returns
    -------
    xarray.Dataset
        Dims ``layer`` (``pixels`` first, then ``layers``), ``distortion``, ``strength``, ``k``, ``image``,
        ``trial``. Per trial: ``correct`` (credit in [0, 1]), ``choice`` (0 image, 1 nuisance, 2 distortion),
        ``index`` (graded), ``s_in``, ``s_id``, ``s_nd`` (similarities; negative pixel MSEs for ``pixels``).
        Per (distortion, strength, image, trial): ``mse_distortion``, ``mse_nuisance``,
        ``nuisance_magnitude``. Summaries from :func:`cogvision.gestalt.scoring.add_summary` (trials
        averaged per image, intervals over images). ``attrs`` hold the protocol, the model and the nulls.
    """
    protocol = protocol or DisrtProtocol()
    layers, topk_layers, ks, names = _check_inputs(model, images, layers, topk, topk_layers, batch_size, image_names)
    model.eval()
    readout = Readout.of(model, layers, protocol.pooling)
    n_images = images.shape[0]
    results = _Results(len(layers) + 1, protocol, len(ks), n_images)
    batches = (make_trials(protocol, readout.prep.resize_crop(images[start:start + batch_size].float().cpu()), start)
               for start in range(0, n_images, batch_size))
    if len(ks) > 1:
        batches = list(batches)  # every Top-K fraction reads the same trials: made once, kept
    bar = progress_bar(total=-(-n_images // batch_size) * len(_cells(protocol)) * len(ks) * protocol.trials,
                       desc="DiSRT trials", disable=not progress)
    for ki, k in enumerate(ks):
        # Top-K hooks first, then the recorder: a sparsified layer is read out as the next layer sees it
        sparsity = nullcontext() if k == DENSE else attach_topk(model, topk_layers, k, protocol.token_mode)
        with sparsity, FeatureRecorder(model, layers) as recorder:
            for batch in batches:
                if ki == 0:
                    results.add_pixels(batch)
                for r, c, (f_i, f_n, f_d) in read_features(readout, recorder, batch):
                    for li in range(len(layers)):
                        sims = triplet_similarity(f_i[li], f_n[li], f_d[li], protocol.similarity)
                        results.add(li + 1, c, ki, r, batch.images, score_trial(sims, protocol.similarity))
                    bar.update(1)
    bar.close()
    return _to_dataset(results, model, readout, protocol, ks, names, topk_layers)


def _to_dataset(results: _Results, model: nn.Module, readout: Readout, protocol: DisrtProtocol, ks: list[float],
                names: list[str], topk_layers: list[str]) -> xr.Dataset:
    dims = ("layer", "distortion", "strength", "k", "image", "trial")
    pix_dims = ("distortion", "strength", "image", "trial")
    data = {name: (dims, results.trial[name]) for name in (*SCORES, "choice")}
    data.update({name: (pix_dims, values) for name, values in results.pixel.items()})
    coords = {"layer": [PIXELS, *readout.layers], "distortion": list(protocol.distortions),
              "strength": list(protocol.grids), "k": ks, "image": names, "trial": np.arange(protocol.trials)}
    attrs = {"model": getattr(model, "cogvision_spec", type(model).__name__), "protocol": protocol.to_json(),
             "chance": CHANCE, "null_structure_blind": NULL_STRUCTURE_BLIND,
             "null_pixel": NULL_PIXEL, "match_tolerance": MATCH_TOLERANCE, "matched": int(protocol.match),
             "nuisance": protocol.nuisance, "trials": protocol.trials, "seed": protocol.seed,
             "n_boot": protocol.n_boot, "human": np.nan if protocol.human is None else protocol.human,
             "topk_layers": json.dumps(topk_layers), "input_side": readout.prep.crop,
             "preprocessing": repr(readout.prep)}
    ds = xr.Dataset(data, coords=coords, attrs=attrs)
    return add_summary(ds, protocol.n_boot, protocol.seed)
