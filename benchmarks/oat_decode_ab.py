"""OAT greedy decoding of this checkout against another one (an earlier revision), timed alternately.

The realistic row of ``scanpath_speed.py`` depends on the load of a shared machine as much as on the code, so
a before/after comparison of a change is only fair when both versions run in the same minutes. This script
runs each checkout in its own process, alternately for ``--rounds`` rounds: each process trains the same OAT
(d=128, 2 + 2 layers, 6 epochs, seed 0) on the Amazon covers (synthetic searches of similar length without
the shared data), then times the greedy decoding of 1,000 scanpaths ``--repeats`` times and reports the
median. Make the other checkout with ``git worktree add /tmp/before REV``.

Usage: ``python benchmarks/oat_decode_ab.py --other /tmp/before [--rounds 2] [--threads 2]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from results_file import write_result

HERE = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results" / "oat_decode_ab.json"


def child(repeats: int, threads: int) -> dict:
    """Train and time in this process, with the ``cogvision`` of the current working directory."""
    sys.path.insert(0, str(Path.cwd()))
    import numpy as np
    import torch

    from cogvision.scanpath import OAT

    torch.set_num_threads(threads)
    try:
        from data_loaders.amazon_covers import load_amazon_covers

        data, source = load_amazon_covers(), "Amazon book covers"
    except FileNotFoundError:
        from data_loaders.synthetic_scanpaths import make_synthetic_scanpaths

        data = make_synthetic_scanpaths(n_scenes=100, n_subjects=4, rows=6, cols=14, n_colours=16, guidance=4.0,
                                        seed=1)
        source = "synthetic searches"
    model = OAT(d_model=128, n_layers=2, ffn=256, epochs=6, lr=1e-3, batch_size=20, max_len=30, patience=None,
                pe_iterations=2000, device="cpu", seed=0).fit(data)
    net = model.network_.eval()
    scenes = [data.scenes[t] for t in data.trials]
    reps = [scenes[k % len(scenes)] for k in range(1000)]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        seqs = model._decode_sequences(net, reps, 0)
        times.append(time.perf_counter() - start)
    import cogvision

    return {"scanpaths_per_s": 1000 / float(np.median(times)), "mean_length": float(np.mean([len(s) for s in seqs])),
            "data": source, "cogvision": str(Path(cogvision.__file__).parent.parent)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--other", type=Path, help="the other checkout (e.g. a git worktree of an earlier revision)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.repeats, args.threads)))
        return
    if args.other is None or not (args.other / "cogvision").is_dir():
        raise SystemExit(f"--other must be a checkout of cogvision (a folder holding cogvision/), got {args.other}")
    revision = subprocess.run(["git", "-C", str(args.other), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True).stdout.strip() or "unknown"
    sys.path.insert(0, str(HERE))
    from data_loaders.shared import shared_dir

    env = dict(os.environ)
    if shared_dir() is not None:  # the other checkout may have no shared/ beside it
        env["COGVISION_SHARED"] = str(shared_dir())
    rows = []
    for round_ in range(args.rounds):
        for name, tree in (("other", args.other.resolve()), ("this", HERE)):
            done = subprocess.run([sys.executable, __file__, "--child", "--repeats", str(args.repeats), "--threads",
                                   str(args.threads)], cwd=tree, env=env, capture_output=True, text=True, check=True)
            row = {"round": round_, "checkout": name, **json.loads(done.stdout.strip().splitlines()[-1])}
            rows.append(row)
            print(f"round {round_} {name:<6} {row['scanpaths_per_s']:8.1f} scanpaths/s, mean length "
                  f"{row['mean_length']:.1f}")
    write_result(args.out, {"other_revision": revision, "threads": args.threads, "repeats": args.repeats,
                            "rows": rows})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
