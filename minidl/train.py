"""The training loop, the error rate and the report's restart rule, for one network or R replicas.

Derived in notebooks/07_training.ipynb (replicas in notebooks/08_replicas.ipynb).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from .checks import (
    ArgumentError,
    ShapeError,
    check_finite,
    check_number,
    check_size,
    check_tensor,
    without_history,
)
from .data import permutation
from .losses import Loss
from .module import Module, no_saving
from .optim import SGD


@dataclass(frozen=True)
class RestartRule:
    """Redraw a network when |L_e - L_(e-1)| < tol and its train error > max_error, e >= start.

    The report's rescue for stuck runs; L_e is the epoch's mean loss per point. tol
    encodes a speed of learning: at a small lr a slow run can look stuck. A network whose
    loss is not finite is redrawn at once.

    Args:
        start: the first epoch (counted from 0) at which a stuck network is redrawn, >= 0.
        tol: the change of the epoch loss below which a network counts as stuck, >= 0.
        max_error: a stuck network is redrawn only above this train error, a fraction
            at most 1 (0.4 is 40 %; a negative value redraws every stuck network).
        generator: the torch.Generator of the redraws (None: train()'s).

    Raises:
        ArgumentError: an argument of the wrong kind or range.

    Derived in notebooks/07_training.ipynb.
    """

    start: int = 10
    tol: float = 1e-4
    max_error: float = 0.40
    generator: torch.Generator | None = None  # for the redraws; None: train's generator

    def __post_init__(self) -> None:
        if isinstance(self.start, bool) or not isinstance(self.start, int) or self.start < 0:
            raise ArgumentError(f"RestartRule: start must be an integer >= 0, got {self.start!r}")
        if not check_number("RestartRule", "tol", self.tol, finite=False) >= 0:
            raise ArgumentError(f"RestartRule: tol must be >= 0, got {self.tol!r}")
        if not check_number("RestartRule", "max_error", self.max_error, finite=False) <= 1:
            raise ArgumentError(
                f"RestartRule: max_error is a fraction, at most 1 (0.4 is 40 %), got "
                f"{self.max_error!r}"
            )
        if self.generator is not None and not isinstance(self.generator, torch.Generator):
            raise ArgumentError("RestartRule: generator must be a torch.Generator or None")


@dataclass
class History:
    """What train() records per epoch: shape (epochs,) for one network, (epochs, R) for R.

    Errors are fractions (0.05 is 5 %), as error_rate() gives them; Result reports percent.
    `loss` and `train_error` are averaged per point over the epoch's batches as they were
    trained (the error counted as error_rate() counts it, or with train()'s error_band);
    `restarted` (bool) marks the epochs after which a network was redrawn; `diverged`
    (bool, () or (R,)) the networks whose loss was ever non-finite; `validation_error`
    the error_rate() on the validation data at the end of each epoch (None without
    validation data).
    Derived in notebooks/07_training.ipynb.
    """

    loss: Tensor
    train_error: Tensor
    restarted: Tensor
    diverged: Tensor
    validation_error: Tensor | None = None

    @property
    def restarts(self) -> Tensor:
        """How many times each network was redrawn, an int tensor () or (R,)."""
        return self.restarted.sum(dim=0)


_CHUNK = 100  # points per forward pass in error_rate


def error_rate(model: Module, x: Tensor, y: Tensor) -> Tensor:
    """Fraction of misclassified points: a scalar, or one per replica for (R, n, d) x.

    With k = 1 output, a point is wrong when (model(x) > 0.5) != (y > 0.5); with k > 1
    outputs, when the argmax of the outputs differs from the argmax of y (one-hot
    labels or class probabilities). The forward saves nothing for backward, so it may run
    between forward and backward; the points go through the model _CHUNK at a time, so
    that memory stays that of a training batch (R replicas of width w: about R _CHUNK w
    floats per layer).

    Args:
        model: a minidl network, with R replicas or none.
        x: (n, d), or (R, n, d) for a model with R replicas; finite.
        y: (n, k) or (R, n, k), the shape of model(x); finite.

    Returns:
        The error as a fraction (0.05 is 5 %), a scalar tensor or (R,).

    Raises:
        TypeError: model is not a network, or x or y is not a float tensor.
        ShapeError: x, y and the model's output do not fit each other or the replicas.
        ValueError: x or y holds NaN or inf, or no points.

    Derived in notebooks/07_training.ipynb.
    """
    _check_model("error_rate", model)
    x, y = _check_data("error_rate", model, x, y)
    return _error("error_rate", model, x, y)


def _error(owner: str, model: Module, x: Tensor, y: Tensor) -> Tensor:
    """The share of misclassified points (error_rate without its checks), in chunks."""
    n = x.shape[-2]
    wrong = None
    for start in range(0, n, _CHUNK):
        part = slice(start, start + _CHUNK)
        out, target = _evaluate(owner, model, x[..., part, :]), y[..., part, :]
        if out.shape != target.shape:
            shape = (*out.shape[:-2], n, out.shape[-1])
            raise ShapeError(
                f"{owner}: the model's output has shape {shape} but y has shape "
                f"{tuple(y.shape)}; they must be the same (no broadcasting)"
            )
        count = _wrong(out, target).sum(dim=-1)
        wrong = count if wrong is None else wrong + count
    assert wrong is not None
    return wrong.to(x.dtype) / n


def _wrong(out: Tensor, y: Tensor, band: float | None = None) -> Tensor:
    """The decision rule: which points are misclassified, a bool tensor (..., n).

    One output: the class is 1[out > 0.5], wrong where it differs from 1[y > 0.5] (with
    a band b, the report's code: wrong where |out - y| > b); k > 1 outputs: the argmax
    of out against the argmax of y.
    """
    if band is not None:
        return ((out - y).abs() > band).any(dim=-1)
    if out.shape[-1] == 1:
        return ((out > 0.5) != (y > 0.5)).squeeze(-1)
    return out.argmax(dim=-1) != y.argmax(dim=-1)


def _check_model(owner: str, model: Any) -> None:
    if not isinstance(model, Module) or isinstance(model, Loss):
        kind = f"the class {model.__name__}" if isinstance(model, type) else type(model).__name__
        raise TypeError(f"{owner}: model must be a minidl network (a Module), got {kind}")


def _check_data(
    owner: str, model: Module, x: Any, y: Any, what: str = ""
) -> tuple[Tensor, Tensor]:
    """x (n, d) and y (n, k), or (R, n, d) and (R, n, k) for a model with R replicas."""
    xn, yn = f"{what}x", f"{what}y"
    check_tensor(owner, x, xn)
    check_tensor(owner, y, yn)
    if x.ndim not in (2, 3) or y.ndim != x.ndim or x.shape[:-1] != y.shape[:-1]:
        raise ShapeError(
            f"{owner}: expected {xn} (n, d) and {yn} (n, k), or (R, n, d) and (R, n, k); "
            f"got {xn} {tuple(x.shape)} and {yn} {tuple(y.shape)}"
        )
    if x.shape[-2] == 0:
        raise ValueError(f"{owner}: {xn} holds no points (shape {tuple(x.shape)})")
    replicas = model.replicas
    if replicas is not None and (x.ndim != 3 or x.shape[0] != replicas):
        raise ShapeError(
            f"{owner}: the model has {replicas} replicas, so {xn} must be ({replicas}, n, d); "
            f"got {tuple(x.shape)}"
        )
    if replicas is None and x.ndim == 3 and model.params():
        raise ShapeError(
            f"{owner}: the model has no replicas, so {xn} must be (n, d); got 3-D "
            f"{tuple(x.shape)}. For R networks trained at once build the layers with "
            "replicas=R; for one network reshape the data to (n, d)"
        )
    check_finite(owner, x, xn)
    check_finite(owner, y, yn)
    return x, y


def _evaluate(owner: str, model: Module, x: Tensor) -> Tensor:
    """model(x) without saving anything for backward; errors name the caller."""
    try:
        with no_saving():
            return model(x)
    except (ShapeError, TypeError) as err:
        raise type(err)(
            f"{owner}: the model cannot take x {tuple(x.shape)} ({x.dtype}): {err}"
        ) from err


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


ENGINES = ("replicas", "loop")  # train(engine=...): all R networks at once, or one by one
Step = Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]  # (xb, yb) -> (loss sum, wrong count)


@without_history
def train(
    model: Module,
    loss_fn: Loss,
    optimizer: SGD,
    x: Tensor,
    y: Tensor,
    *,
    epochs: int,
    batch_size: int,
    generator: torch.Generator | None = None,
    restart: RestartRule | None = None,
    engine: str = "replicas",
    on_epoch: Callable[..., object] | None = None,
    validation: tuple[Tensor, Tensor] | None = None,
    shuffle: bool = True,
    error_band: float | None = None,
) -> History:
    """Minibatch SGD for `epochs` passes over (x, y), reshuffled every epoch.

    x (n, d) and y (n, k) train one network; x (R, n, d) and y (R, n, k) train R
    replicas (a model built with replicas=R), each on its own data and its own shuffle.

    Args:
        model: the network, with R replicas or none.
        loss_fn: a minidl Loss, such as MSELoss().
        optimizer: SGD(model.params(), lr, momentum).
        x: inputs (n, d) or (R, n, d), finite, of the parameters' dtype.
        y: targets (n, k) or (R, n, k), the shape of the model's output, finite.
        epochs: passes over the data, an integer >= 1.
        batch_size: points per step, an integer >= 1 (the last batch may be short).
        generator: the torch.Generator of the shuffles, and of the redraws unless the
            rule has its own (None: torch's global one).
        restart: the RestartRule, or None for no restarts.
        engine: "replicas" trains all R replicas in one batched pass; "loop" trains them
            one network at a time: the same draws, so the same result up to rounding
            (float32 sums in another order can drift apart over many epochs), slower.
            (The names of reproduce()'s engine.)
        on_epoch: called after each epoch as on_epoch(epoch, loss, train_error,
            validation_error): epoch counts from 0 (the row of History), the others are
            that epoch's values as in History; a callable that takes fewer arguments
            gets the first ones (on_epoch(epoch) for one).
        validation: (x_val, y_val), shaped like (x, y): each epoch's error_rate() on it
            goes to History.validation_error.
        shuffle: False takes the batches in the data's order every epoch (the report's
            code).
        error_band: b counts a training point as wrong when |output - y| > b (the
            report's code: 0.45 against targets 0 and 0.9) instead of when
            (output > 0.5) != (y > 0.5).

    Returns:
        The History, per-epoch loss and error fraction, (epochs,) or (epochs, R).

    Raises:
        TypeError: an argument of the wrong kind (raised before any step, as the next three).
        ArgumentError: a bad size, engine, error_band or on_epoch.
        ShapeError: data that do not fit each other or the model (a model with R replicas
            needs (R, n, d) data; one without replicas refuses 3-D data).
        ValueError: non-finite x or y (naming which), empty data, non-finite parameters,
            or an optimizer over other parameters than the model's.
        FloatingPointError: the loss of a single network became non-finite (the learning
            rate is too large).

    Derived in notebooks/07_training.ipynb.
    """
    _check_arguments(
        model, loss_fn, optimizer, x, y, epochs, batch_size, generator, restart, engine,
        validation, shuffle, error_band,
    )  # fmt: skip
    report = _callback("train", on_epoch)
    replicas = x.shape[0] if x.ndim == 3 else None  # R, or None for one network
    n, lead = x.shape[-2], () if replicas is None else (replicas,)
    history = _new_history(x, epochs, lead, validation is not None)
    if engine == "loop" and replicas is not None:
        step = _loop_step(model, loss_fn, optimizer, error_band)
    else:
        step = _step(model, loss_fn, optimizer, error_band)
    data = _side_by_side(x, y)  # one shuffle per epoch moves both
    previous = None  # the last epoch's loss, for the restart rule
    for epoch in range(epochs):
        total = torch.empty((2, *lead), dtype=x.dtype, device=x.device).zero_()
        for xb, yb in _batches(data, x.shape[-1], batch_size, generator, shuffle):
            loss_sum, wrong = step(xb, yb)
            total[0].add_(loss_sum)
            total[1].add_(wrong)
        # the epoch's mean loss and error per point, as the batches were trained
        history.loss[epoch], history.train_error[epoch] = loss, error = total / n
        validation_error = None
        if validation is not None and history.validation_error is not None:
            validation_error = _error("train", model, *validation)
            history.validation_error[epoch] = validation_error
        _check_loss(loss, epoch, replicas, optimizer.lr)
        history.diverged |= ~loss.isfinite()
        if restart is not None:
            loss = _restart(restart, generator, model, optimizer, epoch, loss, error, previous,
                            history)  # fmt: skip
        previous = loss
        report(epoch, history.loss[epoch], history.train_error[epoch], validation_error)
    return history


def _step(model: Module, loss_fn: Loss, optimizer: SGD, error_band: float | None) -> Step:
    """One SGD step on a batch, the four lines of notebook 07, for one network or R at once.

    The step takes xb (B, d) and yb (B, k), or (R, B, d) and (R, B, k), and returns the
    batch's summed loss and misclassified count, () or (R,) (train() divides by n).
    """

    def step(xb: Tensor, yb: Tensor) -> tuple[Tensor, Tensor]:
        out = model(xb)  # 1. forward
        loss = loss_fn(out, yb)  # 2. the loss (one per replica)
        optimizer.zero_grad()  # 3. backward, from cleared gradients (the data's
        model.backward_params(loss_fn.backward())  # gradient dL/dx is not needed)
        optimizer.step()  # 4. the SGD step
        return loss * xb.shape[-2], _wrong(out, yb, error_band).sum(dim=-1).to(out.dtype)

    return step


def _loop_step(model: Module, loss_fn: Loss, optimizer: SGD, error_band: float | None) -> Step:
    """The same step, one replica after another (engine="loop").

    Each replica r is a single network whose tensors are views of replica r's storage
    (model.replica(r)), with its own SGD over views of the velocity, so the R networks
    end where the batched pass ends, up to rounding.
    """
    replicas = model.replicas
    assert replicas is not None
    velocity = optimizer.allocate_velocity()
    steps = []
    for r in range(replicas):
        net = model.replica(r)
        single = SGD(net.params(), optimizer.lr, optimizer.momentum)
        single.velocity = [v[r] for v in velocity]
        steps.append(_step(net, loss_fn, single, error_band))

    def step(xb: Tensor, yb: Tensor) -> tuple[Tensor, Tensor]:
        results = torch.empty((2, replicas), dtype=xb.dtype, device=xb.device)
        for r, one in enumerate(steps):
            results[0, r], results[1, r] = one(xb[r], yb[r])
        return results[0], results[1]

    return step


def _restart(
    rule: RestartRule,
    generator: torch.Generator | None,
    model: Module,
    optimizer: SGD,
    epoch: int,
    loss: Tensor,
    error: Tensor,
    previous: Tensor | None,
    history: History,
) -> Tensor:
    """Apply the restart rule after an epoch; return the loss the next epoch compares with.

    A network is redrawn (new parameters, zero velocity) when its loss is not finite, or
    when from epoch rule.start on its loss moved by less than rule.tol and its error is
    above rule.max_error. A redrawn network's loss is returned as inf, so that the next
    epoch's change is inf, not small: a fresh network gets one epoch before it is judged.
    """
    bad = ~loss.isfinite()
    stuck = (loss - previous).abs() < rule.tol if previous is not None else bad
    redraw = bad | (stuck & (error > rule.max_error) & (epoch >= rule.start))
    if not bool(redraw.any()):
        return loss
    mask = redraw if redraw.ndim == 1 else None  # which replicas; None: the one network
    model.reset_parameters(generator if rule.generator is None else rule.generator, mask=mask)
    optimizer.reset_velocity(mask)
    history.restarted[epoch] = redraw
    return loss.where(~redraw, float("inf"))


def _check_loss(loss: Tensor, epoch: int, replicas: int | None, lr: float) -> None:
    """A single network whose loss is not finite stops training (replicas are redrawn)."""
    if replicas is None and not bool(loss.isfinite()):
        raise FloatingPointError(
            f"train: the loss became {loss.item()} in epoch {epoch + 1} (History row {epoch}); "
            f"try a smaller learning rate than {lr}"
        )


def _new_history(x: Tensor, epochs: int, lead: tuple[int, ...], validation: bool) -> History:
    """An empty History: (epochs, *lead) rows, nothing restarted or diverged yet."""

    def rows(dtype: torch.dtype = x.dtype) -> Tensor:
        return torch.empty((epochs, *lead), dtype=dtype, device=x.device)

    return History(
        loss=rows(),
        train_error=rows(),
        restarted=rows(torch.bool).fill_(False),
        diverged=torch.empty(lead, dtype=torch.bool, device=x.device).fill_(False),
        validation_error=rows() if validation else None,
    )


def _side_by_side(x: Tensor, y: Tensor) -> Tensor:
    """x (..., n, d) and y (..., n, k) as one tensor (..., n, d + k)."""
    d = x.shape[-1]
    data = torch.empty((*x.shape[:-1], d + y.shape[-1]), dtype=x.dtype, device=x.device)
    data[..., :d], data[..., d:] = x, y
    return data


def _batches(
    data: Tensor, d: int, batch_size: int, generator: torch.Generator | None, shuffle: bool
) -> Iterator[tuple[Tensor, Tensor]]:
    """One epoch's batches (xb, yb) of data (..., n, d + k): a fresh order per replica."""
    n = data.shape[-2]
    if shuffle:
        replicas = data.shape[0] if data.ndim == 3 else None
        order = permutation(n, generator=generator, replicas=replicas, device=data.device)
        data = _shuffle(data, order)
    for start in range(0, n, batch_size):
        batch = data[..., start : start + batch_size, :]
        yield batch[..., :d], batch[..., d:]


def _check_arguments(
    model: Module,
    loss_fn: Loss,
    optimizer: SGD,
    x: Tensor,
    y: Tensor,
    epochs: int,
    batch_size: int,
    generator: torch.Generator | None,
    restart: RestartRule | None,
    engine: str,
    validation: tuple[Tensor, Tensor] | None,
    shuffle: bool,
    error_band: float | None,
) -> None:
    """train()'s checks, all made before any step (see train() for what each raises)."""
    _check_model("train", model)
    if not isinstance(loss_fn, Loss):
        kind = (
            f"the class {loss_fn.__name__} (call it: {loss_fn.__name__}())"
            if isinstance(loss_fn, type)
            else type(loss_fn).__name__
        )
        raise TypeError(f"train: loss_fn must be a minidl loss such as MSELoss(), got {kind}")
    if not isinstance(optimizer, SGD):
        raise TypeError(f"train: optimizer must be a minidl SGD, got {type(optimizer).__name__}")
    check_size("train", "epochs", epochs)
    check_size("train", "batch_size", batch_size)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(
            f"train: generator must be a torch.Generator, got {type(generator).__name__}"
        )
    if restart is not None and not isinstance(restart, RestartRule):
        raise TypeError(f"train: restart must be a RestartRule, got {type(restart).__name__}")
    if engine not in ENGINES:
        raise ArgumentError(f"train: engine must be one of {ENGINES}, got {engine!r}")
    if not isinstance(shuffle, bool):
        raise TypeError(f"train: shuffle must be a bool, got {shuffle!r}")
    if error_band is not None and not check_number("train", "error_band", error_band) > 0:
        raise ArgumentError(f"train: error_band must be > 0, got {error_band!r}")
    _check_data("train", model, x, y)
    own = {(p.value.data_ptr(), p.value.shape) for p in model.params()}
    if any((p.value.data_ptr(), p.value.shape) not in own for p in optimizer.params):
        raise ValueError(
            "train: the optimizer holds parameters that are not the model's; build it with "
            "SGD(model.params(), lr)"
        )
    for i, p in enumerate(model.params()):
        check_finite("train", p.value, f"the model's params()[{i}]")
        if p.value.dtype != x.dtype:
            raise TypeError(
                f"train: x is {x.dtype} but the model's parameters are {p.value.dtype}; "
                f"convert x with x.to({p.value.dtype})"
            )
    probe = _evaluate("train", model, x[..., :1, :])
    if probe.shape[-1] != y.shape[-1]:
        raise ShapeError(
            f"train: the model gives {probe.shape[-1]} output(s) per point but y has "
            f"{y.shape[-1]} column(s); y must have the shape of the model's output"
        )
    if validation is not None:
        if not (isinstance(validation, tuple) and len(validation) == 2):
            raise TypeError("train: validation must be a pair (x_val, y_val)")
        x_val, y_val = _check_data("train", model, *validation, what="validation ")
        if x_val.shape[-1] != x.shape[-1] or y_val.shape[-1] != y.shape[-1]:
            raise ShapeError(
                f"train: validation data {tuple(x_val.shape)}, {tuple(y_val.shape)} do not "
                f"match the features of x {tuple(x.shape)} and y {tuple(y.shape)}"
            )


def _callback(
    owner: str, on_epoch: Callable[..., object] | None
) -> Callable[[int, Tensor, Tensor, Tensor | None], object]:
    """on_epoch as a four-argument function.

    A callable taking fewer positional arguments gets the first ones of (epoch, loss,
    train_error, validation_error).
    """
    if on_epoch is None:
        return lambda *args: None
    if not callable(on_epoch):
        raise TypeError(f"{owner}: on_epoch must be callable, got {type(on_epoch).__name__}")
    try:
        parameters = list(inspect.signature(on_epoch).parameters.values())
    except (TypeError, ValueError):  # no signature to read: call it with all four
        return on_epoch
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    positional = [p for p in parameters if p.kind in kinds]
    required = [p for p in positional if p.default is inspect.Parameter.empty]
    takes = len(positional)
    if any(p.kind == inspect.Parameter.VAR_POSITIONAL for p in parameters):
        takes = 4
    if len(required) > 4 or takes == 0:
        raise ArgumentError(
            f"{owner}: on_epoch must take (epoch, loss, train_error, validation_error) or "
            f"the first of them; it takes {len(required)} required positional argument(s)"
        )
    if takes >= 4:
        return on_epoch
    return lambda *args: on_epoch(*args[:takes])
