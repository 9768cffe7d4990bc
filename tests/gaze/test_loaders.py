"""Loaders: GazeFollow .mat and text formats, VideoAttentionTarget, head-box tracks, synthetic scenes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from data_loaders.gazefollow import gaze_array, group_annotators, read_gazefollow_mat, read_gazefollow_txt
from data_loaders.synthetic_gaze import make_gaze_scenes
from data_loaders.videoattentiontarget import (
    normalise,
    read_head_boxes,
    read_vat_annotations,
    read_vat_csv,
    smooth_boxes,
)

TRAIN_LINES = """train/0/a.jpg,0,0.1,0.2,0.3,0.4,0.5,0.25,0.7,0.8,40,10,60,30,1,coco,m
train/0/a.jpg,1,0.1,0.2,0.3,0.4,0.2,0.3,-1,-1,10,20,30,50,0,coco,m
train/0/b.jpg,0,0.1,0.2,0.3,0.4,0.5,0.5,0.1,0.1,5,5,15,15,-1,coco,m
"""
TEST_LINES = """test2/0/c.jpg,0,0.1,0.2,0.3,0.4,0.5,0.25,0.7,0.8,40,10,60,30,coco,m
test2/0/c.jpg,0,0.1,0.2,0.3,0.4,0.5,0.25,0.6,0.7,40,10,60,30,coco,m
test2/0/c.jpg,1,0.1,0.2,0.3,0.4,0.2,0.3,0.1,0.2,10,20,30,50,coco,m
"""


def _image(path, size=(100, 50)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size).save(path)


def test_gazefollow_mat_real_test2(shared):
    table = read_gazefollow_mat(shared / "data/gaze_following/gazefollow_test2/test2_annotations.mat")
    assert len(table) == 4782 and table["n_annotators"].sum() == 44191
    assert table["n_annotators"].between(6, 19).all()
    row = table.iloc[2]
    assert row["path"] == "test2/00000000/00000003.jpg" and row["source"] == "coco_val"
    assert row["eye_x"] == pytest.approx(0.519031, abs=1e-6) and row["gaze"].shape == (10, 2)
    # agrees with the flattened CSV shipped beside it
    long = pd.read_csv(shared / "data/gaze_following/gazefollow_test2/test2_annotations_long.csv.gz")
    first = long[long["instance"] == 0][["gaze_x", "gaze_y"]].to_numpy()
    np.testing.assert_allclose(table["gaze"].iloc[0], first, atol=1e-6)
    padded = gaze_array(table, k=20)
    assert padded.shape == (4782, 20, 2) and (padded[0, 10:] == -1).all()


def test_gazefollow_txt_train_format(tmp_path):
    path = tmp_path / "train.txt"
    path.write_text(TRAIN_LINES)
    table = read_gazefollow_txt(path)
    assert len(table) == 2 and table.attrs["dropped_invalid"] == 1
    assert table["inout"].tolist() == [1, 0]
    assert table.loc[1, ["gaze_x", "gaze_y"]].tolist() == [-1, -1]
    _image(tmp_path / "img/train/0/a.jpg", (200, 100))
    table = read_gazefollow_txt(path, normalise_boxes=True, image_root=tmp_path / "img")
    assert table.loc[0, ["x1", "y1", "x2", "y2"]].tolist() == pytest.approx([0.2, 0.1, 0.3, 0.3])


def test_gazefollow_txt_test_format_groups_annotators(tmp_path):
    path = tmp_path / "test.txt"
    path.write_text(TEST_LINES)
    people = group_annotators(read_gazefollow_txt(path))
    assert len(people) == 2 and people["n_annotators"].tolist() == [2, 1]
    np.testing.assert_allclose(people["gaze"].iloc[0], [[0.7, 0.8], [0.6, 0.7]])


def test_gazefollow_errors(tmp_path):
    path = tmp_path / "train.txt"
    path.write_text(TRAIN_LINES)
    with pytest.raises(FileNotFoundError, match="a.jpg"):
        read_gazefollow_txt(path, normalise_boxes=True, image_root=tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_gazefollow_txt(tmp_path / "absent.txt")
    (tmp_path / "bad.txt").write_text("a,1,2\n")
    with pytest.raises(ValueError, match="17 \\(train\\) or 16"):
        read_gazefollow_txt(tmp_path / "bad.txt")


def test_vat_per_clip_files_and_csv(tmp_path):
    clip = tmp_path / "ann" / "Show A" / "1000_1010"
    clip.mkdir(parents=True)
    (clip / "s00.txt").write_text("00001.jpg,10,10,30,30,80,40\n00002.jpg,12,10,32,30,-1,-1\n")
    (clip / "s01.txt").write_text("00001.jpg,50,5,70,25,-0.5,20\n")
    table = read_vat_annotations(tmp_path / "ann")
    assert table["person"].tolist() == ["s00", "s00", "s01"]
    assert table["path"].iloc[0] == "Show A/1000_1010/00001.jpg"
    assert table["inout"].tolist() == [1, 0, 1]
    assert table["gaze_x"].iloc[2] == 0  # slightly negative in-frame coordinate clipped, as Chong does
    csv = tmp_path / "flat.csv"
    csv.write_text("frame path,xmin,ymin,xmax,ymax,gaze_x,gaze_y\nS/c/1.jpg,1,2,3,4,-1,-1\nS/c/2.jpg,1,2,3,4,5,6\n")
    flat = read_vat_csv(csv)
    assert flat["inout"].tolist() == [0, 1] and list(flat.columns[:3]) == ["path", "x1", "y1"]
    csv.write_text("S/c/1.jpg,1,2,3,4,-1,-1\n")
    assert len(read_vat_csv(csv)) == 1
    for frame in ("00001.jpg", "00002.jpg"):
        _image(tmp_path / "img" / "Show A" / "1000_1010" / frame, (100, 50))
    norm = normalise(table, tmp_path / "img")
    assert norm.loc[0, ["x1", "y1", "gaze_x", "gaze_y"]].tolist() == pytest.approx([0.1, 0.2, 0.8, 0.8])
    assert norm.loc[1, "gaze_x"] == -1
    with pytest.raises(FileNotFoundError, match="00001.jpg"):
        normalise(table, tmp_path / "empty")


def test_smoothing_is_a_padded_moving_average():
    track = pd.DataFrame({"person": ["a"] * 5 + ["b"] * 2, "x1": [0, 0, 10, 0, 0, 5, 5.0],
                          "y1": 0.0, "x2": 1.0, "y2": 1.0})
    out = smooth_boxes(track, window=3)
    assert out["x1"].tolist() == pytest.approx([0, 10 / 3, 10 / 3, 10 / 3, 0, 5, 5])
    with pytest.raises(ValueError, match="odd"):
        smooth_boxes(track, window=4)


def test_real_chong_head_boxes(shared):
    boxes = read_head_boxes(shared / "data/gaze_following/chong_demo_frames/person1.txt")
    assert len(boxes) == 101 and boxes.iloc[0].tolist() == ["00002575.jpg", 553, 71, 752, 275]


def test_head_box_errors(tmp_path):
    (tmp_path / "p.txt").write_text("f.jpg,10,10,10,20\n")
    with pytest.raises(ValueError, match="zero area"):
        read_head_boxes(tmp_path / "p.txt")
    with pytest.raises(FileNotFoundError):
        read_head_boxes(tmp_path / "none.txt")


def test_synthetic_scenes_have_exact_labels():
    scenes = make_gaze_scenes(30, image_size=64, n_people=(1, 2), n_objects=3, p_out=0.3, seed=3)
    again = make_gaze_scenes(30, image_size=64, n_people=(1, 2), n_objects=3, p_out=0.3, seed=3)
    assert scenes.images.equal(again.images) and scenes.people.equals(again.people)
    people, objects = scenes.people, scenes.objects
    assert scenes.images.shape == (30, 3, 64, 64) and 0 <= scenes.images.min() and scenes.images.max() <= 1
    assert set(people["inout"]) == {0, 1}
    for _, p in people.iterrows():
        directions = np.arctan2(objects[objects.scene == p.scene]["y"] - p.head_y,
                                objects[objects.scene == p.scene]["x"] - p.head_x).to_numpy()
        gaps = np.abs((directions - p.angle + np.pi) % (2 * np.pi) - np.pi)
        if p.inout:
            target = objects[(objects.scene == p.scene) & (objects.object == p.target)].iloc[0]
            assert (p.gaze_x, p.gaze_y) == (target.x, target.y)
            assert gaps[int(p.target)] < 1e-6 and np.delete(gaps, int(p.target)).min() > np.deg2rad(35)
        else:
            assert (p.gaze_x, p.gaze_y) == (-1, -1) and gaps.min() > np.deg2rad(35)
        # the face half of the head (dark pixels) lies on the gaze side
        image = scenes.images[int(p.scene)].permute(1, 2, 0).numpy()
        ys, xs = np.nonzero((np.abs(image - [0.30, 0.18, 0.10]).sum(-1) < 1e-6))
        near = np.hypot(xs + 0.5 - p.head_x * 64, ys + 0.5 - p.head_y * 64) <= (p.x2 - p.x1) * 32
        ys, xs = ys[near], xs[near]
        side = (xs + 0.5 - p.head_x * 64) * np.cos(p.angle) + (ys + 0.5 - p.head_y * 64) * np.sin(p.angle)
        assert np.median(side) > 0
    with pytest.raises(ValueError, match="n_people"):
        make_gaze_scenes(2, n_people=(2, 1))
