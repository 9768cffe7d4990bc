"""Containers for object-level scanpath data: one fixation table plus one :class:`Scene` per trial.

The fixation table is a :class:`pandas.DataFrame` with the columns ``subject, trial, fixation, x, y,
duration, object`` (``duration`` in ms, NaN when unknown; ``object`` the index of the fixated object in the
trial's scene, ``-1`` for background). A *trial* is one scene (an image with a search target) viewed by
one or more subjects; a *scanpath* is the fixations of one subject on one trial.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

FIXATION_COLUMNS = ("subject", "trial", "fixation", "x", "y", "duration", "object")
BACKGROUND = -1


@dataclass(frozen=True)
class Scene:
    """What a subject searched in one trial.

    Parameters
    ----------
    trial
        Trial id (unique within a :class:`ScanpathSet`).
    width, height
        Image size in pixels.
    boxes
        Object boxes, shape ``(n_objects, 4)``, as ``xmin, ymin, xmax, ymax`` pixels.
    labels
        Object labels or ids, length ``n_objects`` (the appearance of an object when there is no image).
    grid_pos
        Integer ``(row, col)`` position code of each object, shape ``(n_objects, 2)``.
    grid_shape
        ``(rows, cols)`` of the position code.
    target
        Index of the target object, ``-1`` for free viewing (no target).
    target_label
        Label of the search target (the appearance of the target token).
    image_id
        Image the scene shows; splits never put one image in two parts.
    image
        Optional RGB image, shape ``(height, width, 3)``, uint8; enables the crop CNN in OAT.
    features
        Optional appearance features of each object, shape ``(n_objects, F)`` (e.g. a CNN's feature map pooled
        over each object); with ``target_features`` ``(F,)`` (the search template's), OAT's ``"features"``
        appearance.
    target_features
        Optional appearance features of the search target, shape ``(F,)``.
    target_objects
        Objects on which a fixation counts as finding the target (default: ``(target,)``); a target larger
        than one grid cell covers several.
    """

    trial: str
    width: float
    height: float
    boxes: np.ndarray
    labels: tuple[str, ...]
    grid_pos: np.ndarray
    grid_shape: tuple[int, int]
    target: int
    target_label: str
    image_id: str
    image: np.ndarray | None = field(default=None, repr=False, compare=False)
    features: np.ndarray | None = field(default=None, repr=False, compare=False)
    target_features: np.ndarray | None = field(default=None, repr=False, compare=False)
    target_objects: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        boxes = np.asarray(self.boxes, dtype=float).reshape(-1, 4)
        grid_pos = np.asarray(self.grid_pos, dtype=int).reshape(-1, 2)
        object.__setattr__(self, "boxes", boxes)
        object.__setattr__(self, "grid_pos", grid_pos)
        object.__setattr__(self, "labels", tuple(str(label) for label in self.labels))
        n = len(boxes)
        where = f"trial {self.trial!r}"
        if n == 0:
            raise ValueError(f"{where}: the scene has no objects")
        if not (np.isfinite(self.width) and np.isfinite(self.height) and self.width > 0 and self.height > 0):
            raise ValueError(f"{where}: image size must be positive, got {self.width}x{self.height}")
        if not np.isfinite(boxes).all() or (boxes[:, 2] < boxes[:, 0]).any() or (boxes[:, 3] < boxes[:, 1]).any():
            raise ValueError(f"{where}: boxes must be finite xmin, ymin, xmax, ymax with max >= min")
        if len(self.labels) != n or len(grid_pos) != n:
            raise ValueError(f"{where}: {n} boxes but {len(self.labels)} labels and {len(grid_pos)} grid positions")
        rows, cols = self.grid_shape
        if (grid_pos < 0).any() or (grid_pos[:, 0] >= rows).any() or (grid_pos[:, 1] >= cols).any():
            raise ValueError(f"{where}: grid positions must lie in the {rows}x{cols} grid")
        if not -1 <= int(self.target) < n:
            raise ValueError(f"{where}: target index {self.target} is neither -1 (no target) nor one of the {n} "
                             "objects")
        if self.image is not None and np.asarray(self.image).shape[:2] != (int(self.height), int(self.width)):
            raise ValueError(f"{where}: image shape {np.asarray(self.image).shape} does not match "
                             f"{int(self.height)}x{int(self.width)}")
        if (self.features is None) != (self.target_features is None):
            raise ValueError(f"{where}: give both features and target_features, or neither")
        if self.features is not None:
            feats, tfeat = np.asarray(self.features), np.asarray(self.target_features)
            if feats.ndim != 2 or len(feats) != n or tfeat.shape != feats.shape[1:]:
                raise ValueError(f"{where}: features must be (n_objects={n}, F) and target_features (F,), got "
                                 f"{feats.shape} and {tfeat.shape}")
            if not (np.isfinite(feats).all() and np.isfinite(tfeat).all()):
                raise ValueError(f"{where}: features hold NaN or infinite values")
        found = (int(self.target),) if self.target_objects is None else tuple(int(k) for k in self.target_objects)
        if self.target >= 0 and (not found or min(found) < 0 or max(found) >= n):
            raise ValueError(f"{where}: target_objects must be object indices in 0..{n - 1}, got {found}")
        object.__setattr__(self, "target_objects", found if self.target >= 0 else ())

    @property
    def n_objects(self) -> int:
        """Number of objects."""
        return len(self.boxes)

    @property
    def centres(self) -> np.ndarray:
        """Box centres, shape ``(n_objects, 2)`` as ``x, y``."""
        return np.stack([(self.boxes[:, 0] + self.boxes[:, 2]) / 2, (self.boxes[:, 1] + self.boxes[:, 3]) / 2], 1)


def validate_fixations(fixations: pd.DataFrame, scenes: dict[str, Scene], *,
                       allow_outside: bool = False) -> pd.DataFrame:
    """Check a fixation table against its scenes and return it sorted, with the standard column order.

    Raises
    ------
    ValueError
        Naming the trial (and subject) with a missing column, an empty scanpath, NaN coordinates,
        fixations outside the image (unless ``allow_outside``) or a trial without a scene.
    """
    missing = [c for c in ("subject", "trial", "fixation", "x", "y") if c not in fixations.columns]
    if missing:
        raise ValueError(f"fixation table lacks column(s) {missing}; expected {list(FIXATION_COLUMNS)}")
    fixations = fixations.copy()
    if "duration" not in fixations:
        fixations["duration"] = np.nan
    if "object" not in fixations:
        fixations["object"] = BACKGROUND
    fixations["subject"] = fixations["subject"].astype(str)
    fixations["trial"] = fixations["trial"].astype(str)
    unknown = sorted(set(fixations["trial"]) - set(scenes))
    if unknown:
        raise ValueError(f"trial {unknown[0]!r} has fixations but no scene ({len(unknown)} such trials)")
    bad = fixations[~np.isfinite(fixations[["x", "y"]].to_numpy(float)).all(1)]
    if len(bad):
        row = bad.iloc[0]
        raise ValueError(f"trial {row.trial!r}, subject {row.subject!r}: NaN or infinite coordinates at fixation "
                         f"{row.fixation}")
    if not allow_outside:
        size = np.array([(scenes[t].width, scenes[t].height) for t in fixations["trial"]], float).reshape(-1, 2)
        xy = fixations[["x", "y"]].to_numpy(float)
        outside = (xy < 0).any(1) | (xy > size).any(1)
        if outside.any():
            row = fixations[outside].iloc[0]
            raise ValueError(f"trial {row.trial!r}, subject {row.subject!r}: fixation {row.fixation} at "
                             f"({row.x}, {row.y}) lies outside the "
                             f"{scenes[row.trial].width}x{scenes[row.trial].height} image")
    objects = fixations["object"].to_numpy(int)
    n_obj = np.array([scenes[t].n_objects for t in fixations["trial"]], int)
    if ((objects < BACKGROUND) | (objects >= n_obj)).any():
        row = fixations[(objects < BACKGROUND) | (objects >= n_obj)].iloc[0]
        raise ValueError(f"trial {row.trial!r}: object index {row.object} is neither -1 (background) nor one of "
                         f"{scenes[row.trial].n_objects} objects")
    fixations["object"] = objects
    fixations = fixations.sort_values(["trial", "subject", "fixation"], kind="stable").reset_index(drop=True)
    return fixations[list(FIXATION_COLUMNS) + [c for c in fixations.columns if c not in FIXATION_COLUMNS]]


@dataclass
class ScanpathSet:
    """Fixations of many subjects on many trials, with each trial's scene.

    Parameters
    ----------
    fixations
        Table with columns ``subject, trial, fixation, x, y, duration, object`` (see the module docstring).
    scenes
        ``trial -> Scene``.
    name
        Dataset name (used in reports).
    allow_outside
        Accept fixations outside the image (they map to the nearest object or to background).
    """

    fixations: pd.DataFrame
    scenes: dict[str, Scene]
    name: str = "scanpaths"
    allow_outside: bool = False

    def __post_init__(self) -> None:
        self.fixations = validate_fixations(self.fixations, self.scenes, allow_outside=self.allow_outside)
        used = set(self.fixations["trial"])
        self.scenes = {t: s for t, s in self.scenes.items() if t in used}

    def __len__(self) -> int:
        return self.fixations.groupby(["trial", "subject"], sort=False).ngroups

    @property
    def trials(self) -> list[str]:
        """Trial ids, sorted."""
        return sorted(self.scenes)

    def sequences(self, drop_background: bool = True) -> list[tuple[str, str, np.ndarray]]:
        """Object sequences, one per scanpath: ``(trial, subject, objects)``, sorted by trial then subject.

        Background fixations (``object == -1``) are dropped unless ``drop_background`` is false.
        """
        # The table is kept sorted by trial, subject and fixation (validate_fixations), so each scanpath is one
        # run of rows: splitting at the changes is much faster than a pandas groupby.
        frame = self.fixations
        trial, subject = frame["trial"].to_numpy(str), frame["subject"].to_numpy(str)
        objects = frame["object"].to_numpy(int)
        if len(frame) == 0:
            return []
        starts = np.flatnonzero(np.r_[True, (trial[1:] != trial[:-1]) | (subject[1:] != subject[:-1])])
        out = []
        for start, stop in zip(starts, np.r_[starts[1:], len(frame)]):
            seq = objects[start:stop]
            out.append((str(trial[start]), str(subject[start]), seq[seq != BACKGROUND] if drop_background else seq))
        return out

    def subset(self, trials) -> ScanpathSet:
        """The scanpaths of the given trials."""
        keep = set(map(str, trials))
        return ScanpathSet(self.fixations[self.fixations["trial"].isin(keep)],
                           {t: s for t, s in self.scenes.items() if t in keep}, self.name, self.allow_outside)

    def filter_length(self, n_sd: float = 3.0) -> ScanpathSet:
        """Drop scanpaths longer than mean + ``n_sd`` standard deviations (OAT keeps mean +- 3 sd)."""
        lengths = self.fixations.groupby(["trial", "subject"]).size()
        mean, sd = lengths.mean(), lengths.std(ddof=0)
        keep = lengths[(lengths <= mean + n_sd * sd) & (lengths >= mean - n_sd * sd)].index
        index = pd.MultiIndex.from_frame(self.fixations[["trial", "subject"]])
        return ScanpathSet(self.fixations[index.isin(keep)], self.scenes, self.name, self.allow_outside)

    def split(self, fractions=(0.8, 0.1, 0.1), seed: int = 0) -> tuple[ScanpathSet, ...]:
        """Split by image: every scanpath on one image (collage) lands in the same part.

        Parameters
        ----------
        fractions
            Fractions of images per part (summing to 1).
        seed
            Seed of the image permutation.
        """
        fractions = np.asarray(fractions, float)
        if (fractions < 0).any() or not np.isclose(fractions.sum(), 1.0):
            raise ValueError(f"split fractions must be >= 0 and sum to 1, got {fractions.tolist()}")
        images = sorted({s.image_id for s in self.scenes.values()})
        if len(images) < len(fractions):
            raise ValueError(f"cannot split {len(images)} image(s) into {len(fractions)} parts")
        order = np.random.default_rng(seed).permutation(len(images))
        bounds = np.round(np.cumsum(fractions) * len(images)).astype(int)
        parts, start = [], 0
        for stop in bounds:
            chosen = {images[i] for i in order[start:stop]}
            parts.append(self.subset([t for t, s in self.scenes.items() if s.image_id in chosen]))
            start = stop
        return tuple(parts)


PREDICTION_COLUMNS = ("trial", "sample", "fixation", "object", "x", "y")


def prediction_frame(scenes, sequences, repeats: int) -> pd.DataFrame:
    """Predicted scanpaths as a table ``trial, sample, fixation, object, x, y`` (x, y: object box centres).

    Parameters
    ----------
    scenes
        The scenes, in order.
    sequences
        ``len(scenes) * repeats`` object sequences, scene-major.
    repeats
        Scanpaths per scene.
    """
    frames = []
    for k, seq in enumerate(sequences):
        scene = scenes[k // repeats]
        seq = np.asarray(seq, int)
        centres = scene.centres[seq] if len(seq) else np.zeros((0, 2))
        frames.append(pd.DataFrame({"trial": scene.trial, "sample": k % repeats, "fixation": np.arange(len(seq)),
                                    "object": seq, "x": centres[:, 0], "y": centres[:, 1]}))
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(PREDICTION_COLUMNS))


def predicted_sequences(predictions: pd.DataFrame) -> dict[str, list[np.ndarray]]:
    """``trial -> [object sequence per sample]`` from a :func:`prediction_frame` table."""
    out: dict[str, list[np.ndarray]] = {}
    ordered = predictions.sort_values(["trial", "sample", "fixation"])
    for (trial, _), group in ordered.groupby(["trial", "sample"], sort=True):
        out.setdefault(str(trial), []).append(group["object"].to_numpy(int))
    return out
