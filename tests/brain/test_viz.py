"""Brain figures: each function returns a Figure (saved by the caller), never a file or a backend change."""

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from cogvision.io import save_figure
from cogvision.viz import brain as viz
from data_loaders.algonauts import load_rsc_mask


def test_surface_map_of_the_shared_rsc_masks(tmp_path, shared):
    values = {hemi: load_rsc_mask(hemi).astype(float) for hemi in ("lh", "rh")}
    assert values["lh"].shape == (163842,)
    path = save_figure(viz.plot_surface_map(values, title="RSC", threshold=0.5), tmp_path / "rsc.png")
    assert path.stat().st_size > 10_000


def test_histogram_overlays_encoders(tmp_path):
    rng = np.random.default_rng(0)
    backend = matplotlib.get_backend()
    fig = viz.plot_score_histogram({"ridge": rng.normal(size=50), "transformer": rng.normal(size=50)})
    assert isinstance(fig, Figure) and matplotlib.get_backend() == backend
    assert len(fig.axes[0].get_legend().get_texts()) == 2
    assert save_figure(fig, tmp_path / "h.png").is_file()


def test_encoder_comparison_draws_the_ceiling_as_a_line_not_a_bar():
    table = pd.DataFrame({"encoder": ["ridge", "ridge", "transformer", "transformer", "ceiling", "ceiling"],
                          "kind": ["retinotopic", "category"] * 3, "mean_r": [0.5, 0.2, 0.6, 0.7, 0.9, 0.9]})
    ax = viz.plot_encoder_comparison(table).axes[0]
    heights = sorted(round(p.get_height(), 3) for p in ax.patches)
    assert heights == [0.2, 0.5, 0.6, 0.7]  # two encoders x two kinds; no bar for the ceiling
    ceiling = [c for c in ax.collections if c.get_label() == "noise ceiling"]
    assert len(ceiling) == 1 and np.allclose([s[:, 1] for s in ceiling[0].get_segments()], 0.9)


def test_routing_maps_are_drawn_over_the_images_with_a_colorbar():
    rng = np.random.default_rng(0)
    images, routing = rng.random((2, 3, 40, 40)), rng.random((2, 3, 5, 5))
    fig = viz.plot_routing_maps(images, routing, ["a", "b", "c"])
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len(panels) == 2 * 4 and len(fig.axes) == 2 * 4 + 1  # one colorbar
    overlay = panels[1].get_images()
    assert len(overlay) == 2 and overlay[1].get_extent() == [-0.5, 39.5, 39.5, -0.5]  # stretched over the image
    assert overlay[1].get_clim() == (0, routing.max())


def test_layer_curves_and_rsa_layers():
    table = pd.DataFrame({"layer": ["a", "b"], "encoder": "ridge", "median_r2": [0.1, 0.2],
                          "median_r2_low": [0.05, 0.15], "median_r2_high": [0.15, 0.25]})
    assert isinstance(viz.plot_layer_curves(table), Figure)
    rsa = pd.DataFrame({"layer": ["a", "b"], "layer_index": [0, 1], "reference": "it", "tau_a": [0.1, 0.2],
                        "tau_a_low": [0.0, 0.1], "tau_a_high": [0.2, 0.3], "ceiling_low": 0.3, "ceiling_high": 0.4})
    assert len(viz.plot_rsa_layers(rsa).axes) == 1
