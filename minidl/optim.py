"""Stochastic gradient descent with momentum, in PyTorch's convention.

Derived in notebooks/06_sgd_momentum.ipynb.
"""

from __future__ import annotations

from collections.abc import Iterable

from torch import Tensor

from .module import ArgumentError, Parameter, zeros_like


class SGD:
    """v <- mu v + g; p <- p - lr v (v starts at 0), as in PyTorch's SGD.

    Derived in notebooks/06_sgd_momentum.ipynb.
    """

    def __init__(self, params: Iterable[Parameter], lr: float, momentum: float = 0.0) -> None:
        self.params = list(params)
        for i, p in enumerate(self.params):
            if not isinstance(p, Parameter):
                raise TypeError(
                    f"SGD: params[{i}] must be a minidl Parameter, got {type(p).__name__} "
                    "(pass model.params())"
                )
        for name, value in (("lr", lr), ("momentum", momentum)):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ArgumentError(f"SGD: {name} must be a number, got {value!r}")
        if not lr > 0:
            raise ArgumentError(f"SGD: lr must be > 0, got {lr!r}")
        if not 0 <= momentum < 1:
            raise ArgumentError(f"SGD: momentum must lie in [0, 1), got {momentum!r}")
        self.lr, self.momentum = float(lr), float(momentum)
        self.velocity: list[Tensor] = []  # allocated at the first step with momentum

    def step(self) -> None:
        """Update every parameter in place from its accumulated gradient."""
        if not self.momentum:
            for p in self.params:
                p.value.add_(p.grad, alpha=-self.lr)
            return
        self.allocate_velocity()
        for p, v in zip(self.params, self.velocity, strict=True):
            v.mul_(self.momentum).add_(p.grad)
            p.value.add_(v, alpha=-self.lr)

    def allocate_velocity(self) -> list[Tensor]:
        """The velocity buffers, made (at zero) on first use."""
        if len(self.velocity) != len(self.params):
            self.velocity = [zeros_like(p.value) for p in self.params]
        return self.velocity

    def zero_grad(self) -> None:
        """Set every parameter gradient to zero."""
        for p in self.params:
            p.grad.zero_()

    def reset_velocity(self, replicas: Tensor | None = None) -> None:
        """Forget the momentum (only of the replicas where the bool mask is True)."""
        for v in self.velocity:
            if replicas is None:
                v.zero_()
            else:
                v[replicas] = 0

    def __repr__(self) -> str:
        return f"SGD(lr={self.lr}, momentum={self.momentum}, params={len(self.params)})"
