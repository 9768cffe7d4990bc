"""Gaze following from a ViT's own attention: ViTGaze (Song et al. 2024) on any ViT.

- :mod:`cogvision.gaze.interaction`: attention maps of chosen blocks as the 4-D interaction tensor.
- :mod:`cogvision.gaze.guidance`: head box -> weights over head patches (2-D spatial guidance).
- :mod:`cogvision.gaze.model`: :class:`~cogvision.gaze.model.ViTGaze` (decoder, in/out head, checkpoints).
- :mod:`cogvision.gaze.losses`, :mod:`cogvision.gaze.train`: targets, losses, training via ``cogvision.training``.
- :mod:`cogvision.gaze.predict`: image + head boxes -> heatmaps, gaze points, in-frame probabilities.
- :mod:`cogvision.gaze.metrics`: GazeFollow and VideoAttentionTarget metrics with the codebases' variants.
- :mod:`cogvision.gaze.baselines`, :mod:`cogvision.gaze.evaluate`: analytic reference maps and their scores.
"""

from cogvision.gaze.model import GazeOutput, ViTGaze, build_vitgaze, load_vitgaze, save_vitgaze
from cogvision.gaze.predict import predict

__all__ = ["GazeOutput", "ViTGaze", "build_vitgaze", "load_vitgaze", "predict", "save_vitgaze"]
