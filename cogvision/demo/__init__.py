"""The main job: run every module on built-in data and write one report.

Each section module provides ``cogvision.demo.<module>.run(out_dir, shared, device)``, which returns a
:class:`~cogvision.demo.section.Section` (``title``, ``markdown``, ``numbers``, ``command``); this module calls
them in turn, each in its own sub-folder, and assembles ``report.md``, ``report.html`` and ``numbers.json``.
Every number in the report comes from that run.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import re
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import markdown as md
import torch

from cogvision._docs import fill_doc
from cogvision.device import resolve_device
from cogvision.io import check_out_dir, publish_folder, run_metadata
from cogvision.reporting import get_logger

log = get_logger(__name__)

SECTIONS = ("gestalt", "foveation", "brain", "scanpath", "gaze")


@dataclass
class SectionResult:
    """One module's part of the report."""

    name: str
    title: str
    markdown: str
    command: str
    seconds: float
    numbers: dict = field(default_factory=dict)
    error: str | None = None


def run_section(name: str, out_dir: Path, shared: Path | None, device: str) -> SectionResult:
    """Run ``cogvision.demo.<name>.run`` into ``out_dir/<name>``; an exception is recorded, not hidden."""
    folder = out_dir / name
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    try:
        result = importlib.import_module(f"cogvision.demo.{name}").run(folder, shared=shared, device=device)
    except Exception:  # the report says which part failed and why; the command exits non-zero
        return SectionResult(name, name, "", "", time.perf_counter() - t0, error=traceback.format_exc())
    return SectionResult(name, result.title, _prefix_links(result.markdown, name), result.command,
                         time.perf_counter() - t0, {k: float(v) for k, v in result.numbers.items()})


def _prefix_links(markdown: str, folder: str) -> str:
    # section figures are written into the section's folder; links in the report are from its root
    return re.sub(r"(!?\[[^\]]*\]\()(?!https?:|/)([^)]+\))", rf"\g<1>{folder}/\g<2>", markdown)


@fill_doc
def run_demo(out_dir: str | os.PathLike, *, shared: Path | None = None, device: str = "auto",
             sections: tuple[str, ...] = SECTIONS, overwrite: bool = False) -> list[SectionResult]:
    """Run the chosen sections and write the report into ``out_dir``, one progress line per section.

    The report is built in a hidden folder beside ``out_dir`` (:func:`cogvision.io.publish_folder`) and moved
    into place at the end, so an interrupted run never leaves a half-written report or a temporary folder.

    Parameters
    ----------
    %(out)s
    shared : pathlib.Path, optional
        Real data folder; sections use what it holds and fall back to built-in data.
    %(device)s
    sections : tuple of str
        Some of :data:`SECTIONS`, run in this order.
    %(overwrite)s

    Returns
    -------
    list of SectionResult
        One per section, failed ones with their traceback in ``error``.

    Raises
    ------
    FileExistsError
        If ``out_dir`` exists, is not empty and ``overwrite`` is False.
    ValueError
        For an unknown section name.
    """
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown or not sections:
        raise ValueError(f"unknown demo sections {unknown or list(sections)}; expected some of "
                         f"{', '.join(SECTIONS)}")
    check_out_dir(out_dir, overwrite)
    dev = str(resolve_device(device))
    results = []
    with publish_folder(out_dir, overwrite=overwrite,
                        metadata=run_metadata(device=dev, sections=",".join(sections))) as tmp:
        for i, name in enumerate(sections, 1):
            log.info(f"demo [{i}/{len(sections)}] {name}: running")
            results.append(run_section(name, tmp, shared, dev))
            log.info(f"demo [{i}/{len(sections)}] {name}: {'failed' if results[-1].error else 'done'} "
                     f"in {results[-1].seconds:.1f} s")
        _write_report(tmp, results, shared, dev)
    return results


def _write_report(folder: Path, results: list[SectionResult], shared: Path | None, device: str) -> None:
    lines = [
        "# cogvision demo report", "",
        f"Run on {time.strftime('%Y-%m-%d %H:%M %Z')}, device `{device}`, torch {torch.__version__}, "
        f"Python {platform.python_version()}. Real data folder: "
        + (f"`{shared}` (used where present; each section says which data it ran on)." if shared
           else "none (built-in and synthetic data only)."),
        "", "Every number below was computed by this run. Reproduce the whole report with "
        "`cogvision demo --overwrite" + (f" --data {shared}" if shared else " --no-data") + "`.", "",
        "| section | seconds | status |", "|---|---|---|",
    ]
    lines += [f"| [{r.title}](#{r.name}) | {r.seconds:.1f} | {'failed' if r.error else 'ok'} |" for r in results]
    for r in results:
        lines += ["", f'<a id="{r.name}"></a>', "", f"## {r.title}", ""]
        if r.error:
            lines += ["**This part failed:**", "", "```", r.error.strip(), "```"]
            continue
        data_flag = f" --data {shared}" if shared else " --no-data"
        lines += [r.markdown.strip(), "", "Reproduce this part exactly:", "", "```bash",
                  f"cogvision demo --sections {r.name} --out results/demo_{r.name}{data_flag}", "```", "",
                  "The module's own command for this analysis (at its full size, or on your data):", "",
                  "```bash", r.command, "```"]
    text = "\n".join(lines) + "\n"
    (folder / "report.md").write_text(text)
    body = md.markdown(text, extensions=["tables", "fenced_code"])
    style = ("body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;line-height:1.45}"
             "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
             "th{background:#f3f3f3}img{max-width:100%;border:1px solid #ddd;margin:.5em 0}"
             "pre{background:#f6f6f6;padding:.6em;overflow-x:auto}")
    (folder / "report.html").write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>cogvision demo</title><style>{style}</style>"
        f"</head><body>{body}</body></html>\n")
    numbers = {r.name: {"title": r.title, "seconds": r.seconds, "numbers": r.numbers, "error": r.error}
               for r in results}
    (folder / "numbers.json").write_text(json.dumps(numbers, indent=2))
