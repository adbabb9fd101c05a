"""The notebooks' self-checks pass right answers and name each classic mistake.

Each check gets a correct implementation (it must pass), a stub (it must say "not implemented
yet") and seeded mistakes, among them the published code's three gradient bugs: a scalar bias
gradient, and ELU and SELU derivatives without the factor e^x.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import Tensor

import minidl
import selfcheck  # notebooks/selfcheck.py (pytest puts notebooks/ on the path)
from conftest import fails_with, stub

# Linear ------------------------------------------------------------------------------------


def linear_right(x: Tensor, w: Tensor, b: Tensor, g: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    return g @ w, g.T @ x, g.sum(0)


LINEAR_BUGS: dict[str, tuple[Callable[..., Any], str]] = {
    "scalar bias gradient (the published code)": (
        lambda x, w, b, g: (g @ w, g.T @ x, g.sum()),
        "sum of G over the batch AND the outputs",
    ),
    "bias summed over the outputs": (
        lambda x, w, b, g: (g @ w, g.T @ x, g.sum(1)),
        "summed over the outputs instead of the batch",
    ),
    "weight gradient transposed": (lambda x, w, b, g: (g @ w, x.T @ g, g.sum(0)), "use G\\^T X"),
    "bias averaged": (lambda x, w, b, g: (g @ w, g.T @ x, g.mean(0)), "mean of G"),
    "input gradient off by a factor": (
        lambda x, w, b, g: (2 * g @ w, g.T @ x, g.sum(0)),
        "dL/dX is wrong",
    ),
}


def test_linear_check(capsys: pytest.CaptureFixture[str]) -> None:
    selfcheck.check_linear_backward(linear_right)
    assert "linear backward: correct" in capsys.readouterr().out
    fails_with(selfcheck.check_linear_backward, stub, match="not implemented yet")


@pytest.mark.parametrize("bug", LINEAR_BUGS)
def test_linear_check_names_the_mistake(bug: str) -> None:
    fn, message = LINEAR_BUGS[bug]
    fails_with(selfcheck.check_linear_backward, fn, match=message)


# Activations -------------------------------------------------------------------------------

A, S = 0.2, (1.6733, 1.0507)


def test_activation_checks_pass_minidl() -> None:
    for name, module in [
        ("ReLU", minidl.ReLU()),
        ("Tanh", minidl.Tanh()),
        ("Sigmoid", minidl.Sigmoid()),
        ("ELU", minidl.ELU(A)),
        ("SELU", minidl.SELU()),
        ("Leaky_ReLU", minidl.LeakyReLU(A)),
    ]:

        def df(x: Tensor, module: minidl.Module = module) -> Tensor:
            module(x)
            return module.backward(torch.ones_like(x))

        selfcheck.check_activation(name, module, df)
    fails_with(selfcheck.check_activation, "ReLU", stub, stub, match="not implemented yet")


def test_activation_check_names_the_published_elu_and_selu_bugs() -> None:
    def elu(x: Tensor) -> Tensor:
        return torch.where(x > 0, x, A * x.clamp(max=0).expm1())

    def selu(x: Tensor) -> Tensor:
        return S[1] * torch.where(x > 0, x, S[0] * x.clamp(max=0).expm1())

    def elu_bug(x: Tensor) -> Tensor:
        return torch.where(x > 0, 1.0, A)

    def selu_bug(x: Tensor) -> Tensor:
        return S[1] * torch.where(x > 0, 1.0, S[0])

    for name, f, df in [("ELU", elu, elu_bug), ("SELU", selu, selu_bug)]:
        fails_with(
            selfcheck.check_activation, name, f, df, match="wrong for x < 0.*factor e\\^x missing"
        )
    fails_with(
        selfcheck.check_activation,
        "ReLU",
        lambda x: x.clamp(min=0),
        lambda x: torch.ones_like(x),
        match="right for x > 0 but wrong for x < 0",
    )
    fails_with(
        selfcheck.check_activation,
        "Tanh",
        torch.tanh,
        lambda x: 1 - x.tanh(),
        match="f'\\(x\\) is wrong",
    )


# Losses ------------------------------------------------------------------------------------


class Loss:
    def __init__(self, grad: Callable[[Tensor, Tensor], Tensor], value: str = "mse") -> None:
        self.grad, self.kind = grad, value

    def __call__(self, p: Tensor, t: Tensor) -> Tensor:
        self.p, self.t = p, t
        if self.kind == "mse":
            return ((p - t) ** 2).mean()
        if self.kind == "bce":
            return -(t * p.log() + (1 - t) * (1 - p).log()).mean()
        return -(t * p.log_softmax(-1)).sum(-1).mean()

    def backward(self) -> Tensor:
        return self.grad(self.p, self.t)


def mse_grad(p: Tensor, t: Tensor) -> Tensor:
    return 2 * (p - t) / p.numel()


@pytest.mark.parametrize(
    ("kind", "right", "bug", "message"),
    [
        (
            "mse",
            lambda p, t: 2 * (p - t) / p.numel(),
            lambda p, t: 2 * (p - t),
            "number of entries",
        ),
        (
            "mse",
            lambda p, t: 2 * (p - t) / p.numel(),
            lambda p, t: (p - t) / p.numel(),
            "factor 2",
        ),
        (
            "bce",
            lambda p, t: (p - t) / (p * (1 - p)) / p.numel(),
            lambda p, t: (p - t) / (p * (1 - p)) / p.shape[0],
            "divided by the batch size only",
        ),
        (
            "cross_entropy",
            lambda z, t: (z.softmax(-1) - t) / z.shape[0],
            lambda z, t: (z.softmax(-1) - t) / z.numel(),
            "mean over the batch only",
        ),
    ],
)
def test_loss_check(kind: str, right: Any, bug: Any, message: str) -> None:
    selfcheck.check_loss(kind, lambda: Loss(right, kind), kind)
    fails_with(selfcheck.check_loss, kind, lambda: Loss(bug, kind), kind, match=message)
    fails_with(selfcheck.check_loss, kind, lambda: Loss(stub, kind), kind, match="not implemented")


# Sequential, SGD, replicas -----------------------------------------------------------------


class Seq:
    def __init__(self, *layers: Any, reverse: bool = True) -> None:
        self.layers, self.reverse = layers, reverse

    def __call__(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            x = layer(x)
        return x

    def backward(self, g: Tensor) -> Tensor:
        for layer in reversed(self.layers) if self.reverse else self.layers:
            g = layer.backward(g)
        return g


def test_sequential_check() -> None:
    selfcheck.check_sequential(Seq)
    fails_with(
        selfcheck.check_sequential,
        lambda *layers: Seq(*layers, reverse=False),
        match="last to first",
    )


class MySGD:
    def __init__(self, params: list[minidl.Parameter], lr: float, momentum: float) -> None:
        self.params, self.lr, self.mu = params, lr, momentum
        self.v = [torch.zeros_like(p.value) for p in params]
        self.keep = True

    def step(self) -> None:
        for i, p in enumerate(self.params):
            v = self.mu * self.v[i] + p.grad
            if self.keep:
                self.v[i] = v
            p.value -= self.lr * v


def test_sgd_check() -> None:
    selfcheck.check_sgd(MySGD)

    def forgetful(*args: Any) -> MySGD:
        opt = MySGD(*args)
        opt.keep = False
        return opt

    fails_with(selfcheck.check_sgd, forgetful, match="velocity .* kept between steps")
    minidl_sgd = selfcheck.check_sgd
    minidl_sgd(lambda params, lr, momentum: minidl.SGD(params, lr, momentum))


def test_batched_linear_check() -> None:
    selfcheck.check_batched_linear(lambda x, w, b: x @ w.transpose(1, 2) + b[:, None, :])
    fails_with(
        selfcheck.check_batched_linear,
        lambda x, w, b: x @ w[0].T + b[0],
        match="first replica's weights",
    )
    fails_with(selfcheck.check_batched_linear, stub, match="not implemented yet")
