"""Foveated front-ends (Deza & Konkle 2020): fixed first-stage transforms on (B, C, H, W) images.

>>> from cogvision.foveation import ALL_SYSTEMS, FoveatedBlur, FoveatedTexture, Reference, UniformBlur, make_system
>>> sorted(ALL_SYSTEMS)
['foveated_blur', 'reference', 'texture', 'uniform']
"""

from cogvision.foveation.blur import FoveatedBlur, UniformBlur, gaussian_blur
from cogvision.foveation.geometry import (
    PoolingWindows,
    eccentricity_map,
    pixels_per_degree,
    pooling_windows,
    window_counts,
)
from cogvision.foveation.matching import MatchResult, match_compression, ssim
from cogvision.foveation.systems import ALIASES, ALL_SYSTEMS, SystemParameters, make_system, system_name
from cogvision.foveation.texture import FoveatedSystem, FoveatedTexture, Reference

__all__ = [
    "ALIASES", "ALL_SYSTEMS", "FoveatedBlur", "FoveatedSystem", "FoveatedTexture", "MatchResult", "PoolingWindows",
    "Reference", "SystemParameters", "UniformBlur", "eccentricity_map", "gaussian_blur", "make_system",
    "match_compression", "pixels_per_degree", "pooling_windows", "ssim", "system_name", "window_counts",
]
