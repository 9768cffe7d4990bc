"""OAT presets: typed hyper-parameter sets shipped as YAML files (``cogvision/scanpath/configs/*.yaml``).

A preset holds :class:`~cogvision.scanpath.OAT`'s hyper-parameters (not the run's device, seed or progress bar).
:func:`read_preset` reads a shipped preset by name or any YAML/JSON/TOML file of the same keys into
:class:`OATParams`; an unknown key or a wrongly typed value is one ``ValueError`` naming the file and the key.
Keys a file leaves out take the library default, which is the paper's (``paper.yaml`` writes them all out).

Examples
--------
>>> params = read_preset("small")
>>> params.d_model, params.n_layers, params.oat_kwargs()["ffn"]
(128, 2, 256)
>>> read_preset("small").model_copy(update={"d_model": 64}).oat_kwargs()["ffn"]
128
"""

from __future__ import annotations

import enum
import os
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import Field

from cogvision.config import Config, read_config, validate_config


class Preset(str, enum.Enum):
    """The presets shipped with cogvision (one YAML file each in ``cogvision/scanpath/configs``)."""

    small = "small"
    interiors = "interiors"
    paper = "paper"
    demo = "demo"
    demo_amazon = "demo_amazon"


class OATParams(Config):
    """OAT's hyper-parameters (see :class:`~cogvision.scanpath.OAT` for each one's meaning).

    ``ffn: null`` means twice ``d_model`` (what the command line has always used); every other default is
    the paper's and equals the estimator's own default.
    """

    d_model: int = Field(512, ge=1)
    n_heads: int = Field(4, ge=1)
    n_layers: int = Field(4, ge=1)
    ffn: Optional[int] = Field(512, ge=1)
    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    pointer_heads: int = Field(2, ge=1)
    position: Literal["learned", "sinusoidal"] = "learned"
    sigma: float = Field(2.0, gt=0.0)
    pe_iterations: int = Field(10_000, ge=0)
    appearance: Literal["auto", "label", "crop", "features"] = "auto"
    relative_bias: bool = False
    epochs: int = Field(500, ge=1)
    batch_size: int = Field(20, ge=1)
    lr: float = Field(1e-4, gt=0.0)
    weight_decay: float = Field(0.0, ge=0.0)
    grad_clip: Optional[float] = Field(1.0, gt=0.0)
    patience: Optional[int] = Field(30, ge=1)
    scenes_per_batch: Optional[int] = Field(None, ge=1)
    max_len: Optional[int] = Field(None, ge=1)
    val_samples: int = Field(10, ge=0)
    warmup_epochs: int = Field(0, ge=0)
    early_stopping: Literal["delta", "nll"] = "delta"

    def oat_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :class:`~cogvision.scanpath.OAT` (``ffn`` resolved)."""
        values = self.model_dump()
        if values["ffn"] is None:
            values["ffn"] = 2 * values["d_model"]
        return values

    def updated(self, source: str, **changes: Any) -> OATParams:
        """A copy with ``changes`` (``None`` values ignored) validated again; errors name ``source``."""
        given = {k: v for k, v in changes.items() if v is not None}
        return validate_config(OATParams, {**self.model_dump(), **given}, source) if given else self


def preset_path(name: str | Preset) -> Path:
    """The YAML file of a shipped preset.

    Raises
    ------
    ValueError
        If ``name`` is not one of :class:`Preset`.
    """
    value = name.value if isinstance(name, Preset) else str(name)
    if value not in Preset.__members__:
        raise ValueError(f"unknown OAT preset {value!r}; expected one of {', '.join(Preset.__members__)} or a "
                         "YAML file")
    return Path(str(resources.files("cogvision.scanpath") / "configs" / f"{value}.yaml"))


def read_preset(name_or_path: str | Preset | os.PathLike) -> OATParams:
    """Read a shipped preset (by name) or a YAML/JSON/TOML file of OAT hyper-parameters.

    Parameters
    ----------
    name_or_path : str, Preset or os.PathLike
        ``"small"``, ``"interiors"``, ``"paper"``, ``"demo"``, ``"demo_amazon"``, or a file path.

    Returns
    -------
    OATParams

    Raises
    ------
    ValueError
        For an unknown preset name, an unknown key or a wrongly typed value (naming the file and key).
    FileNotFoundError
        If a file path does not exist.
    """
    is_name = isinstance(name_or_path, Preset) or (isinstance(name_or_path, str) and Path(name_or_path).suffix == "")
    return read_config(OATParams, preset_path(name_or_path) if is_name else Path(name_or_path))
