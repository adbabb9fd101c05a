"""The disk data set, standardisation fitted on train data, and minibatch indices.

Derived in notebooks/00_task_and_rules.ipynb (batches in notebooks/07_training.ipynb).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from numbers import Real

import torch
from torch import Tensor

from .checks import (
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

    Args:
        n: points per set, an integer >= 1.
        center: the disk's centre (x, y), two finite numbers.
        radius: the disk's radius, finite and > 0.
        generator: the torch.Generator of the draws (None: torch's global one).
        replicas: R for R independent sets, or None for one.
        dtype: of x and y.
        device: of x and y.

    Returns:
        x (n, 2) and y (n, 1) of 0.0 and 1.0, or (R, n, 2) and (R, n, 1).

    Raises:
        ArgumentError: n or replicas not an integer >= 1, a bad centre or radius.

    Derived in notebooks/00_task_and_rules.ipynb.
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

    A feature with zero spread gets std 1 (as scikit-learn does), so standardising maps
    it to 0 instead of NaN.

    Args:
        x: (n, d) or (R, n, d) training points, n >= 2, every value finite.

    Returns:
        (mean, std), each (1, d), or (R, 1, d) with one pair per replica.

    Raises:
        TypeError: x is not a floating-point tensor.
        ShapeError: fewer than 2 points or dimensions.
        ValueError: x holds NaN or inf.
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
    """One mean and one standard deviation over all points and coordinates of x.

    As the report's code computed them: over the last two dimensions of x (n, d) or
    (R, n, d).

    Returns:
        (mean, std), each (1, 1), or (R, 1, 1).
    """
    return x.mean(dim=(-2, -1), keepdim=True), x.std(dim=(-2, -1), keepdim=True)


@without_history
def standardize(x: Tensor, mean: Tensor, std: Tensor) -> Tensor:
    """(x - mean) / std, with statistics fitted on the training points.

    Args:
        x: (n, d) or (R, n, d) points.
        mean: (1, d), or (R, 1, d) for (R, n, d) x, as fit_standardizer returns it
            ((1, 1) or (R, 1, 1) from fit_scalar_standardizer).
        std: of mean's shape, every value > 0.

    Returns:
        The standardised points, of x's shape.

    Raises:
        TypeError: a tensor that is not floating point.
        ShapeError: mean and std do not fit x.
        ValueError: a std that is not > 0.
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

    The keys are random integers below 2^b, b = 62 - bits of R (55 for R = 100); two keys
    of one row are equal with probability about n^2 / 2^(b+1), and then the stable sort
    keeps their index order.

    Args:
        n: how many indices, an integer >= 1.
        generator: the torch.Generator of the keys (None: torch's global one).
        replicas: R for one order per replica, or None.
        device: of the result.

    Returns:
        int64 indices (n,), or (R, n) whose row r is replica r's order.

    Raises:
        ArgumentError: n or replicas not an integer >= 1.

    Derived in notebooks/07_training.ipynb.
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

    Args:
        n: points in the data, an integer >= 1.
        batch_size: points per batch, an integer >= 1; the last batch may be shorter.
        generator: the torch.Generator of the permutation (None: torch's global one).
        replicas: R for one permutation per replica, or None.
        device: of the indices.

    Yields:
        int64 indices (batch,), or (R, batch) with replicas=R.

    Raises:
        ArgumentError: a size that is not an integer >= 1.
    """
    check_size("shuffled_batches", "batch_size", batch_size)
    order = permutation(n, generator=generator, replicas=replicas, device=device)
    for start in range(0, n, batch_size):
        yield order[..., start : start + batch_size]
