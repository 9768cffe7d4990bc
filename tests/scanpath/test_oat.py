"""OAT: positional code, network consistency (teacher forcing = step-by-step decoding), fit, decode, save."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from sklearn.base import clone

from cogvision.scanpath import OAT, RandomOrder, evaluate_predictions
from cogvision.scanpath.oat_batch import EOS, collate, scene_inputs
from cogvision.scanpath.oat_network import OATConfig, OATNetwork
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
    return collate([(scene_inputs(scene, vocab, "label"), seq)]), vocab, scene


def test_step_by_step_decoding_equals_teacher_forcing(data):
    torch.manual_seed(0)
    batch, vocab, scene = _batch(data)
    net = OATNetwork(OATConfig(len(vocab) + 1, 4, 32, 2, 2, 64, 0.0, 2, "sinusoidal")).eval()
    out = net.generate(batch, max_len=6)[0]
    n = int((out != EOS).sum())
    assert n >= 1
    forced = dataclasses.replace(batch, dec_in=torch.cat([torch.zeros(1, 1, dtype=torch.long), out[None, :n]], 1))
    logits = net(forced)[0]
    np.testing.assert_array_equal(logits.argmax(-1)[:n].numpy(), out[:n].numpy())
    assert torch.isinf(logits[0, EOS]) and logits[0, EOS] < 0  # cannot stop before the first fixation


def _plain_decode(net, batch, max_len, repeats=1, generator=None):
    """Reference decoding through the same cached layers: every row at every step up to ``max_len`` (finished
    ones ignored, none dropped); with ``generator``, every row draws at every step."""
    with torch.no_grad():
        tokens, memory, pad = (t.repeat_interleave(repeats, 0) for t in net.encode(batch))
        query_w, query_b = net.pointer_query()
        bos_pos = batch.bos_pos.repeat_interleave(repeats, 0)
        n, heads, d = len(tokens), net.config.n_heads, net.config.d_model
        caches = [memory.new_empty(2, n, heads, max_len, d // heads) for _ in net.decoder]
        out = torch.zeros(n, max_len, dtype=torch.long)
        done = torch.zeros(n, dtype=torch.bool)
        previous = torch.zeros(n, 1, dtype=torch.long)  # BOS
        for step in range(max_len):
            x = net.decoder_inputs(tokens, previous, bos_pos, start=step)
            for layer, cache in zip(net.decoder, caches):
                x = layer(x, memory, net.key_mask(pad), cache, step)
            logits = (memory @ (x[:, 0] @ query_w + query_b)[:, :, None])[..., 0]
            logits = logits.masked_fill(pad | ((torch.arange(pad.shape[1]) == EOS) & (step == 0)), float("-inf"))
            if generator is None:
                choice = logits.argmax(-1)
            else:
                choice = torch.multinomial(torch.softmax(logits, -1), 1, generator=generator)[:, 0]
            out[:, step] = choice.masked_fill(done, EOS)
            done |= out[:, step] == EOS
            previous = out[:, step:step + 1]
    return out


@pytest.fixture(scope="module")
def mixed_batch(fitted):
    """All scenes of the fitted model's data plus three smaller ones (padded in the batch)."""
    model, train, val = fitted
    smaller = make_synthetic_scanpaths(n_scenes=3, n_subjects=1, rows=2, cols=3, seed=5)
    scenes = [d.scenes[t] for d in (train, val, smaller) for t in d.trials]
    batch = collate([(item, None) for item in model._scene_items(scenes)])
    assert batch.obj_mask.sum(1).min() < batch.obj_mask.shape[1]
    return batch


def test_generate_equals_plain_decoding(fitted, mixed_batch):
    model, _, _ = fitted
    net, max_len = model.network_.eval(), model.max_len_
    greedy = net.generate(mixed_batch, max_len)
    assert len(set((greedy != EOS).sum(1).tolist())) > 3  # scanpaths end at different steps and leave the batch
    assert torch.equal(greedy, _plain_decode(net, mixed_batch, max_len))
    sampled = net.generate(mixed_batch, max_len, sample=True, generator=torch.Generator().manual_seed(3), repeats=3)
    assert torch.equal(sampled, _plain_decode(net, mixed_batch, max_len, 3, torch.Generator().manual_seed(3)))


def test_folded_decoding_step_equals_the_projected_one(fitted, mixed_batch):
    """A decoding step's cross-attention without projecting the encoder states, and the pointer as one query
    per row, give the projected attention's outputs and the pointer heads' log-probabilities."""
    model, _, _ = fitted
    net = model.network_.eval()
    torch.manual_seed(0)
    with torch.no_grad():
        tokens, memory, pad = net.encode(mixed_batch)
        keep = net.key_mask(pad)
        h = torch.randn(len(tokens), 1, net.config.d_model)
        layer = net.decoder[0]
        q = layer._proj(layer.cross_attn, h, slice(0, 1))[0]
        k, v = layer._proj(layer.cross_attn, memory, slice(1, 3))
        projected = layer._attend(layer.cross_attn, q, k, v, keep)
        heads = net.pointer_logits(h, net.pointer_keys(memory), pad[:, None])[:, 0]
        query_w, query_b = net.pointer_query()
        folded = (memory @ (h[:, 0] @ query_w + query_b)[:, :, None])[..., 0].masked_fill(pad, float("-inf"))
    torch.testing.assert_close(layer._cross_one(h, memory, keep), projected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(torch.log_softmax(folded, -1), torch.log_softmax(heads, -1), rtol=1e-5, atol=1e-5)


def test_greedy_choices_are_the_full_decoders_argmax(fitted, mixed_batch):
    """Re-running the whole decoder on each greedy prefix puts the chosen token on top (up to float rounding)."""
    model, _, _ = fitted
    net = model.network_.eval()
    greedy = net.generate(mixed_batch, model.max_len_)
    with torch.no_grad():
        logits = net(dataclasses.replace(mixed_batch, dec_in=torch.cat([torch.zeros_like(greedy[:, :1]),
                                                                         greedy[:, :-1]], 1)))
    decided = torch.cat([torch.ones_like(greedy[:, :1], dtype=torch.bool), greedy[:, :-1] != EOS], 1)
    gap = logits.max(-1).values - logits.gather(-1, greedy[..., None])[..., 0]
    assert gap[decided].max() < 1e-5


def test_log_likelihood_is_exact(fitted):
    model, _, val = fitted
    ll = model.log_likelihood(val)
    assert (ll["log_prob"] <= 0).all()
    trial, subject, seq = val.sequences()[0]
    mine = ll[(ll.trial == trial) & (ll.subject == subject)]
    assert len(mine) == len(seq) + 1 and mine["object"].iloc[-1] == -1
    # the same numbers from an independent forward pass
    batch = collate([(scene_inputs(val.scenes[trial], model.vocab_, "label"), seq)])
    logp = torch.log_softmax(model.network_(batch), -1)[0]
    expect = logp[torch.arange(len(seq) + 1), batch.dec_out[0, :len(seq) + 1]].detach().numpy()
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
    assert model.config_.appearance == "crop" and hasattr(model.network_, "crop_cnn")
    assert len(model.predict(data))


def test_errors(data):
    with pytest.raises(ValueError, match="not fitted"):
        OAT().predict(data)
    import pandas as pd

    from data_loaders.fixation_table import grid_scanpath_set

    table = pd.DataFrame({"subject": "1", "trial": "img", "fixation": [0, 1], "x": [1.0, 50], "y": [1.0, 50]})
    free = grid_scanpath_set(table, 100, 100, (2, 2))
    with pytest.raises(ValueError, match="trial 'img' has no search target"):
        OAT(**SMALL, epochs=1).fit(free)


def test_warmup_then_early_stopping_history(fitted):
    model, _, _ = fitted
    hist = model.history_
    assert hist["epoch"].tolist() == list(range(25))
    assert hist["val_metric"].iloc[:15].isna().all() and hist["val_metric"].iloc[15:].notna().all()
    assert 15 <= model.best_epoch_ < 25
    assert model.best_delta_ == pytest.approx(hist["val_metric"].min())


def test_stop_and_fixate_target_are_different_choices(fitted):
    """Only the target token carries is_target: its pointer logit (stop) differs from the target object's."""
    model, _, val = fitted
    net = model.network_.eval()
    scenes = [val.scenes[t] for t in val.trials]
    items = model._scene_items(scenes)
    assert all(item.obj_pos[:, 2].sum() == 0 and item.tgt_pos[2] == 1 for item in items)
    seqs = [np.array([0, 1]) for _ in items]
    batch = collate(list(zip(items, seqs)))
    with torch.no_grad():
        logits = net(batch)
    target_tokens = torch.tensor([s.target + 1 for s in scenes])
    gap = (logits[:, 1:, EOS] - logits[torch.arange(len(scenes)), 1:, target_tokens]).abs()
    assert gap.min() > 1e-3


def test_greedy_fixates_the_obvious_target():
    """Trained on searches that always go straight to the target, greedy decoding fixates it, then stops."""
    data = make_synthetic_scanpaths(n_scenes=12, n_subjects=3, rows=2, cols=3, seed=2)
    rows = []
    for trial, scene in data.scenes.items():
        for subject in range(3):
            rows.append({"subject": str(subject), "trial": trial, "fixation": 0, "x": scene.centres[scene.target, 0],
                         "y": scene.centres[scene.target, 1], "object": scene.target})
    import pandas as pd

    from cogvision.scanpath import ScanpathSet

    direct = ScanpathSet(pd.DataFrame(rows), data.scenes, "direct")
    model = OAT(**SMALL, epochs=40, batch_size=12, lr=3e-3, patience=None, seed=0).fit(direct)
    greedy = model.predict(direct)
    first = greedy[greedy["fixation"] == 0].set_index("trial")["object"]
    hits = np.mean([first.get(t, -1) == direct.scenes[t].target for t in direct.trials])
    assert hits >= 0.9


def test_estimator_clones_and_round_trips_params():
    model = OAT(d_model=16, relative_bias=True, scenes_per_batch=2, early_stopping="nll")
    again = clone(model)
    assert again.get_params() == model.get_params()


def test_log_density_sequences_match_log_likelihood(fitted):
    """The HSP densities are the teacher-forced pointer distribution without the stop choice, renormalised."""
    model, _, val = fitted
    trial, subject, seq = val.sequences()[0]
    scene = val.scenes[trial]
    dens = model.log_density_sequences(scene, [seq])[0]
    assert dens.shape == (len(seq) - 1, scene.n_objects)
    np.testing.assert_allclose(np.exp(dens).sum(1), 1.0, atol=1e-5)
    ll = model.log_likelihood(val)
    steps = ll[(ll.trial == trial) & (ll.subject == subject)]["log_prob"].to_numpy()
    batch = collate([(scene_inputs(scene, model.vocab_, "label"), seq)])
    with torch.no_grad():
        stop = torch.log_softmax(model.network_(batch), -1)[0, 1:len(seq), EOS].numpy()
    # log p(object) = log p_density(object) + log(1 - p(stop))
    np.testing.assert_allclose(dens[np.arange(len(seq) - 1), seq[1:]] + np.log1p(-np.exp(stop)), steps[1:len(seq)],
                               atol=1e-5)
    np.testing.assert_allclose(model.conditional_log_density(scene, seq[:2]), dens[1], atol=1e-5)
