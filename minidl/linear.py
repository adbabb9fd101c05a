"""The fully connected layer y = x W^T + b, for one network or R replicas.

Derived in notebooks/01_linear.ipynb (replicas in notebooks/08_replicas.ipynb).
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor

from .init import NONLINEARITIES, gain, xavier_normal_
from .module import ArgumentError, Module, Parameter, ShapeError, check_size


class Linear(Module):
    """y = x W^T + b; dL/dW = G^T X, dL/db = sum_batch G, dL/dX = G W.

    With replicas=R, W is (R, out, in), b is (R, out) and x is (R, batch, in):
    R independent layers in one batched product.
    Derived in notebooks/01_linear.ipynb.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        nonlinearity: str = "linear",
        *,
        replicas: int | None = None,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
        bias_std: float = 1.0,
        gain_param: float | None = None,
    ) -> None:
        self.in_features = check_size("Linear", "in_features", in_features)
        self.out_features = check_size("Linear", "out_features", out_features)
        if replicas is not None:
            check_size("Linear", "replicas", replicas)
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise ArgumentError(f"Linear: dtype must be a floating dtype, got {dtype!r}")
        if bias_std < 0:
            raise ArgumentError(f"Linear: bias_std must be >= 0, got {bias_std!r}")
        if nonlinearity not in NONLINEARITIES:
            raise ArgumentError(
                f"Linear: unknown nonlinearity {nonlinearity!r}; expected one of {NONLINEARITIES}"
            )
        self.gain = gain(nonlinearity, gain_param)
        self.nonlinearity = nonlinearity
        self.replicas = replicas
        self.bias_std = float(bias_std)
        lead = () if replicas is None else (replicas,)
        shape_w = (*lead, out_features, in_features)
        self.weight = Parameter(torch.empty(shape_w, dtype=dtype, device=device))
        self.bias = Parameter(torch.empty((*lead, out_features), dtype=dtype, device=device))
        self.reset_parameters(generator)

    def reset_parameters(
        self, generator: torch.Generator | None = None, replicas: Tensor | None = None
    ) -> None:
        """W ~ N(0, gain^2 2 / (in + out)), b ~ N(0, bias_std^2); a mask picks replicas."""
        new_w = xavier_normal_(_like(self.weight.value), self.gain, generator)
        new_b = _like(self.bias.value).normal_(0.0, self.bias_std, generator=generator)
        if replicas is None:
            self.weight.value.copy_(new_w)
            self.bias.value.copy_(new_b)
        else:
            self.weight.value[replicas] = new_w[replicas]
            self.bias.value[replicas] = new_b[replicas]

    def forward(self, x: Tensor) -> Tensor:
        """y = x W^T + b (batched over replicas when there are any)."""
        self._remember(x)
        w, b = self.weight.value, self.bias.value
        if x.dtype != w.dtype:
            raise TypeError(f"{self!r}: input is {x.dtype} but the weights are {w.dtype}")
        if self.replicas is None:
            if x.ndim == 0 or x.shape[-1] != self.in_features:
                raise ShapeError(
                    f"{self!r}: expected input (..., {self.in_features}), got {tuple(x.shape)}"
                )
            if x.ndim == 2:
                return b.addmm(x, w.t())
            return x.matmul(w.t()).add_(b)
        if x.ndim != 3 or x.shape[0] != self.replicas or x.shape[2] != self.in_features:
            raise ShapeError(
                f"{self!r}: expected input ({self.replicas}, batch, {self.in_features}), "
                f"got {tuple(x.shape)}"
            )
        # b + x W^T in one batched product: b (R, 1, out) broadcasts over the batch
        return b.unsqueeze(1).baddbmm(x, w.mT)

    def backward(self, grad_output: Tensor) -> Tensor:
        """Accumulate G^T X into weight.grad and sum_batch G into bias.grad; return G W."""
        x = self._input
        out_shape = None if x is None else torch.Size((*x.shape[:-1], self.out_features))
        x = self._recall(grad_output, out_shape)
        g, w = grad_output, self.weight.value
        if self.replicas is None:  # any leading dimensions: flatten them into the batch
            g, x = g.reshape(-1, self.out_features), x.reshape(-1, self.in_features)
        # dL/dW = G^T X and dL/dX = G W. A product whose result has only a few columns is
        # slow in the BLAS, so where in < out each is formed as a transpose: (X^T G)^T and
        # (W^T G^T)^T. (mT transposes the last two dimensions.)
        if self.in_features < self.out_features:
            self.weight.grad.add_((x.mT @ g).mT)
            grad_input = (w.mT @ g.mT).mT
        else:
            self.weight.grad.add_(g.mT @ x)
            grad_input = g @ w
        self.bias.grad.add_(g.sum(-2))
        return grad_input.reshape((*grad_output.shape[:-1], self.in_features))

    def params(self) -> list[Parameter]:
        """[weight, bias]."""
        return [self.weight, self.bias]

    def replica(self, r: int) -> Linear:
        """A single-network Linear whose value tensors are views of replica r."""
        if self.replicas is None:
            raise ValueError(f"{self!r}: replica() needs a layer built with replicas=R")
        twin = copy.copy(self)
        twin.replicas, twin._input = None, None
        twin.weight = Parameter(self.weight.value[r])
        twin.bias = Parameter(self.bias.value[r])
        return twin

    def extra_repr(self) -> str:
        s = f"in_features={self.in_features}, out_features={self.out_features}"
        s += f", nonlinearity={self.nonlinearity!r}"
        return s if self.replicas is None else s + f", replicas={self.replicas}"


def _like(t: Tensor) -> Tensor:
    """An uninitialised tensor of t's shape, dtype and device."""
    return torch.empty(t.shape, dtype=t.dtype, device=t.device)
