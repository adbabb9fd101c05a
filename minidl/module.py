"""Parameter and Module: the two classes every layer builds on.

Derived in notebooks/01_linear.ipynb.
"""

from __future__ import annotations

import copy
from numbers import Integral
from typing import Any

import torch
from torch import Tensor


class ShapeError(ValueError, RuntimeError):
    """A tensor has the wrong shape: a ValueError, and a RuntimeError as in torch.

    Shown in notebooks/01_linear.ipynb.
    """


class ArgumentError(ValueError, TypeError):
    """A constructor argument is not of the required kind or range.

    Shown in notebooks/01_linear.ipynb.
    """


def zeros_like(t: Tensor) -> Tensor:
    """A zero tensor of t's shape, dtype and device, made with torch.empty."""
    return torch.empty(t.shape, dtype=t.dtype, device=t.device).zero_()


def check_size(owner: str, name: str, value: Any) -> int:
    """Return value if it is an integer >= 1, else raise ArgumentError."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ArgumentError(f"{owner}: {name} must be an integer >= 1, got {value!r}")
    return int(value)


def check_tensor(owner: str, x: Any, what: str = "input") -> Tensor:
    """Return x if it is a floating-point tensor, else raise TypeError."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{owner}: {what} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{owner}: {what} must be a floating-point tensor, got {x.dtype}")
    return x


class Parameter:
    """A trainable tensor `value` and the gradient `grad` that minidl fills by hand.

    Derived in notebooks/01_linear.ipynb.
    """

    def __init__(self, value: Tensor) -> None:
        self.value = value
        self.grad = zeros_like(value)

    @property
    def shape(self) -> torch.Size:
        """The shape shared by value and grad."""
        return self.value.shape

    def __repr__(self) -> str:
        return f"Parameter(shape={tuple(self.value.shape)}, dtype={self.value.dtype})"


class Module:
    """A layer: y = forward(x); backward(dL/dy) accumulates dL/dparams, returns dL/dx.

    Derived in notebooks/01_linear.ipynb.
    """

    _input: Tensor | None = None

    def forward(self, x: Tensor) -> Tensor:
        """Compute the output and keep what backward will need."""
        raise NotImplementedError

    def backward(self, grad_output: Tensor) -> Tensor:
        """Return dL/dx given dL/dy; add dL/dp to each parameter's grad."""
        raise NotImplementedError

    def __call__(self, x: Tensor) -> Tensor:
        return self.forward(x)

    def params(self) -> list[Parameter]:
        """The trainable parameters, in a fixed order."""
        return []

    def param(self) -> list[tuple[Tensor, Tensor]]:
        """The handout's view of params(): (value, gradient) pairs."""
        return [(p.value, p.grad) for p in self.params()]

    def zero_grad(self) -> None:
        """Set every parameter gradient to zero."""
        for p in self.params():
            p.grad.zero_()

    def reset_parameters(
        self, generator: torch.Generator | None = None, replicas: Tensor | None = None
    ) -> None:
        """Redraw the parameters (only the replicas where the bool mask is True)."""

    def replica(self, r: int) -> Module:
        """A single network that shares its storage with replica r of this one."""
        twin = copy.copy(self)
        twin._input = None
        return twin

    def extra_repr(self) -> str:
        """The arguments shown between the parentheses of repr()."""
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"

    # Helpers shared by the layers.
    def _remember(self, x: Tensor) -> Tensor:
        self._input = check_tensor(type(self).__name__, x)
        return x

    def _recall(self, grad_output: Tensor, shape: torch.Size | None = None) -> Tensor:
        """The stored input, after checking that grad_output fits the output."""
        name = type(self).__name__
        if self._input is None:
            raise RuntimeError(f"{name}: backward() called before forward()")
        check_tensor(name, grad_output, "grad_output")
        if grad_output.dtype != self._input.dtype:
            raise TypeError(
                f"{name}: grad_output is {grad_output.dtype} but the input was {self._input.dtype}"
            )
        expected = self._input.shape if shape is None else shape
        if grad_output.shape != expected:
            raise ShapeError(
                f"{name}: grad_output has shape {tuple(grad_output.shape)}, "
                f"but the output had shape {tuple(expected)}"
            )
        return self._input
