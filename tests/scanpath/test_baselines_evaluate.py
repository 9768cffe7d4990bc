"""Baselines, the evaluation protocol and human consistency."""

from __future__ import annotations

import numpy as np
import pytest

from cogvision.scanpath import CentreNearest, RandomOrder, SaliencyIOR, evaluate_predictions, human_consistency
from cogvision.scanpath.containers import predicted_sequences, prediction_frame
from data_loaders.synthetic_scanpaths import make_synthetic_scanpaths


@pytest.fixture(scope="module")
def data():
    return make_synthetic_scanpaths(n_scenes=12, n_subjects=3, rows=3, cols=5, seed=4)


@pytest.mark.parametrize("cls", [RandomOrder, CentreNearest, SaliencyIOR])
def test_baselines_stop_at_target_and_respect_lengths(cls, data):
    model = cls(seed=1).fit(data)
    for n_samples in (0, 6):
        pred = model.predict(data, n_samples=n_samples)
        seqs = predicted_sequences(pred)
        assert set(seqs) == set(data.trials)
        for trial, paths in seqs.items():
            assert len(paths) == max(n_samples, 1)
            target = data.scenes[trial].target
            for p in paths:
                hits = np.flatnonzero(p == target)
                assert len(hits) == 0 or hits[0] == len(p) - 1  # nothing after the target
                assert len(p) <= model.lengths_.max()
                assert (np.diff(p) != 0).all()  # no baseline refixates


def test_centre_nearest_starts_at_centre_and_saliency_follows_a_given_map(data):
    scene = data.scenes[data.trials[0]]
    first = CentreNearest().fit(data).predict([scene])["object"].iloc[0]
    centre = np.argmin(np.hypot(scene.centres[:, 0] - scene.width / 2, scene.centres[:, 1] - scene.height / 2))
    assert first == centre
    smap = np.zeros((int(scene.height), int(scene.width)))
    x0, y0, x1, y1 = scene.boxes[7].astype(int)
    smap[y0:y1, x0:x1] = 1.0
    pred = SaliencyIOR(maps={scene.trial: smap}).fit(data).predict([scene])
    assert pred["object"].iloc[0] == 7
    assert len(set(pred["object"])) == len(pred)  # inhibition of return


def test_evaluating_humans_against_themselves_is_perfect(data):
    trials, rows = [], []
    for trial, subject, seq in data.sequences():
        if subject == "0":
            trials.append(data.scenes[trial])
            rows.append(seq)
    one_subject = data.subset([s.trial for s in trials])
    own = one_subject.fixations[one_subject.fixations.subject == "0"]
    from cogvision.scanpath import ScanpathSet

    only = ScanpathSet(own, one_subject.scenes)
    scores = evaluate_predictions(prediction_frame(trials, rows, 1), only)
    assert scores["delta"] == pytest.approx(0.0)
    assert scores["sequence_score"] == pytest.approx(1.0) and scores["edit_distance"] == 0.0
    assert scores["mm_position"] == pytest.approx(1.0)


def test_human_consistency_and_errors(data):
    h = human_consistency(data)
    assert 0 < h["sequence_score"] < 1 and np.isfinite(h["delta"])
    with pytest.raises(ValueError, match="no human scanpaths"):
        pred = prediction_frame([data.scenes[data.trials[0]]], [np.array([0])], 1).assign(trial="nope")
        evaluate_predictions(pred, data)
    with pytest.raises(ValueError, match="not fitted"):
        RandomOrder().predict(data)
