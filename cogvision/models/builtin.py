"""Small built-in networks for tests, the demo and quick checks (random init, no download).

Load them with ``load_model("builtin:tiny_vit")`` and the like (the older spelling
``cogvision.models.builtin:tiny_vit`` names the same constructors). Pretrained weights are never
looked up here: pass a weights file to :func:`cogvision.models.load_model` (e.g.
``load_model("torchvision:mobilenet_v2", weights=path)``).
"""

from __future__ import annotations

from timm.models.vision_transformer import VisionTransformer
from torch import nn

from cogvision.models.preprocess import Preprocessing, set_preprocessing
from cogvision.models.registry import register_model


@register_model
def tiny_cnn(num_classes: int = 10, width: int = 16, image_size: int = 64) -> nn.Module:
    """A four-stage conv net: ``features.0`` .. ``features.3`` then global pooling and a linear head."""
    layers = []
    channels = 3
    for i in range(4):
        out = width * 2**i
        layers.append(nn.Sequential(nn.Conv2d(channels, out, 3, stride=2 if i else 1, padding=1),
                                    nn.BatchNorm2d(out), nn.ReLU()))
        channels = out
    model = nn.Sequential()
    model.add_module("features", nn.Sequential(*layers))
    model.add_module("pool", nn.AdaptiveAvgPool2d(1))
    model.add_module("flatten", nn.Flatten())
    model.add_module("head", nn.Linear(channels, num_classes))
    return set_preprocessing(model, Preprocessing(crop=image_size, resize=image_size, source="builtin"))


@register_model
def tiny_vit(
    image_size: int = 64, patch_size: int = 8, embed_dim: int = 64, depth: int = 4, num_heads: int = 4,
    reg_tokens: int = 0, num_classes: int = 10,
) -> nn.Module:
    """A small timm VisionTransformer (dynamic image size) for CPU tests and demos."""
    model = VisionTransformer(img_size=image_size, patch_size=patch_size, embed_dim=embed_dim, depth=depth,
                              num_heads=num_heads, reg_tokens=reg_tokens, num_classes=num_classes,
                              dynamic_img_size=True)
    return set_preprocessing(model, Preprocessing(crop=image_size, resize=image_size, mean=(0.5,) * 3,
                                                  std=(0.5,) * 3, source="builtin"))


@register_model
def permutation_invariant(channels: int = 32) -> nn.Module:
    """A 1x1 conv then a global average: blind to where things are (a control model)."""
    model = nn.Sequential()
    model.add_module("conv", nn.Conv2d(3, channels, 1))
    model.add_module("relu", nn.ReLU())
    model.add_module("pool", nn.AdaptiveAvgPool2d(1))
    model.add_module("flatten", nn.Flatten())
    return model
