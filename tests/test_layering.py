"""The package's layering (DESIGN.md), checked on the source: imports point one way and form no cycle.

core (models, training, io, config, reporting, stats, texture, ...) <- scientific modules (foveation, scanpath,
gaze, brain, gestalt; never each other) <- viz <- jobs / demo <- commands / cli. ``data_loaders`` may use core and
the scientific modules' containers; the library never imports ``data_loaders``; nothing imports the commands.
Imports inside functions count too, and are allowed only with a comment saying why (optional dependencies).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCIENTIFIC = ("foveation", "scanpath", "gaze", "brain", "gestalt")
ALLOWED = {
    "core": {"core"},
    "science": {"core"},  # plus the module itself, checked below
    "viz": {"core", "science", "viz"},
    "data_loaders": {"core", "science", "data_loaders"},
    "top": {"core", "science", "viz", "data_loaders", "top"},
    "commands": {"core", "science", "viz", "data_loaders", "top", "commands"},
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def layer(module: str) -> tuple[str, str]:
    """(layer, unit) of a module of this repository; unit names a scientific module or the layer."""
    parts = module.split(".")
    if parts[0] == "data_loaders":
        return "data_loaders", "data_loaders"
    second = parts[1] if len(parts) > 1 else ""
    if second in ("commands", "cli"):
        return "commands", "commands"
    if second in ("jobs", "demo"):
        return "top", second
    if second == "viz":
        return "viz", "viz"
    if second in SCIENTIFIC:
        return "science", second
    return "core", second or "cogvision"


def own_imports(path: Path):
    """(imported module, line, inside a function, has a comment) for every import of cogvision/data_loaders."""
    source = path.read_text()
    lines = source.splitlines()
    tree = ast.parse(source)
    functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    inside = {id(n) for f in functions for n in ast.walk(f) if isinstance(n, (ast.Import, ast.ImportFrom))}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        text = lines[node.lineno - 1] + (lines[node.lineno - 2] if node.lineno > 1 else "")
        for name in names:
            yield name, node.lineno, id(node) in inside, "#" in text


def source_files():
    return sorted(ROOT.glob("cogvision/**/*.py")) + sorted(ROOT.glob("data_loaders/*.py"))


def known(name: str) -> bool:
    head = name.split(".")[0]
    if head not in ("cogvision", "data_loaders"):
        return False
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def test_imports_point_one_way():
    wrong = []
    for path in source_files():
        mod = module_name(path)
        src_layer, src_unit = layer(mod)
        for name, line, _, _ in own_imports(path):
            if not known(name) or name.split(".")[0] not in ("cogvision", "data_loaders") or name == "cogvision":
                continue
            dst_layer, dst_unit = layer(name)
            ok = dst_layer in ALLOWED[src_layer] or (src_layer == "science" and dst_unit == src_unit)
            if src_layer == "science" and dst_layer == "science" and dst_unit != src_unit:
                ok = False
            if not ok:
                wrong.append(f"{path.relative_to(ROOT)}:{line} ({src_layer}) imports {name} ({dst_layer})")
    assert not wrong, "imports against the layering:\n" + "\n".join(sorted(set(wrong)))


def test_no_package_cycles():
    edges: dict[str, set[str]] = {}
    for path in source_files():
        src = ".".join(module_name(path).split(".")[:2])
        for name, _, _, _ in own_imports(path):
            if known(name):
                dst = ".".join(name.split(".")[:2])
                if dst != src and dst != "cogvision":
                    edges.setdefault(src, set()).add(dst)
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [node, nxt]) if nxt in stack
                              else f"{node} -> {nxt}")
            elif nxt not in state:
                visit(nxt, stack + [node])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [])
    assert not cycles, "import cycles between packages:\n" + "\n".join(cycles)


def test_function_level_imports_say_why():
    silent = [f"{path.relative_to(ROOT)}:{line} imports {name}"
              for path in source_files() for name, line, inside, commented in own_imports(path)
              if inside and not commented]
    assert not silent, ("imports inside functions without a comment saying why (allowed for optional "
                        "dependencies only):\n" + "\n".join(sorted(set(silent))))


@pytest.mark.parametrize("module, expected", [
    ("cogvision.brain.rsa", ("science", "brain")), ("cogvision.viz.brain", ("viz", "viz")),
    ("cogvision.io.atomic", ("core", "io")), ("data_loaders.haxby", ("data_loaders", "data_loaders")),
    ("cogvision.commands.rsa", ("commands", "commands")), ("cogvision.jobs", ("top", "jobs")),
])
def test_layer_of_a_module(module, expected):
    assert layer(module) == expected
