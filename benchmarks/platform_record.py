"""Stamp results files with the platform that made them: torch, CPU, BLAS, threads.

`make results` runs it on results/*.json after computing them (minidl itself may not read
torch's version or backends: the course rule). A stamped summary gains a "platform" key;
in a sweep's list every summary gains it. Each file is rewritten whole or not at all.

    python benchmarks/platform_record.py results/*.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
from typing import Any

import torch

from minidl.stats import write_json


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else what `platform` knows."""
    try:
        with open("/proc/cpuinfo") as f:
            found = re.search(r"^model name\s*:\s*(.+)$", f.read(), re.MULTILINE)
        if found:
            return found[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas() -> str:
    """The BLAS torch was built with, from its build configuration."""
    config = torch.__config__.show()
    found = re.search(r"BLAS_INFO=(\w+)", config)
    names = [found[1]] if found else []
    if "MKL" in config and "mkl" not in names:
        names.append("mkl")
    return ", ".join(names) or "unknown"


def record() -> dict[str, Any]:
    """Where results are made: versions, CPU, the kernels torch picks, BLAS, threads."""
    return {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "blas": blas(),
        "torch_threads": torch.get_num_threads(),
        "env": {
            k: os.environ[k]
            for k in ("OMP_NUM_THREADS", "ATEN_CPU_CAPABILITY", "MKL_CBWR")
            if k in os.environ
        },
    }


def stamp(path: str, where: dict[str, Any]) -> None:
    """Add where to the summary (or to each summary of a sweep) in the JSON file at path."""
    with open(path) as f:
        payload = json.load(f)
    for summary in payload if isinstance(payload, list) else [payload]:
        summary["platform"] = where
    write_json(payload, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", help="results files to stamp")
    args = parser.parse_args()
    where = record()
    for path in args.paths:
        stamp(path, where)
    print(
        f"stamped {len(args.paths)} files: torch {where['torch']}, {where['cpu']}, "
        f"{where['cpu_capability']}, {where['blas']}, {where['torch_threads']} thread(s)"
    )


if __name__ == "__main__":
    main()
