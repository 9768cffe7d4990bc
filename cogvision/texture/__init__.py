"""Invertible multi-scale pyramid and pooled-statistics texture synthesis (shared by foveation and DiSRT).

>>> from cogvision.texture import SteerablePyramid, WindowedTexture, synthesize
"""

from cogvision.texture.pyramid import SteerablePyramid, max_scales
from cogvision.texture.synthesis import WindowedTexture, check_images, from_opponent, synthesize, to_opponent

__all__ = ["SteerablePyramid", "WindowedTexture", "check_images", "from_opponent", "max_scales", "synthesize",
           "to_opponent"]
