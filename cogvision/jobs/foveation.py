"""Foveation jobs: render images through a front-end (``cogvision foveate``) and the Emergent-Properties suite.

Both validate every input (system name, sizes, output folder, device, images) before any work, show progress
on the long loops, and publish one folder through :func:`cogvision.io.publish_folder`.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Sequence

import matplotlib.image
import torch
import xarray as xr

from cogvision._docs import fill_doc
from cogvision.device import resolve_device
from cogvision.foveation import emergent
from cogvision.foveation.geometry import pooling_windows
from cogvision.foveation.matching import BLUR_SYSTEMS, match_system
from cogvision.foveation.systems import BLUR_PARAMETERS, SystemParameters, make_system, system_name
from cogvision.io import atomic_write, check_out_dir, publish_folder, run_metadata, save_figure, write_dataset
from cogvision.reporting import get_logger, progress
from cogvision.viz.foveation import plot_suite, plot_windows
from data_loaders.images import load_image_folder, read_image, square_resize, wheel_dataset

log = get_logger(__name__)
#: Names of the matched parameter in ``matching.json`` (the ``cogvision foveate`` flags they replace).
MATCHED_PARAMETER_NAMES = {"uniform": "blur_sigma_deg", "foveated_blur": "blur_slope"}


def output_names(images: Sequence[Path], label: str) -> list[str]:
    """``<stem>_<label>.png`` per image; two inputs with the same stem are an error (one would be lost)."""
    names, seen = [], {}
    for path in images:
        name = f"{Path(path).stem}_{label}.png"
        if name in seen:
            raise ValueError(f"{seen[name]} and {path} would both be written as {name}; give images with "
                             "different file names (stems)")
        seen[name] = path
        names.append(name)
    return names


def _render(module: torch.nn.Module, batch: torch.Tensor, batch_size: int, texture: bool) -> torch.Tensor:
    """``module`` on ``batch`` a few images at a time (with a progress bar); texture noise is seeded by each
    image's index in the whole list, so the batching never changes an image."""
    out = []
    with torch.no_grad():
        for start in progress(range(0, len(batch), batch_size), desc="foveating",
                              total=-(-len(batch) // batch_size)):
            chunk = batch[start:start + batch_size]
            index = list(range(start, start + len(chunk)))
            out.append((module(chunk, index=index) if texture else module(chunk)).cpu())
    return torch.cat(out)


def _matched(system: str, batch: torch.Tensor, parameters: SystemParameters) -> tuple[SystemParameters, dict]:
    """The blur control ``system`` matched in mean SSIM to the texture system on ``batch``."""
    log.info(f"matching the {system} system to the texture system's mean SSIM on {len(batch)} image(s)")
    matching = match_system(system, batch, make_system("texture", parameters))
    matching["parameter_name"] = MATCHED_PARAMETER_NAMES[system]
    return replace(parameters, **{BLUR_PARAMETERS[system]: matching["parameter"]}), matching


@fill_doc
def foveate_images(images: Sequence[str | os.PathLike], out: str | os.PathLike, *, system: str = "texture",
                   parameters: SystemParameters | None = None, image_size: int = 256, match_to_texture: bool = False,
                   show_windows: bool = False, batch_size: int = 8, device: str = "auto",
                   overwrite: bool = False) -> dict:
    """Transform image files through one foveation system and publish the PNGs in ``out``.

    Parameters
    ----------
    images
        Image files; the outputs are named ``<stem>_<system>.png`` after ``system`` as given.
    %(out)s
    system
        A name of :data:`cogvision.foveation.systems.ALL_SYSTEMS` or an alias (``blur``).
    parameters
        The systems' parameters (default :class:`~cogvision.foveation.systems.SystemParameters`).
    image_size
        Images are centre-cropped square and resized to this side (>= 8 pixels).
    match_to_texture
        For a blur control: choose its parameter so that its mean SSIM to the reference equals the texture
        system's on ``images`` (written to ``matching.json``).
    show_windows
        Also write ``windows.png`` (the texture system's pooling windows over the first image).
    batch_size
        Images rendered at a time.
    %(device)s
    %(overwrite)s

    Returns
    -------
    dict
        ``files`` (the PNGs written), ``system`` (canonical name) and ``matching`` (or None).
    """
    canonical = system_name(system)
    if match_to_texture and canonical not in BLUR_SYSTEMS:
        raise ValueError(f"matching to the texture system applies to the blur controls {BLUR_SYSTEMS}, "
                         f"not {system!r}")
    if image_size < 8:
        raise ValueError(f"image size must be at least 8 pixels, got {image_size}")
    parameters = parameters or SystemParameters()
    names = output_names([Path(p) for p in images], system)
    check_out_dir(out, overwrite)
    dev = resolve_device(device)
    batch = torch.stack([square_resize(read_image(p), image_size)
                         for p in progress(images, desc="reading images", total=len(images))]).to(dev)
    matching = None
    if match_to_texture:
        parameters, matching = _matched(canonical, batch, parameters)
    result = _render(make_system(canonical, parameters).to(dev), batch, batch_size, canonical == "texture")
    metadata = run_metadata(seed=parameters.seed, device=dev, system=canonical, images=len(names))
    with publish_folder(out, overwrite=overwrite, metadata=metadata) as tmp:
        for name, image in zip(names, result):
            array = image.permute(1, 2, 0).numpy()
            atomic_write(tmp / name, lambda path, array=array: matplotlib.image.imsave(path, array, format="png"))
        if matching is not None:
            atomic_write(tmp / "matching.json", json.dumps(matching, indent=2))
        if show_windows:
            windows = pooling_windows(image_size, image_size, parameters.scaling, fixation=parameters.fixation,
                                      fov_deg=parameters.fov_deg)
            save_figure(plot_windows(windows, batch[0].cpu()), tmp / "windows.png")
    return {"files": names, "system": canonical, "matching": matching}


@fill_doc
def emergent_properties(out: str | os.PathLike, *, train: str | os.PathLike | None = None,
                        test: str | os.PathLike | None = None, arch: str = "resnet18", epochs: int = 1,
                        runs: int = 1, size: int = 64, batch_size: int = 128, scaling: float = 0.4,
                        uniform_sigma_deg: float | None = None, foveated_slope: float | None = None,
                        device: str = "auto", overwrite: bool = False, **suite_options) -> xr.Dataset:
    """The Emergent-Properties suite (:func:`cogvision.foveation.emergent.run_suite`) on an ImageFolder pair,
    or on the toy wheel photographs, published as ``emergent.nc``, ``emergent.png`` and ``matching.json``.

    Parameters
    ----------
    %(out)s
    train, test
        ImageFolders (one sub-folder per class); both or neither (neither: 8 wheel-photograph classes).
    arch, epochs, runs, batch_size, scaling
        As in :func:`~cogvision.foveation.emergent.run_suite`.
    size
        Side of the images.
    uniform_sigma_deg, foveated_slope
        Fixed blur controls (default: each matched to the texture system's mean SSIM on 16 training images).
    %(device)s
    %(overwrite)s
    **suite_options
        Further options of :func:`~cogvision.foveation.emergent.run_suite` (``fractions``, ``sigmas_px``, ...).
    """
    if (train is None) != (test is None):
        raise ValueError("give both train and test ImageFolders, or neither (the toy wheel data)")
    check_out_dir(out, overwrite)
    resolve_device(device)
    if train is not None:
        train_set, test_set = load_image_folder(train, size), load_image_folder(test, size)
    else:
        train_set, test_set = wheel_dataset(n_per_class=4, size=size, seed=0), \
            wheel_dataset(n_per_class=2, size=size, seed=1)
    systems, matching = emergent.matched_systems(train_set.tensors[0][:16], scaling=scaling)
    for name, value in (("uniform", uniform_sigma_deg), ("foveated_blur", foveated_slope)):
        if value is not None:
            systems[name] = make_system(name, **{BLUR_PARAMETERS[name]: value})
    for record in matching:
        state = "matched" if record["feasible"] else "INFEASIBLE (strongest blur tried)"
        log.info(f"{record['system']}: target SSIM {record['target']:.3f}, achieved {record['achieved']:.3f} at "
                 f"{record['parameter']:.4g} ({state})")
    result = emergent.run_suite(train_set, test_set, systems=systems, arch=arch, runs=runs, epochs=epochs,
                                batch_size=batch_size, device=device, progress=True, **suite_options)
    result.attrs["matching"] = json.dumps(matching)
    with publish_folder(out, overwrite=overwrite, metadata=run_metadata(device=device, arch=arch)) as tmp:
        write_dataset(result, tmp / "emergent.nc")
        save_figure(plot_suite(result), tmp / "emergent.png")
        atomic_write(tmp / "matching.json", json.dumps(matching, indent=2))
    return result
