"""The odd-one-out protocol on control models: blind, layout-seeing, seeded, Top-K, errors, outputs."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr

from cogvision.gestalt import CHANCE, PIXELS, DisrtProtocol, run_disrt, summary, to_frame
from cogvision.io import read_dataset
from cogvision.jobs.disrt import write_report
from cogvision.models import load_model


@pytest.fixture(scope="module")
def images():
    from data_loaders.images import builtin_images

    return builtin_images(["astronaut", "chelsea", "coffee", "rocket"], size=64)


@pytest.fixture(scope="module")
def tiny_cnn():
    return load_model("cogvision.models.builtin:tiny_cnn", device="cpu")


def test_permutation_invariant_model_is_never_above_chance_on_shuffles(images):
    model = load_model("cogvision.models.builtin:permutation_invariant", device="cpu")
    for match in (True, False):
        ds = run_disrt(model, images[0], DisrtProtocol(distortions=("shuffle",), grids=(2, 4), match=match,
                                                        n_boot=50), layers=["relu", "flatten"])
        model_rows = ds["accuracy"].sel(layer=["relu", "flatten"])
        assert float(model_rows.max()) <= CHANCE
        # it cannot tell the shuffle from the image: s(image, distortion) is 1 up to rounding
        assert np.allclose(ds["s_id"].sel(layer="flatten").values, 1.0, atol=1e-6)


def test_a_layout_seeing_readout_scores_near_one(images, tiny_cnn):
    # flattened features keep where things are; with a 1-pixel shift as nuisance the shuffle is the odd one
    ds = run_disrt(tiny_cnn, images[0], DisrtProtocol(distortions=("shuffle", "rotate"), grids=(2, 4),
                                                       pooling="flat", match=False, nuisance_magnitude=1.0,
                                                       n_boot=50), layers=["features.0", "features.2"])
    assert float(ds["accuracy"].sel(layer=["features.0", "features.2"]).min()) >= 0.8
    assert float(ds["index_mean"].sel(layer="features.2").min()) > 0.7


def test_matched_nuisance_puts_the_pixel_observer_between_the_two_variants(images, tiny_cnn):
    ds = run_disrt(tiny_cnn, images[0], DisrtProtocol(distortions=("shuffle",), grids=(2, 4), n_boot=50,
                                                       similarity="euclidean"), layers=["features.3"])
    matched = ds["mse_nuisance"] / ds["mse_distortion"]
    reached = matched > 0.99  # a coarse shuffle's MSE is often out of reach of any shift (see docs)
    assert bool(reached.any())
    # where the MSE is matched the pixel observer cannot prefer the distortion: its index is 0.5
    index = ds["index"].sel(layer=PIXELS, k=1.0).where(reached)
    assert np.nanmax(np.abs(index.values - 0.5)) < 0.01
    unmatched = run_disrt(tiny_cnn, images[0], DisrtProtocol(distortions=("shuffle",), grids=(2, 4), n_boot=50,
                                                             similarity="euclidean", match=False),
                          layers=["features.3"])
    assert float(unmatched["accuracy"].sel(layer=PIXELS).min()) == 1.0  # a tiny nuisance gives it away


def test_cells_matched_together_get_the_nuisance_each_would_get_alone(images, tiny_cnn):
    from cogvision.gestalt import crop_to_grid, distort, matched_nuisance, pixel_mse

    x = images[0][:2]  # 64 px: grids 2 and 4 keep all of it (matched together), grid 3 crops to 63 px
    protocol = DisrtProtocol(distortions=("shuffle", "rotate"), grids=(2, 3, 4), n_boot=20, seed=5)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread: the per-image MSE sums in the same order for any batch
    try:
        ds = run_disrt(tiny_cnn, x, protocol, layers=["features.3"])
        for dist in protocol.distortions:
            for grid in protocol.grids:
                crop = crop_to_grid(x, grid)
                target = pixel_mse(distort(dist, crop, grid, 5), crop)
                _, magnitude, mse = matched_nuisance("local", crop, target, 5)
                cell = dict(distortion=dist, strength=grid, trial=0)
                assert np.array_equal(ds["nuisance_magnitude"].sel(cell).values, magnitude.numpy())
                assert np.array_equal(ds["mse_nuisance"].sel(cell).values, mse.numpy())
    finally:
        torch.set_num_threads(threads)


def test_same_seed_same_results_and_batch_size_does_not_matter(images, tiny_cnn):
    protocol = DisrtProtocol(distortions=("shuffle", "shuffle_seamless"), grids=(3,), n_boot=50, seed=4)
    a = run_disrt(tiny_cnn, images[0], protocol, batch_size=3, layers=["features.3"])
    b = run_disrt(tiny_cnn, images[0], protocol, batch_size=4, layers=["features.3"])
    xr.testing.assert_allclose(a, b)
    c = run_disrt(tiny_cnn, images[0], DisrtProtocol(distortions=("shuffle", "shuffle_seamless"), grids=(3,),
                                                      n_boot=50, seed=5), layers=["features.3"])
    assert not np.allclose(a["s_id"].values, c["s_id"].values)


def test_dataset_layout_and_topk_sweep(images, tiny_cnn):
    names = images[1]
    ds = run_disrt(tiny_cnn, images[0], DisrtProtocol(grids=(2, 4), n_boot=50, human=0.9, match=False),
                   layers=["features.1", "features.3"], topk=(0.5, 0.1), topk_layers=["features.1"],
                   image_names=names)
    assert dict(ds.sizes) == {"layer": 3, "distortion": 2, "strength": 2, "k": 3, "image": 4, "trial": 3}
    assert list(ds["layer"].values) == [PIXELS, "features.1", "features.3"]
    assert list(ds["k"].values) == [1.0, 0.5, 0.1]
    assert list(ds["image"].values) == names
    assert int(ds["n_trials"].min()) == 12
    assert bool(((ds["accuracy_low"] <= ds["accuracy"]) & (ds["accuracy"] <= ds["accuracy_high"])).all())
    dense = run_disrt(tiny_cnn, images[0], DisrtProtocol(grids=(2, 4), n_boot=50, match=False),
                      layers=["features.1", "features.3"])
    np.testing.assert_allclose(ds["correct"].sel(k=1.0).values, dense["correct"].sel(k=1.0).values)
    # Top-K changes the sparsified layer itself (read out as the next layer sees it) and what follows,
    # never the pixels
    assert not np.allclose(ds["s_id"].sel(layer="features.1", k=0.1), ds["s_id"].sel(layer="features.1", k=1.0))
    assert not np.allclose(ds["s_id"].sel(layer="features.3", k=0.1), ds["s_id"].sel(layer="features.3", k=1.0))
    np.testing.assert_allclose(ds["s_id"].sel(layer=PIXELS, k=0.1), ds["s_id"].sel(layer=PIXELS, k=1.0))
    info = summary(ds)
    assert info["readout_layer"] == "features.3" and info["human"] == 0.9
    assert info["score"] == pytest.approx(float(ds["correct"].sel(layer="features.3", k=1.0).mean()))
    assert set(info["topk"]) == {"0.5", "0.1"}
    frame = to_frame(ds)
    assert len(frame) == 3 * 2 * 2 * 3 and {"accuracy", "accuracy_low", "n_trials", "chance"} <= set(frame.columns)


def test_vit_cls_and_mean_pooling():
    model = load_model("cogvision.models.builtin:tiny_vit", device="cpu")
    x = torch.rand(2, 3, 64, 64)
    for pooling in ("cls", "mean"):
        ds = run_disrt(model, x, DisrtProtocol(distortions=("rotate",), grids=(2,), pooling=pooling, n_boot=20),
                       topk=(0.2,), topk_layers=["blocks.1"])
        assert list(ds["layer"].values) == [PIXELS, "blocks.0", "blocks.1", "blocks.2", "blocks.3"]
        assert np.isfinite(ds["accuracy"].values).all()


def test_bad_inputs_raise_documented_errors(images, tiny_cnn):
    x = images[0]
    with pytest.raises(ValueError, match="close matches"):
        run_disrt(tiny_cnn, x, layers=["features.9"])
    with pytest.raises(ValueError, match="conv map"):
        run_disrt(tiny_cnn, x, DisrtProtocol(pooling="cls"), layers=["features.1"])
    with pytest.raises(ValueError, match="distortions.0\n  Input should be .shuffle"):
        DisrtProtocol(distortions=("warp",))
    with pytest.raises(ValueError, match="grids must be"):
        DisrtProtocol(grids=(1, 2))
    with pytest.raises(ValueError, match="nuisance\n  Input should be .local., .shift. or .color."):
        DisrtProtocol(nuisance="blur")
    with pytest.raises(ValueError, match="Top-K"):
        run_disrt(tiny_cnn, x, topk=(1.5,))
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        run_disrt(tiny_cnn, x[0])
    with pytest.raises(ValueError, match="image_names"):
        run_disrt(tiny_cnn, x, image_names=["a"])


def test_results_folder_is_complete_and_never_silently_overwritten(images, tiny_cnn, tmp_path):
    ds = run_disrt(tiny_cnn, images[0], DisrtProtocol(grids=(2,), n_boot=20), topk=(0.2,), image_names=images[1])
    out = tmp_path / "run"
    info = write_report(ds, out, command="cogvision disrt ...")
    files = {"results.nc", "scores.csv", "scores.parquet", "trials.csv", "trials.parquet", "summary.json", "report.md",
             "accuracy.png", "topk.png", "run.json"}
    assert files == {p.name for p in out.iterdir()}
    assert set(info["files"]) == files - {"run.json"}  # run.json is the publisher's, written last
    assert json.loads((out / "summary.json").read_text())["score"] == pytest.approx(info["score"])
    back = read_dataset(out / "results.nc")
    np.testing.assert_array_equal(back["accuracy"].values, ds["accuracy"].values)
    xr.testing.assert_identical(back, ds)
    scores, trials = pd.read_parquet(out / "scores.parquet"), pd.read_csv(out / "trials.csv")
    assert list(scores.columns[:2]) == ["model", "layer"] and set(scores["model"]) == {ds.attrs["model"]}
    assert len(trials) == ds["correct"].size and trials.columns[0] == "model"
    assert "cogvision disrt ..." in (out / "report.md").read_text()
    with pytest.raises(FileExistsError, match="--overwrite"):
        write_report(ds, out)
    write_report(ds, out, overwrite=True)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary leftovers
