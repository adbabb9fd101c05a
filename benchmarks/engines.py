"""The report's protocol run by six engines on the same data, initial weights and batches.

Every engine trains R networks (2-25-25-25-1, ELU, ReLU, SELU, sigmoid; MSE; SGD with
momentum; the restart rule) for the default recipe of minidl.experiment, and returns the
per-run test errors and its wall and CPU seconds for the whole job (data, training and
the final evaluation):

    replicas  minidl, all R networks in one pass (minidl.experiment.reproduce)
    loop      minidl, one network at a time (reproduce(engine="loop"))
    torch.nn  torch.nn + autograd + torch.optim.SGD, one run after another
    autograd  batched autograd: parameters (R, out, in), baddbmm, loss.sum().backward(),
              torch.optim.SGD
    func      torch.func: stack_module_state + functional_call + vmap(grad), torch.optim.SGD
    floor     minidl's step as one function of tensor methods: no modules, checks or
              bookkeeping (minidl's cost without the framework)

The two batched references are written as an experienced PyTorch user would write them:
one fused kernel per activation (F.elu, F.relu, F.selu, torch.sigmoid), the bias inside
the product, the loss summed over replicas so that each replica gets the gradient of its
own mean loss, and the same shuffle as minidl (one permutation per replica per epoch).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call, grad, stack_module_state, vmap

from minidl.activations import ELU, SELU
from minidl.data import disk_dataset, fit_standardizer, permutation, standardize
from minidl.experiment import RECIPES, build_network, reproduce
from minidl.linear import Linear
from minidl.train import RestartRule

RECIPE = RECIPES["default"]
N, BATCH = 1000, 100


@dataclass
class Run:
    """What one engine did: seconds (wall and process CPU) and per-run test errors in %."""

    seconds: float
    cpu_seconds: float
    test_errors: list[float]


def _timed(job: Callable[[], list[float]]) -> Run:
    wall, cpu = time.perf_counter(), time.process_time()
    errors = job()
    return Run(time.perf_counter() - wall, time.process_time() - cpu, errors)


def run_minidl(runs: int, epochs: int, seed: int = 0, engine: str = "replicas") -> Run:
    """minidl's reproduce(): data, training and evaluation."""
    return _timed(lambda: reproduce(runs, epochs, seed=seed, engine=engine).test_errors)


# The shared set-up of the batched references -------------------------------------------


@dataclass
class Setup:
    """The data, initial weights and generators that reproduce() would use for a seed."""

    x: Tensor
    y: Tensor
    x_test: Tensor
    y_test: Tensor
    weights: list[tuple[Tensor, Tensor]]  # (R, out, in), (R, out) per layer
    shuffle: torch.Generator
    redraw: torch.Generator


def setup(runs: int, seed: int = 0) -> Setup:
    """Draw exactly what reproduce(runs, seed=seed) draws, in the same order."""
    g = torch.Generator().manual_seed(seed)
    redraw = torch.Generator().manual_seed(seed + 2**32)
    x, y = disk_dataset(N, generator=g, replicas=runs)
    x_test, y_test = disk_dataset(N, generator=g, replicas=runs)
    mean, std = fit_standardizer(x)
    net = build_network(RECIPE, replicas=runs, generator=g)
    weights = [(m.weight.value, m.bias.value) for m in net if isinstance(m, Linear)]
    x, x_test = standardize(x, mean, std), standardize(x_test, mean, std)
    return Setup(x, y, x_test, y_test, weights, shuffle=g, redraw=redraw)


def _shuffled(s: Setup, runs: int) -> tuple[Tensor, Tensor]:
    """This epoch's order for every replica, applied to x and y (minidl's draw)."""
    order = permutation(N, generator=s.shuffle, replicas=runs)
    idx = order.unsqueeze(-1)
    return s.x.gather(1, idx.expand(-1, -1, 2)), s.y.gather(1, idx)


def _restart(rule: RestartRule, epoch: int, loss: Tensor, error: Tensor,
             previous: Tensor | None) -> Tensor:  # fmt: skip
    """The replicas that the report's restart rule redraws after this epoch (a mask)."""
    bad = ~loss.isfinite()
    stuck = (loss - previous).abs() < rule.tol if previous is not None else bad
    return bad | (stuck & (error > rule.max_error) & (epoch >= rule.start))


def _redraw(params: list[Tensor], fan: list[tuple[int, int, float]], mask: Tensor,
            g: torch.Generator) -> None:  # fmt: skip
    """New N(0, gain^2 2/(in+out)) weights and zero biases for the masked replicas."""
    for i, (n_in, n_out, gain) in enumerate(fan):
        w, b = params[2 * i], params[2 * i + 1]
        w[mask] = torch.randn(w[mask].shape, generator=g) * gain * (2 / (n_in + n_out)) ** 0.5
        b[mask] = 0.0


def _percent_wrong(out: Tensor, y: Tensor) -> list[float]:
    return (((out > 0.5) != (y > 0.5)).sum(dim=(1, 2)) * 100 / N).tolist()


def _train_batched(
    runs: int,
    epochs: int,
    seed: int,
    make_step: Callable[[list[Tensor]], Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]],
    predict: Callable[[list[Tensor], Tensor], Tensor],
) -> list[float]:
    """The epoch loop both batched references share; make_step builds the engine's step."""
    s = setup(runs, seed)
    params = []
    for w, b in s.weights:
        params += [w.clone(), b.clone()]
    fan = [(w.shape[2], w.shape[1], 1.0) for w, _ in s.weights]
    rule = RestartRule()
    step = make_step(params)
    previous = None
    for epoch in range(epochs):
        xs, ys = _shuffled(s, runs)
        total = torch.zeros(2, runs)
        for start in range(0, N, BATCH):
            xb, yb = xs[:, start : start + BATCH], ys[:, start : start + BATCH]
            loss, out = step(xb, yb)
            total[0] += loss * xb.shape[1]
            total[1] += ((out > 0.5) != (yb > 0.5)).sum(dim=(1, 2))
        loss, error = total / N
        redraw = _restart(rule, epoch, loss, error, previous)
        if bool(redraw.any()):
            _redraw(params, fan, redraw, s.redraw)
            loss = loss.where(~redraw, float("inf"))
        previous = loss
    with torch.no_grad():
        return _percent_wrong(predict(params, s.x_test), s.y_test)


# Batched autograd ----------------------------------------------------------------------


def _forward(params: list[Tensor], x: Tensor) -> Tensor:
    """All replicas at once: h = act(b + h W^T) with W (R, out, in), b (R, 1, out)."""
    w0, b0, w1, b1, w2, b2, w3, b3 = params
    h = F.elu(torch.baddbmm(b0.unsqueeze(1), x, w0.mT), alpha=0.2)
    h = F.relu(torch.baddbmm(b1.unsqueeze(1), h, w1.mT))
    h = F.selu(torch.baddbmm(b2.unsqueeze(1), h, w2.mT))
    return torch.sigmoid(torch.baddbmm(b3.unsqueeze(1), h, w3.mT))


def run_autograd(runs: int, epochs: int, seed: int = 0) -> Run:
    """Batched autograd: one graph for all replicas, loss.sum().backward(), optim.SGD."""

    def make_step(params: list[Tensor]) -> Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]:
        for p in params:
            p.requires_grad_()
        opt = torch.optim.SGD(params, lr=RECIPE.lr, momentum=RECIPE.momentum, foreach=True)

        def step(xb: Tensor, yb: Tensor) -> tuple[Tensor, Tensor]:
            with torch.enable_grad():
                out = _forward(params, xb)
                loss = (out - yb).square().mean(dim=(1, 2))  # one mean loss per replica
                opt.zero_grad()
                loss.sum().backward()  # type: ignore[no-untyped-call]
            opt.step()
            return loss.detach(), out.detach()

        return step

    return _timed(lambda: _train_batched(runs, epochs, seed, make_step, _forward))


# The tensor-op floor -------------------------------------------------------------------

# minidl's own activation functions (f and f', plain tensor methods with no bookkeeping)
_ELU, _SELU = ELU(), SELU()


def _floor_forward(params: list[Tensor], x: Tensor) -> list[Tensor]:
    """The pre-activations a0..a3 and activations h0..h2, out of the 2-25-25-25-1 network,
    each product formed as minidl's Linear forms it: (b + W h^T)^T."""
    w0, b0, w1, b1, w2, b2, w3, b3 = params
    a0 = b0.unsqueeze(2).baddbmm(w0, x.mT).mT
    h0 = _ELU.f(a0)
    a1 = b1.unsqueeze(2).baddbmm(w1, h0.mT).mT
    h1 = a1.clamp(min=0)
    a2 = b2.unsqueeze(2).baddbmm(w2, h1.mT).mT
    h2 = _SELU.f(a2)
    out = b3.unsqueeze(2).baddbmm(w3, h2.mT).mT.neg_().exp_().add_(1).reciprocal_()
    return [a0, h0, h1, a2, h2, out]


def run_floor(runs: int, epochs: int, seed: int = 0) -> Run:
    """minidl's step written as one function of tensor methods, with no framework around it.

    The same layers, product layout, accurate ELU and SELU, loss gradient and SGD as
    minidl's replica step, by hand, with no modules, argument checks or saved-state
    bookkeeping; a plain sigmoid (minidl's is overflow-safe), x and y gathered apart, the
    test set evaluated in one pass, and the epoch loop of the other batched engines.
    minidl's time over this engine's is the cost of being a framework.
    """

    def make_step(params: list[Tensor]) -> Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]:
        grads = [torch.zeros_like(p) for p in params]
        velocity = [torch.zeros_like(p) for p in params]
        gw0, gb0, gw1, gb1, gw2, gb2, gw3, gb3 = grads

        def step(xb: Tensor, yb: Tensor) -> tuple[Tensor, Tensor]:
            w1, w2, w3 = params[2], params[4], params[6]
            a0, h0, h1, a2, h2, out = _floor_forward(params, xb)
            diff = out - yb
            loss = diff.square().mean(dim=(1, 2))
            g = diff.mul_(2 / xb.shape[1]).mul_((1 - out).mul_(out))  # dL/da3
            for t in grads:
                t.zero_()
            gw3.baddbmm_(g.mT, h2)
            gb3.add_(g.sum(1))
            g = _SELU.df(a2, h2).mul_((w3.mT * g.mT).mT)
            gw2.baddbmm_(g.mT, h1)
            gb2.add_(g.sum(1))
            g = h1.sign().mul_((w2.mT @ g.mT).mT)
            gw1.baddbmm_(g.mT, h0)
            gb1.add_(g.sum(1))
            g = _ELU.df(a0, h0).mul_((w1.mT @ g.mT).mT)
            gw0.add_((xb.mT.contiguous() @ g).mT)
            gb0.add_(g.sum(1))
            for p, v, d in zip(params, velocity, grads, strict=True):
                v.mul_(RECIPE.momentum).add_(d)
                p.add_(v, alpha=-RECIPE.lr)
            return loss, out

        return step

    def predict(params: list[Tensor], x: Tensor) -> Tensor:
        return _floor_forward(params, x)[-1]

    return _timed(lambda: _train_batched(runs, epochs, seed, make_step, predict))


# torch.func ----------------------------------------------------------------------------


def _torch_net() -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(2, 25), nn.ELU(alpha=0.2), nn.Linear(25, 25), nn.ReLU(),
        nn.Linear(25, 25), nn.SELU(), nn.Linear(25, 1), nn.Sigmoid(),
    )  # fmt: skip


def run_func(runs: int, epochs: int, seed: int = 0) -> Run:
    """torch.func: R torch.nn networks stacked, vmap(grad) of functional_call, optim.SGD."""
    base = _torch_net().to("meta")
    names = [name for name, _ in base.named_parameters()]

    def make_step(params: list[Tensor]) -> Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]:
        nets = [_torch_net() for _ in range(runs)]
        with torch.no_grad():
            for r, net in enumerate(nets):
                for mine, q in zip(net.parameters(), params, strict=True):
                    mine.copy_(q[r])
        stacked, _ = stack_module_state(nets)
        tensors = [stacked[name].detach() for name in names]
        for p, t in zip(params, tensors, strict=True):
            p.set_(t)  # the epoch loop's redraws now write into the stacked tensors
        opt = torch.optim.SGD(tensors, lr=RECIPE.lr, momentum=RECIPE.momentum, foreach=True)

        def loss_fn(
            p: dict[str, Tensor], xb: Tensor, yb: Tensor
        ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
            out = functional_call(base, p, (xb,))
            loss = F.mse_loss(out, yb)
            return loss, (loss.detach(), out.detach())

        grads_of = vmap(grad(loss_fn, has_aux=True))  # one network's gradient, R at once

        def step(xb: Tensor, yb: Tensor) -> tuple[Tensor, Tensor]:
            grads, (loss, out) = grads_of(dict(zip(names, tensors, strict=True)), xb, yb)
            for name, t in zip(names, tensors, strict=True):
                t.grad = grads[name]
            opt.step()
            return loss, out

        return step

    return _timed(lambda: _train_batched(runs, epochs, seed, make_step, _forward))


# torch.nn, one run after another ---------------------------------------------------------


def run_torch_nn(runs: int, epochs: int, seed: int = 0) -> Run:
    """torch.nn + autograd + torch.optim.SGD, one network after another (torch_reference.py).

    Its own draws (randperm batches, torch's default initialisation): the same protocol,
    not the same batches.
    """
    from torch_reference import run_torch_nn as reference

    return _timed(lambda: list(reference(runs=runs, epochs=epochs, seed=seed)["test_errors"]))
