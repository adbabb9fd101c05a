"""Sequential: forward through the modules in order, backward in reverse.

Derived in notebooks/05_sequential.ipynb.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import torch
from torch import Tensor

from .checks import ArgumentError
from .module import PASSES, Module, Parameter


class Sequential(Module):
    """f = f_n o ... o f_1; backward applies the chain rule from f_n back to f_1.

    A module may appear more than once (its parameters are then listed once, and
    backward adds up the gradients of every use).

    Args:
        *modules: f_1, ..., f_n, each a minidl Module; layers with replicas must all
            have the same R.

    Raises:
        TypeError: an item is not a module (a class instead of an instance, say).
        ArgumentError: layers with different replicas, or a Linear whose gain was set
            for another ELU alpha or LeakyReLU slope than the activation after it.

    Derived in notebooks/05_sequential.ipynb.
    """

    def __init__(self, *modules: Module) -> None:
        for i, m in enumerate(modules):
            if not isinstance(m, Module):
                hint = " (the class: call it, e.g. ReLU())" if isinstance(m, type) else ""
                raise TypeError(
                    f"Sequential: item {i} must be a minidl Module, got {type(m).__name__}{hint}"
                )
        self.modules: tuple[Module, ...] = modules
        found = {(m.replicas, i) for i, m in enumerate(modules) if m.replicas is not None}
        if len({r for r, _ in found}) > 1:
            raise ArgumentError(
                "Sequential: every layer must have the same replicas; got "
                + ", ".join(
                    f"item {i}: replicas={r}" for r, i in sorted(found, key=lambda t: t[1])
                )
            )
        self.replicas = found.pop()[0] if found else None
        for i, (layer, after) in enumerate(itertools.pairwise(modules)):
            _check_gain(i, layer, after)

    def forward(self, x: Tensor) -> Tensor:
        """y = f_n(... f_2(f_1(x))), every module saving what its backward needs.

        Args:
            x: the first module's input, (batch, in) or (R, batch, in) for replicas.

        Returns:
            The last module's output, (batch, out) or (R, batch, out).

        Raises:
            ShapeError: a module refuses the shape it gets (the message names it).
            TypeError: a module refuses the dtype it gets.
        """
        outermost = PASSES.forward is None
        if outermost:
            PASSES.forward = PASSES.new()  # the modules' saved tensors carry this pass
        try:
            out = x
            for m in self.modules:
                out = m.forward(out)
            return self._save(out, x)
        finally:
            if outermost:
                PASSES.forward = None

    def backward(self, grad_output: Tensor) -> Tensor:
        """dL/dx by the chain rule: dL/dy through f_n's backward, then f_(n-1)'s, ... f_1's.

        Args:
            grad_output: dL/dy, of the output's shape.

        Returns:
            dL/dx, of the input's shape; every parameter's grad has dL/dp added.

        Raises:
            RuntimeError: backward in eval mode, or no forward to take (see Module).
        """
        grad = self._chain(grad_output, input_grad=True)
        assert grad is not None
        return grad

    def backward_params(self, grad_output: Tensor) -> None:
        """backward() without dL/dx: the first module's backward_params (a Linear skips dL/dx).

        Args:
            grad_output: dL/dy, of the output's shape.

        Raises:
            RuntimeError: backward in eval mode, or no forward to take (see Module).
        """
        self._chain(grad_output, input_grad=False)

    def _chain(self, grad_output: Tensor, input_grad: bool) -> Tensor | None:
        """The chain rule from f_n back to f_1; f_1 computes dL/dx only if input_grad."""
        if not self.training:
            raise RuntimeError("Sequential: backward() in eval mode; call train() first")
        pass_id, outermost = self._begin_backward(grad_output)
        try:
            self._take(pass_id)
            if not self.modules:  # the identity
                return grad_output if input_grad else None
            *later, first = reversed(self.modules)
            for m in later:
                grad_output = m.backward(grad_output)
            if not input_grad:
                first.backward_params(grad_output)
                return None
            return first.backward(grad_output)
        finally:
            if outermost:
                PASSES.backward = None

    def params(self) -> list[Parameter]:
        """Every module's parameters, first module first (each parameter once)."""
        return list({id(p): p for m in self.modules for p in m.params()}.values())

    def named_params(self) -> list[tuple[str, Parameter]]:
        """params() named as torch does: "0.weight", "0.bias", "2.weight", ..."""
        named: dict[int, tuple[str, Parameter]] = {}
        for i, m in enumerate(self.modules):
            for name, p in m.named_params():
                named.setdefault(id(p), (f"{i}.{name}", p))
        return list(named.values())

    def children(self) -> list[Module]:
        """The modules, in order."""
        return list(self.modules)

    def reset_parameters(
        self, generator: torch.Generator | None = None, mask: Tensor | None = None
    ) -> None:
        """Redraw every module's parameters, first module first.

        Args:
            generator: the torch.Generator of the draws (None: torch's global one).
            mask: None, or a bool tensor (R,) that picks the replicas to redraw.
        """
        for m in self.modules:
            m.reset_parameters(generator, mask)

    def replica(self, r: int) -> Sequential:
        """The single network that shares storage with replica r, 0 <= r < R."""
        twins: dict[int, Module] = {}  # a module used twice stays one module
        for m in self.modules:
            if id(m) not in twins:
                twins[id(m)] = m.replica(r)
        return Sequential(*(twins[id(m)] for m in self.modules))

    def __len__(self) -> int:
        return len(self.modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self.modules)

    def __getitem__(self, index: int | slice) -> Module:
        if isinstance(index, slice):
            return Sequential(*self.modules[index])
        return self.modules[index]

    def __repr__(self) -> str:
        lines = [f"  ({i}): {m!r}".replace("\n", "\n  ") for i, m in enumerate(self.modules)]
        return "Sequential(\n" + "\n".join(lines) + "\n)" if lines else "Sequential()"


def _check_gain(i: int, layer: Module, after: Module) -> None:
    """A Linear's gain for elu / leaky_relu must use the parameter of the activation after it."""
    nonlinearity = getattr(layer, "nonlinearity", None)
    param = getattr(layer, "gain_param", None)
    wanted = {"elu": ("ELU", "alpha"), "leaky_relu": ("LeakyReLU", "slope")}.get(str(nonlinearity))
    if wanted is None or type(after).__name__ != wanted[0]:
        return
    value = getattr(after, wanted[1])
    if param is not None and abs(value - param) > 1e-12 * max(1.0, abs(value)):
        raise ArgumentError(
            f"Sequential: item {i} {layer!r} has the gain for {wanted[1]}={param}, but item "
            f"{i + 1} is {after!r}; build the layer with gain_param={value}"
        )
