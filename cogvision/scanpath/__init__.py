"""Object-level scanpath modelling: containers, fixation-to-object mapping, OAT, baselines and metrics.

The guide is docs/scanpath.md; the metrics live in `cogvision.scanpath.metrics`.
"""

from cogvision.scanpath.baselines import CentreNearest, RandomOrder, SaliencyIOR
from cogvision.scanpath.containers import FIXATION_COLUMNS, ScanpathSet, Scene, predicted_sequences, prediction_frame
from cogvision.scanpath.evaluate import evaluate_predictions, human_consistency
from cogvision.scanpath.mapping import map_fixations, objects_by_box, objects_by_grid, objects_by_mask
from cogvision.scanpath.oat import OAT, OATNetwork

__all__ = [
    "FIXATION_COLUMNS", "OAT", "OATNetwork", "CentreNearest", "RandomOrder", "SaliencyIOR", "ScanpathSet", "Scene",
    "evaluate_predictions", "human_consistency", "map_fixations", "objects_by_box", "objects_by_grid",
    "objects_by_mask", "prediction_frame", "predicted_sequences",
]
