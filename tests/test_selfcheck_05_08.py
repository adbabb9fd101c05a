"""The self-checks of notebooks 05-08 pass right code, stop a stub and name classic mistakes.

Each check gets the notebook's own solution (it must pass), a stub (it must say "not
implemented yet") and seeded mistakes: backward in forward order or without the ReLU's mask,
a lost velocity, gradients not zeroed between steps, a step before backward, no shuffle, a
restart rule without its conditions, replicas mixed, a loss averaged over the replicas.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import Tensor

import minidl
import selfcheck  # notebooks/selfcheck.py (pytest puts notebooks/ on the path)
from conftest import fails_with, stub
from minidl.data import permutation


def passes(check: Callable[..., None], *args: Any, capsys: pytest.CaptureFixture[str]) -> None:
    check(*args)
    assert ": correct (" in capsys.readouterr().out


# 05: the hand-written two-layer network -----------------------------------------------------


def two_layer(
    x: Tensor, t: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor, bug: str = ""
) -> tuple[Tensor, dict[str, Tensor]]:
    h1 = x @ w1.T + b1
    a1 = h1.clamp(min=0)
    out = a1 @ w2.T + b2
    loss = ((out - t) ** 2).mean()
    g_out = 2 * (out - t) / out.numel()
    if bug == "no division":
        g_out = 2 * (out - t)
    if bug == "no factor 2":
        g_out = (out - t) / out.numel()
    g_w2, g_b2 = g_out.T @ (h1 if bug == "w2 from h1" else a1), g_out.sum(0)
    if bug == "scalar bias":
        g_b2 = g_out.sum()
    if bug == "w2 transposed":
        g_w2 = a1.T @ g_out
    g_a1 = g_out @ w2
    g_h1 = g_a1 if bug == "no mask" else g_a1 * (h1 > 0)
    if bug == "inverted mask":
        g_h1 = g_a1 * (h1 <= 0)
    g_w1, g_b1 = g_h1.T @ x, g_h1.sum(0)
    if bug == "b1 over outputs":
        g_b1 = g_h1.sum(1)
    g_x = g_h1 @ w1 * (2 if bug == "x doubled" else 1)
    return loss, {"w1": g_w1, "b1": g_b1, "w2": g_w2, "b2": g_b2, "x": g_x}


TWO_LAYER_BUGS = {
    "no division": "off by one factor: dL/d\\(out\\) is not divided by the number of entries",
    "no factor 2": "missing the factor 2",
    "w2 from h1": "dL/dw2 uses h1, the ReLU's input",
    "scalar bias": "dL/db2 is one number",
    "w2 transposed": "the shape of w2\\^T",
    "no mask": "the ReLU's mask is missing",
    "inverted mask": "the ReLU's mask is inverted",
    "b1 over outputs": "summed over the outputs instead of the batch",
    "x doubled": "dL/dx is wrong",
}


@pytest.mark.nb05
def test_two_layer_check(capsys: pytest.CaptureFixture[str]) -> None:
    passes(selfcheck.check_two_layer_backward, two_layer, capsys=capsys)
    fails_with(selfcheck.check_two_layer_backward, stub, match="not implemented yet")


@pytest.mark.nb05
@pytest.mark.parametrize("bug", TWO_LAYER_BUGS)
def test_two_layer_check_names_the_mistake(bug: str) -> None:
    def fn(*args: Tensor) -> Any:
        return two_layer(*args, bug=bug)

    fails_with(selfcheck.check_two_layer_backward, fn, match=TWO_LAYER_BUGS[bug])


# 05: the inline container -------------------------------------------------------------------


class InlineSequential:
    def __init__(self, *layers: Any, order: str = "reverse") -> None:
        self.layers, self.order = layers, order

    def __call__(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            x = layer(x)
        return x

    def backward(self, g: Tensor) -> Tensor:
        layers = reversed(self.layers) if self.order == "reverse" else self.layers
        for layer in layers:
            g = layer.backward(g)
        return g


@pytest.mark.nb05
def test_sequential_check_names_forward_order(capsys: pytest.CaptureFixture[str]) -> None:
    passes(selfcheck.check_sequential, InlineSequential, capsys=capsys)
    fails_with(selfcheck.check_sequential, stub, match="not implemented yet")
    fails_with(
        selfcheck.check_sequential,
        lambda *layers: InlineSequential(*layers, order="forward"),
        match="last to first",
    )


# 06: the SGD step ---------------------------------------------------------------------------


class InlineSGD:
    def __init__(self, params: list[minidl.Parameter], lr: float, momentum: float = 0.0) -> None:
        self.params, self.lr, self.mu = list(params), lr, momentum
        self.v = [torch.zeros_like(p.value) for p in self.params]
        self.bug = ""

    def step(self) -> None:
        for i, p in enumerate(self.params):
            if self.bug == "local":
                value = p.value
                value = value - self.lr * p.grad  # the mistake: a new tensor
                continue
            if self.bug == "moving average":
                self.v[i] = self.mu * self.v[i] + (1 - self.mu) * p.grad
            elif self.bug == "ascent":
                self.v[i] = self.mu * self.v[i] - p.grad
            elif self.bug == "velocity lost":
                self.v[i] = self.mu * torch.zeros_like(p.grad) + p.grad
            else:
                self.v[i].mul_(self.mu).add_(p.grad)
            p.value.sub_(self.lr * self.v[i])


SGD_BUGS = {
    "local": "did not change the parameters",
    "moving average": "moving-average convention",
    "ascent": "moves up the gradient",
    "velocity lost": "velocity .* kept between steps",
}


@pytest.mark.nb06
def test_sgd_check(capsys: pytest.CaptureFixture[str]) -> None:
    passes(selfcheck.check_sgd, InlineSGD, capsys=capsys)
    fails_with(selfcheck.check_sgd, stub, match="not implemented yet")


@pytest.mark.nb06
@pytest.mark.parametrize("bug", SGD_BUGS)
def test_sgd_check_names_the_mistake(bug: str) -> None:
    def make(*args: Any) -> InlineSGD:
        opt = InlineSGD(*args)
        opt.bug = bug
        return opt

    fails_with(selfcheck.check_sgd, make, match=SGD_BUGS[bug])


# 07: the training step, the epoch's batches, the restart rule ------------------------------


def train_step(model: Any, loss_fn: Any, optimizer: Any, xb: Tensor, yb: Tensor) -> Tensor:
    loss = loss_fn(model(xb), yb)
    optimizer.zero_grad()
    model.backward(loss_fn.backward())
    optimizer.step()
    return loss


def no_zero_grad(model: Any, loss_fn: Any, optimizer: Any, xb: Tensor, yb: Tensor) -> Tensor:
    loss = loss_fn(model(xb), yb)
    model.backward(loss_fn.backward())
    optimizer.step()
    return loss


def step_first(model: Any, loss_fn: Any, optimizer: Any, xb: Tensor, yb: Tensor) -> Tensor:
    loss = loss_fn(model(xb), yb)
    optimizer.step()
    optimizer.zero_grad()
    model.backward(loss_fn.backward())
    return loss


def zero_after_backward(
    model: Any, loss_fn: Any, optimizer: Any, xb: Tensor, yb: Tensor
) -> Tensor:
    loss = loss_fn(model(xb), yb)
    model.backward(loss_fn.backward())
    optimizer.zero_grad()
    optimizer.step()
    return loss


def no_return(model: Any, loss_fn: Any, optimizer: Any, xb: Tensor, yb: Tensor) -> None:
    train_step(model, loss_fn, optimizer, xb, yb)


TRAIN_STEP_BUGS: dict[str, tuple[Callable[..., Any], str]] = {
    "gradients not zeroed": (no_zero_grad, "gradients not zeroed between steps"),
    "step before backward": (step_first, "step\\(\\) ran before backward"),
    "zero_grad between backward and step": (zero_after_backward, "never moved"),
    "loss not returned": (no_return, "return the batch loss"),
}


@pytest.mark.nb07
def test_train_step_check(capsys: pytest.CaptureFixture[str]) -> None:
    passes(selfcheck.check_train_step, train_step, capsys=capsys)
    fails_with(selfcheck.check_train_step, stub, match="not implemented yet")


@pytest.mark.nb07
@pytest.mark.parametrize("bug", TRAIN_STEP_BUGS)
def test_train_step_check_names_the_mistake(bug: str) -> None:
    fn, message = TRAIN_STEP_BUGS[bug]
    fails_with(selfcheck.check_train_step, fn, match=message)


def batches(n: int, size: int, generator: torch.Generator) -> list[Tensor]:
    order = permutation(n, generator=generator)
    return [order[start : start + size] for start in range(0, n, size)]


BATCH_BUGS: dict[str, tuple[Callable[..., Any], str]] = {
    "no shuffle": (
        lambda n, size, gen: list(torch.arange(n).split(size)),
        "no shuffle",
    ),
    "last batch dropped": (
        lambda n, size, gen: batches(n, size, gen)[:-1],
        "last, shorter batch .* is missing",
    ),
    "generator ignored": (
        lambda n, size, gen: batches(n, size, torch.Generator().manual_seed(0)),
        "two epochs had the same order",
    ),
    "torch.randperm": (
        lambda n, size, gen: list(torch.randperm(n, generator=gen).split(size)),
        "not permutation\\(n, generator=generator\\)",
    ),
    "points repeated": (
        lambda n, size, gen: [
            torch.randint(n, (min(size, n - s),), generator=gen) for s in range(0, n, size)
        ],
        "each of the 23 points exactly once",
    ),
}


@pytest.mark.nb07
def test_batches_check(capsys: pytest.CaptureFixture[str]) -> None:
    passes(selfcheck.check_batches, batches, capsys=capsys)
    fails_with(selfcheck.check_batches, stub, match="not implemented yet")


@pytest.mark.nb07
@pytest.mark.parametrize("bug", BATCH_BUGS)
def test_batches_check_names_the_mistake(bug: str) -> None:
    fn, message = BATCH_BUGS[bug]
    fails_with(selfcheck.check_batches, fn, match=message)


def restart_epochs(hist: Any, rule: Any, bug: str = "") -> list[int]:
    epochs, previous = [], None
    for e, (loss, err) in enumerate(
        zip(hist.loss.tolist(), hist.train_error.tolist(), strict=True), start=1
    ):
        change = loss - previous if bug == "signed" and previous is not None else None
        flat = previous is not None and (
            change < rule.tol if change is not None else abs(loss - previous) < rule.tol
        )
        judged = e >= rule.start if bug == "off by one" else e > rule.start
        high = True if bug == "no error test" else err > rule.max_error
        if judged and flat and high:
            epochs.append(e)
            if bug != "no reset":
                loss = math.inf
        previous = loss
    return epochs


RESTART_BUGS = {
    "off by one": "first start=3 epochs are never judged",
    "signed": "the change must be absolute",
    "no error test": "needs both a flat loss and a high error",
    "no reset": "previous loss to \\+inf",
}


@pytest.mark.nb07
def test_restart_rule_check(capsys: pytest.CaptureFixture[str]) -> None:
    passes(selfcheck.check_restart_rule, restart_epochs, capsys=capsys)
    fails_with(selfcheck.check_restart_rule, stub, match="not implemented yet")
    fails_with(
        selfcheck.check_restart_rule, lambda hist, rule: None, match="return the list of epochs"
    )


@pytest.mark.nb07
@pytest.mark.parametrize("bug", RESTART_BUGS)
def test_restart_rule_check_names_the_mistake(bug: str) -> None:
    def fn(hist: Any, rule: Any) -> list[int]:
        return restart_epochs(hist, rule, bug)

    fails_with(selfcheck.check_restart_rule, fn, match=RESTART_BUGS[bug])


# 08: the replica batching -------------------------------------------------------------------


def replica_backward(x: Tensor, w: Tensor, g: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    return g.transpose(1, 2).bmm(x), g.sum(1), g.bmm(w)


REPLICA_BACKWARD_BUGS: dict[str, tuple[Callable[..., Any], str]] = {
    "weight gradient summed over replicas": (
        lambda x, w, g: (torch.einsum("rbo,rbi->oi", g, x), g.sum(1), g.bmm(w)),
        "summed over the replicas; each replica keeps its own",
    ),
    "weight gradient transposed": (
        lambda x, w, g: (x.transpose(1, 2).bmm(g), g.sum(1), g.bmm(w)),
        "use G_r\\^T X_r",
    ),
    "bias summed over replicas": (
        lambda x, w, g: (g.transpose(1, 2).bmm(x), g.sum(0), g.bmm(w)),
        "summed over the replicas \\(dimension 0\\) instead of the batch",
    ),
    "bias summed over everything": (
        lambda x, w, g: (g.transpose(1, 2).bmm(x), g.sum((0, 1)), g.bmm(w)),
        "summed over the replicas as well as the batch",
    ),
    "replica 0's weights": (
        lambda x, w, g: (g.transpose(1, 2).bmm(x), g.sum(1), g @ w[0]),
        "right for replica 0 only: replicas mixed",
    ),
    "weight gradient of the sum in every slice": (
        lambda x, w, g: (
            torch.einsum("rbo,rbi->oi", g, x).expand(w.shape[0], -1, -1),
            g.sum(1),
            g.bmm(w),
        ),
        "sum over all replicas \\(replicas mixed\\)",
    ),
}


@pytest.mark.nb08
def test_batched_linear_backward_check(capsys: pytest.CaptureFixture[str]) -> None:
    passes(selfcheck.check_batched_linear_backward, replica_backward, capsys=capsys)
    fails_with(selfcheck.check_batched_linear_backward, stub, match="not implemented yet")


@pytest.mark.nb08
@pytest.mark.parametrize("bug", REPLICA_BACKWARD_BUGS)
def test_batched_linear_backward_check_names_the_mistake(bug: str) -> None:
    fn, message = REPLICA_BACKWARD_BUGS[bug]
    fails_with(selfcheck.check_batched_linear_backward, fn, match=message)


def replica_mse(p: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
    return ((p - t) ** 2).mean(dim=(1, 2)), 2 * (p - t) / p[0].numel()


REPLICA_LOSS_BUGS: dict[str, tuple[Callable[..., Any], str]] = {
    "mean over replicas": (
        lambda p, t: (((p - t) ** 2).mean(dim=(1, 2)), 2 * (p - t) / p.numel()),
        "gradient of the MEAN over replicas",
    ),
    "one loss for all": (
        lambda p, t: (((p - t) ** 2).mean(), 2 * (p - t) / p[0].numel()),
        "one loss for all replicas",
    ),
    "sum per replica": (
        lambda p, t: (((p - t) ** 2).sum(dim=(1, 2)), 2 * (p - t) / p[0].numel()),
        "the losses are sums",
    ),
    "gradient not divided": (
        lambda p, t: (((p - t) ** 2).mean(dim=(1, 2)), 2 * (p - t)),
        "not divided by the number of entries of each replica",
    ),
}


@pytest.mark.nb08
def test_replica_loss_check(capsys: pytest.CaptureFixture[str]) -> None:
    passes(selfcheck.check_replica_loss, replica_mse, capsys=capsys)
    fails_with(selfcheck.check_replica_loss, stub, match="not implemented yet")

    def minidl_mse(p: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        loss_fn = minidl.MSELoss()
        return loss_fn(p, t), loss_fn.backward()

    passes(selfcheck.check_replica_loss, minidl_mse, capsys=capsys)


@pytest.mark.nb08
@pytest.mark.parametrize("bug", REPLICA_LOSS_BUGS)
def test_replica_loss_check_names_the_mistake(bug: str) -> None:
    fn, message = REPLICA_LOSS_BUGS[bug]
    fails_with(selfcheck.check_replica_loss, fn, match=message)
