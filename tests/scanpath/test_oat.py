"""OAT: positional code, network consistency (teacher forcing = step-by-step decoding), fit, decode, save."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cogvision.scanpath import OAT, RandomOrder, evaluate_predictions
from cogvision.scanpath.oat import EOS, OATConfig, OATNetwork, _collate, _scene_tensors
from cogvision.scanpath.positional import cosine_similarity, gaussian_table, sinusoidal_table
from data_loaders.synthetic_scanpaths import make_synthetic_scanpaths

SMALL = dict(d_model=32, n_heads=2, n_layers=1, ffn=64, pe_iterations=1500, device="cpu")


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("COGVISION_CACHE", str(tmp_path))


@pytest.fixture(scope="module")
def data():
    return make_synthetic_scanpaths(n_scenes=24, n_subjects=3, rows=3, cols=4, seed=0)


@pytest.fixture(scope="module")
def fitted(data):
    train, val = data.split((0.75, 0.25), seed=0)
    model = OAT(**SMALL, epochs=25, warmup_epochs=15, batch_size=8, lr=3e-3, patience=None, seed=0).fit(train, val)
    return model, train, val


def test_learned_positional_table_is_gaussian_in_distance():
    table = gaussian_table(9, 20, sigma=2.0, iterations=1500, cache=False)
    d = np.arange(9)
    goal = np.exp(-(d[:, None] - d[None, :]) ** 2 / 8)
    assert np.abs(cosine_similarity(table) - goal).max() < 0.05
    norms = np.linalg.norm(table, axis=1)
    assert norms.std() / norms.mean() < 0.02
    assert sinusoidal_table(5, 8).shape == (5, 8)


def test_positional_table_is_cached_on_disk(tmp_path):
    first = gaussian_table(5, 6, iterations=50, seed=3)
    assert list(tmp_path.rglob("*.npy"))
    gaussian_table.cache_clear()
    np.testing.assert_array_equal(gaussian_table(5, 6, iterations=50, seed=3), first)


def _batch(data, net_vocab=None):
    scene = data.scenes[data.trials[0]]
    vocab = net_vocab or {lab: i + 1 for i, lab in enumerate(sorted(set(scene.labels) | {scene.target_label}))}
    seq = np.array([2, 5, 5, 1])
    return _collate([(_scene_tensors(scene, vocab, False), seq)]), vocab, scene


def test_step_by_step_decoding_equals_teacher_forcing(data):
    torch.manual_seed(0)
    batch, vocab, scene = _batch(data)
    net = OATNetwork(OATConfig(len(vocab) + 1, 4, 32, 2, 2, 64, 0.0, 2, "sinusoidal")).eval()
    out = net.generate(batch, max_len=6)[0]
    n = int((out != EOS).sum())
    assert n >= 1
    forced = dict(batch, dec_in=torch.cat([torch.zeros(1, 1, dtype=torch.long), out[None, :n]], 1))
    logits = net(forced)[0]
    np.testing.assert_array_equal(logits.argmax(-1)[:n].numpy(), out[:n].numpy())
    assert torch.isinf(logits[0, EOS]) and logits[0, EOS] < 0  # cannot stop before the first fixation


def test_log_likelihood_is_exact(fitted):
    model, _, val = fitted
    ll = model.log_likelihood(val)
    assert (ll["log_prob"] <= 0).all()
    trial, subject, seq = val.sequences()[0]
    mine = ll[(ll.trial == trial) & (ll.subject == subject)]
    assert len(mine) == len(seq) + 1 and mine["object"].iloc[-1] == -1
    # the same numbers from an independent forward pass
    batch = _collate([(_scene_tensors(val.scenes[trial], model.vocab_, False), seq)])
    logp = torch.log_softmax(model.network_(batch), -1)[0]
    expect = logp[torch.arange(len(seq) + 1), batch["dec_out"][0, :len(seq) + 1]].detach().numpy()
    np.testing.assert_allclose(mine["log_prob"], expect, rtol=1e-5, atol=1e-6)


def test_fit_learns_the_search_process(fitted, data):
    model, train, val = fitted
    hist = model.history_
    assert hist["train_loss"].iloc[-1] < 0.8 * hist["train_loss"].iloc[0]
    n_tokens = np.mean([s.n_objects + 1 for s in val.scenes.values()])
    assert model.score(val) > np.log(1 / n_tokens) + 0.2  # clearly better than uniform pointing
    oat = evaluate_predictions(model.predict(val, n_samples=10), val)
    rnd = evaluate_predictions(RandomOrder(seed=0).fit(train).predict(val, n_samples=10), val)
    assert oat["sequence_score"] > rnd["sequence_score"]


def test_sampling_is_seeded_and_greedy_deterministic(fitted):
    model, _, val = fitted
    a, b = model.predict(val, n_samples=4), model.predict(val, n_samples=4)
    assert a.equals(b)
    assert set(a["sample"]) == {0, 1, 2, 3}
    g = model.predict(val)
    assert g.equals(model.predict(val)) and set(g["sample"]) == {0}
    assert (g.groupby("trial").size() <= model.max_len_).all()


def test_save_load_round_trip(fitted, tmp_path):
    model, _, val = fitted
    model.save(tmp_path / "oat.pt")
    again = OAT.load(tmp_path / "oat.pt", device="cpu")
    assert again.predict(val).equals(model.predict(val))
    with pytest.raises(FileNotFoundError):
        OAT.load(tmp_path / "none.pt")


def test_crop_cnn_when_scenes_have_images():
    data = make_synthetic_scanpaths(n_scenes=4, n_subjects=2, rows=2, cols=3, cell_px=40, seed=1, with_images=True)
    model = OAT(**SMALL, epochs=1, batch_size=4, seed=0).fit(data)
    assert model.images_ and hasattr(model.network_, "crop_cnn")
    assert len(model.predict(data))


def test_errors(data):
    with pytest.raises(ValueError, match="not fitted"):
        OAT().predict(data)
    from data_loaders.fixation_table import grid_scanpath_set
    import pandas as pd

    free = grid_scanpath_set(pd.DataFrame({"subject": "1", "trial": "img", "fixation": [0, 1], "x": [1.0, 50], "y": [1.0, 50]}),
                             100, 100, (2, 2))
    with pytest.raises(ValueError, match="trial 'img' has no search target"):
        OAT(**SMALL, epochs=1).fit(free)


def test_warmup_then_early_stopping_history(fitted):
    model, _, _ = fitted
    hist = model.history_
    assert hist["epoch"].tolist() == list(range(25))
    assert hist["val_metric"].iloc[:15].isna().all() and hist["val_metric"].iloc[15:].notna().all()
    assert 15 <= model.best_epoch_ < 25
    assert model.best_delta_ == pytest.approx(hist["val_metric"].min())
