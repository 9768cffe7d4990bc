"""Every command of the ``cogvision`` tree uses the same option name for the same meaning and type."""

from __future__ import annotations

import enum
import types
import typing
from collections import defaultdict
from pathlib import Path

import pytest
import typer.main

from cogvision.cli import app

#: Names that must not appear (the left one): use the right one, the shared option in cogvision/commands/_options.py.
SYNONYMS = {"--size": "--image-size", "--no-overwrite": "--overwrite", "--output": "--out", "--outdir": "--out",
            "--gpu": "--device", "--random-seed": "--seed", "--weight": "--weights", "--checkpoint": "--weights",
            "--batch": "--batch-size", "--n-boots": "--n-boot"}
#: Shared options: the kind each must have everywhere.
SHARED = {"--out": "path", "--overwrite": "flag", "--resume": "flag", "--seed": "integer", "--device": "text",
          "--weights": "path", "--model": "text", "--image-size": "integer", "--batch-size": "integer",
          "--layers": "text", "--quiet": "flag"}


# typer ships its own copy of click: the classes are matched by duck typing, not isinstance against `click`.
def walk(command, path: tuple[str, ...] = ()):
    yield path, command
    if hasattr(command, "commands"):
        for name, sub in command.commands.items():
            yield from walk(sub, path + (name,))


def kind(param) -> str:
    """flag, path, integer, number, text, choice or list of one of them, from the parameter's annotation."""
    annotation = param.type_descriptor.annotation
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(args) == 1:
        annotation = args[0]
    if typing.get_origin(annotation) is list:
        return "list of " + kind_of(typing.get_args(annotation)[0])
    return "flag" if param.is_flag else kind_of(annotation)


def kind_of(annotation) -> str:
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "choice"
    return {Path: "path", int: "integer", float: "number", str: "text", bool: "flag"}.get(annotation, str(annotation))


def options():
    root = typer.main.get_command(app)
    table = defaultdict(list)
    for path, command in walk(root):
        for param in command.params:
            if getattr(param, "param_type_name", "") == "option":
                for name in param.opts + param.secondary_opts:
                    if name.startswith("--") and not param.hidden:
                        table[name].append((" ".join(path) or "cogvision", kind(param)))
    return table


def test_the_tree_has_every_command():
    names = {" ".join(p) for p, _ in walk(typer.main.get_command(app))}
    for expected in ("demo", "disrt", "foveate", "fit-encoder", "rsa", "scanpath train", "gaze train",
                     "models inspect"):
        assert expected in names


def test_no_synonyms_of_shared_options():
    table = options()
    found = {name: [c for c, _ in table[name]] for name in SYNONYMS if name in table}
    assert not found, f"use the shared option names instead: {found} ({SYNONYMS})"


@pytest.mark.parametrize("name", sorted(SHARED))
def test_shared_option_has_one_kind(name):
    wrong = [(c, k) for c, k in options().get(name, []) if k != SHARED[name]]
    assert not wrong, f"{name} should be a {SHARED[name]} option everywhere; differs in {wrong}"


def test_same_name_same_kind_everywhere():
    mixed = {name: sorted(set(uses)) for name, uses in options().items() if len({k for _, k in uses}) > 1}
    assert not mixed, f"one option name with different types: {mixed}"
