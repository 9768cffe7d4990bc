"""The brain section of ``cogvision demo``: encoders on the synthetic brain, Haxby and Algonauts maps.

Runs in well under a minute on 2 CPU cores at its small size:

1. a synthetic brain (wheel photographs -> a seeded tiny CNN -> retinotopic and category voxels);
   ridge, factorised and transformer encoders fitted and scored on held-out stimuli, receptive-field
   recovery and routing-map alignment;
2. with the shared data: Haxby 2001 subject 1, category regressors (HRF) -> 530 voxels with
   RidgeCV, leave one run out; and the Algonauts 2023 noise-normalised score of the shared real
   per-vertex r map of the transformer encoder (subject 1).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cogvision.brain.evaluation import compare_encoders
from cogvision.brain.metrics import noise_normalized_score, pearson_r
from cogvision.brain.nilearn_io import mask_responses, to_nifti
from cogvision.brain.ridge import RidgeCV, make_splits
from cogvision.demo.section import Section
from cogvision.io import save_figure
from cogvision.viz.brain import plot_encoder_comparison, plot_receptive_fields, plot_routing_maps, plot_volume_map
from data_loaders.algonauts import load_noise_ceiling, load_reference_correlation
from data_loaders.haxby import category_design, load_haxby
from data_loaders.synthetic_brain import make_synthetic_brain

COMMAND = "cogvision demo --sections brain"


def _synthetic(out_dir: Path, device: str) -> tuple[str, dict]:
    ds = make_synthetic_brain(160, n_retinotopic=16, n_category=8, noise_ceiling=0.8, device="cpu")
    comp = compare_encoders(ds, factorized={"epochs": 12},
                            transformer={"d_model": 32, "n_heads": 4, "dim_feedforward": 64, "epochs": 15},
                            device=device)
    save_figure(plot_encoder_comparison(comp.table), out_dir / "encoders.png", dpi=100)
    fact = comp.models["factorized"]
    retino = ds["kind"].values == "retinotopic"
    fig = plot_receptive_fields(fact.receptive_fields_.values[retino],
                                true_centres=np.stack([ds["rf_y"].values[retino], ds["rf_x"].values[retino]], 1))
    save_figure(fig, out_dir / "receptive_fields.png", dpi=100)
    stim = comp.routing_maps["stimulus"].values[:4]
    fig = plot_routing_maps(ds["images"].sel(stimulus=stim).values, comp.routing_maps.values[:4],
                            list(comp.routing_maps["query"].values))
    save_figure(fig, out_dir / "routing.png", dpi=100)
    numbers = {f"synthetic_{row.encoder}_{row.kind}_r": row.mean_r for row in comp.table.itertuples()}
    numbers["synthetic_rf_centre_error_median"] = float(comp.receptive_fields["centre_error"].median())
    for row in comp.routing.itertuples():
        numbers[f"routing_{row.query}_content_corr"] = row.content_corr
        if row.kind == "retinotopic":
            numbers[f"routing_{row.query}_rf_corr"] = row.rf_corr
    pivot = comp.table.pivot(index="encoder", columns="kind", values="mean_r")
    lines = ["| encoder | retinotopic r | category r |", "|---|---|---|"]
    lines += [f"| {name} | {row.retinotopic:.3f} | {row.category:.3f} |" for name, row in pivot.iterrows()]
    routing = comp.routing
    md = "\n".join([
        f"Synthetic brain: {ds.sizes['stimulus']} composite stimuli of the wheel photographs, "
        f"{int(retino.sum())} retinotopic + {int((~retino).sum())} category voxels, noise ceiling "
        f"{ds.attrs['noise_ceiling']} (best r {np.sqrt(ds.attrs['noise_ceiling']):.3f}); 80/20 split.", "",
        *lines, "",
        f"Factorised encoder: median receptive-field centre error "
        f"{numbers['synthetic_rf_centre_error_median']:.2f} grid cells (16 x 16 grid).",
        f"Routing maps: category queries' correlation with their content "
        f"{routing.loc[routing.kind == 'category', 'content_corr'].mean():.3f}; retinotopic queries' mean-map "
        f"correlation with their true receptive fields {routing['rf_corr'].mean():.3f}.", "",
        "![encoders](encoders.png) ![receptive fields](receptive_fields.png) ![routing](routing.png)",
    ])
    return md, numbers


def _haxby(out_dir: Path, shared: Path, device: str) -> tuple[str, dict]:
    haxby = load_haxby(shared / "data" / "fmri" / "haxby2001_subj1")
    runs = haxby.attributes["run"].to_numpy()
    y, masker = mask_responses(haxby.bold, haxby.mask, standardize_runs=runs)
    x = category_design(haxby.attributes, haxby.tr).to_numpy()
    pred = np.zeros_like(y)
    for train, test in make_splits(len(y), "logo", runs):
        model = RidgeCV(alphas=np.logspace(-2, 5, 8), cv="logo", device=device)
        model.fit(x[train], y[train], groups=runs[train])
        pred[test] = model.predict(x[test])
    r = pearson_r(y, pred)
    save_figure(plot_volume_map(to_nifti(r, masker), title="Haxby: held-out r"), out_dir / "haxby_r.png", dpi=100)
    q = np.percentile(r, [50, 90, 99])
    numbers = {"haxby_median_r": float(q[0]), "haxby_p90_r": float(q[1]), "haxby_p99_r": float(q[2]),
               "haxby_max_r": float(r.max())}
    md = (f"Haxby 2001 subject 1: 8 HRF-convolved category regressors -> {y.shape[1]} voxels, RidgeCV "
          f"(alpha per voxel, inner leave-one-run-out), outer leave-one-run-out over 12 runs. Held-out r: median "
          f"{q[0]:.3f}, 90th percentile {q[1]:.3f}, 99th {q[2]:.3f}, max {r.max():.3f}.\n\n![Haxby](haxby_r.png)")
    return md, numbers


def _algonauts(shared: Path) -> tuple[str, dict]:
    base = shared / "data" / "fmri" / "algonauts2023"
    nc = load_noise_ceiling(1, base / "algonauts2023_noise_ceiling")
    r = load_reference_correlation(base / "algonauts2023_transformer_val_corr_subj01")
    r_all = np.concatenate([r["lh"], r["rh"]])
    score = noise_normalized_score(r_all, np.concatenate([nc["lh"], nc["rh"]]), ceiling_unit="percent")
    numbers = {"algonauts_mean_r": float(r_all.mean()), "algonauts_noise_normalized": float(score.mean())}
    md = (f"Algonauts 2023 subject 1, the shared real validation r map of the transformer encoder "
          f"({len(r_all)} vertices): mean r {r_all.mean():.3f}, mean noise-normalised score {score.mean():.1f} "
          "(100 r^2 / NC, NC in percent; the team's challenge score was 63.5 on the test set).")
    return md, numbers


def run(out_dir: Path, shared: Path | None = None, device: str = "auto") -> dict:
    """Run the brain demo into ``out_dir``; returns ``title``, ``markdown``, ``numbers``, ``command``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    parts = [_synthetic(out_dir, device)]
    fmri = Path(shared) / "data" / "fmri" if shared is not None else None
    if fmri is not None and (fmri / "haxby2001_subj1" / "bold.nii.gz").is_file():
        parts.append(_haxby(out_dir, Path(shared), device))
    if fmri is not None and (fmri / "algonauts2023" / "algonauts2023_noise_ceiling").is_dir():
        parts.append(_algonauts(Path(shared)))
    numbers = {key: float(value) for _, nums in parts for key, value in nums.items()}
    return Section(title="Brain encoders (ridge, factorised, transformer)", markdown="\n\n".join(md for md, _ in parts),
                   numbers=numbers, command=COMMAND)
