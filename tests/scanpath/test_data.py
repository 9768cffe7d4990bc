"""Containers, fixation-to-object mapping, unit conversion and the loaders."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from cogvision.scanpath import ScanpathSet, Scene, map_fixations, objects_by_box, objects_by_grid, objects_by_mask
from cogvision.scanpath.mapping import degrees_to_pixels, grid_boxes, pixels_per_degree, pixels_to_degrees
from data_loaders.synthetic_scanpaths import make_synthetic_scanpaths


def _scene(trial="t1", **kw):
    boxes, pos = grid_boxes(300, 200, 2, 3)
    args = dict(trial=trial, width=300, height=200, boxes=boxes, labels=["a"] * 6, grid_pos=pos, grid_shape=(2, 3),
                target=4, target_label="a", image_id=trial)
    args.update(kw)
    return Scene(**args)


def test_box_mapping_inside_overlap_nearest_and_background():
    boxes = np.array([[0, 0, 100, 100], [40, 40, 60, 60], [200, 0, 300, 100]], float)
    x = np.array([10, 50, 150, 170, 500])
    y = np.array([10, 50, 50, 50, 500])
    np.testing.assert_array_equal(objects_by_box(x, y, boxes, max_distance=40), [0, 1, -1, 2, -1])
    np.testing.assert_array_equal(objects_by_box(x, y, boxes), [0, 1, 0, 2, 2])


def test_grid_and_mask_mapping():
    np.testing.assert_array_equal(objects_by_grid([0, 299.9, 150, 300], [0, 199.9, 100, 250], 300, 200, 2, 3),
                                  [0, 5, 4, 5])
    mask = -np.ones((10, 10), int)
    mask[2:4, 2:4] = 7
    mask[7:9, 7:9] = 3
    np.testing.assert_array_equal(objects_by_mask([3, 4, 8, 0], [3, 3, 8, 0], mask, max_distance=2), [7, 7, 3, -1])


def test_map_fixations_fills_object_column():
    fix = pd.DataFrame({"subject": "1", "trial": "t1", "fixation": [0, 1], "x": [10.0, 250], "y": [10.0, 150]})
    out = map_fixations(fix, {"t1": _scene()})
    assert out["object"].tolist() == [0, 5]


def test_degrees_round_trip_and_known_value():
    ppd = pixels_per_degree(1920, 53.0, 60.0)
    assert 35 < ppd < 45
    px = np.array([-500.0, 0, 123, 960])
    np.testing.assert_allclose(degrees_to_pixels(pixels_to_degrees(px, 1920, 53.0, 60.0), 1920, 53.0, 60.0), px)
    # 1 cm at 57.29 cm subtends one degree
    assert pixels_to_degrees(100, 100, 1.0, 57.29) == pytest.approx(1.0, abs=1e-3)


def _fixations(**over):
    base = {"subject": ["1", "1", "2"], "trial": ["t1"] * 3, "fixation": [0, 1, 0], "x": [10.0, 20, 30],
            "y": [10.0, 20, 30], "object": [0, 0, 0]}
    base.update(over)
    return pd.DataFrame(base)


def test_scanpathset_errors_name_the_trial():
    scenes = {"t1": _scene()}
    with pytest.raises(ValueError, match="trial 't1', subject '1': NaN"):
        ScanpathSet(_fixations(x=[np.nan, 20, 30]), scenes)
    with pytest.raises(ValueError, match="trial 't1'.*outside"):
        ScanpathSet(_fixations(x=[10.0, 900, 30]), scenes)
    with pytest.raises(ValueError, match="trial 'zz'"):
        ScanpathSet(_fixations(trial=["zz"] * 3), scenes)
    with pytest.raises(ValueError, match="target index 9"):
        _scene(target=9)
    with pytest.raises(ValueError, match="lacks column"):
        ScanpathSet(_fixations().drop(columns="x"), scenes)
    assert len(ScanpathSet(_fixations(), scenes)) == 2


def test_split_by_image_never_leaks_and_filter_length():
    data = make_synthetic_scanpaths(n_scenes=30, n_subjects=3, seed=2)
    parts = data.split((0.6, 0.2, 0.2), seed=5)
    images = [{s.image_id for s in p.scenes.values()} for p in parts]
    assert sum(len(i) for i in images) == 30
    assert not (images[0] & images[1] or images[0] & images[2] or images[1] & images[2])
    assert sum(len(p) for p in parts) == len(data)
    lengths = data.fixations.groupby(["trial", "subject"]).size()
    kept = data.filter_length(1.0)
    assert len(kept) == int((np.abs(lengths - lengths.mean()) <= lengths.std(ddof=0)).sum())


def test_synthetic_is_seeded():
    a, b = make_synthetic_scanpaths(n_scenes=5, seed=1), make_synthetic_scanpaths(n_scenes=5, seed=1)
    pd.testing.assert_frame_equal(a.fixations, b.fixations)


# ------------------------------------------------------------------ real loaders


def test_amazon_loader(shared):
    from data_loaders.amazon_covers import load_amazon_covers

    data = load_amazon_covers()
    assert len(data) == 600 and len(data.scenes) == 100
    scene = data.scenes["1.jpg"]
    assert scene.n_objects == 84 and scene.grid_shape == (6, 14)
    assert scene.labels[scene.target] == scene.target_label == "target_0.jpg"
    kept = data.filter_length(3.0)
    assert len(kept) == 585
    assert kept.fixations.groupby(["trial", "subject"]).size().mean() == pytest.approx(12.89, abs=0.005)


def test_amazon_malformed(tmp_path):
    from data_loaders.amazon_covers import load_amazon_covers

    bad = tmp_path / "Amazon.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_amazon_covers(bad)
    bad.write_text(json.dumps({"7.jpg": {"fixations": {"1": [[1, 2]]}, "size": {"width": 10, "height": 10}}}))
    with pytest.raises(ValueError, match="'7.jpg' lacks field"):
        load_amazon_covers(bad)
    with pytest.raises(FileNotFoundError):
        load_amazon_covers(tmp_path / "missing.json")


def test_coco_search18_excerpt(shared):
    from data_loaders.coco_search18 import load_coco_search18

    data = load_coco_search18()
    assert len(data) == 60 and len(data.scenes) == 6
    tv = data.scenes["tv/000000352286.jpg"]
    assert tv.labels == ("sofa", "tv", "cup") and tv.target == 1
    assert data.fixations["duration"].notna().all()


def test_coco_search18_full_format_and_errors(shared, tmp_path):
    from data_loaders.coco_search18 import load_coco_search18

    root = shared / "data" / "eyetracking" / "coco_search18_excerpt"
    trials = json.loads((root / "coco_search18_fixations_TP_excerpt.json").read_text())
    big = [dict(t, name=f"{i:012d}.jpg") for i in range(40) for t in trials]  # 2,400 trials, 240 images
    path = tmp_path / "coco_search18_fixations_TP_train_split1.json"
    path.write_text(json.dumps(big))
    data = load_coco_search18(path, root / "yolov3_detections")
    assert len(data) == 2400 and len(data.scenes) == 240
    broken = [dict(trials[0], X=[1.0, float("nan")], Y=[1.0, 2.0], T=[100, 100])]
    path.write_text(json.dumps(broken).replace("NaN", "NaN"))
    with pytest.raises(ValueError, match="trial 'chair/000000008676.jpg', subject 1: NaN"):
        load_coco_search18(path, root / "yolov3_detections")
    path.write_text(json.dumps([{"name": "x.jpg"}]))
    with pytest.raises(ValueError, match="trial 0 lacks"):
        load_coco_search18(path, root / "yolov3_detections")
    det = tmp_path / "det"
    det.mkdir()
    (det / "cup.csv").write_text('a.jpg,"[[\'cup\', 90.0, 10, 0]]"\n')
    with pytest.raises(ValueError, match="cup.csv:1: malformed"):
        load_coco_search18(root / "coco_search18_fixations_TP_excerpt.json", det)


def test_osie_loader(shared):
    from data_loaders.osie import load_osie

    data = load_osie(n_images=3)
    assert len(data.scenes) == 3 and len(data) == 45
    assert (data.fixations["duration"] > 0).all()


def test_fixation_table_reads_bids_like_events(shared, tmp_path):
    from data_loaders.fixation_table import grid_scanpath_set, read_fixation_table

    events = (shared / "data" / "eyetracking" / "multimatch_testdata" / "remodnav_samples"
              / "sub-01_task-movie_run-1_events.tsv")
    table = read_fixation_table(events, {"x": "start_x", "y": "start_y"}, where={"label": "FIXA"}, duration_unit="s",
                                subject="01")
    raw = pd.read_csv(events, sep="\t")
    fixa = raw[raw["label"] == "FIXA"]
    assert len(table) == len(fixa) and list(table.columns) == ["subject", "trial", "fixation", "x", "y", "duration"]
    np.testing.assert_allclose(table["duration"], fixa["duration"] * 1000)
    data = grid_scanpath_set(table, 1280, 720, (4, 6), allow_outside=True)
    assert len(data) == 1
    csv = tmp_path / "f.csv"
    csv.write_text("gx,gy\n1,2\n")
    with pytest.raises(ValueError, match="no column for 'x'"):
        read_fixation_table(csv)
