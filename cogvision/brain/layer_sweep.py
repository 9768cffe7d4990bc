"""Per-image encoding of recorded neurons, layer by layer: feature scaling, per-layer scores and their
comparisons across networks and encoders.

The job that sweeps a network's layers on a recording session and writes the result folder is
:mod:`cogvision.jobs.brain_layer_sweep` (``cogvision fit-encoder`` with a ``model`` section); these are its
scientific steps, on arrays and tables. :func:`layer_scores` gives one layer's ``scores.csv`` rows (columns
``session, layer, encoder, neuroid, r, r2, r2_noise_corrected, r_fold_mean, best_alpha``; ``r2_noise_corrected`` is
r^2_ER from the raw repeats, NaN when the session has none) and its ``summary.csv`` row (medians over neuroids with
95% bootstrap intervals over images).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from cogvision.brain.metrics import pearson_r, r2_er, r2_per_target


def rms_scaled(features: np.ndarray) -> np.ndarray:
    """Features divided by their root mean square over all stimuli and features (one scalar per layer).

    Ridge penalties are in the units of the features' power. An untrained network's activations shrink
    by about 10x per block (MobileNetV2 at its initial BatchNorm statistics: RMS about 1e-2 at
    features.2, 1e-9 at features.17), so a fixed alpha grid over-regularises its deep layers into
    predicting the mean. One scalar per layer, from the features alone, puts every layer on the same
    scale; it equals rescaling that layer's alpha grid and uses no responses.
    """
    features = np.asarray(features, dtype=np.float64)
    rms = float(np.sqrt(np.mean(features**2)))
    if not np.isfinite(rms) or rms == 0:
        raise ValueError("features are all zero or not finite; cannot scale them by their RMS")
    return features / rms



def interval_of_median(y: np.ndarray, pred: np.ndarray, metric: str, n_boot: int = 200, seed: int = 0):
    """95% bootstrap interval (over stimuli) of the median over targets of per-target r or R^2."""
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_boot):
        idx = rng.integers(0, len(y), len(y))
        per = pearson_r(y[idx], pred[idx]) if metric == "r" else r2_per_target(y[idx], pred[idx])
        values.append(np.median(per))
    return tuple(np.percentile(values, [2.5, 97.5]))


def layer_scores(y: np.ndarray, pred: np.ndarray, *, repeats: np.ndarray | None, neuroids: list[str],
                 fold_r: list[np.ndarray], log_alphas: list[np.ndarray], session: str, layer: str, encoder: str,
                 seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """Scores of one layer and encoder from its out-of-fold predictions.

    Parameters
    ----------
    y, pred : ndarray of shape (n_stimuli, n_neuroids)
        Responses and held-out predictions.
    repeats : ndarray of shape (n_neuroids, n_stimuli, n_repeats) or None
        Raw repeats for the noise-corrected R^2 (NaN without).
    neuroids : list of str
    fold_r : list of ndarray of shape (n_neuroids,)
        Pearson r within each outer fold.
    log_alphas : list of ndarray
        Log of each fold's chosen ridge alphas (empty for the neural encoders).
    session, layer, encoder : str
        Labels of the rows.
    seed : int
        Seed of the bootstrap intervals.

    Returns
    -------
    rows : pandas.DataFrame
        One row per neuroid (the ``scores.csv`` columns of the module description).
    summary : dict
        The ``summary.csv`` row: medians of r, R^2 and noise-corrected R^2 with 95% bootstrap intervals.
    """
    r = pearson_r(y, pred)
    r2 = r2_per_target(y, pred)
    r2_nc = r2_er(pred, repeats) if repeats is not None else np.full(y.shape[1], np.nan)
    rows = pd.DataFrame({
        "session": session, "layer": layer, "encoder": encoder, "neuroid": neuroids, "r": r, "r2": r2,
        "r2_noise_corrected": r2_nc, "r_fold_mean": np.mean(fold_r, 0),
        "best_alpha": np.exp(np.mean(log_alphas, 0)) if log_alphas else np.nan})
    r_lo, r_hi = interval_of_median(y, pred, "r", seed=seed)
    r2_lo, r2_hi = interval_of_median(y, pred, "r2", seed=seed)
    summary = {"session": session, "layer": layer, "encoder": encoder, "n_neuroids": y.shape[1],
               "median_r": float(np.median(r)), "median_r_low": r_lo, "median_r_high": r_hi,
               "median_r2": float(np.median(r2)), "median_r2_low": r2_lo, "median_r2_high": r2_hi,
               "median_r2_noise_corrected": float(np.median(r2_nc))}
    return rows, summary



def network_differences(out: Path, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Trained minus untrained R^2, neuron by neuron, at each network's best layer, per session and encoder.

    Parameters
    ----------
    out
        The sweep's output folder (``trained_<session>/scores.csv`` and ``untrained_<session>/scores.csv``).
    n_boot, seed
        Bootstrap over neurons of the median difference.

    Returns
    -------
    pandas.DataFrame
        ``session, encoder, trained_layer, untrained_layer, n_neuroids, median_difference, low, high,
        fraction_trained_better``. The best layers are chosen on the same held-out scores, so the
        difference is that of the best layers as reported, not of layers chosen on separate data.
    """
    rows = []
    rng = np.random.default_rng(seed)
    for folder in sorted(out.glob("trained_*")):
        session = folder.name.removeprefix("trained_")
        other = out / f"untrained_{session}" / "scores.csv"
        if not (folder / "scores.csv").is_file() or not other.is_file():
            continue
        scores = {"trained": pd.read_csv(folder / "scores.csv", dtype={"session": str}),
                  "untrained": pd.read_csv(other, dtype={"session": str})}
        for encoder in scores["trained"]["encoder"].unique():
            best = {network: _best_layer(table[table["encoder"] == encoder]) for network, table in scores.items()}
            diff = (best["trained"][1] - best["untrained"][1].reindex(best["trained"][1].index)).to_numpy()
            rows.append({"session": session, "encoder": encoder, "trained_layer": best["trained"][0],
                         "untrained_layer": best["untrained"][0], "n_neuroids": len(diff),
                         **_median_difference(diff, rng, n_boot), "fraction_trained_better": float(np.mean(diff > 0))})
    return pd.DataFrame(rows)



def encoder_differences(scores: pd.DataFrame, reference: str = "ridge", n_boot: int = 2000,
                        seed: int = 0) -> pd.DataFrame:
    """Each encoder minus ``reference``, neuron by neuron, each at its own best layer (by median R^2).

    Parameters
    ----------
    scores
        A sweep's ``scores.csv`` (columns ``layer, encoder, neuroid, r2``) with several encoders.
    n_boot, seed
        Bootstrap over neurons of the median difference.

    Returns
    -------
    pandas.DataFrame
        ``encoder, layer, reference_layer, n_neuroids, median_difference, low, high, fraction_better``.
    """
    if reference not in set(scores["encoder"]):
        raise ValueError(
            f"reference encoder {reference!r} is not in the scores (have {sorted(set(scores['encoder']))})"
        )
    rng = np.random.default_rng(seed)
    ref_layer, ref = _best_layer(scores[scores["encoder"] == reference])
    rows = []
    for encoder in scores["encoder"].unique():
        if encoder == reference:
            continue
        layer, values = _best_layer(scores[scores["encoder"] == encoder])
        diff = (values - ref.reindex(values.index)).to_numpy()
        rows.append({"encoder": encoder, "layer": layer, "reference_layer": ref_layer, "n_neuroids": len(diff),
                     **_median_difference(diff, rng, n_boot), "fraction_better": float(np.mean(diff > 0))})
    return pd.DataFrame(rows)



def _best_layer(part: pd.DataFrame) -> tuple[str, pd.Series]:
    """The layer with the highest median R^2 and its per-neuron R^2 (indexed by ``neuroid``)."""
    layer = part.groupby("layer")["r2"].median().idxmax()
    return layer, part[part["layer"] == layer].set_index("neuroid")["r2"]



def _median_difference(diff: np.ndarray, rng: np.random.Generator, n_boot: int) -> dict[str, float]:
    """Median of per-neuron differences with a 95% bootstrap interval over neurons."""
    boots = [np.median(diff[rng.integers(0, len(diff), len(diff))]) for _ in range(n_boot)]
    low, high = np.percentile(boots, [2.5, 97.5])
    return {"median_difference": float(np.median(diff)), "low": float(low), "high": float(high)}
