"""The framework under misuse (issue "The framework under real misuse"): each kind of
failure, its example from the issue with the right value or the expected error, and
more cases of the same kind.

Kinds: stale saved state; silent broadcasting and ambiguous shapes; mixed dtypes and
autograd state; non-finite and degenerate data; argument validation. Then what a
learner needs right after the course: error_rate for k > 1, state_dict, on_epoch and
validation data, the handout's names, Linear's gain parameter.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

import minidl
from conftest import REPORT_RECIPE, gen
from minidl.data import disk_dataset, fit_standardizer, standardize
from minidl.experiment import build_network
from minidl.module import ArgumentError
from minidl.train import RestartRule, error_rate, train

F64 = torch.float64


def randn(shape: tuple[int, ...], seed: int, dtype: torch.dtype = F64) -> Tensor:
    return torch.randn(shape, generator=gen(seed), dtype=dtype)


def small_net(seed: int = 0, dtype: torch.dtype = F64, replicas: int | None = None) -> Any:
    g = gen(seed)
    return minidl.Sequential(
        minidl.Linear(2, 5, "tanh", generator=g, dtype=dtype, replicas=replicas),
        minidl.Tanh(),
        minidl.Linear(5, 1, "sigmoid", generator=g, dtype=dtype, replicas=replicas),
        minidl.Sigmoid(),
    )


def grads_of(net: minidl.Module, x: Tensor, y: Tensor) -> list[Tensor]:
    """dL/dparams for MSE on (x, y), computed alone on a fresh forward."""
    loss_fn = minidl.MSELoss()
    net.zero_grad()
    loss_fn(net(x), y)
    net.backward(loss_fn.backward())
    out = [p.grad.clone() for p in net.params()]
    net.zero_grad()
    return out


def same(a: list[Tensor], b: list[Tensor]) -> bool:
    return all(torch.allclose(p, q, rtol=1e-12, atol=1e-14) for p, q in zip(a, b, strict=True))


# 1. Stale saved state -----------------------------------------------------------------


def torch_reference(net: minidl.Sequential, x: Tensor, u: Tensor) -> list[Tensor]:
    """Gradients of sum(u * net(x)) by autograd, replaying net with torch functions."""
    fns = {minidl.Tanh: torch.tanh, minidl.Sigmoid: torch.sigmoid, minidl.ReLU: torch.relu}
    with torch.enable_grad():
        values = [p.value.clone().requires_grad_(True) for p in net.params()]
        index = {id(p): v for p, v in zip(net.params(), values, strict=True)}
        h = x
        for m in net:
            if isinstance(m, minidl.Linear):
                h = F.linear(h, index[id(m.weight)], index[id(m.bias)])
            else:
                h = fns[type(m)](h)
        return list(torch.autograd.grad((u * h).sum(), values))


def test_one_tanh_object_twice_in_a_sequential() -> None:
    """The issue's example: forward was right, gradcheck failed by up to 0.016."""
    g = gen(1)
    tanh = minidl.Tanh()
    net = minidl.Sequential(
        minidl.Linear(3, 4, generator=g, dtype=F64),
        tanh,
        minidl.Linear(4, 4, generator=g, dtype=F64),
        tanh,
    )
    x = randn((6, 3), 2)
    assert minidl.gradcheck(net, x, generator=gen(3))
    u = randn((6, 4), 4)
    net.zero_grad()
    net(x)
    net.backward(u)
    assert same([p.grad for p in net.params()], torch_reference(net, x, u))


@pytest.mark.parametrize(
    "make", [minidl.ELU, minidl.SELU, minidl.ReLU, minidl.LeakyReLU, minidl.Sigmoid]
)
def test_every_activation_object_used_twice(make: Callable[[], minidl.Module]) -> None:
    g = gen(5)
    act = make()
    net = minidl.Sequential(
        minidl.Linear(3, 3, generator=g, dtype=F64), act, minidl.Linear(3, 3, dtype=F64), act
    )
    assert minidl.gradcheck(net, randn((5, 3), 6), generator=gen(7))


def test_one_linear_object_twice_shares_its_weights() -> None:
    layer = minidl.Linear(3, 3, generator=gen(8), dtype=F64)
    net = minidl.Sequential(layer, minidl.Tanh(), layer)
    assert len(net.params()) == 2  # listed once, as torch's parameters() does
    assert minidl.gradcheck(net, randn((4, 3), 9), generator=gen(10))
    assert list(net.state_dict()) == ["0.weight", "0.bias"]


def test_a_nested_sequential_used_twice() -> None:
    inner = minidl.Sequential(minidl.Linear(2, 2, generator=gen(11), dtype=F64), minidl.Tanh())
    net = minidl.Sequential(inner, minidl.Linear(2, 2, generator=gen(12), dtype=F64), inner)
    assert minidl.gradcheck(net, randn((3, 2), 13), generator=gen(14))


def test_an_evaluation_between_forward_and_backward_is_harmless() -> None:
    """The issue's second example: another forward before backward."""
    net = small_net()
    x, y, other = randn((8, 2), 1), torch.rand(8, 1, generator=gen(2), dtype=F64), randn((8, 2), 3)
    expected = grads_of(net, x, y)
    loss_fn = minidl.MSELoss()
    loss_fn(net(x), y)
    net(other)  # an evaluation on another batch of the same shape
    net.backward(loss_fn.backward())
    assert same([p.grad for p in net.params()], expected)


def test_error_rate_between_forward_and_backward() -> None:
    net = small_net()
    x, y = randn((8, 2), 1), torch.rand(8, 1, generator=gen(2), dtype=F64).round()
    expected = grads_of(net, x, y)
    loss_fn = minidl.MSELoss()
    loss_fn(net(x), y)
    error_rate(net, randn((8, 2), 4), y)
    net.backward(loss_fn.backward())
    assert same([p.grad for p in net.params()], expected)


def test_an_evaluation_before_the_step_is_harmless() -> None:
    net = small_net()
    x, y = randn((8, 2), 1), torch.rand(8, 1, generator=gen(2), dtype=F64)
    expected = grads_of(net, x, y)
    loss_fn = minidl.MSELoss()
    net(randn((8, 2), 5))  # e.g. the accuracy before training, as a raw forward
    loss_fn(net(x), y)
    net.backward(loss_fn.backward())
    assert same([p.grad for p in net.params()], expected)


def test_a_gradient_that_cannot_be_placed_is_refused() -> None:
    net = small_net()
    x = randn((8, 2), 1)
    out = net(x)
    net(randn((8, 2), 2))
    with pytest.raises(RuntimeError, match=r"Sequential.*2 forward passes.*error_rate"):
        net.backward(torch.ones_like(out))
    layer = minidl.Linear(2, 3, dtype=F64)
    layer(x)
    layer(randn((8, 2), 4))
    with pytest.raises(RuntimeError, match=r"Linear.*2 forward passes"):
        layer.backward(torch.ones(8, 3, dtype=F64))


def test_passes_on_equal_inputs_are_interchangeable() -> None:
    """Forward twice on the same input (a check, then the real pass): either will do."""
    for module in [minidl.ReLU(), small_net()]:
        x = randn((8, 2), 1)
        u = randn(tuple(module(x).shape), 2)
        module.backward(u)
        expected = module.backward(u)  # the gradient once more (added to params' grads)
        module(x.clone())
        module(x)
        torch.testing.assert_close(module.backward(u), expected)


def test_a_pass_of_another_shape_cannot_be_the_one_meant() -> None:
    net = small_net()
    x, x_test = randn((8, 2), 1), randn((30, 2), 2)
    u = randn((8, 1), 3)
    net.zero_grad()
    net(x)
    net.backward(u)
    expected = [p.grad.clone() for p in net.params()]
    for order in ([x_test, x], [x, x_test]):  # evaluation on the test set before or after
        net.zero_grad()
        for batch in order:
            net(batch)
        net.backward(u)
        assert same([p.grad for p in net.params()], expected)


def test_a_loss_on_an_output_that_saved_nothing_is_refused() -> None:
    net = small_net()
    x, y = randn((8, 2), 1), torch.rand(8, 1, generator=gen(2), dtype=F64)
    net(x)
    net.eval()
    loss_fn = minidl.MSELoss()
    loss_fn(net(x), y)
    net.train()
    with pytest.raises(RuntimeError, match=r"Sequential.*no saved forward"):
        net.backward(loss_fn.backward())


def test_eval_mode_saves_nothing_and_refuses_backward() -> None:
    net = small_net()
    x, y = randn((8, 2), 1), torch.rand(8, 1, generator=gen(2), dtype=F64)
    expected = grads_of(net, x, y)
    assert net.eval() is net and not any(m.training for m in [net, *net])
    out = net(x)
    with pytest.raises(RuntimeError, match=r"eval mode.*train()"):
        net.backward(torch.ones_like(out))
    with pytest.raises(RuntimeError, match=r"Tanh.*eval mode"):
        net[1].backward(torch.ones(8, 5, dtype=F64))
    net.train()
    assert same(grads_of(net, x, y), expected)


def test_legitimate_loops_keep_working() -> None:
    """A manual loop with raw evaluations before, between and after steps."""
    g = gen(20)
    x, y = disk_dataset(64, generator=g, dtype=F64)
    x_test, y_test = disk_dataset(64, generator=g, dtype=F64)
    net = small_net(21)
    twin = small_net(21)
    loss_fn, opt = minidl.MSELoss(), minidl.SGD(net.params(), 0.5, momentum=0.5)
    twin_loss, twin_opt = minidl.MSELoss(), minidl.SGD(twin.params(), 0.5, momentum=0.5)
    net(x_test)  # evaluation before the first step
    for start in range(0, 64, 16):
        xb, yb = x[start : start + 16], y[start : start + 16]
        loss = loss_fn(net(xb), yb)
        net(x_test[:16])  # evaluation between forward and backward, same shape
        loss_fn(net(x_test), y_test)  # a test loss, computed with the same loss object
        loss = loss_fn(net(xb), yb)
        opt.zero_grad()
        net.backward(loss_fn.backward())
        opt.step()
        net(x_test)  # evaluation after the step
        twin_loss(twin(xb), yb)
        twin_opt.zero_grad()
        twin.backward(twin_loss.backward())
        twin_opt.step()
    assert same([p.value for p in net.params()], [p.value for p in twin.params()])
    assert float(loss) > 0


def test_train_with_raw_evaluations_in_on_epoch() -> None:
    g = gen(22)
    x, y = disk_dataset(40, generator=g, dtype=F64)
    nets = [build_network(REPORT_RECIPE, generator=gen(23), dtype=F64) for _ in range(2)]

    def evaluate(epoch: int) -> None:
        nets[0](x)  # saves, and is never backpropagated

    for net, callback in zip(nets, [evaluate, None], strict=True):
        opt = minidl.SGD(net.params(), 0.5, momentum=0.2)
        train(
            net,
            minidl.MSELoss(),
            opt,
            x,
            y,
            epochs=3,
            batch_size=8,
            generator=gen(24),
            on_epoch=callback,
        )
    assert same([p.value for p in nets[0].params()], [p.value for p in nets[1].params()])


def test_backward_twice_adds_up_and_memory_stays_bounded() -> None:
    layer = minidl.Linear(2, 3, dtype=F64)
    x = randn((4, 2), 1)
    layer(x)
    layer.backward(torch.ones(4, 3, dtype=F64))
    once = layer.weight.grad.clone()
    layer.backward(torch.ones(4, 3, dtype=F64))
    assert torch.equal(layer.weight.grad, 2 * once)
    for _ in range(10):
        layer(randn((4, 2), 2))
    assert len(layer.saved_tensors()) == 4  # input and output of the last 2 passes only
    layer.eval()
    layer(x)
    assert len(layer.saved_tensors()) == 4  # eval mode saves nothing
    layer.train()
    layer(x)
    layer(x)  # the last 2 passes ran on the same input: either will do
    layer.backward(torch.ones(4, 3, dtype=F64))
    layer(x)  # the next pass: the backpropagated ones are dropped
    assert len(layer.saved_tensors()) == 2
    loss_fn = minidl.MSELoss()
    assert loss_fn.saved_tensors() == []
    loss_fn(x, x)
    assert len(loss_fn.saved_tensors()) == 2


def test_gradcheck_after_stale_forwards() -> None:
    net = small_net()
    x = randn((5, 2), 1)
    net(x)
    net(randn((5, 2), 2))
    assert minidl.gradcheck(net, x, generator=gen(3))


# 2. Shapes ------------------------------------------------------------------------------


def perfect(x: Tensor) -> Tensor:
    return (x.square().sum(-1, keepdim=True) < 1).to(x.dtype)


class Oracle(minidl.Module):
    """A perfect classifier for y = 1[|x| < 1]."""

    def forward(self, x: Tensor) -> Tensor:
        return perfect(x)


def test_error_rate_refuses_labels_without_the_feature_dimension() -> None:
    """The issue's example: (n, 1) outputs and (n,) labels reported 0.4996."""
    x = randn((1000, 2), 1)
    y = perfect(x)
    assert float(error_rate(Oracle(), x, y)) == 0.0
    with pytest.raises(minidl.ShapeError, match=r"error_rate.*\(1000, 2\).*\(1000,\)"):
        error_rate(Oracle(), x, y.squeeze(1))


def test_train_refuses_3d_data_for_a_network_without_replicas() -> None:
    """The issue's example: (n, 1, 2) data ran as n one-point replicas."""
    x, y = disk_dataset(50, generator=gen(1))
    net = build_network(REPORT_RECIPE, generator=gen(2))
    with pytest.raises(minidl.ShapeError, match=r"train.*no replicas.*\(50, 1, 2\)"):
        train(
            net,
            minidl.MSELoss(),
            minidl.SGD(net.params(), 0.1),
            x.unsqueeze(1),
            y.unsqueeze(1),
            epochs=1,
            batch_size=10,
        )
    with pytest.raises(minidl.ShapeError, match=r"error_rate.*no replicas"):
        error_rate(net, x.unsqueeze(1), y.unsqueeze(1))


@pytest.mark.parametrize("shape", [(4, 30, 2), (30, 2)])
def test_train_refuses_data_that_do_not_fit_the_replicas(shape: tuple[int, ...]) -> None:
    net = build_network(REPORT_RECIPE, replicas=3, generator=gen(1))
    x = torch.rand(shape, generator=gen(2))
    y = torch.zeros(*shape[:-1], 1)
    with pytest.raises(minidl.ShapeError, match=r"train.*3 replicas.*\(3, n, d\)"):
        train(net, minidl.MSELoss(), minidl.SGD(net.params(), 0.1), x, y, epochs=1, batch_size=10)


def test_train_refuses_targets_with_other_columns_than_the_outputs() -> None:
    x, y = disk_dataset(20, generator=gen(1))
    net = build_network(REPORT_RECIPE, generator=gen(2))
    with pytest.raises(minidl.ShapeError, match=r"train.*1 output.*3 column"):
        train(
            net,
            minidl.MSELoss(),
            minidl.SGD(net.params(), 0.1),
            x,
            y.expand(20, 3),
            epochs=1,
            batch_size=10,
        )


def test_train_names_itself_when_the_features_do_not_fit() -> None:
    net = build_network(REPORT_RECIPE, generator=gen(2))
    x, y = torch.rand(20, 3), torch.zeros(20, 1)
    with pytest.raises(minidl.ShapeError, match=r"train.*Linear.*2.*\(1, 3\)"):
        train(net, minidl.MSELoss(), minidl.SGD(net.params(), 0.1), x, y, epochs=1, batch_size=10)


def test_sequential_refuses_layers_with_different_replicas() -> None:
    with pytest.raises(ArgumentError, match=r"Sequential.*item 0: replicas=3.*item 2: replicas=4"):
        minidl.Sequential(
            minidl.Linear(2, 2, replicas=3), minidl.ReLU(), minidl.Linear(2, 1, replicas=4)
        )


def test_standardize_refuses_statistics_of_other_data() -> None:
    x = torch.rand(3, 10, 2, generator=gen(1))
    mean, std = fit_standardizer(x)
    assert standardize(x, mean, std).shape == (3, 10, 2)
    with pytest.raises(minidl.ShapeError, match=r"standardize"):
        standardize(x[0, :, :1], mean, std)
    with pytest.raises(minidl.ShapeError, match=r"standardize"):
        standardize(torch.rand(4, 10, 2), mean, std)


# 3. Dtypes and autograd state -----------------------------------------------------------


@pytest.mark.parametrize("loss_type", [minidl.MSELoss, minidl.BCELoss])
def test_float64_labels_for_a_float32_network_follow_torch(loss_type: type) -> None:
    """The issue's example: the gradient came back float64 and the error named Sigmoid."""
    p = torch.rand(6, 1, generator=gen(1)).clamp(0.05, 0.95)
    t = torch.rand(6, 1, generator=gen(2), dtype=F64).round()
    loss_fn = loss_type()
    loss = loss_fn(p, t)
    grad = loss_fn.backward()
    assert loss.dtype == F64 and grad.dtype == torch.float32  # as torch's mse_loss does
    ref = F.mse_loss if loss_type is minidl.MSELoss else F.binary_cross_entropy
    with torch.enable_grad():
        pr = p.clone().requires_grad_(True)
        ref_loss = ref(pr.double(), t)
        (ref_grad,) = torch.autograd.grad(ref_loss, pr)
    torch.testing.assert_close(loss, ref_loss.detach())
    torch.testing.assert_close(grad, ref_grad)
    net = small_net(dtype=torch.float32)
    x = torch.rand(6, 2, generator=gen(3))
    out = net(x)
    loss_fn(out, t)
    assert net.backward(loss_fn.backward()).dtype == torch.float32


def test_train_with_float64_labels_and_a_float32_network() -> None:
    x, y = disk_dataset(40, generator=gen(1))
    net = build_network(REPORT_RECIPE, generator=gen(2))
    history = train(
        net,
        minidl.MSELoss(),
        minidl.SGD(net.params(), 0.1),
        x,
        y.double(),
        epochs=2,
        batch_size=10,
    )
    assert bool(history.loss.isfinite().all())


def test_dtypes_of_one_size_are_refused_naming_both() -> None:
    p, t = torch.rand(4, 1, dtype=torch.float16), torch.rand(4, 1, dtype=torch.bfloat16)
    with pytest.raises(TypeError, match=r"MSELoss.*float16.*bfloat16"):
        minidl.MSELoss()(p, t)


def test_train_refuses_x_of_another_dtype_than_the_model() -> None:
    x, y = disk_dataset(20, generator=gen(1), dtype=F64)
    net = build_network(REPORT_RECIPE, generator=gen(2))
    with pytest.raises(TypeError, match=r"train: x is torch.float64.*torch.float32"):
        train(net, minidl.MSELoss(), minidl.SGD(net.params(), 0.1), x, y, epochs=1, batch_size=10)


def test_no_autograd_history_with_grad_mode_on_and_requires_grad_inputs() -> None:
    """The issue's example: the parameters joined a graph that grew every step."""
    x, y = disk_dataset(40, generator=gen(1))
    net = build_network(REPORT_RECIPE, generator=gen(2))
    loss_fn, opt = minidl.MSELoss(), minidl.SGD(net.params(), 0.1, momentum=0.5)
    with torch.enable_grad():
        xr, yr = x.clone().requires_grad_(True), y.clone().requires_grad_(True)
        for _ in range(3):
            out = net(xr)
            loss = loss_fn(out, yr)
            opt.zero_grad()
            grad_x = net.backward(loss_fn.backward())
            opt.step()
        history = train(net, loss_fn, opt, xr, yr, epochs=2, batch_size=10)
        rate = error_rate(net, xr, yr)
        assert minidl.gradcheck(minidl.Tanh(), randn((3, 2), 3).requires_grad_(True))
    produced = [out, loss, grad_x, history.loss, rate]
    produced += [t for p in net.params() for t in (p.value, p.grad)] + opt.velocity
    assert not any(t.requires_grad for t in produced)
    value = torch.ones(2, requires_grad=True)
    assert not minidl.Parameter(value).value.requires_grad


# 4. Non-finite and degenerate data ------------------------------------------------------


@pytest.mark.parametrize("which", ["x", "y"])
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_train_names_non_finite_data(which: str, bad: float) -> None:
    """The issue's example: one NaN in x gave "try a smaller learning rate than 1e-06"."""
    x, y = disk_dataset(50, generator=gen(1))
    (x if which == "x" else y)[7, 0] = bad
    net = build_network(REPORT_RECIPE, generator=gen(2))
    with pytest.raises(ValueError, match=rf"train: {which} holds 1 non-finite.*\[7, 0\]"):
        train(net, minidl.MSELoss(), minidl.SGD(net.params(), 1e-6), x, y, epochs=2, batch_size=10)


def test_error_rate_and_gradcheck_name_non_finite_data() -> None:
    x = randn((5, 2), 1)
    x[2, 1] = float("nan")
    with pytest.raises(ValueError, match=r"error_rate: x holds 1 non-finite"):
        error_rate(Oracle(), x, torch.zeros(5, 1, dtype=F64))
    with pytest.raises(ValueError, match=r"gradcheck: x holds 1 non-finite"):
        minidl.gradcheck(minidl.Tanh(), x)


def test_train_refuses_non_finite_parameters() -> None:
    x, y = disk_dataset(20, generator=gen(1))
    net = build_network(REPORT_RECIPE, generator=gen(2))
    net[2].weight.value[0, 0] = float("nan")
    with pytest.raises(ValueError, match=r"train: the model's params\(\)\[2\]"):
        train(net, minidl.MSELoss(), minidl.SGD(net.params(), 0.1), x, y, epochs=1, batch_size=10)


def test_empty_sets_are_refused() -> None:
    x, y = disk_dataset(20, generator=gen(1))
    net = build_network(REPORT_RECIPE, generator=gen(2))
    with pytest.raises(ValueError, match=r"train: x holds no points"):
        train(
            net,
            minidl.MSELoss(),
            minidl.SGD(net.params(), 0.1),
            x[:0],
            y[:0],
            epochs=1,
            batch_size=10,
        )
    with pytest.raises(ValueError, match=r"error_rate: x holds no points"):
        error_rate(net, x[:0], y[:0])
    with pytest.raises(minidl.ShapeError, match=r"fit_standardizer.*n >= 2"):
        fit_standardizer(x[:0])


def test_a_single_point_trains_and_cannot_be_standardised() -> None:
    x, y = disk_dataset(1, generator=gen(1), dtype=F64)
    net = build_network(REPORT_RECIPE, generator=gen(2), dtype=F64)
    history = train(
        net, minidl.MSELoss(), minidl.SGD(net.params(), 0.1), x, y, epochs=2, batch_size=10
    )
    assert bool(history.loss.isfinite().all())
    with pytest.raises(minidl.ShapeError, match=r"fit_standardizer.*n >= 2.*\(1, 2\)"):
        fit_standardizer(x)


def test_a_zero_spread_feature_standardises_to_zero() -> None:
    x = torch.rand(10, 2, generator=gen(1))
    x[:, 1] = 3.0
    mean, std = fit_standardizer(x)
    assert float(std[0, 1]) == 1.0
    z = standardize(x, mean, std)
    assert bool(z.isfinite().all()) and bool((z[:, 1] == 0).all())
    x[4, 0] = float("inf")
    with pytest.raises(ValueError, match=r"fit_standardizer: x holds 1 non-finite"):
        fit_standardizer(x)


# 5. Argument validation -------------------------------------------------------------------


def test_sgd_names_what_a_learner_passes_by_mistake() -> None:
    net = small_net()
    with pytest.raises(TypeError, match=r"SGD: params is a method.*model\.params\(\)"):
        minidl.SGD(net.params, lr=0.1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"SGD: params must be a list.*Sequential"):
        minidl.SGD(net, lr=0.1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"SGD: params must be a list.*Parameter"):
        minidl.SGD(net.params()[0], lr=0.1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"SGD: params must be a list.*dict"):
        minidl.SGD(net.state_dict(), lr=0.1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"SGD: params is empty"):
        minidl.SGD(minidl.ReLU().params(), lr=0.1)
    with pytest.raises(ValueError, match=r"SGD: params\[4\] is the same parameter as params\[0\]"):
        minidl.SGD(net.params() + net.params(), lr=0.1)
    with pytest.raises(TypeError, match=r"SGD: params\[0\].*str"):
        minidl.SGD(["weight"], lr=0.1)  # type: ignore[list-item]
    with pytest.raises(ValueError, match=r"SGD: lr must be a finite number > 0, got inf"):
        minidl.SGD(net.params(), lr=float("inf"))


def test_train_names_arguments_of_the_wrong_kind() -> None:
    x, y = disk_dataset(20, generator=gen(1))
    net = build_network(REPORT_RECIPE, generator=gen(2))
    other = build_network(REPORT_RECIPE, generator=gen(3))
    opt = minidl.SGD(net.params(), 0.1)
    kw: dict[str, Any] = dict(epochs=1, batch_size=10)
    with pytest.raises(TypeError, match=r"train: loss_fn.*the class"):
        train(net, minidl.MSELoss, opt, x, y, **kw)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"train: model.*the class"):
        train(minidl.Sequential, minidl.MSELoss(), opt, x, y, **kw)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"train: optimizer must be a minidl SGD"):
        train(net, minidl.MSELoss(), torch.optim.SGD([torch.ones(1)], 0.1), x, y, **kw)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"train: the optimizer holds parameters that are not"):
        train(net, minidl.MSELoss(), minidl.SGD(other.params(), 0.1), x, y, **kw)
    with pytest.raises(TypeError, match=r"train: generator must be a torch.Generator"):
        train(net, minidl.MSELoss(), opt, x, y, generator=0, **kw)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"train: on_epoch must take"):
        train(net, minidl.MSELoss(), opt, x, y, on_epoch=lambda a, b, c, d, e: None, **kw)
    with pytest.raises(ValueError, match=r"train: on_epoch must take"):
        train(net, minidl.MSELoss(), opt, x, y, on_epoch=lambda: None, **kw)
    with pytest.raises(TypeError, match=r"train: on_epoch must be callable"):
        train(net, minidl.MSELoss(), opt, x, y, on_epoch=[], **kw)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"train: engine must be one of \('replicas', 'loop'\)"):
        train(net, minidl.MSELoss(), opt, x, y, engine="looped", **kw)
    with pytest.raises(TypeError, match=r"train: shuffle must be a bool"):
        train(net, minidl.MSELoss(), opt, x, y, shuffle=1, **kw)  # type: ignore[arg-type]


ZEROS = torch.zeros(2, 1)


@pytest.mark.parametrize(
    ("call", "pattern"),
    [
        (lambda: error_rate(minidl.Tanh, ZEROS, ZEROS), "error_rate.*class"),
        (lambda: minidl.gradcheck(minidl.Tanh, ZEROS.double()), "gradcheck.*class"),
        (lambda: minidl.gradcheck(minidl.Tanh(), ZEROS.double(), eps=0), "gradcheck.*eps"),
        (lambda: minidl.gain("relu", 0.5), "gain.*'relu' takes no gain parameter"),
        (lambda: minidl.gain("elu", -1.0), "gain.*alpha must be > 0"),
        (lambda: minidl.Linear(2, 3, "relu", gain_param=0.1), "Linear.*'relu' takes no"),
        (lambda: minidl.Linear(2, 3, bias_std="1"), "Linear.*bias_std.*number"),
        (lambda: minidl.Linear(2, 3, generator=0), "Linear.*generator.*torch.Generator"),
        (lambda: minidl.Tanh().train("no"), "Tanh.train.*mode must be a bool"),
        (lambda: RestartRule(start=-1), "RestartRule.*start"),
        (lambda: RestartRule(tol=float("nan")), "RestartRule.*tol"),
        (lambda: RestartRule(max_error=40), "RestartRule.*max_error is a fraction"),
        (lambda: minidl.Parameter([1.0]), "Parameter.*Tensor.*list"),
        (lambda: minidl.Sequential(minidl.ReLU), "Sequential.*item 0.*the class"),
    ],
)
def test_entry_points_name_themselves(call: Callable[[], object], pattern: str) -> None:
    with pytest.raises((TypeError, ValueError), match=pattern):
        call()


# 7. error_rate and History for k > 1 -------------------------------------------------------


class Fixed(minidl.Module):
    def __init__(self, output: Tensor) -> None:
        self.output = output

    def forward(self, x: Tensor) -> Tensor:
        return self.output


def test_error_rate_uses_the_argmax_for_several_outputs() -> None:
    """The issue's example: thresholding each unit reported far less than the real error."""
    out = torch.tensor([[0.6, 0.7, 0.1], [0.2, 0.3, 0.1], [0.1, 0.1, 0.9], [0.4, 0.35, 0.25]])
    y = F.one_hot(torch.tensor([0, 1, 2, 0]), 3).float()
    # argmax: 1 vs 0 wrong, 1 vs 1 right, 2 vs 2 right, 0 vs 0 right -> 1 of 4
    assert float(error_rate(Fixed(out), torch.zeros(4, 2), y)) == 0.25
    replicas = torch.stack([out, y, 1 - y])  # (3, 4, 3)
    rate = error_rate(Fixed(replicas), torch.zeros(3, 4, 2), y.expand(3, 4, 3))
    assert rate.tolist() == [0.25, 0.0, 1.0]


def test_train_error_follows_the_argmax_rule_with_cross_entropy() -> None:
    g = gen(30)
    x = torch.randn(60, 2, generator=g, dtype=F64)
    y = F.one_hot((x[:, 0] > 0).long() + (x[:, 1] > 0).long(), 3).to(F64)
    net = minidl.Sequential(
        minidl.Linear(2, 8, "relu", generator=g, dtype=F64),
        minidl.ReLU(),
        minidl.Linear(8, 3, generator=g, dtype=F64),
    )
    before = float(error_rate(net, x, y))
    seen: list[tuple[int, float, float, Any]] = []
    history = train(
        net,
        minidl.CrossEntropyLoss(),
        minidl.SGD(net.params(), 1e-300),
        x,
        y,
        epochs=1,
        batch_size=60,
        on_epoch=lambda e, loss, err, val: seen.append((e, float(loss), float(err), val)),
    )
    assert float(history.train_error[0]) == before  # lr ~ 0: the same network
    assert seen == [(0, float(history.loss[0]), before, None)]


# 8. state_dict ---------------------------------------------------------------------------


def test_state_dict_uses_torch_names_and_loads_into_torch(tmp_path: Path) -> None:
    net = small_net()
    state = net.state_dict()
    twin = torch.nn.Sequential(
        torch.nn.Linear(2, 5), torch.nn.Tanh(), torch.nn.Linear(5, 1), torch.nn.Sigmoid()
    ).double()
    assert list(state) == list(twin.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    twin.load_state_dict(state)
    x = randn((4, 2), 1)
    with torch.no_grad():
        torch.testing.assert_close(twin(x), net(x))
    assert list(minidl.Linear(2, 3).state_dict()) == ["weight", "bias"]

    path = tmp_path / "net.pt"
    torch.save(state, path)
    other = small_net(seed=5)
    weight = other[0].weight.value
    other.load_state_dict(torch.load(path))
    assert other[0].weight.value is weight  # copied in place: an optimizer still holds it
    assert same([p.value for p in other.params()], [p.value for p in net.params()])


def test_load_state_dict_checks_names_and_shapes_before_copying() -> None:
    net = small_net()
    before = [p.value.clone() for p in net.params()]
    good = small_net(seed=3).state_dict()
    missing = {k: v for k, v in good.items() if k != "2.bias"}
    with pytest.raises(KeyError, match=r"missing keys \['2.bias'\], unexpected keys \[\]"):
        net.load_state_dict(missing)
    with pytest.raises(KeyError, match=r"unexpected keys \['4.weight'\]"):
        net.load_state_dict({**good, "4.weight": torch.zeros(1)})
    bad = {**good, "2.weight": torch.zeros(5, 1, dtype=F64)}
    with pytest.raises(minidl.ShapeError, match=r"'2.weight'.*\(5, 1\).*\(1, 5\)"):
        net.load_state_dict(bad)
    with pytest.raises(TypeError, match=r"'0.bias' must be a tensor"):
        net.load_state_dict({**good, "0.bias": [0.0] * 5})  # type: ignore[dict-item]
    assert same([p.value for p in net.params()], before)  # nothing was copied
    net.load_state_dict(missing, strict=False)  # as torch: copies the keys both have
    assert torch.equal(net[0].weight.value, good["0.weight"])
    assert torch.equal(net[2].bias.value, before[3])


# 9. on_epoch and validation data -----------------------------------------------------------


@pytest.mark.parametrize("replicas", [None, 2])
def test_on_epoch_gets_loss_error_and_validation_error(replicas: int | None) -> None:
    g = gen(40)
    x, y = disk_dataset(30, generator=g, replicas=replicas)
    xv, yv = disk_dataset(20, generator=g, replicas=replicas)
    net = build_network(REPORT_RECIPE, replicas=replicas, generator=g)
    seen: list[tuple[int, Tensor, Tensor, Tensor]] = []

    def report(epoch: int, loss: Tensor, train_error: Tensor, validation_error: Tensor) -> None:
        assert torch.equal(validation_error, error_rate(net, xv, yv))
        seen.append((epoch, loss.clone(), train_error.clone(), validation_error.clone()))

    history = train(
        net,
        minidl.MSELoss(),
        minidl.SGD(net.params(), 0.5),
        x,
        y,
        epochs=3,
        batch_size=10,
        generator=g,
        on_epoch=report,
        validation=(xv, yv),
    )
    assert history.validation_error is not None
    lead = () if replicas is None else (replicas,)
    assert history.validation_error.shape == (3, *lead)
    assert [e for e, *_ in seen] == [0, 1, 2]
    for epoch, loss, err, val in seen:
        assert torch.equal(loss, history.loss[epoch])
        assert torch.equal(err, history.train_error[epoch])
        assert torch.equal(val, history.validation_error[epoch])


def test_on_epoch_may_take_fewer_arguments() -> None:
    x, y = disk_dataset(20, generator=gen(1))
    net = build_network(REPORT_RECIPE, generator=gen(2))
    seen: list[tuple[Any, ...]] = []
    history = train(
        net,
        minidl.MSELoss(),
        minidl.SGD(net.params(), 0.1),
        x,
        y,
        epochs=2,
        batch_size=10,
        on_epoch=lambda epoch, loss, error: seen.append((epoch, float(loss), float(error))),
    )
    assert seen == [(e, float(history.loss[e]), float(history.train_error[e])) for e in (0, 1)]


def test_validation_data_are_checked() -> None:
    x, y = disk_dataset(20, generator=gen(1))
    net = build_network(REPORT_RECIPE, generator=gen(2))
    opt = minidl.SGD(net.params(), 0.1)
    kw: dict[str, Any] = dict(epochs=1, batch_size=10)
    bad_x = x.clone()
    bad_x[0, 0] = float("nan")
    with pytest.raises(ValueError, match=r"train: validation x holds 1 non-finite"):
        train(net, minidl.MSELoss(), opt, x, y, validation=(bad_x, y), **kw)
    with pytest.raises(minidl.ShapeError, match=r"train: expected validation x"):
        train(net, minidl.MSELoss(), opt, x, y, validation=(x, y[:, 0]), **kw)
    with pytest.raises(TypeError, match=r"train: validation must be a pair"):
        train(net, minidl.MSELoss(), opt, x, y, validation=[x, y], **kw)  # type: ignore[arg-type]
    assert train(net, minidl.MSELoss(), opt, x, y, **kw).validation_error is None


# 10. The handout's names ---------------------------------------------------------------------


def test_loss_mse_is_mse_loss() -> None:
    assert minidl.LossMSE is minidl.MSELoss
    assert "LossMSE" in minidl.__all__


@pytest.mark.parametrize("momentum", [0.0, 0.5])
def test_sgd_takes_the_handouts_param_pairs(momentum: float) -> None:
    x, y = disk_dataset(20, generator=gen(1), dtype=F64)
    nets = [small_net(7), small_net(7)]
    opts = [
        minidl.SGD(nets[0].params(), 0.5, momentum),
        minidl.SGD(nets[1].param(), 0.5, momentum),
    ]
    for net, opt in zip(nets, opts, strict=True):
        loss_fn = minidl.MSELoss()
        for _ in range(3):
            loss_fn(net(x), y)
            opt.zero_grad()
            net.backward(loss_fn.backward())
            opt.step()
    assert same([p.value for p in nets[0].params()], [p.value for p in nets[1].params()])
    with pytest.raises(TypeError, match=r"SGD: params\[0\] is not a \(value, gradient\) pair"):
        minidl.SGD([(torch.zeros(2), torch.zeros(3))], 0.1)


# 11. Linear's documentation and gain parameter ------------------------------------------------


def test_linear_documents_every_argument() -> None:
    import inspect

    doc = minidl.Linear.__doc__ or ""
    for name in inspect.signature(minidl.Linear).parameters:
        assert re.search(rf"\b{name}\b", doc), name
    assert "follows" in doc.lower() and "bias_std" in doc


@pytest.mark.parametrize(
    ("nonlinearity", "activation", "param"),
    [("elu", minidl.ELU, 1.0), ("elu", minidl.ELU, 0.5), ("leaky_relu", minidl.LeakyReLU, 0.01)],
)
def test_gain_param_matches_the_activation_that_follows(
    nonlinearity: str, activation: Callable[[float], minidl.Module], param: float
) -> None:
    layer = minidl.Linear(2, 3, nonlinearity, gain_param=param)
    assert layer.gain == minidl.gain(nonlinearity, param) != minidl.gain(nonlinearity)
    minidl.Sequential(layer, activation(param))  # matching: accepted
    with pytest.raises(ArgumentError, match=rf"Sequential: item 0.*0.2.*gain_param={param}"):
        minidl.Sequential(minidl.Linear(2, 3, nonlinearity), activation(param))
    minidl.Sequential(minidl.Linear(2, 3, nonlinearity), activation(0.2))  # the defaults agree
