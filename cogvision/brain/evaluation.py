"""Encoders against a synthetic brain with known ground truth (``data_loaders.synthetic_brain``).

:func:`compare_encoders` fits ridge (on all feature-grid positions), the factorised readout and the
transformer encoder on the same training stimuli and reports, on held-out stimuli:

- mean Pearson r per encoder and voxel kind (retinotopic / category), against the ceiling sqrt(NC);
- how well the factorised encoder recovers the retinotopic receptive fields (centre error and
  width correlation, in grid units);
- whether the transformer's routing maps follow content for category queries (spatial correlation
  with the content mask of their category, on stimuli that contain it) and location for retinotopic
  queries (correlation of the mean map with the ROI's summed true receptive fields, and with content).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
import xarray as xr

from cogvision.brain.factorized import FactorizedEncoder, gaussian_maps
from cogvision.brain.metrics import pearson_r
from cogvision.brain.ridge import RidgeCV
from cogvision.brain.transformer import TransformerBrainEncoder


def map_correlation(maps: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Spatial Pearson correlation of each map (n, H, W) with its reference (n, H, W) or one (H, W)."""
    maps = np.asarray(maps, dtype=np.float64).reshape(len(maps), -1)
    reference = np.broadcast_to(np.asarray(reference, dtype=np.float64).reshape(-1, maps.shape[1]), maps.shape)
    return pearson_r(maps.T, reference.T)


@dataclass
class Comparison:
    """What :func:`compare_encoders` returns.

    Attributes
    ----------
    table : pandas.DataFrame
        ``encoder, kind, mean_r`` (held-out), plus a ``ceiling`` row per kind.
    r : dict of str to ndarray
        Encoder -> held-out r per voxel.
    receptive_fields : pandas.DataFrame
        Per retinotopic voxel: true and estimated ``y, x, sigma`` and the centre error.
    routing : pandas.DataFrame
        Per query: ``query, kind, content_corr, rf_corr``.
    routing_maps : xarray.DataArray
        (stimulus, query, y, x) on the test stimuli.
    models : dict
        The fitted encoders.
    """

    table: pd.DataFrame
    r: dict
    receptive_fields: pd.DataFrame
    routing: pd.DataFrame
    routing_maps: xr.DataArray
    models: dict = field(repr=False)


def compare_encoders(ds: xr.Dataset, *, train_fraction: float = 0.8, alphas=tuple(np.logspace(0, 6, 7)),
                     factorized: dict | None = None, transformer: dict | None = None, device: str = "auto",
                     seed: int = 0) -> Comparison:
    """Fit the three encoders on a synthetic brain and score them against its ground truth.

    Parameters
    ----------
    ds
        From :func:`data_loaders.synthetic_brain.make_synthetic_brain`.
    train_fraction
        Share of stimuli used for fitting (the rest is held out).
    alphas
        Ridge penalties.
    factorized, transformer
        Extra settings of :class:`FactorizedEncoder` and :class:`TransformerBrainEncoder`.
    device, seed
        Where and how reproducibly to fit.
    """
    x, y = ds["features"].values, ds["responses"].values
    n_train = int(round(train_fraction * len(x)))
    order = np.random.default_rng(seed).permutation(len(x))
    train, test = np.sort(order[:n_train]), np.sort(order[n_train:])
    kind = ds["kind"].values
    info = pd.DataFrame({"roi": ds["roi"].values})

    ridge = RidgeCV(alphas=alphas, cv=5, device=device, dtype="float32").fit(x[train].reshape(n_train, -1), y[train])
    fact = FactorizedEncoder(device=device, seed=seed, **(factorized or {})).fit(x[train], y[train])
    trans = TransformerBrainEncoder(queries="roi", device=device, seed=seed, **(transformer or {})).fit(
        x[train], y[train], target_info=info)
    preds = {"ridge": ridge.predict(x[test].reshape(len(test), -1)), "factorized": fact.predict(x[test]),
             "transformer": trans.predict(x[test])}
    r = {name: pearson_r(y[test], pred) for name, pred in preds.items()}
    rows = [{"encoder": name, "kind": k, "mean_r": float(values[kind == k].mean())}
            for name, values in r.items() for k in ("retinotopic", "category")]
    ceiling = float(np.sqrt(ds.attrs["noise_ceiling"]))
    rows += [{"encoder": "ceiling", "kind": k, "mean_r": ceiling} for k in ("retinotopic", "category")]

    retino = kind == "retinotopic"
    est = fact.rf_table_[retino]
    rf = pd.DataFrame({"voxel": np.flatnonzero(retino), "true_y": ds["rf_y"].values[retino],
                       "true_x": ds["rf_x"].values[retino], "true_sigma": ds["rf_sigma"].values[retino],
                       "y": est["y"].to_numpy(), "x": est["x"].to_numpy(), "sigma": est["sigma"].to_numpy()})
    rf["centre_error"] = np.hypot(rf["y"] - rf["true_y"], rf["x"] - rf["true_x"])

    maps = trans.routing_maps(x[test], stimulus_ids=ds["stimulus"].values[test])
    content = ds["content"].values[test]
    categories = list(ds["category"].values)
    grid = maps.shape[-2:]
    routing_rows = []
    for q, name in enumerate(trans.query_names_):
        qmaps = maps.values[:, q]
        any_content = content.sum(1)
        if name.startswith("cat_"):
            c = categories.index(name.removeprefix("cat_"))
            present = content[:, c].sum((1, 2)) > 0
            content_corr = float(np.mean(map_correlation(qmaps[present], content[present, c])))
            routing_rows.append({"query": name, "kind": "category", "content_corr": content_corr, "rf_corr": np.nan})
        else:
            voxels = retino & (ds["roi"].values == name)
            true = gaussian_maps(*_torch_rf(ds, voxels), grid).numpy().sum(0)
            present = any_content.sum((1, 2)) > 0
            routing_rows.append({"query": name, "kind": "retinotopic",
                                 "content_corr": float(np.mean(map_correlation(qmaps[present], any_content[present]))),
                                 "rf_corr": float(map_correlation(qmaps.mean(0)[None], true)[0])})
    return Comparison(pd.DataFrame(rows), r, rf, pd.DataFrame(routing_rows), maps,
                      {"ridge": ridge, "factorized": fact, "transformer": trans})


def _torch_rf(ds: xr.Dataset, voxels: np.ndarray):
    centres = torch.tensor(np.stack([ds["rf_y"].values[voxels], ds["rf_x"].values[voxels]], 1))
    return centres, torch.tensor(ds["rf_sigma"].values[voxels])
