"""NeuroFovea's faithful feature space: the AdaIN VGG-19 encoder (to relu4_1) and its mirror decoder.

The layouts follow the AdaIN style-transfer networks (Huang & Belongie 2017) that NeuroFovea loads:
``vgg_normalised.pth`` is a ``Sequential`` whose first 31 modules (a 1x1 colour convolution, then
reflection-padded 3x3 convolutions, ReLUs and ceil-mode max-pools) end at relu4_1, 512 channels at
1/8 of the input size; the decoder is the mirror image with nearest-neighbour upsampling. Weights are
never downloaded: pass local files (safetensors or a weights-only torch state dict, keys ``"0.weight"``
and so on as in those files; the encoder file may hold the full 53-module VGG, only relu4_1's part is used).

>>> import torch
>>> enc, dec = vgg19_relu4_1_encoder(), adain_decoder()
>>> feats = enc(torch.rand(1, 3, 32, 32))
>>> tuple(feats.shape), tuple(dec(feats).shape)
((1, 512, 4, 4), (1, 3, 32, 32))
"""

from __future__ import annotations

import os

from torch import nn

from cogvision.models import apply_state_dict, read_state_dict

# (in, out) channels of the 3x3 convolutions up to relu4_1; "M" is a max-pool.
_ENCODER = [(3, 64), (64, 64), "M", (64, 128), (128, 128), "M", (128, 256), (256, 256), (256, 256), (256, 256),
            "M", (256, 512)]
# decoder: 3x3 convolutions from relu4_1 back to RGB; "U" is a 2x nearest upsampling.
_DECODER = [(512, 256), "U", (256, 256), (256, 256), (256, 256), (256, 128), "U", (128, 128), (128, 64), "U",
            (64, 64), (64, 3)]
ENCODER_MODULES = 31


def _conv(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.ReflectionPad2d(1), nn.Conv2d(c_in, c_out, 3)]


def vgg19_relu4_1_encoder() -> nn.Sequential:
    """The AdaIN ``vgg_normalised`` network truncated at relu4_1 (31 modules, random weights)."""
    layers: list[nn.Module] = [nn.Conv2d(3, 3, 1)]
    for item in _ENCODER:
        if item == "M":
            layers.append(nn.MaxPool2d(2, 2, ceil_mode=True))
        else:
            layers += _conv(*item) + [nn.ReLU()]
    return nn.Sequential(*layers)


def adain_decoder() -> nn.Sequential:
    """The AdaIN decoder from relu4_1 features to RGB (random weights; the last convolution has no ReLU)."""
    layers: list[nn.Module] = []
    for index, item in enumerate(_DECODER):
        if item == "U":
            layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
        else:
            layers += _conv(*item) + ([nn.ReLU()] if index < len(_DECODER) - 1 else [])
    return nn.Sequential(*layers)


def load_adain_pair(encoder_path: str | os.PathLike, decoder_path: str | os.PathLike) -> tuple[nn.Module, nn.Module]:
    """Build the encoder and decoder and load their weights from local files (eval mode, no gradients).

    Raises
    ------
    FileNotFoundError
        When a file is missing.
    ValueError
        When a file's keys or shapes do not match the layout (naming the file).
    """
    encoder, decoder = vgg19_relu4_1_encoder(), adain_decoder()
    state = read_state_dict(encoder_path)
    state = {k: v for k, v in state.items() if int(k.split(".")[0]) < ENCODER_MODULES} \
        if all(k.split(".")[0].isdigit() for k in state) else state
    apply_state_dict(encoder, state, f"AdaIN VGG-19 encoder ({encoder_path})")
    apply_state_dict(decoder, read_state_dict(decoder_path), f"AdaIN decoder ({decoder_path})")
    for module in (encoder, decoder):
        module.eval().requires_grad_(False)
    return encoder, decoder
