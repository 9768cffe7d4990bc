import numpy as np
import pytest
import torch

from cogvision.models import (
    AttentionRecorder,
    default_layers,
    explicit_attention,
    extract_attention,
    extract_features,
    list_layers,
    load_model,
    token_layout,
    validate_model,
)


@pytest.fixture(scope="module")
def vit():
    return load_model("builtin:tiny_vit", device="cpu", reg_tokens=2)


@pytest.fixture(scope="module")
def cnn():
    return load_model("cogvision.models.builtin:tiny_cnn", device="cpu")


def test_features_are_labelled_xarray_with_the_documented_dims(cnn):
    images = torch.rand(3, 3, 70, 90)  # unequal sides: resize + crop to 64
    feats = extract_features(cnn, images, ["head", "features.1"], stimulus_ids=["a", "b", "c"])
    assert list(feats) == ["head", "features.1"]  # the order asked for
    conv, head = feats["features.1"], feats["head"]
    assert conv.dims == ("stimulus", "channel", "y", "x") and conv.shape == (3, 32, 32, 32)
    assert head.dims == ("stimulus", "channel") and head.shape == (3, 10)
    assert (conv.name, conv.attrs["layer"], head.name, head.attrs["layer"]) == ("features.1",) * 2 + ("head",) * 2
    assert list(conv.stimulus.values) == ["a", "b", "c"]
    assert conv.attrs["model"] == "cogvision.models.builtin:tiny_cnn" and conv.attrs["preprocessed"] == 1
    assert "crop=64" in conv.attrs["preprocessing"]


def test_conv_features_are_the_layer_output_unpermuted(cnn):
    images = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        expected = cnn.features[:3](cnn.cogvision_preprocessing(images))  # (B, C, H, W) of features.2
    got = extract_features(cnn, images, ["features.2"])["features.2"]
    assert got.shape == tuple(expected.shape)
    np.testing.assert_allclose(got.transpose("stimulus", "channel", "y", "x").values, expected.numpy(), atol=1e-6)


def test_batching_does_not_change_features(cnn):
    images = torch.rand(5, 3, 64, 64)
    a = extract_features(cnn, images, ["features.2"], batch_size=2)
    b = extract_features(cnn, images, ["features.2"], batch_size=5)
    np.testing.assert_allclose(a["features.2"].values, b["features.2"].values, atol=1e-5)


def test_token_features_label_cls_and_registers(vit):
    tokens = extract_features(vit, torch.rand(2, 3, 64, 64), ["blocks.1"])["blocks.1"]
    kinds = list(tokens["token_kind"].values)
    assert kinds[:3] == ["cls", "reg0", "reg1"] and kinds[3:] == ["patch"] * 64
    assert tokens.dims == ("stimulus", "token", "channel") and tokens.shape == (2, 67, 64)
    assert tokens["token_kind"].dims == ("token",)


def test_unknown_layer_lists_close_matches(cnn):
    with pytest.raises(ValueError, match="features.1"):
        extract_features(cnn, torch.rand(1, 3, 64, 64), ["features.l"])


def test_default_layers_spread(vit, cnn):
    assert default_layers(vit) == ["blocks.0", "blocks.1", "blocks.2", "blocks.3"]
    twelve = load_model("timm:vit_tiny_patch16_224", device="cpu", img_size=32)
    assert default_layers(twelve) == ["blocks.2", "blocks.5", "blocks.8", "blocks.11"]
    assert default_layers(cnn) == ["features.0", "features.1", "features.2", "features.3"]
    resnet = load_model("torchvision:resnet18", device="cpu")
    assert default_layers(resnet) == ["layer1", "layer2", "layer3", "layer4"]
    assert "features.0.0" in list_layers(cnn)


def test_explicit_attention_reproduces_the_block(vit):
    attn = vit.blocks[2].attn
    tokens = torch.randn(2, 67, 64)
    maps = explicit_attention(attn, tokens)
    assert maps.shape == (2, 4, 67, 67)
    torch.testing.assert_close(maps.sum(-1), torch.ones(2, 4, 67))
    b, n, _ = tokens.shape
    v = attn.qkv(tokens).reshape(b, n, 3, attn.num_heads, -1).permute(2, 0, 3, 1, 4)[2]
    rebuilt = attn.proj((maps @ v).transpose(1, 2).reshape(b, n, -1))
    torch.testing.assert_close(rebuilt, attn(tokens), atol=1e-5, rtol=1e-5)
    assert attn.fused_attn  # the block itself never materialises the maps


def test_recorder_sees_the_forward_pass(vit):
    x = torch.rand(1, 3, 64, 64)
    with AttentionRecorder(vit, ["blocks.0", "blocks.3"]) as rec:
        vit(vit.cogvision_preprocessing.normalize(x))
    assert set(rec.maps) == {"blocks.0", "blocks.3"}
    ds = extract_attention(vit, x, ["blocks.3"])
    np.testing.assert_allclose(ds["blocks.3"].values[0], rec.maps["blocks.3"][0].detach().numpy(), atol=1e-6)
    assert list(ds.key_token_kind.values[:3]) == ["cls", "reg0", "reg1"]
    assert ds.query_token_y.values[-1] == 7 and ds.query_token_x.values[3] == 0


def test_attention_errors(vit, cnn):
    with pytest.raises(ValueError, match="available"):
        AttentionRecorder(vit, ["blocks.9"])
    with pytest.raises(ValueError, match="ViT"):
        AttentionRecorder(cnn)
    with pytest.raises(ValueError, match="not a ViT"):
        token_layout(cnn, (64, 64))


def test_token_layout_any_patch_and_size():
    model = load_model("cogvision.models.builtin:tiny_vit", device="cpu", patch_size=16, image_size=96)
    layout = token_layout(model, (96, 128))
    assert layout.grid == (6, 8) and layout.n_prefix == 1 and layout.has_cls
    ds = extract_attention(model, torch.rand(1, 3, 96, 128), ["blocks.0"], preprocess=False)
    assert ds["blocks.0"].shape == (1, 4, 49, 49)


def test_validate_model_says_why():
    good = validate_model(load_model("cogvision.models.builtin:tiny_cnn", device="cpu"), 64)
    assert good.ok and good.default_layers
    bad = validate_model(torch.nn.Linear(3, 2), 32)
    assert not bad.ok and "forward pass" in " ".join(bad.problems)
    assert not validate_model("not a model", 32).ok
