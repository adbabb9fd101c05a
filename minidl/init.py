"""Xavier initialisation with a gain chosen by the nonlinearity that follows.

Derived in notebooks/02_initialization.ipynb.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .checks import ArgumentError, check_number

NONLINEARITIES = ("linear", "sigmoid", "tanh", "relu", "leaky_relu", "selu", "elu")
PARAMETRIC = ("leaky_relu", "elu")  # the gain depends on the slope / alpha


def _elu_second_moment(alpha: float) -> float:
    """E[elu(z)^2] for z ~ N(0, 1): 1/2 + alpha^2 (e^2 Phi(-2) - 2 e^(1/2) Phi(-1) + 1/2)."""

    def phi_neg(t: float) -> float:  # Phi(-t), the standard normal tail
        return 0.5 * math.erfc(t / math.sqrt(2.0))

    tail = math.e**2 * phi_neg(2.0) - 2.0 * math.exp(0.5) * phi_neg(1.0) + 0.5
    return 0.5 + alpha**2 * tail


def gain(nonlinearity: str, param: float | None = None, *, owner: str = "gain") -> float:
    """The factor g in std = g sqrt(2 / (n_in + n_out)) for the nonlinearity that follows.

    The gain of the nonlinearity f that follows a layer goes on that layer's weights, as
    in the report and torch's kaiming init; notebook 02 measures it against the weights
    after f.
    relu sqrt(2) and leaky_relu sqrt(2 / (1 + slope^2)) keep E[f(z)^2] = E[z^2];
    elu uses the same rule, 1 / sqrt(E[elu(z)^2]) for z ~ N(0, 1) (about 1.406 for
    alpha = 0.2); tanh 5/3 and selu 3/4 are PyTorch's values.

    Args:
        nonlinearity: one of "linear", "sigmoid", "tanh", "relu", "leaky_relu", "selu",
            "elu".
        param: the leaky_relu slope or the elu alpha (default 0.2, minidl's defaults);
            the other nonlinearities take none.
        owner: the caller named in error messages.

    Returns:
        The gain g.

    Raises:
        ArgumentError: an unknown nonlinearity, a param where none is taken, or an elu
            alpha <= 0 (a ValueError).

    Derived in notebooks/02_initialization.ipynb.
    """
    if nonlinearity not in NONLINEARITIES:
        raise ArgumentError(
            f"{owner}: unknown nonlinearity {nonlinearity!r}; expected one of {NONLINEARITIES}"
        )
    if param is not None:
        if nonlinearity not in PARAMETRIC:
            raise ArgumentError(
                f"{owner}: {nonlinearity!r} takes no gain parameter, got {param!r}; only "
                f"{PARAMETRIC} do (their slope / alpha)"
            )
        check_number(owner, "gain_param" if owner != "gain" else "param", param)
        if nonlinearity == "elu" and not param > 0:
            raise ArgumentError(f"{owner}: the elu alpha must be > 0, got {param!r}")
    if nonlinearity in ("linear", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "selu":
        return 3.0 / 4.0
    p = 0.2 if param is None else float(param)
    if nonlinearity == "leaky_relu":
        return math.sqrt(2.0 / (1.0 + p**2))
    return 1.0 / math.sqrt(_elu_second_moment(p))  # elu


def xavier_normal_(
    tensor: Tensor, gain: float = 1.0, generator: torch.Generator | None = None
) -> Tensor:
    """W ~ N(0, gain^2 2 / (in + out)), drawn in place.

    Args:
        tensor: W, (out, in) or (R, out, in); filled in place.
        gain: g, the factor on Xavier's standard deviation sqrt(2 / (in + out)).
        generator: the torch.Generator of the draws (None: torch's global one).

    Returns:
        tensor itself.

    Derived in notebooks/02_initialization.ipynb.
    """
    fan_out, fan_in = tensor.shape[-2], tensor.shape[-1]
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    return tensor.normal_(0.0, std, generator=generator)
