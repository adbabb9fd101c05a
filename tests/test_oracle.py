"""Every module's forward and backward against torch.nn.functional and autograd (float64).

The minidl side runs with autograd off (conftest's autouse fixture); the reference side
opts in with `torch.enable_grad()`. Parameters are minidl's own random draws, never zero.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from torch import Tensor
from torch.testing import assert_close

import minidl

F64 = torch.float64
seeds = st.integers(0, 2**31 - 1)
sizes = st.integers(1, 5)
Net = Callable[..., minidl.Sequential]


def randn(shape: Sequence[int], g: torch.Generator, scale: float = 1.0) -> Tensor:
    return torch.randn(tuple(shape), generator=g, dtype=F64) * scale


def reference(
    fn: Callable[..., Tensor], inputs: Sequence[Tensor], grad_output: Tensor
) -> tuple[Tensor, list[Tensor]]:
    """fn(*inputs) and, by autograd, the gradient of sum(grad_output * fn) for each input."""
    with torch.enable_grad():
        leaves = [t.detach().clone().requires_grad_() for t in inputs]
        out = fn(*leaves)
        grads = torch.autograd.grad(out, leaves, grad_output)
    return out.detach(), list(grads)


def assert_nonzero_params(module: minidl.Module) -> None:
    for p in module.params():
        assert bool((p.value != 0).any()), f"{module!r} has an all-zero parameter"


def torch_report_net(x: Tensor, *params: Tensor) -> Tensor:
    """The report's network written with torch.nn.functional, minidl's default constants."""
    w0, b0, w1, b1, w2, b2, w3, b3 = params
    h = F.elu(F.linear(x, w0, b0), alpha=0.2)
    h = F.relu(F.linear(h, w1, b1))
    h = 1.0507 * F.elu(F.linear(h, w2, b2), alpha=1.6733)
    return torch.sigmoid(F.linear(h, w3, b3))


# Linear ------------------------------------------------------------------------------


@given(lead=st.lists(sizes, max_size=2), n_in=sizes, n_out=sizes, seed=seeds)
def test_linear_matches_torch(lead: list[int], n_in: int, n_out: int, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    layer = minidl.Linear(n_in, n_out, generator=g, dtype=F64)
    assert_nonzero_params(layer)
    x, grad_y = randn((*lead, n_in), g), randn((*lead, n_out), g)

    y = layer(x)
    grad_x = layer.backward(grad_y)

    w, b = layer.weight.value, layer.bias.value
    y_ref, (gx, gw, gb) = reference(F.linear, [x, w, b], grad_y)
    assert_close(y, y_ref)
    assert_close(grad_x, gx)
    assert_close(layer.weight.grad, gw)
    assert_close(layer.bias.grad, gb)


@given(replicas=sizes, batch=sizes, n_in=sizes, n_out=sizes, seed=seeds)
def test_linear_replicas_match_separate_torch_layers(
    replicas: int, batch: int, n_in: int, n_out: int, seed: int
) -> None:
    g = torch.Generator().manual_seed(seed)
    layer = minidl.Linear(n_in, n_out, replicas=replicas, generator=g, dtype=F64)
    assert_nonzero_params(layer)
    x, grad_y = randn((replicas, batch, n_in), g), randn((replicas, batch, n_out), g)

    y = layer(x)
    grad_x = layer.backward(grad_y)

    assert y.shape == (replicas, batch, n_out)
    for r in range(replicas):
        w, b = layer.weight.value[r], layer.bias.value[r]
        y_ref, (gx, gw, gb) = reference(F.linear, [x[r], w, b], grad_y[r])
        assert_close(y[r], y_ref)
        assert_close(grad_x[r], gx)
        assert_close(layer.weight.grad[r], gw)
        assert_close(layer.bias.grad[r], gb)


# Activations -------------------------------------------------------------------------

Activation = Callable[[float, float], tuple[minidl.Module, Callable[[Tensor], Tensor]]]
ACTIVATIONS: dict[str, Activation] = {
    "ReLU": lambda a, s: (minidl.ReLU(), F.relu),
    "Tanh": lambda a, s: (minidl.Tanh(), torch.tanh),
    "Sigmoid": lambda a, s: (minidl.Sigmoid(), torch.sigmoid),
    "LeakyReLU": lambda a, s: (minidl.LeakyReLU(a), lambda x: F.leaky_relu(x, a)),
    "ELU": lambda a, s: (minidl.ELU(a), lambda x: F.elu(x, a)),
    "SELU": lambda a, s: (minidl.SELU(a, s), lambda x: s * F.elu(x, a)),
}


@pytest.mark.parametrize("name", ACTIVATIONS)
@given(
    shape=st.lists(sizes, max_size=3),
    seed=seeds,
    scale=st.sampled_from([0.1, 1.0, 10.0]),
    a=st.floats(0.01, 3.0),
    s=st.floats(0.5, 2.0),
    with_zeros=st.booleans(),
)
def test_activation_matches_torch(
    name: str, shape: list[int], seed: int, scale: float, a: float, s: float, with_zeros: bool
) -> None:
    module, torch_fn = ACTIVATIONS[name](a, s)
    g = torch.Generator().manual_seed(seed)
    x, grad_y = randn(shape, g, scale), randn(shape, g)
    if with_zeros:  # the kink: minidl must follow torch's convention for f'(0)
        x.view(-1)[::3] = 0.0

    y = module(x)
    grad_x = module.backward(grad_y)

    y_ref, (gx,) = reference(torch_fn, [x], grad_y)
    assert_close(y, y_ref)
    assert_close(grad_x, gx)


def test_activation_defaults_are_the_reports() -> None:
    assert minidl.LeakyReLU().slope == 0.2
    assert minidl.ELU().alpha == 0.2
    selu = minidl.SELU()
    assert (selu.alpha, selu.scale) == (1.6733, 1.0507)


# Losses ------------------------------------------------------------------------------


def per_replica(loss: Callable[[Tensor, Tensor], Tensor]) -> Callable[[Tensor, Tensor], Tensor]:
    """A torch loss over the last two dimensions: one separate computation per replica."""

    def fn(p: Tensor, t: Tensor) -> Tensor:
        if p.ndim <= 2:
            return loss(p, t)
        return torch.stack([loss(p[r], t[r]) for r in range(p.shape[0])])

    return fn


loss_shapes = st.lists(sizes, min_size=1, max_size=3)


def check_loss(
    loss_fn: minidl.Loss,
    torch_loss: Callable[[Tensor, Tensor], Tensor],
    p: Tensor,
    t: Tensor,
    g: torch.Generator,
) -> None:
    """Value, backward() and backward(grad_output) of loss_fn against autograd."""
    reduced = p.shape[:-2] if p.ndim > 2 else torch.Size([])
    fn = per_replica(torch_loss)

    loss = loss_fn(p, t)
    grad_p = loss_fn.backward()
    loss_ref, (gp,) = reference(lambda q: fn(q, t), [p], torch.ones(reduced, dtype=F64))
    assert loss.shape == reduced
    assert_close(loss, loss_ref)
    assert_close(grad_p, gp)  # each replica gets the gradient of its own loss

    upstream = randn(reduced, g)
    _, (gp_up,) = reference(lambda q: fn(q, t), [p], upstream)
    assert_close(loss_fn.backward(upstream), gp_up)


@given(shape=loss_shapes, seed=seeds)
def test_mse_matches_torch(shape: list[int], seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    p, t = randn(shape, g), randn(shape, g)
    check_loss(minidl.MSELoss(), F.mse_loss, p, t, g)


@given(shape=loss_shapes, seed=seeds, binary_targets=st.booleans())
def test_bce_matches_torch(shape: list[int], seed: int, binary_targets: bool) -> None:
    g = torch.Generator().manual_seed(seed)
    p = torch.rand(shape, generator=g, dtype=F64)
    p.view(-1)[::4] = 0.0  # exact 0 and 1 must work (clamped logs, as in torch)
    p.view(-1)[1::4] = 1.0
    t = torch.rand(shape, generator=g, dtype=F64)
    if binary_targets:
        t = t.round()
    check_loss(minidl.BCELoss(), F.binary_cross_entropy, p, t, g)


LOSSES = {"mse": (minidl.MSELoss, F.mse_loss), "bce": (minidl.BCELoss, F.binary_cross_entropy)}


@pytest.mark.parametrize("loss_name", LOSSES)
def test_losses_on_replicas_give_one_loss_per_replica(loss_name: str) -> None:
    minidl_loss, torch_loss = LOSSES[loss_name]
    g = torch.Generator().manual_seed(0)
    p, t = torch.rand((3, 4, 2), generator=g, dtype=F64), torch.rand((3, 4, 2), generator=g)
    check_loss(minidl_loss(), torch_loss, p, t.to(F64).round(), g)


def test_a_loss_on_the_public_base_gets_the_reduction_checks_and_backward() -> None:
    """minidl.Loss: a subclass gives l and dl/dp; the mean, backward and checks come with it."""

    class HalfSquare(minidl.Loss):
        def elementwise(self, p: Tensor, t: Tensor) -> Tensor:
            return (p - t).square_().mul_(0.5)

        def derivative(self, p: Tensor, t: Tensor) -> Tensor:
            return p - t

    g = torch.Generator().manual_seed(3)
    p, t = randn((3, 4, 2), g), randn((3, 4, 2), g)
    check_loss(HalfSquare(), lambda q, s: 0.5 * F.mse_loss(q, s), p, t, g)
    assert minidl.gradcheck(HalfSquare(), p, t, generator=g)
    with pytest.raises(minidl.ShapeError, match="HalfSquare"):
        HalfSquare()(p, t[..., :1])


# Sequential: the report's network ----------------------------------------------------


@pytest.mark.parametrize("loss_name", LOSSES)
@given(batch=st.integers(1, 8), seed=seeds)
def test_report_network_matches_torch(
    make_report_net: Net, loss_name: str, batch: int, seed: int
) -> None:
    minidl_loss, torch_loss = LOSSES[loss_name]
    g = torch.Generator().manual_seed(seed)
    net, loss_fn = make_report_net(generator=g), minidl_loss()
    assert_nonzero_params(net)
    x, t = randn((batch, 2), g), torch.rand((batch, 1), generator=g, dtype=F64).round()

    out = net(x)
    loss = loss_fn(out, t)
    grad_x = net.backward(loss_fn.backward())

    values = [p.value for p in net.params()]
    out_ref, _ = reference(torch_report_net, [x, *values], torch.ones(batch, 1, dtype=F64))
    loss_ref, (gx, *g_params) = reference(
        lambda *a: torch_loss(torch_report_net(*a), t), [x, *values], torch.ones((), dtype=F64)
    )
    assert_close(out, out_ref)
    assert_close(loss, loss_ref)
    assert_close(grad_x, gx)
    for p, expected in zip(net.params(), g_params, strict=True):
        assert_close(p.grad, expected)


@given(
    replicas=st.integers(1, 4),
    batch=st.integers(1, 6),
    seed=seeds,
    loss_name=st.sampled_from(list(LOSSES)),
)
def test_replicated_network_matches_separate_torch_networks(
    make_report_net: Net, replicas: int, batch: int, seed: int, loss_name: str
) -> None:
    """Each replica gets exactly the gradient of its own loss, as one network alone."""
    minidl_loss, torch_loss = LOSSES[loss_name]
    g = torch.Generator().manual_seed(seed)
    net, loss_fn = make_report_net(generator=g, replicas=replicas), minidl_loss()
    x = randn((replicas, batch, 2), g)
    t = torch.rand((replicas, batch, 1), generator=g, dtype=F64).round()

    loss = loss_fn(net(x), t)
    net.backward(loss_fn.backward())

    assert loss.shape == (replicas,)
    for r in range(replicas):
        values = [p.value[r] for p in net.params()]
        loss_ref, (_, *g_params) = reference(
            lambda *a, r=r: torch_loss(torch_report_net(*a), t[r]),
            [x[r], *values],
            torch.ones((), dtype=F64),
        )
        assert_close(loss[r], loss_ref)
        for p, expected in zip(net.params(), g_params, strict=True):
            assert_close(p.grad[r], expected)


def test_backward_accumulates_parameter_gradients(make_report_net: Net) -> None:
    g = torch.Generator().manual_seed(0)
    net, loss_fn = make_report_net(generator=g), minidl.MSELoss()
    x, t = randn((6, 2), g), randn((6, 1), g)
    loss_fn(net(x), t)
    net.backward(loss_fn.backward())
    once = [p.grad.clone() for p in net.params()]
    assert all(bool((gr != 0).any()) for gr in once)

    net.backward(loss_fn.backward())

    for p, first in zip(net.params(), once, strict=True):
        assert_close(p.grad, 2 * first)


# Parameters, zero_grad and the container ---------------------------------------------


def test_params_order_is_weight_then_bias_first_layer_first(make_report_net: Net) -> None:
    net = make_report_net()
    linears = [m for m in net if isinstance(m, minidl.Linear)]
    expected = [p for layer in linears for p in (layer.weight, layer.bias)]

    params = net.params()

    assert len(params) == len(expected) == 8
    assert all(p is q for p, q in zip(params, expected, strict=True))
    assert [tuple(p.shape) for p in params] == [
        (25, 2), (25,), (25, 25), (25,), (25, 25), (25,), (1, 25), (1,)
    ]  # fmt: skip


def test_param_gives_value_gradient_pairs(make_report_net: Net) -> None:
    net = make_report_net()
    pairs = net.param()
    assert len(pairs) == len(net.params())
    for (value, grad), p in zip(pairs, net.params(), strict=True):
        assert value is p.value and grad is p.grad
        assert value.shape == grad.shape
    for activation in (minidl.ReLU(), minidl.ELU(), minidl.MSELoss()):
        assert activation.params() == [] and activation.param() == []


def test_zero_grad_clears_every_gradient(make_report_net: Net) -> None:
    g = torch.Generator().manual_seed(1)
    net, loss_fn = make_report_net(generator=g), minidl.MSELoss()
    loss_fn(net(randn((5, 2), g)), randn((5, 1), g))
    net.backward(loss_fn.backward())
    assert all(bool(p.grad.abs().sum() > 0) for p in net.params())

    net.zero_grad()

    assert all(bool((p.grad == 0).all()) for p in net.params())


def test_sequential_len_indexing_iteration(make_report_net: Net) -> None:
    net = make_report_net()
    modules = list(net)
    assert len(net) == len(modules) == 8
    assert [type(m).__name__ for m in net] == [
        "Linear", "ELU", "Linear", "ReLU", "Linear", "SELU", "Linear", "Sigmoid"
    ]  # fmt: skip
    assert net[0] is modules[0] and net[-1] is modules[-1]
    head = net[:2]
    assert isinstance(head, minidl.Sequential) and list(head) == modules[:2]


def test_reprs_are_readable(make_report_net: Net) -> None:
    text = repr(make_report_net())
    assert "object at 0x" not in text
    lines = text.splitlines()
    assert lines[0] == "Sequential(" and lines[-1] == ")" and len(lines) == 10
    assert "Linear(in_features=2, out_features=25, nonlinearity='elu')" in lines[1]
    assert "ELU(alpha=0.2)" in lines[2]
    assert "SELU(alpha=1.6733, scale=1.0507)" in lines[6]
    assert repr(minidl.LeakyReLU(0.1)) == "LeakyReLU(slope=0.1)"
    assert repr(minidl.ReLU()) == "ReLU()"
    assert "replicas=3" in repr(minidl.Linear(2, 3, replicas=3))
    assert "(3, 2)" in repr(minidl.Linear(2, 3).weight)
