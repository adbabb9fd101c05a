"""The fully connected layer y = x W^T + b, for one network or R replicas.

Derived in notebooks/01_linear.ipynb (replicas in notebooks/08_replicas.ipynb).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .checks import (
    ArgumentError,
    ShapeError,
    check_mask,
    check_number,
    check_size,
    check_tensor,
)
from .init import NONLINEARITIES, PARAMETRIC, gain, xavier_normal_
from .module import Module, Parameter


class Linear(Module):
    """y = x W^T + b; dL/dW = G^T X, dL/db = sum_batch G, dL/dX = G W.

    Shapes: weight (out, in), bias (out,), x (..., in) -> y (..., out). With
    replicas=R, W is (R, out, in), b is (R, out) and x is (R, batch, in): R independent
    layers in one batched product.

    Args:
        in_features: the size of each input point, an integer >= 1.
        out_features: the size of each output point, an integer >= 1.
        nonlinearity: the activation that FOLLOWS this layer, which sets the gain g of
            the weights W ~ N(0, g^2 2 / (in + out)): "linear" and "sigmoid" 1, "tanh"
            5/3, "relu" sqrt(2), "leaky_relu" sqrt(2 / (1 + slope^2)), "selu" 3/4, "elu"
            1 / sqrt(E[elu(z)^2]) (see gain()). The gain of the nonlinearity f that
            follows a layer goes on that layer's weights, as in the report and torch's
            kaiming init; notebook 02 measures it against the weights after f.
        replicas: R for R independent layers in one, or None for one layer.
        generator: the torch.Generator of the draws (None: torch's global one).
        dtype: of the parameters, a floating dtype (inputs must match).
        device: of the parameters.
        bias_std: b ~ N(0, bias_std^2). The default 1.0 is the report's choice; zero
            biases measured better in notebooks/09_recipes.ipynb (the "default" recipe).
        gain_param: the slope of the leaky_relu or the alpha of the elu that follows
            (default 0.2, the defaults of LeakyReLU and ELU); Sequential refuses a layer
            whose gain_param differs from the activation after it.

    Raises:
        ArgumentError: a bad argument (a ValueError and a TypeError).

    Derived in notebooks/01_linear.ipynb (the gain in notebooks/02_initialization.ipynb).
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
        if check_number("Linear", "bias_std", bias_std) < 0:
            raise ArgumentError(f"Linear: bias_std must be >= 0, got {bias_std!r}")
        if nonlinearity not in NONLINEARITIES:
            raise ArgumentError(
                f"Linear: unknown nonlinearity {nonlinearity!r}; expected one of {NONLINEARITIES}"
            )
        if generator is not None and not isinstance(generator, torch.Generator):
            raise ArgumentError(
                f"Linear: generator must be a torch.Generator, got {type(generator).__name__}"
            )
        self.gain = gain(nonlinearity, gain_param, owner="Linear")
        self.nonlinearity = nonlinearity
        self.gain_param = (
            None
            if nonlinearity not in PARAMETRIC
            else (0.2 if gain_param is None else float(gain_param))
        )
        self.replicas = replicas
        self.bias_std = float(bias_std)
        lead = () if replicas is None else (replicas,)
        shape_w = (*lead, out_features, in_features)
        self.weight = Parameter(torch.empty(shape_w, dtype=dtype, device=device))
        self.bias = Parameter(torch.empty((*lead, out_features), dtype=dtype, device=device))
        self.reset_parameters(generator)

    def reset_parameters(
        self, generator: torch.Generator | None = None, mask: Tensor | None = None
    ) -> None:
        """W ~ N(0, gain^2 2 / (in + out)), b ~ N(0, bias_std^2), drawn in that order.

        Args:
            generator: the torch.Generator of the draws (None: torch's global one).
            mask: None, or a bool tensor (R,): only the replicas where it is True get
                the new draws (every replica's values are drawn all the same).

        Raises:
            ArgumentError: a mask for a layer without replicas.
            ShapeError: a mask that is not a bool tensor (R,).
        """
        check_mask("Linear.reset_parameters", mask, self.replicas)
        new_w = xavier_normal_(_like(self.weight.value), self.gain, generator)
        new_b = _like(self.bias.value).normal_(0.0, self.bias_std, generator=generator)
        if mask is None:
            self.weight.value.copy_(new_w)
            self.bias.value.copy_(new_b)
        else:
            self.weight.value[mask] = new_w[mask]
            self.bias.value[mask] = new_b[mask]

    def forward(self, x: Tensor) -> Tensor:
        """y = x W^T + b (batched over replicas when there are any).

        Args:
            x: (..., in), or (R, batch, in) for a layer with R replicas.

        Returns:
            y, (..., out) or (R, batch, out). With replicas it is stored feature by
            feature (a transposed view: y.mT is contiguous), so y.view() may refuse a new
            shape where y.reshape() copies.

        Raises:
            TypeError: x is not a float tensor of the weights' dtype.
            ShapeError: x does not end in in_features (with replicas: not (R, batch, in)).
        """
        check_tensor(type(self).__name__, x)
        w, b = self.weight.value, self.bias.value
        if x.dtype != w.dtype:
            raise TypeError(f"{self!r}: input is {x.dtype} but the weights are {w.dtype}")
        if self.replicas is None:
            if x.ndim == 0 or x.shape[-1] != self.in_features:
                raise ShapeError(
                    f"{self!r}: expected input (..., {self.in_features}), got {tuple(x.shape)}"
                )
            # (B, out) = (out,) + (B, in) @ (in, out) in one fused addmm; with other
            # leading dimensions, (..., out) = (..., in) @ (in, out), then + b
            if x.ndim == 2:
                return self._save(b.addmm(x, w.t()), x)
            return self._save(x.matmul(w.t()).add_(b), x)
        if x.ndim != 3 or x.shape[0] != self.replicas or x.shape[2] != self.in_features:
            raise ShapeError(
                f"{self!r}: expected input ({self.replicas}, batch, {self.in_features}), "
                f"got {tuple(x.shape)}"
            )
        # (R, B, out) = b + x W^T in one batched product, b broadcast over the batch. It is
        # formed as (b + W x^T)^T: with the long batch dimension last, MKL forms these
        # products about a fifth faster on the course's machine, so y is stored as
        # (R, out, B) and returned as its transpose (.mT, a view: y is still (R, B, out)).
        return self._save(b.unsqueeze(2).baddbmm(w, x.mT).mT, x)

    def backward(self, grad_output: Tensor) -> Tensor:
        """dL/dX = G W; adds dL/dW = G^T X to weight.grad and dL/db = sum_batch G to bias.grad.

        Args:
            grad_output: G = dL/dy, of the output's shape (..., out) or (R, batch, out).

        Returns:
            dL/dx, of the input's shape (..., in) or (R, batch, in); with replicas stored
            feature by feature, as forward's y.

        Raises:
            RuntimeError: no saved forward to take (see Module).
            ShapeError: grad_output not of the output's shape.
            TypeError: grad_output not of the output's dtype.
        """
        g = self._accumulate(grad_output)
        w = self.weight.value
        # dL/dX (R, B, in) = (R, B, out) @ (R, out, in), an outer product where out = 1 (a
        # broadcast product is faster). With replicas it is formed as (W^T G^T)^T, stored
        # like forward's product; one network does so only where in < out (see _accumulate)
        if self.replicas is None and self.in_features >= self.out_features:
            grad_input = g * w if self.out_features == 1 else g @ w
        else:
            grad_input = (w.mT * g.mT if self.out_features == 1 else w.mT @ g.mT).mT
        return grad_input.reshape((*grad_output.shape[:-1], self.in_features))

    def backward_params(self, grad_output: Tensor) -> None:
        """backward() without dL/dX = G W: only the weight and bias gradients are added.

        train() reaches it when this layer is the network's first module, whose input is
        the data (see Module.backward_params).

        Args:
            grad_output: G = dL/dy, of the output's shape (..., out) or (R, batch, out).

        Raises:
            RuntimeError, ShapeError, TypeError: as backward().
        """
        self._accumulate(grad_output)

    def _accumulate(self, grad_output: Tensor) -> Tensor:
        """Add dL/dW = G^T X to weight.grad and dL/db = sum_batch G to bias.grad; return G.

        G is returned with any leading dimensions of a layer without replicas flattened
        into the batch: (B, out), or (R, B, out) with replicas.
        """
        (x,) = self._saved_tensors(grad_output)
        g = grad_output
        if self.replicas is None:  # any leading dimensions: flatten them into the batch
            g, x = g.reshape(-1, self.out_features), x.reshape(-1, self.in_features)
        # dL/dW (R, out, in) = (R, out, B) @ (R, B, in) and dL/db (R, out) = G summed over B
        # (without replicas, the same without R). A product whose result has only a few
        # columns is slow in the BLAS, so where in < out it is formed as (X^T G)^T, with
        # X^T in rows (the data x of a first layer is (R, B, in), so X^T is a copy).
        # (mT transposes the last two dimensions.)
        if self.in_features < self.out_features:
            self.weight.grad.add_((x.mT.contiguous() @ g).mT)
        elif g.ndim == 3:  # added by the product itself (beta = 1 keeps what is there)
            self.weight.grad.baddbmm_(g.mT, x)
        else:
            self.weight.grad.addmm_(g.mT, x)
        self.bias.grad.add_(g.sum(-2))
        return g

    def params(self) -> list[Parameter]:
        """[weight, bias]."""
        return [self.weight, self.bias]

    def replica(self, r: int) -> Linear:
        """A single-network Linear whose value tensors are views of replica r.

        Args:
            r: the replica, an integer in [0, R).

        Returns:
            A Linear without replicas, weight (out, in) and bias (out,), sharing storage.

        Raises:
            ValueError: the layer has no replicas.
            ArgumentError: r out of range.
        """
        if self.replicas is None:
            raise ValueError(f"{self!r}: replica() needs a layer built with replicas=R")
        if isinstance(r, bool) or not isinstance(r, int) or not 0 <= r < self.replicas:
            raise ArgumentError(
                f"Linear.replica: r must be an integer in [0, {self.replicas}), got {r!r}"
            )
        twin = self.fresh_copy()
        twin.replicas = None
        twin.weight = Parameter(self.weight.value[r])
        twin.bias = Parameter(self.bias.value[r])
        return twin

    def extra_repr(self) -> str:
        """The constructor's arguments that repr() shows (the defaults left out)."""
        s = f"in_features={self.in_features}, out_features={self.out_features}"
        s += f", nonlinearity={self.nonlinearity!r}"
        if self.gain_param not in (None, 0.2):
            s += f", gain_param={self.gain_param}"
        return s if self.replicas is None else s + f", replicas={self.replicas}"


def _like(t: Tensor) -> Tensor:
    """An uninitialised tensor of t's shape, dtype and device."""
    return torch.empty(t.shape, dtype=t.dtype, device=t.device)
