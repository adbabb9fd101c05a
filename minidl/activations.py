"""Elementwise nonlinearities: forward f(x), backward grad * f'(x).

Derived in notebooks/03_activations.ipynb.
"""

from __future__ import annotations

from torch import Tensor

from .module import ArgumentError, Module


class _Elementwise(Module):
    """y = f(x) elementwise; backward returns grad_output * f'(x)."""

    def forward(self, x: Tensor) -> Tensor:
        """y = f(x)."""
        return self.f(self._remember(x))

    def backward(self, grad_output: Tensor) -> Tensor:
        """dL/dx = dL/dy * f'(x)."""
        return grad_output * self.df(self._recall(grad_output))

    def f(self, x: Tensor) -> Tensor:
        """The function."""
        raise NotImplementedError

    def df(self, x: Tensor) -> Tensor:
        """Its derivative, at the stored input."""
        raise NotImplementedError


def _positive(x: Tensor) -> Tensor:
    """1 where x > 0, else 0, in x's dtype (torch's convention: f'(0) is the left side)."""
    return (x > 0).to(x.dtype)


def _check_number(owner: str, name: str, value: float, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ArgumentError(f"{owner}: {name} must be a number, got {value!r}")
    if positive and not value > 0:
        raise ArgumentError(f"{owner}: {name} must be > 0, got {value!r}")
    return float(value)


class ReLU(_Elementwise):
    """f(x) = max(0, x); f'(x) = 1[x > 0].

    Derived in notebooks/03_activations.ipynb.
    """

    def f(self, x: Tensor) -> Tensor:
        return x.clamp(min=0)

    def df(self, x: Tensor) -> Tensor:
        return _positive(x)


class Tanh(_Elementwise):
    """f(x) = tanh(x); f'(x) = 1 - tanh(x)^2.

    Derived in notebooks/03_activations.ipynb.
    """

    def f(self, x: Tensor) -> Tensor:
        return x.tanh()

    def df(self, x: Tensor) -> Tensor:
        return 1 - x.tanh().square()


class LeakyReLU(_Elementwise):
    """f(x) = x if x > 0 else slope x; f'(x) = 1 or slope.

    Derived in notebooks/03_activations.ipynb.
    """

    def __init__(self, slope: float = 0.2) -> None:
        self.slope = _check_number("LeakyReLU", "slope", slope)

    def f(self, x: Tensor) -> Tensor:
        return x.where(x > 0, x * self.slope)

    def df(self, x: Tensor) -> Tensor:
        return _positive(x).mul_(1 - self.slope).add_(self.slope)

    def extra_repr(self) -> str:
        return f"slope={self.slope}"


class ELU(_Elementwise):
    """f(x) = x if x > 0 else alpha (e^x - 1); f'(x) = 1 or alpha e^x.

    e^x is only ever taken of min(x, 0), so large inputs cannot overflow.
    Derived in notebooks/03_activations.ipynb.
    """

    def __init__(self, alpha: float = 0.2) -> None:
        self.alpha = _check_number("ELU", "alpha", alpha, positive=True)

    def f(self, x: Tensor) -> Tensor:
        return x.clamp(min=0) + self.alpha * x.clamp(max=0).expm1()

    def df(self, x: Tensor) -> Tensor:
        return (self.alpha * x.clamp(max=0).exp()).where(x <= 0, 1.0)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class SELU(ELU):
    """f(x) = scale * elu_alpha(x); f'(x) = scale or scale alpha e^x.

    Derived in notebooks/03_activations.ipynb.
    """

    def __init__(self, alpha: float = 1.6733, scale: float = 1.0507) -> None:
        super().__init__(_check_number("SELU", "alpha", alpha, positive=True))
        self.scale = _check_number("SELU", "scale", scale, positive=True)

    def f(self, x: Tensor) -> Tensor:
        return super().f(x).mul_(self.scale)

    def df(self, x: Tensor) -> Tensor:
        return super().df(x).mul_(self.scale)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, scale={self.scale}"


class Sigmoid(_Elementwise):
    """f(x) = 1 / (1 + e^-x); f'(x) = f(x) (1 - f(x)).

    Computed from e^-|x|, which never overflows: f = 1/(1+e) for x >= 0, e/(1+e) else.
    Derived in notebooks/03_activations.ipynb.
    """

    def f(self, x: Tensor) -> Tensor:
        e = x.abs().neg_().exp_()
        return e.where(x < 0, 1.0).div_(1 + e)

    def df(self, x: Tensor) -> Tensor:
        y = self.f(x)
        return y * (1 - y)
