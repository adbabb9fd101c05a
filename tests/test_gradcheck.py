"""minidl.gradcheck passes every correct backward and catches wrong ones.

The wrong ones are subclasses with a deliberate bug: a gradient off by a factor, a
forgotten bias gradient, and the original report's ELU, whose derivative lacks e^x.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import Tensor

import minidl
from conftest import gen

F64 = torch.float64
Net = Callable[..., minidl.Sequential]


def away_from_zero(shape: tuple[int, ...], seed: int = 0) -> Tensor:
    """Normal draws pushed at least 0.1 away from the kinks at 0."""
    x = torch.randn(shape, generator=gen(seed), dtype=F64)
    return x + 0.1 * x.sign()


def probabilities(shape: tuple[int, ...], seed: int = 0) -> Tensor:
    """Values in [0.05, 0.95], so p +- eps stays inside BCELoss's domain."""
    return 0.05 + 0.9 * torch.rand(shape, generator=gen(seed), dtype=F64)


class NetworkLoss(minidl.Module):
    """L(x) = loss(net(x), target): lets gradcheck probe a whole network end to end."""

    def __init__(
        self, net: minidl.Sequential, loss: minidl.MSELoss | minidl.BCELoss, target: Tensor
    ) -> None:
        self.net, self.loss, self.target = net, loss, target

    def forward(self, x: Tensor) -> Tensor:
        return self.loss(self.net(x), self.target)

    def backward(self, grad_output: Tensor) -> Tensor:
        return self.net.backward(self.loss.backward(grad_output))

    def params(self) -> list[minidl.Parameter]:
        return self.net.params()


# Correct modules pass ----------------------------------------------------------------

CORRECT: dict[str, Callable[[], tuple[minidl.Module, Tensor, Tensor | None]]] = {
    "Linear": lambda: (
        minidl.Linear(3, 4, generator=gen(), dtype=F64),
        away_from_zero((5, 3)),
        None,
    ),
    "Linear-replicas": lambda: (
        minidl.Linear(3, 2, replicas=3, generator=gen(), dtype=F64),
        away_from_zero((3, 4, 3)),
        None,
    ),
    "ReLU": lambda: (minidl.ReLU(), away_from_zero((4, 3)), None),
    "Tanh": lambda: (minidl.Tanh(), away_from_zero((4, 3)), None),
    "LeakyReLU": lambda: (minidl.LeakyReLU(0.2), away_from_zero((4, 3)), None),
    "ELU": lambda: (minidl.ELU(0.2), away_from_zero((4, 3)), None),
    "SELU": lambda: (minidl.SELU(), away_from_zero((4, 3)), None),
    "Sigmoid": lambda: (minidl.Sigmoid(), away_from_zero((4, 3)), None),
    "MSELoss": lambda: (minidl.MSELoss(), away_from_zero((5, 2)), away_from_zero((5, 2), 1)),
    "MSELoss-replicas": lambda: (
        minidl.MSELoss(),
        away_from_zero((3, 5, 2)),
        away_from_zero((3, 5, 2), 1),
    ),
    "BCELoss": lambda: (
        minidl.BCELoss(),
        probabilities((5, 2)),
        torch.rand((5, 2), generator=gen(1), dtype=F64).round(),
    ),
}


@pytest.mark.parametrize("name", CORRECT)
def test_gradcheck_passes_correct_modules(name: str) -> None:
    module, x, target = CORRECT[name]()
    result = minidl.gradcheck(module, x, target, generator=gen(2))
    assert result, str(result)


@pytest.mark.parametrize("loss", [minidl.MSELoss, minidl.BCELoss])
def test_gradcheck_passes_report_network_with_loss(
    make_report_net: Net, loss: type[minidl.MSELoss | minidl.BCELoss]
) -> None:
    net = make_report_net(generator=gen(3))
    target = torch.tensor([[0.0], [1.0], [1.0], [0.0]], dtype=F64)
    module = NetworkLoss(net, loss(), target)
    result = minidl.gradcheck(module, torch.randn((4, 2), generator=gen(4), dtype=F64))
    assert result, str(result)


def test_gradcheck_accepts_a_non_contiguous_input() -> None:
    x = away_from_zero((3, 4)).t()  # a transposed view, as x.T would give
    assert not x.is_contiguous()
    result = minidl.gradcheck(minidl.Tanh(), x)
    assert result, str(result)


# Wrong backward passes are caught ----------------------------------------------------


class HalfReLU(minidl.ReLU):
    """Backward off by a factor of 2."""

    def backward(self, grad_output: Tensor) -> Tensor:
        return 0.5 * super().backward(grad_output)


class LinearWithoutBiasGrad(minidl.Linear):
    """Forgets to accumulate the bias gradient."""

    def backward(self, grad_output: Tensor) -> Tensor:
        bias_grad = self.bias.grad.clone()
        grad_input = super().backward(grad_output)
        self.bias.grad.copy_(bias_grad)
        return grad_input


class LinearDoubleWeightGrad(minidl.Linear):
    """Adds the weight gradient twice."""

    def backward(self, grad_output: Tensor) -> Tensor:
        before = self.weight.grad.clone()
        grad_input = super().backward(grad_output)
        self.weight.grad.mul_(2).sub_(before)
        return grad_input


class ReportELU(minidl.ELU):
    """The original report's bug: f'(x) = alpha for x <= 0, the factor e^x forgotten."""

    def forward(self, x: Tensor) -> Tensor:
        self.seen = x
        return super().forward(x)

    def backward(self, grad_output: Tensor) -> Tensor:
        slope = (self.seen > 0).to(grad_output.dtype) * (1 - self.alpha) + self.alpha
        return grad_output * slope


WRONG: dict[str, tuple[Callable[[], minidl.Module], tuple[int, ...], str]] = {
    "ReLU-half": (HalfReLU, (4, 3), r"x\[\d+, \d+\]"),
    "Linear-no-bias-grad": (
        lambda: LinearWithoutBiasGrad(3, 4, generator=gen(), dtype=F64),
        (5, 3),
        r"params\(\)\[1\]\[\d+\]",
    ),
    "Linear-double-weight-grad": (
        lambda: LinearDoubleWeightGrad(3, 4, generator=gen(), dtype=F64),
        (5, 3),
        r"params\(\)\[0\]\[\d+, \d+\]",
    ),
    "ELU-without-exp": (ReportELU, (4, 3), r"x\[\d+, \d+\]"),
}


@pytest.mark.parametrize("name", WRONG)
def test_gradcheck_catches_wrong_backward(name: str) -> None:
    make, shape, where = WRONG[name]
    x = away_from_zero(shape) * 3  # large |x|: e^x is far from 1 on the negative side

    result = minidl.gradcheck(make(), x)
    assert not result, f"gradcheck missed the bug in {name}"

    with pytest.raises(AssertionError, match=where):
        minidl.gradcheck(make(), x, raise_on_failure=True)


def test_gradcheck_catches_the_report_elu_inside_a_network() -> None:
    def net(elu: minidl.Module) -> minidl.Sequential:
        g = gen(5)
        return minidl.Sequential(
            minidl.Linear(2, 6, "elu", generator=g, dtype=F64),
            elu,
            minidl.Linear(6, 1, generator=g, dtype=F64),
        )

    x = torch.randn((4, 2), generator=gen(6), dtype=F64)
    assert minidl.gradcheck(net(minidl.ELU()), x)
    assert not minidl.gradcheck(net(ReportELU()), x)


def test_gradcheck_needs_float64_and_a_target_for_losses() -> None:
    with pytest.raises(TypeError, match="float64"):
        minidl.gradcheck(minidl.Linear(2, 2), torch.randn(3, 2))
    with pytest.raises(ValueError, match="target"):
        minidl.gradcheck(minidl.MSELoss(), away_from_zero((3, 2)))
