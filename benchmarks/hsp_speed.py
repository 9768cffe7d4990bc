"""Human scanpath prediction scoring: ours against a per-fixation loop, side by side, same values.

The peer is the published ViSioNS code's approach, written here from its description (no code copied): for
each human scanpath and each fixation ``i``, ask the model for one map given fixations ``0..i-1``, then score
that one map (AUC against all cells, NSS, IG, LL). Ours asks each model for all steps of all scanpaths of an
image at once (:meth:`~cogvision.scanpath.density.ScanpathDensityModel.log_density_sequences`: one
teacher-forced pass for OAT, one transition table for the Markov model) and scores every fixation in one
vectorised call (:func:`~cogvision.scanpath.metrics.hsp.hsp_scores`). Both are checked equal to 1e-9
(float64; OAT's maps come from float32 networks, compared to 1e-5).

Data: the Interiors scanpaths of the shared folder (all 90 images, 57 subjects) when present, else a synthetic
grid set of the same shape.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from results_file import write_result

from cogvision.scanpath.density import hsp_sequences, prepared, score_hsp
from cogvision.scanpath.density_baselines import SaccadeMarkov
from cogvision.scanpath.metrics.hsp import EPS, NSS_FLOOR
from cogvision.scanpath.oat import OAT


def _one_fixation(log_density: np.ndarray, fixated: int, baseline: np.ndarray) -> dict[str, float]:
    """The five scores of one map (the per-fixation peer)."""
    p = np.exp(log_density - log_density.max())
    p = p / p.sum()
    value = p[fixated]
    auc = (np.sum(p < value) + 0.5 * np.sum(p == value)) / len(p)
    sd = p.std()
    nss = (value - p.mean()) / sd if sd > 0 else 0.0
    base = baseline / baseline.sum()
    return {"auc": auc, "nss": 0.0 if nss < NSS_FLOOR else nss,
            "ig": np.log2(EPS + value) - np.log2(EPS + base[fixated]),
            "ll": np.log2(EPS + value) - np.log2(EPS + 1 / len(p)), "nss_standard": nss}


def per_fixation_loop(model, data, baseline: np.ndarray) -> pd.DataFrame:
    """Score every fixation with its own model call and its own metric call."""
    rows = []
    for trial, subject, seq in hsp_sequences(data):
        scene = data.scenes[trial]
        for i in range(1, len(seq)):
            logp = model.conditional_log_density(scene, seq[:i], subject)
            rows.append({"trial": trial, "subject": subject, "fixation": i,
                         **_one_fixation(logp, int(seq[i]), baseline.reshape(-1))})
    return pd.DataFrame(rows)


def _data():
    try:
        from data_loaders.interiors import load_interiors

        loaded = load_interiors()
        return prepared(loaded.scanpaths), loaded.centre_bias, "Interiors (90 images, 57 subjects)"
    except FileNotFoundError:
        from data_loaders.synthetic_scanpaths import make_synthetic_scanpaths

        data = make_synthetic_scanpaths(n_scenes=90, n_subjects=20, rows=24, cols=32, seed=0)
        return prepared(data), np.ones((24, 32)), "synthetic 24 x 32 grids (90 scenes, 20 subjects)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--oat-images", type=int, default=10, help="images scored with OAT (its peer loop is slow)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "hsp_speed.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    load = os.getloadavg()[0]
    data, centre, source = _data()
    markov = SaccadeMarkov(with_centre=True).fit(data)
    small = data.subset(data.trials[: args.oat_images])
    oat = OAT(d_model=64, n_heads=4, n_layers=2, ffn=128, epochs=1, relative_bias=True, scenes_per_batch=4,
              pe_iterations=200, device="cpu", seed=0).fit(small)
    rows = []
    for name, model, part, tol in (("saccade Markov x centre bias", markov, data, 1e-9),
                                   ("OAT (d=64, 2+2 layers)", oat, small, 1e-5)):
        t0 = time.perf_counter()
        ours = score_hsp(model, part, centre)
        ours_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        peer = per_fixation_loop(model, part, centre)
        peer_s = time.perf_counter() - t0
        ours = ours.sort_values(["trial", "subject", "fixation"]).reset_index(drop=True)
        peer = peer.sort_values(["trial", "subject", "fixation"]).reset_index(drop=True)
        diff = max(float(np.abs(ours[m].to_numpy() - peer[m].to_numpy()).max()) for m in ("auc", "nss", "ig", "ll"))
        if diff > tol:
            raise AssertionError(f"{name}: ours and the per-fixation loop differ by {diff}")
        rows.append({"task": f"HSP scoring, {name}, {len(ours)} fixations of {part.fixations['trial'].nunique()} "
                             f"images", "ours_s": ours_s, "peer": "per-fixation loop (model call + metrics per "
                             "fixation)", "peer_s": peer_s, "ratio": peer_s / ours_s, "max_abs_difference": diff,
                     "goal_ratio": 20})
    result = {"machine": f"{platform.processor() or platform.machine()}, torch threads {args.threads}, "
                         f"load average at start {load:.1f}", "data": source, "torch": torch.__version__, "rows": rows}
    write_result(args.out, result)
    for r in rows:
        print(f"{r['task']:<80} ours {r['ours_s']:8.2f} s  peer {r['peer_s']:8.2f} s  {r['ratio']:6.1f}x  "
              f"max diff {r['max_abs_difference']:.1e}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
