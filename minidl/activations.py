"""Elementwise nonlinearities: forward f(x), backward grad * f'(x).

Derived in notebooks/03_activations.ipynb.
"""

from __future__ import annotations

import math

from torch import Tensor

from .checks import check_number, check_tensor
from .module import Module

_LOG2_E = 1 / math.log(2)  # log2(e): e^z = 2^(z log2 e)


class _Elementwise(Module):
    """y = f(x) elementwise; backward returns grad_output * f'(x), written with y when cheaper.

    backward reads the y that forward returned: change it in place and backward is wrong.
    """

    def forward(self, x: Tensor) -> Tensor:
        """y = f(x), elementwise; saves x and y for backward.

        Args:
            x: a float tensor of any shape (replicas need no special case).

        Returns:
            y, of x's shape.

        Raises:
            TypeError: x is not a floating-point tensor.
        """
        y = self.f(check_tensor(type(self).__name__, x))
        return self._save(y, x, y)

    def backward(self, grad_output: Tensor) -> Tensor:
        """dL/dx = dL/dy * f'(x), elementwise.

        Args:
            grad_output: dL/dy, of the output's shape.

        Returns:
            dL/dx, of the input's shape.

        Raises:
            RuntimeError: no saved forward to take (see Module).
            ShapeError: grad_output not of the output's shape.
            TypeError: grad_output not of the output's dtype.
        """
        x, y = self._saved_tensors(grad_output)
        return self.df(x, y).mul_(grad_output)

    def f(self, x: Tensor) -> Tensor:
        """The function."""
        raise NotImplementedError

    def df(self, x: Tensor, y: Tensor) -> Tensor:
        """Its derivative at x, where y = f(x), as a new tensor."""
        raise NotImplementedError


class ReLU(_Elementwise):
    """f(x) = max(0, x); f'(x) = 1[x > 0] = sign(f(x)) (so f'(0) = 0, as in torch).

    Derived in notebooks/03_activations.ipynb.
    """

    def f(self, x: Tensor) -> Tensor:
        """max(0, x)."""
        return x.clamp(min=0)

    def df(self, x: Tensor, y: Tensor) -> Tensor:
        """1[x > 0], as sign(y): y = max(0, x) is 0 or positive."""
        return y.sign()


class Tanh(_Elementwise):
    """f(x) = tanh(x); f'(x) = 1 - tanh(x)^2 = (1 - tanh(x)) (1 + tanh(x)).

    Derived in notebooks/03_activations.ipynb.
    """

    def f(self, x: Tensor) -> Tensor:
        """tanh(x)."""
        return x.tanh()

    def df(self, x: Tensor, y: Tensor) -> Tensor:
        """1 - y^2, as (1 - y)(1 + y)."""
        # (1 - y)(1 + y): each factor is exact where it is small, so no cancellation
        return (1 - y).mul_(1 + y)


class LeakyReLU(_Elementwise):
    """f(x) = max(x, 0) + slope min(x, 0); f'(x) = slope + (1 - slope) 1[x > 0].

    Args:
        slope: the slope for x < 0 (default 0.2, the report's).

    Raises:
        ArgumentError: slope is not a number.

    Derived in notebooks/03_activations.ipynb.
    """

    def __init__(self, slope: float = 0.2) -> None:
        self.slope = check_number("LeakyReLU", "slope", slope)

    def f(self, x: Tensor) -> Tensor:
        """slope min(x, 0) + max(x, 0)."""
        return x.clamp(max=0).mul_(self.slope).add_(x.clamp(min=0))

    def df(self, x: Tensor, y: Tensor) -> Tensor:
        """slope + (1 - slope) 1[x > 0]."""
        return x.clamp(min=0).sign_().mul_(1 - self.slope).add_(self.slope)

    def extra_repr(self) -> str:
        """The slope, shown by repr()."""
        return f"slope={self.slope}"


class ELU(_Elementwise):
    """f(x) = x if x > 0 else alpha (e^x - 1); f'(x) = 1 if x > 0 else alpha e^x.

    Branch-free, with e^x only ever taken of min(x, 0) so that nothing overflows:
    f = max(x, 0) + alpha expm1(min(x, 0)) (expm1 keeps alpha x near 0), and
    f' = (1 - alpha) 1[x > 0] + alpha e^min(x,0), with e^x itself: from f, alpha e^x
    = f + alpha would cancel to 0 for x << 0.

    Args:
        alpha: the scale of the negative branch, > 0 (default 0.2, the report's).

    Raises:
        ArgumentError: alpha is not a number > 0.

    Derived in notebooks/03_activations.ipynb.
    """

    scale = 1.0

    def __init__(self, alpha: float = 0.2) -> None:
        self.alpha = check_number(type(self).__name__, "alpha", alpha, positive=True)

    def f(self, x: Tensor) -> Tensor:
        """scale (max(x, 0) + alpha expm1(min(x, 0))); scale = 1 for ELU."""
        # max(x, 0) + alpha expm1(min(x, 0)): one of the two terms is 0 at every x
        y = x.clamp(min=0).add_(x.clamp(max=0).expm1_(), alpha=self.alpha)
        return y if self.scale == 1.0 else y.mul_(self.scale)

    def df(self, x: Tensor, y: Tensor) -> Tensor:
        """scale (alpha e^min(x,0) + (1 - alpha) 1[x > 0])."""
        # scale (alpha e^z + (1 - alpha) 1[x > 0]), z = min(x, 0), 1[x > 0] = sign(max(x, 0));
        # e^z as 2^(z log2 e): exp2 is several times faster than exp on many CPUs; its
        # relative error grows with |z| (rounding z log2 e): in float32 a few ulps near
        # 0, about 30 (4e-6) at z = -88; in float64 below 1e-13
        d = x.clamp(max=0).mul_(_LOG2_E).exp2_().mul_(self.scale * self.alpha)
        return d.add_(x.clamp(min=0).sign_(), alpha=self.scale * (1 - self.alpha))

    def extra_repr(self) -> str:
        """Alpha, shown by repr()."""
        return f"alpha={self.alpha}"


class SELU(ELU):
    """f(x) = scale elu_alpha(x); f'(x) = scale if x > 0 else scale alpha e^x.

    Args:
        alpha: as ELU's, > 0 (default 1.6733, the report's and the self-normalising one).
        scale: > 0 (default 1.0507).

    Raises:
        ArgumentError: alpha or scale is not a number > 0.

    Derived in notebooks/03_activations.ipynb.
    """

    def __init__(self, alpha: float = 1.6733, scale: float = 1.0507) -> None:
        super().__init__(alpha)
        self.scale = check_number("SELU", "scale", scale, positive=True)

    def extra_repr(self) -> str:
        """Alpha and scale, shown by repr()."""
        return f"alpha={self.alpha}, scale={self.scale}"


class Sigmoid(_Elementwise):
    """f(x) = 1 / (1 + e^-x); f'(x) = f(x) (1 - f(x)).

    Computed as a / (a + b) with a = e^min(x,0), b = e^min(-x,0): one of them is 1 and the
    other e^-|x| <= 1, so nothing overflows (where x < 0, this is 1 / (1 + e^-x) multiplied
    above and below by e^x).
    Derived in notebooks/03_activations.ipynb.
    """

    def f(self, x: Tensor) -> Tensor:
        """a / (a + b), a = e^min(x,0), b = e^min(-x,0)."""
        a, b = x.clamp(max=0).exp_(), x.neg().clamp_(max=0).exp_()
        return a.div_(b.add_(a))

    def df(self, x: Tensor, y: Tensor) -> Tensor:
        """y (1 - y)."""
        return (1 - y).mul_(y)
