"""Gaze following from a ViT's own attention: ViTGaze (Song et al. 2024) on any ViT.

- :mod:`cogvision.gaze.interaction`: attention maps of chosen blocks as the 4-D interaction tensor.
- :mod:`cogvision.gaze.guidance`: head box -> weights over head patches (2-D spatial guidance).
- :mod:`cogvision.gaze.model`: :class:`~cogvision.gaze.model.ViTGaze` (decoder, in/out head, ``save``/``load``).
- :mod:`cogvision.gaze.samples`: :class:`~cogvision.gaze.samples.GazeSamples`, the data container.
- :mod:`cogvision.gaze.config`: :class:`~cogvision.gaze.config.TrainConfig` and the presets.
- :mod:`cogvision.gaze.losses`, :mod:`cogvision.gaze.train`: targets, losses, training via ``cogvision.training``.
- :mod:`cogvision.gaze.predict`: image + head boxes -> heatmaps, gaze points, in-frame probabilities.
- :mod:`cogvision.gaze.metrics`: GazeFollow and VideoAttentionTarget metrics with the codebases' variants.
- :mod:`cogvision.gaze.baselines`, :mod:`cogvision.gaze.evaluate`: analytic reference maps and scores.

Whole runs on named data sets (a training run folder with figures, evaluation, prediction files) are jobs:
:mod:`cogvision.jobs.gaze_train`, :mod:`cogvision.jobs.gaze_predict`.
"""

from cogvision.gaze.config import TrainConfig, preset, read_train_config
from cogvision.gaze.model import GazeOutput, ViTGaze, build_vitgaze
from cogvision.gaze.predict import predict
from cogvision.gaze.samples import GazeSamples

__all__ = ["GazeOutput", "GazeSamples", "TrainConfig", "ViTGaze", "build_vitgaze", "predict", "preset",
           "read_train_config"]
