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
