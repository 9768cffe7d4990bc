"""mkdocs hook: render every ``benchmarks/results/*.json`` as tables where a page says ``{{ benchmark_tables }}``.

The benchmark pages are generated from the JSON files the benchmark scripts write, never typed by hand.
"""

from __future__ import annotations

import json
from pathlib import Path

PLACEHOLDER = "{{ benchmark_tables }}"
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


def benchmark_markdown() -> str:
    """Markdown for every JSON file in ``benchmarks/results``."""
    files = sorted(RESULTS.glob("*.json"))
    if not files:
        return "No benchmark results yet: run the scripts in `benchmarks/`."
    lines = []
    for path in files:
        lines += [f"## {path.stem}", "", f"From `benchmarks/results/{path.name}`, written by "
                  f"`python benchmarks/{path.stem}.py`.", ""]
        lines += _render(json.loads(path.read_text()), 3)
    return "\n".join(lines)


def on_page_markdown(markdown: str, page, config, files) -> str:
    if PLACEHOLDER in markdown:
        return markdown.replace(PLACEHOLDER, benchmark_markdown())
    return markdown
