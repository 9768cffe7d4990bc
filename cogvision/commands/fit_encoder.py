"""``cogvision fit-encoder CONFIG.yaml``: a scripted, resumable encoding fit (see :mod:`cogvision.brain.fitting`).

Where the fit runs, so that nothing is lost:

* ``--overwrite``: in a staging folder published over OUT only when complete (the old results stay intact
  on any error or interruption);
* a new OUT: in OUT itself, so that an interrupted fit can go on with ``--resume``; a fit that fails before
  finishing a fold leaves no folder behind (a rerun then reports the real error, not "exists");
* ``--resume``: in OUT, refused when CONFIG differs from the saved ``config.yaml`` (the differing keys named).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Optional

import typer
import yaml
from rich.console import Console
from rich.markup import escape
from rich.table import Table

console = Console()


def _read_yaml(path: Path, what: str) -> dict:
    """A YAML mapping from ``path``, or a ``ValueError`` naming the file and what is wrong."""
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path} does not exist" if not path.exists() else f"{what} {path} is not a file")
    try:
        data = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise ValueError(f"{what} {path} is not valid YAML: {' '.join(str(err).split())}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{what} {path} must hold a mapping of sections (data, encoder, cv, ...), "
                         f"got {type(data).__name__}")
    return data


def config_differences(new: Any, old: Any, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two configs (``[""]`` when the roots differ in kind).

    Examples
    --------
    >>> config_differences({"encoder": {"alphas": [1, 10]}, "seed": 0}, {"encoder": {"alphas": [1]}, "seed": 0})
    ['encoder.alphas']
    """
    if isinstance(new, dict) and isinstance(old, dict):
        keys = sorted(set(new) | set(old), key=str)
        return [d for k in keys for d in config_differences(new.get(k), old.get(k), f"{prefix}{k}.")]
    return [] if new == old else [prefix.rstrip(".")]


def _check_resume(config: Path, out: Path) -> None:
    from cogvision.brain.fitting import load_config

    saved = out / "config.yaml"
    if not saved.is_file():
        return
    new = yaml.safe_load(yaml.safe_dump(load_config(config), default_flow_style=False))
    keys = [k for k in config_differences(new, _read_yaml(saved, "saved config")) if k != "base_dir"]
    if keys:
        raise ValueError(f"--resume: {config} differs from the config of the fit in {saved} at {', '.join(keys)}; "
                         "use the same config, or --overwrite to start again")


def _has_progress(out: Path) -> bool:
    """Whether ``out`` holds work worth resuming (a finished fold or layer)."""
    return any(p.is_file() for p in out.glob("**/fold_*.npz")) or (out / "summary.json").is_file()


def fit_encoder(
    config: Path = typer.Argument(..., help="YAML config: data/features/responses, encoder, cv."),
    out: Path = typer.Option(Path("results/fit_encoder"), "--out", "-o", help="Result folder."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing result folder (once the new "
                                   "results are complete)."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted fit in OUT (same config)."),
    dask: Optional[str] = typer.Option(None, "--dask", help="Scheduler address, or 'local' for a LocalCluster (ridge)."),
    device: Optional[str] = typer.Option(None, help="auto, cpu, cuda or mps (default: the config's, else auto)."),
) -> None:
    """Fit an encoder (ridge, factorized or transformer) with held-out CV; write scores, maps and figures."""
    from cogvision.brain.fitting import load_config, run_fit
    from cogvision.device import resolve_device
    from cogvision.io import atomic_write, check_out_dir, publish_folder, run_metadata

    if overwrite and resume:
        raise ValueError("--overwrite and --resume exclude each other: --resume continues the fit in OUT, "
                         "--overwrite replaces it")
    raw = _read_yaml(config, "config")
    load_config(config)  # sections checked before any folder is claimed
    dev = str(resolve_device(device or raw.get("device", "auto")))
    metadata = run_metadata(seed=raw.get("seed", 0), device=dev, config=config)
    if overwrite:
        check_out_dir(out, overwrite=True)
        with publish_folder(out, overwrite=True, metadata=metadata) as tmp:
            summary = run_fit(config, tmp, dask=dask, device=device)
    else:
        if resume and out.is_dir():
            _check_resume(config, out)
        else:
            check_out_dir(out, overwrite=False)
        fresh = not (out.is_dir() and any(out.iterdir()))
        try:
            summary = run_fit(config, out, resume=resume, dask=dask, device=device)
        except Exception:
            if fresh and out.is_dir() and not _has_progress(out):
                shutil.rmtree(out, ignore_errors=True)  # nothing worth resuming: leave no half folder behind
            raise
        atomic_write(out / "run.json", json.dumps(metadata, indent=2, default=str) + "\n")
    table = Table("quantity", "value")
    for key, value in summary.items():
        table.add_row(escape(str(key)), f"{value:.4f}" if isinstance(value, float) else escape(str(value)))
    console.print(table)
    console.print(f"results: {escape(str(out))}")
