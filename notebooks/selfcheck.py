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
    name = "linear backward"
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
    if isinstance(db, Tensor) and db.numel() == 1 and _close(db.reshape(()), g.sum()):
        raise CheckFailed(
            f"{name}: dL/db is one number, the sum of G over the batch AND the outputs; "
            "each bias gets the sum over the batch only: G.sum(0)"
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
    print(f"{name}: correct (dL/dX, dL/dW, dL/db agree with torch.autograd)")


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
