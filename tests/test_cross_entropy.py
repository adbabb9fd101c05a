"""CrossEntropyLoss against torch.nn.functional.cross_entropy (float64) and gradcheck.

Soft and hard (one-hot) targets, one loss per replica, backward with and without an
upstream gradient, extreme logits for relative accuracy, and the errors it raises.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

import minidl
from conftest import gen

F64 = torch.float64


def logits(shape: tuple[int, ...], seed: int, scale: float = 3.0) -> Tensor:
    return torch.randn(shape, generator=gen(seed), dtype=F64) * scale


def soft_target(shape: tuple[int, ...], seed: int) -> Tensor:
    return torch.rand(shape, generator=gen(seed), dtype=F64).softmax(dim=-1)


def one_hot(shape: tuple[int, ...], seed: int) -> Tensor:
    labels = torch.randint(shape[-1], shape[:-1], generator=gen(seed))
    return F.one_hot(labels, shape[-1]).to(F64)


def reference(z: Tensor, t: Tensor, upstream: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """torch's loss (one per replica for 3-D input) and its gradient with respect to z."""
    with torch.enable_grad():
        zr = z.clone().requires_grad_(True)
        if z.ndim == 2:
            loss = F.cross_entropy(zr, t)
        else:
            loss = torch.stack([F.cross_entropy(zr[r], t[r]) for r in range(z.shape[0])])
        up = torch.ones_like(loss) if upstream is None else upstream
        (grad,) = torch.autograd.grad(loss, zr, up)
    return loss.detach(), grad


def assert_close(actual: Tensor, expected: Tensor, rtol: float = 1e-12) -> None:
    torch.testing.assert_close(actual, expected, rtol=rtol, atol=1e-14)


@pytest.mark.parametrize("shape", [(5, 3), (1, 2), (7, 10), (4, 6, 3), (2, 1, 4)])
@pytest.mark.parametrize("target", [soft_target, one_hot], ids=["soft", "hard"])
def test_matches_torch(shape: tuple[int, ...], target: object) -> None:
    z = logits(shape, 0)
    t = target(shape, 1)  # type: ignore[operator]
    loss_fn = minidl.CrossEntropyLoss()
    loss = loss_fn(z, t)
    grad = loss_fn.backward()
    loss_ref, grad_ref = reference(z, t)
    assert loss.shape == shape[:-2]
    assert_close(loss, loss_ref)
    assert_close(grad, grad_ref)
    # backward is (softmax(z) - t) / batch
    assert_close(grad, (z.softmax(dim=-1) - t) / shape[-2])


def test_hard_targets_match_torch_with_class_indices() -> None:
    z = logits((8, 5), 2)
    labels = torch.randint(5, (8,), generator=gen(3))
    loss = minidl.CrossEntropyLoss()(z, F.one_hot(labels, 5).to(F64))
    assert_close(loss, F.cross_entropy(z, labels))


def test_replicas_get_the_gradient_of_their_own_loss() -> None:
    z, t = logits((3, 4, 5), 4), soft_target((3, 4, 5), 5)
    upstream = torch.tensor([0.5, -2.0, 3.0], dtype=F64)
    loss_fn = minidl.CrossEntropyLoss()
    loss = loss_fn(z, t)
    grad = loss_fn.backward(upstream)
    loss_ref, grad_ref = reference(z, t, upstream)
    assert loss.shape == (3,)
    assert_close(loss, loss_ref)
    assert_close(grad, grad_ref)
    for r in range(3):
        alone = minidl.CrossEntropyLoss()
        assert_close(alone(z[r], t[r]), loss[r])
        assert_close(alone.backward() * upstream[r], grad[r])


@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 4)])
def test_gradcheck(shape: tuple[int, ...]) -> None:
    result = minidl.gradcheck(
        minidl.CrossEntropyLoss(), logits(shape, 6), soft_target(shape, 7), generator=gen(8)
    )
    assert result, str(result)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_extreme_logits_keep_relative_accuracy(dtype: torch.dtype) -> None:
    z = torch.tensor(
        [[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 999.0], [1000.0, 1000.0, -1000.0]],
        dtype=dtype,
    )
    t = torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.5, 0.0, 0.5]], dtype=dtype)
    loss_fn = minidl.CrossEntropyLoss()
    loss = loss_fn(z, t)
    grad = loss_fn.backward()
    # per row: -log softmax at the target, in exact arithmetic
    rows = [2000.0, 2000.0 + math.log1p(math.exp(-1.0)), 0.5 * (math.log(2) + 2000 + math.log(2))]
    exact = sum(rows) / 3
    assert math.isfinite(float(loss)) and bool(grad.isfinite().all())
    assert float(loss) == pytest.approx(exact, rel=1e-6 if dtype == torch.float32 else 1e-14)
    loss_ref, grad_ref = reference(z.double(), t.double())
    assert float(loss) == pytest.approx(float(loss_ref), rel=1e-6)
    torch.testing.assert_close(grad.double(), grad_ref, rtol=1e-5, atol=1e-7)


def test_large_equal_logits_give_log_k() -> None:
    z = torch.full((2, 4), 1e4, dtype=torch.float32)
    t = torch.full((2, 4), 0.25)
    assert float(minidl.CrossEntropyLoss()(z, t)) == pytest.approx(math.log(4), rel=1e-6)


# Errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("z_shape", "t_shape"), [((4, 3), (4,)), ((4, 3), (4, 1)), ((2, 4, 3), (4, 3))]
)
def test_shapes_must_agree(z_shape: tuple[int, ...], t_shape: tuple[int, ...]) -> None:
    with pytest.raises(minidl.ShapeError, match=r"CrossEntropyLoss.*\(4"):
        minidl.CrossEntropyLoss()(torch.zeros(z_shape), torch.zeros(t_shape))


@pytest.mark.parametrize("shape", [(4, 1), (3,)])
def test_needs_two_classes_and_a_batch(shape: tuple[int, ...]) -> None:
    with pytest.raises(minidl.ShapeError, match=r"CrossEntropyLoss.*k >= 2"):
        minidl.CrossEntropyLoss()(torch.zeros(shape), torch.ones(shape))


@pytest.mark.parametrize(
    ("rows", "found"),
    [
        ([[2.0, 0.0, 0.0]], "2.0"),  # a class index where a probability belongs
        ([[-0.5, 1.0, 0.5]], "-0.5"),
        ([[0.5, 0.2, 0.2]], "0.9"),  # does not sum to 1
        ([[float("nan"), 0.5, 0.5]], "nan"),
    ],
)
def test_target_must_hold_probabilities(rows: list[list[float]], found: str) -> None:
    with pytest.raises(ValueError, match=rf"CrossEntropyLoss.*{found}"):
        minidl.CrossEntropyLoss()(torch.zeros(1, 3), torch.tensor(rows))


def test_backward_before_forward() -> None:
    with pytest.raises(RuntimeError, match=r"CrossEntropyLoss.*before forward"):
        minidl.CrossEntropyLoss().backward()


def test_is_exported() -> None:
    assert "CrossEntropyLoss" in minidl.__all__


def test_class_indices_get_a_hint_towards_one_hot_targets() -> None:
    logits = torch.zeros(5, 3)
    labels = torch.tensor([0, 1, 2, 0, 1])
    with pytest.raises(TypeError, match=r"one-hot targets of the prediction's shape \(5, 3\)"):
        minidl.CrossEntropyLoss()(logits, labels)
    with pytest.raises(minidl.ShapeError, match="one-hot rows"):
        minidl.CrossEntropyLoss()(logits, labels.float())
    with pytest.raises(minidl.ShapeError, match=r"as a column, y\[\.\.\., None\]"):
        minidl.MSELoss()(torch.zeros(5, 1), torch.zeros(5))
