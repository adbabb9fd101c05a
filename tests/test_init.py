"""Xavier-normal weights with the gain of the nonlinearity that follows; N(0, 1) biases."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import minidl
from conftest import gen

NONLINEARITIES = ["linear", "sigmoid", "tanh", "relu", "leaky_relu", "selu", "elu"]


@pytest.mark.parametrize("nonlinearity", NONLINEARITIES)
def test_weight_std_is_gain_times_xavier(nonlinearity: str) -> None:
    layer = minidl.Linear(400, 600, nonlinearity, generator=gen(0))
    w = layer.weight.value.double()
    expected = minidl.gain(nonlinearity) * math.sqrt(2 / (400 + 600))

    assert w.shape == (600, 400)
    assert float(w.std()) == pytest.approx(expected, rel=0.02)
    assert abs(float(w.mean())) < 0.01 * expected  # 5 standard errors of the mean


def test_bias_is_standard_normal_by_default() -> None:
    b = minidl.Linear(10, 600, replicas=50, generator=gen(1)).bias.value.double()
    assert float(b.std()) == pytest.approx(1.0, rel=0.03)
    assert abs(float(b.mean())) < 0.03


@pytest.mark.parametrize("bias_std", [0.0, 0.1, 3.0])
def test_bias_std_is_respected(bias_std: float) -> None:
    b = minidl.Linear(10, 600, replicas=50, generator=gen(2), bias_std=bias_std).bias.value
    assert float(b.double().std()) == pytest.approx(bias_std, rel=0.03, abs=1e-12)


@pytest.mark.parametrize(
    ("nonlinearity", "param", "expected"),
    [
        ("linear", None, 1.0),
        ("sigmoid", None, 1.0),
        ("tanh", None, 5 / 3),
        ("relu", None, math.sqrt(2)),
        ("selu", None, 3 / 4),
        ("leaky_relu", None, math.sqrt(2 / (1 + 0.2**2))),
        ("leaky_relu", 0.01, math.sqrt(2 / (1 + 0.01**2))),
    ],
)
def test_gain_values(nonlinearity: str, param: float | None, expected: float) -> None:
    assert minidl.gain(nonlinearity, param) == pytest.approx(expected, rel=1e-12)
    slope = 0.2 if param is None else param
    assert expected == pytest.approx(torch.nn.init.calculate_gain(nonlinearity, slope))


@pytest.mark.parametrize("alpha", [None, 0.2, 1.0])
def test_elu_gain_restores_unit_second_moment(alpha: float | None) -> None:
    """gain = 1 / sqrt(E[elu(z)^2]) for z ~ N(0, 1), by a Monte-Carlo estimate."""
    z = torch.randn(1_000_000, generator=gen(3), dtype=torch.float64)
    second_moment = float(F.elu(z, 0.2 if alpha is None else alpha).square().mean())
    assert minidl.gain("elu", alpha) == pytest.approx(1 / math.sqrt(second_moment), rel=0.01)


def test_same_seed_same_weights_other_seed_other_weights() -> None:
    a, b = minidl.Linear(5, 7, generator=gen(4)), minidl.Linear(5, 7, generator=gen(4))
    c = minidl.Linear(5, 7, generator=gen(5))
    for p, q, r in zip(a.params(), b.params(), c.params(), strict=True):
        assert torch.equal(p.value, q.value)
        assert not torch.equal(p.value, r.value)


def test_replicas_draw_independently() -> None:
    layer = minidl.Linear(20, 30, "relu", replicas=4, generator=gen(6))
    w = layer.weight.value.double().reshape(4, -1)
    assert layer.weight.shape == (4, 30, 20) and layer.bias.shape == (4, 30)
    corr = torch.corrcoef(w)
    off_diagonal = corr[~torch.eye(4, dtype=torch.bool)]
    assert float(off_diagonal.abs().max()) < 0.15  # 600 draws: standard error ~0.04
    assert not torch.equal(layer.bias.value[0], layer.bias.value[1])
    expected = minidl.gain("relu") * math.sqrt(2 / 50)
    for r in range(4):
        assert float(w[r].std()) == pytest.approx(expected, rel=0.1)


def test_reset_parameters_without_mask_redraws_all() -> None:
    layer = minidl.Linear(6, 5, generator=gen(9))
    before = [p.value.clone() for p in layer.params()]
    layer.reset_parameters(gen(10))
    for p, old in zip(layer.params(), before, strict=True):
        assert bool((p.value != old).all())


def test_xavier_normal_fills_in_place() -> None:
    t = torch.empty(300, 500, dtype=torch.float64)
    out = minidl.xavier_normal_(t, gain=2.0, generator=gen(11))
    assert out is t
    assert float(t.std()) == pytest.approx(2.0 * math.sqrt(2 / 800), rel=0.02)
