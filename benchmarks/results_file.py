"""Write a benchmark's result file atomically (shared by the scripts in ``benchmarks/``)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def write_result(path: Path, result: dict) -> None:
    """Write ``result`` as indented JSON to ``path`` via a temporary file, so a run that dies leaves the old one.

    The command line that made it is recorded as ``command`` (the docs show it beside the numbers).
    """
    result = {**result, "command": "python benchmarks/" + " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(result, indent=2))
    os.replace(tmp, path)
