"""Brain figures: surface maps on the shipped fsaverage5, volume maps, histograms."""

import numpy as np

from cogvision.viz import brain as viz


def test_surface_map_of_the_shared_rsc_masks(tmp_path, shared):
    from data_loaders.algonauts import load_rsc_mask

    values = {hemi: load_rsc_mask(hemi).astype(float) for hemi in ("lh", "rh")}
    assert values["lh"].shape == (163842,)
    path = viz.plot_surface_map(values, tmp_path / "rsc.png", title="RSC", threshold=0.5)
    assert path.stat().st_size > 10_000


def test_histogram_overlays_encoders(tmp_path):
    rng = np.random.default_rng(0)
    path = viz.plot_score_histogram({"ridge": rng.normal(size=50), "transformer": rng.normal(size=50)},
                                    tmp_path / "h.png")
    assert path.is_file()
