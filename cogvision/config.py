"""Typed configuration files: read once, validated once, every mistake named by its key.

A job declares its configuration as a pydantic model derived from :class:`Config` (unknown keys are errors,
values are checked against their types and choices); :func:`read_config` reads a ``.yaml``/``.yml``,
``.json`` or ``.toml`` file into it, and every problem becomes one ``ValueError`` that names the file, the key
path and what was expected, before anything is written.
"""

from __future__ import annotations

import difflib
import json
import os
import tomllib
import typing
from pathlib import Path
from typing import Any, Mapping, TypeVar

import pydantic
import yaml

C = TypeVar("C", bound="Config")


class Config(pydantic.BaseModel):
    """Base of every typed configuration: unknown keys are refused; values are validated on assignment too."""

    model_config = pydantic.ConfigDict(extra="forbid", validate_assignment=True, frozen=False)


def _where(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def _fields_at(model: type[pydantic.BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names of the (nested) model at ``loc``; empty when ``loc`` leaves the typed models."""
    for part in loc:
        field = model.model_fields.get(str(part))
        annotation = field.annotation if field is not None else None
        candidates = [annotation, *typing.get_args(annotation)]
        model = next((c for c in candidates if isinstance(c, type) and issubclass(c, pydantic.BaseModel)), None)
        if model is None:
            return []
    return list(model.model_fields)


def _expected(error: Mapping[str, Any], model: type[pydantic.BaseModel]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        allowed = _fields_at(model, tuple(error["loc"][:-1]))
        if not allowed:
            return "unknown key"
        close = difflib.get_close_matches(str(error["loc"][-1]), allowed, n=1)
        return ("unknown key" + (f" (did you mean {close[0]!r}?)" if close else "")
                + f"; allowed: {', '.join(allowed)}")
    if kind == "missing":
        return "required key is missing"
    ctx = error.get("ctx") or {}
    if "expected" in ctx:
        return f"expected {ctx['expected']}, got {error.get('input')!r}"
    return f"{error['msg']}, got {error.get('input')!r}"


def format_validation_error(err: pydantic.ValidationError, source: str, model: type[pydantic.BaseModel]) -> str:
    """One line per problem: ``source: key.path: what was expected``, joined by ``; ``."""
    return "; ".join(f"{source}: {_where(e['loc'])}: {_expected(e, model)}" for e in err.errors())


def validate_config(model: type[C], raw: Any, source: str = "config") -> C:
    """Validate the mapping ``raw`` against ``model``; errors name ``source`` and each bad key.

    Raises
    ------
    ValueError
        If ``raw`` is not a mapping, has unknown keys, lacks required keys or holds values of the wrong type.

    Examples
    --------
    >>> class Fit(Config):
    ...     alphas: list[float] = [1.0, 10.0]
    >>> validate_config(Fit, {"alphas": [0.1]}).alphas
    [0.1]
    >>> validate_config(Fit, {"alpahs": [0.1]}, "fit.yaml")
    Traceback (most recent call last):
    ...
    ValueError: fit.yaml: alpahs: unknown key (did you mean 'alphas'?); allowed: alphas
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ValueError(f"{source}: expected a mapping of keys to values, got {type(raw).__name__}")
    try:
        return model.model_validate(dict(raw))
    except pydantic.ValidationError as err:
        raise ValueError(format_validation_error(err, source, model)) from None


def read_mapping(path: str | os.PathLike) -> dict:
    """Read a ``.yaml``/``.yml``, ``.json`` or ``.toml`` file that holds one mapping.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        For another suffix, a syntax error (with its line where the parser gives one) or a top level that is not
        a mapping.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config {path}: no such file")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix in (".yaml", ".yml"):
            raw = yaml.safe_load(text)
        elif path.suffix == ".json":
            raw = json.loads(text)
        elif path.suffix == ".toml":
            raw = tomllib.loads(text)
        else:
            raise ValueError(f"config {path}: expected a .yaml, .yml, .json or .toml file, got {path.suffix!r}")
    except (yaml.YAMLError, json.JSONDecodeError, tomllib.TOMLDecodeError) as err:
        raise ValueError(f"config {path}: not valid {path.suffix.lstrip('.')} ({' '.join(str(err).split())})") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ValueError(f"config {path}: expected a mapping of keys to values at the top level, got "
                         f"{type(raw).__name__}")
    return raw


def config_differences(new: Any, old: Any, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two configs as mappings (nested mappings compared key by key).

    A key present in one config only counts as different; ``[""]`` means the two roots differ in kind.

    Examples
    --------
    >>> config_differences({"encoder": {"alphas": [1, 10]}, "seed": 0}, {"encoder": {"alphas": [1]}, "seed": 0})
    ['encoder.alphas']
    """
    if isinstance(new, Mapping) and isinstance(old, Mapping):
        keys = sorted(set(new) | set(old), key=str)
        return [d for k in keys for d in config_differences(new.get(k), old.get(k), f"{prefix}{k}.")]
    return [] if new == old else [prefix.rstrip(".")]


def describe_differences(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[str]:
    """``key: old -> new`` for every dotted key of :func:`config_differences` (``(absent)`` for a missing key).

    Examples
    --------
    >>> describe_differences({"oat": {"epochs": 5}, "seed": 0}, {"oat": {"epochs": 4}, "seed": 0})
    ['oat.epochs: 4 -> 5']
    """
    def value(config: Mapping[str, Any], key: str) -> Any:
        for part in key.split("."):
            if not isinstance(config, Mapping) or part not in config:
                return "(absent)"
            config = config[part]
        return config

    return [f"{k}: {value(old, k)!r} -> {value(new, k)!r}" for k in config_differences(new, old)]


def read_config(model: type[C], path: str | os.PathLike) -> C:
    """Read ``path`` (YAML, JSON or TOML) and validate it against ``model`` in one step.

    Parameters
    ----------
    model : type of Config
        The job's configuration class.
    path : str or os.PathLike
        The file.

    Returns
    -------
    Config
        The validated configuration.
    """
    return validate_config(model, read_mapping(path), source=str(path))
