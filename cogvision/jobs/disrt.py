"""The DiSRT job: a model, a set of images, the odd-one-out protocol, and one published result folder.

:func:`run_disrt_job` is what ``cogvision disrt`` runs (and what a script can call): it checks the output
folder, the device and the settings, loads the model and the images (:mod:`data_loaders.images`), runs
:func:`cogvision.gestalt.run_disrt`, and publishes the folder with :func:`write_report`: the data files of
:func:`cogvision.gestalt.report.save_results`, ``accuracy.png``, ``topk.png`` (with a Top-K sweep) and
``run.json``. Nothing is written before every input has been read and the run has finished.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch
import xarray as xr

from cogvision._docs import fill_doc
from cogvision.device import resolve_device
from cogvision.gestalt import report as gestalt_report
from cogvision.gestalt.protocol import run_disrt, topk_fractions
from cogvision.gestalt.settings import DisrtProtocol
from cogvision.io import check_out_dir, publish_folder, run_metadata, save_figure
from cogvision.models import load_model, preprocessing_for
from cogvision.reporting import get_logger
from cogvision.training import seed_everything
from cogvision.viz.gestalt import plot_accuracy, plot_topk
from data_loaders.images import builtin_images, load_images

log = get_logger(__name__)


def save_figures(ds: xr.Dataset, folder: str | os.PathLike) -> dict[str, str]:
    """Draw ``accuracy.png`` (dense accuracy per layer and grid) and, with a Top-K sweep, ``topk.png`` into
    ``folder``; returns figure name -> file name."""
    folder = Path(folder)
    figures = {"accuracy": save_figure(plot_accuracy(ds), folder / "accuracy.png", dpi=110).name}
    if ds.sizes["k"] > 1:
        figures["topk"] = save_figure(plot_topk(ds), folder / "topk.png", dpi=110).name
    return figures


@fill_doc
def write_report(ds: xr.Dataset, out: str | os.PathLike, *, command: str = "", model: str | None = None,
                 overwrite: bool = False, metadata: dict | None = None) -> dict:
    """Publish the result folder of a DiSRT run: figures, tables, ``results.nc``, ``summary.json``, ``report.md``.

    Parameters
    ----------
    ds
        Results of :func:`cogvision.gestalt.run_disrt`.
    %(out)s
    command
        The command that produced ``ds`` (in the report and the summary).
    model
        The ``model`` column of the tables (default: the model spec in ``ds.attrs``).
    %(overwrite)s
    metadata
        ``run.json`` contents (default :func:`cogvision.io.run_metadata` with the run's seed).

    Returns
    -------
    dict
        The summary of :func:`cogvision.gestalt.report.save_results`.
    """
    metadata = metadata if metadata is not None else run_metadata(seed=int(ds.attrs.get("seed", 0)))
    with publish_folder(out, overwrite=overwrite, metadata=metadata) as tmp:
        figures = save_figures(ds, tmp)
        # through the module, so that the one writer of the data files is the one a test can interrupt
        return gestalt_report.save_results(ds, tmp, command=command, figures=figures, model=model)


def _images(source: str | None, side: int, strict: bool) -> tuple[torch.Tensor, list[str], list[str]]:
    """The run's images at ``side`` pixels, their names, and the files skipped as unreadable (a warning each;
    with ``strict`` the first one is an error)."""
    if not source:
        return (*builtin_images(size=side), [])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        batch, names, skipped = load_images(source, size=side, strict=strict)
    for warning in caught:
        log.warning(str(warning.message))
    return batch, names, skipped


@fill_doc
def run_disrt_job(protocol: DisrtProtocol, *, model: str, out: str | os.PathLike, weights: str | None = None,
                  images: str | None = None, layers: list[str] | None = None, topk: list[float] | tuple = (),
                  topk_layers: list[str] | None = None, batch_size: int = 16, strict: bool = False,
                  device: str = "auto", overwrite: bool = False, allow_code: bool = False, command: str = "") -> dict:
    """Run DiSRT on ``model`` and publish the result folder ``out``.

    Parameters
    ----------
    protocol
        The settings (their ``seed`` also seeds a randomly initialised model).
    model
        Model spec (:func:`cogvision.models.load_model`).
    %(out)s
    weights
        Local weights file.
    images
        Folder or glob of images (default: the photographs shipped in scikit-image and matplotlib).
    layers, topk, topk_layers, batch_size
        As in :func:`cogvision.gestalt.run_disrt` (``layers`` None: a spread of four).
    strict
        Fail on an unreadable image instead of skipping it.
    %(device)s
    %(overwrite)s
    allow_code
        Allow a ``package.module:factory`` model spec, which imports and runs Python code.
    command
        The command line recorded in the report.

    Returns
    -------
    dict
        The summary (:func:`cogvision.gestalt.summary`) with ``command`` and ``files``; ``results.nc``
        records the number of unreadable images skipped (``attrs["n_skipped"]``).
    """
    check_out_dir(out, overwrite)
    dev = resolve_device(device)
    topk_fractions(topk)
    seed_everything(protocol.seed)  # a randomly initialised model is the same network for the same seed
    net = load_model(model, weights=weights, device=dev, allow_code=allow_code)
    batch, names, skipped = _images(images, preprocessing_for(net).resize, strict)
    log.info(f"{len(names)} images" + (f" ({len(skipped)} unreadable, skipped)" if skipped else "")
             + f"; model {model} on {dev}")
    ds = run_disrt(net, batch, protocol, layers=layers, topk=topk, topk_layers=topk_layers, batch_size=batch_size,
                   image_names=names)
    ds.attrs["n_skipped"] = len(skipped)
    return write_report(ds, out, command=command, model=model, overwrite=overwrite,
                        metadata=run_metadata(seed=protocol.seed, device=dev, model=model))
