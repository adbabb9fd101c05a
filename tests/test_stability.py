"""Large inputs and saturated probabilities give finite values and gradients.

Finite is not enough: the values must also be torch's (computed with autograd).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.testing import assert_close

import minidl

ACTIVATIONS: dict[str, tuple[Callable[[], minidl.Module], Callable[[Tensor], Tensor]]] = {
    "ReLU": (minidl.ReLU, F.relu),
    "Tanh": (minidl.Tanh, torch.tanh),
    "LeakyReLU": (minidl.LeakyReLU, lambda x: F.leaky_relu(x, 0.2)),
    "ELU": (minidl.ELU, lambda x: F.elu(x, 0.2)),
    "SELU": (minidl.SELU, lambda x: 1.0507 * F.elu(x, 1.6733)),
    "Sigmoid": (minidl.Sigmoid, torch.sigmoid),
}


def torch_grad(fn: Callable[[Tensor], Tensor], x: Tensor) -> tuple[Tensor, Tensor]:
    """fn(x) and d sum(fn(x)) / dx by autograd."""
    with torch.enable_grad():
        leaf = x.clone().requires_grad_()
        out = fn(leaf)
        (grad,) = torch.autograd.grad(out.sum(), leaf)
    return out.detach(), grad


@pytest.mark.parametrize("name", ACTIVATIONS)
@pytest.mark.parametrize("magnitude", [1e3, 1e4])
def test_activation_finite_at_large_inputs(name: str, magnitude: float) -> None:
    make, reference = ACTIVATIONS[name]
    module = make()
    x = torch.tensor([-magnitude, -50.0, -1.0, 0.0, 1.0, 50.0, magnitude])

    y = module(x)
    grad_x = module.backward(torch.ones_like(x))

    assert bool(torch.isfinite(y).all()) and bool(torch.isfinite(grad_x).all())
    y_ref, grad_ref = torch_grad(reference, x)
    assert_close(y, y_ref)
    assert_close(grad_x, grad_ref)


@pytest.mark.parametrize("magnitude", [1e3, 1e4])
def test_mse_finite_at_large_inputs(magnitude: float) -> None:
    p = torch.tensor([[magnitude], [-magnitude], [magnitude]])
    t = torch.tensor([[-magnitude], [magnitude], [magnitude]])
    loss_fn = minidl.MSELoss()

    loss = loss_fn(p, t)
    grad = loss_fn.backward()

    assert math.isfinite(float(loss)) and bool(torch.isfinite(grad).all())
    assert_close(loss, F.mse_loss(p, t))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_bce_finite_at_saturated_probabilities(dtype: torch.dtype) -> None:
    p = torch.tensor([[0.0], [0.0], [1.0], [1.0]], dtype=dtype)
    t = torch.tensor([[0.0], [1.0], [0.0], [1.0]], dtype=dtype)
    loss_fn = minidl.BCELoss()

    loss = loss_fn(p, t)
    grad = loss_fn.backward()

    assert math.isfinite(float(loss)) and bool(torch.isfinite(grad).all())
    loss_ref, grad_ref = torch_grad(lambda q: F.binary_cross_entropy(q, t), p)
    assert_close(loss, loss_ref)
    assert_close(grad, grad_ref)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("p", [1e-4, 1e-6, 1e-8, 1e-12])
def test_bce_keeps_relative_accuracy_for_confident_predictions(
    dtype: torch.dtype, p: float
) -> None:
    """-log(1 - p) for tiny p is about p; log(1 - p) loses it, log1p(-p) keeps it."""
    prediction = torch.tensor([[p]], dtype=dtype)
    exact = -math.log1p(-float(prediction))  # in double precision, from the stored p
    loss = float(minidl.BCELoss()(prediction, torch.zeros_like(prediction)))
    assert loss == pytest.approx(exact, rel=1e-5, abs=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("x", [-1e-3, -1e-6, -1e-8, -1e-12])
@pytest.mark.parametrize("make", [minidl.ELU, minidl.SELU], ids=["ELU", "SELU"])
def test_elu_keeps_relative_accuracy_near_zero(
    make: Callable[[], minidl.ELU], x: float, dtype: torch.dtype
) -> None:
    """alpha (e^x - 1) for tiny x is about alpha x; e^x - 1 loses it, expm1 keeps it."""
    module = make()
    stored = torch.tensor([x], dtype=dtype)
    scale = getattr(module, "scale", 1.0)
    exact = scale * module.alpha * math.expm1(float(stored))  # double precision
    assert float(module(stored)) == pytest.approx(exact, rel=1e-5, abs=0)


# Derivatives at extreme inputs: relative accuracy, in float32 and float64 -----------------

EXTREMES = [-80.0, -50.0, -20.0, -10.0, -3.0, -1e-3, -1e-8, 0.0, 1e-8, 1e-3, 3.0, 10.0, 20.0, 80.0]
RTOL = {torch.float32: 1e-5, torch.float64: 1e-12}


def minidl_derivative(make: Callable[[], minidl.Module], x: Tensor) -> Tensor:
    module = make()
    module(x)
    return module.backward(torch.ones_like(x))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_derivative_matches_torch_relatively_at_extremes(name: str, dtype: torch.dtype) -> None:
    """f'(x) against torch.autograd in the same dtype, with no absolute tolerance at all."""
    make, reference = ACTIVATIONS[name]
    x = torch.tensor(EXTREMES, dtype=dtype)
    _, expected = torch_grad(reference, x)
    assert_close(minidl_derivative(make, x), expected, rtol=RTOL[dtype], atol=0)


@pytest.mark.parametrize("make", [minidl.ELU, minidl.SELU], ids=["ELU", "SELU"])
def test_elu_derivative_is_alpha_exp_x_in_float32(make: Callable[[], minidl.ELU]) -> None:
    """scale alpha e^x for x << 0 to float32 accuracy: from f + alpha it would cancel to 0."""
    module = make()
    x = torch.tensor([-1.0, -5.0, -10.0, -20.0, -40.0, -80.0])
    exact = [module.scale * module.alpha * math.exp(v) for v in x.tolist()]
    got = minidl_derivative(make, x).tolist()
    assert got == pytest.approx(exact, rel=2e-6, abs=0)


@pytest.mark.parametrize("make", [minidl.ELU, minidl.SELU], ids=["ELU", "SELU"])
def test_elu_f_and_df_keep_no_state(make: Callable[[], minidl.ELU]) -> None:
    """df(x, y) reads only its arguments: f on other inputs in between changes nothing."""
    module = make()
    x = torch.tensor([-3.0, -0.5, 0.0, 0.5, 3.0], dtype=torch.float64)
    y = module.f(x)
    expected = module.df(x, y)
    assert not any(isinstance(v, Tensor) for v in vars(module).values())
    module.f(torch.tensor([7.0, -7.0], dtype=torch.float64))
    assert torch.equal(module.df(x, y), expected)
