"""The disk data set, standardisation fitted on train data, and minibatch indices.

Derived in notebooks/00_task_and_rules.ipynb (batches in notebooks/07_training.ipynb).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from numbers import Real

import torch
from torch import Tensor

from .module import (
    ArgumentError,
    ShapeError,
    check_finite,
    check_size,
    check_tensor,
    without_history,
)

CENTER = 0.5
RADIUS = 1.0 / math.sqrt(2.0 * math.pi)  # pi r^2 = 1/2: the classes are balanced
# The task of the report's published code: a quarter disk at the origin, (pi / 4) r^2 = 1/2.
QUARTER_CENTER = (0.0, 0.0)
QUARTER_RADIUS = math.sqrt(2.0 / math.pi)


def disk_dataset(
    n: int,
    *,
    center: tuple[float, float] = (CENTER, CENTER),
    radius: float = RADIUS,
    generator: torch.Generator | None = None,
    replicas: int | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> tuple[Tensor, Tensor]:
    """x ~ U[0, 1]^2, y = 1[|x - center| < radius]; shapes (n, 2), (n, 1).

    The defaults are the EE-559 handout's disk, centre (0.5, 0.5) and radius 1 / sqrt(2 pi);
    the report's code used center=(0.0, 0.0), radius=sqrt(2 / pi) (QUARTER_CENTER,
    QUARTER_RADIUS). Both have area 1/2 inside the square, so the classes are balanced.
    With replicas=R, R independent sets: (R, n, 2) and (R, n, 1). Raises ArgumentError for
    n < 1, a centre that is not two finite numbers, or a radius that is not finite and > 0.
    """
    check_size("disk_dataset", "n", n)
    lead = () if replicas is None else (check_size("disk_dataset", "replicas", replicas),)
    try:
        cx, cy = (float(c) for c in center)
    except (TypeError, ValueError):
        raise ArgumentError(
            f"disk_dataset: center must be two numbers (x, y), got {center!r}"
        ) from None
    if not (math.isfinite(cx) and math.isfinite(cy)):
        raise ArgumentError(f"disk_dataset: center must be finite, got {center!r}")
    if isinstance(radius, bool) or not isinstance(radius, Real) or not 0 < radius < math.inf:
        raise ArgumentError(f"disk_dataset: radius must be a finite number > 0, got {radius!r}")
    x = torch.empty((*lead, n, 2), dtype=dtype, device=device).uniform_(generator=generator)
    offset = torch.empty(2, dtype=dtype, device=device)
    offset[0], offset[1] = cx, cy
    inside = (x - offset).square().sum(-1, keepdim=True) < float(radius) ** 2
    return x, inside.to(dtype)


@without_history
def fit_standardizer(x: Tensor) -> tuple[Tensor, Tensor]:
    """Mean and standard deviation of each feature over the points (dimension -2).

    x is (n, d) or (R, n, d), n >= 2, every value finite. A feature with zero spread
    gets std 1 (as scikit-learn does), so standardising maps it to 0 instead of NaN.
    Raises ShapeError for fewer than 2 points or dimensions, ValueError for NaN or inf.
    """
    check_tensor("fit_standardizer", x, "x")
    if x.ndim < 2 or x.shape[-2] < 2:
        raise ShapeError(
            f"fit_standardizer: x must be (n, d) with n >= 2 points to measure a spread, "
            f"got shape {tuple(x.shape)}"
        )
    check_finite("fit_standardizer", x, "x")
    std = x.std(dim=-2, keepdim=True)
    return x.mean(dim=-2, keepdim=True), std.masked_fill(std == 0, 1.0)


@without_history
def fit_scalar_standardizer(x: Tensor) -> tuple[Tensor, Tensor]:
    """One mean and one standard deviation over all points and coordinates (the last two
    dimensions), as the report's code computed them; shapes (1, 1), or (R, 1, 1)."""
    return x.mean(dim=(-2, -1), keepdim=True), x.std(dim=(-2, -1), keepdim=True)


@without_history
def standardize(x: Tensor, mean: Tensor, std: Tensor) -> Tensor:
    """(x - mean) / std, with statistics fitted on the training points.

    mean and std as fit_standardizer returns them: (1, d), or (R, 1, d) for (R, n, d)
    x (or (1, 1), (R, 1, 1) from fit_scalar_standardizer). Raises ShapeError when they
    do not fit x, ValueError for a std that is not > 0.
    """
    for what, t in (("x", x), ("mean", mean), ("std", std)):
        check_tensor("standardize", t, what)
    fits = mean.shape == std.shape and mean.ndim <= x.ndim and mean.ndim >= 1
    pairs = zip(reversed(mean.shape), reversed(x.shape), strict=False)
    fits = fits and all(m in (1, n) for m, n in pairs)
    if not fits:
        raise ShapeError(
            f"standardize: mean {tuple(mean.shape)} and std {tuple(std.shape)} do not fit "
            f"x {tuple(x.shape)}; use the statistics fit_standardizer gives for data like x"
        )
    if not bool((std > 0).all()):
        raise ValueError("standardize: every std must be > 0 (fit_standardizer ensures it)")
    return (x - mean) / std


def permutation(
    n: int,
    *,
    generator: torch.Generator | None = None,
    replicas: int | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """A uniformly random order of range(n) (one per replica): argsort of random keys.

    Returns a (n,) int64 tensor, or (R, n) with replicas=R (row r: replica r's order).
    The keys are random integers below 2^b, b = 62 - bits of R (55 for R = 100): two
    keys of one row are equal with probability about n^2 / 2^(b+1), and then the stable
    sort keeps their index order. Raises ArgumentError for sizes that are not integers >= 1.
    Used in notebooks/07_training.ipynb.
    """
    check_size("permutation", "n", n)
    replicas = None if replicas is None else check_size("permutation", "replicas", replicas)
    bits = 62 - (replicas or 1).bit_length()
    keys = torch.empty((replicas or 1, n), dtype=torch.int64, device=device)
    keys.random_(0, 2**bits, generator=generator)
    # One sort of all R n keys, with replica r's keys moved up by r 2^b, gives every
    # replica's order at once: faster than R sorts of n keys.
    offset = torch.empty((replicas or 1, 1), dtype=torch.int64, device=device)
    offset.fill_(1).cumsum_(0).sub_(1)  # r = 0, 1, ..., R - 1
    rows = keys.add_(offset << bits).view(-1).argsort(stable=True).view(keys.shape)
    order = rows.sub_(offset * n)  # row r of the flat order holds r n + i: keep i
    return order if replicas is not None else order[0]


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
