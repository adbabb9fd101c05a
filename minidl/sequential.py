"""Sequential: forward through the modules in order, backward in reverse.

Derived in notebooks/05_sequential.ipynb.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor

from .module import Module, Parameter


class Sequential(Module):
    """f = f_n o ... o f_1; backward applies the chain rule from f_n back to f_1.

    Derived in notebooks/05_sequential.ipynb.
    """

    def __init__(self, *modules: Module) -> None:
        for i, m in enumerate(modules):
            if not isinstance(m, Module):
                raise TypeError(
                    f"Sequential: item {i} must be a minidl Module, got {type(m).__name__}"
                )
        self.modules: tuple[Module, ...] = modules

    def forward(self, x: Tensor) -> Tensor:
        """x -> f_1(x) -> f_2(f_1(x)) -> ..."""
        for m in self.modules:
            x = m.forward(x)
        return x

    def backward(self, grad_output: Tensor) -> Tensor:
        """Pass dL/dy back through the modules in reverse order."""
        for m in reversed(self.modules):
            grad_output = m.backward(grad_output)
        return grad_output

    def params(self) -> list[Parameter]:
        """Every module's parameters, first module first."""
        return [p for m in self.modules for p in m.params()]

    def reset_parameters(
        self, generator: torch.Generator | None = None, replicas: Tensor | None = None
    ) -> None:
        """Redraw every module's parameters, first module first."""
        for m in self.modules:
            m.reset_parameters(generator, replicas)

    def replica(self, r: int) -> Sequential:
        """The single network that shares storage with replica r."""
        return Sequential(*(m.replica(r) for m in self.modules))

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
