# 464 lines: the whole schema of one config file, block by block, in one place.
"""The ``fit-encoder`` configuration, typed: every block, key, type and choice checked once, on load.

A config (YAML, JSON or TOML file, or a mapping) is validated against :class:`FitEncoderConfig` before any
folder is claimed. Unknown keys in any block, wrongly typed values, unknown choices and contradictory blocks are
one ``ValueError`` naming the file, the key and what is allowed. Relative paths are resolved against the
config file's folder (or ``base_dir``). See ``docs/fit_encoder.md`` for every key.

``package.module:factory`` model specs import and call Python code; a config holding one is refused unless it
says ``allow_code: true``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Union

import pydantic
from pydantic import Discriminator, Field, Tag, field_validator, model_validator
from pydantic_core import PydanticCustomError

from cogvision.brain.banded import SOLVERS
from cogvision.brain.factorized import SPATIAL
from cogvision.brain.fitting import ENCODERS, SCHEMES
from cogvision.brain.partition import CORRECTIONS
from cogvision.brain.ridge import SCORINGS
from cogvision.brain.transformer import MEMBERSHIP_COLUMNS, QUERY_MODES
from cogvision.config import Config, read_mapping
from cogvision.models import MODEL_SOURCES

DTYPES = ("auto", "float32", "float64")
PosInt = Annotated[int, Field(ge=1)]
PosFloat = Annotated[float, Field(gt=0)]
Fraction = Annotated[float, Field(ge=0, lt=1)]


class Section(Config):
    """A config block: strict types (no ``"4"`` for 4), unknown keys named with the allowed ones."""

    model_config = pydantic.ConfigDict(extra="forbid", strict=True)

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(cls.model_fields), key=str)
            if unknown:
                word = "section(s)" if cls is FitEncoderConfig else "key(s)"
                raise PydanticCustomError("unknown_keys", "unknown {word} {unknown}; expected some of {allowed}",
                                          {"word": word, "unknown": str(unknown),
                                           "allowed": str(sorted(cls.model_fields))})
        return data


class _Encoder(Section):
    name: Optional[str] = None
    seed: Optional[int] = None


class RidgeEncoder(_Encoder):
    """``encoder: {type: ridge, ...}``: :class:`~cogvision.brain.ridge.RidgeCV`, one alpha per target."""

    type: Literal["ridge"]
    alphas: Optional[list[PosFloat]] = None
    inner_cv: Union[Annotated[int, Field(ge=2)], Literal["logo"]] = 5
    n_blocks: Optional[PosInt] = None
    fit_intercept: bool = True
    scoring: Literal[SCORINGS] = "r2"
    n_targets_batch: Optional[PosInt] = None
    dtype: Literal[DTYPES] = "auto"


class _NeuralEncoder(_Encoder):
    epochs: PosInt = 30
    batch_size: PosInt = 32
    lr: PosFloat = 1e-3
    weight_decay: Annotated[float, Field(ge=0)] = 0.0
    validation_fraction: Fraction = 0.1
    patience: Optional[PosInt] = 8


class FactorizedSection(_NeuralEncoder):
    """``encoder: {type: factorized, ...}``: :class:`~cogvision.brain.factorized.FactorizedEncoder`."""

    type: Literal["factorized"]
    spatial: Literal[SPATIAL] = "gaussian"
    init: Literal["grid", "centre"] = "grid"
    n_centres: PosInt = 8
    sigmas: list[PosFloat] = [0.04, 0.08, 0.16, 0.32]
    init_alpha: PosFloat = 0.1


class TransformerSection(_NeuralEncoder):
    """``encoder: {type: transformer, ...}``: :class:`~cogvision.brain.transformer.TransformerBrainEncoder`."""

    type: Literal["transformer"]
    queries: str = "roi_hemisphere"
    d_model: PosInt = 128
    n_heads: PosInt = 8
    dim_feedforward: PosInt = 256
    dropout: Fraction = 0.1

    @field_validator("queries")
    @classmethod
    def _query_mode(cls, value: str) -> str:
        columns = value.split("+")
        joined = len(columns) > 1 and len(set(columns)) == len(columns) and set(columns) <= set(MEMBERSHIP_COLUMNS)
        if value not in QUERY_MODES and not joined:
            raise PydanticCustomError("query_mode", "expected one of {modes} or columns of {columns} joined by '+', "
                                                    "got {value}",
                                      {"modes": str(QUERY_MODES), "columns": str(MEMBERSHIP_COLUMNS),
                                       "value": repr(value)})
        return value


class BandedSection(_Encoder):
    """``encoder: {type: banded, ...}``: :class:`~cogvision.brain.banded.BandedRidgeCV` on a list of features."""

    type: Literal["banded"]
    alphas: Optional[list[PosFloat]] = None
    n_iter: PosInt = 20
    concentration: Union[PosFloat, list[PosFloat]] = [0.1, 1.0]
    inner_cv: Union[Annotated[int, Field(ge=2)], Literal["logo"]] = 5
    scoring: Literal[SCORINGS] = "r2"
    solver: Literal[SOLVERS] = "auto"
    n_targets_batch: Optional[PosInt] = None
    dtype: Literal[DTYPES] = "auto"
    correction: Literal[CORRECTIONS] = "clip"
    refine: Annotated[int, Field(ge=0)] = 0
    refine_lr: PosFloat = 0.1


#: Encoder name -> its config section (the same names as :data:`cogvision.brain.fitting.ENCODERS`).
ENCODER_SECTIONS: dict[str, type[_Encoder]] = {"ridge": RidgeEncoder, "factorized": FactorizedSection,
                                               "transformer": TransformerSection, "banded": BandedSection}
Encoder = Annotated[Union[RidgeEncoder, FactorizedSection, TransformerSection, BandedSection],
                    Field(discriminator="type")]


class HaxbyData(Section):
    """``data: {dataset: haxby}``: Haxby 2001 subject 1, category regressors -> voxels, runs as groups."""

    dataset: Literal["haxby"]
    root: Optional[str] = None
    design: Literal["hrf", "lagged"] = "hrf"


class SyntheticData(Section):
    """``data: {dataset: synthetic}``: :func:`data_loaders.synthetic_brain.make_synthetic_brain`."""

    dataset: Literal["synthetic"]
    n_stimuli: PosInt = 240
    image_size: PosInt = 64
    n_retinotopic: PosInt = 32
    n_category: PosInt = 16
    noise_ceiling: Annotated[float, Field(gt=0, le=1)] = 0.6
    n_repeats: PosInt = 2
    category_pooling: Literal["content", "fixed"] = "content"


class CowleyV4Data(Section):
    """``data: {dataset: cowley_v4, session: ...}``: one V4 recording session (needs a ``model`` block)."""

    dataset: Literal["cowley_v4"]
    session: str
    path: Optional[str] = None

    @field_validator("session", mode="before")
    @classmethod
    def _session_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


Data = Annotated[Union[HaxbyData, SyntheticData, CowleyV4Data], Field(discriminator="dataset")]


class Stimuli(Section):
    """``stimuli: {images: DIR_OR_GLOB, size: 224}``: the images a feature model sees."""

    images: str
    size: Annotated[int, Field(ge=8)] = 224


class Features(Section):
    """``features: {file: X.npy | X.nc}`` or ``{model: SPEC, layer: NAME, weights: FILE}``; ``name`` for a band."""

    file: Optional[str] = None
    model: Optional[str] = None
    layer: Optional[str] = None
    weights: Optional[str] = None
    name: Optional[str] = None

    @model_validator(mode="after")
    def _one_source(self) -> Features:
        if self.file is not None and (self.model or self.layer or self.weights):
            raise ValueError("give either 'file' or 'model' + 'layer', not both")
        if self.file is None and self.layer is None:
            raise ValueError("needs 'file', or 'layer' (with 'model', here or in an earlier band)")
        return self


class Responses(Section):
    """``responses``: ``nifti`` + ``mask`` (``zscore_runs``), ``npy``, or ``lh`` + ``rh``; ROI labels and a subset."""

    nifti: Optional[str] = None
    mask: Optional[str] = None
    zscore_runs: bool = False
    npy: Optional[str] = None
    lh: Optional[str] = None
    rh: Optional[str] = None
    roi_labels: Optional[str] = None
    rois: Optional[list[str]] = None

    @model_validator(mode="after")
    def _one_kind(self) -> Responses:
        kinds = [k for k, given in (("nifti", self.nifti), ("npy", self.npy), ("lh/rh", self.lh or self.rh)) if given]
        if len(kinds) != 1:
            raise ValueError(f"needs exactly one of 'nifti' + 'mask', 'npy', or 'lh' + 'rh', got {kinds or 'none'}")
        if self.nifti and not self.mask:
            raise ValueError("'nifti' needs 'mask'")
        if (self.lh is None) != (self.rh is None):
            raise ValueError("surface responses need both 'lh' and 'rh'")
        return self


class CV(Section):
    """``cv: {scheme: kfold | logo | split, n_splits: 5, test_fraction: 0.1}``: the outer cross-validation."""

    scheme: Literal[SCHEMES] = "kfold"
    n_splits: Annotated[int, Field(ge=2)] = 5
    test_fraction: Annotated[float, Field(gt=0, lt=1)] = 0.1


class Model(Section):
    """``model``: the network swept layer by layer on a recording session."""

    spec: str
    layers: Annotated[list[str], Field(min_length=1)]
    weights: Optional[str] = None
    pool: PosInt = 4
    size: Annotated[int, Field(ge=16)] = 224
    batch_size: PosInt = 32
    scale: Literal["none", "rms"] = "none"


def _one_or_list(value: Any) -> str:
    return "list" if isinstance(value, list) else "one"


class FitEncoderConfig(Section):
    """The whole ``fit-encoder`` config (see ``docs/fit_encoder.md``).

    Three forms: ``data: {dataset: haxby | synthetic}`` with one ``encoder``; ``features`` (one block, or a
    list of two or more for a banded fit) + ``responses`` with one ``encoder``; or ``data: {dataset: cowley_v4}``
    + ``model`` with ``encoders`` (a list) or one ``encoder`` (a layer sweep).
    """

    data: Optional[Data] = None
    stimuli: Optional[Stimuli] = None
    features: Optional[Annotated[Union[Annotated[Features, Tag("one")],
                                       Annotated[list[Features], Tag("list"), Field(min_length=2)]],
                                 Discriminator(_one_or_list)]] = None
    responses: Optional[Responses] = None
    groups: Optional[str] = None
    model: Optional[Model] = None
    encoder: Optional[Encoder] = None
    encoders: Optional[Annotated[list[Encoder], Field(min_length=1)]] = None
    cv: CV = CV()
    seed: int = 0
    device: str = "auto"
    dask: Optional[str] = None
    cache_dir: Optional[str] = None
    base_dir: Optional[str] = None
    allow_code: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> FitEncoderConfig:
        check_code(self)  # first: a config that runs code is refused whatever else it holds
        check_form(self)
        return self

    @property
    def kind(self) -> str:
        """``"sweep"`` (a ``model`` block), ``"banded"`` (a list of features) or ``"single"``."""
        if self.model is not None:
            return "sweep"
        return "banded" if isinstance(self.features, list) else "single"

    def encoder_list(self) -> list[dict]:
        """The encoders as they were written (settings left at their defaults are not filled in)."""
        encoders = self.encoders if self.encoders is not None else [self.encoder]
        return [e.model_dump(exclude_unset=True) for e in encoders]

    def path(self, value: str) -> Path:
        """``value`` as a path; relative paths are relative to ``base_dir``."""
        path = Path(value).expanduser()
        return path if path.is_absolute() or self.base_dir is None else Path(self.base_dir) / path


def check_form(config: FitEncoderConfig) -> None:
    """Refuse blocks that do not fit together (raised as one error naming the blocks)."""
    dataset = None if config.data is None else config.data.dataset
    if config.encoder is not None and config.encoders is not None:
        raise ValueError("give one 'encoder' or a list of 'encoders', not both")
    if config.encoder is None and config.encoders is None:
        raise ValueError(f"needs an 'encoder' block (type: one of {sorted(ENCODERS)})")
    if config.model is not None or dataset == "cowley_v4":
        if config.model is None or dataset != "cowley_v4":
            raise ValueError("a layer sweep needs both 'model' and data.dataset 'cowley_v4'")
        if config.features is not None or config.responses is not None or config.stimuli is not None:
            raise ValueError("a layer sweep ('model') takes no 'features', 'responses' or 'stimuli'")
        kinds = [e["type"] for e in config.encoder_list()]
        if "banded" in kinds:
            raise ValueError("a layer sweep fits ridge, factorized or transformer encoders, not banded")
        names = [e.get("name") or e["type"] for e in config.encoder_list()]
        if len(set(names)) != len(names):
            raise ValueError(f"encoders have repeated names {names}; give each a distinct 'name'")
        return
    if config.encoders is not None:
        raise ValueError("'encoders' (a list) is for a layer sweep with a 'model' block; give one 'encoder'")
    if dataset is not None and (config.features is not None or config.responses is not None):
        raise ValueError(f"data.dataset {dataset!r} brings its own features and responses; remove 'features' and "
                         "'responses', or 'data'")
    if dataset is None and (config.features is None or config.responses is None):
        raise ValueError("needs a 'data' block (dataset: haxby | synthetic | cowley_v4) or both 'features' and "
                         "'responses'")
    check_bands(config)


def check_bands(config: FitEncoderConfig) -> None:
    """Feature blocks: a model needs stimuli; a list is a banded fit (ridge or banded encoder), names distinct."""
    kind = config.encoder.type
    entries = config.features if isinstance(config.features, list) else [config.features] if config.features else []
    if kind == "banded" and not isinstance(config.features, list):
        raise ValueError("encoder.type 'banded' needs 'features' as a list of two or more blocks")
    if isinstance(config.features, list) and kind not in ("banded", "ridge"):
        raise ValueError(f"a list of features is fitted by a banded (or ridge) encoder, not {kind!r}")
    if isinstance(config.features, list):
        extra = sorted(set(config.encoder.model_fields_set) - set(BandedSection.model_fields))
        if extra:
            raise ValueError(f"encoder key(s) {extra} have no meaning for a banded fit (a list of features); "
                             f"expected some of {sorted(BandedSection.model_fields)}")
    if any(e.file is None for e in entries) and config.stimuli is None:
        raise ValueError("features from a model need 'stimuli: {images: DIR_OR_GLOB}'")
    if entries and entries[0].file is None and entries[0].model is None:
        raise ValueError("features[0] needs 'model' (later bands may take it from the band before)")
    names = band_names(entries)
    if len(set(names)) != len(names):
        raise ValueError(f"features give two bands the same name: {names}; set 'name' in the blocks")


def band_names(entries: list[Features]) -> list[str]:
    """Each band's name: ``name``, else the layer, else the file's stem."""
    return [str(e.name or e.layer or Path(e.file).stem) for e in entries]


def model_specs(config: FitEncoderConfig) -> list[tuple[str, str]]:
    """(key, spec) of every model spec in the config."""
    specs = [("model.spec", config.model.spec)] if config.model is not None else []
    entries = config.features if isinstance(config.features, list) else [config.features]
    specs += [(f"features[{i}].model" if isinstance(config.features, list) else "features.model", e.model)
              for i, e in enumerate(entries) if e is not None and e.model]
    return specs


def check_code(config: FitEncoderConfig) -> None:
    """Refuse ``package.module:factory`` specs (they run code) unless the config says ``allow_code: true``.

    Constructors inside cogvision (``cogvision.models.builtin:tiny_cnn``) are left to
    :func:`cogvision.models.load_model`, which loads the registered ones without ``allow_code``.
    """
    if config.allow_code:
        return
    for key, spec in model_specs(config):
        source = spec.split(":", 1)[0]
        if source not in MODEL_SOURCES and source.split(".")[0] != "cogvision":
            raise ValueError(f"{key} {spec!r} imports and calls Python code: a config that names a factory is code. "
                             f"Add 'allow_code: true' to run it, or use a spec of "
                             f"{', '.join(p + ':' for p in MODEL_SOURCES)}")


def _sections(cls: type) -> list[type]:
    return [cls] + [s for sub in cls.__subclasses__() for s in _sections(sub)]


def _where(loc: tuple) -> str:
    """A key path without pydantic's union members and tags: ``encoders[0].alphas``."""
    keys = {name for section in _sections(Section) for name in section.model_fields}
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int) and parts:
            parts[-1] += f"[{part}]"
        elif part in keys:
            parts.append(str(part))
    return ".".join(parts)


def _what(error: dict) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "missing":
        return "required key is missing"
    if kind == "union_tag_invalid":
        return f"{ctx.get('tag')!r} is not one of {ctx.get('expected_tags')}"
    if kind == "union_tag_not_found":
        return "required key is missing"
    if kind in ("unknown_keys", "query_mode", "value_error"):
        return error["msg"].removeprefix("Value error, ")
    if "expected" in ctx:
        return f"expected {ctx['expected']}, got {error.get('input')!r}"
    return f"{error['msg'][0].lower()}{error['msg'][1:]}, got {error.get('input')!r}"


def validate_fit_config(raw: Any, source: str, base_dir: str | os.PathLike | None = None) -> FitEncoderConfig:
    """Validate a config mapping; every problem in one ``ValueError`` (``source: key: what; ...``).

    Parameters
    ----------
    raw : mapping
        The parsed config.
    source : str
        How to name it in errors (the file).
    base_dir : path, optional
        Folder of relative paths when ``raw`` has no ``base_dir``.
    """
    if not isinstance(raw, dict):
        raise ValueError(f"{source}: expected a mapping of blocks (data, features, encoder, cv, ...), "
                         f"got {type(raw).__name__}")
    raw = dict(raw)
    if base_dir is not None:
        raw.setdefault("base_dir", str(base_dir))
    try:
        return FitEncoderConfig.model_validate(raw)
    except pydantic.ValidationError as err:
        problems: dict[str, list[str]] = {}
        for e in err.errors():
            key = _where(e["loc"])
            if e["type"] in ("union_tag_invalid", "union_tag_not_found"):
                key = ".".join(filter(None, [key, str((e.get("ctx") or {}).get("discriminator", "")).strip("'")]))
            what = problems.setdefault(key, [])
            if _what(e) not in what:
                what.append(_what(e))
        raise ValueError(f"config {source}: " + "; ".join(f"{key}: {' or '.join(what)}" if key else ' or '.join(what)
                                                          for key, what in problems.items())) from None


def load_config(config: str | os.PathLike | dict | FitEncoderConfig) -> FitEncoderConfig:
    """Read and validate a ``fit-encoder`` config: a file (YAML, JSON, TOML), a mapping or a validated config.

    Relative paths in a file are relative to its folder; in a mapping to its ``base_dir`` (default: the working
    folder).

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        For a file that does not parse, and for every key, type, choice or combination of blocks that is wrong.
    """
    if isinstance(config, FitEncoderConfig):
        return config
    if isinstance(config, dict):
        return validate_fit_config(config, "(mapping)", base_dir=Path("."))
    path = Path(config)
    return validate_fit_config(read_mapping(path), str(path), base_dir=path.parent)
