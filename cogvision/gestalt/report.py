"""Write a DiSRT result folder: netCDF, tidy CSVs, JSON summary, figures and a Markdown report.

The folder is written into a temporary sibling and renamed into place, so a crash never leaves a
partial result; an existing folder is refused unless ``overwrite``.

Files: ``results.nc`` (the full :class:`xarray.Dataset`), ``scores.csv`` (:func:`~cogvision.gestalt.scoring.to_frame`),
``trials.csv`` (:func:`~cogvision.gestalt.scoring.trials_frame`), ``summary.json``
(:func:`~cogvision.gestalt.scoring.summary` plus the command), ``accuracy.png`` (dense accuracy per layer
and grid), ``topk.png`` (only with a Top-K sweep), ``report.md``.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import xarray as xr

from cogvision.gestalt.scoring import NULL_PIXEL, NULL_STRUCTURE_BLIND, PIXELS, summary, to_frame, trials_frame


def check_out_dir(out_dir: str | Path, overwrite: bool = False) -> Path:
    """Refuse an existing ``out_dir`` unless ``overwrite`` (raises ``FileExistsError``)."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not overwrite:
        raise FileExistsError(f"result folder {out_dir} already exists; pass --overwrite (overwrite=True) "
                              "to replace it")
    if out_dir.exists() and not out_dir.is_dir():
        raise FileExistsError(f"{out_dir} exists and is not a folder")
    return out_dir


def markdown_table(ds: xr.Dataset, k: float = 1.0, measure: str = "accuracy") -> str:
    """``measure`` (``accuracy`` or ``index``) [95% interval] per layer (rows) and distortion x grid
    (columns) at Top-K ``k``, below two null rows (structure-blind observer, pixel observer)."""
    mean, low, high = ("accuracy", "accuracy_low", "accuracy_high") if measure == "accuracy" else \
        ("index_mean", "index_low", "index_high")
    cols = [(str(d), int(g)) for d in ds["distortion"].values for g in ds["strength"].values]
    head = "| layer | " + " | ".join(f"{d} {g}x{g}" for d, g in cols) + " |"
    lines = [head, "|" + "---|" * (len(cols) + 1),
             "| null: structure-blind observer | " + " | ".join(f"{NULL_STRUCTURE_BLIND:.2f}" for _ in cols) + " |",
             "| null: pixel observer (matched) | " + " | ".join(f"{NULL_PIXEL:.2f}" for _ in cols) + " |"]
    sel = ds.sel(k=k)
    for layer in ds["layer"].values:
        cells = []
        for d, g in cols:
            row = sel.sel(layer=layer, distortion=d, strength=g)
            cells.append(f"{float(row[mean]):.2f} [{float(row[low]):.2f}, {float(row[high]):.2f}]")
        name = "pixel observer (measured)" if layer == PIXELS else str(layer)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def matching_table(info: dict) -> str:
    """Nuisance matching per cell of a :func:`~cogvision.gestalt.scoring.summary`: matched share and shortfall."""
    lines = ["| cell | matched (within 5%) | median MSE ratio | lowest MSE ratio |", "|---|---|---|---|"]
    for row in info["matching"]:
        lines.append(f"| {row['distortion']} {row['strength']}x{row['strength']} | {row['matched_fraction']:.2f} | "
                     f"{row['median_ratio']:.3f} | {row['min_ratio']:.3f} |")
    return "\n".join(lines)


def topk_table(info: dict) -> str:
    """Top-K rows of a :func:`~cogvision.gestalt.scoring.summary`: readout and mean accuracy, and their change."""
    lines = ["| k | readout accuracy | change | mean over layers | change |", "|---|---|---|---|---|"]
    for k, row in info["topk"].items():
        lines.append(f"| {k} | {row['readout_score']:.3f} | {row['readout_change']:+.3f} | "
                     f"{row['mean_over_layers']:.3f} | {row['mean_change']:+.3f} |")
    return "\n".join(lines)


def render_markdown(ds: xr.Dataset, info: dict, command: str, figures: dict[str, str]) -> str:
    """The Markdown report: command, settings, summary, accuracy table, Top-K table, figure links."""
    protocol = json.loads(ds.attrs["protocol"])
    excluded = "; ".join(f"{c['distortion']} {c['strength']}x{c['strength']} ({c['reason']})"
                         for c in info["excluded_cells"]) or "none"
    parts = [
        f"# DiSRT report: {info['model']}",
        f"Command:\n\n```\n{command}\n```",
        f"Protocol: {json.dumps(protocol)}; {info['n_images']} images x {info['trials_per_image']} trials per cell, "
        f"{ds.sizes['layer'] - 1} layers. Nulls: structure-blind observer {NULL_STRUCTURE_BLIND:.2f} (index "
        f"{NULL_STRUCTURE_BLIND:.2f}), pixel observer {NULL_PIXEL:.2f} (index {NULL_PIXEL:.2f}); a random guesser "
        "would score 1/3.",
        f"**Score** (readout layer `{info['readout_layer']}`, mean over the included cells, dense): "
        f"{info['score']:.3f} [{info['score_low']:.3f}, {info['score_high']:.3f}]; graded index {info['index']:.3f} "
        f"[{info['index_low']:.3f}, {info['index_high']:.3f}]; best layer `{info['best_layer']}` "
        f"{info['best_layer_score']:.3f}; pixel observer {info['pixel_score']:.3f} (index {info['pixel_index']:.3f}). "
        f"Every cell, degenerate ones included: {info['score_all_cells']:.3f}.",
        f"Cells left out of the score: {excluded}." + (" Every cell is degenerate: the score uses them all."
                                                       if info["all_cells_degenerate"] else ""),
        f"Nuisance ({ds.attrs.get('nuisance', protocol.get('nuisance'))}) matched within 5% on "
        f"{info['nuisance_matched_fraction']:.1%} of image x cell x trial triples:",
        matching_table(info),
        "## Accuracy per layer, distortion and grid (dense; 95% bootstrap interval over images)",
        markdown_table(ds),
        "## Graded index per layer, distortion and grid (dense)",
        markdown_table(ds, measure="index"),
    ]
    if info["topk"]:
        parts += ["## Top-K sweep (mean over distortions and grids)",
                  f"Top-K at {ds.attrs.get('topk_layers')}.", topk_table(info)]
    parts += [f"![{name}]({path})" for name, path in figures.items()]
    return "\n\n".join(parts) + "\n"


def save_results(ds: xr.Dataset, out_dir: str | Path, command: str = "", overwrite: bool = False) -> dict:
    """Write every output of a DiSRT run into ``out_dir`` atomically.

    Parameters
    ----------
    ds
        Results of :func:`cogvision.gestalt.run_disrt`.
    out_dir
        Result folder (must not exist unless ``overwrite``).
    command
        The exact command that produced ``ds`` (stored in the report and the JSON summary).
    overwrite
        Replace an existing folder.

    Returns
    -------
    dict
        The summary (:func:`~cogvision.gestalt.scoring.summary`) with ``command`` and ``files`` added.
    """
    from cogvision.viz.gestalt import plot_accuracy, plot_topk

    out_dir = check_out_dir(out_dir, overwrite)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        info = summary(ds)
        info["command"] = command
        ds.to_netcdf(tmp / "results.nc", engine="scipy")  # netCDF3: readable without h5py
        to_frame(ds).to_csv(tmp / "scores.csv", index=False)
        trials_frame(ds).to_csv(tmp / "trials.csv", index=False)
        figures = {"accuracy": "accuracy.png"}
        fig = plot_accuracy(ds)
        fig.savefig(tmp / "accuracy.png", dpi=110)
        plt.close(fig)
        if ds.sizes["k"] > 1:
            figures["topk"] = "topk.png"
            fig = plot_topk(ds)
            fig.savefig(tmp / "topk.png", dpi=110)
            plt.close(fig)
        (tmp / "report.md").write_text(render_markdown(ds, info, command, figures))
        info["files"] = sorted(p.name for p in tmp.iterdir()) + ["summary.json"]
        (tmp / "summary.json").write_text(json.dumps(info, indent=2))
        if out_dir.exists():
            old = out_dir.with_name(f".{out_dir.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            out_dir.rename(old)
            tmp.rename(out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return info
