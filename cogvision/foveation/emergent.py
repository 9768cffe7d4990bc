"""The Emergent-Properties experiment suite (Deza & Konkle 2020): train one CNN behind each front-end.

Four systems (reference, foveated texture, uniform blur, foveated blur; :data:`SYSTEMS`, from the registry
:mod:`cogvision.foveation.systems`) feed the same torchvision network trained from scratch on an ImageFolder
(the paper: 20 Places classes at 256 px; :func:`data_loaders.images.load_image_folder`, or the toy
:func:`data_loaders.images.wheel_dataset`), with paired
initialisation (the same initial weights for every system within a run) and several runs, through
:func:`cogvision.training.fit`. The front-end runs on the fly inside the model's input pipeline (on the
GPU when there is one), or images are pre-rendered to disk once with :func:`prerender`.

Evaluations, each returned as an ``xarray.DataArray`` of accuracies:

- :func:`occlusion_curve`: scotoma (central square removed) and glaucoma (periphery removed) at
  increasing occluded area, gray fill (the repository's ``Robustness_to_Occlusion``);
- :func:`frequency_curve`: low-pass (Gaussian blur) and high-pass (image minus its blur, on gray)
  filtering at increasing width;
- :func:`cue_conflict`: a central window from one class pasted on a periphery from another; the share
  of decisions that follow the centre measures centre bias;
- :func:`generalisation`: each trained network tested on every system's images.
"""

from __future__ import annotations

import json
import math
import os

import numpy as np
import torch
import torchvision
import xarray as xr
from torch import nn
from torch.utils.data import Dataset, TensorDataset

from cogvision._docs import fill_doc
from cogvision.device import resolve_device
from cogvision.foveation.blur import gaussian_blur
from cogvision.foveation.matching import match_system
from cogvision.foveation.systems import ALL_SYSTEMS, SystemParameters, make_system
from cogvision.foveation.texture import FoveatedTexture, Reference
from cogvision.reporting import progress as progress_bar
from cogvision.training import fit, seed_everything

SYSTEMS = tuple(ALL_SYSTEMS)  # reference, texture, uniform, foveated_blur
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Paper's optimiser per architecture: (learning rate, decay factor, milestones as fractions of the epochs)
SCHEDULES = {"alexnet": (0.01, 0.5, (0.25, 0.5)), "resnet18": (0.05, 0.25, (0.2, 0.4))}


def build_network(arch: str, n_classes: int) -> nn.Module:
    """Torchvision ``alexnet`` or ``resnet18`` from scratch with ``n_classes`` outputs, ImageNet normalisation first."""
    if arch not in SCHEDULES:
        raise ValueError(f"unknown architecture {arch!r}; expected one of {tuple(SCHEDULES)}")
    net = getattr(torchvision.models, arch)(weights=None, num_classes=n_classes)
    return nn.Sequential(torchvision.transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD), net)


class FrontEndModel(nn.Module):
    """A fixed front-end (no gradients) followed by a trainable network."""

    def __init__(self, front_end: nn.Module, network: nn.Module) -> None:
        super().__init__()
        self.front_end = front_end.requires_grad_(False)
        self.network = network

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Class scores (B, n_classes) of (B, 3, H, W) images in [0, 1] seen through the front-end."""
        with torch.no_grad():
            images = self.front_end(images)
        return self.network(images)


def render(system: nn.Module, images: torch.Tensor, start: int = 0) -> torch.Tensor:
    """``system(images)``; a :class:`FoveatedTexture` gets fresh noise per image, seeded by its index
    ``start + b`` in the dataset (so no two images share a noise field, whatever the batching)."""
    if isinstance(system, FoveatedTexture):
        return system(images, index=list(range(start, start + len(images))))
    return system(images)


@fill_doc
def prerender(dataset: TensorDataset, system: nn.Module, batch_size: int = 32, device: str = "auto",
              progress: bool = True) -> TensorDataset:
    """Render every image of ``dataset`` through ``system`` once (the paper's offline route); texture noise
    is seeded per image index (:func:`render`).

    Parameters
    ----------
    dataset
        ``TensorDataset`` of (N, 3, H, W) images in [0, 1] and labels.
    system
        A foveation system (:func:`cogvision.foveation.systems.make_system`).
    batch_size
        Images rendered at a time.
    %(device)s
    %(progress)s

    Returns
    -------
    torch.utils.data.TensorDataset
        The rendered images (on the CPU) with the same labels and ``classes``.
    """
    dev = resolve_device(device)
    system = system.to(dev)
    images, labels = dataset.tensors
    with torch.no_grad():
        starts = progress_bar(range(0, len(images), batch_size), desc="rendering", disable=not progress)
        rendered = torch.cat([render(system, images[i:i + batch_size].to(dev), i).cpu() for i in starts])
    out = TensorDataset(rendered, labels)
    out.classes = getattr(dataset, "classes", None)
    return out


def _predict(model: nn.Module, images: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
    device = next(model.parameters()).device
    model.eval()
    with torch.no_grad():
        return torch.cat([model(images[i:i + batch_size].to(device)).argmax(1).cpu()
                          for i in range(0, len(images), batch_size)])


def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Top-1 accuracy of ``model`` on (N, 3, H, W) images."""
    return float((_predict(model, images) == labels).float().mean())


def occlude(images: torch.Tensor, fraction: float, mode: str = "scotoma") -> torch.Tensor:
    """Gray (0.5) out a centred square of ``fraction`` of the area (scotoma) or everything outside a
    centred square of ``1 - fraction`` of the area (glaucoma)."""
    if mode not in ("scotoma", "glaucoma"):
        raise ValueError(f"mode must be 'scotoma' or 'glaucoma', got {mode!r}")
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    height, width = images.shape[-2:]
    keep_area = fraction if mode == "scotoma" else 1 - fraction
    side_h, side_w = round(height * math.sqrt(keep_area)), round(width * math.sqrt(keep_area))
    top, left = (height - side_h) // 2, (width - side_w) // 2
    square = torch.zeros(height, width, dtype=torch.bool, device=images.device)
    square[top:top + side_h, left:left + side_w] = True
    mask = square if mode == "scotoma" else ~square
    return torch.where(mask, torch.full_like(images, 0.5), images)


def grayscale(images: torch.Tensor) -> torch.Tensor:
    """Luma (0.299 R + 0.587 G + 0.114 B) copied to the three channels: (B, 3, H, W) -> (B, 3, H, W)."""
    weights = torch.tensor([0.299, 0.587, 0.114], dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
    return (images * weights).sum(1, keepdim=True).expand_as(images).contiguous()


def frequency_filter(images: torch.Tensor, sigma_px: float, mode: str = "low",
                     fill: torch.Tensor | float = 0.5) -> torch.Tensor:
    """Low-pass (Gaussian of ``sigma_px``) or high-pass filtering (image minus its low-pass, added onto
    ``fill``: mean gray by default, or a system's mean image (3, H, W) as in the paper's code)."""
    if mode not in ("low", "high"):
        raise ValueError(f"mode must be 'low' or 'high', got {mode!r}")
    if sigma_px <= 0:
        return images
    low = gaussian_blur(images, [sigma_px])[0]
    return low.clamp(0, 1) if mode == "low" else (images - low + fill).clamp(0, 1)


def centre_window(height: int, width: int, radius_fraction: float, device=None) -> torch.Tensor:
    """(H, W) boolean disc of radius ``radius_fraction`` of the half side, centred."""
    ys = torch.arange(height, device=device)[:, None] - (height - 1) / 2
    xs = torch.arange(width, device=device)[None, :] - (width - 1) / 2
    return (ys**2 + xs**2).sqrt() <= radius_fraction * min(height, width) / 2


def occlusion_curve(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                    fractions: tuple[float, ...] = tuple(np.linspace(0, 1, 17))) -> xr.DataArray:
    """Accuracy under scotoma and glaucoma at each occluded ``fraction`` of the area: dims (occluder, fraction)."""
    values = [[accuracy(model, occlude(images, f, mode), labels) for f in fractions]
              for mode in ("scotoma", "glaucoma")]
    return xr.DataArray(values, dims=("occluder", "fraction"),
                        coords={"occluder": ["scotoma", "glaucoma"], "fraction": list(fractions)}, name="accuracy")


FILTERS = ("low", "high", "low_gray", "high_gray")


def frequency_curve(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                    sigmas_px: tuple[float, ...] = (0, 1, 2, 4, 8, 16, 32),
                    fill: torch.Tensor | float = 0.5) -> xr.DataArray:
    """Accuracy under low- and high-pass filtering at each Gaussian width, in colour and on grayscale
    copies (the paper's grayscale controls): dims (filter, sigma_px), ``filter`` in :data:`FILTERS`.
    High-pass images sit on ``fill`` (a system's mean image in :func:`run_suite`; grayscale for the gray rows)."""
    gray, gray_fill = grayscale(images), fill if not torch.is_tensor(fill) else grayscale(fill[None])[0]
    sources = {"low": (images, fill), "high": (images, fill), "low_gray": (gray, gray_fill),
               "high_gray": (gray, gray_fill)}
    values = [[accuracy(model, frequency_filter(sources[f][0], s, f.split("_")[0], sources[f][1]), labels)
               for s in sigmas_px] for f in FILTERS]
    return xr.DataArray(values, dims=("filter", "sigma_px"),
                        coords={"filter": list(FILTERS), "sigma_px": list(sigmas_px)}, name="accuracy")


def cue_conflict(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                 radii: tuple[float, ...] = (0.25, 0.5, 0.75), seed: int = 0) -> xr.DataArray:
    """Share of decisions following the centre vs the periphery when they come from different classes.

    Each image's periphery is paired with the centre of an image of another class (a seeded
    permutation). Pass the images as the system rendered them and the network behind the front-end
    (the paper mixes rendered images). Returns dims (cue, radius) with ``cue`` in (centre, periphery).
    """
    generator = torch.Generator().manual_seed(seed)
    n = len(images)
    partner = torch.empty(n, dtype=torch.long)
    for i in range(n):
        others = (labels != labels[i]).nonzero().squeeze(1)
        if len(others) == 0:
            raise ValueError("cue conflict needs at least two classes among the images")
        partner[i] = others[torch.randint(len(others), (1,), generator=generator)]
    values = []
    for radius in radii:
        window = centre_window(*images.shape[-2:], radius)
        mixed = torch.where(window, images[partner], images)
        predicted = _predict(model, mixed)
        values.append([float((predicted == labels[partner]).float().mean()),
                       float((predicted == labels).float().mean())])
    return xr.DataArray(np.array(values).T, dims=("cue", "radius"), coords={"cue": ["centre", "periphery"],
                        "radius": list(radii)}, name="decision_share")


@fill_doc
def train_system(system: nn.Module, train: Dataset, n_classes: int, *, arch: str = "resnet18", epochs: int = 2,
                 batch_size: int = 128, init_state: dict | None = None, seed: int = 0, device: str = "auto",
                 progress: bool = True, checkpoint_dir: str | os.PathLike | None = None) -> FrontEndModel:
    """Train ``arch`` behind ``system`` with the paper's optimiser (SGD, Nesterov 0.9, weight decay 5e-4, steps).

    Parameters
    ----------
    system
        The fixed front-end (no gradients).
    train
        Training set of (image, label) pairs.
    n_classes
        Number of output classes.
    arch
        ``alexnet`` or ``resnet18`` (:data:`SCHEDULES`).
    epochs, batch_size
        Training length and batch size.
    init_state
        Initial network weights (paired initialisation across systems).
    %(seed)s
    %(device)s
    %(progress)s
    checkpoint_dir
        Checkpoint folder; an interrupted training resumes from it.
    """
    seed_everything(seed)
    network = build_network(arch, n_classes)
    if init_state is not None:
        network.load_state_dict(init_state)
    model = FrontEndModel(system, network)
    lr, gamma, fractions = SCHEDULES[arch]
    milestones = sorted({max(1, round(f * epochs)) for f in fractions})
    fit(model, train, lambda m, batch: nn.functional.cross_entropy(m(batch[0]), batch[1]), epochs=epochs,
        batch_size=batch_size, optimizer=lambda m: torch.optim.SGD(
            [p for p in m.parameters() if p.requires_grad], lr=lr, momentum=0.9, nesterov=True, weight_decay=5e-4),
        scheduler=lambda opt: torch.optim.lr_scheduler.MultiStepLR(opt, milestones, gamma), seed=seed,
        device=device, progress=progress, checkpoint_dir=checkpoint_dir, resume=checkpoint_dir is not None)
    return model


def matched_systems(images: torch.Tensor, *, scaling: float = 0.4, fov_deg: float = 26.0,
                    seed: int | None = 0) -> tuple[dict[str, nn.Module], list[dict]]:
    """The four systems with both blur controls matched to the texture system's mean SSIM on ``images``.

    Returns
    -------
    systems : dict
        ``reference``, ``texture``, ``uniform``, ``foveated_blur``.
    matching : list of dict
        One :func:`cogvision.foveation.matching.match_system` record per blur control (``measure``,
        ``target``, ``achieved``, ``parameter``, ``feasible``); an infeasible control uses the strongest
        blur tried, and says so.
    """
    texture = FoveatedTexture(scaling, fov_deg=fov_deg, seed=seed)
    matching = [match_system(kind, images, texture) for kind in ("uniform", "foveated_blur")]
    matched = {m["system"]: m["parameter"] for m in matching}
    params = SystemParameters(scaling=scaling, uniform_sigma_deg=matched["uniform"],
                              foveated_slope=matched["foveated_blur"], fixation=texture.fixation, fov_deg=fov_deg,
                              fovea_deg=texture.fovea_deg, seed=seed)
    systems = {name: make_system(name, params) for name in SYSTEMS}
    systems["texture"] = texture  # the instance the blur controls were matched to
    return systems, matching


@fill_doc
def run_suite(train: TensorDataset, test: TensorDataset, *, systems: dict[str, nn.Module] | None = None,
              arch: str = "resnet18", runs: int = 1, epochs: int = 2, batch_size: int = 128, device: str = "auto",
              progress: bool = True, fractions: tuple[float, ...] = tuple(np.linspace(0, 1, 17)),
              sigmas_px: tuple[float, ...] = (0, 1, 2, 4, 8, 16, 32),
              radii: tuple[float, ...] = (0.25, 0.5, 0.75), scaling: float = 0.4,
              match_images: int = 16) -> xr.Dataset:
    """Train every system ``runs`` times (paired initialisation per run) and run all evaluations.

    Without ``systems`` the blur controls are matched to the texture system in mean SSIM on the first
    ``match_images`` training images (:func:`matched_systems`); the records go to ``attrs["matching"]``
    (JSON). Every system renders the training and test sets once (texture noise seeded per image index),
    as the paper pre-rendered them; the networks train and are tested on those renderings. High-pass
    images sit on the system's mean test image; cue conflicts mix rendered images.

    Parameters
    ----------
    train, test
        ``TensorDataset`` of images (N, 3, H, W) in [0, 1] and labels.
    systems
        Name -> front-end (default: :func:`matched_systems`).
    arch, runs, epochs, batch_size
        Network, independent runs (each with its own paired initialisation), training length, batch size.
    %(device)s
    %(progress)s
    fractions, sigmas_px, radii
        Occluded fractions, filter widths (pixels) and cue-conflict window radii evaluated.
    scaling
        Texture scaling of the default systems.
    match_images
        Training images the default blur controls are matched on.

    Returns
    -------
    xarray.Dataset
        ``accuracy`` (system, run), ``occlusion`` (system, run, occluder, fraction), ``frequency`` (system,
        run, filter, sigma_px; colour and grayscale), ``cue_conflict`` (system, run, cue, radius) and
        ``generalisation`` (system, run, tested_on): each network tested on each system's rendering of the
        test images.
    """
    matching: list[dict] = []
    if systems is None:
        systems, matching = matched_systems(train.tensors[0][:match_images], scaling=scaling)
    images, labels = test.tensors
    n_classes = int(max(int(train.tensors[1].max()), int(labels.max())) + 1)
    rendered = {name: prerender(test, system, device=device, progress=progress).tensors[0]
                for name, system in systems.items()}
    results: dict[str, list] = {key: [] for key in ("accuracy", "occlusion", "frequency", "cue_conflict",
                                                    "generalisation")}
    for name, system in systems.items():
        per_run = {key: [] for key in results}
        train_rendered = prerender(train, system, device=device, progress=progress)
        own = rendered[name]
        for run in range(runs):
            seed_everything(1000 + run)  # paired initialisation: the same network weights for every system
            init = build_network(arch, n_classes).state_dict()
            model = train_system(Reference(), train_rendered, n_classes, arch=arch, epochs=epochs,
                                 batch_size=batch_size, init_state=init, seed=run, device=device, progress=progress)
            network = model.network
            per_run["accuracy"].append(accuracy(network, own, labels))
            per_run["occlusion"].append(occlusion_curve(network, own, labels, fractions))
            per_run["frequency"].append(frequency_curve(network, own, labels, sigmas_px, fill=own.mean(0)))
            per_run["cue_conflict"].append(cue_conflict(network, own, labels, radii))
            per_run["generalisation"].append(xr.DataArray(
                [accuracy(network, rendered[other], labels) for other in systems], dims=("tested_on",),
                coords={"tested_on": list(systems)}))
        results["accuracy"].append(xr.DataArray(per_run["accuracy"], dims=("run",)))
        for key in ("occlusion", "frequency", "cue_conflict", "generalisation"):
            results[key].append(xr.concat(per_run[key], dim="run"))
    names = list(systems)
    dataset = xr.Dataset({key: xr.concat(values, dim="system").assign_coords(system=names)
                          for key, values in results.items()})
    dataset = dataset.assign_coords(run=list(range(runs)))
    dataset.attrs.update({"arch": arch, "epochs": epochs, "runs": runs, "n_train": len(train), "n_test": len(test),
                          "matching": json.dumps(matching)})
    return dataset
