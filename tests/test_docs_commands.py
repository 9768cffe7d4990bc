"""Every ``cogvision ...`` command line in the docs and READMEs names a command and flags that exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer.main

from cogvision.cli import app

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted(ROOT.glob("docs/*.md")) + [ROOT / "README.md", ROOT / "experiments" / "README.md"]
COMMAND = re.compile(r"cogvision ((?:[a-z][\w-]*)(?: [a-z][\w-]*)?)([^`\n|]*)")


def command_lines(text: str):
    """(sub-command path, the flags on its line) for every ``cogvision <sub-command> ...`` in ``text``."""
    root = typer.main.get_command(app)
    for match in COMMAND.finditer(text.replace("\\\n", " ")):
        words, command, path = match.group(1).split(), root, []
        for word in words:
            if not hasattr(command, "commands") or word not in command.commands:
                break
            command, path = command.commands[word], path + [word]
        if path and not hasattr(command, "commands"):
            rest = " ".join(words[len(path):]) + match.group(2)
            yield " ".join(path), command, set(re.findall(r"(?<![\w-])(--[a-z][\w-]*)", rest))


@pytest.mark.parametrize("doc", DOCS, ids=[str(d.relative_to(ROOT)) for d in DOCS])
def test_documented_flags_exist(doc):
    wrong = []
    for path, command, flags in command_lines(doc.read_text()):
        known = {name for p in command.params for name in (*p.opts, *getattr(p, "secondary_opts", ()))} | {"--help"}
        if flags - known:
            wrong.append(f"cogvision {path}: {sorted(flags - known)}")
    assert not wrong, f"{doc.name} documents flags the command does not have: {wrong}"


def test_the_check_sees_the_readme_commands():
    found = {path for path, _, _ in command_lines((ROOT / "README.md").read_text())}
    assert {"disrt", "foveate", "fit-encoder", "scanpath evaluate", "gaze predict", "models inspect"} <= found
