"""Human scanpath prediction: metrics against hand-computed cases and scikit-learn, density models, the
Interiors loader (real copy and a tiny folder of the same layout with bad inputs), and the command."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from cogvision.cli import app
from cogvision.scanpath import ScanpathSet
from cogvision.scanpath.density import hsp_sequences, prepare_sequence, prepared, score_hsp
from cogvision.scanpath.density_baselines import (
    CentreBiasDensity,
    GoldStandard,
    SaccadeMarkov,
    StatisticsWalker,
    UniformDensity,
)
from cogvision.scanpath.hsp_evaluation import found_within, paired_differences, summarise_hsp
from cogvision.scanpath.mapping import objects_by_grid
from cogvision.scanpath.metrics.hsp import (
    aggregate_hsp,
    collapse_repeats,
    cut_at_target,
    grid_cells,
    hsp_scores,
    target_cells,
)
from cogvision.scanpath.metrics.saliency import nss as plain_nss
from data_loaders.fixation_table import grid_scene
from data_loaders.interiors import load_interiors
from data_loaders.shared import shared_dir


def test_scores_of_a_hand_computed_map():
    p = np.array([[0.1, 0.2, 0.3, 0.4]])
    base = np.array([0.4, 0.3, 0.2, 0.1])
    s = hsp_scores(np.log(p), [2], base)
    assert s["auc"][0] == pytest.approx((2 + 0.5) / 4)  # 0.1, 0.2 below; the fixated cell ties
    assert s["nss_standard"][0] == pytest.approx(0.05 / np.std([0.1, 0.2, 0.3, 0.4]))
    assert s["ll"][0] == pytest.approx(np.log2(0.3) - np.log2(0.25))
    assert s["ig"][0] == pytest.approx(np.log2(0.3) - np.log2(0.2))
    low = hsp_scores(np.log(p), [0], base)
    assert low["nss_standard"][0] < 0 and low["nss"][0] == 0.0  # ViSioNS clips negative NSS to 0


def test_auc_and_nss_agree_with_independent_implementations():
    rng = np.random.default_rng(0)
    maps = rng.integers(1, 6, size=(20, 35)).astype(float)  # many ties
    fixated = rng.integers(0, 35, size=20)
    s = hsp_scores(np.log(maps), fixated, np.ones(35))
    for k in range(20):
        p = maps[k] / maps[k].sum()
        expect = roc_auc_score(np.r_[1, np.zeros(35)], np.r_[p[fixated[k]], p])
        assert s["auc"][k] == pytest.approx(expect)
        assert s["nss_standard"][k] == pytest.approx(plain_nss(p[None], [0], [fixated[k]]))
    for cells in (8, 84, 768):  # 84 equal cells have a float std of ~1e-19, not 0
        flat = hsp_scores(np.full((1, cells), -np.log(cells)), [3], np.ones(cells))
        assert flat["auc"][0] == 0.5 and flat["ll"][0] == pytest.approx(0) and flat["nss_standard"][0] == 0


def test_grid_merge_and_cut_follow_visions():
    cells = grid_cells([0, 31.9, 32, 1023.9], [0, 10, 767.9, 5], 1024, 768, 24, 32)
    assert cells.tolist() == [[0, 0], [0, 0], [23, 1], [0, 31]]
    assert collapse_repeats(cells).tolist() == [[0, 0], [23, 1], [0, 31]]
    box = target_cells((100, 200, 172, 272), 1024, 768, 24, 32)  # top, left, bottom, right
    assert box == (3, 6, 5, 8)
    path = np.array([[0, 0], [4, 9], [5, 8], [1, 1]])
    assert cut_at_target(path, box).tolist() == [[0, 0], [4, 9], [5, 8]]
    assert cut_at_target(path[:2], box).tolist() == [[0, 0], [4, 9]]
    with pytest.raises(ValueError, match="outside the 1024 x 768 image"):
        grid_cells([10], [768], 1024, 768, 24, 32)
    assert prepare_sequence(np.array([3, 3, -1, 5, 5, 7, 3]), (7,)).tolist() == [3, 5, 7]


def test_averaging_is_per_trial_then_subject_then_image():
    frame = pd.DataFrame({"image": ["a"] * 4 + ["b"], "subject": ["1", "1", "1", "2", "1"],
                          "auc": [1.0, 1.0, 1.0, 0.0, 0.0], "nss": 0.0, "ig": 0.0, "ll": 0.0, "nss_standard": 0.0})
    per_image, overall = aggregate_hsp(frame)
    assert per_image.loc["a", "auc"] == 0.5 and overall["auc"] == 0.25  # a global mean would be 0.6


@pytest.fixture(scope="module")
def walk():
    """Scanpaths on a 5 x 6 grid that always step one column to the right (subject 3 also returns)."""
    rows = []
    for trial in range(6):
        for subject in range(3):
            cols = [0, 1, 2, 3, 4] if subject < 2 else [0, 1, 2, 1, 3]
            for k, c in enumerate(cols):
                rows.append({"subject": str(subject), "trial": f"t{trial}", "fixation": k, "x": 10 + 20 * c,
                             "y": 10 + 20 * (trial % 5)})
    frame = pd.DataFrame(rows)
    frame["object"] = objects_by_grid(frame["x"], frame["y"], 120, 100, 5, 6)
    scenes = {f"t{t}": grid_scene(f"t{t}", 120, 100, 5, 6, target=(t % 5) * 6 + 5) for t in range(6)}
    return ScanpathSet(frame, scenes, "walk")


def test_density_models_on_a_known_walk(walk):
    markov = SaccadeMarkov(sigma=0.3).fit(walk)
    scene = walk.scenes["t0"]
    seqs = [s for t, _, s in hsp_sequences(walk) if t == "t0"]
    fast = markov.log_density_sequences(scene, seqs)
    slow = [np.stack([markov.conditional_log_density(scene, s[:i]) for i in range(1, len(s))]) for s in seqs]
    for a, b in zip(fast, slow):
        np.testing.assert_allclose(a, b)
    right = scene.grid_pos[:, 1] == 1  # from cell (0, 0) the next is one column right
    assert np.exp(markov.conditional_log_density(scene, np.array([0])))[right & (scene.grid_pos[:, 0] == 0)] > 0.5
    walker = StatisticsWalker().fit(walk)
    assert walker.return_rate_ == pytest.approx(6 / (6 * (2 * 3 + 3)))  # one return in 9 chances per trial
    uniform = score_hsp(UniformDensity(), walk, np.ones((5, 6)))
    assert np.allclose(uniform["auc"], 0.5) and np.allclose(uniform["ll"], 0)
    centre = CentreBiasDensity().fit(walk)
    same = score_hsp(centre, walk, np.exp(centre.scene_log_density(scene)))
    assert np.allclose(same["ig"], 0)
    gold = GoldStandard().fit(walk)
    alone = gold.scene_log_density(scene, subject="0")
    assert np.exp(alone).sum() == pytest.approx(1)
    # leave-one-subject-out: a subject's own fixations do not raise the map at its unique cells
    mine = gold.scene_log_density(scene, subject="2")
    assert np.exp(mine).sum() == pytest.approx(1)


def test_found_within_and_paired_differences(walk):
    assert found_within([np.array([0, 1, 5]), np.array([0, 2])], [(5,), (5,)], 3).tolist() == [0, 0.5, 0.5]
    frames = [score_hsp(m.fit(walk), walk, np.ones((5, 6)), name).assign(seed=-1)
              for name, m in (("uniform", UniformDensity()), ("markov", SaccadeMarkov()))]
    per_fixation = pd.concat(frames)
    table = summarise_hsp(per_fixation, n_boot=100).set_index("model")
    assert table.loc["markov", "ll"] > table.loc["uniform", "ll"] == 0
    diff = paired_differences(per_fixation, model="markov", n_boot=100).set_index("metric")
    assert diff.loc["ll", "difference"] == pytest.approx(table.loc["markov", "ll"])


# ---------------------------------------------------------------- the loader
def _tiny_folder(root, n_images=3, subjects=2, size=(64, 96)):
    """A folder of the ViSioNS layout with random images (grid 24 x 32 of a 64 x 96 image: 2.67 x 3 px cells)."""
    rng = np.random.default_rng(0)
    h, w = size
    for sub in ("images", "templates", "human_scanpaths"):
        (root / sub).mkdir(parents=True)
    trials, per_subject = [], {f"{s + 1:02d}": {} for s in range(subjects)}
    for i in range(n_images):
        name = f"img{i}.jpg"
        Image.fromarray(rng.integers(0, 255, (h, w), dtype=np.uint8)).save(root / "images" / name)
        Image.fromarray(rng.integers(0, 255, (12, 12), dtype=np.uint8)).save(root / "templates" / f"t{i}.jpg")
        trials.append({"image": name, "target": f"t{i}.jpg", "target_matched_row": 20, "target_matched_column": 40,
                       "target_height": 12, "target_width": 12, "initial_fixation_row": 32,
                       "initial_fixation_column": 48, "target_object": "thing"})
        for subject in per_subject:
            xs = rng.uniform(0, w - 1, 4).tolist() + [45.0]
            ys = rng.uniform(0, h - 1, 4).tolist() + [25.0]
            per_subject[subject][name] = {"X": xs, "Y": ys, "T": [200] * 5, "target_bbox": [20, 40, 32, 52],
                                          "target_found": True, "max_fixations": 9}
    (root / "trials_properties.json").write_text(json.dumps(trials))
    (root / "dataset_info.json").write_text(json.dumps({"image_height": h, "image_width": w, "images_dir": "images/",
                                                         "targets_dir": "templates/",
                                                         "scanpaths_dir": "human_scanpaths/"}))
    for subject, entries in per_subject.items():
        (root / "human_scanpaths" / f"subj{subject}_scanpaths.json").write_text(json.dumps(entries))
    np.save(root / "center_bias_24x32.npy", np.ones((24, 32)))
    return root


def test_loader_reads_the_layout(tmp_path):
    data = load_interiors(_tiny_folder(tmp_path / "ok"))
    assert len(data.scanpaths) == 6 and data.centre_bias.shape == (24, 32)
    scene = data.scanpaths.scenes["img0.jpg"]
    assert scene.n_objects == 24 * 32 and len(scene.target_objects) > 1 and scene.target in scene.target_objects
    assert data.images()["img0.jpg"].shape == (64, 96, 3)


@pytest.mark.parametrize("breakage, message", [
    ("template", "trial 'img1.jpg': template file .*t1.jpg does not exist"),
    ("outside", "subj01_scanpaths.json: trial 'img0.jpg': fixation 0 at .* lies outside"),
    ("empty", "subj01_scanpaths.json: trial 'img0.jpg': empty scanpath"),
    ("unknown", "subj01_scanpaths.json: image 'nope.jpg' is not in .*trials_properties.json"),
])
def test_loader_errors_name_file_and_trial(tmp_path, breakage, message):
    root = _tiny_folder(tmp_path / breakage)
    subject_file = root / "human_scanpaths" / "subj01_scanpaths.json"
    entries = json.loads(subject_file.read_text())
    if breakage == "template":
        (root / "templates" / "t1.jpg").unlink()
    elif breakage == "outside":
        entries["img0.jpg"]["X"][0] = 500.0
    elif breakage == "empty":
        entries["img0.jpg"]["X"], entries["img0.jpg"]["Y"] = [], []
    else:
        entries["nope.jpg"] = entries["img0.jpg"]
    subject_file.write_text(json.dumps(entries))
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        load_interiors(root)


@pytest.mark.skipif(shared_dir() is None or not (shared_dir() / "data/eyetracking/interiors").is_dir(),
                    reason="no shared Interiors copy (../shared or $COGVISION_SHARED)")
def test_real_interiors_and_its_centre_bias_row():
    data = load_interiors()
    assert len(data.scanpaths.scenes) == 90 and data.scanpaths.fixations["subject"].nunique() == 57
    seqs = hsp_sequences(data.scanpaths)
    assert 5 < np.mean([len(s) for *_, s in seqs]) < 7
    ours = score_hsp(CentreBiasDensity(data.centre_bias).fit(data.scanpaths), data.scanpaths, data.centre_bias)
    _, overall = aggregate_hsp(ours)
    assert overall["ig"] == pytest.approx(0, abs=1e-12) and 0.6 < overall["auc"] < 0.7


def test_evaluate_interiors_command(tmp_path):
    root = _tiny_folder(tmp_path / "data", n_images=4, subjects=3)
    out = tmp_path / "out"
    args = ["scanpath", "evaluate", "interiors", "--train", str(root), "--out", str(out), "--seeds", "0",
            "--folds", "2",
            "--epochs", "1", "--d-model", "16", "--n-layers", "1", "--samples", "2", "--pe-iterations", "50",
            "--feature-model", "cogvision.models.builtin:tiny_cnn", "--feature-layers", "features.1,features.2",
            "--figures", "1", "--device", "cpu", "--feature-cache", str(tmp_path / "cache")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "hsp.csv")
    assert {"model", "auc", "nss", "ig", "ll"} <= set(table.columns)
    assert set(table["model"]) == {"oat", "uniform", "centre_bias", "markov", "markov_centre", "statistics_walker",
                                   "gold_standard"}
    for name in ("hsp_per_image.csv", "hsp_paired.csv", "cumulative_performance.csv", "behaviour.csv",
                 "cumulative_performance.png", "command.json"):
        assert (out / name).is_file(), name
    assert list(out.glob("maps_*.png")) and list(out.glob("scanpaths_*.png"))
    assert list((tmp_path / "cache").glob("*.npz"))  # features cached
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 2 and "exists and is not empty" in " ".join(again.output.split())
    bad = CliRunner().invoke(app, args[:-2] + ["--overwrite", "--epochs", "0"])
    assert bad.exit_code == 2 and "--epochs" in bad.output and (out / "hsp.csv").is_file()
    shutil.rmtree(root / "templates")
    missing = CliRunner().invoke(app, args + ["--overwrite", "--feature-cache", str(tmp_path / "other")])
    assert missing.exit_code == 2 and "template file" in " ".join(missing.output.split())
    assert (out / "hsp.csv").is_file()  # the earlier results survive a failed rerun


def test_prepared_sets_keep_trials(walk):
    again = prepared(walk)
    assert isinstance(again, ScanpathSet) and set(again.trials) == set(walk.trials)


def test_train_and_predict_interiors_layout(tmp_path):
    root = _tiny_folder(tmp_path / "data", n_images=4, subjects=2)
    features = ["--feature-model", "cogvision.models.builtin:tiny_cnn", "--feature-layers", "features.1",
                "--feature-cache", str(tmp_path / "cache")]
    trained = tmp_path / "model"
    result = CliRunner().invoke(app, ["scanpath", "train", "interiors", "--train", str(root), "--out", str(trained),
                                      "--epochs", "1", "--d-model", "16", "--n-layers", "1", "--pe-iterations", "50",
                                      "--device", "cpu", *features])
    assert result.exit_code == 0, result.output
    assert {"model.pt", "features.json", "split.json", "history.csv", "run.json"} <= {p.name for p in trained.iterdir()}
    pred = tmp_path / "pred"
    result = CliRunner().invoke(app, ["scanpath", "predict", str(trained), "--out", str(pred), "--data", str(root),
                                      "--samples", "2", "--figures", "1", "--device", "cpu",
                                      "--feature-cache", str(tmp_path / "cache")])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(pred / "predictions.csv")
    assert set(table["trial"]) == {f"img{i}.jpg" for i in range(4)} and set(table["sample"]) == {0, 1}


@pytest.mark.parametrize("flag, value", [("--epochs", "-1"), ("--d-model", "0"), ("--batch-size", "0")])
def test_train_refuses_bad_numbers_before_writing(tmp_path, flag, value):
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["scanpath", "train", "synthetic", "--out", str(out), flag, value])
    assert result.exit_code == 2 and flag in result.output and not out.exists()
