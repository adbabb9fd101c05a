"""The report's protocol in torch.nn + autograd + torch.optim.SGD, one run after another.

The reference that minidl is measured against (speed in bench_reproduce.py, errors in
notebooks/09_recipes.ipynb). Same data as minidl.experiment.reproduce for a seed.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import torch
from torch import nn

from minidl.data import disk_dataset, fit_standardizer, standardize
from minidl.stats import write_json

ACTIVATIONS: dict[str, type[nn.Module]] = {"elu": nn.ELU, "relu": nn.ReLU, "selu": nn.SELU}


def torch_network(generator: torch.Generator) -> nn.Sequential:
    """2-25-25-25-1 with ELU(0.2), ReLU, SELU, Sigmoid and PyTorch's default init."""
    state = torch.random.get_rng_state()
    torch.manual_seed(int(torch.empty((), dtype=torch.int64).random_(2**62, generator=generator)))
    net = nn.Sequential(
        nn.Linear(2, 25), nn.ELU(alpha=0.2), nn.Linear(25, 25), nn.ReLU(),
        nn.Linear(25, 25), nn.SELU(), nn.Linear(25, 1), nn.Sigmoid(),
    )  # fmt: skip
    torch.random.set_rng_state(state)
    return net


def run_torch_nn(
    runs: int = 100,
    epochs: int = 100,
    batch_size: int = 100,
    n: int = 1000,
    lr: float = 0.1,
    momentum: float = 0.2,
    seed: int = 0,
    standardize_inputs: bool = True,
) -> dict[str, Any]:
    """Train `runs` torch.nn networks one after another; per-run errors in percent."""
    g = torch.Generator().manual_seed(seed)
    x, y = disk_dataset(n, generator=g, replicas=runs)
    x_test, y_test = disk_dataset(n, generator=g, replicas=runs)
    if standardize_inputs:
        mean, std = fit_standardizer(x)
        x, x_test = standardize(x, mean, std), standardize(x_test, mean, std)
    train_errors, test_errors = [], []
    start = time.perf_counter()
    for r in range(runs):
        net = torch_network(g)
        opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=momentum)
        for _ in range(epochs):
            order = torch.randperm(n, generator=g)
            for i in range(0, n, batch_size):
                idx = order[i : i + batch_size]
                loss = nn.functional.mse_loss(net(x[r, idx]), y[r, idx])
                opt.zero_grad()
                loss.backward()  # type: ignore[no-untyped-call]
                opt.step()
        with torch.no_grad():
            train_errors.append(((net(x[r]) > 0.5) != (y[r] > 0.5)).float().mean().item() * 100)
            test_errors.append(
                ((net(x_test[r]) > 0.5) != (y_test[r] > 0.5)).float().mean().item() * 100
            )
    seconds = time.perf_counter() - start
    return {"runs": runs, "epochs": epochs, "lr": lr, "momentum": momentum, "seed": seed,
            "standardize": standardize_inputs, "seconds": seconds,
            "train_errors": train_errors, "test_errors": test_errors}  # fmt: skip


def main() -> None:
    """Write the 100-run torch.nn reference that notebooks/09_recipes.ipynb reads."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--out", default="results/torch_nn.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    result = run_torch_nn(runs=args.runs, lr=args.lr)
    write_json(result, args.out)  # whole or not at all
    print(f"wrote {args.out} ({result['seconds']:.1f} s)")


if __name__ == "__main__":
    main()
