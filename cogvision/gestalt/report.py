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

from cogvision.gestalt.scoring import PIXELS, summary, to_frame, trials_frame


def check_out_dir(out_dir: str | Path, overwrite: bool = False) -> Path:
    """Refuse an existing ``out_dir`` unless ``overwrite`` (raises ``FileExistsError``)."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not overwrite:
        raise FileExistsError(f"result folder {out_dir} already exists; pass --overwrite (overwrite=True) "
                              "to replace it")
    if out_dir.exists() and not out_dir.is_dir():
        raise FileExistsError(f"{out_dir} exists and is not a folder")
    return out_dir


def markdown_table(ds: xr.Dataset, k: float = 1.0) -> str:
    """Accuracy [95% interval] per layer (rows) and distortion x grid (columns), at Top-K ``k``."""
    cols = [(str(d), int(g)) for d in ds["distortion"].values for g in ds["strength"].values]
    head = "| layer | " + " | ".join(f"{d} {g}x{g}" for d, g in cols) + " |"
    lines = [head, "|" + "---|" * (len(cols) + 1)]
    sel = ds.sel(k=k)
    for layer in ds["layer"].values:
        cells = []
        for d, g in cols:
            row = sel.sel(layer=layer, distortion=d, strength=g)
            cells.append(f"{float(row['accuracy']):.2f} [{float(row['accuracy_low']):.2f}, "
                         f"{float(row['accuracy_high']):.2f}]")
        name = f"{layer} (baseline)" if layer == PIXELS else str(layer)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
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
    parts = [
        f"# DiSRT report: {info['model']}",
        f"Command:\n\n```\n{command}\n```",
        f"Protocol: {json.dumps(protocol)}; {info['n_images']} images, {ds.sizes['layer'] - 1} layers; "
        f"chance 1/3; trials per cell {ds.sizes['image']}.",
        f"**Score** (readout layer `{info['readout_layer']}`, mean over distortions and grids, dense): "
        f"{info['score']:.3f} [{info['score_low']:.3f}, {info['score_high']:.3f}]; graded index {info['index']:.3f}; "
        f"best layer `{info['best_layer']}` {info['best_layer_score']:.3f}; pixel-space baseline "
        f"{info['pixel_score']:.3f} (index {info['pixel_index']:.3f}).",
        "## Accuracy per layer, distortion and grid (dense; 95% bootstrap interval over images)",
        markdown_table(ds),
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
