"""The gaze section of ``cogvision demo``: a small ViTGaze trained on synthetic scenes, against baselines.

Trains a 4-block ViT (64 px, patch 8) with ViTGaze's guidance and decoder on synthetic scenes for a
few epochs on CPU, scores it on held-out scenes against a centre prior, the training-mean prior and a
head-direction-free object prior, and, when the shared data folder is given, scores analytic maps on
the real GazeFollow test2 annotations.
"""

from __future__ import annotations

import time
from pathlib import Path

from cogvision._docs import fill_doc
from cogvision.demo.section import Section
from cogvision.gaze.config import preset
from cogvision.gaze.evaluate import score_analytic
from cogvision.gaze.predict import predict_dataset
from cogvision.io import save_figure
from cogvision.jobs.gaze_train import train_in_memory
from cogvision.reporting import markdown_rows
from cogvision.viz.gaze import plot_scene_predictions, plot_scores
from data_loaders.gazefollow import gaze_array, read_gazefollow_mat

COMMAND = "cogvision gaze train cogvision/gaze/configs/synthetic.json --out results/gaze_synthetic"
PRESET = "demo"  # cogvision/gaze/configs/demo.json
CONFIG_CHANGES: dict = {}  # changes to the preset (tests run a smaller one)
GAZEFOLLOW_STRIDE = 5


def _markdown_table(frame, columns: list[str]) -> str:
    rows = ([f"{v:.3f}" if isinstance(v, float) else v for v in row] for row in frame[columns].itertuples(index=False))
    return markdown_rows(columns, rows)


@fill_doc
def run(out_dir: Path, shared: Path | None = None, device: str = "auto") -> dict:
    """Train and score a demo-size ViTGaze, draw two figures, and score analytic maps on GazeFollow test2.

    Parameters
    ----------
    out_dir
        Folder for the PNG figures (created).
    shared
        The shared data folder; with ``data/gaze_following/gazefollow_test2`` the analytic maps are
        scored on every fifth person of the real test2 annotations.
    %(device)s

    Returns
    -------
    dict
        ``title``, ``markdown``, ``numbers`` (floats computed here) and ``command`` (the full-size run).
    """
    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    config = preset(PRESET, **CONFIG_CHANGES)
    result = train_in_memory(config, device=device, progress=False)
    scores = result.scores
    numbers = {f"{row.method}: {metric}": float(getattr(row, metric))
               for row in scores.itertuples() for metric in ("auc", "avg_l2", "vat_auc", "ap")}
    numbers["fit seconds"] = result.seconds

    val = result.data.val
    heatmaps, _ = predict_dataset(result.model, val, device=device, progress=False)
    save_figure(plot_scene_predictions(val.images, val.people, heatmaps, n=6), out_dir / "gaze_examples.png", dpi=90)
    save_figure(plot_scores(scores), out_dir / "gaze_scores.png", dpi=90)

    markdown = (
        f"ViTGaze (Song et al. 2024): attention maps of {len(result.model.blocks)} blocks of a small ViT "
        f"(64 px, patch 8, sin-cos-initialised positions), head-box spatial guidance, upsampling decoder and "
        f"in/out head, trained from scratch for {config.epochs} epochs on {config.n_train} synthetic scenes "
        f"(seed {config.seed}, {result.seconds:.0f} s) and scored on {config.n_val} held-out scenes. AUC: "
        "GazeFollow style (map resized to the image, one positive pixel); Avg L2: argmax to the target in "
        "normalised coordinates (lower is better); VAT AUC: 64x64, 19x19 square; AP: in-frame probability "
        "(baselines have none, so theirs is the in-frame share).\n\n"
        + _markdown_table(scores, ["method", "auc", "avg_l2", "vat_auc", "ap"])
        + "\n![predictions on held-out scenes](gaze_examples.png)\n\n![scores](gaze_scores.png)\n"
    )
    test2 = Path(shared) / "data" / "gaze_following" / "gazefollow_test2" / "test2_annotations.mat" if shared else None
    if test2 is not None and test2.exists():
        gaze = gaze_array(read_gazefollow_mat(test2))[::GAZEFOLLOW_STRIDE]
        analytic = score_analytic(gaze, seed=0)
        for row in analytic.itertuples():
            for metric in ("auc", "avg_l2", "min_l2"):
                numbers[f"GazeFollow test2 {row.method}: {metric}"] = float(getattr(row, metric))
        markdown += (
            f"\nAnalytic maps on the real GazeFollow test2 annotations (every {GAZEFOLLOW_STRIDE}th of 4,782 "
            f"people, {len(gaze)} here; AUC is the 64x64 variant). Recasens et al. 2015 report 0.633 / 0.313 / "
            "0.230 (AUC / Avg L2 / Min L2) for their centre baseline.\n\n"
            + _markdown_table(analytic, ["method", "auc", "avg_l2", "min_l2"])
        )
    numbers["seconds"] = time.perf_counter() - t0
    return Section(title="Gaze following: ViTGaze vs baselines", markdown=markdown, numbers=numbers,
                   command=COMMAND)
