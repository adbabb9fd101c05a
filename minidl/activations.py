"""Elementwise nonlinearities: forward f(x), backward grad * f'(x).

Derived in notebooks/03_activations.ipynb.
"""

from __future__ import annotations

from torch import Tensor

from .module import ArgumentError, Module, check_tensor


class _Elementwise(Module):
    """y = f(x) elementwise; backward returns grad_output * f'(x), written with y when cheaper.

    backward reads the y that forward returned: change it in place and backward is wrong.
    """

    _scratch: tuple[str, ...] = ()  # attributes f() sets for df(), saved with x and y

    def forward(self, x: Tensor) -> Tensor:
        """y = f(x); keeps x and y for backward."""
        y = self.f(check_tensor(type(self).__name__, x))
        return self._save(y, x, y, *(getattr(self, name) for name in self._scratch))

    def backward(self, grad_output: Tensor) -> Tensor:
        """dL/dx = dL/dy * f'(x)."""
        x, y, *scratch = self._saved_tensors(grad_output)
        for name, value in zip(self._scratch, scratch, strict=True):
            setattr(self, name, value)
        return self.df(x, y).mul_(grad_output)

    def f(self, x: Tensor) -> Tensor:
        """The function."""
        raise NotImplementedError

    def df(self, x: Tensor, y: Tensor) -> Tensor:
        """Its derivative at x, where y = f(x), as a new tensor."""
        raise NotImplementedError


def _check_number(owner: str, name: str, value: float, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ArgumentError(f"{owner}: {name} must be a number, got {value!r}")
    if positive and not value > 0:
        raise ArgumentError(f"{owner}: {name} must be > 0, got {value!r}")
    return float(value)


class ReLU(_Elementwise):
    """f(x) = max(0, x); f'(x) = 1[x > 0] = sign(f(x)) (so f'(0) = 0, as in torch).

    Derived in notebooks/03_activations.ipynb.
    """

    def f(self, x: Tensor) -> Tensor:
        return x.clamp(min=0)

    def df(self, x: Tensor, y: Tensor) -> Tensor:
        return y.sign()


class Tanh(_Elementwise):
    """f(x) = tanh(x); f'(x) = 1 - tanh(x)^2.

    Derived in notebooks/03_activations.ipynb.
    """

    def f(self, x: Tensor) -> Tensor:
        return x.tanh()

    def df(self, x: Tensor, y: Tensor) -> Tensor:
        return 1 - y.square()


class LeakyReLU(_Elementwise):
    """f(x) = max(x, 0) + slope min(x, 0); f'(x) = slope + (1 - slope) 1[x > 0].

    Derived in notebooks/03_activations.ipynb.
    """

    def __init__(self, slope: float = 0.2) -> None:
        self.slope = _check_number("LeakyReLU", "slope", slope)

    def f(self, x: Tensor) -> Tensor:
        return x.clamp(max=0).mul_(self.slope).add_(x.clamp(min=0))

    def df(self, x: Tensor, y: Tensor) -> Tensor:
        return x.clamp(min=0).sign_().mul_(1 - self.slope).add_(self.slope)

    def extra_repr(self) -> str:
        return f"slope={self.slope}"


class ELU(_Elementwise):
    """f(x) = x if x > 0 else alpha (e^x - 1); f'(x) = 1 if x > 0 else alpha e^x.

    Branch-free, with e^x only ever taken of min(x, 0) so that nothing overflows:
    f = max(x, 0) + alpha (e^min(x,0) - 1), f' = (1 - alpha) 1[x > 0] + alpha e^min(x,0).
    Derived in notebooks/03_activations.ipynb.
    """

    scale = 1.0
    _scratch = ("_neg", "_pos")
    _neg: Tensor | None = None  # alpha (e^min(x,0) - 1), kept from forward for backward
    _pos: Tensor | None = None  # max(x, 0)

    def __init__(self, alpha: float = 0.2) -> None:
        self.alpha = _check_number(type(self).__name__, "alpha", alpha, positive=True)

    def f(self, x: Tensor) -> Tensor:
        self._neg = x.clamp(max=0).expm1().mul_(self.alpha)  # expm1: exact near 0
        self._pos = x.clamp(min=0)
        y = self._neg + self._pos
        return y if self.scale == 1.0 else y.mul_(self.scale)

    def df(self, x: Tensor, y: Tensor) -> Tensor:
        assert self._neg is not None and self._pos is not None
        # alpha e^min(x,0) = neg + alpha; (1 - alpha) 1[x > 0] lifts it to 1 where x > 0
        d = self._pos.sign().mul_(1 - self.alpha).add_(self._neg).add_(self.alpha)
        return d if self.scale == 1.0 else d.mul_(self.scale)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class SELU(ELU):
    """f(x) = scale elu_alpha(x); f'(x) = scale if x > 0 else scale alpha e^x.

    Derived in notebooks/03_activations.ipynb.
    """

    def __init__(self, alpha: float = 1.6733, scale: float = 1.0507) -> None:
        super().__init__(alpha)
        self.scale = _check_number("SELU", "scale", scale, positive=True)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, scale={self.scale}"


class Sigmoid(_Elementwise):
    """f(x) = 1 / (1 + e^-x); f'(x) = f(x) (1 - f(x)).

    Computed from e^-|x|, which never overflows: f = 1/(1+e) for x >= 0, e/(1+e) else.
    Derived in notebooks/03_activations.ipynb.
    """

    def f(self, x: Tensor) -> Tensor:
        e = x.abs().neg_().exp()
        return e.where(x < 0, 1.0).div_(1 + e)

    def df(self, x: Tensor, y: Tensor) -> Tensor:
        return y * (1 - y)
