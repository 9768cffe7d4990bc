"""Scanpath metrics as pure functions: MultiMatch, ScanMatch, Sequence Score, edit distance,
OAT's behavioural statistics and delta, SIM and NSS."""

from cogvision.scanpath.metrics.behaviour import (
    STATISTICS,
    behaviour_delta,
    behaviour_summary,
    behaviour_table,
    scanpath_statistics,
)
from cogvision.scanpath.metrics.multimatch import DIMENSIONS, multimatch, multimatch_many, saccades
from cogvision.scanpath.metrics.saliency import nss, sim
from cogvision.scanpath.metrics.sequence import edit_distance, scanmatch, scanmatch_bins, sequence_score

__all__ = [
    "DIMENSIONS", "STATISTICS", "behaviour_delta", "behaviour_summary", "behaviour_table", "edit_distance",
    "multimatch", "multimatch_many", "nss", "saccades", "scanmatch", "scanmatch_bins", "scanpath_statistics",
    "sequence_score", "sim",
]
