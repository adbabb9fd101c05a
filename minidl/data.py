"""The disk data set, standardisation fitted on train data, and minibatch indices.

Derived in notebooks/00_task_and_rules.ipynb (batches in notebooks/07_training.ipynb).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch import Tensor

from .module import check_size

CENTER = 0.5
RADIUS = 1.0 / math.sqrt(2.0 * math.pi)  # pi r^2 = 1/2: the classes are balanced


def disk_dataset(
    n: int,
    *,
    generator: torch.Generator | None = None,
    replicas: int | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> tuple[Tensor, Tensor]:
    """x ~ U[0, 1]^2, y = 1[|x - (0.5, 0.5)| < 1 / sqrt(2 pi)]; shapes (n, 2), (n, 1).

    With replicas=R, R independent sets: (R, n, 2) and (R, n, 1).
    """
    check_size("disk_dataset", "n", n)
    lead = () if replicas is None else (check_size("disk_dataset", "replicas", replicas),)
    x = torch.empty((*lead, n, 2), dtype=dtype, device=device).uniform_(generator=generator)
    inside = (x - CENTER).square().sum(-1, keepdim=True) < RADIUS**2
    return x, inside.to(dtype)


def fit_standardizer(x: Tensor) -> tuple[Tensor, Tensor]:
    """Mean and standard deviation of each feature over the points (dimension -2)."""
    return x.mean(dim=-2, keepdim=True), x.std(dim=-2, keepdim=True)


def standardize(x: Tensor, mean: Tensor, std: Tensor) -> Tensor:
    """(x - mean) / std, with statistics fitted on the training points."""
    return (x - mean) / std


def permutation(
    n: int,
    *,
    generator: torch.Generator | None = None,
    replicas: int | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """A uniformly random order of range(n) (one per replica): argsort of uniform keys."""
    check_size("permutation", "n", n)
    lead = () if replicas is None else (check_size("permutation", "replicas", replicas),)
    keys = torch.empty((*lead, n), dtype=torch.float64, device=device)
    keys.uniform_(generator=generator)
    # The keys are >= 0, and non-negative doubles order like their bits read as int64:
    # the same order, from an integer sort that is faster than the float one.
    return keys.view(torch.int64).argsort(dim=-1)


def shuffled_batches(
    n: int,
    batch_size: int,
    *,
    generator: torch.Generator | None = None,
    replicas: int | None = None,
    device: torch.device | str | None = None,
) -> Iterator[Tensor]:
    """Index tensors of one epoch: a fresh permutation per replica, cut into batches.

    Yields (batch,) indices, or (R, batch) with replicas=R; the last batch may be short.
    """
    check_size("shuffled_batches", "batch_size", batch_size)
    order = permutation(n, generator=generator, replicas=replicas, device=device)
    for start in range(0, n, batch_size):
        yield order[..., start : start + batch_size]
