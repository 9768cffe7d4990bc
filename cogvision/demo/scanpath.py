"""The scanpath section of ``cogvision demo``: OAT against the baselines and humans, at demo size.

Runs in well under a minute on two CPU cores: the built-in synthetic search set by default, or the real
Amazon book covers (split by collage) when the shared data folder is given.
"""

from __future__ import annotations

import time
from pathlib import Path

from cogvision.demo.section import Section
from cogvision.io import save_figure
from cogvision.scanpath.compare import compare_models, markdown_table, summarise
from cogvision.scanpath.presets import Preset, read_preset
from cogvision.viz.scanpath import plot_metric_bars, plot_scanpaths
from data_loaders.amazon_covers import RELATIVE_PATH, load_amazon_covers
from data_loaders.synthetic_scanpaths import make_synthetic_scanpaths

COMMAND = ("cogvision scanpath evaluate amazon --out results/scanpath_amazon --seeds 0,1,2 "
           "--epochs 45 --warmup 15 --patience 10 --lr 5e-4 --samples 20 --d-model 128 --n-layers 2")


def run(out_dir: Path, shared: Path | None = None, device: str = "auto") -> dict:
    """Fit a small OAT on one split, score it with the baselines and human consistency, draw two figures.

    The OAT is the ``demo`` preset (``demo_amazon`` on the covers), :mod:`cogvision.scanpath.presets`.

    Parameters
    ----------
    out_dir
        Folder for the PNG figures (created).
    shared
        The shared data folder; when it holds the Amazon covers they are used, else the synthetic set.
    device
        Torch device for OAT.

    Returns
    -------
    dict
        ``title``, ``markdown``, ``numbers`` (floats computed here) and ``command`` (the full-size run).
    """
    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    amazon = Path(shared).joinpath(*RELATIVE_PATH) if shared is not None else None
    if amazon is not None and amazon.exists():
        data = load_amazon_covers(amazon).filter_length(3.0)
        source = "Amazon book covers (600 real search scanpaths, 6x14 covers, split by collage 80/10/10)"
        preset = Preset.demo_amazon
    else:
        data = make_synthetic_scanpaths(n_scenes=40, n_subjects=4)
        source = "built-in synthetic search scanpaths (40 scenes x 4 searchers, 4x6 objects, split by scene 80/10/10)"
        preset = Preset.demo
    params = {**read_preset(preset).oat_kwargs(), "device": device}
    table, models = compare_models(data, seeds=(0,), oat_params=params, n_samples=10)
    summary = summarise(table, ("delta", "sequence_score", "edit_distance", "mm_vector", "mm_direction", "mm_position"))
    _, _, test = data.split(seed=0)
    trial = test.trials[0]
    save_figure(plot_scanpaths(test, trial, models[0].predict(test.subset([trial]), n_samples=1)),
                out_dir / "scanpath_example.png", dpi=80)
    save_figure(plot_metric_bars(table), out_dir / "scanpath_metrics.png", dpi=80)
    numbers = {f"{row.model}_{row.decoding.split('-')[0]}_{metric}": float(getattr(row, metric))
               for row in table.itertuples() for metric in ("delta", "sequence_score", "mm_position")}
    numbers["seconds"] = time.perf_counter() - t0
    markdown = (
        f"OAT (object-level attention transformer, Fang et al. 2024) at demo size ({params['d_model']} wide, "
        f"{params['epochs']} epochs) on {source}, against random, centre-out and saliency-with-IOR baselines and "
        "leave-one-subject-out human consistency, scored on the test images. Delta: OAT's behavioural delta "
        "(lower is better); Sequence Score and MultiMatch: higher is better; edit distance: lower is better.\n\n"
        + markdown_table(summary)
        + "\n![example scanpaths](scanpath_example.png)\n\n![metrics](scanpath_metrics.png)\n"
    )
    return Section(title="Scanpaths: OAT vs baselines", markdown=markdown, numbers=numbers, command=COMMAND)
