"""The report's protocol timed six ways in one process, in interleaved rounds.

Every round runs every engine once (the order rotates from round to round), so that the
engines share the machine's states; the table gives the median seconds (wall clock and
process CPU) and the median over rounds of each engine's time divided by minidl replicas'
time in the same round (a paired ratio, with its range). The loop and torch.nn engines run
a sample of the runs and are scaled to the full count. Peak memory is measured for each
engine in a process of its own; a cost curve gives time per network-epoch and peak memory
for R = 10, 100, 1000 replicas of width 25 and 100. The engines are in engines.py.

Usage: python benchmarks/bench_reproduce.py [--epochs 100] [--rounds 5] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).parent))
from engines import Run, run_autograd, run_floor, run_func, run_minidl, run_torch_nn

from minidl.experiment import reproduce

ENGINES: dict[str, tuple[str, Callable[[int, int], Run], bool]] = {
    # name: (description, run(runs, epochs), sampled)
    "replicas": ("minidl replicas, all runs in one pass", run_minidl, False),
    "autograd": ("batched autograd (R, out, in) + optim.SGD", run_autograd, False),
    "func": ("torch.func vmap(grad) + optim.SGD", run_func, False),
    "floor": ("tensor-op floor: minidl's step, no framework", run_floor, False),
    "loop": ("minidl loop, one network at a time", lambda r, e: run_minidl(r, e, engine="loop"),
             True),
    "torch.nn": ("torch.nn + autograd, one run after another", run_torch_nn, True),
}  # fmt: skip


def _peak_mb() -> float:
    """This process's peak resident memory. VmHWM, not ru_maxrss: Linux carries a parent's
    ru_maxrss over into a child it starts, VmHWM starts afresh with the child's program."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> str:
    """The CPU model, its core count, torch's version and thread count."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores; torch {torch.__version__}, "
        f"{torch.get_num_threads()} thread(s), OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}"
    )


def _memory_one(engine: str, runs: int, epochs: int, width: int) -> dict[str, Any]:
    """Run one engine (or minidl at a width) in this fresh process; time and peak memory."""
    baseline = _peak_mb()
    if engine == "curve":  # the training time alone; the memory includes the evaluation
        seconds = reproduce(runs, epochs, width=width).seconds
    else:
        seconds = ENGINES[engine][1](runs, epochs).seconds
    return {"seconds": seconds, "peak_mb": _peak_mb(), "baseline_mb": baseline}


def in_own_process(engine: str, runs: int, epochs: int, width: int = 25) -> dict[str, Any]:
    """_memory_one in a subprocess, so that its peak resident memory is its own."""
    cmd = [sys.executable, __file__, "--one", engine, "--runs", str(runs),
           "--epochs", str(epochs), "--width", str(width)]  # fmt: skip
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def timing(runs: int, sample: int, epochs: int, rounds: int) -> None:
    """Interleaved rounds of every engine; print the table of medians and paired ratios."""
    names = list(ENGINES)
    for name in names:  # warm-up at the timed size: imports, first allocations, kernels
        ENGINES[name][1](sample if ENGINES[name][2] else runs, 2)
    wall: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    errors: dict[str, list[float]] = {}
    for k in range(rounds):
        order = names[k % len(names) :] + names[: k % len(names)]
        for name in order:
            _, run, sampled = ENGINES[name]
            n = sample if sampled else runs
            result = run(n, epochs)
            wall[name].append(result.seconds * runs / n)
            cpu[name].append(result.cpu_seconds * runs / n)
            errors.setdefault(name, result.test_errors)
        print(f"  round {k + 1}/{rounds}: " + ", ".join(f"{n} {wall[n][-1]:.1f} s" for n in order),
              flush=True)  # fmt: skip
    memory = {name: in_own_process(name, sample if ENGINES[name][2] else runs, min(epochs, 10))
              for name in names}  # fmt: skip

    print(f"\nThe report's protocol: {runs} runs x {epochs} epochs, 1000 points, batches of 100,")
    print(
        f"{rounds} interleaved rounds; loop and torch.nn: {sample} runs timed, scaled to {runs}."
    )
    print(f"Machine: {machine()}\n")
    head = (f"{'engine':<44}{'wall s':>8}{'CPU s':>8}{'x replicas':>11}{'range':>13}"
            f"{'CPU x':>7}{'peak MB':>9}{'test %':>8}")  # fmt: skip
    print(head)
    print("-" * len(head))
    ref_wall, ref_cpu = wall["replicas"], cpu["replicas"]
    for name in names:
        ratios = [a / b for a, b in zip(wall[name], ref_wall, strict=True)]
        cpu_ratio = statistics.median(a / b for a, b in zip(cpu[name], ref_cpu, strict=True))
        spread = f"{min(ratios):.2f}-{max(ratios):.2f}"
        label = ENGINES[name][0] + (" *" if ENGINES[name][2] else "")
        print(f"{label:<44}{statistics.median(wall[name]):>8.2f}{statistics.median(cpu[name]):>8.2f}"
              f"{statistics.median(ratios):>10.2f}x{spread:>13}{cpu_ratio:>6.2f}x"
              f"{memory[name]['peak_mb']:>9.0f}{statistics.mean(errors[name]):>8.2f}")  # fmt: skip
    print(
        "\nwall s, CPU s: medians over rounds (* scaled from the sampled runs); x replicas: median"
        "\nover rounds of (engine time / minidl replicas time in the same round), range: its"
        "\nsmallest and largest; CPU x: the same for process CPU time; peak MB: peak resident"
        "\nmemory of the engine alone in a fresh process (at most 10 epochs); test %: mean test"
        "\nerror of the first round (the engines run the same protocol: equal up to rounding)."
    )


def cost_curve(quick: bool) -> None:
    """Training time per network-epoch, and peak memory (evaluation included), for R
    replicas of width 25 and 100."""
    print(f"\nCost curve of minidl replicas (each point in its own process; {machine()})")
    print(f"{'R':>6}{'width':>7}{'epochs':>8}{'train s':>9}{'ms per network-epoch':>22}"
          f"{'peak MB':>9}")  # fmt: skip
    for width in (25, 100):
        for runs in (10, 100, 1000):
            epochs = max(1, (200 if quick else 1000) // runs // (4 if width == 100 else 1))
            row = in_own_process("curve", runs, epochs, width)
            per = row["seconds"] / (runs * epochs) * 1e3
            print(f"{runs:>6}{width:>7}{epochs:>8}{row['seconds']:>9.2f}{per:>22.3f}"
                  f"{row['peak_mb']:>9.0f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=100, help="runs in the experiment")
    parser.add_argument("--sample", type=int, default=10, help="runs timed for loop, torch.nn")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="10 epochs, 3 rounds, 5 sampled")
    parser.add_argument("--no-curve", action="store_true", help="skip the cost curve")
    parser.add_argument("--width", type=int, default=25, help=argparse.SUPPRESS)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    if args.one:
        print(json.dumps(_memory_one(args.one, args.runs, args.epochs, args.width)))
        return
    if args.quick:
        args.epochs, args.rounds, args.sample = 10, 3, 5
    timing(args.runs, args.sample, args.epochs, args.rounds)
    if not args.no_curve:
        cost_curve(args.quick)


if __name__ == "__main__":
    main()
