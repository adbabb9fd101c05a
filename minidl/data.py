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
    """A uniformly random order of range(n) (one per replica): argsort of uniform keys.

    Args:
        n: how many indices, an integer >= 1.
        generator: the torch.Generator of the keys (None: torch's global one).
        replicas: R for one order per replica, or None.
        device: of the result.

    Returns:
        int64 indices (n,), or (R, n).

    Raises:
        ArgumentError: n or replicas not an integer >= 1.

    Derived in notebooks/07_training.ipynb.
    """
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
