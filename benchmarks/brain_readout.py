"""Readout of the transformer brain encoder: our gather against the masked-sum design, at equal outputs.

Masked sum (the reference design): every query's output goes through every target's weight row,
(N, Q, d) @ (d, T) -> (N, Q, T), then a one-hot (Q, T) mask keeps each target's own query and sums
over Q: N*Q*T*d multiply-adds. Gather (cogvision): each target takes its query's output and a dot
product with its weights: N*T*d. Both give the same responses (checked before timing).

    .venv/bin/python benchmarks/brain_readout.py           # N=32, Q=50, T=39,548 (Algonauts subj01), d=768
    .venv/bin/python benchmarks/brain_readout.py --small   # N=16, Q=50, T=8,000, d=256

Writes benchmarks/results/brain_readout.json and prints FLOPs and forward+backward step times.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from results_file import write_result

from cogvision.brain.transformer import GatherReadout
from cogvision.device import resolve_device


class MaskedSumReadout(torch.nn.Module):
    """The reference design: all queries through all target rows, then a masked sum over queries."""

    def __init__(self, gather: GatherReadout, n_queries: int):
        super().__init__()
        self.weight = torch.nn.Parameter(gather.weight.detach().clone())
        self.bias = torch.nn.Parameter(gather.bias.detach().clone())
        mask = torch.nn.functional.one_hot(gather.query_index, n_queries).T.to(self.weight.dtype)
        self.register_buffer("mask", mask)  # (Q, T)

    def forward(self, query_out: torch.Tensor) -> torch.Tensor:
        every = query_out @ self.weight.T  # (N, Q, T)
        return (every * self.mask).sum(1) + self.bias


def step_time(module: torch.nn.Module, query_out: torch.Tensor, target: torch.Tensor, repeats: int) -> float:
    times = []
    for _ in range(repeats + 1):
        module.zero_grad(set_to_none=True)
        q = query_out.detach().requires_grad_(True)
        if q.is_cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        torch.nn.functional.mse_loss(module(q), target).backward()
        if q.is_cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return sorted(times[1:])[len(times[1:]) // 2]  # median, after one warm-up


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "brain_readout.json")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    n, q, t, d = (16, 50, 8000, 256) if args.small else (32, 50, 39_548, 768)
    device = resolve_device(args.device)
    torch.manual_seed(0)
    index = torch.randint(0, q, (t,))
    gather = GatherReadout(index, d).to(device)
    masked = MaskedSumReadout(gather, q).to(device)
    query_out = torch.randn(n, q, d, device=device)
    target = torch.randn(n, t, device=device)
    with torch.no_grad():
        diff = float((gather(query_out) - masked(query_out)).abs().max())
    assert diff < 1e-3, f"the two readouts disagree by {diff}"
    flops = {"gather": 2 * n * t * d, "masked_sum": 2 * n * q * t * d + 2 * n * q * t}
    times = {"gather": step_time(gather, query_out, target, args.repeats),
             "masked_sum": step_time(masked, query_out, target, args.repeats)}
    result = {"N": n, "queries": q, "targets": t, "d_model": d, "device": str(device), "max_abs_diff": diff,
              "cpu_threads": torch.get_num_threads(),
              "forward_flops": flops, "step_seconds": times, "flop_ratio": flops["masked_sum"] / flops["gather"],
              "speedup": times["masked_sum"] / times["gather"]}
    out = args.out
    write_result(out, result)
    print(f"N={n} Q={q} T={t} d={d} device={device}  max |difference| {diff:.1e}")
    print(f"{'readout':12} {'fwd GFLOP':>10} {'step s':>8}")
    for name in ("masked_sum", "gather"):
        print(f"{name:12} {flops[name] / 1e9:10.2f} {times[name]:8.4f}")
    print(f"ratio masked/gather: FLOPs {result['flop_ratio']:.1f}x, step time {result['speedup']:.1f}x")


if __name__ == "__main__":
    main()
