"""Bad inputs to ``cogvision scanpath train|evaluate|predict``: one plain error line, exit code 2, nothing touched.

Each case runs in a folder holding an earlier result (``previous/``) and a few input files; afterwards every
file there is byte-identical, no new folder or hidden temporary folder exists and no traceback was printed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cogvision.cli import app
from tests.helpers import snapshot

TINY = ["--d-model", "8", "--n-layers", "1", "--epochs", "1", "--pe-iterations", "10", "--device", "cpu"]


def _one_fixation_amazon(path: Path, collages: int = 20, subjects: int = 3) -> Path:
    """An Amazon-style file whose every scanpath is a single fixation (6 x 14 covers of 100 px)."""
    rng = np.random.default_rng(0)
    blob = {f"c{i}.jpg": {"size": {"width": 1400, "height": 600}, "target": "book",
                          "ground_truth": [{"xmin": 10, "ymin": 10, "xmax": 90, "ymax": 90}],
                          "fixations": {str(s): [[float(rng.uniform(0, 1400)), float(rng.uniform(0, 600))]]
                                        for s in range(subjects)}}
            for i in range(collages)}
    path.write_text(json.dumps(blob))
    return path


def _setup(root: Path) -> dict[str, Path]:
    previous = root / "previous"
    previous.mkdir()
    (previous / "model.pt").write_bytes(b"earlier weights")
    (previous / "history.csv").write_text("epoch,train_loss\n0,1.0\n")
    model_dir = root / "model_dir"
    model_dir.mkdir()
    (model_dir / "split.json").write_text(json.dumps({"dataset": "synthetic", "seed": 0, "train": [], "val": [],
                                                      "test": []}))
    (model_dir / "model.pt").write_bytes(b"")
    corrupt = root / "corrupt_model"
    corrupt.mkdir()
    (corrupt / "split.json").write_text((model_dir / "split.json").read_text())
    (corrupt / "model.pt").write_bytes(b"PK\x03\x04 not really a torch file")
    (root / "a_file").write_text("I am a file")
    (root / "bad_key.yaml").write_text("d_model: 16\nalpha: 0.5\n")
    (root / "bad_type.yaml").write_text("d_model: big\n")
    (root / "bad_yaml.yaml").write_text("d_model: [16\n")
    _one_fixation_amazon(root / "one_fixation.json")
    return {"previous": previous, "model_dir": model_dir, "corrupt": corrupt}


CASES = [
    ("train epochs -1", ["scanpath", "train", "synthetic", "--out", "{new}", "--epochs", "-1"], "--epochs"),
    ("train epochs 0", ["scanpath", "train", "synthetic", "--out", "{new}", "--epochs", "0"], "--epochs"),
    ("evaluate epochs 0", ["scanpath", "evaluate", "synthetic", "--out", "{new}", "--epochs", "0"], "--epochs"),
    ("train n-layers 0", ["scanpath", "train", "synthetic", "--out", "{new}", "--n-layers", "0"], "--n-layers"),
    ("unknown data set", ["scanpath", "train", "amazn", "--out", "{new}"], "neither a known name"),
    ("missing interiors folder", ["scanpath", "train", "interiors", "--train", "{root}/nope", "--out", "{new}",
                                  "--feature-model", "cogvision.models.builtin:tiny_cnn"], "does not exist"),
    ("missing evaluate test folder", ["scanpath", "evaluate", "interiors", "--train", "{root}/nope", "--out",
                                      "{new}", "--feature-model", "cogvision.models.builtin:tiny_cnn"],
     "does not exist"),
    ("one-fixation data", ["scanpath", "train", "{root}/one_fixation.json", "--out", "{new}", *TINY],
     "behavioural delta cannot select an epoch"),
    ("one-fixation data, evaluate", ["scanpath", "evaluate", "{root}/one_fixation.json", "--out", "{new}", "--seeds",
                                     "0", *TINY], "behavioural delta cannot select an epoch"),
    ("unknown predict part", ["scanpath", "predict", "{root}/model_dir", "--out", "{new}", "--part", "best"],
     "--part"),
    ("empty model checkpoint", ["scanpath", "predict", "{root}/model_dir", "--out", "{new}", "--device", "cpu"],
     "is empty"),
    ("corrupt model checkpoint", ["scanpath", "predict", "{root}/corrupt_model", "--out", "{new}", "--device",
                                  "cpu"], "not a torch file"),
    ("predict without split.json", ["scanpath", "predict", "{root}/previous", "--out", "{new}"],
     "split.json does not exist"),
    ("out is a file", ["scanpath", "train", "synthetic", "--out", "{root}/a_file"], "is a file"),
    ("out exists", ["scanpath", "evaluate", "synthetic", "--out", "{root}/previous"], "--overwrite"),
    ("unknown key in config", ["scanpath", "train", "synthetic", "--out", "{new}", "--config", "{root}/bad_key.yaml"],
     "alpha: unknown key"),
    ("wrong type in config", ["scanpath", "evaluate", "synthetic", "--out", "{new}", "--config",
                              "{root}/bad_type.yaml"], "d_model"),
    ("malformed config", ["scanpath", "train", "synthetic", "--out", "{new}", "--config", "{root}/bad_yaml.yaml"],
     "not valid yaml"),
    ("unknown preset", ["scanpath", "train", "synthetic", "--out", "{new}", "--preset", "huge"], "--preset"),
    ("preset and config", ["scanpath", "train", "synthetic", "--out", "{new}", "--preset", "paper", "--config",
                           "{root}/bad_key.yaml"], "give one of them"),
    ("bad device", ["scanpath", "train", "synthetic", "--out", "{new}", "--device", "gpu"], "device 'gpu'"),
    ("bad seeds", ["scanpath", "evaluate", "synthetic", "--out", "{new}", "--seeds", "0,x"], "--seeds"),
    ("seed list to --seed", ["scanpath", "train", "synthetic", "--out", "{new}", "--seed", "0,1"], "--seed"),
    ("negative samples", ["scanpath", "predict", "{root}/model_dir", "--out", "{new}", "--samples", "-1"],
     "--samples"),
    ("resume without a run", ["scanpath", "train", "synthetic", "--out", "{new}", "--resume", *TINY],
     "nothing to resume"),
    ("COCO file without detections", ["scanpath", "train", "{root}/coco.json", "--out", "{new}"], "--detections"),
]


@pytest.mark.parametrize("name, args, message", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_clear_error(tmp_path, monkeypatch, name, args, message):
    monkeypatch.setenv("COGVISION_CACHE", str(tmp_path / "cache"))
    _setup(tmp_path)
    (tmp_path / "coco.json").write_text('[{"name": "x.jpg"}]')
    before = snapshot(tmp_path, skip=("cache",))
    entries = {p.name for p in tmp_path.iterdir()}
    argv = [a.format(root=tmp_path, new=tmp_path / "new") for a in args]
    result = CliRunner().invoke(app, argv)
    text = " ".join(result.output.split())
    assert result.exit_code == 2, (name, result.output)
    assert message.lower() in text.lower(), (name, result.output)
    assert "Traceback" not in result.output
    assert snapshot(tmp_path, skip=("cache",)) == before  # nothing changed, nothing written
    assert {p.name for p in tmp_path.iterdir()} <= entries | {"cache"}  # no new output, no hidden folder
