"""Central differences: check any module's backward against (f(x + h) - f(x - h)) / 2h.

Derived in notebooks/01_linear.ipynb; used in every notebook after it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .checks import ArgumentError, check_finite, check_number, check_tensor
from .losses import Loss
from .module import Module, link_gradient, no_saving
from .testing import unravel_index


@dataclass
class GradcheckResult:
    """ok when every entry agrees within atol + rtol |expected|; the worst entry named."""

    ok: bool
    max_abs_diff: float
    tensor: str  # where the worst entry is: "x" or "params()[i]"
    index: tuple[int, ...]
    expected: float  # its central difference
    got: float  # what backward gave
    atol: float = 1e-5
    rtol: float = 1e-4

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        """One line that reads the same on every CPU: no digits below the tolerance."""
        tolerance = f"atol={self.atol:.0e}, rtol={self.rtol:.0e}"
        if self.ok:
            return f"gradcheck ok: backward agrees with central differences within {tolerance}"
        return (
            f"gradcheck FAILED at {self.tensor}{list(self.index)}: central difference "
            f"{self.expected:.3g}, backward {self.got:.3g} (beyond {tolerance})"
        )


def gradcheck(
    module: Module,
    x: Tensor,
    target: Tensor | None = None,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-4,
    generator: torch.Generator | None = None,
    raise_on_failure: bool = False,
) -> GradcheckResult:
    """Compare backward with central differences of L = sum(u * module(x)), u random.

    Checks dL/dx and every dL/dparam, entry by entry: (L(v + eps) - L(v - eps)) / 2 eps
    against what backward gives, within atol + rtol |central difference|.

    Args:
        module: any minidl Module; for a loss, L = sum(u * loss(x, target)).
        x: the input, float64, finite, of the shape the module takes.
        target: the target of a loss module, of x's shape (None for other modules).
        eps: the step h of the central differences, > 0.
        atol: the absolute tolerance, >= 0.
        rtol: the relative tolerance, >= 0.
        generator: the torch.Generator of u (None: torch's global one).
        raise_on_failure: raise AssertionError instead of returning a failed result.

    Returns:
        A GradcheckResult, true when every entry agrees; str() of it is one line that
        reads the same on every CPU.

    Raises:
        TypeError: module is not a Module, or x or a parameter is not float64.
        ValueError: x not finite; a loss without target, or a target for another module.
        ArgumentError: a bad eps, atol or rtol.
        AssertionError: (raise_on_failure) an entry disagrees; the message names it.

    Derived in notebooks/01_linear.ipynb.
    """
    if not isinstance(module, Module):
        hint = " (the class: call it, e.g. Tanh())" if isinstance(module, type) else ""
        raise TypeError(
            f"gradcheck: module must be a minidl Module, got {type(module).__name__}{hint}"
        )
    check_tensor("gradcheck", x, "x")
    check_finite("gradcheck", x, "x")
    for arg_name, arg in (("eps", eps), ("atol", atol), ("rtol", rtol)):
        check_number("gradcheck", arg_name, arg, positive=arg_name == "eps")
    if atol < 0 or rtol < 0:
        raise ArgumentError(f"gradcheck: atol and rtol must be >= 0, got {atol!r}, {rtol!r}")
    is_loss = isinstance(module, Loss)
    if is_loss and target is None:
        raise ValueError("gradcheck: a loss module needs a target")
    if not is_loss and target is not None:
        raise ValueError(
            "gradcheck: a target is only used with a loss module; to check a network with "
            "its loss, wrap both in one module"
        )
    if any(t.dtype != torch.float64 for t in [x, *(p.value for p in module.params())]):
        raise TypeError("gradcheck: use float64 for x and the parameters (dtype=torch.float64)")
    x = x.detach().contiguous().clone()  # perturbed in place below, through a flat view

    def run() -> Tensor:
        return module(x, target) if is_loss else module(x)

    out = run()  # also saves what backward needs
    u = torch.empty(out.shape, dtype=out.dtype, device=out.device).normal_(generator=generator)
    module.zero_grad()
    tensors = [("x", x, module.backward(link_gradient(u, out)))]
    tensors += [(f"params()[{i}]", p.value, p.grad.clone()) for i, p in enumerate(module.params())]
    worst: tuple[str, tuple[int, ...], float, float] = ("x", (), 0.0, 0.0)
    worst_score, max_diff = -1.0, 0.0
    for name, value, analytic in tensors:
        flat, flat_grad = value.view(-1), analytic.reshape(-1)
        for k in range(flat.numel()):
            old = flat[k].item()
            with no_saving():  # the probes save nothing for backward
                flat[k] = old + eps
                plus = float((run() * u).sum())
                flat[k] = old - eps
                minus = float((run() * u).sum())
            flat[k] = old
            expected, got = (plus - minus) / (2 * eps), flat_grad[k].item()
            diff = abs(expected - got)
            score = diff / (atol + rtol * abs(expected))
            max_diff = max(max_diff, diff)
            if score > worst_score:
                worst_score = score
                worst = (name, tuple(unravel_index(k, value.shape)), expected, got)
    result = GradcheckResult(worst_score <= 1.0, max_diff, *worst, atol=atol, rtol=rtol)
    if raise_on_failure and not result.ok:
        raise AssertionError(str(result))
    return result
