"""Training ViTGaze through :func:`cogvision.training.fit`, and scoring it against the baselines.

A training run is described by a :class:`TrainConfig` (a JSON/TOML/YAML file for ``cogvision gaze
train CONFIG``): the backbone spec, frozen or fine-tuned with layer-wise learning-rate decay (ViTGaze:
AdamW, decay 0.65, cosine schedule to 0.1 x lr), the loss weights, and the data (synthetic scenes, or
GazeFollow rows with head boxes and an image folder).
"""

from __future__ import annotations

import json
import math
import os
import time
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from cogvision.gaze.ablations import FEATURES, GUIDANCE, check_choice
from cogvision.gaze.baselines import centre_prior, mean_target_prior, object_prior
from cogvision.gaze.losses import vitgaze_loss
from cogvision.gaze.metrics import conventions, gazefollow_scores, inout_ap, vat_scores
from cogvision.gaze.model import ViTGaze, build_vitgaze, save_vitgaze
from cogvision.gaze.predict import predict_dataset
from cogvision.models import block_names
from cogvision.training import FitResult, fit

BOX_COLUMNS = ["x1", "y1", "x2", "y2"]
METRIC_CONVENTIONS = conventions()  # what evaluate_heatmaps uses (the reference scripts' defaults)


class GazeSamples(Dataset):
    """One item per person: ``image`` (3, S, S) in [0, 1], ``box`` (4,), ``gaze`` (K, 2), ``inout`` ().

    Parameters
    ----------
    people
        Table with normalised head boxes ``x1, y1, x2, y2``, gaze ``gaze_x, gaze_y`` (or, for several
        annotators per person, a column ``gaze`` of (K, 2) arrays), ``inout`` (1/0), and either ``scene``
        (row of ``images``) or ``path`` (file under ``root``).
    images
        (n, 3, S, S) images in [0, 1] indexed by ``people.scene``.
    root
        Folder holding ``people.path`` files (read and resized to ``image_size`` when used).
    image_size
        Side S for images read from ``root``.

    Raises
    ------
    FileNotFoundError
        If an image under ``root`` is missing (all missing paths are listed, none is dropped).
    """

    def __init__(self, people: pd.DataFrame, images: torch.Tensor | None = None, root: str | os.PathLike | None = None,
                 image_size: int = 64):
        missing = [c for c in BOX_COLUMNS + ["inout"] if c not in people.columns]
        if missing:
            raise ValueError(f"people table lacks columns {missing}; has {list(people.columns)}")
        if (images is None) == (root is None):
            raise ValueError("give exactly one of images (a tensor indexed by 'scene') or root (a folder for 'path')")
        self.people = people.reset_index(drop=True)
        self.images = images
        self.root = Path(root) if root is not None else None
        self.image_size = int(image_size)
        if self.root is not None:
            from data_loaders.gazefollow import check_images

            check_images(self.people["path"], self.root)
        if "gaze" in self.people.columns:
            rows = [np.asarray(g, dtype=np.float32).reshape(-1, 2) for g in self.people["gaze"]]
            k = max(len(r) for r in rows)
            self.gaze = np.full((len(rows), k, 2), -1.0, dtype=np.float32)
            for i, r in enumerate(rows):
                self.gaze[i, :len(r)] = r
        else:
            self.gaze = self.people[["gaze_x", "gaze_y"]].to_numpy(np.float32)[:, None]
        self._gaze = torch.from_numpy(self.gaze.copy())
        self.boxes = torch.tensor(self.people[BOX_COLUMNS].to_numpy(np.float32))
        self.inout = torch.tensor(self.people["inout"].to_numpy(np.float32))

    def __len__(self) -> int:
        return len(self.people)

    def image(self, i: int) -> torch.Tensor:
        """(3, S, S) image of item ``i``."""
        if self.images is not None:
            return self.images[int(self.people["scene"].iat[i])]
        from data_loaders.images import read_image

        image = read_image(self.root / self.people["path"].iat[i])
        return F.interpolate(image[None], size=(self.image_size,) * 2, mode="bilinear", align_corners=False,
                             antialias=True)[0].clamp(0, 1)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"image": self.image(i), "box": self.boxes[i], "gaze": self._gaze[i],
                "inout": self.inout[i]}


def layer_decay_groups(model: ViTGaze, lr: float, weight_decay: float, layer_decay: float) -> list[dict]:
    """AdamW parameter groups with layer-wise learning-rate decay (BEiT/ViTGaze).

    With ``L`` blocks, block ``i`` (0-based) gets ``lr * layer_decay ** (L - i)``; the embeddings (patch,
    position, CLS, registers) ``lr * layer_decay ** (L + 1)``; the gaze parts (guidance, decoder, in/out
    head) and any backbone parameter after the blocks get ``lr``. Biases, norms and tokens get no weight
    decay.
    """
    blocks = block_names(model.backbone)
    depth = len(blocks)
    groups: dict[tuple[float, float], list] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        layer = depth + 1
        if name.startswith("backbone."):
            sub = name[len("backbone."):]
            layer = next((i + 1 for i, b in enumerate(blocks) if sub.startswith(b + ".")), None)
            if layer is None:
                layer = 0 if sub.split(".")[0] in ("patch_embed", "cls_token", "pos_embed", "reg_token",
                                                   "norm_pre", "mask_token") else depth + 1
        scale = layer_decay ** (depth + 1 - layer)
        no_decay = param.ndim <= 1 or name.endswith(("cls_token", "pos_embed", "reg_token"))
        key = (scale, 0.0 if no_decay else weight_decay)
        groups.setdefault(key, []).append(param)
    return [{"params": params, "lr": lr * scale, "weight_decay": wd} for (scale, wd), params in groups.items()]


@dataclass
class TrainConfig:
    """Everything a training run needs (the fields of a ``cogvision gaze train`` config file).

    Attributes
    ----------
    model
        Backbone spec for :func:`cogvision.models.load_model`.
    weights
        Local backbone weights, or ``None`` for random init.
    backbone_kwargs
        Extra constructor arguments for the backbone.
    image_size
        Square input side in pixels.
    n_blocks
        Evenly spaced attention blocks tapped (4 in ViTGaze).
    freeze_backbone
        Train only guidance, decoder and in/out head.
    layer_decay
        Layer-wise lr decay of a fine-tuned backbone (0.65 in ViTGaze); ``None`` for one lr everywhere.
    epochs, batch_size, lr, weight_decay, patience, grad_clip, cosine
        Optimisation (AdamW; ``cosine``: per-epoch cosine from lr to 0.1 lr).
    heatmap_weight, inout_weight
        Loss weights (1e4 and 100 in ViTGaze).
    data
        ``"synthetic"`` or ``"gazefollow"``.
    n_train, n_val, n_objects, p_out
        Synthetic scenes for training and validation.
    annotations, image_root, val_annotations
        GazeFollow 17-column annotation files (with head boxes) and the image folder.
    seed
        Seeds scenes, initialisation and batch order.
    zero_init_output
        Start the decoder's output convolution at zero (see :class:`~cogvision.gaze.model.ViTGaze`).
    features, guidance
        Ablations of :class:`~cogvision.gaze.model.ViTGaze`: ``features`` ``"interaction"`` (default) or
        ``"tokens"``; ``guidance`` ``"learned"`` (default) or ``"uniform"``.
    """

    model: str = "cogvision.models.builtin:tiny_vit"
    weights: str | None = None
    backbone_kwargs: dict = field(default_factory=dict)
    image_size: int = 64
    n_blocks: int = 4
    freeze_backbone: bool = False
    layer_decay: float | None = None
    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.05
    patience: int | None = None
    grad_clip: float | None = 1.0
    cosine: bool = True
    heatmap_weight: float = 1e4
    inout_weight: float = 100.0
    data: str = "synthetic"
    n_train: int = 2000
    n_val: int = 200
    n_objects: int = 3
    p_out: float = 0.2
    annotations: str | None = None
    val_annotations: str | None = None
    image_root: str | None = None
    seed: int = 0
    features: str = "interaction"
    guidance: str = "learned"
    zero_init_output: bool = False

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> "TrainConfig":
        """Read a ``.json``, ``.toml`` or ``.yaml``/``.yml`` config; unknown keys are an error."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"config file {path} does not exist")
        text = path.read_text()
        if path.suffix == ".json":
            raw = json.loads(text)
        elif path.suffix == ".toml":
            raw = tomllib.loads(text)
        elif path.suffix in (".yaml", ".yml"):
            import yaml

            raw = yaml.safe_load(text)
        else:
            raise ValueError(f"config {path} must be .json, .toml or .yaml, got {path.suffix!r}")
        return cls.from_dict(raw, source=str(path))

    @classmethod
    def from_dict(cls, raw: dict, source: str = "config") -> "TrainConfig":
        """Build from a mapping; unknown keys and a bad ``data`` kind are a ``ValueError``."""
        if not isinstance(raw, dict):
            raise ValueError(f"{source} must hold a mapping of settings, got {type(raw).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(f"{source}: unknown setting(s) {unknown}; known: {sorted(known)}")
        config = cls(**raw)
        check_choice(config.features, FEATURES, f"{source}: features")
        check_choice(config.guidance, GUIDANCE, f"{source}: guidance")
        if config.data not in ("synthetic", "gazefollow"):
            raise ValueError(f"{source}: data must be 'synthetic' or 'gazefollow', got {config.data!r}")
        if config.data == "gazefollow" and (config.annotations is None or config.image_root is None):
            raise ValueError(f"{source}: data='gazefollow' needs 'annotations' and 'image_root'")
        return config


def synthetic_samples(n_scenes: int, config: TrainConfig, seed: int) -> tuple[GazeSamples, pd.DataFrame]:
    """Synthetic scenes as a :class:`GazeSamples`, plus their object table."""
    from data_loaders.synthetic_gaze import make_gaze_scenes

    scenes = make_gaze_scenes(n_scenes, image_size=config.image_size, n_objects=config.n_objects,
                              p_out=config.p_out, seed=seed)
    return GazeSamples(scenes.people, images=scenes.images), scenes.objects


def _gazefollow_samples(path: str, config: TrainConfig) -> GazeSamples:
    from data_loaders.gazefollow import read_gazefollow_txt

    table = read_gazefollow_txt(path, normalise_boxes=True, image_root=config.image_root)
    return GazeSamples(table, root=config.image_root, image_size=config.image_size)


def build_datasets(config: TrainConfig) -> tuple[GazeSamples, GazeSamples, pd.DataFrame | None]:
    """Training and validation sets for ``config`` (and the validation objects for synthetic data)."""
    if config.data == "synthetic":
        train, _ = synthetic_samples(config.n_train, config, seed=config.seed)
        val, objects = synthetic_samples(config.n_val, config, seed=config.seed + 10_000)
        return train, val, objects
    train = _gazefollow_samples(config.annotations, config)
    val = _gazefollow_samples(config.val_annotations or config.annotations, config)
    return train, val, None


def evaluate_heatmaps(heatmaps: np.ndarray, inout_prob: np.ndarray, dataset: GazeSamples) -> dict[str, float]:
    """GazeFollow-style (in-frame people) and VAT-style metrics of predicted maps on ``dataset``.

    Returns ``auc`` (GazeFollow AUC of the uint8-resized map at the original image size when the table
    has ``height`` and ``width`` columns, else at the input size), ``avg_l2``, ``min_l2`` (argmax),
    ``vat_auc`` (uint8 64 x 64 map, 19 x 19 square), ``ap`` (in-frame probability; ``nan`` if all are in
    frame) and ``n_in``: the reference scripts' conventions, recorded by :data:`METRIC_CONVENTIONS`.
    """
    inout = dataset.inout.numpy().astype(int)
    keep = inout == 1
    if {"height", "width"} <= set(dataset.people.columns):
        sizes = dataset.people[["height", "width"]].to_numpy()[keep]
    else:
        size = (dataset.image_size,) * 2 if dataset.images is None else tuple(dataset.images.shape[-2:])
        sizes = np.tile(size, (keep.sum(), 1))
    scores = gazefollow_scores(heatmaps[keep], dataset.gaze[keep], sizes=sizes)
    vat = vat_scores(heatmaps, dataset.gaze[:, 0], inout, inout_prob)
    ap = inout_ap(inout, inout_prob) if (inout == 0).any() else float("nan")
    return {"auc": float(scores["auc"].mean()), "avg_l2": float(scores["avg_l2"].mean()),
            "min_l2": float(scores["min_l2"].mean()), "vat_auc": vat["auc"], "ap": ap, "n_in": int(keep.sum())}


def baseline_heatmaps(train: GazeSamples, val: GazeSamples, objects: pd.DataFrame | None) -> dict[str, np.ndarray]:
    """Maps of the analytic baselines for every person of ``val``.

    ``centre prior``; ``training-mean prior`` (the average training target); and, for synthetic
    scenes, ``objects, no head direction`` (equal Gaussians on all objects of the scene).
    """
    n = len(val)
    maps = {"centre prior": centre_prior(n).numpy(),
            "training-mean prior": mean_target_prior(torch.from_numpy(train.gaze[:, 0]), n).numpy()}
    if objects is not None:
        centres = {s: g[["x", "y"]].to_numpy() for s, g in objects.groupby("scene")}
        maps["objects, no head direction"] = object_prior([centres[s] for s in val.people["scene"]]).numpy()
    return maps


def score_methods(model: ViTGaze, train: GazeSamples, val: GazeSamples, objects: pd.DataFrame | None,
                  device: str | torch.device = "auto") -> pd.DataFrame:
    """:func:`evaluate_heatmaps` of ``model`` and of the baselines (:func:`baseline_heatmaps`) on ``val``.

    The baselines carry no in/out information: their in-frame score is a constant 0.5, so their ``ap``
    equals the share of in-frame people.
    """
    heatmaps, inout = predict_dataset(model, val, device=device)
    rows = [{"method": "ViTGaze", **evaluate_heatmaps(heatmaps, inout, val)}]
    for name, maps in baseline_heatmaps(train, val, objects).items():
        rows.append({"method": name, **evaluate_heatmaps(maps, np.full(len(val), 0.5), val)})
    return pd.DataFrame(rows)


def evaluate_synthetic(model: ViTGaze, config: TrainConfig, n_scenes: int = 300, seed: int = 12345,
                       device: str | torch.device = "auto") -> pd.DataFrame:
    """Score ``model`` and the baselines on ``n_scenes`` fresh synthetic scenes drawn with ``seed``.

    The training-mean prior is built from another ``n_scenes`` scenes (seed ``seed + 1``).
    """
    test, objects = synthetic_samples(n_scenes, config, seed=seed)
    prior_set, _ = synthetic_samples(n_scenes, config, seed=seed + 1)
    return score_methods(model, prior_set, test, objects, device=device)


@dataclass
class TrainResult:
    """What :func:`train_vitgaze` returns.

    Attributes
    ----------
    model : ViTGaze
        The trained model (best validation epoch).
    fit : cogvision.training.FitResult
        History of the fit.
    scores : pandas.DataFrame
        One row per method (``ViTGaze`` and the baselines), columns of :func:`evaluate_heatmaps`.
    seconds : float
        Wall time of the fit.
    val : GazeSamples
        The validation set the scores come from.
    """

    model: ViTGaze
    fit: FitResult
    scores: pd.DataFrame
    seconds: float
    val: GazeSamples


def train_vitgaze(config: TrainConfig, out_dir: str | os.PathLike | None = None, device: str = "auto",
                  progress: bool = True, resume: bool = False) -> TrainResult:
    """Build, train and evaluate a ViTGaze model as ``config`` says.

    Parameters
    ----------
    config
        The run's settings.
    out_dir
        Where to write ``vitgaze.pt`` (the model), ``scores.csv``, ``history.csv``, ``config.json`` and the
        fit's per-epoch checkpoint (for ``resume``); ``None`` writes nothing.
    device
        ``"auto"`` or explicit.
    progress
        Show a progress bar.
    resume
        Continue an interrupted run from ``out_dir/checkpoint``.
    """
    torch.manual_seed(config.seed)
    model = build_vitgaze(config.model, weights=config.weights, device="cpu", backbone_kwargs=config.backbone_kwargs,
                          n_blocks=config.n_blocks, freeze_backbone=config.freeze_backbone,
                          image_size=config.image_size, features=config.features, guidance=config.guidance,
                          zero_init_output=config.zero_init_output)
    train, val, objects = build_datasets(config)

    def loss_fn(m: ViTGaze, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        out = m(batch["image"], batch["box"])
        return vitgaze_loss(out.heatmap, out.inout_logit, batch["gaze"], batch["inout"],
                            heatmap_weight=config.heatmap_weight, inout_weight=config.inout_weight)

    def val_metric(m: ViTGaze) -> float:
        heatmaps, inout = predict_dataset(m, val, device=next(m.parameters()).device)
        return evaluate_heatmaps(heatmaps, inout, val)["avg_l2"]

    def optimizer(m: ViTGaze) -> torch.optim.Optimizer:
        if config.layer_decay is not None and not config.freeze_backbone:
            groups = layer_decay_groups(m, config.lr, config.weight_decay, config.layer_decay)
        else:
            groups = [{"params": [p for p in m.parameters() if p.requires_grad], "weight_decay": config.weight_decay}]
        return torch.optim.AdamW(groups, lr=config.lr, betas=(0.9, 0.99))

    def scheduler(opt: torch.optim.Optimizer):
        total = max(config.epochs, 1)
        return torch.optim.lr_scheduler.LambdaLR(
            opt, lambda e: 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(e, total) / total)))

    out = Path(out_dir) if out_dir is not None else None
    t0 = time.perf_counter()
    result = fit(model, train, loss_fn, epochs=config.epochs, batch_size=config.batch_size, lr=config.lr,
                 weight_decay=config.weight_decay, optimizer=optimizer, scheduler=scheduler if config.cosine else None,
                 val_metric=val_metric, mode="min", patience=config.patience, grad_clip=config.grad_clip,
                 checkpoint_dir=out / "checkpoint" if out is not None else None, resume=resume, device=device,
                 seed=config.seed, progress=progress)
    seconds = time.perf_counter() - t0
    scores = score_methods(model, train, val, objects, device=device)
    if out is not None:
        write_run(out, model, config, result, scores)
    return TrainResult(model=model, fit=result, scores=scores, seconds=seconds, val=val)


def write_run(out: Path, model: ViTGaze, config: TrainConfig, result: FitResult, scores: pd.DataFrame) -> None:
    """Write the model, config, history and scores of a run into ``out`` (each file atomically)."""
    out.mkdir(parents=True, exist_ok=True)
    save_vitgaze(model, out / "vitgaze.pt", extra={"train_config": asdict(config)})
    for name, frame in (("history.csv", result.history), ("scores.csv", scores)):
        tmp = out / f".{name}.tmp"
        frame.to_csv(tmp, index=False)
        os.replace(tmp, out / name)
    for name, record in (("config.json", asdict(config)), ("metric_conventions.json", METRIC_CONVENTIONS)):
        tmp = out / f".{name}.tmp"
        tmp.write_text(json.dumps(record, indent=2))
        os.replace(tmp, out / name)
