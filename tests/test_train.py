"""train(), error_rate() and the restart rule (minidl/train.py).

Training lowers the loss, History has the documented shapes, error_rate counts
thresholded mistakes, a stuck network is redrawn without touching its neighbours, a
blown-up loss raises for one network and is flagged for replicas, and bad arguments
are refused before any step is taken.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
import torch
from torch import Tensor

import minidl
from conftest import REPORT_RECIPE, gen, make_stuck
from minidl.data import disk_dataset, fit_standardizer, standardize
from minidl.experiment import build_network
from minidl.train import History, RestartRule, error_rate, train

DOUBLE = torch.float64


def disk(n: int, generator: torch.Generator, replicas: int | None = None) -> tuple[Tensor, Tensor]:
    """Standardised disk data in float64."""
    x, y = disk_dataset(n, generator=generator, replicas=replicas, dtype=DOUBLE)
    mean, std = fit_standardizer(x)
    return standardize(x, mean, std), y


def sgd(model: minidl.Module, lr: float = 0.5) -> minidl.SGD:
    return minidl.SGD(model.params(), lr, momentum=0.2)


# Training and History ---------------------------------------------------------------


def test_training_lowers_the_loss_on_the_disk() -> None:
    g = gen(0)
    x, y = disk(200, g)
    model = build_network(REPORT_RECIPE, generator=g, dtype=DOUBLE)
    before = float(error_rate(model, x, y))
    history = train(
        model, minidl.MSELoss(), sgd(model), x, y, epochs=20, batch_size=20, generator=g
    )
    assert float(history.loss[-3:].mean()) < 0.5 * float(history.loss[:3].mean())
    assert float(error_rate(model, x, y)) < min(0.2, before)


@pytest.mark.parametrize("replicas", [None, 3])
def test_history_shapes(replicas: int | None) -> None:
    g = gen(1)
    x, y = disk(30, g, replicas)
    model = build_network(REPORT_RECIPE, replicas=replicas, generator=g, dtype=DOUBLE)
    epochs = 4
    seen: list[int] = []
    history = train(
        model,
        minidl.MSELoss(),
        sgd(model),
        x,
        y,
        epochs=epochs,
        batch_size=8,
        generator=g,
        on_epoch=seen.append,
    )
    lead = () if replicas is None else (replicas,)
    assert history.loss.shape == (epochs, *lead)
    assert history.train_error.shape == (epochs, *lead)
    assert history.restarts.shape == lead
    assert history.diverged.shape == lead
    assert history.restarts.dtype == torch.int64
    assert history.diverged.dtype == torch.bool
    assert seen == list(range(epochs))
    assert bool(((history.train_error >= 0) & (history.train_error <= 1)).all())


# error_rate ---------------------------------------------------------------------------


class Fixed(minidl.Module):
    """A 'network' whose output is given in advance."""

    def __init__(self, output: Tensor) -> None:
        self.output = output

    def forward(self, x: Tensor) -> Tensor:
        return self.output


# Outputs at, just above and below the 0.5 threshold: 0.5 counts as class 0.
OUTPUT = torch.tensor([0.2, 0.5, 0.51, 0.9, 0.49, 0.7, 0.0, 1.0])
TARGET = torch.tensor([0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0])
HAND_COUNT = 3 / 8  # wrong: 0.5 (says 0, is 1), 0.9 (says 1, is 0), 0.0 (says 0, is 1)


def test_error_rate_of_one_network_is_a_hand_count() -> None:
    x = torch.zeros(8, 2)
    rate = error_rate(Fixed(OUTPUT.unsqueeze(-1)), x, TARGET.unsqueeze(-1))
    assert rate.shape == ()
    assert float(rate) == pytest.approx(HAND_COUNT)


def test_error_rate_of_replicas_is_one_count_per_replica() -> None:
    outputs = torch.stack([OUTPUT, 1 - OUTPUT, TARGET]).unsqueeze(-1)  # (3, 8, 1)
    targets = TARGET.expand(3, 8).unsqueeze(-1)
    rate = error_rate(Fixed(outputs), torch.zeros(3, 8, 2), targets)
    assert rate.shape == (3,)
    # 1 - OUTPUT: 0.8 0.5 0.49 0.1 0.51 0.3 1.0 0.0 -> says 1 0 0 0 1 0 1 0, wrong 6 of 8
    expected = [HAND_COUNT, 6 / 8, 0.0]
    assert rate.tolist() == pytest.approx(expected)


# The restart rule --------------------------------------------------------------------

RULE = RestartRule(start=2)  # the report's rule, from epoch 2 on so that the test is quick
STUCK = 1


@dataclass
class StuckRun:
    """Three replicas, replica STUCK silenced, trained for a few epochs."""

    model: minidl.Sequential
    history: History
    snapshots: list[list[Tensor]]  # the parameters after each epoch
    x: Tensor
    y: Tensor


def run_with_a_stuck_replica(restart: RestartRule | None) -> StuckRun:
    g = gen(5)
    x, y = disk(200, g, replicas=3)
    model = build_network(REPORT_RECIPE, replicas=3, generator=g, dtype=DOUBLE)
    make_stuck(model, STUCK)
    snapshots: list[list[Tensor]] = []

    def snapshot(epoch: int) -> None:
        snapshots.append([p.value.clone() for p in model.params()])

    history = train(
        model,
        minidl.MSELoss(),
        sgd(model),
        x,
        y,
        epochs=RULE.start + 2,
        batch_size=20,
        generator=g,
        restart=restart,
        on_epoch=snapshot,
    )
    return StuckRun(model, history, snapshots, x, y)


@pytest.fixture(scope="module")
def without_rule() -> StuckRun:
    return run_with_a_stuck_replica(restart=None)


@pytest.fixture(scope="module")
def with_rule() -> StuckRun:
    return run_with_a_stuck_replica(restart=RULE)


def test_without_the_rule_a_stuck_network_stays_stuck(without_rule: StuckRun) -> None:
    run = without_rule
    assert run.history.restarts.tolist() == [0, 0, 0]
    positives = float(run.y[STUCK].mean())  # what "always say 0" gets wrong
    assert float(error_rate(run.model, run.x, run.y)[STUCK]) == pytest.approx(positives)
    assert positives > RULE.max_error
    loss = run.history.loss[:, STUCK]
    assert float((loss - loss[0]).abs().max()) < RULE.tol


def test_the_rule_redraws_only_the_stuck_network(
    with_rule: StuckRun, without_rule: StuckRun
) -> None:
    assert int(with_rule.history.restarts[STUCK]) >= 1
    assert with_rule.history.restarts[[0, 2]].tolist() == [0, 0]
    # Up to epoch `start` both runs are the same; at `start` the rule redraws the stuck
    # network (its parameters change) and leaves the other two exactly as they were.
    # (Later epochs differ for everyone: the redraw consumed draws from the shared
    # generator, so the next shuffles differ.)
    redrawn, untouched = with_rule.snapshots, without_rule.snapshots
    for epoch in range(RULE.start):
        for p, q in zip(redrawn[epoch], untouched[epoch], strict=True):
            assert torch.equal(p, q)
    for p, q in zip(redrawn[RULE.start], untouched[RULE.start], strict=True):
        assert torch.equal(p[[0, 2]], q[[0, 2]])
        assert not torch.equal(p[STUCK], q[STUCK])


def test_the_rule_redraws_a_single_stuck_network() -> None:
    g = gen(6)
    x, y = disk(100, g)
    model = build_network(REPORT_RECIPE, generator=g, dtype=DOUBLE)
    make_stuck(model)
    history = train(
        model,
        minidl.MSELoss(),
        sgd(model),
        x,
        y,
        epochs=3,
        batch_size=20,
        generator=g,
        restart=RestartRule(start=2),
    )
    assert history.restarts.shape == ()
    assert int(history.restarts) == 1
    last = model[-2]
    assert isinstance(last, minidl.Linear)
    # Redrawn, not merely nudged: the stuck layer's updates are ~1e-22 per step.
    assert float(last.weight.value.abs().max()) > 1e-3
    assert float(last.bias.value.abs().max()) < 10


# Divergence ---------------------------------------------------------------------------


def test_a_blown_up_loss_raises_for_one_network() -> None:
    g = gen(7)
    x, y = disk_dataset(100, generator=g)
    model = minidl.Sequential(minidl.Linear(2, 1, generator=g))  # unbounded output
    lr = 1e4
    with pytest.raises(FloatingPointError, match=r"epoch \d+.*10000\.0"):
        train(model, minidl.MSELoss(), sgd(model, lr), x, y, epochs=5, batch_size=10)


def diverging_replicas(restart: RestartRule | None) -> tuple[minidl.Linear, History]:
    """Replica 0 sits at its optimum (x = 0, y = 0, w = 0, b = 0: zero gradient) and
    stays finite at any lr; replica 1 has real data and blows up at lr = 1e4."""
    g = gen(8)
    x, y = disk_dataset(100, generator=g, replicas=2)
    x[0].zero_()
    y[0].zero_()
    layer = minidl.Linear(2, 1, replicas=2, generator=g)
    layer.weight.value[0].zero_()
    layer.bias.value[0].zero_()
    model = minidl.Sequential(layer)
    history = train(
        model,
        minidl.MSELoss(),
        sgd(model, 1e4),
        x,
        y,
        epochs=4,
        batch_size=10,
        generator=g,
        restart=restart,
    )
    return layer, history


def test_a_blown_up_replica_is_flagged_not_raised() -> None:
    layer, history = diverging_replicas(restart=None)
    assert history.diverged.tolist() == [False, True]
    assert history.restarts.tolist() == [0, 0]
    assert bool(history.loss[:, 0].isfinite().all())
    assert not bool(layer.weight.value[1].isfinite().all())


def test_a_blown_up_replica_is_redrawn_by_the_rule() -> None:
    layer, history = diverging_replicas(restart=RestartRule())
    assert history.diverged.tolist() == [False, True]
    assert int(history.restarts[0]) == 0
    assert int(history.restarts[1]) >= 1
    assert bool(layer.weight.value[1].isfinite().all())  # redrawn after the last epoch
    assert bool((layer.weight.value[0] == 0).all())  # the healthy one was never touched


# Bad arguments are refused before any step ----------------------------------------------

X, Y = disk_dataset(20, generator=gen(9))
BAD_CALLS: dict[str, tuple[type[Exception], Callable[[], dict[str, object]]]] = {
    "epochs 0": (ValueError, lambda: dict(epochs=0)),
    "epochs 2.0": (ValueError, lambda: dict(epochs=2.0)),
    "batch_size 0": (ValueError, lambda: dict(batch_size=0)),
    "batch_size -5": (ValueError, lambda: dict(batch_size=-5)),
    "y has fewer points": (ValueError, lambda: dict(y=Y[:10])),
    "y without a feature dim": (ValueError, lambda: dict(y=Y[:, 0])),
    "x (R, n, d) with y (n, k)": (ValueError, lambda: dict(x=X.expand(3, 20, 2))),
    "int x": (TypeError, lambda: dict(x=X.round().to(torch.int64))),
    "int y": (TypeError, lambda: dict(y=Y.to(torch.int64))),
    "x not a tensor": (TypeError, lambda: dict(x=X.tolist())),
}


@pytest.mark.parametrize("case", list(BAD_CALLS))
def test_bad_arguments_raise_at_once(case: str) -> None:
    error, change = BAD_CALLS[case]
    model = build_network(REPORT_RECIPE, generator=gen(10))
    before = [p.value.clone() for p in model.params()]
    seen: list[int] = []
    kwargs: dict[str, object] = dict(x=X, y=Y, epochs=2, batch_size=5, on_epoch=seen.append)
    kwargs.update(change())
    with pytest.raises(error):
        train(model, minidl.MSELoss(), sgd(model), **kwargs)  # type: ignore[arg-type]
    assert seen == []
    assert all(torch.equal(p.value, b) for p, b in zip(model.params(), before, strict=True))


def test_error_rate_in_chunks_counts_every_point_once(
    make_report_net: Callable[..., minidl.Sequential],
) -> None:
    """250 points (chunks of 100, 100 and 50) for 3 replicas: the same as one pass."""
    g = torch.Generator().manual_seed(5)
    model = make_report_net(dtype=torch.float64, generator=g, replicas=3)
    x, y = disk_dataset(250, generator=g, replicas=3, dtype=torch.float64)
    expected = ((model(x) > 0.5) != (y > 0.5)).double().mean(dim=(-2, -1))
    assert torch.equal(error_rate(model, x, y), expected)


# backward_params: the step's backward without the data's gradient --------------------


def grads_after(model: minidl.Module, x: Tensor, call: str) -> list[Tensor]:
    model.zero_grad()
    loss_fn = minidl.MSELoss()
    loss_fn(model(x), torch.zeros_like(model(x)))
    result = getattr(model, call)(loss_fn.backward())
    assert (result is None) == (call == "backward_params")
    return [p.grad.clone() for p in model.params()]


@pytest.mark.parametrize("replicas", [None, 3])
@pytest.mark.parametrize("first", ["linear", "activation", "reused"])
def test_backward_params_gives_the_parameter_gradients_of_backward(
    replicas: int | None, first: str
) -> None:
    """Skipping dL/dx changes no parameter gradient, whatever the first module is."""
    g = gen(4)
    kw = dict(replicas=replicas, generator=g, dtype=DOUBLE, bias_std=0.5)
    a, b = minidl.Linear(3, 4, "tanh", **kw), minidl.Linear(4, 4, "tanh", **kw)
    modules = {
        "linear": [a, minidl.Tanh(), b],
        "activation": [minidl.Tanh(), a, minidl.Tanh(), b],
        "reused": [b, minidl.Tanh(), b],
    }[first]
    model = minidl.Sequential(*modules)
    features = 4 if first == "reused" else 3
    shape = (5, features) if replicas is None else (3, 5, features)
    x = torch.empty(shape, dtype=DOUBLE).normal_(generator=g)
    expected = grads_after(model, x, "backward")
    got = grads_after(model, x, "backward_params")
    for p, q in zip(got, expected, strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=0)


def test_train_skips_the_gradient_of_the_data(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first Linear of a trained network never computes dL/dx (the data's gradient)."""
    g = gen(5)
    model = build_network(REPORT_RECIPE, generator=g, dtype=DOUBLE)
    first = model[0]
    calls: list[str] = []
    for name in ("backward", "backward_params"):
        method = getattr(first, name)
        monkeypatch.setattr(first, name, lambda grad, m=method, n=name: calls.append(n) or m(grad))
    x, y = disk(20, g)
    train(model, minidl.MSELoss(), sgd(model), x, y, epochs=1, batch_size=10, generator=g)
    assert calls == ["backward_params"] * 2
