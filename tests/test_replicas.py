"""Replicas: R independent networks in one batched pass (DESIGN.md, "Replicas").

Shapes, the input check, views that share storage, masks, and the central claim: R
replicas trained together end exactly where R separate runs end. Per-replica losses and
gradients against torch.autograd on each replica alone are in test_oracle.py.
"""

from __future__ import annotations

import math
import re

import pytest
import torch
from torch import Tensor

import minidl
from conftest import REPORT_RECIPE, gen, make_stuck
from minidl.data import disk_dataset, permutation
from minidl.experiment import build_network
from minidl.train import RestartRule, train

R = 3
DOUBLE = torch.float64


def clone_params(model: minidl.Module) -> list[Tensor]:
    return [p.value.clone() for p in model.params()]


# Shapes and the input check -----------------------------------------------------------


def test_replica_parameter_shapes() -> None:
    layer = minidl.Linear(3, 5, replicas=4)
    assert layer.weight.value.shape == (4, 5, 3)
    assert layer.bias.value.shape == (4, 5)
    assert layer.weight.grad.shape == (4, 5, 3)
    assert layer.bias.grad.shape == (4, 5)
    assert all(bool((p.grad == 0).all()) for p in layer.params())  # new: zero gradients
    assert layer(torch.rand(4, 7, 3)).shape == (4, 7, 5)


@pytest.mark.parametrize("shape", [(3, 7, 2), (5, 7, 2), (7, 2), (4, 7, 3), (1, 4, 7, 2)])
def test_replica_input_must_be_r_batch_in(shape: tuple[int, ...]) -> None:
    layer = minidl.Linear(2, 5, replicas=4)
    pattern = rf"Linear.*\(4, batch, 2\).*{re.escape(str(shape))}"
    with pytest.raises(ValueError, match=pattern):
        layer(torch.rand(shape))


# replica(r): the same network, sharing storage ---------------------------------------


def test_forward_equals_the_single_replicas() -> None:
    model = build_network(REPORT_RECIPE, replicas=R, generator=gen(0), dtype=DOUBLE)
    x = torch.rand(R, 9, 2, generator=gen(1), dtype=DOUBLE)
    out = model(x)
    assert out.shape == (R, 9, 1)
    for r in range(R):
        torch.testing.assert_close(out[r], model.replica(r)(x[r]), atol=1e-12, rtol=0)
    assert not torch.allclose(out[0], out[1])  # the replicas really are different networks


def test_replica_shares_storage_both_ways() -> None:
    model = build_network(REPORT_RECIPE, replicas=R, generator=gen(0), dtype=DOUBLE)
    single = model.replica(1)
    first_model, first_single = model[0], single[0]
    assert isinstance(first_model, minidl.Linear)
    assert isinstance(first_single, minidl.Linear)
    assert first_single.weight.value.shape == (25, 2)
    before = first_model.weight.value.clone()

    first_model.weight.value[1].fill_(7.0)  # the replica network changes the single one
    assert bool((first_single.weight.value == 7.0).all())

    first_single.bias.value.fill_(-3.0)  # and the single one changes the replica network
    assert bool((first_model.bias.value[1] == -3.0).all())
    torch.testing.assert_close(first_model.weight.value[0], before[0], atol=0, rtol=0)
    torch.testing.assert_close(first_model.weight.value[2], before[2], atol=0, rtol=0)


# The central claim: R replicas train exactly like R separate networks ---------------


def test_replicas_end_where_separate_runs_end() -> None:
    n, batch_size, epochs, lr, momentum = 50, 16, 3, 0.3, 0.5  # the last batch is short
    g = gen(7)
    x, y = disk_dataset(n, generator=g, replicas=R, dtype=DOUBLE)  # R data streams
    model = build_network(REPORT_RECIPE, replicas=R, generator=g, dtype=DOUBLE)
    singles = [
        build_network(REPORT_RECIPE, generator=gen(100 + r), dtype=DOUBLE) for r in range(R)
    ]
    for r, net in enumerate(singles):  # the same initial weights, in independent storage
        for p, q in zip(net.params(), model.params(), strict=True):
            p.value.copy_(q.value[r])
    start = clone_params(model)

    optimizer = minidl.SGD(model.params(), lr, momentum)
    train(
        model,
        minidl.MSELoss(),
        optimizer,
        x,
        y,
        epochs=epochs,
        batch_size=batch_size,
        generator=gen(8),
    )

    # The separate runs see the same batches: train() draws one permutation per replica
    # per epoch, so drawing them here from an equally seeded generator reproduces them.
    shuffle = gen(8)
    optimizers = [minidl.SGD(net.params(), lr, momentum) for net in singles]
    loss_fn = minidl.MSELoss()
    for _ in range(epochs):
        order = permutation(n, generator=shuffle, replicas=R)
        for r, (net, opt) in enumerate(zip(singles, optimizers, strict=True)):
            for i in range(0, n, batch_size):
                idx = order[r, i : i + batch_size]
                loss_fn(net(x[r, idx]), y[r, idx])
                opt.zero_grad()
                net.backward(loss_fn.backward())
                opt.step()

    for r, net in enumerate(singles):
        for p, q, q0 in zip(net.params(), model.params(), start, strict=True):
            torch.testing.assert_close(q.value[r], p.value, atol=1e-9, rtol=0)
            assert not torch.allclose(q.value[r], q0[r])  # training did move them


# Two ways to make the restart path run: one silenced replica (a partial mask, with no
# momentum to speak of), or a rule that redraws every replica at epochs 2 and 4 (with
# real momentum, which the loop engine must forget too).
RULES = {
    "one stuck replica": RestartRule(start=1),
    "all redrawn": RestartRule(start=2, tol=math.inf, max_error=-1.0),
}


def run_engine(loop: bool, rule: RestartRule) -> tuple[minidl.Sequential, Tensor, Tensor]:
    g = gen(9)
    x, y = disk_dataset(40, generator=g, replicas=R, dtype=DOUBLE)
    model = build_network(REPORT_RECIPE, replicas=R, generator=g, dtype=DOUBLE)
    make_stuck(model, 1)
    optimizer = minidl.SGD(model.params(), 0.5, 0.5)
    history = train(
        model,
        minidl.MSELoss(),
        optimizer,
        x,
        y,
        epochs=5,
        batch_size=16,
        generator=g,
        restart=rule,
        engine="loop" if loop else "replicas",
    )
    return model, history.restarts, history.loss


@pytest.mark.parametrize("rule", list(RULES))
def test_loop_engine_matches_replica_engine(rule: str) -> None:
    batched, restarts, loss = run_engine(loop=False, rule=RULES[rule])
    looped, restarts_loop, loss_loop = run_engine(loop=True, rule=RULES[rule])
    assert restarts.tolist() == restarts_loop.tolist()
    assert int(restarts[1]) >= 1
    torch.testing.assert_close(loss_loop, loss, atol=1e-9, rtol=0)
    for p, q in zip(batched.params(), looped.params(), strict=True):
        torch.testing.assert_close(q.value, p.value, atol=1e-9, rtol=0)


# Masks: redraw or forget only some replicas --------------------------------------------


def test_reset_parameters_redraws_only_masked_replicas() -> None:
    """Sequential passes the mask to every Linear; each masked entry is redrawn."""
    model = build_network(REPORT_RECIPE, replicas=R, generator=gen(10), dtype=DOUBLE)
    before = clone_params(model)
    mask = torch.tensor([True, False, True])
    model.reset_parameters(gen(11), mask=mask)
    for p, old in zip(model.params(), before, strict=True):
        assert torch.equal(p.value[~mask], old[~mask])
        assert bool((p.value[mask] != old[mask]).all())


def small_net(replicas: int, generator: torch.Generator) -> minidl.Sequential:
    """2 -> tanh 4 -> sigmoid 1, with R replicas, in float64."""
    return minidl.Sequential(
        minidl.Linear(2, 4, "tanh", replicas=replicas, generator=generator, dtype=DOUBLE),
        minidl.Tanh(),
        minidl.Linear(4, 1, "sigmoid", replicas=replicas, generator=generator, dtype=DOUBLE),
        minidl.Sigmoid(),
    )


def test_reset_velocity_zeroes_only_masked_replicas() -> None:
    model = small_net(R, gen(12))
    optimizer = minidl.SGD(model.params(), 0.1, momentum=0.9)
    loss_fn = minidl.MSELoss()
    loss_fn(model(torch.randn(R, 5, 2, generator=gen(13), dtype=DOUBLE)), torch.ones(R, 5, 1))
    model.backward(loss_fn.backward())
    optimizer.step()
    before = [v.clone() for v in optimizer.velocity]
    assert all(bool((v != 0).any(dim=tuple(range(1, v.ndim))).all()) for v in before)

    optimizer.reset_velocity(torch.tensor([False, True, False]))
    for v, old in zip(optimizer.velocity, before, strict=True):
        assert bool((v[1] == 0).all())
        assert torch.equal(v[0], old[0])
        assert torch.equal(v[2], old[2])
