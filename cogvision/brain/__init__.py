"""Brain encoding models: GPU ridge, factorised (fwRF) readout, transformer brain encoder, scores.

Encoders map network features of images to fMRI responses (voxels or vertices) and are scored on
held-out stimuli against the field's metrics (Pearson r, Algonauts noise-normalised score).
"""

from cogvision.brain.banded import BandedRidgeCV
from cogvision.brain.factorized import FactorizedEncoder
from cogvision.brain.features import as_grid, as_matrix, cached_features
from cogvision.brain.metrics import (
    check_responses,
    explainable_variance,
    noise_normalized_score,
    pearson_r,
    r2_per_target,
    roi_summary,
)
from cogvision.brain.partition import variance_partition
from cogvision.brain.ridge import RidgeCV, make_splits
from cogvision.brain.transformer import TransformerBrainEncoder

__all__ = [
    "FactorizedEncoder", "RidgeCV", "TransformerBrainEncoder", "as_grid", "as_matrix", "cached_features",
    "check_responses", "explainable_variance", "make_splits", "noise_normalized_score", "pearson_r", "r2_per_target",
    "roi_summary", "BandedRidgeCV", "variance_partition",
]
