"""Self-checks for the course's exercises: a learner's code against torch.autograd and central
differences, with a verdict that names the mistake.

Each check runs the learner's function on random float64 inputs with non-zero parameters and
prints one line when everything agrees. Otherwise it raises AssertionError saying what is
wrong: not implemented yet, a wrong shape, a transposed or mis-summed gradient, a derivative
that is wrong on one side of zero, a missing factor. Notebooks call them right after the cell a
learner completes; tests/test_selfcheck.py shows each diagnosis on a seeded mistake.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

import minidl

F64 = torch.float64


class CheckFailed(AssertionError):
    """A self-check found a mistake; the message says which."""


def _randn(gen: torch.Generator, *shape: int) -> Tensor:
    return torch.randn(shape, generator=gen, dtype=F64)


def _call(name: str, fn: Callable[..., Any], *args: Any) -> Any:
    """fn(*args), with a stub's NotImplementedError turned into a clear verdict."""
    try:
        return fn(*args)
    except NotImplementedError:
        raise CheckFailed(
            f"{name}: not implemented yet (replace the `raise NotImplementedError` stub)"
        ) from None


def _close(a: Tensor, b: Tensor, tol: float = 1e-9) -> bool:
    return a.shape == b.shape and bool(((a - b).abs() <= tol * (1 + b.abs())).all())


def _shape(name: str, what: str, got: Any, want: Tensor, hint: str = "") -> Tensor:
    if not isinstance(got, Tensor):
        raise CheckFailed(f"{name}: {what} should be a tensor, got {type(got).__name__}")
    if got.shape != want.shape:
        raise CheckFailed(
            f"{name}: {what} has shape {tuple(got.shape)}, expected {tuple(want.shape)}"
            + (f" ({hint})" if hint else "")
        )
    return got.to(F64)


def _values(name: str, what: str, got: Tensor, want: Tensor, tol: float = 1e-9) -> None:
    if not _close(got, want, tol):
        worst = int((got - want).abs().reshape(-1).argmax())
        raise CheckFailed(
            f"{name}: {what} is wrong (at flat index {worst}: got "
            f"{got.reshape(-1)[worst].item():.4g}, expected {want.reshape(-1)[worst].item():.4g})"
        )


def _autograd(f: Callable[..., Tensor], inputs: Sequence[Tensor], g: Tensor) -> list[Tensor]:
    """d(sum(g * f(inputs)))/d(inputs) by torch.autograd."""
    with torch.enable_grad():
        leaves = [t.clone().requires_grad_(True) for t in inputs]
        out = (f(*leaves) * g).sum()
        return list(torch.autograd.grad(out, leaves))


def check_linear_backward(fn: Callable[[Tensor, Tensor, Tensor, Tensor], Any]) -> None:
    """fn(X, W, b, G) -> (dL/dX, dL/dW, dL/db) for Y = X W^T + b and G = dL/dY."""
    _linear_gradients("linear backward", fn)
    print("linear backward: correct (dL/dX, dL/dW, dL/db agree with torch.autograd)")


def _linear_gradients(name: str, fn: Callable[[Tensor, Tensor, Tensor, Tensor], Any]) -> None:
    """Raise CheckFailed naming the mistake unless fn(X, W, b, G) returns the three gradients."""
    gen = torch.Generator().manual_seed(11)
    batch, n_in, n_out = 5, 3, 4  # all different, so a transpose cannot hide
    x, w, b, g = (
        _randn(gen, batch, n_in),
        _randn(gen, n_out, n_in),
        _randn(gen, n_out),
        _randn(gen, batch, n_out),
    )
    got = _call(name, fn, x.clone(), w.clone(), b.clone(), g.clone())
    if not isinstance(got, (tuple, list)) or len(got) != 3:
        raise CheckFailed(f"{name}: return the three gradients (dL/dX, dL/dW, dL/db)")
    want = _autograd(lambda x_, w_, b_: x_ @ w_.T + b_, [x, w, b], g)
    dx, dw, db = got
    if isinstance(dw, Tensor) and dw.shape == (n_in, n_out):
        raise CheckFailed(
            f"{name}: dL/dW has shape {tuple(dw.shape)}, the shape of W^T: use G^T X"
        )
    if (
        isinstance(db, Tensor)
        and db.numel() in (1, n_out)
        and _close(db.reshape(-1), g.sum().expand(db.numel()))
    ):
        raise CheckFailed(
            f"{name}: dL/db is one number (the same for every bias), the sum of G over the "
            "batch AND the outputs; each bias gets the sum over the batch only: G.sum(0)"
        )
    if isinstance(db, Tensor) and db.shape == (batch,):
        raise CheckFailed(
            f"{name}: dL/db has shape ({batch},): summed over the outputs instead of the batch"
        )
    dx = _shape(name, "dL/dX", dx, want[0], "one row per example, like X")
    dw = _shape(name, "dL/dW", dw, want[1], "like W: (out, in)")
    db = _shape(name, "dL/db", db, want[2], "like b: one value per output")
    if _close(db, g.mean(0)):
        raise CheckFailed(f"{name}: dL/db is the mean of G over the batch; it is the sum")
    _values(name, "dL/dX", dx, want[0])
    _values(name, "dL/dW", dw, want[1])
    _values(name, "dL/db", db, want[2])


REFERENCES: dict[str, Callable[[Tensor], Tensor]] = {
    "relu": lambda x: x.clamp(min=0),
    "leaky_relu": lambda x: torch.where(x > 0, x, 0.2 * x),
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "elu": lambda x: torch.where(x > 0, x, 0.2 * torch.expm1(x.clamp(max=0))),
    "selu": lambda x: 1.0507 * torch.where(x > 0, x, 1.6733 * torch.expm1(x.clamp(max=0))),
}


def check_activation(
    name: str,
    f: Callable[[Tensor], Tensor],
    df: Callable[[Tensor], Tensor],
    reference: Callable[[Tensor], Tensor] | str | None = None,
) -> None:
    """f and its derivative df, elementwise, against a reference f and autograd's f'.

    reference: a function, or a key of REFERENCES (the report's parameters: ELU alpha 0.2,
    SELU alpha 1.6733 and scale 1.0507, LeakyReLU slope 0.2); default: name.lower().
    Checks x on both sides of 0, from -30 to 30; the verdict names the side that is wrong.
    """
    ref = REFERENCES[(reference or name).lower()] if not callable(reference) else reference
    x = torch.cat(
        [
            -torch.logspace(-3, math.log10(30), 40, dtype=F64),
            torch.logspace(-3, math.log10(30), 40, dtype=F64),
        ]
    )
    y = _shape(name, "f(x)", _call(f"{name} f", f, x.clone()), x)
    _values(name, "f(x)", y, ref(x), 1e-9)
    d = _shape(name, "f'(x)", _call(f"{name} df", df, x.clone()), x)
    (want,) = _autograd(ref, [x], torch.ones_like(x))
    neg, pos = x < 0, x > 0
    ok_neg = _close(d[neg], want[neg], 1e-7)
    ok_pos = _close(d[pos], want[pos], 1e-7)
    if not ok_neg and ok_pos:
        ratio = d[neg] / want[neg]
        hint = ""
        if bool((ratio > 0).all()) and _close(ratio.log(), -x[neg], 1e-3):
            hint = "; off by a factor that grows like e^-x: is a factor e^x missing?"
        raise CheckFailed(f"{name}: f'(x) is right for x > 0 but wrong for x < 0{hint}")
    if ok_neg and not ok_pos:
        raise CheckFailed(f"{name}: f'(x) is right for x < 0 but wrong for x > 0")
    _values(name, "f'(x)", d, want, 1e-7)
    print(f"{name}: correct (f matches the reference, f' matches autograd, both sides of 0)")


def check_loss(name: str, make: Callable[[], Any], reference: str) -> None:
    """A loss object: loss = obj(p, t) (mean over every entry), obj.backward() = dL/dp.

    reference: "mse" or "bce" (p are probabilities) or "cross_entropy" (p are logits,
    t class probabilities over the last dimension, the loss a mean over the batch).
    """
    gen = torch.Generator().manual_seed(12)
    batch, k = 6, 3
    if reference == "bce":
        p = torch.rand((batch, k), generator=gen, dtype=F64) * 0.9 + 0.05
        t = torch.rand((batch, k), generator=gen, dtype=F64).round()
    elif reference == "mse":
        p, t = _randn(gen, batch, k), _randn(gen, batch, k)
    elif reference == "cross_entropy":
        p = 3 * _randn(gen, batch, k)
        t = torch.softmax(_randn(gen, batch, k), dim=-1)
    else:
        raise ValueError(f"check_loss: unknown reference {reference!r}")

    def ref(p_: Tensor) -> Tensor:
        if reference == "mse":
            return ((p_ - t) ** 2).mean()
        if reference == "bce":
            return -(t * p_.log() + (1 - t) * (1 - p_).log()).mean()
        return -(t * p_.log_softmax(-1)).sum(-1).mean()

    obj = _call(name, make)
    value = _call(f"{name} forward", obj, p.clone(), t.clone())
    with torch.enable_grad():
        leaf = p.clone().requires_grad_(True)
        want_value = ref(leaf)
        (want,) = torch.autograd.grad(want_value, leaf)
    got_value = torch.as_tensor(value, dtype=F64).reshape(())
    _values(name, "the loss value", got_value, want_value.detach())
    grad = _shape(name, "dL/dp", _call(f"{name} backward", obj.backward), want, "like p")
    for factor, hint in [
        (batch * k, "not divided by the number of entries (the loss is a mean)"),
        (batch, "not divided by the batch size (the loss is a mean over the batch)"),
        (k, "divided by the batch size only; the loss is a mean over every entry"),
        (1 / k, "divided by every entry; cross-entropy is a mean over the batch only"),
        (-1.0, "of the wrong sign"),
        (0.5, "missing the factor 2 of the square"),
    ]:
        if _close(grad, factor * want):
            raise CheckFailed(f"{name}: dL/dp is {hint}")
    _values(name, "dL/dp", grad, want)
    print(f"{name}: correct (value and dL/dp agree with torch.autograd)")


class _Layer:
    """A reference layer for check_sequential: y = x W^T + b, or tanh."""

    def __init__(self, w: Tensor | None = None) -> None:
        self.w, self.x, self.grad_w = w, torch.empty(0), torch.empty(0)
        self.calls: list[str] = []

    def __call__(self, x: Tensor) -> Tensor:
        self.calls.append("forward")
        self.x = x
        return x @ self.w.T if self.w is not None else x.tanh()

    def backward(self, g: Tensor) -> Tensor:
        self.calls.append("backward")
        if self.w is None:
            return g * (1 - self.x.tanh() ** 2)
        self.grad_w = g.T @ self.x
        return g @ self.w


def check_sequential(make: Callable[..., Any]) -> None:
    """make(*layers) -> a container: obj(x) chains the layers, obj.backward(g) runs them back."""
    name = "Sequential"
    gen = torch.Generator().manual_seed(13)
    w1, w2 = _randn(gen, 4, 3), _randn(gen, 2, 4)
    x, g = _randn(gen, 5, 3), _randn(gen, 5, 2)
    layers = [_Layer(w1), _Layer(), _Layer(w2)]
    seq = _call(name, make, *layers)
    out = _call(f"{name} forward", seq, x.clone())

    def f(x_: Tensor, w1_: Tensor, w2_: Tensor) -> Tensor:
        return (x_ @ w1_.T).tanh() @ w2_.T

    _values(name, "forward", _shape(name, "forward", out, f(x, w1, w2)), f(x, w1, w2))
    try:
        dx = _call(f"{name} backward", seq.backward, g.clone())
    except RuntimeError as error:  # a layer got a gradient of another layer's shape
        raise CheckFailed(
            f"{name}: backward failed ({error}); it must run the layers last to first, "
            "passing each layer's result to the layer before it"
        ) from None
    if [c for layer in layers for c in layer.calls].count("backward") != 3:
        raise CheckFailed(f"{name}: backward must call every layer's backward once")
    if layers[0].calls[-1] == "backward" and layers[2].calls[-1] == "forward":
        raise CheckFailed(f"{name}: backward did not run through all the layers")
    want = _autograd(f, [x, w1, w2], g)
    if not isinstance(dx, Tensor) or dx.shape != x.shape:
        raise CheckFailed(
            f"{name}: backward must return dL/dx with the input's shape {tuple(x.shape)}"
            + (
                " (did it run the layers in forward order? backward goes last to first)"
                if isinstance(dx, Tensor)
                else ""
            )
        )
    _values(name, "dL/dx", dx, want[0])
    _values(name, "the first layer's dL/dW", layers[0].grad_w, want[1])
    _values(name, "the last layer's dL/dW", layers[2].grad_w, want[2])
    print(f"{name}: correct (backward runs the layers last to first and chains the gradient)")


def check_sgd(make: Callable[[list[minidl.Parameter], float, float], Any]) -> None:
    """make(params, lr, momentum) -> an optimizer with step(); 5 steps vs torch.optim.SGD."""
    name = "SGD"
    gen = torch.Generator().manual_seed(14)
    for momentum in (0.0, 0.9):
        start = [_randn(gen, 3, 2), _randn(gen, 3)]
        grads = [[_randn(gen, *p.shape) for p in start] for _ in range(5)]
        params = [minidl.Parameter(p.clone()) for p in start]
        opt = _call(name, make, params, 0.1, momentum)
        ref = [p.clone() for p in start]
        with torch.enable_grad():
            leaves = [p.clone().requires_grad_(True) for p in start]
            torch_opt = torch.optim.SGD(leaves, lr=0.1, momentum=momentum)
            for step, gs in enumerate(grads):
                for p, g in zip(params, gs, strict=True):
                    p.grad.copy_(g)
                _call(f"{name} step", opt.step)
                for leaf, g in zip(leaves, gs, strict=True):
                    leaf.grad = g.clone()
                torch_opt.step()
                got = [p.value for p in params]
                want = [leaf.detach() for leaf in leaves]
                if not all(_close(a, b) for a, b in zip(got, want, strict=True)):
                    if step == 0 and all(
                        _close(a, r + 0.1 * g) for a, r, g in zip(got, ref, gs, strict=True)
                    ):
                        raise CheckFailed(f"{name}: step moves up the gradient; p <- p - lr v")
                    if step == 0 and all(_close(a, r) for a, r in zip(got, ref, strict=True)):
                        raise CheckFailed(
                            f"{name}: step did not change the parameters: update p.value in "
                            "place (p.value.sub_(lr * v)); assigning to a name changes nothing"
                        )
                    if step == 0 and all(
                        _close(a, r - 0.1 * (1 - momentum) * g)
                        for a, r, g in zip(got, ref, gs, strict=True)
                    ):
                        raise CheckFailed(
                            f"{name}: the first step is (1 - momentum) times too short: that is "
                            "the moving-average convention; here v <- momentum v + g"
                        )
                    if momentum and step > 0:
                        raise CheckFailed(
                            f"{name}: right at step 1, wrong at step {step + 1} with momentum "
                            f"{momentum}: is the velocity v <- momentum v + g kept between steps?"
                        )
                    raise CheckFailed(
                        f"{name}: wrong parameters after step {step + 1} (momentum {momentum})"
                    )
    print(f"{name}: correct (5 steps equal torch.optim.SGD, with and without momentum)")


def check_batched_linear(fn: Callable[[Tensor, Tensor, Tensor], Any]) -> None:
    """fn(X (R, B, in), W (R, out, in), b (R, out)) -> Y (R, B, out): R networks at once."""
    name = "batched linear"
    gen = torch.Generator().manual_seed(15)
    r, batch, n_in, n_out = 3, 5, 4, 2
    x, w, b = _randn(gen, r, batch, n_in), _randn(gen, r, n_out, n_in), _randn(gen, r, n_out)
    want = torch.stack([x[i] @ w[i].T + b[i] for i in range(r)])
    y = _shape(name, "Y", _call(name, fn, x, w, b), want, "(R, B, out)")
    if _close(y, torch.stack([x[i] @ w[0].T + b[0] for i in range(r)])) and r > 1:
        raise CheckFailed(f"{name}: every replica used the first replica's weights")
    _values(name, "Y", y, want)
    print(f"{name}: correct (each replica r computes X[r] W[r]^T + b[r])")


# Notebooks 05-08 ------------------------------------------------------------------------------
# Seeded mistakes for each check: tests/test_selfcheck_05_08.py.


class _History:
    """A made-up training History for check_restart_rule: one loss and error per epoch."""

    def __init__(self, loss: list[float], train_error: list[float]) -> None:
        self.loss, self.train_error = (
            torch.tensor(loss, dtype=F64),
            torch.tensor(train_error, dtype=F64),
        )


class _Rule:
    """The restart rule's three settings, as minidl.train.RestartRule names them."""

    def __init__(self, start: int, tol: float, max_error: float) -> None:
        self.start, self.tol, self.max_error = start, tol, max_error


def check_two_layer_backward(fn: Callable[..., Any]) -> None:
    """fn(x, t, w1, b1, w2, b2) -> (loss, {"w1", "b1", "w2", "b2", "x": gradients}).

    The network x -> Linear(w1, b1) -> ReLU -> Linear(w2, b2) -> MSE, against torch.autograd.
    The verdict names the first gradient, in backward order, that is wrong, and why.
    """
    name = "two-layer backward"
    gen = torch.Generator().manual_seed(21)
    batch, n_in, hidden, n_out = 6, 3, 5, 2  # all different, so a transpose cannot hide
    x, t = _randn(gen, batch, n_in), _randn(gen, batch, n_out)
    w1, b1 = _randn(gen, hidden, n_in), _randn(gen, hidden)
    w2, b2 = _randn(gen, n_out, hidden), _randn(gen, n_out)
    got = _call(name, fn, x.clone(), t.clone(), w1.clone(), b1.clone(), w2.clone(), b2.clone())
    keys = ("w2", "b2", "w1", "b1", "x")  # backward order
    if not (isinstance(got, (tuple, list)) and len(got) == 2 and isinstance(got[1], dict)):
        raise CheckFailed(f"{name}: return (loss, a dict of the gradients {', '.join(keys)})")
    loss, grads = got
    missing = [k for k in keys if k not in grads]
    if missing:
        raise CheckFailed(f"{name}: the gradient dict lacks {', '.join(missing)}")

    def net(x_: Tensor, w1_: Tensor, b1_: Tensor, w2_: Tensor, b2_: Tensor) -> Tensor:
        return (x_ @ w1_.T + b1_).clamp(min=0) @ w2_.T + b2_

    with torch.enable_grad():
        leaves = [v.clone().requires_grad_(True) for v in (x, w1, b1, w2, b2)]
        ref_loss = ((net(*leaves) - t) ** 2).mean()
        ref = dict(zip(("x", "w1", "b1", "w2", "b2"), torch.autograd.grad(ref_loss, leaves)))
    got_loss = torch.as_tensor(loss, dtype=F64).reshape(())
    _values(name, "the loss", got_loss, ref_loss.detach())
    params = {"x": x, "w1": w1, "b1": b1, "w2": w2, "b2": b2}
    for k in keys:
        g = grads[k]
        if isinstance(g, Tensor) and g.shape != params[k].shape:
            if g.ndim == 2 and g.shape == params[k].T.shape:
                raise CheckFailed(
                    f"{name}: dL/d{k} has shape {tuple(g.shape)}, the shape of {k}^T: "
                    "a weight gradient is G^T (layer input), of the weight's shape"
                )
            if k.startswith("b") and g.numel() == 1:
                raise CheckFailed(
                    f"{name}: dL/d{k} is one number (summed over the batch AND the outputs); "
                    "each bias gets the sum over the batch only: G.sum(0)"
                )
            if k.startswith("b") and g.shape == (batch,):
                raise CheckFailed(
                    f"{name}: dL/d{k} has shape ({batch},): summed over the outputs "
                    "instead of the batch (G.sum(0))"
                )
        grads[k] = _shape(name, f"dL/d{k}", g, ref[k], f"like {k}")
    # One factor on every gradient: the MSE gradient dL/d(out) is off.
    numel = batch * n_out
    for factor, hint in [
        (numel, "not divided by the number of entries (the MSE is a mean over out.numel())"),
        (n_out, "divided by the batch size only; the MSE averages every entry of out"),
        (0.5, "missing the factor 2 of the square"),
        (-1.0, "of the wrong sign: it is 2 (out - t) / out.numel()"),
    ]:
        if all(_close(grads[k], factor * ref[k]) for k in keys):
            raise CheckFailed(f"{name}: every gradient is off by one factor: dL/d(out) is {hint}")
    # The second layer.
    h1 = x @ w1.T + b1
    a1 = h1.clamp(min=0)
    g_out = 2 * (a1 @ w2.T + b2 - t) / numel
    if _close(grads["w2"], g_out.T @ h1) and not _close(g_out.T @ h1, ref["w2"]):
        raise CheckFailed(
            f"{name}: dL/dw2 uses h1, the ReLU's input; the second layer's input is a1 = relu(h1)"
        )
    _values(name, "dL/dw2", grads["w2"], ref["w2"])
    _values(name, "dL/db2", grads["b2"], ref["b2"])
    # Back through the ReLU: the second layer is right, so the mistake is from here on.
    g_a1 = g_out @ w2
    for g_h1, hint in [
        (g_a1, "the ReLU's mask is missing: g_h1 = g_a1 * (h1 > 0)"),
        (g_a1 * (h1 <= 0), "the ReLU's mask is inverted: keep g_a1 where h1 > 0"),
    ]:
        if _close(grads["w1"], g_h1.T @ x) or _close(grads["b1"], g_h1.sum(0)):
            raise CheckFailed(f"{name}: dL/dw2 and dL/db2 are right, but {hint}")
    for k in ("w1", "b1"):
        if not _close(grads[k], ref[k]):
            raise CheckFailed(
                f"{name}: dL/dw2 and dL/db2 are right, dL/d{k} is wrong: check the step "
                "back through the ReLU (g_h1 = (g_out @ w2) * (h1 > 0)), then the first layer"
            )
    if not _close(grads["x"], ref["x"]):
        raise CheckFailed(f"{name}: every parameter gradient is right, dL/dx is wrong: g_h1 @ w1")
    print(f"{name}: correct (the loss and the five gradients agree with torch.autograd)")


def _snapshot(params: Sequence[minidl.Parameter]) -> list[Tensor]:
    return [p.value.detach().clone().to(F64) for p in params]


def _same(a: Sequence[Tensor], b: Sequence[Tensor]) -> bool:
    return all(_close(x, y) for x, y in zip(a, b, strict=True))


def check_train_step(fn: Callable[..., Any]) -> None:
    """fn(model, loss_fn, optimizer, xb, yb) -> the batch loss, after one SGD step.

    Three calls on three batches of a small minidl network with MSELoss and SGD with momentum,
    against the same steps taken by torch.autograd and torch.optim.SGD. The verdict names a
    step in the wrong order or a gradient not cleared between steps.
    """
    name = "training step"
    gen = torch.Generator().manual_seed(22)
    model = minidl.Sequential(
        minidl.Linear(3, 4, "tanh", generator=gen, dtype=F64, bias_std=1.0),
        minidl.Tanh(),
        minidl.Linear(4, 1, "sigmoid", generator=gen, dtype=F64, bias_std=1.0),
        minidl.Sigmoid(),
    )
    lr, momentum = 0.5, 0.5
    batches = [
        (_randn(gen, 6, 3), (torch.rand((6, 1), generator=gen, dtype=F64) > 0.5).to(F64))
        for _ in range(3)
    ]
    params = model.params()
    start = _snapshot(params)

    def simulate(order: str) -> tuple[list[list[Tensor]], list[float]]:
        """The parameters after each call and the batch losses, steps taken by torch."""
        path, losses = [], []
        with torch.enable_grad():
            leaves = [p.clone().requires_grad_(True) for p in start]
            opt = torch.optim.SGD(leaves, lr=lr, momentum=momentum)
            for xb, yb in batches:
                w1, b1, w2, b2 = leaves
                out = torch.sigmoid(torch.tanh(xb @ w1.T + b1) @ w2.T + b2)
                loss = ((out - yb) ** 2).mean()
                grads = torch.autograd.grad(loss, leaves)  # what backward() would add

                def backward(grads: Sequence[Tensor] = grads) -> None:
                    for leaf, g in zip(leaves, grads, strict=True):
                        leaf.grad = g.clone() if leaf.grad is None else leaf.grad + g

                if order == "right":
                    opt.zero_grad()
                    backward()
                    opt.step()
                else:  # "not zeroed"
                    backward()
                    opt.step()
                path.append([leaf.detach().clone() for leaf in leaves])
                losses.append(loss.item())
        return path, losses

    optimizer = minidl.SGD(params, lr, momentum)
    got_path, got_losses = [], []
    for xb, yb in batches:
        got_losses.append(_call(name, fn, model, minidl.MSELoss(), optimizer, xb, yb))
        got_path.append(_snapshot(params))
    right, right_losses = simulate("right")
    if not all(_same(a, b) for a, b in zip(got_path, right, strict=True)):
        if all(_same(a, b) for a, b in zip(got_path, simulate("not zeroed")[0], strict=True)):
            raise CheckFailed(
                f"{name}: gradients not zeroed between steps: each step used the sum of this "
                "and every earlier batch's gradient (backward accumulates); call "
                "optimizer.zero_grad() before model.backward(...)"
            )
        if _same(got_path[0], start) and not _same(got_path[-1], start):
            raise CheckFailed(
                f"{name}: the first step did not move the parameters, later ones did: step() "
                "ran before backward, so each step used the previous batch's gradient; the "
                "order is forward, loss, zero_grad, backward, step"
            )
        if all(_same(a, start) for a in got_path):
            raise CheckFailed(
                f"{name}: the parameters never moved: call optimizer.step() after "
                "model.backward(loss_fn.backward()), and zero the gradients before backward, "
                "not between backward and step"
            )
        bad = next(
            k for k, (a, b) in enumerate(zip(got_path, right, strict=True)) if not _same(a, b)
        )
        raise CheckFailed(
            f"{name}: wrong parameters after step {bad + 1} (one forward, loss, zero_grad, "
            "backward with loss_fn.backward(), step per call)"
        )
    for k, (value, want) in enumerate(zip(got_losses, right_losses, strict=True)):
        if value is None:
            raise CheckFailed(f"{name}: return the batch loss (the value loss_fn returned)")
        got_value = torch.as_tensor(value, dtype=F64).reshape(())
        if not _close(got_value, torch.tensor(want, dtype=F64)):
            raise CheckFailed(
                f"{name}: the loss returned by call {k + 1} is not the batch loss before "
                "the step (return what loss_fn(model(xb), yb) gave)"
            )
    print(f"{name}: correct (3 steps equal torch.autograd + torch.optim.SGD on the same batches)")


def check_batches(fn: Callable[[int, int, torch.Generator], Any]) -> None:
    """fn(n, batch_size, generator) -> one epoch's index batches.

    Two calls (two epochs) with one generator must give permutation(n, generator=generator)
    cut into batches of batch_size, the last one shorter: the order train() draws.
    """
    name = "batches"
    n, size = 23, 5
    gen = torch.Generator().manual_seed(23)
    epochs = [list(_call(name, fn, n, size, gen)) for _ in range(2)]
    for batches in epochs:
        for b in batches:
            if not isinstance(b, Tensor) or b.is_floating_point() or b.ndim != 1:
                raise CheckFailed(
                    f"{name}: each batch should be a 1-d tensor of indices, got "
                    + (
                        f"{b.dtype} of shape {tuple(b.shape)}"
                        if isinstance(b, Tensor)
                        else type(b).__name__
                    )
                )
    ref_gen = torch.Generator().manual_seed(23)
    want = [minidl.data.permutation(n, generator=ref_gen) for _ in range(2)]
    sizes = [len(b) for b in epochs[0]]
    want_sizes = [len(range(s, min(s + size, n))) for s in range(0, n, size)]
    order = torch.cat(epochs[0]) if epochs[0] else torch.empty(0, dtype=torch.long)
    if sizes == want_sizes[:-1]:
        raise CheckFailed(
            f"{name}: the last, shorter batch ({n % size} of {n} points) is missing: an epoch "
            "visits every point (range(0, n, batch_size) keeps the remainder)"
        )
    if sorted(order.tolist()) != list(range(n)):
        raise CheckFailed(f"{name}: an epoch must visit each of the {n} points exactly once")
    if sizes != want_sizes:
        raise CheckFailed(
            f"{name}: batch sizes {sizes} for n={n}, batch_size={size}; expected {want_sizes}"
        )
    if order.tolist() == list(range(n)):
        raise CheckFailed(
            f"{name}: no shuffle: the batches take the points in their stored order; draw "
            "permutation(n, generator=generator) at the start of each epoch"
        )
    second = torch.cat(epochs[1])
    if torch.equal(order, second):
        raise CheckFailed(
            f"{name}: two epochs had the same order: draw a fresh permutation every epoch, "
            "from the generator passed in"
        )
    if not (torch.equal(order, want[0]) and torch.equal(second, want[1])):
        raise CheckFailed(
            f"{name}: the order is not permutation(n, generator=generator) (minidl.data): "
            "the inline loop must draw what train() draws to end on its parameters"
        )
    print(f"{name}: correct (a fresh permutation per epoch, cut into batches, the last shorter)")


def check_restart_rule(fn: Callable[[Any, Any], Any]) -> None:
    """fn(history, rule) -> the epochs (numbered from 1) at whose end the rule redraws.

    history has .loss and .train_error, one value per epoch; rule has .start, .tol and
    .max_error. A redraw at epoch e needs e > start, |L_e - L_(e-1)| < tol and
    train_error_e > max_error; after a redraw the previous loss counts as +inf.
    """
    name = "restart rule"
    rule = _Rule(start=3, tol=1e-3, max_error=0.4)
    # epoch:   1     2     3     4      5       6      7      8      9     10
    loss = [0.30, 0.30, 0.30, 0.30, 0.3002, 0.3005, 0.28, 0.20, 0.10, 0.1004]
    error = [0.50, 0.50, 0.50, 0.50, 0.50, 0.50, 0.45, 0.45, 0.10, 0.10]
    hist = _History(loss, error)
    want = [4, 6]
    result = _call(name, fn, hist, rule)
    try:
        got = sorted(int(e) for e in result)
    except TypeError:
        raise CheckFailed(
            f"{name}: return the list of epochs (numbered from 1), got {type(result).__name__}"
        ) from None
    if got == want:
        print(
            f"{name}: correct (judged only after `start` epochs, on a flat loss AND a high "
            "error; a redrawn network gets one epoch)"
        )
        return
    early = [e for e in got if e <= rule.start]
    if early:
        raise CheckFailed(
            f"{name}: redrew at the end of epoch {early[0]}, but the first start={rule.start} "
            "epochs are never judged (the rule needs e > start)"
        )
    if 8 in got:
        raise CheckFailed(
            f"{name}: redrew at epoch 8, where the loss fell by 0.08: the change must be "
            "absolute, |L_e - L_(e-1)| < tol (a falling loss is not flat)"
        )
    if 10 in got:
        raise CheckFailed(
            f"{name}: redrew at epoch 10, whose loss is flat but whose error (10 %) is below "
            "max_error: the rule needs both a flat loss and a high error"
        )
    if 5 in got or 7 in got:
        after = 5 if 5 in got else 7
        raise CheckFailed(
            f"{name}: redrew at epoch {after}, right after a redraw: after a redraw set the "
            "previous loss to +inf, so a fresh network gets one epoch before it is judged"
        )
    missed = [e for e in want if e not in got]
    if missed:
        raise CheckFailed(
            f"{name}: missed epoch {missed[0]}: e > start, its loss changed by less than tol "
            "and its error is above max_error"
        )
    raise CheckFailed(f"{name}: redrew at epochs {got}, expected {want}")


def check_batched_linear_backward(fn: Callable[[Tensor, Tensor, Tensor], Any]) -> None:
    """fn(X (R, B, in), W (R, out, in), G (R, B, out)) -> (dL/dW, dL/db, dL/dX), per replica."""
    name = "batched linear backward"
    gen = torch.Generator().manual_seed(24)
    r, batch, n_in, n_out = 3, 5, 4, 2
    x, w, g = (
        _randn(gen, r, batch, n_in),
        _randn(gen, r, n_out, n_in),
        _randn(gen, r, batch, n_out),
    )
    got = _call(name, fn, x.clone(), w.clone(), g.clone())
    if not isinstance(got, (tuple, list)) or len(got) != 3:
        raise CheckFailed(f"{name}: return the three gradients (dL/dW, dL/db, dL/dX)")
    dw, db, dx = got
    want_dw = torch.stack([g[i].T @ x[i] for i in range(r)])
    want_db = torch.stack([g[i].sum(0) for i in range(r)])
    want_dx = torch.stack([g[i] @ w[i] for i in range(r)])
    if isinstance(dw, Tensor) and dw.shape == (n_out, n_in):
        raise CheckFailed(
            f"{name}: dL/dW has shape {tuple(dw.shape)}: summed over the replicas; each "
            f"replica keeps its own gradient, shape (R, out, in) = {tuple(want_dw.shape)}"
        )
    if isinstance(dw, Tensor) and dw.shape == (r, n_in, n_out):
        raise CheckFailed(
            f"{name}: dL/dW has shape {tuple(dw.shape)}, each slice W_r^T: use G_r^T X_r "
            "(g.transpose(1, 2).bmm(x))"
        )
    if isinstance(db, Tensor) and db.shape == (n_out,):
        raise CheckFailed(
            f"{name}: dL/db has shape ({n_out},): summed over the replicas as well as the "
            "batch; sum over the batch (dimension 1) only"
        )
    if isinstance(db, Tensor) and db.shape == (batch, n_out):
        raise CheckFailed(
            f"{name}: dL/db has shape {tuple(db.shape)}: summed over the replicas (dimension 0) "
            "instead of the batch (dimension 1)"
        )
    if isinstance(db, Tensor) and db.shape == (r, batch):
        raise CheckFailed(
            f"{name}: dL/db has shape {tuple(db.shape)}: summed over the outputs instead of "
            "the batch (dimension 1)"
        )
    dw = _shape(name, "dL/dW", dw, want_dw, "(R, out, in), like W")
    db = _shape(name, "dL/db", db, want_db, "(R, out), like b")
    dx = _shape(name, "dL/dX", dx, want_dx, "(R, B, in), like X")
    for what, value, want in (
        ("dL/dW", dw, want_dw),
        ("dL/db", db, want_db),
        ("dL/dX", dx, want_dx),
    ):
        wrong = [i for i in range(r) if not _close(value[i], want[i])]
        if wrong == list(range(1, r)):
            raise CheckFailed(
                f"{name}: {what} is right for replica 0 only: replicas mixed, the others "
                "used replica 0's tensors (every replica must use its own slice)"
            )
        if wrong:
            mixed = _close(value[wrong[0]], want.sum(0))
            raise CheckFailed(
                f"{name}: {what} is wrong for replica {wrong[0]}"
                + (": it is the sum over all replicas (replicas mixed)" if mixed else "")
            )
    print(f"{name}: correct (each replica r gets G_r^T X_r, the batch sum of G_r, G_r W_r)")


def check_replica_loss(fn: Callable[[Tensor, Tensor], Any]) -> None:
    """fn(P (R, B, k), T (R, B, k)) -> (the R losses, d(sum_r L_r)/dP), L_r the MSE of replica r."""
    name = "replica loss"
    gen = torch.Generator().manual_seed(25)
    r, batch, k = 3, 4, 2
    p, t = _randn(gen, r, batch, k), _randn(gen, r, batch, k)
    got = _call(name, fn, p.clone(), t.clone())
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        raise CheckFailed(f"{name}: return (the R losses, the gradient of their sum)")
    losses, grad = got
    with torch.enable_grad():
        leaf = p.clone().requires_grad_(True)
        want_losses = ((leaf - t) ** 2).mean(dim=(1, 2))
        (want_grad,) = torch.autograd.grad(want_losses.sum(), leaf)
    want_losses = want_losses.detach()
    if isinstance(losses, Tensor) and losses.numel() == 1:
        raise CheckFailed(
            f"{name}: one loss for all replicas: average over the last two dimensions "
            f"(batch and features) only, one loss per replica, shape ({r},)"
        )
    losses = _shape(name, "the losses", losses, want_losses, "one per replica: (R,)")
    if _close(losses, want_losses * batch * k):
        raise CheckFailed(f"{name}: the losses are sums; each is a mean over B k entries")
    _values(name, "the losses", losses, want_losses)
    grad = _shape(name, "the gradient", grad, want_grad, "like P: (R, B, k)")
    for factor, hint in [
        (
            1 / r,
            "R times too small: it is the gradient of the MEAN over replicas, which "
            "trains each with lr / R; backward starts from the sum (divide by B k, not by "
            "P.numel())",
        ),
        (batch * k, "not divided by the number of entries of each replica (B k)"),
        (0.5, "missing the factor 2 of the square"),
        (-1.0, "of the wrong sign"),
    ]:
        if _close(grad, factor * want_grad):
            raise CheckFailed(f"{name}: the gradient is {hint}")
    _values(name, "the gradient", grad, want_grad)
    print(f"{name}: correct (one mean per replica; the gradient of their sum)")


# Notebooks 00-04 ---------------------------------------------------------------------------


def check_disk_labels(fn: Callable[[Tensor], Any]) -> None:
    """fn(x) -> labels (n, 1), float 1.0 inside the disk of centre (1/2, 1/2) and radius
    1/sqrt(2 pi), else 0.0, for points x (n, 2): the labels of minidl.data.disk_dataset."""
    import minidl.data

    name = "disk labels"
    n = 2000
    x, want = minidl.data.disk_dataset(n, generator=torch.Generator().manual_seed(16))
    got = _call(name, fn, x.clone())
    if isinstance(got, Tensor) and got.shape == (n,):
        raise CheckFailed(
            f"{name}: labels have shape ({n},), expected ({n}, 1): one column, like "
            "minidl.data.disk_dataset (keepdim=True)"
        )
    if isinstance(got, Tensor) and not got.dtype.is_floating_point:
        raise CheckFailed(f"{name}: labels have dtype {got.dtype}; use float 0.0/1.0 (.float())")
    got = _shape(name, "the labels", got, want, "one label per point, in one column")
    if not bool(((got == 0) | (got == 1)).all()):
        raise CheckFailed(f"{name}: labels must be 0.0 or 1.0")
    r, sq = minidl.data.RADIUS, (x.double() - 0.5).square().sum(-1, keepdim=True)
    margin = (sq.sqrt() - r).abs() > 1e-6  # points on the circle up to rounding may go either way
    wrong = int((got != want)[margin].sum())
    if not wrong:
        print(f"{name}: correct (the labels of minidl.data.disk_dataset on {n:,} points)")
        return
    for labels, hint in [
        (1 - want, "inverted: label 1 is INSIDE the disk"),
        (
            x.double().square().sum(-1, keepdim=True) < r**2,
            "centred at the origin, not (1/2, 1/2)",
        ),
        (sq < r, "from the squared distance compared with r: compare it with r^2"),
        (sq.sqrt() < r**2, "from the distance compared with r^2: compare it with r"),
        (sq < 0.25, "for radius 1/2: the radius is 1/sqrt(2 pi)"),
    ]:
        if bool((got == labels.to(got.dtype))[margin].all()):
            raise CheckFailed(f"{name}: the labels are {hint}")
    raise CheckFailed(f"{name}: {wrong} of {n} labels differ from minidl.data.disk_dataset's")


def check_linear_layer(
    make: Callable[[Tensor, Tensor], Any],
    *,
    accumulates: bool = False,
    grads: tuple[str, str] = ("w_grad", "b_grad"),
) -> None:
    """make(W, b) -> a layer: layer(X) = X W^T + b, storing X; layer.backward(G) returns dL/dX
    and stores dL/dW and dL/db in the attributes named by grads (adds to them: accumulates)."""
    name = getattr(make, "__name__", "linear layer")

    def run(x: Tensor, w: Tensor, b: Tensor, g: Tensor) -> tuple[Any, Any, Any]:
        layer = _call(name, make, w.clone(), b.clone())
        want_y = x @ w.T + b
        y = _shape(name, "forward's Y", _call(f"{name} forward", layer, x.clone()), want_y)
        if _close(y, x @ w.T):
            raise CheckFailed(f"{name}: forward's Y is X W^T without the bias b")
        _values(name, "forward's Y", y, want_y)
        try:
            dx = _call(f"{name} backward", layer.backward, g.clone())
        except AttributeError as error:
            raise CheckFailed(
                f"{name}: backward failed ({error}); forward must store its input "
                "(self.x = x): backward needs X for dL/dW"
            ) from None
        found = [getattr(layer, attr, None) for attr in grads]
        if any(v is None for v in found):
            raise CheckFailed(
                f"{name}: backward must leave dL/dW in self.{grads[0]} and dL/db in "
                f"self.{grads[1]}"
            )
        dw, db = (v.clone() if isinstance(v, Tensor) else v for v in found)
        right = [g.T @ x, g.sum(0)]
        kept = any(isinstance(v, Tensor) and _close(v, x) for v in vars(layer).values())
        if (
            isinstance(dw, Tensor)
            and dw.shape == right[0].shape
            and not (_close(dw, right[0]) or kept)
        ):
            raise CheckFailed(
                f"{name}: dL/dW is wrong, and the layer kept no copy of its input: forward "
                "must store X (self.x = x), and backward use it for dL/dW = G^T X"
            )
        if accumulates and all(
            isinstance(v, Tensor) and _close(v, r) for v, r in zip(found, right)
        ):
            _call(f"{name} backward", layer.backward, g.clone())
            again = [getattr(layer, attr) for attr in grads]
            if any(_close(a, r) for a, r in zip(again, right)):
                raise CheckFailed(
                    f"{name}: a second backward overwrote the gradients instead of adding to "
                    "them: use += (contributions of several paths or batches add up)"
                )
            if not all(_close(a, 2 * r) for a, r in zip(again, right)):
                raise CheckFailed(f"{name}: a second backward should double the gradients")
            if callable(getattr(layer, "zero_grad", None)):
                layer.zero_grad()
                if not all(bool((getattr(layer, attr) == 0).all()) for attr in grads):
                    raise CheckFailed(f"{name}: zero_grad() left non-zero gradients")
        return dx, dw, db

    _linear_gradients(name, run)
    extra = "; backward accumulates" if accumulates else ""
    print(f"{name}: correct (Y = X W^T + b; dL/dX, dL/dW, dL/db agree with torch.autograd{extra})")


def _number(name: str, what: str, got: Any) -> float:
    if isinstance(got, Tensor):
        if got.numel() != 1:
            raise CheckFailed(f"{name}: {what} should be one number, got shape {tuple(got.shape)}")
        got = got.item()
    if not isinstance(got, (int, float)):
        raise CheckFailed(f"{name}: {what} should be a number, got {type(got).__name__}")
    return float(got)


def check_gain(fn: Callable[[Callable[[Tensor], Tensor], Tensor], Any]) -> None:
    """fn(f, z) -> the gain 1/sqrt(E[f(z)^2]), estimated on the sample z ~ N(0, 1)."""
    name = "gain"
    z = torch.empty(100_000, dtype=F64).normal_(generator=torch.Generator().manual_seed(17))
    cases: list[tuple[str, Callable[[Tensor], Tensor]]] = [
        ("relu", REFERENCES["relu"]),
        ("tanh", torch.tanh),
        ("elu", REFERENCES["elu"]),
        ("identity", lambda t: t),
    ]
    for label, f in cases:
        got = _number(name, f"fn(f, z) for {label}", _call(name, fn, f, z.clone()))
        second, fz = f(z).square().mean().item(), f(z)
        want = 1 / math.sqrt(second)
        if math.isclose(got, want, rel_tol=1e-9):
            continue
        for value, hint in [
            (math.sqrt(second), "the result is sqrt(E[f(z)^2]); the gain is its inverse"),
            (1 / second, "the result is 1/E[f(z)^2]; the square root is missing"),
            (1 / math.sqrt(fz.var().item()), "the result comes from the variance (or standard "
             "deviation) of f(z), not its second moment E[f(z)^2] (f(z) need not have mean 0: "
             "think of ReLU)"),
            (1 / math.sqrt(abs(fz.mean().item())),
             "the result comes from E[f(z)]: square f(z) first"),
        ]:  # fmt: skip
            if math.isclose(got, value, rel_tol=1e-6):
                raise CheckFailed(f"{name}: for {label}, {hint}")
        raise CheckFailed(f"{name}: wrong for {label} (got {got:.4g}, expected {want:.4g})")
    print(f"{name}: correct (1/sqrt(E[f(z)^2]) for ReLU, tanh, ELU and the identity)")


def _normal_integral(h: Callable[[Tensor], Tensor], lo: float, hi: float) -> float:
    """E[h(z); lo < z < hi] for z ~ N(0, 1), by Simpson's rule on 400,001 points."""
    z = torch.linspace(lo, hi, 400_001, dtype=F64)
    y = h(z) * (-(z**2) / 2).exp() / math.sqrt(2 * math.pi)
    step = (hi - lo) / (z.numel() - 1)
    return float((y[0] + y[-1] + 4 * y[1:-1:2].sum() + 2 * y[2:-1:2].sum()).item() * step / 3)


def _phi(t: float) -> float:
    """The standard normal distribution function."""
    return 0.5 * math.erfc(-t / math.sqrt(2))


def check_elu_second_moment(fn: Callable[[float], Any], *, derivative: bool = False) -> None:
    """fn(alpha) -> E[elu(z)^2] (derivative: E[elu'(z)^2]) for z ~ N(0, 1), in closed form,
    against numerical integration, for alpha from 0 (ReLU) to SELU's 1.6733."""
    what = "E[elu'(z)^2]" if derivative else "E[elu(z)^2]"
    name = f"{what} in closed form"

    def integral(alpha: float) -> float:
        def neg(z: Tensor) -> Tensor:
            return (alpha * z.exp()) ** 2 if derivative else (alpha * z.expm1()) ** 2

        return 0.5 + _normal_integral(neg, -40.0, 0.0)  # 1/2 from z > 0, as for ReLU

    for alpha in (0.0, 0.2, 1.0, 1.6733):
        got = _number(name, f"fn({alpha})", _call(name, fn, alpha))
        want = integral(alpha)
        if math.isclose(got, want, rel_tol=1e-8):
            continue
        if alpha == 0.0:
            raise CheckFailed(f"{name}: wrong at alpha = 0, where ELU is ReLU and {what} = 1/2")
        a2 = alpha**2
        if derivative:
            hints = [
                (0.5 + a2 * math.e**2 * _phi(2.0), "Phi(t) where Phi(-t) belongs (z < 0)"),
                (0.5 + alpha * math.e**2 * _phi(-2.0), "alpha where alpha^2 belongs"),
                (0.5 + a2 / 2, "missing the factor e^(2z): elu'(z) = alpha e^z for z < 0"),
            ]
        else:
            e2, e1 = math.e**2 * _phi(-2.0), math.exp(0.5) * _phi(-1.0)
            hints = [
                (0.5 + a2 * (math.e**2 * _phi(2.0) - 2 * math.exp(0.5) * _phi(1.0) + 0.5),
                 "Phi(t) where Phi(-t) belongs (the integral runs over z < 0)"),
                (0.5 + a2 * (e2 - 2 * e1), "missing alpha^2 P(z < 0) = alpha^2/2 from "
                 "(e^z - 1)^2 = e^(2z) - 2 e^z + 1"),
                (0.5 + a2 * (e2 - e1 + 0.5), "missing the factor 2 of the cross term -2 e^z"),
                (0.5 + alpha * (e2 - 2 * e1 + 0.5), "alpha where alpha^2 belongs"),
            ]  # fmt: skip
        for value, hint in hints:
            if math.isclose(got, value, rel_tol=1e-6):
                raise CheckFailed(f"{name}: at alpha = {alpha}, {hint}")
        raise CheckFailed(
            f"{name}: right at alpha = 0 but wrong at alpha = {alpha} "
            f"(got {got:.6g}, expected {want:.6g}): check the alpha^2 term"
        )
    print(f"{name}: correct (agrees with numerical integration for alpha from 0 to 1.6733)")


class _Stateless:
    """A loss object built from two free functions, loss(p, t) and grad(p, t)."""

    def __init__(self, loss: Callable[[Tensor, Tensor], Any], grad: Callable[..., Any]) -> None:
        self.loss, self.grad = loss, grad
        self.p, self.t = torch.empty(0), torch.empty(0)

    def __call__(self, p: Tensor, t: Tensor) -> Any:
        self.p, self.t = p, t
        return self.loss(p, t)

    def backward(self) -> Any:
        return self.grad(self.p, self.t)


def check_loss_functions(
    name: str,
    loss: Callable[[Tensor, Tensor], Any],
    grad: Callable[[Tensor, Tensor], Any],
    reference: str,
) -> None:
    """Free functions loss(p, t) and grad(p, t) = dL/dp, checked like check_loss's objects."""
    check_loss(name, lambda: _Stateless(loss, grad), reference)


def check_logit_gradient(name: str, fn: Callable[[Tensor, Tensor], Any], loss: str) -> None:
    """fn(z, t) -> dL/dz for L = loss(sigmoid(z), t), loss "bce" or "mse" (mean over every
    entry): BCE after a sigmoid gives (p - t)/N, MSE after a sigmoid 2 (p - t) p (1 - p)/N."""
    if loss not in ("bce", "mse"):
        raise ValueError(f"check_logit_gradient: loss must be 'bce' or 'mse', got {loss!r}")
    gen = torch.Generator().manual_seed(18)
    z = 3 * _randn(gen, 6, 2)
    t = torch.rand((6, 2), generator=gen, dtype=F64).round()

    def ref(z_: Tensor) -> Tensor:
        p_ = z_.sigmoid()
        if loss == "mse":
            return ((p_ - t) ** 2).mean()
        return -(t * p_.log() + (1 - t) * (1 - p_).log()).mean()

    (want,) = _autograd(ref, [z], torch.ones(()))
    got = _shape(name, "dL/dz", _call(name, fn, z.clone(), t.clone()), want, "like z")
    p, n = z.sigmoid(), z.numel()
    slope = p * (1 - p)
    hints = [
        (want * n, "not divided by N, the number of entries (the loss is a mean)"),
        (want * n / z.shape[0], "divided by the batch size only; N counts every entry"),
        (-want, "of the wrong sign: p - t, not t - p"),
    ]
    if loss == "bce":
        hints += [
            (want * slope, "multiplied by p(1 - p) once more: sigmoid's p(1 - p) cancels "
             "BCE's denominator p(1 - p), leaving (p - t)/N"),
            ((p - t) / slope / n, "dL/dp, not dL/dz: the chain rule multiplies by sigmoid's "
             "derivative p(1 - p)"),
        ]  # fmt: skip
    else:
        hints += [
            (2 * (p - t) / n, "missing sigmoid's derivative p(1 - p) (that is dL/dp)"),
            (want / 2, "missing the factor 2 of the square"),
        ]
    for value, hint in hints:
        if _close(got, value):
            raise CheckFailed(f"{name}: dL/dz is {hint}")
    _values(name, "dL/dz", got, want)
    print(f"{name}: correct (dL/dz agrees with torch.autograd through the sigmoid)")
