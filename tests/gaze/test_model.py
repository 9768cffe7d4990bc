"""ViTGaze model: shapes, several people from one backbone pass, frozen backbone, sizes, checkpoints."""

from __future__ import annotations

import pytest
import torch

from cogvision.gaze.model import ViTGaze, build_vitgaze, is_vitgaze_checkpoint
from cogvision.gaze.train import layer_decay_groups
from cogvision.models.builtin import tiny_vit

BOXES = torch.tensor([[0.1, 0.1, 0.3, 0.3], [0.6, 0.5, 0.8, 0.7], [0.2, 0.6, 0.4, 0.9]])


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_vitgaze("cogvision.models.builtin:tiny_vit", device="cpu").eval()


def test_output_shapes_for_several_people(model):
    out = model(torch.rand(2, 3, 64, 48), BOXES, torch.tensor([0, 0, 1]))
    assert out.heatmap.shape == (3, 64, 48)
    assert out.inout_logit.shape == (3,)
    assert out.weights.shape == (3, 8, 6)
    torch.testing.assert_close(out.weights.sum((1, 2)), torch.ones(3))


def test_several_people_share_one_backbone_pass_and_match_single_person_runs(model):
    calls = []
    handle = model.backbone.patch_embed.register_forward_hook(lambda *a: calls.append(1))
    image = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        together = model(image, BOXES, torch.zeros(3, dtype=torch.long))
        assert len(calls) == 1
        for i in range(3):
            alone = model(image, BOXES[i:i + 1], torch.zeros(1, dtype=torch.long))
            torch.testing.assert_close(alone.heatmap[0], together.heatmap[i], rtol=1e-4, atol=1e-5)
            torch.testing.assert_close(alone.inout_logit[0], together.inout_logit[i], rtol=1e-4, atol=1e-5)
    handle.remove()


def test_boxes_and_images_are_validated(model):
    with pytest.raises(ValueError, match="zero area"):
        model(torch.rand(1, 3, 64, 64), torch.tensor([[0.3, 0.3, 0.3, 0.5]]))
    with pytest.raises(ValueError, match="outside the image"):
        model(torch.rand(1, 3, 64, 64), torch.tensor([[0.3, 0.3, 1.5, 0.5]]))
    with pytest.raises(ValueError, match="image_index"):
        model(torch.rand(1, 3, 64, 64), BOXES)
    with pytest.raises(ValueError, match="image_index"):
        model(torch.rand(1, 3, 64, 64), BOXES, torch.tensor([0, 1, 0]))


def test_non_vit_backbone_is_refused():
    with pytest.raises(ValueError, match="not a ViT"):
        build_vitgaze("cogvision.models.builtin:tiny_cnn", device="cpu")


def test_frozen_backbone_gets_no_gradients_but_the_head_does():
    torch.manual_seed(0)
    model = build_vitgaze("cogvision.models.builtin:tiny_vit", device="cpu", freeze_backbone=True).train()
    assert not model.backbone.training
    out = model(torch.rand(2, 3, 64, 64), BOXES[:2])
    (out.heatmap.mean() + out.inout_logit.sum()).backward()
    assert all(p.grad is None for p in model.backbone.parameters())
    assert model.guidance.stem.weight.grad is not None and model.decoder[1].weight.grad is not None
    assert model.inout[0].weight.grad is not None


def test_fine_tuned_backbone_gets_gradients_through_attention_maps():
    torch.manual_seed(0)
    model = build_vitgaze("cogvision.models.builtin:tiny_vit", device="cpu").train()
    out = model(torch.rand(2, 3, 64, 64), BOXES[:2])
    out.heatmap.mean().backward()
    # the first block's queries/keys only reach the heatmap through its attention map
    assert model.backbone.blocks[0].attn.qkv.weight.grad.abs().sum() > 0


def test_parameter_counts_match_the_paper_for_vit_small():
    backbone = tiny_vit(image_size=28, patch_size=14, embed_dim=384, depth=12, num_heads=6)
    model = ViTGaze(backbone)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert model.blocks == ["blocks.2", "blocks.5", "blocks.8", "blocks.11"]
    assert count(model.decoder) == 4757          # research note 1.5: heatmap decoder
    assert count(model.inout) == 148225          # in/out MLP 384 -> 384 -> 1
    assert count(model.guidance) == 4730 - 9     # PatchPAM without its auxiliary head-map conv


def test_layer_decay_groups():
    torch.manual_seed(0)
    model = build_vitgaze("cogvision.models.builtin:tiny_vit", device="cpu")
    groups = layer_decay_groups(model, lr=1.0, weight_decay=0.1, layer_decay=0.5)
    lr_of = {id(p): g["lr"] for g in groups for p in g["params"]}
    wd_of = {id(p): g["weight_decay"] for g in groups for p in g["params"]}
    bb = model.backbone
    assert lr_of[id(bb.patch_embed.proj.weight)] == pytest.approx(0.5 ** 5)
    assert lr_of[id(bb.blocks[0].attn.qkv.weight)] == pytest.approx(0.5 ** 4)
    assert lr_of[id(bb.blocks[3].mlp.fc1.weight)] == pytest.approx(0.5)
    assert lr_of[id(model.decoder[1].weight)] == 1.0
    assert wd_of[id(bb.blocks[0].attn.qkv.bias)] == 0.0 and wd_of[id(bb.pos_embed)] == 0.0
    assert wd_of[id(bb.blocks[0].attn.qkv.weight)] == 0.1
    assert sum(len(g["params"]) for g in groups) == sum(1 for _ in model.parameters())


@pytest.mark.parametrize("name", ["m.pt", "m.safetensors"])
def test_save_and_load_give_identical_predictions(tmp_path, name):
    torch.manual_seed(0)
    model = build_vitgaze("cogvision.models.builtin:tiny_vit", device="cpu", features="tokens", n_blocks=2)
    with torch.no_grad():  # move the BatchNorm running statistics away from their initial values
        model.train()(torch.rand(4, 3, 64, 64), BOXES[:2].repeat(2, 1))
    model.eval()
    path = model.save(tmp_path / name, extra={"note": "x"})
    assert is_vitgaze_checkpoint(path)
    again = ViTGaze.load(path, device="cpu")
    assert again.config == model.config and again.extra == {"note": "x"} and not again.training
    image = torch.rand(2, 3, 64, 48)
    with torch.no_grad():
        before, after = model(image, BOXES, torch.tensor([0, 1, 1])), again(image, BOXES, torch.tensor([0, 1, 1]))
    assert torch.equal(before.heatmap, after.heatmap) and torch.equal(before.inout_logit, after.inout_logit)


def test_bad_checkpoints_are_named(tmp_path, model):
    (tmp_path / "plain.pt").write_bytes(b"not a checkpoint")
    assert not is_vitgaze_checkpoint(tmp_path / "plain.pt")
    with pytest.raises(ValueError, match="plain.pt"):
        ViTGaze.load(tmp_path / "plain.pt")
    torch.save(model.state_dict(), tmp_path / "backbone.pt")
    with pytest.raises(ValueError, match="not a ViTGaze checkpoint"):
        ViTGaze.load(tmp_path / "backbone.pt")
    (tmp_path / "bad.safetensors").write_bytes(b"\x00" * 16)
    with pytest.raises(ValueError, match="bad.safetensors"):
        ViTGaze.load(tmp_path / "bad.safetensors")
    with pytest.raises(FileNotFoundError):
        ViTGaze.load(tmp_path / "missing.pt")
    with pytest.raises(ValueError, match="no config"):
        ViTGaze(model.backbone).save(tmp_path / "x.pt")
