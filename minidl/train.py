"""The training loop, the error rate and the report's restart rule, for one network or R replicas.

Derived in notebooks/07_training.ipynb (replicas in notebooks/08_replicas.ipynb).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from .data import permutation
from .losses import _Loss
from .module import Module, ShapeError, check_size, check_tensor
from .optim import SGD


@dataclass(frozen=True)
class RestartRule:
    """Redraw a network when, from epoch `start` on, its epoch loss moved by less than
    `tol` and its train error is above `max_error` (the report's rescue for stuck runs).
    tol encodes a speed of learning: at a small lr a slow run can look stuck.

    Derived in notebooks/07_training.ipynb.
    """

    start: int = 10
    tol: float = 1e-4
    max_error: float = 0.40
    generator: torch.Generator | None = None  # for the redraws; None: train's generator


@dataclass
class History:
    """Per-epoch training loss and error, shape (epochs,) or (epochs, R), averaged over
    the epoch's batches as they were trained; `restarted` marks the epochs after which a
    network was redrawn; `diverged` the networks whose loss was ever non-finite."""

    loss: Tensor
    train_error: Tensor
    restarted: Tensor
    diverged: Tensor

    @property
    def restarts(self) -> Tensor:
        """How many times each network was redrawn."""
        return self.restarted.sum(dim=0)


_CHUNK = 100  # points per forward pass in error_rate


def error_rate(model: Module, x: Tensor, y: Tensor) -> Tensor:
    """Fraction of points with (model(x) > 0.5) != y: a scalar, or one per replica.

    The points go through the model _CHUNK at a time, so that memory stays that of a
    training batch (R replicas of width w: about R _CHUNK w floats per layer).
    """
    n = x.shape[-2]
    wrong = None
    for start in range(0, n, _CHUNK):
        part = slice(start, start + _CHUNK)
        count = ((model(x[..., part, :]) > 0.5) != (y[..., part, :] > 0.5)).sum(dim=(-2, -1))
        wrong = count if wrong is None else wrong + count
    assert wrong is not None
    return wrong.to(x.dtype) / (n * y.shape[-1])


def _shuffle(data: Tensor, order: Tensor) -> Tensor:
    """Rows order of data (n, c); for (R, n, c) data, rows order[r] of data[r], in one pass."""
    if order.ndim == 1:
        return data.index_select(0, order)
    replicas, n, c = data.shape
    # row order[r, i] of replica r is row r n + order[r, i] of data seen as (R n, c)
    offsets = torch.empty((replicas, 1), dtype=order.dtype, device=order.device)
    offsets.fill_(n).cumsum_(0).sub_(n)
    rows = order.add(offsets).reshape(-1)
    return data.reshape(replicas * n, c).index_select(0, rows).reshape(replicas, n, c)


def _step(
    model: Module,
    loss_fn: _Loss,
    optimizer: SGD,
    xb: Tensor,
    yb: Tensor,
    labels: Tensor,
    error_band: float | None = None,
) -> tuple[Tensor, Tensor]:
    """One SGD step on one batch; returns the summed loss and the misclassified count.

    labels = 1[yb > 0.5] as 0/1 floats: a point is misclassified where |1[out > 0.5] -
    labels| = 1, counted in float arithmetic (no bool tensors).
    """
    out = model(xb)
    loss = loss_fn(out, yb)
    optimizer.zero_grad()
    model.backward(loss_fn.backward())
    optimizer.step()
    if error_band is not None:  # the report's code: wrong when |output - target| > band
        return loss * xb.shape[-2], ((out - yb).abs() > error_band).sum(dim=(-2, -1))
    predicted = out.sub(0.5).clamp_(min=0).sign_()  # 1[out > 0.5]
    return loss * xb.shape[-2], predicted.sub_(labels).abs_().sum(dim=(-2, -1))


def train(
    model: Module,
    loss_fn: _Loss,
    optimizer: SGD,
    x: Tensor,
    y: Tensor,
    *,
    epochs: int,
    batch_size: int,
    generator: torch.Generator | None = None,
    restart: RestartRule | None = None,
    loop: bool = False,
    on_epoch: Callable[[int], None] | None = None,
    shuffle: bool = True,
    error_band: float | None = None,
) -> History:
    """Minibatch SGD for `epochs` passes over (x, y), reshuffled every epoch.

    x (n, d) and y (n, k) train one network; x (R, n, d) and y (R, n, k) train R
    replicas, each on its own data and its own shuffle. With loop=True the replicas
    are trained one network at a time: the same draws, so the same result up to
    rounding (float32 sums in another order can drift apart over many epochs), slower.
    shuffle=False takes the batches in the data's order every epoch (the report's code).
    error_band=b counts a training point as wrong when |output - y| > b (the report's
    code: 0.45 against targets 0 and 0.9) instead of when (output > 0.5) != (y > 0.5).
    Derived in notebooks/07_training.ipynb.
    """
    check_tensor("train", x, "x")
    check_tensor("train", y, "y")
    check_size("train", "epochs", epochs)
    check_size("train", "batch_size", batch_size)
    if x.ndim not in (2, 3) or y.ndim != x.ndim or x.shape[:-1] != y.shape[:-1]:
        raise ShapeError(
            f"train: expected x (n, d) and y (n, k), or (R, n, d) and (R, n, k); "
            f"got x {tuple(x.shape)} and y {tuple(y.shape)}"
        )
    replicas = x.shape[0] if x.ndim == 3 else None
    lead = () if replicas is None else (replicas,)
    n = x.shape[-2]
    history = History(
        loss=torch.empty((epochs, *lead), dtype=x.dtype, device=x.device),
        train_error=torch.empty((epochs, *lead), dtype=x.dtype, device=x.device),
        restarted=torch.empty((epochs, *lead), dtype=torch.bool, device=x.device).fill_(False),
        diverged=torch.empty(lead, dtype=torch.bool, device=x.device).fill_(False),
    )
    singles = []
    if loop and replicas is not None:
        velocity = optimizer.allocate_velocity()
        for r in range(replicas):  # one network and one optimizer per replica, as views
            net = model.replica(r)
            opt = SGD(net.params(), optimizer.lr, optimizer.momentum)
            opt.velocity = [v[r] for v in velocity]
            singles.append((net, opt))
    # x, y and 1[y > 0.5] side by side in one tensor, so that one pass shuffles all three
    d, k = x.shape[-1], y.shape[-1]
    data = torch.empty((*x.shape[:-1], d + 2 * k), dtype=x.dtype, device=x.device)
    data[..., :d], data[..., d : d + k] = x, y
    data[..., d + k :] = y.sub(0.5).clamp_(min=0).sign_()
    previous = None
    for epoch in range(epochs):
        total = torch.empty((2, *lead), dtype=x.dtype, device=x.device).zero_()
        if shuffle:
            order = permutation(n, generator=generator, replicas=replicas, device=x.device)
            shuffled = _shuffle(data, order)  # one shuffle of the data per epoch
        else:
            shuffled = data
        for start in range(0, n, batch_size):
            batch = shuffled[..., start : start + batch_size, :]
            xb, yb, labels = batch[..., :d], batch[..., d : d + k], batch[..., d + k :]
            if singles:
                for r, (net, opt) in enumerate(singles):
                    loss_sum, wrong = _step(net, loss_fn, opt, xb[r], yb[r], labels[r], error_band)
                    total[0, r] += loss_sum
                    total[1, r] += wrong
            else:
                loss_sum, wrong = _step(model, loss_fn, optimizer, xb, yb, labels, error_band)
                total[0].add_(loss_sum)
                total[1].add_(wrong)
        history.loss[epoch], history.train_error[epoch] = loss, error = total / n
        bad = ~loss.isfinite()
        if replicas is None and bool(bad):
            raise FloatingPointError(
                f"train: the loss became {loss.item()} in epoch {epoch}; "
                f"try a smaller learning rate than {optimizer.lr}"
            )
        history.diverged |= bad
        if restart is not None:
            stuck = (loss - previous).abs() < restart.tol if previous is not None else bad
            redraw = bad | (stuck & (error > restart.max_error) & (epoch >= restart.start))
            if bool(redraw.any()):
                g = generator if restart.generator is None else restart.generator
                mask = None if replicas is None else redraw
                model.reset_parameters(g, replicas=mask)
                optimizer.reset_velocity(mask)
                history.restarted[epoch] = redraw
                loss = loss.where(~redraw, float("inf"))
        previous = loss
        if on_epoch is not None:
            on_epoch(epoch)
    return history
