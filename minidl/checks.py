"""Checks at every entry point: the error types, the argument validators, no autograd history.

Bad input raises at once with a message that names the function or module (`owner`) and
the shapes, dtypes or values involved. Every other file of minidl builds on this one, and
it imports nothing from them. Used from notebooks/01_linear.ipynb on.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from numbers import Integral, Real
from typing import Any, ParamSpec, TypeVar

import torch
from torch import Tensor

P = ParamSpec("P")
T = TypeVar("T")


class ShapeError(ValueError, RuntimeError):
    """A tensor has the wrong shape: a ValueError, and a RuntimeError as in torch.

    Raised by the modules from notebooks/01_linear.ipynb on (Linear refuses an input that
    does not end in in_features).
    """


class ArgumentError(ValueError, TypeError):
    """An argument is not of the required kind or range: a ValueError and a TypeError.

    Raised by the constructors from notebooks/01_linear.ipynb on (Linear refuses sizes
    that are not integers >= 1).
    """


def check_size(owner: str, name: str, value: Any) -> int:
    """Return value if it is an integer >= 1.

    Args:
        owner: the caller, named in the message.
        name: the argument's name, named in the message.
        value: the argument.

    Returns:
        value as an int.

    Raises:
        ArgumentError: value is not an integer >= 1 (bools are refused).
    """
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ArgumentError(f"{owner}: {name} must be an integer >= 1, got {value!r}")
    return int(value)


def check_number(
    owner: str, name: str, value: Any, *, positive: bool = False, finite: bool = True
) -> float:
    """Return value as a float if it is a real number (> 0 if positive, finite if finite).

    Args:
        owner: the caller, named in the message.
        name: the argument's name, named in the message.
        value: the argument.
        positive: require value > 0.
        finite: refuse NaN and infinities.

    Returns:
        value as a float.

    Raises:
        ArgumentError: value is not such a number (bools are refused).
    """
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ArgumentError(f"{owner}: {name} must be a number, got {value!r}")
    v = float(value)
    if (finite and not math.isfinite(v)) or (positive and not v > 0):
        kind = "a finite number" if finite else "a number"
        raise ArgumentError(
            f"{owner}: {name} must be {kind}{' > 0' if positive else ''}, got {v!r}"
        )
    return v


def check_tensor(owner: str, x: Any, what: str = "input") -> Tensor:
    """Return x if it is a floating-point tensor.

    Args:
        owner: the caller, named in the message.
        x: the argument, of any shape.
        what: its name in the message.

    Returns:
        x, unchanged.

    Raises:
        TypeError: x is not a tensor, or not a floating-point one.
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"{owner}: {what} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{owner}: {what} must be a floating-point tensor, got {x.dtype}")
    return x


def check_finite(owner: str, x: Tensor, what: str) -> Tensor:
    """Return x if every value is finite.

    Args:
        owner: the caller, named in the message.
        x: a tensor of any shape.
        what: its name in the message.

    Returns:
        x, unchanged.

    Raises:
        ValueError: x holds NaN or inf; the message counts them and names the first.
    """
    bad = ~x.isfinite()
    if bool(bad.any()):
        count = int(bad.sum())
        index = tuple(int(i) for i in bad.nonzero()[0].tolist())
        raise ValueError(
            f"{owner}: {what} holds {count} non-finite value(s) (NaN or inf), the first "
            f"{x[index].item()!r} at index {list(index)}; clean or drop those points first"
        )
    return x


def check_mask(owner: str, mask: Any, replicas: int | None) -> None:
    """Accept None, or a bool mask (R,) that picks some of R replicas.

    Args:
        owner: the caller, named in the message.
        mask: None, or a bool tensor of shape (replicas,).
        replicas: R of the parameters the mask applies to (None: no replicas).

    Raises:
        ArgumentError: a mask for parameters without replicas.
        ShapeError: mask is not a bool tensor of shape (replicas,).
    """
    if mask is None:
        return
    if replicas is None:
        raise ArgumentError(f"{owner}: a replica mask needs parameters built with replicas=R")
    if not isinstance(mask, Tensor) or mask.dtype != torch.bool or mask.shape != (replicas,):
        got = f"{mask.dtype} {tuple(mask.shape)}" if isinstance(mask, Tensor) else type(mask)
        raise ShapeError(f"{owner}: mask must be a bool tensor of shape ({replicas},), got {got}")


def without_history(method: Callable[P, T]) -> Callable[P, T]:
    """Run method with torch's graph recording off (a no-op check when it is already off).

    minidl never records autograd history, whatever the grad mode.
    """

    @functools.wraps(method)
    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        if torch.is_grad_enabled():
            with torch.no_grad():
                return method(*args, **kwargs)
        return method(*args, **kwargs)

    return run
