"""compare(): one platform-stable verdict line per numeric check, or an AssertionError.

Every notebook checks its derivations with it (first in notebooks/01_linear.ipynb).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from .checks import ShapeError

Values = Tensor | float | int | Sequence[Tensor | float | int]


def _as_tensors(owner: str, what: str, values: Values) -> list[Tensor]:
    """One float64 CPU tensor per item: a tensor, a number, or a sequence of them."""
    items = list(values) if isinstance(values, (list, tuple)) else [values]
    out = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (Tensor, float, int)):
            raise TypeError(f"{owner}: {what} must hold tensors or numbers, got {type(item)}")
        t = item if isinstance(item, Tensor) else torch.empty(()).fill_(float(item))
        if t.is_complex():
            raise TypeError(f"{owner}: {what} must be real, got {t.dtype}")
        out.append(t.detach().to(device="cpu", dtype=torch.float64))
    return out


def _fmt(tol: float) -> str:
    return f"{tol:.0e}" if tol else "0"


def compare(
    name: str,
    actual: Values,
    expected: Values,
    *,
    atol: float = 1e-12,
    rtol: float = 1e-10,
    quiet: bool = False,
) -> None:
    """Check |actual - expected| <= atol + rtol |expected| entry by entry, then say so.

    Values are compared in float64; NaN never agrees, and an infinity only agrees with
    the same infinity. Prints one line that depends only on name and the tolerances, so
    it reads the same on every CPU: "NAME: agrees within atol=1e-12, rtol=1e-10".

    Args:
        name: what is compared, the start of the line.
        actual: a tensor, a number, or a sequence of them.
        expected: the same kind, each of the shape of its actual (no broadcasting).
        atol: the absolute tolerance, >= 0.
        rtol: the relative tolerance, >= 0.
        quiet: print nothing.

    Raises:
        AssertionError: entries differ; the message names the worst (its two values and
            their difference) and counts the failing ones.
        ShapeError: the shapes or the numbers of tensors differ (a ValueError).
        TypeError: anything but real tensors and numbers.
        ValueError: a negative tolerance.

    Used from notebooks/01_linear.ipynb on.
    """
    if not (atol >= 0 and rtol >= 0):
        raise ValueError(f"compare({name!r}): atol and rtol must be >= 0, got {atol}, {rtol}")
    ours = _as_tensors(f"compare({name!r})", "actual", actual)
    refs = _as_tensors(f"compare({name!r})", "expected", expected)
    if len(ours) != len(refs):
        raise ShapeError(
            f"compare({name!r}): {len(ours)} actual tensors but {len(refs)} expected ones"
        )
    tolerance = f"atol={_fmt(atol)}, rtol={_fmt(rtol)}"
    worst: tuple[float, int, tuple[int, ...], float, float] | None = None
    failing = total = 0
    for k, (a, e) in enumerate(zip(ours, refs, strict=True)):
        if a.shape != e.shape:
            raise ShapeError(
                f"compare({name!r}): actual{f'[{k}]' if len(ours) > 1 else ''} has shape "
                f"{tuple(a.shape)}, expected {tuple(e.shape)}"
            )
        # excess > 1 means outside the tolerance; NaN, or an infinity against anything
        # but the same infinity, counts as infinitely far.
        diff = (a - e).abs().masked_fill(a.isinf() & (a == e), 0.0).nan_to_num(nan=float("inf"))
        allowed = atol + rtol * e.abs().nan_to_num(nan=0.0, posinf=0.0)
        excess = (diff / allowed).nan_to_num(nan=0.0)  # 0 / 0: an exact match at zero tolerance
        bad = excess > 1
        failing += int(bad.sum())
        total += a.numel()
        if bool(bad.any()):
            i = int(excess.reshape(-1).argmax())
            score = float(excess.reshape(-1)[i])
            if worst is None or score > worst[0]:
                index = tuple(unravel_index(i, a.shape))
                worst = (score, k, index, float(a.reshape(-1)[i]), float(e.reshape(-1)[i]))
    if worst is not None:
        _, k, index, got, want = worst
        where = (f"[{k}]" if len(ours) > 1 else "") + (str(list(index)) if index else "")
        raise AssertionError(
            f"{name}: {failing} of {total} entries differ beyond {tolerance}; worst at "
            f"{where or 'the value'}: got {got:.6g}, expected {want:.6g} "
            f"(difference {abs(got - want):.2e})"
        )
    if not quiet:
        print(f"{name}: agrees within {tolerance}")


def unravel_index(k: int, shape: torch.Size) -> list[int]:
    """The multi-index of flat position k in a tensor of the given shape (row-major)."""
    index = []
    for size in reversed(shape):
        index.append(k % size)
        k //= size
    return index[::-1]
