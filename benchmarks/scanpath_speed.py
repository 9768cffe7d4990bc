"""Scanpath speed, side by side in one run: MultiMatch (ours, batched) vs multimatch-gaze 0.1.3, and OAT
greedy decoding with the incremental decoder vs re-running the whole decoder at every step (as OAT's release does).

    .venv/bin/python benchmarks/scanpath_speed.py [--images 15] [--scanpaths 1000] [--threads 2] [--out PATH]

Writes ``benchmarks/results/scanpath_speed.json`` (or ``--out``) and prints a table of ratios. MultiMatch scores
every within-image pair of real OSIE scanpaths when the shared data folder exists (else random ones). Decoding
runs on Amazon-sized scenes (6 x 14 objects) with three networks: a demo-size one trained for a few epochs on
the Amazon book covers (or, without the shared data, on synthetic searches of similar length), which stops
at about human lengths (the realistic case, which the goal of 1,000 scanpaths / s is about); and a demo-size
and a paper-size one trained for one epoch, which seldom stop before ``max_len`` (30), about twice the human
length (the pessimistic case). Each row reports the mean decoded length and ``encoder_share``, the share of
the decoding time that the encoder alone takes on the same batches.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from results_file import write_result

from cogvision.scanpath.containers import ScanpathSet
from cogvision.scanpath.metrics import multimatch_many
from cogvision.scanpath.oat import OAT
from cogvision.scanpath.oat_batch import EOS, collate
from data_loaders.shared import shared_dir
from data_loaders.synthetic_scanpaths import make_synthetic_scanpaths


def _scanpaths(n_images: int):
    """Scanpaths of 15 subjects per image and every within-image pair (how consistency is scored)."""
    if shared_dir() is not None:
        from data_loaders.osie import osie_scanpaths

        paths = osie_scanpaths(n_images=n_images)
        source = "OSIE (real)"
    else:
        rng = np.random.default_rng(0)
        paths = [np.column_stack([rng.uniform(0, 800, n), rng.uniform(0, 600, n), rng.uniform(0.1, 0.5, n)])
                 for n in rng.integers(4, 20, 15 * n_images)]
        source = "random"
    pairs = np.array([(i, j) for i in range(len(paths)) for j in range(i + 1, len(paths)) if i // 15 == j // 15])
    return paths, pairs, source


def bench_multimatch(n_images: int) -> list[dict]:
    import multimatch_gaze as mmg

    paths, pairs, source = _scanpaths(n_images)
    rec = [np.rec.fromarrays(p.T, names="start_x,start_y,duration") for p in paths]
    rows = []
    for grouping in (False, True):
        kw = dict(grouping=grouping, TDir=45.0, TDur=0.3, TAmp=80.0)
        t0 = time.perf_counter()
        failures = 0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for a, b in pairs:
                try:
                    mmg.docomparison(rec[a], rec[b], [800, 600], **kw)
                except IndexError:
                    failures += 1
        ref = (time.perf_counter() - t0) / len(pairs)
        t0 = time.perf_counter()
        multimatch_many(paths, (800, 600), pairs, grouping=grouping, tdir=45.0, tdur=0.3, tamp=80.0)
        ours = (time.perf_counter() - t0) / len(pairs)
        rows.append({"task": f"MultiMatch per pair, grouping {'on' if grouping else 'off'} ({source}, all {len(pairs)} "
                             f"within-image pairs of {n_images} images x 15 subjects)",
                     "ours_ms": ours * 1e3, "peer": "multimatch-gaze 0.1.3", "peer_ms": ref * 1e3,
                     "ratio": ref / ours, "peer_failures": failures})
    return rows


def _full_recompute(net, batch, max_len):
    """Greedy decoding that re-runs the whole decoder on the growing sequence at every step."""
    b = batch.obj_label.shape[0]
    dec = torch.zeros(b, 1, dtype=torch.long)
    done = torch.zeros(b, dtype=torch.bool)
    for _ in range(max_len):
        logits = net(dataclasses.replace(batch, dec_in=dec))[:, -1]
        choice = torch.where(done, torch.zeros_like(done, dtype=torch.long), logits.argmax(-1))
        done |= choice == EOS
        dec = torch.cat([dec, choice[:, None]], 1)
        if done.all():
            break
    return dec[:, 1:]


def _realistic_data() -> tuple[ScanpathSet, str]:
    """Searches of human-like length on 6 x 14 grids: Amazon book covers, else synthetic ones of similar length."""
    try:
        from data_loaders.amazon_covers import load_amazon_covers

        return load_amazon_covers(), "Amazon book covers"
    except FileNotFoundError:
        return make_synthetic_scanpaths(n_scenes=100, n_subjects=4, rows=6, cols=14, n_colours=16, guidance=4.0,
                                        seed=1), "synthetic searches"


def bench_decoding(n_scanpaths: int, max_len: int = 30, repeats: int = 5) -> list[dict]:
    """Greedy decoding throughput (median of ``repeats`` timings) and the full re-run peer (on 100 scanpaths)."""
    realistic, source = _realistic_data()
    short = make_synthetic_scanpaths(n_scenes=20, n_subjects=1, rows=6, cols=14, seed=0)
    demo, paper = dict(d_model=128, n_layers=2, ffn=256), dict(d_model=512, n_layers=4, ffn=512)
    cases = (("demo size (d=128, 2+2 layers)", demo, realistic, f"trained 6 epochs on {source}",
              dict(epochs=6, lr=1e-3)),
             ("demo size (d=128, 2+2 layers)", demo, short, "trained 1 epoch", dict(epochs=1)),
             ("paper size (d=512, 4+4 layers)", paper, short, "trained 1 epoch", dict(epochs=1)))
    rows = []
    for size, arch, data, training, budget in cases:
        model = OAT(**arch, **budget, batch_size=20, max_len=max_len, patience=None, pe_iterations=2000, device="cpu",
                    seed=0).fit(data)
        net = model.network_.eval()
        scenes = [data.scenes[t] for t in data.trials]
        n = n_scanpaths if arch is demo else max(n_scanpaths // 10, 20)
        reps = [scenes[k % len(scenes)] for k in range(n)]
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            seqs = model._decode_sequences(net, reps, 0)
            times.append(time.perf_counter() - t0)
        fast = float(np.median(times))
        encoder_s = 0.0  # the encoder alone, on the same batches as the decoding above
        with torch.inference_mode():
            for start in range(0, n, 256):
                batch = collate([(s, None) for s in model._scene_items(reps[start:start + 256])])
                t0 = time.perf_counter()
                net.encode(batch)
                encoder_s += time.perf_counter() - t0
        batch = collate([(s, None) for s in model._scene_items(reps[:100])])
        t0 = time.perf_counter()
        with torch.no_grad():
            _full_recompute(net, batch, max_len)
        slow = (time.perf_counter() - t0) * n / min(n, 100)
        mean_len = float(np.mean([len(s) for s in seqs]))
        data_len = float(np.mean([min(len(s), max_len) for *_, s in data.sequences()]))
        rows.append({"task": f"OAT greedy decoding, {size}, {training}, {n} scanpaths of mean length {mean_len:.1f} "
                             f"(training scanpaths {data_len:.1f}, cut at {max_len}), 84 objects",
                     "mean_length": mean_len, "ours_scanpaths_per_s": n / fast, "peer": "full decoder re-run per step",
                     "peer_scanpaths_per_s": n / slow, "ratio": slow / fast, "goal_scanpaths_per_s": 1000,
                     "encoder_share": encoder_s / fast})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=15, help="OSIE images (15 subjects, 105 pairs each)")
    parser.add_argument("--scanpaths", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "scanpath_speed.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    load = os.getloadavg()[0]
    rows = bench_multimatch(args.images) + bench_decoding(args.scanpaths)
    result = {"machine": f"{platform.processor() or platform.machine()}, torch threads {args.threads}, "
                         f"load average at start {load:.1f}",
              "torch": torch.__version__, "rows": rows}
    out = args.out
    write_result(out, result)
    print(f"{'task':<95} {'ours':>12} {'peer':>12} {'ratio':>8}")
    for r in rows:
        ours = r.get("ours_ms", r.get("ours_scanpaths_per_s"))
        peer = r.get("peer_ms", r.get("peer_scanpaths_per_s"))
        unit = "ms" if "ours_ms" in r else "/s"
        print(f"{r['task']:<95} {ours:>10.3f}{unit} {peer:>10.3f}{unit} {r['ratio']:>7.1f}x")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
