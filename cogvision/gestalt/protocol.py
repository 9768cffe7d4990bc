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
from contextlib import ExitStack
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
import xarray as xr
from torch import nn
from tqdm.auto import tqdm

from cogvision.gestalt.distortions import DISTORTIONS, crop_to_grid, distort
from cogvision.gestalt.nuisance import NUISANCES, fixed_nuisance, matched_nuisance, pixel_mse
from cogvision.gestalt.readout import POOLINGS, SIMILARITIES, graded_index, oddity, pool, triplet_similarity
from cogvision.gestalt.scoring import CHANCE, MATCH_TOLERANCE, NULL_PIXEL, NULL_STRUCTURE_BLIND, PIXELS, add_summary
from cogvision.models import FeatureRecorder, attach_topk, default_layers, get_layer, preprocessing_for, token_layout
from cogvision.models.sparsity import TOKEN_MODES

DENSE = 1.0  # the k of the dense (no Top-K) condition
TRIAL_STRIDE = 100_003  # trial r of image i uses seed + i + r * TRIAL_STRIDE (a prime: no overlap below 100k images)


@dataclass(frozen=True)
class DisrtProtocol:
    """Settings of one DiSRT run (validated on creation).

    Attributes
    ----------
    distortions : tuple of str
        Keys of :data:`cogvision.gestalt.distortions.DISTORTIONS`.
    grids : tuple of int
        Strengths: patches per side.
    pooling : str
        ``cls``, ``mean`` or ``flat`` (see :mod:`cogvision.gestalt.readout`).
    similarity : str
        ``cosine``, ``correlation`` or ``euclidean``.
    nuisance : str
        ``local`` (default: small shift, colour change and band-limited noise, layout kept), ``shift`` or
        ``color`` (:mod:`cogvision.gestalt.nuisance`).
    match : bool
        Match the nuisance's pixel MSE to the distortion's per image (default); else a fixed small nuisance.
    nuisance_magnitude : float or None
        Fixed magnitude when ``match`` is False (pixels for shift, jitter size for colour).
    token_mode : str
        Top-K axis on token sequences: ``token`` or ``channel``.
    seed : int
        Seed of distortions, nuisances and the bootstrap.
    trials : int
        Trials per image and cell, each with its own distortion and nuisance seed.
    n_boot : int
        Bootstrap resamples for the intervals.
    human : float or None
        Human reference accuracy drawn in figures (not verified for the paper; None = no line).
    """

    distortions: tuple[str, ...] = ("shuffle", "rotate")
    grids: tuple[int, ...] = (2, 4, 8)
    pooling: str = "mean"
    similarity: str = "cosine"
    nuisance: str = "local"
    match: bool = True
    nuisance_magnitude: float | None = None
    token_mode: str = "token"
    seed: int = 0
    trials: int = 3
    n_boot: int = 1000
    human: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "distortions", tuple(self.distortions))
        object.__setattr__(self, "grids", tuple(int(g) for g in self.grids))
        unknown = [d for d in self.distortions if d not in DISTORTIONS]
        if not self.distortions or unknown:
            raise ValueError(f"distortions must be a non-empty subset of {sorted(DISTORTIONS)}, got {self.distortions}")
        if len(set(self.distortions)) != len(self.distortions) or len(set(self.grids)) != len(self.grids):
            raise ValueError(f"distortions and grids must not repeat, got {self.distortions} and {self.grids}")
        if not self.grids or min(self.grids) < 2:
            raise ValueError(f"grids must be integers >= 2, got {self.grids}")
        checks = (("pooling", POOLINGS), ("similarity", SIMILARITIES), ("nuisance", tuple(NUISANCES)),
                  ("token_mode", TOKEN_MODES))
        for field, allowed in checks:
            if getattr(self, field) not in allowed:
                raise ValueError(f"{field} must be one of {allowed}, got {getattr(self, field)!r}")
        if int(self.trials) != self.trials or self.trials < 1:
            raise ValueError(f"trials must be an integer >= 1, got {self.trials}")
        if self.n_boot < 1:
            raise ValueError(f"n_boot must be >= 1, got {self.n_boot}")
        if self.human is not None and not 0 <= self.human <= 1:
            raise ValueError(f"human reference must be an accuracy in [0, 1], got {self.human}")

    def to_json(self) -> str:
        """The settings as a JSON string (stored in the results' attrs)."""
        return json.dumps(asdict(self))


def pixel_similarities(mse_distortion: torch.Tensor, mse_nuisance: torch.Tensor, mse_between: torch.Tensor,
                       tolerance: float = MATCH_TOLERANCE) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The pixel observer's similarities ``(s_in, s_id, s_nd)`` = negative pixel MSEs, each (B,) float64.

    A nuisance MSE within ``tolerance`` (relative) of the distortion's counts as equal to it, so on a
    matched trial the observer ties the nuisance and the distortion (credit 1/2, graded index 1/2).
    """
    d, n = mse_distortion.double(), mse_nuisance.double()
    n = torch.where((n - d).abs() <= tolerance * d, d, n)
    return -n, -d, -mse_between.double()


def _topk_values(topk) -> list[float]:
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
    progress: bool = False,
) -> xr.Dataset:
    """Run the DiSRT odd-one-out protocol on ``model``.

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
    progress
        Show a progress bar.

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
    ks = _topk_values(topk)
    names = list(image_names) if image_names is not None else [str(i) for i in range(images.shape[0])]
    if len(names) != images.shape[0]:
        raise ValueError(f"image_names has {len(names)} entries for {images.shape[0]} images")

    model.eval()
    prep = preprocessing_for(model)
    side = prep.crop
    device = next(iter(model.parameters()), torch.empty(0)).device
    layout = token_layout(model, (side, side)) if getattr(model, "patch_embed", None) is not None else None
    n_prefix, has_cls = (layout.n_prefix, layout.has_cls) if layout else (0, False)
    cells = [(d, g) for d in protocol.distortions for g in protocol.grids]
    n_img, n_lay, n_tr = images.shape[0], len(layers) + 1, protocol.trials
    shape = (n_lay, len(protocol.distortions), len(protocol.grids), len(ks), n_img, n_tr)
    out = {name: np.zeros(shape) for name in ("correct", "index", "s_in", "s_id", "s_nd")}
    choice = np.zeros(shape, dtype=np.int8)
    pix_shape = (len(protocol.distortions), len(protocol.grids), n_img, n_tr)
    mse_d, mse_n, magnitude = np.zeros(pix_shape), np.zeros(pix_shape), np.zeros(pix_shape)

    def features(x: torch.Tensor, recorder: FeatureRecorder) -> list[torch.Tensor]:
        if x.shape[-1] != side or x.shape[-2] != side:  # the grid crop lost a few pixels: back to the input side
            x = F.interpolate(x, size=(side, side), mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)
        model(prep.normalize(x).to(device))
        return [pool(recorder.outputs[name], protocol.pooling, n_prefix, has_cls, name).cpu() for name in layers]

    def record(li: int, cell: tuple[int, int], ki: int, r: int, sl: slice, sims: tuple, metric: str) -> None:
        pick, credit = oddity(*sims)
        at = (li, *cell, ki, sl, r)
        out["correct"][at], choice[at] = credit.numpy(), pick.numpy()
        out["index"][at] = graded_index(sims[0], sims[1], metric).numpy()
        out["s_in"][at], out["s_id"][at], out["s_nd"][at] = (v.numpy() for v in sims)

    bar = tqdm(total=-(-n_img // batch_size) * len(cells) * len(ks) * n_tr, desc="DiSRT trials",
               disable=not progress)
    for start in range(0, n_img, batch_size):
        stop = min(start + batch_size, n_img)
        sl = slice(start, stop)
        base = prep.resize_crop(images[start:stop].float().cpu())
        crops = [crop_to_grid(base, grid) for _, grid in cells]
        cache: dict[tuple[int, float], list[torch.Tensor]] = {}  # the image's features: the same in every trial
        for r in range(n_tr):
            seed = protocol.seed + start + r * TRIAL_STRIDE  # image i, trial r: seed + i + r * stride
            distortions = [distort(dist, crop, grid, seed) for (dist, grid), crop in zip(cells, crops)]
            targets = [pixel_mse(distorted, crop) for distorted, crop in zip(distortions, crops)]
            nuisances = _nuisances(protocol, crops, targets, seed)
            for c, (crop, distorted, target, (nuis, mag, mse)) in enumerate(zip(crops, distortions, targets,
                                                                                  nuisances)):
                cell = divmod(c, len(protocol.grids))
                mse_d[(*cell, sl, r)], mse_n[(*cell, sl, r)] = target.numpy(), mse.numpy()
                magnitude[(*cell, sl, r)] = mag.numpy()
                pixel = pixel_similarities(target, mse, pixel_mse(nuis, distorted))
                for ki, k in enumerate(ks):
                    record(0, cell, ki, r, sl, pixel, "euclidean")
                    with ExitStack() as stack:
                        if k != DENSE:
                            stack.enter_context(attach_topk(model, topk_layers, k, protocol.token_mode))
                        # registered after Top-K: a sparsified layer is read out as the next layer sees it
                        recorder = stack.enter_context(FeatureRecorder(model, layers))
                        key = (crop.shape[-1], k)
                        if key not in cache:
                            cache[key] = features(crop, recorder)
                        f_i, f_n, f_d = cache[key], features(nuis, recorder), features(distorted, recorder)
                    for li in range(1, n_lay):
                        sims = triplet_similarity(f_i[li - 1], f_n[li - 1], f_d[li - 1], protocol.similarity)
                        record(li, cell, ki, r, sl, sims, protocol.similarity)
                    bar.update(1)
    bar.close()

    dims = ("layer", "distortion", "strength", "k", "image", "trial")
    data = {name: (dims, values) for name, values in out.items()}
    data["choice"] = (dims, choice)
    pix_dims = ("distortion", "strength", "image", "trial")
    data.update(mse_distortion=(pix_dims, mse_d), mse_nuisance=(pix_dims, mse_n),
                nuisance_magnitude=(pix_dims, magnitude))
    coords = {"layer": [PIXELS, *layers], "distortion": list(protocol.distortions), "strength": list(protocol.grids),
              "k": ks, "image": names, "trial": np.arange(n_tr)}
    attrs = {"model": getattr(model, "cogvision_spec", type(model).__name__), "protocol": protocol.to_json(),
             "chance": CHANCE, "null_structure_blind": NULL_STRUCTURE_BLIND,
             "null_pixel": NULL_PIXEL, "match_tolerance": MATCH_TOLERANCE, "matched": int(protocol.match),
             "nuisance": protocol.nuisance, "trials": n_tr, "seed": protocol.seed, "n_boot": protocol.n_boot,
             "human": np.nan if protocol.human is None else protocol.human,
             "topk_layers": json.dumps(topk_layers), "input_side": side, "preprocessing": repr(prep)}
    ds = xr.Dataset(data, coords=coords, attrs=attrs)
    return add_summary(ds, protocol.n_boot, protocol.seed)
