"""Stochastic gradient descent with momentum, in PyTorch's convention.

Derived in notebooks/06_sgd_momentum.ipynb.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from torch import Tensor

from .checks import ArgumentError, check_mask, check_number, without_history
from .module import Module, Parameter, zeros_like


class SGD:
    """v <- mu v + g; p <- p - lr v (v starts at 0), as in PyTorch's SGD.

    Args:
        params: model.params() (Parameter objects) or the EE-559 handout's
            model.param() ((value, gradient) pairs, updated in place), any shapes.
        lr: the learning rate, a finite number > 0.
        momentum: mu, in [0, 1) (0: plain SGD).

    Raises:
        TypeError: params is not such a list (a method not called, a module, a tensor).
        ValueError: an empty list, or a parameter given twice.
        ArgumentError: lr or momentum out of range.

    Derived in notebooks/06_sgd_momentum.ipynb.
    """

    def __init__(
        self,
        params: Iterable[Parameter] | Iterable[tuple[Tensor, Tensor]],
        lr: float,
        momentum: float = 0.0,
    ) -> None:
        self.params = _parameters(params)
        self.lr = check_number("SGD", "lr", lr, positive=True)
        self.momentum = check_number("SGD", "momentum", momentum)
        if not 0 <= self.momentum < 1:
            raise ArgumentError(f"SGD: momentum must lie in [0, 1), got {momentum!r}")
        self.velocity: list[Tensor] = []  # allocated at the first step with momentum

    @without_history
    def step(self) -> None:
        """v <- mu v + grad; value <- value - lr v, for every parameter, in place."""
        if not self.momentum:
            for p in self.params:
                p.value.add_(p.grad, alpha=-self.lr)
            return
        self.allocate_velocity()
        for p, v in zip(self.params, self.velocity, strict=True):
            v.mul_(self.momentum).add_(p.grad)
            p.value.add_(v, alpha=-self.lr)

    def allocate_velocity(self) -> list[Tensor]:
        """The velocity buffers, one per parameter of its shape, made (at zero) on first use."""
        if len(self.velocity) != len(self.params):
            self.velocity = [zeros_like(p.value) for p in self.params]
        return self.velocity

    def zero_grad(self) -> None:
        """Set every parameter gradient to zero."""
        for p in self.params:
            p.grad.zero_()

    def reset_velocity(self, mask: Tensor | None = None) -> None:
        """v <- 0: forget the momentum.

        Args:
            mask: None for every replica, or a bool tensor (R,): only the replicas where
                it is True (train()'s restart rule uses it).

        Raises:
            ShapeError: a mask that is not a bool tensor (R,).
        """
        if mask is not None and self.velocity:
            check_mask("SGD.reset_velocity", mask, self.velocity[0].shape[0])
        for v in self.velocity:
            if mask is None:
                v.zero_()
            else:
                v[mask] = 0

    def __repr__(self) -> str:
        return f"SGD(lr={self.lr}, momentum={self.momentum}, params={len(self.params)})"


def _parameters(params: Any) -> list[Parameter]:
    """The list of Parameters in params (Parameters or (value, gradient) pairs)."""
    hint = "pass model.params() (or the handout's model.param())"
    if callable(params) and not isinstance(params, Module):
        raise TypeError(f"SGD: params is a method or function, not its result; {hint}")
    if isinstance(params, (Module, Parameter, Tensor, Mapping, str)) or not isinstance(
        params, Iterable
    ):
        raise TypeError(
            f"SGD: params must be a list of parameters, got a {type(params).__name__}; {hint}"
        )
    items = list(params)
    if not items:
        raise ValueError("SGD: params is empty: the model has no parameters to train")
    out: list[Parameter] = []
    for i, p in enumerate(items):
        if isinstance(p, tuple) and len(p) == 2 and all(isinstance(t, Tensor) for t in p):
            value, grad = p
            if value.shape != grad.shape or not value.is_floating_point() or value is grad:
                raise TypeError(
                    f"SGD: params[{i}] is not a (value, gradient) pair of one shape: "
                    f"{tuple(value.shape)} and {tuple(grad.shape)}"
                )
            p = Parameter.from_pair(value, grad)
        elif not isinstance(p, Parameter):
            raise TypeError(
                f"SGD: params[{i}] must be a minidl Parameter or a (value, gradient) pair, "
                f"got {type(p).__name__}; {hint}"
            )
        out.append(p)
    seen: dict[int, int] = {}
    for i, p in enumerate(out):
        j = seen.setdefault(p.value.data_ptr(), i)
        if j != i and out[j].value.shape == p.value.shape and p.value.numel() > 0:
            raise ValueError(f"SGD: params[{i}] is the same parameter as params[{j}]")
    return out
