"""Options shared by several commands, defined once: the same name has the same type and help everywhere.

Each function returns a fresh ``typer.Option`` to use as a parameter default, e.g.
``out: Path = out_option()``. ``tests/test_cli_options.py`` walks the whole command tree and checks that a
name means one thing in every command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

DEVICE_CHOICES = "auto|cpu|cuda[:N]|mps"


def _positive(value: Optional[int]) -> Optional[int]:
    if value is not None and value < 1:
        raise typer.BadParameter(f"{value} is not a positive integer")
    return value


def out_option(default: Any = ..., help: str = "Output folder.") -> Any:
    """``--out/-o PATH``: the output folder (refused when it exists and is not empty, unless ``--overwrite``)."""
    return typer.Option(default, "--out", "-o", help=f"{help} Refused if it exists and is not empty, unless "
                        "--overwrite.")


def overwrite_option() -> Any:
    """``--overwrite``: replace an existing output folder, once the new results are complete."""
    return typer.Option(False, "--overwrite",
                        help="Replace an existing output folder (the old one is removed only when the new one is "
                             "complete).")


def resume_option(what: str = "run") -> Any:
    """``--resume``: continue an interrupted run in OUT with the same configuration."""
    return typer.Option(False, "--resume", help=f"Continue an interrupted {what} in OUT from its last checkpoint; "
                                                "refused if the configuration differs.")


def seed_option(default: int = 0, help: str = "Seed of every random number generator.") -> Any:
    """``--seed INT``: one integer seed."""
    return typer.Option(default, "--seed", help=help)


def device_option(default: Optional[str] = "auto", help: str = "") -> Any:
    """``--device auto|cpu|cuda[:N]|mps``; the command checks it with :func:`cogvision.device.resolve_device`
    before any work starts (one ``error:`` line naming the device and the choices)."""
    text = "Where to compute: auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps."
    return typer.Option(default, "--device", help=f"{text} {help}".strip(), metavar=DEVICE_CHOICES)


def weights_option(help: str = "Local weights file (.safetensors or a weights-only torch state dict).") -> Any:
    """``--weights FILE``: local weights, never downloaded."""
    return typer.Option(None, "--weights", help=help, exists=True, dir_okay=False)


def model_option(default: Any = ..., help: str = "") -> Any:
    """``--model SPEC``: a model spec such as ``torchvision:mobilenet_v2`` or ``timm:vit_small_patch16_224``."""
    text = "Model spec: timm:NAME, torchvision:NAME, hf:NAME, torchscript:PATH or a built-in name."
    return typer.Option(default, "--model", help=f"{text} {help}".strip())


def image_size_option(default: Optional[int] = 224, help: str = "Images are resized to SIZE x SIZE pixels.") -> Any:
    """``--image-size INT``: the side of the square network input."""
    return typer.Option(default, "--image-size", help=help, callback=_positive)


def batch_size_option(default: int = 16, help: str = "Images per forward pass.") -> Any:
    """``--batch-size INT``."""
    return typer.Option(default, "--batch-size", help=help, callback=_positive)


def layers_option(default: Optional[str] = None, help: str = "") -> Any:
    """``--layers NAMES``: comma-separated module names of the network (``models inspect`` lists them)."""
    text = "Comma-separated module names (see `cogvision models inspect SPEC`)."
    return typer.Option(default, "--layers", help=f"{text} {help}".strip())


def split_names(value: Optional[str], flag: str) -> list[str]:
    """``"a, b,c"`` -> ``["a", "b", "c"]``; an empty list is an error naming ``flag``."""
    names = [v.strip() for v in (value or "").split(",") if v.strip()]
    if not names:
        raise ValueError(f"{flag}: expected a comma-separated list of names, got {value!r}")
    return names


def existing_folder(path: Optional[Path], flag: str) -> Optional[Path]:
    """``path`` if it is an existing folder (or None); otherwise one error naming ``flag``."""
    if path is not None and not path.is_dir():
        raise NotADirectoryError(f"{flag} {path} is not a folder")
    return path
