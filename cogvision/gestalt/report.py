"""The data files and the Markdown report of a DiSRT run.

:func:`save_results` writes into a folder the caller has claimed (normally the staging folder of
:func:`cogvision.io.publish_folder`, as :func:`cogvision.jobs.disrt.write_report` does, which adds the figures):
``results.nc`` (the full :class:`xarray.Dataset`, compressed netCDF4), ``scores.csv``/``scores.parquet``
(:func:`~cogvision.gestalt.scoring.to_frame`), ``trials.csv``/``trials.parquet``
(:func:`~cogvision.gestalt.scoring.trials_frame`), both with a first column ``model`` so that tables of
several runs concatenate, ``summary.json`` (:func:`~cogvision.gestalt.scoring.summary` plus the command) and
``report.md``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import xarray as xr

from cogvision.gestalt.scoring import NULL_PIXEL, NULL_STRUCTURE_BLIND, PIXELS, summary, to_frame, trials_frame
from cogvision.io import atomic_write, write_dataset, write_table


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


def _with_model(frame: pd.DataFrame, model: str) -> pd.DataFrame:
    return frame.assign(model=model)[["model", *frame.columns]]


def save_results(ds: xr.Dataset, folder: str | Path, command: str = "", figures: dict[str, str] | None = None,
                 model: str | None = None) -> dict:
    """Write the data files and ``report.md`` of a DiSRT run into the existing ``folder``.

    Parameters
    ----------
    ds
        Results of :func:`cogvision.gestalt.run_disrt`.
    folder
        An existing folder, normally a publisher's staging folder (each file is written atomically, but the
        folder as a whole is only as safe as the caller makes it).
    command
        The exact command that produced ``ds`` (stored in the report and the JSON summary).
    figures
        Figure name -> file name in ``folder`` to link from the report (the figures themselves are drawn by
        the caller, e.g. :func:`cogvision.jobs.disrt.write_report`).
    model
        The ``model`` column of the tables (default ``ds.attrs["model"]``, the model spec).

    Returns
    -------
    dict
        The summary (:func:`~cogvision.gestalt.scoring.summary`) with ``command`` and ``files`` added.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder}: expected an existing folder to write the DiSRT results into")
    model = str(ds.attrs.get("model", "")) if model is None else model
    info = summary(ds)
    info["command"] = command
    write_dataset(ds, folder / "results.nc")
    write_table(_with_model(to_frame(ds), model), folder / "scores.csv")
    write_table(_with_model(trials_frame(ds), model), folder / "trials.csv")
    atomic_write(folder / "report.md", render_markdown(ds, info, command, figures or {}))
    info["files"] = sorted({p.name for p in folder.iterdir() if not p.name.startswith(".")} | {"summary.json"})
    atomic_write(folder / "summary.json", json.dumps(info, indent=2))
    return info
