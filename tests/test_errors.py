"""Bad input raises at once, with the right type and a message naming module and values.

One test per kind of error in DESIGN.md's Errors section, parametrized over every
module it applies to.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from torch import Tensor

import minidl
from minidl.data import disk_dataset
from minidl.module import ArgumentError

ACTIVATIONS: dict[str, Callable[[], minidl.Module]] = {
    "ReLU": minidl.ReLU,
    "Tanh": minidl.Tanh,
    "LeakyReLU": minidl.LeakyReLU,
    "ELU": minidl.ELU,
    "SELU": minidl.SELU,
    "Sigmoid": minidl.Sigmoid,
}
# Every module that takes one (4, 3) input and returns a (4, 3) output.
SAME_SHAPE: dict[str, Callable[[], minidl.Module]] = {
    **ACTIVATIONS,
    "Linear": lambda: minidl.Linear(3, 3),
}
LOSSES: dict[str, Callable[[], minidl.MSELoss | minidl.BCELoss]] = {
    "MSELoss": minidl.MSELoss,
    "BCELoss": minidl.BCELoss,
}


def half(*shape: int) -> Tensor:
    return torch.full(shape, 0.5)


def test_error_classes() -> None:
    assert issubclass(minidl.ShapeError, ValueError)
    assert issubclass(minidl.ShapeError, RuntimeError)
    assert issubclass(ArgumentError, ValueError)
    assert issubclass(ArgumentError, TypeError)


# Shapes ------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(4, 2), (4, 4), (2,), (2, 4, 5)])
def test_linear_wrong_feature_size(shape: tuple[int, ...]) -> None:
    pattern = rf"Linear.*3.*{re.escape(str(shape))}"
    with pytest.raises(minidl.ShapeError, match=pattern):
        minidl.Linear(3, 2)(half(*shape))


@pytest.mark.parametrize("shape", [(3, 5, 3), (4, 5, 2), (5, 3)])
def test_replicated_linear_wrong_input_shape(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match=rf"Linear.*{re.escape(str(shape))}"):
        minidl.Linear(3, 2, replicas=4)(half(*shape))


@pytest.mark.parametrize("name", SAME_SHAPE)
@pytest.mark.parametrize("grad_shape", [(4, 4), (3, 4), (3,), (1, 3), (4, 3, 1)])
def test_gradient_of_the_wrong_shape(name: str, grad_shape: tuple[int, ...]) -> None:
    module = SAME_SHAPE[name]()
    module(half(4, 3))
    pattern = rf"{name}.*{re.escape(str(grad_shape))}.*\(4, 3\)"
    with pytest.raises(ValueError, match=pattern):
        module.backward(half(*grad_shape))


@pytest.mark.parametrize("name", LOSSES)
def test_loss_gradient_of_the_wrong_shape(name: str) -> None:
    loss_fn = LOSSES[name]()
    loss_fn(half(2, 4, 1), half(2, 4, 1))  # one loss per replica: shape (2,)
    with pytest.raises(ValueError, match=rf"{name}.*\(3,\).*\(2,\)"):
        loss_fn.backward(half(3))


@pytest.mark.parametrize("name", LOSSES)
@pytest.mark.parametrize(
    ("p_shape", "t_shape"), [((4, 1), (4,)), ((4,), (4, 1)), ((4, 1), (1, 4)), ((2, 2), (4, 1))]
)
def test_prediction_and_target_shapes_must_agree(
    name: str, p_shape: tuple[int, ...], t_shape: tuple[int, ...]
) -> None:
    pattern = rf"{name}.*{re.escape(str(p_shape))}.*{re.escape(str(t_shape))}"
    with pytest.raises(ValueError, match=pattern):
        LOSSES[name]()(half(*p_shape), half(*t_shape))


# Backward before forward -------------------------------------------------------------


@pytest.mark.parametrize("name", SAME_SHAPE)
def test_backward_before_forward(name: str) -> None:
    with pytest.raises(RuntimeError, match=rf"{name}.*before forward"):
        SAME_SHAPE[name]().backward(half(4, 3))


@pytest.mark.parametrize("name", LOSSES)
def test_loss_backward_before_forward(name: str) -> None:
    with pytest.raises(RuntimeError, match=rf"{name}.*before forward"):
        LOSSES[name]().backward()


def test_sequential_backward_before_forward() -> None:
    net = minidl.Sequential(minidl.Linear(2, 3), minidl.ReLU())
    with pytest.raises(RuntimeError, match="before forward"):
        net.backward(half(4, 3))


# Values ------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [1.5, -0.25, float("nan"), float("inf")])
@pytest.mark.parametrize("which", ["prediction", "target"])
def test_bce_values_outside_unit_interval(bad: float, which: str) -> None:
    values = half(4, 1)
    values[2, 0] = bad
    p, t = (values, half(4, 1)) if which == "prediction" else (half(4, 1), values)
    with pytest.raises(ValueError, match=rf"BCELoss.*{which}.*{re.escape(repr(bad))}"):
        minidl.BCELoss()(p, t)


# Types -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SAME_SHAPE)
@pytest.mark.parametrize("dtype", [torch.int64, torch.bool])
def test_module_rejects_non_float_tensors(name: str, dtype: torch.dtype) -> None:
    with pytest.raises(TypeError, match=rf"{name}.*{dtype}"):
        SAME_SHAPE[name]()(torch.ones(4, 3, dtype=dtype))


@pytest.mark.parametrize("name", SAME_SHAPE)
def test_backward_rejects_non_float_gradient(name: str) -> None:
    module = SAME_SHAPE[name]()
    module(half(4, 3))
    with pytest.raises(TypeError, match=rf"{name}.*torch.int64"):
        module.backward(torch.ones(4, 3, dtype=torch.int64))


@pytest.mark.parametrize("name", LOSSES)
@pytest.mark.parametrize("dtype", [torch.int64, torch.bool])
@pytest.mark.parametrize("which", ["prediction", "target"])
def test_loss_rejects_non_float_tensors(name: str, dtype: torch.dtype, which: str) -> None:
    ints = torch.ones(4, 1, dtype=dtype)
    p, t = (ints, half(4, 1)) if which == "prediction" else (half(4, 1), ints)
    with pytest.raises(TypeError, match=rf"{name}.*{which}.*{dtype}"):
        LOSSES[name]()(p, t)


def test_linear_rejects_input_of_another_float_dtype() -> None:
    layer = minidl.Linear(3, 2, dtype=torch.float64)
    with pytest.raises(TypeError, match=r"Linear.*float32.*float64"):
        layer(half(4, 3))


@pytest.mark.parametrize("name", SAME_SHAPE)
def test_backward_rejects_gradient_of_another_float_dtype(name: str) -> None:
    module = SAME_SHAPE[name]()
    module(half(4, 3))
    with pytest.raises(TypeError, match=rf"{name}.*float64.*float32"):
        module.backward(half(4, 3).double())


def test_sequential_rejects_non_float_tensors() -> None:
    net = minidl.Sequential(minidl.Linear(3, 2), minidl.ReLU())
    with pytest.raises(TypeError, match=r"Linear.*torch\.int64"):
        net(torch.ones(4, 3, dtype=torch.int64))


@pytest.mark.parametrize("name", SAME_SHAPE)
@pytest.mark.parametrize("value", [[[0.5, 0.5, 0.5]], np.full((4, 3), 0.5), 0.5])
def test_module_rejects_non_tensors(name: str, value: Any) -> None:
    with pytest.raises(TypeError, match=rf"{name}.*Tensor.*{type(value).__name__}"):
        SAME_SHAPE[name]()(value)


@pytest.mark.parametrize("name", LOSSES)
def test_loss_rejects_non_tensors(name: str) -> None:
    with pytest.raises(TypeError, match=rf"{name}.*Tensor.*list"):
        LOSSES[name]()([0.5], half(1))  # type: ignore[arg-type]


# Constructor arguments ---------------------------------------------------------------

BAD_SIZES = [0, -1, 2.5, True, "3"]


@pytest.mark.parametrize("size", BAD_SIZES, ids=repr)
@pytest.mark.parametrize("which", ["in_features", "out_features", "replicas"])
def test_linear_rejects_bad_sizes(size: Any, which: str) -> None:
    kwargs: dict[str, Any] = {"in_features": 2, "out_features": 3, which: size}
    pattern = rf"Linear.*{which}.*{re.escape(repr(size))}"
    with pytest.raises(ArgumentError, match=pattern) as info:
        minidl.Linear(**kwargs)
    assert isinstance(info.value, ValueError) and isinstance(info.value, TypeError)


def test_linear_rejects_unknown_nonlinearity() -> None:
    with pytest.raises(ValueError, match=r"Linear.*'softmax'"):
        minidl.Linear(2, 3, "softmax")


def test_gain_rejects_unknown_nonlinearity() -> None:
    with pytest.raises(ValueError, match=r"gain.*'softmax'"):
        minidl.gain("softmax")


def test_linear_rejects_non_float_dtype() -> None:
    with pytest.raises(ValueError, match=r"Linear.*dtype.*int64"):
        minidl.Linear(2, 3, dtype=torch.int64)


def _params() -> list[minidl.Parameter]:
    return minidl.Linear(2, 3).params()


@pytest.mark.parametrize("lr", [0, 0.0, -0.1, float("nan")])
def test_sgd_rejects_bad_learning_rate(lr: float) -> None:
    with pytest.raises(ValueError, match=rf"SGD.*lr.*{re.escape(repr(lr))}"):
        minidl.SGD(_params(), lr=lr)


@pytest.mark.parametrize("momentum", [-0.1, 1.0, 1.5, float("nan")])
def test_sgd_rejects_bad_momentum(momentum: float) -> None:
    with pytest.raises(ValueError, match=rf"SGD.*momentum.*{re.escape(repr(momentum))}"):
        minidl.SGD(_params(), lr=0.1, momentum=momentum)


def test_sgd_rejects_non_parameters() -> None:
    with pytest.raises(TypeError, match=r"SGD.*Parameter.*Tensor"):
        minidl.SGD([torch.ones(2)], lr=0.1)  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("items", "index", "kind"),
    [
        ((minidl.Linear(2, 3), "relu"), 1, "str"),
        ((torch.nn.ReLU(),), 0, "ReLU"),
        ((minidl.ReLU, minidl.Tanh()), 0, "type"),  # the class, not an instance
    ],
)
def test_sequential_rejects_non_modules(items: tuple[Any, ...], index: int, kind: str) -> None:
    with pytest.raises(TypeError, match=rf"Sequential.*item {index}.*{kind}"):
        minidl.Sequential(*items)


@pytest.mark.parametrize("n", [0, -3, 2.5])
def test_disk_dataset_rejects_bad_sizes(n: Any) -> None:
    with pytest.raises(ValueError, match=rf"disk_dataset.*n.*{re.escape(repr(n))}"):
        disk_dataset(n)
