"""Sequence Score, edit distance, ScanMatch, behaviour statistics, SIM and NSS."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cogvision.scanpath.metrics import (
    behaviour_delta,
    behaviour_summary,
    edit_distance,
    nss,
    scanmatch,
    scanmatch_bins,
    scanpath_statistics,
    sequence_score,
    sim,
)

seqs = st.lists(st.integers(0, 5), min_size=0, max_size=12)


def _lcs(a, b):
    table = np.zeros((len(a) + 1, len(b) + 1), int)
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            table[i, j] = table[i - 1, j - 1] + 1 if a[i - 1] == b[j - 1] else max(table[i - 1, j], table[i, j - 1])
    return table[-1, -1]


def _levenshtein(a, b):
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


@settings(max_examples=60, deadline=None)
@given(seqs, seqs)
def test_sequence_score_and_edit_distance_match_textbook_definitions(a, b):
    pairs = [[0, 1], [1, 0]]
    ss = sequence_score([np.array(a, int), np.array(b, int)], pairs)
    ed = edit_distance([np.array(a, int), np.array(b, int)], pairs)
    if a or b:
        assert ss[0] == pytest.approx(_lcs(a, b) / max(len(a), len(b)))
        assert 0 <= ss[0] <= 1
    else:
        assert np.isnan(ss[0])
    assert ed[0] == _levenshtein(a, b)
    assert ss[0] == pytest.approx(ss[1], nan_ok=True) and ed[0] == ed[1]  # symmetric


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 5), min_size=1, max_size=12))
def test_identical_sequences_are_perfect(a):
    s = [np.array(a), np.array(a)]
    assert sequence_score(s)[0] == 1.0
    assert edit_distance(s)[0] == 0
    assert scanmatch(s)[0] == pytest.approx(1.0)


def test_batched_scores_match_single_pairs():
    rng = np.random.default_rng(0)
    many = [rng.integers(0, 6, n) for n in rng.integers(1, 20, 40)]
    all_pairs = sequence_score(many)
    i, j = np.triu_indices(40, 1)
    assert len(all_pairs) == len(i)
    for k in range(0, len(i), 97):
        assert all_pairs[k] == sequence_score([many[i[k]], many[j[k]]])[0]


def test_scanmatch_known_case_bounds_and_bins():
    # bins 0 and 1 are 1 bin apart: substitution score 3.5 - 1 = 2.5 of a perfect 3.5
    assert scanmatch([np.array([0]), np.array([1])], bins=(12, 8))[0] == pytest.approx(2.5 / 3.5)
    # far apart bins are better left unaligned (gap 0): score 0
    assert scanmatch([np.array([0]), np.array([95])], bins=(12, 8))[0] == 0.0
    rng = np.random.default_rng(1)
    strings = [rng.integers(0, 96, n) for n in rng.integers(1, 15, 25)]
    out = scanmatch(strings)
    assert np.all((out >= 0) & (out <= 1))
    xy = np.array([[10.0, 10], [1000, 700]])
    np.testing.assert_array_equal(scanmatch_bins(xy, None, (1024, 768)), [0, 7 * 12 + 11])
    np.testing.assert_array_equal(scanmatch_bins(xy, np.array([100.0, 260]), (1024, 768), temporal_bin=50),
                                  [0, 0] + [95] * 5)


def test_behaviour_statistics_toy_case():
    stats = scanpath_statistics(np.array([3, 3, 5, 3, 7]), target=7)
    assert stats == {"target_found": 1.0, "length": 5.0, "search_ratio": 3 / 5, "refixation_ratio": 1 / 5,
                     "revisit_ratio": 1 / 5}


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 6), min_size=1, max_size=30), st.integers(0, 6))
def test_ratios_partition_fixations(seq, target):
    s = scanpath_statistics(np.array(seq), target)
    assert s["search_ratio"] + s["refixation_ratio"] + s["revisit_ratio"] == pytest.approx(1.0)


def test_behaviour_delta():
    human = behaviour_summary([np.array([1, 2, 2, 1, 3])], [3])
    assert behaviour_delta(human, human) == 0.0
    model = human.copy()
    model["length"] *= 1.5
    assert behaviour_delta(model, human) == pytest.approx(0.5 / 5)


def test_amazon_golden_behaviour(shared):
    from data_loaders.amazon_covers import load_amazon_covers

    data = load_amazon_covers()
    seqs = data.sequences()
    stats = behaviour_summary([s for *_, s in seqs], [data.scenes[t].target for t, *_ in seqs])
    expected = pd.Series({"target_found": 0.84, "length": 14.47, "search_ratio": 0.780, "refixation_ratio": 0.170,
                          "revisit_ratio": 0.050})
    np.testing.assert_allclose(stats[expected.index], expected, atol=0.006)


def test_sim_and_nss_analytic():
    assert sim(np.array([1.0, 0, 0]), np.array([1.0, 0, 0])) == pytest.approx(1.0)
    assert sim(np.array([1.0, 0]), np.array([0.0, 1])) == 0.0
    assert sim(np.array([0.2, 0.8]), np.array([0.0, 1])) == pytest.approx(0.8)  # probability of the true object
    saliency = np.zeros((4, 5))
    saliency[1, 2] = 1.0
    z = (1 - 1 / 20) / np.std(saliency)
    assert nss(saliency, [1], [2]) == pytest.approx(z)
    assert np.isnan(nss(np.ones((3, 3)), [0], [0]))
    with pytest.raises(ValueError, match="one shape"):
        sim(np.ones(3), np.ones(4))
