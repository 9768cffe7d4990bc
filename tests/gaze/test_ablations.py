"""ViTGaze ablations: plain-token features, uniform guidance, the study's intervals and table."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from cogvision.gaze.ablations import TokenFeatures, uniform_weights
from cogvision.gaze.config import TrainConfig, train_config
from cogvision.gaze.model import ViTGaze, build_vitgaze
from cogvision.gaze.study import FULL, flat_share, markdown, seed_interval
from cogvision.jobs.gaze_study import score_synthetic_study, train_variants

SPEC = "cogvision.models.builtin:tiny_vit"
BOXES = torch.tensor([[0.1, 0.1, 0.3, 0.3], [0.6, 0.5, 0.8, 0.7]])


def test_uniform_weights_are_equal_on_the_head_patches():
    masks = torch.zeros(2, 3, 4, dtype=torch.bool)
    masks[0, 0, :3] = True
    masks[1, 2, 3] = True
    w = uniform_weights(masks).reshape(2, 3, 4)
    torch.testing.assert_close(w[0, 0, :3], torch.full((3,), 1 / 3))
    assert w[0].sum() == pytest.approx(1.0) and w[1, 2, 3] == 1.0 and w[1].sum() == 1.0


def test_uniform_guidance_model_has_no_guidance_parameters_and_equal_weights():
    torch.manual_seed(0)
    model = build_vitgaze(SPEC, device="cpu", guidance="uniform")
    assert model.guidance is None
    out = model(torch.rand(1, 3, 64, 64), BOXES, torch.tensor([0, 0]))
    for w in out.weights:
        on = w[w > 0]
        torch.testing.assert_close(on, torch.full_like(on, 1 / len(on)))


def test_token_features_match_a_loop_over_people():
    torch.manual_seed(0)
    module = TokenFeatures(dim=6, channels=[2, 3])
    tokens = [torch.randn(2, 4, 6), torch.randn(2, 4, 6)]
    weights = torch.tensor([[0.5, 0.5, 0, 0], [0, 0, 0, 1.0], [0.2, 0.3, 0.1, 0.4]])
    index = torch.tensor([0, 0, 1])
    out = module(tokens, weights, index, (2, 2))
    assert out.shape == (3, 5, 2, 2)
    for p in range(3):
        parts = []
        for scene, head, t in zip(module.scene, module.head, tokens):
            image = t[index[p]]
            pooled = (weights[p][:, None] * image).sum(0)
            parts.append(torch.stack([scene(image[n]) + head(pooled) for n in range(4)], dim=1))  # (c, N)
        torch.testing.assert_close(out[p].reshape(5, 4), torch.cat(parts), rtol=1e-5, atol=1e-6)


def test_token_model_uses_the_same_decoder_and_depends_on_the_head():
    torch.manual_seed(0)
    full = build_vitgaze(SPEC, device="cpu")
    tokens = build_vitgaze(SPEC, device="cpu", features="tokens")
    assert tokens.decoder[1].in_channels == full.decoder[1].in_channels
    with torch.no_grad():
        out = tokens(torch.rand(1, 3, 64, 64), BOXES, torch.tensor([0, 0]))
    assert out.heatmap.shape == (2, 64, 64)
    assert not torch.allclose(out.heatmap[0], out.heatmap[1])


def test_ablation_settings_survive_a_checkpoint(tmp_path):
    torch.manual_seed(0)
    model = build_vitgaze(SPEC, device="cpu", features="tokens", guidance="uniform")
    loaded = ViTGaze.load(model.save(tmp_path / "m.pt"), device="cpu")
    assert loaded.features == "tokens" and loaded.guidance is None
    image = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(loaded(image, BOXES[:1]).heatmap, model(image, BOXES[:1]).heatmap)


def test_bad_ablation_settings_name_the_field():
    with pytest.raises(ValueError, match="features must be one of"):
        build_vitgaze(SPEC, device="cpu", features="attention")
    with pytest.raises(ValueError, match="guidance: expected 'learned' or 'uniform'"):
        train_config({"guidance": "none"})


def test_flat_share_counts_constant_maps():
    maps = np.zeros((4, 3, 3))
    maps[1, 0, 0] = 1.0
    maps[2] = 5.0
    assert flat_share(maps) == 0.75


def test_seed_interval_is_the_student_t_interval():
    mean, low, high = seed_interval([1.0, 2.0, 3.0])
    half = stats.t.ppf(0.975, 2) * 1.0 / np.sqrt(3)  # sample sd of 1, 2, 3 is 1
    assert mean == 2.0 and low == pytest.approx(2 - half) and high == pytest.approx(2 + half)
    assert np.isnan(seed_interval([0.4])[1])


def test_study_table_has_paired_differences_and_baselines(tmp_path):
    torch.set_num_threads(1)
    base = TrainConfig(model="cogvision.gaze.backbones:gaze_vit", n_train=16, n_val=8, epochs=1, batch_size=8)
    variants = {FULL: {"features": "interaction", "guidance": "learned"},
                "plain tokens": {"features": "tokens", "guidance": "learned"}}
    paths = train_variants(base, [0, 1], tmp_path, variants=variants)
    assert len(paths) == 4 and all(p.is_file() for p in paths.values())
    runs, table = score_synthetic_study(paths, base, n_test=12, n_boot=50)
    assert set(runs.method) >= {FULL, "plain tokens", "object prior (no head direction)", "centre prior"}
    rows = table.set_index("method")
    assert rows.loc["plain tokens", "interval"].startswith("t over 2 seeds")
    assert runs.loc[runs.seed >= 0, "flat_maps"].between(0, 1).all()
    assert np.isnan(rows.loc[FULL, "d_auc"])  # no difference of the full model to itself
    by_seed = {m: runs[runs.method == m].set_index("seed")["auc"] for m in ("plain tokens", FULL)}
    paired = by_seed["plain tokens"] - by_seed[FULL]
    assert rows.loc["plain tokens", "d_auc"] == pytest.approx(paired.mean())
    objects = rows.loc["object prior (no head direction)"]
    assert objects["auc_low"] <= objects["auc"]
    text = markdown(table)
    assert "plain tokens" in text and "bootstrap over" in text


def test_zero_init_output_starts_with_zero_maps_and_still_learns():
    torch.manual_seed(0)
    model = build_vitgaze(SPEC, device="cpu", zero_init_output=True)
    out = model(torch.rand(2, 3, 64, 64), BOXES)
    assert torch.count_nonzero(out.heatmap) == 0
    out.heatmap.sum().backward()
    assert model.decoder[-1].weight.grad.abs().sum() > 0  # the output layer gets a gradient at once
