"""Time the report's protocol three ways on the same data and print ratios against torch.nn.

(a) minidl replicas: all runs in one pass; (b) minidl's loop engine, one network at a
time; (c) torch.nn + autograd + torch.optim.SGD, one run after another. (b) and (c) run
a sample of the runs and are scaled to the full count. Each engine runs in its own
process, so its peak resident memory is its own. Usage: python benchmarks/bench_reproduce.py
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _one(engine: str, runs: int, epochs: int, threads: int) -> dict[str, Any]:
    """Run one engine in this process and measure it."""
    if threads:
        torch.set_num_threads(threads)
    torch.set_grad_enabled(engine == "torch.nn")
    from minidl.experiment import reproduce  # imported here so the baseline includes it

    sys.path.insert(0, str(Path(__file__).parent))
    from torch_reference import run_torch_nn

    baseline = _peak_mb()
    if engine == "torch.nn":
        r = run_torch_nn(runs=runs, epochs=epochs)
        seconds, test = r["seconds"], r["test_errors"]
    else:
        result = reproduce(runs=runs, epochs=epochs, engine=engine)
        seconds, test = result.seconds, result.test_errors
    return {"engine": engine, "runs": runs, "seconds": seconds, "baseline_mb": baseline,
            "peak_mb": _peak_mb(), "test_error": sum(test) / len(test),
            "threads": torch.get_num_threads()}  # fmt: skip


def main() -> None:
    """Run every engine in a subprocess and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=100, help="runs in the experiment")
    parser.add_argument("--sample", type=int, default=10, help="runs timed for (b) and (c)")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(_one(args.one, args.runs, args.epochs, args.threads)))
        return
    rows = []
    for engine, runs in (
        ("replicas", args.runs),
        ("loop", args.sample),
        ("torch.nn", args.sample),
    ):
        cmd = [sys.executable, __file__, "--one", engine, "--runs", str(runs),
               "--epochs", str(args.epochs), "--threads", str(args.threads)]  # fmt: skip
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        row = json.loads(out.strip().splitlines()[-1])
        row["full_seconds"] = row["seconds"] * args.runs / runs
        rows.append(row)
    ref = rows[-1]["full_seconds"]
    threads = rows[0]["threads"]
    print(f"The report's protocol, {args.runs} runs x {args.epochs} epochs, {threads} thread(s)")
    print(f"{'engine':<22}{'timed runs':>11}{'seconds':>9}{'x torch.nn':>11}"
          f"{'peak MB':>9}{'test err %':>11}")  # fmt: skip
    names = {
        "replicas": "(a) minidl replicas",
        "loop": "(b) minidl loop",
        "torch.nn": "(c) torch.nn",
    }
    for row in rows:
        print(
            f"{names[row['engine']]:<22}{row['runs']:>11}{row['full_seconds']:>9.1f}"
            f"{ref / row['full_seconds']:>10.1f}x{row['peak_mb']:>9.0f}{row['test_error']:>11.2f}"
        )
    print("seconds for (b) and (c) are scaled from the timed runs to the full count;")
    print(
        "x torch.nn = how many times faster than (c); peak MB = the process's peak resident set."
    )


if __name__ == "__main__":
    main()
