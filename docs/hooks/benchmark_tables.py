"""mkdocs hook: render ``benchmarks/results/*.json`` as tables.

``{{ benchmark_tables }}`` in a page becomes every result file; ``{{ benchmark: NAME }}`` becomes the tables of
``benchmarks/results/NAME.json`` alone (so module guides show the measured numbers without retyping them).
A result file's own ``command`` field, when it has one, names the command that wrote it; otherwise
``NAME_cuda.json`` is the GPU run of ``benchmarks/NAME.py`` (``--device cuda``) and ``NAME.json`` its plain run.

The benchmark pages are generated from the JSON files the benchmark scripts write, never typed by hand.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

PLACEHOLDER = "{{ benchmark_tables }}"
ONE = re.compile(r"\{\{ benchmark: (\w+) \}\}")
RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, dict)):
        return "`" + json.dumps(value)[:80] + "`"
    return str(value)


def _table(rows: list[dict]) -> list[str]:
    keys = list(dict.fromkeys(k for row in rows for k in row))
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(_cell(row.get(k, "")) for k in keys) + " |" for row in rows]
    return lines


def _render(value, depth: int) -> list[str]:
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return _table(value) + [""]
    if isinstance(value, dict):
        scalars = {k: v for k, v in value.items() if not isinstance(v, (dict, list)) or
                   (isinstance(v, list) and not all(isinstance(x, dict) for x in v))}
        lines = _table([{"field": k, "value": _cell(v)} for k, v in scalars.items()]) + [""] if scalars else []
        for key, sub in value.items():
            if key not in scalars:
                lines += [f"{'#' * min(depth, 6)} {key}", ""] + _render(sub, depth + 1)
        return lines
    return [_cell(value), ""]


def one_benchmark(path: Path, depth: int = 3) -> list[str]:
    """Markdown lines for one result file (raises ``FileNotFoundError`` naming it when missing)."""
    if not path.is_file():
        raise FileNotFoundError(f"benchmark result {path} does not exist; run benchmarks/{path.stem}.py")
    recorded = json.loads(path.read_text()).get("command")
    if recorded:  # the result file says how it was made
        command = f"{recorded}`"
    elif path.stem.endswith("_cuda"):  # the GPU run of a benchmark, kept beside the CPU one
        script = path.stem.removesuffix("_cuda")
        command = f"python benchmarks/{script}.py --device cuda --out benchmarks/results/{path.name}` on a GPU machine"
    else:
        command = f"python benchmarks/{path.stem}.py`"
    lines = [f"From `benchmarks/results/{path.name}`, written by `{command}.", ""]
    return lines + _render(json.loads(path.read_text()), depth)


def benchmark_markdown() -> str:
    """Markdown for every JSON file in ``benchmarks/results``."""
    files = sorted(RESULTS.glob("*.json"))
    if not files:
        return "No benchmark results yet: run the scripts in `benchmarks/`."
    lines = []
    for path in files:
        lines += [f"## {path.stem}", ""] + one_benchmark(path)
    return "\n".join(lines)


def on_page_markdown(markdown: str, page, config, files) -> str:
    if PLACEHOLDER in markdown:
        markdown = markdown.replace(PLACEHOLDER, benchmark_markdown())
    return ONE.sub(lambda m: "\n".join(one_benchmark(RESULTS / f"{m.group(1)}.json", 4)), markdown)
