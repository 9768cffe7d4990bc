"""Foveated front-ends (Deza & Konkle 2020): fixed first-stage transforms on (B, C, H, W) images.

>>> from cogvision.foveation import FoveatedTexture, FoveatedBlur, UniformBlur, Reference, pooling_windows
"""

from cogvision.foveation.geometry import (
    PoolingWindows, eccentricity_map, pixels_per_degree, pooling_windows, window_counts,
)
from cogvision.foveation.blur import FoveatedBlur, UniformBlur, gaussian_blur
from cogvision.foveation.matching import MatchResult, match_compression, ssim
from cogvision.foveation.texture import FoveatedSystem, FoveatedTexture, Reference

__all__ = ["FoveatedBlur", "FoveatedSystem", "FoveatedTexture", "MatchResult", "PoolingWindows", "Reference",
           "UniformBlur", "eccentricity_map", "gaussian_blur", "match_compression", "pixels_per_degree",
           "pooling_windows", "ssim", "window_counts"]
