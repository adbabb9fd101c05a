"""The self-checks of notebooks 00-04 pass right answers and name each classic mistake.

Each check gets a correct implementation (it must pass), a stub (it must say "not implemented
yet") and seeded mistakes (each must fail with a message that names it).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import Tensor

import minidl.data
import selfcheck  # notebooks/selfcheck.py (pytest puts notebooks/ on the path)
from conftest import fails_with, stub

# 00: disk labels ---------------------------------------------------------------------------

R = minidl.data.RADIUS


def sq(x: Tensor) -> Tensor:
    return (x - 0.5).square().sum(-1, keepdim=True)


DISK_BUGS: dict[str, tuple[Callable[[Tensor], Any], str]] = {
    "inverted": (lambda x: (sq(x) >= R**2).float(), "inverted"),
    "centred at the origin": (
        lambda x: (x.square().sum(-1, keepdim=True) < R**2).float(),
        "origin",
    ),
    "squared distance against r": (lambda x: (sq(x) < R).float(), "compare it with r\\^2"),
    "distance against r^2": (lambda x: (sq(x).sqrt() < R**2).float(), "compare it with r$"),
    "radius 1/2": (lambda x: (sq(x) < 0.25).float(), "radius is 1/sqrt"),
    "one dimension": (lambda x: (sq(x) < R**2).float()[:, 0], "one column"),
    "bool labels": (lambda x: sq(x) < R**2, "float 0.0/1.0"),
    "a few wrong": (lambda x: (sq(x) < (R + 0.01) ** 2).float(), "labels differ"),
}


def test_disk_labels_check(capsys: pytest.CaptureFixture[str]) -> None:
    selfcheck.check_disk_labels(lambda x: (sq(x) < R**2).float())
    selfcheck.check_disk_labels(lambda x: ((x - 0.5).norm(dim=1, keepdim=True) < R).float())
    assert "disk labels: correct" in capsys.readouterr().out
    fails_with(selfcheck.check_disk_labels, stub, match="not implemented yet")


@pytest.mark.parametrize("bug", DISK_BUGS)
def test_disk_labels_check_names_the_mistake(bug: str) -> None:
    fn, message = DISK_BUGS[bug]
    fails_with(selfcheck.check_disk_labels, fn, match=message)


# 01: linear layers as classes --------------------------------------------------------------


class LinearFn:
    """Notebook 01's first class: overwrites its gradients; `bug` seeds one mistake."""

    bug = ""

    def __init__(self, w: Tensor, b: Tensor) -> None:
        self.w, self.b = w, b
        self.w_grad, self.b_grad = torch.zeros_like(w), torch.zeros_like(b)

    def __call__(self, x: Tensor) -> Tensor:
        if self.bug != "x not stored":
            self.x = x if self.bug != "global x" else x.T.T + 1
        return x @ self.w.T + (0 if self.bug == "no bias" else self.b)

    def backward(self, g: Tensor) -> Tensor:
        w_grad = g.T @ (torch.ones_like(self.x) if self.bug == "global x" else self.x)
        b_grad = {"scalar bias": g.sum(), "bias over outputs": g.sum(1)}.get(self.bug, g.sum(0))
        if self.bug == "accumulating scalar bias":
            self.b_grad += g.sum()  # the published bug, accumulated into a (n_out,) tensor
            self.w_grad += w_grad
        elif self.bug in ("overwrites", "scalar bias", "bias over outputs"):
            self.w_grad, self.b_grad = w_grad, b_grad
        elif self.bug == "no zero_grad":
            self.w_grad, self.b_grad = self.w_grad + w_grad, self.b_grad + b_grad
        else:
            self.w_grad, self.b_grad = self.w_grad + w_grad, self.b_grad + b_grad
            if self.bug == "transposed":
                self.w_grad = self.x.T @ g
        return g @ self.w

    def zero_grad(self) -> None:
        if self.bug != "no zero_grad":
            self.w_grad.zero_()
            self.b_grad.zero_()


def make(bug: str = "") -> Callable[[Tensor, Tensor], LinearFn]:
    def linear(w: Tensor, b: Tensor) -> LinearFn:
        layer = LinearFn(w, b)
        layer.bug = bug
        return layer

    return linear


LAYER_BUGS = {
    "scalar bias": "sum of G over the batch AND the outputs",
    "accumulating scalar bias": "sum of G over the batch AND the outputs",
    "bias over outputs": "summed over the outputs instead of the batch",
    "transposed": "use G\\^T X",
    "no bias": "without the bias",
    "x not stored": "must store its input",
    "global x": "kept no copy of its input",
    "overwrites": "overwrote the gradients instead of adding",
    "no zero_grad": "zero_grad\\(\\) left non-zero gradients",
}


def test_linear_layer_check(capsys: pytest.CaptureFixture[str]) -> None:
    selfcheck.check_linear_layer(make())
    selfcheck.check_linear_layer(make(), accumulates=True)
    selfcheck.check_linear_layer(make("overwrites"))  # right for a layer that need not add
    out = capsys.readouterr().out
    assert "linear: correct" in out and "backward accumulates" in out
    fails_with(selfcheck.check_linear_layer, stub, match="not implemented yet")

    class Stubbed(LinearFn):
        def backward(self, g: Tensor) -> Tensor:
            raise NotImplementedError("not implemented yet")

    fails_with(selfcheck.check_linear_layer, Stubbed, match="Stubbed backward: not implemented")
    fails_with(selfcheck.check_linear_layer, make(), grads=("dw", "db"), match="self.dw")


def test_linear_layer_check_passes_minidl_linear() -> None:
    def minidl_linear(w: Tensor, b: Tensor) -> Any:
        lin = minidl.Linear(w.shape[1], w.shape[0], dtype=w.dtype)
        lin.weight.value.copy_(w)
        lin.bias.value.copy_(b)
        lin.w_grad, lin.b_grad = lin.weight.grad, lin.bias.grad  # type: ignore[attr-defined]
        return lin

    selfcheck.check_linear_layer(minidl_linear, accumulates=True)


@pytest.mark.parametrize("bug", LAYER_BUGS)
def test_linear_layer_check_names_the_mistake(bug: str) -> None:
    fails_with(selfcheck.check_linear_layer, make(bug), accumulates=True, match=LAYER_BUGS[bug])


# 02: gains and the ELU second moments ------------------------------------------------------


def gain_right(f: Callable[[Tensor], Tensor], z: Tensor) -> float:
    return 1 / math.sqrt(f(z).square().mean().item())


GAIN_BUGS: dict[str, tuple[Callable[..., Any], str]] = {
    "not inverted": (lambda f, z: math.sqrt(f(z).square().mean().item()), "gain is its inverse"),
    "no square root": (lambda f, z: 1 / f(z).square().mean().item(), "square root is missing"),
    "variance": (lambda f, z: 1 / math.sqrt(f(z).var().item()), "the variance"),
    "std": (lambda f, z: 1 / f(z).std(), "standard deviation\\) of f\\(z\\)"),
    "mean": (lambda f, z: 1 / math.sqrt(abs(f(z).mean().item())), "square f\\(z\\) first"),
    "vector": (lambda f, z: 1 / f(z).square().sqrt(), "one number"),
    "other": (lambda f, z: 1.5, "wrong for relu"),
}


def test_gain_check(capsys: pytest.CaptureFixture[str]) -> None:
    selfcheck.check_gain(gain_right)
    selfcheck.check_gain(lambda f, z: f(z).square().mean().rsqrt())  # a 0-d tensor is fine
    assert "gain: correct" in capsys.readouterr().out
    fails_with(selfcheck.check_gain, stub, match="not implemented yet")


@pytest.mark.parametrize("bug", GAIN_BUGS)
def test_gain_check_names_the_mistake(bug: str) -> None:
    fn, message = GAIN_BUGS[bug]
    fails_with(selfcheck.check_gain, fn, match=message)


def phi(t: float) -> float:
    return 0.5 * math.erfc(-t / math.sqrt(2))


def elu_sq(a: float, t1: float = -1.0, t2: float = -2.0, const: float = 0.5, cross: float = 2):
    return 0.5 + a**2 * (math.e**2 * phi(t2) - cross * math.exp(0.5) * phi(t1) + const)


def test_init_elu_second_moment_checks(capsys: pytest.CaptureFixture[str]) -> None:
    selfcheck.check_elu_second_moment(elu_sq)
    selfcheck.check_elu_second_moment(
        lambda a: 0.5 + a**2 * math.e**2 * phi(-2.0), derivative=True
    )
    out = capsys.readouterr().out
    assert "E[elu(z)^2] in closed form: correct" in out
    assert "E[elu'(z)^2] in closed form: correct" in out
    fails_with(selfcheck.check_elu_second_moment, stub, match="not implemented yet")
    fails_with(
        selfcheck.check_elu_second_moment, stub, derivative=True, match="not implemented yet"
    )


@pytest.mark.parametrize(
    ("fn", "derivative", "message"),
    [
        (lambda a: elu_sq(a, t1=1.0, t2=2.0), False, "Phi\\(t\\) where Phi\\(-t\\) belongs"),
        (lambda a: elu_sq(a, const=0.0), False, "missing alpha\\^2 P\\(z < 0\\)"),
        (lambda a: elu_sq(a, cross=1.0), False, "factor 2 of the cross term"),
        (lambda a: 0.5 + a * (elu_sq(1.0) - 0.5), False, "alpha where alpha\\^2 belongs"),
        (lambda a: elu_sq(a) + 0.1, False, "wrong at alpha = 0, where ELU is ReLU"),
        (lambda a: 0.5 + 1.1 * (elu_sq(a) - 0.5), False, "check the alpha\\^2 term"),
        (lambda a: 0.5 + a**2 * math.e**2 * phi(2.0), True, "Phi\\(t\\) where Phi\\(-t\\)"),
        (lambda a: 0.5 + a * math.e**2 * phi(-2.0), True, "alpha where alpha\\^2 belongs"),
        (lambda a: 0.5 + a**2 / 2, True, "missing the factor e\\^\\(2z\\)"),
        (lambda a: torch.ones(2), True, "one number"),
    ],
)
def test_init_elu_second_moment_check_names_the_mistake(
    fn: Callable[[float], Any], derivative: bool, message: str
) -> None:
    fails_with(selfcheck.check_elu_second_moment, fn, derivative=derivative, match=message)


# 04: losses as free functions, and the gradient at the logit -------------------------------


def test_loss_functions_check(capsys: pytest.CaptureFixture[str]) -> None:
    def mse(p: Tensor, t: Tensor) -> Tensor:
        return ((p - t) ** 2).mean()

    selfcheck.check_loss_functions("MSE", mse, lambda p, t: 2 * (p - t) / p.numel(), "mse")
    assert "MSE: correct" in capsys.readouterr().out
    fails_with(
        selfcheck.check_loss_functions,
        "MSE",
        mse,
        lambda p, t: 2 * (p - t) / p.shape[0],
        "mse",
        match="divided by the batch size only",
    )
    fails_with(
        selfcheck.check_loss_functions,
        "MSE",
        lambda p, t: ((p - t) ** 2).sum(),
        stub,
        "mse",
        match="the loss value is wrong",
    )
    fails_with(selfcheck.check_loss_functions, "MSE", stub, stub, "mse", match="not implemented")
    fails_with(selfcheck.check_loss_functions, "MSE", mse, stub, "mse", match="not implemented")


def sig(z: Tensor) -> Tensor:
    return z.sigmoid()


@pytest.mark.parametrize(
    ("loss", "right", "bug", "message"),
    [
        (
            "bce",
            lambda z, t: (sig(z) - t) / z.numel(),
            lambda z, t: sig(z) - t,
            "not divided by N",
        ),
        (
            "bce",
            lambda z, t: (sig(z) - t) / z.numel(),
            lambda z, t: (sig(z) - t) * sig(z) * (1 - sig(z)) / z.numel(),
            "p\\(1 - p\\) once more",
        ),
        (
            "bce",
            lambda z, t: (sig(z) - t) / z.numel(),
            lambda z, t: (sig(z) - t) / (sig(z) * (1 - sig(z))) / z.numel(),
            "dL/dp, not dL/dz",
        ),
        (
            "bce",
            lambda z, t: (sig(z) - t) / z.numel(),
            lambda z, t: (t - sig(z)) / z.numel(),
            "wrong sign",
        ),
        (
            "bce",
            lambda z, t: (sig(z) - t) / z.numel(),
            lambda z, t: (sig(z) - t) / z.shape[0],
            "batch size only",
        ),
        (
            "mse",
            lambda z, t: 2 * (sig(z) - t) * sig(z) * (1 - sig(z)) / z.numel(),
            lambda z, t: 2 * (sig(z) - t) / z.numel(),
            "missing sigmoid's derivative",
        ),
        (
            "mse",
            lambda z, t: 2 * (sig(z) - t) * sig(z) * (1 - sig(z)) / z.numel(),
            lambda z, t: (sig(z) - t) * sig(z) * (1 - sig(z)) / z.numel(),
            "factor 2",
        ),
        (
            "mse",
            lambda z, t: 2 * (sig(z) - t) * sig(z) * (1 - sig(z)) / z.numel(),
            lambda z, t: (sig(z) - t)[:, :1],
            "shape",
        ),
    ],
)
def test_loss_logit_gradient_check(loss: str, right: Any, bug: Any, message: str) -> None:
    selfcheck.check_logit_gradient(loss, right, loss)
    fails_with(selfcheck.check_logit_gradient, loss, bug, loss, match=message)
    fails_with(selfcheck.check_logit_gradient, loss, stub, loss, match="not implemented yet")
    with pytest.raises(ValueError, match="loss must be"):
        selfcheck.check_logit_gradient(loss, right, "hinge")
