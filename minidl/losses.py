"""Losses as modules: loss = L(prediction, target); backward() returns dL/dprediction.

Each reduces the last two dimensions (batch and features), so a (R, batch, k)
prediction gives one loss per replica. Derived in notebooks/04_losses.ipynb.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .checks import ShapeError, check_tensor
from .module import Module, link_gradient


class Loss(Module):
    """L = mean over the last two dimensions of an elementwise loss l(p, t).

    The base of every loss: a Module whose call takes (prediction, target) and whose
    backward() needs no argument. A subclass gives l (`elementwise`) and dl/dp
    (`derivative`); CrossEntropyLoss also changes the reduction (`count`, `reduce`).
    backward() differentiates the loss computed last (a loss keeps one prediction and
    target); the gradient it returns is linked to that prediction, so the network's
    backward uses the forward pass that produced it. A prediction and target of different
    float dtypes are handled as torch does: the loss in the wider dtype, the gradient in
    the prediction's. Derived in notebooks/04_losses.ipynb.
    """

    _input: Tensor | None = None
    _target: Tensor | None = None

    def __call__(self, prediction: Tensor, target: Tensor) -> Tensor:
        """loss_fn(prediction, target) is loss_fn.forward(prediction, target)."""
        return self.forward(prediction, target)

    def forward(self, prediction: Tensor, target: Tensor) -> Tensor:
        """L(p, t): the mean of l(p, t) over the last two dimensions (batch and features).

        Args:
            prediction: p, (batch, k), or (R, batch, k) for R replicas (any shape with
                at least the two dimensions the loss averages over).
            target: t, of the shape of prediction (no broadcasting).

        Returns:
            The loss, a scalar, or (R,) for (R, batch, k) inputs.

        Raises:
            TypeError: a non-float tensor, tensors on two devices, or two float dtypes
                of one size (float16 and bfloat16).
            ShapeError: prediction and target of different shapes.
            ValueError: values the loss is not defined for (BCELoss: outside [0, 1]).
        """
        name = type(self).__name__
        check_tensor(name, prediction, "prediction")
        if isinstance(target, Tensor) and not target.is_floating_point():
            raise TypeError(
                f"{name}: target must be a floating-point tensor, got {target.dtype}; "
                f"for class labels, use one-hot targets of the prediction's shape "
                f"{tuple(prediction.shape)}"
            )
        check_tensor(name, target, "target")
        if prediction.shape != target.shape:
            hint = ""
            if target.shape == prediction.shape[:-1] and prediction.shape[-1] > 1:
                hint = "; class labels go in as one-hot rows of the prediction's shape"
            elif target.shape == prediction.shape[:-1]:
                hint = "; give y as a column, y[..., None]"
            raise ShapeError(
                f"{name}: prediction {tuple(prediction.shape)} and target "
                f"{tuple(target.shape)} must have the same shape (no broadcasting){hint}"
            )
        if prediction.device != target.device:
            raise TypeError(
                f"{name}: prediction is on {prediction.device} but target on {target.device}"
            )
        self._check_values(prediction, target)
        self._input, self._target = prediction, target
        if prediction.dtype != target.dtype:  # as torch: compute in the wider dtype
            dtype = _common_dtype(name, prediction, target)
            prediction, target = prediction.to(dtype), target.to(dtype)
        return self.reduce(self.elementwise(prediction, target))

    def backward(self, grad_output: Tensor | None = None) -> Tensor:
        """dL/dp = l'(p, t) / N, N = batch * features (times grad_output if given).

        Args:
            grad_output: None (dL/dL = 1), or dC/dL of the loss's shape, () or (R,).

        Returns:
            dL/dprediction (or dC/dprediction), of the prediction's shape and dtype.

        Raises:
            RuntimeError: backward() before forward().
            ShapeError: grad_output not of the loss's shape.
            TypeError: grad_output not a float tensor of the loss's dtype.
        """
        name = type(self).__name__
        prediction, target = self._input, self._target
        if prediction is None or target is None:
            raise RuntimeError(f"{name}: backward() called before forward()")
        p, t = prediction, target
        if p.dtype != t.dtype:
            dtype = _common_dtype(name, p, t)
            p, t = p.to(dtype), t.to(dtype)
        dims = _dims(p)
        grad = self.derivative(p, t).div_(self.count(p))
        if grad_output is not None:
            reduced = p.shape[: p.ndim - len(dims)]
            check_tensor(name, grad_output, "grad_output")
            if grad_output.shape != reduced:
                raise ShapeError(
                    f"{name}: grad_output has shape {tuple(grad_output.shape)}, "
                    f"but the loss had shape {tuple(reduced)}"
                )
            if grad_output.dtype != p.dtype:
                raise TypeError(
                    f"{name}: grad_output is {grad_output.dtype} but the loss is {p.dtype}"
                )
            grad.mul_(grad_output.reshape(*reduced, *([1] * len(dims))))
        if grad.dtype != prediction.dtype:
            grad = grad.to(prediction.dtype)  # as torch: the gradient in the prediction's dtype
        return link_gradient(grad, prediction)

    def saved_tensors(self) -> list[Tensor]:
        """The prediction and target of the last forward (what backward() reads)."""
        return [t for t in (self._input, self._target) if t is not None]

    def _check_values(self, prediction: Tensor, target: Tensor) -> None:
        """Reject values the loss is not defined for (nothing to reject by default)."""

    def count(self, p: Tensor) -> int:
        """N = batch * features, the number of terms the loss averages (p is (..., batch, k))."""
        n = 1
        for d in _dims(p):
            n *= p.shape[d]
        return n

    def reduce(self, elementwise: Tensor) -> Tensor:
        """L = the mean of l(p, t) over the last two dimensions: (..., batch, k) -> (...)."""
        return elementwise.mean(dim=_dims(elementwise))

    def elementwise(self, p: Tensor, t: Tensor) -> Tensor:
        """l(p, t) for each element: a new tensor of p's shape (p and t of one dtype)."""
        raise NotImplementedError

    def derivative(self, p: Tensor, t: Tensor) -> Tensor:
        """dl/dp for each element: a new tensor of p's shape (backward divides it by N)."""
        raise NotImplementedError


def _common_dtype(owner: str, prediction: Tensor, target: Tensor) -> torch.dtype:
    """The wider of the two float dtypes (torch's promotion for float32 and float64)."""
    a, b = prediction.dtype, target.dtype
    if a == b:
        return a
    if prediction.element_size() == target.element_size():
        raise TypeError(f"{owner}: prediction is {a} but target is {b}; convert one to the other")
    return a if prediction.element_size() > target.element_size() else b


def _dims(p: Tensor) -> tuple[int, ...]:
    """The dimensions a loss averages over: the last two (or all, for fewer)."""
    return tuple(range(max(p.ndim - 2, 0), p.ndim))


class MSELoss(Loss):
    """L = mean (p - t)^2; dL/dp = 2 (p - t) / N.

    Derived in notebooks/04_losses.ipynb.
    """

    def elementwise(self, p: Tensor, t: Tensor) -> Tensor:
        """l(p, t) = (p - t)^2."""
        return (p - t).square_()

    def derivative(self, p: Tensor, t: Tensor) -> Tensor:
        """dl/dp = 2 (p - t)."""
        return (p - t).mul_(2)


LossMSE = MSELoss  # the EE-559 handout's name


class BCELoss(Loss):
    """L = -mean [t log p + (1 - t) log(1 - p)], logs clamped at -100 as in torch.

    dL/dp = (p - t) / (p (1 - p)) / N, with p (1 - p) kept >= 1e-12, so the loss and its
    gradient stay finite at p = 0 and p = 1. forward raises ValueError for a prediction or
    target outside [0, 1] (or NaN). Derived in notebooks/04_losses.ipynb.
    """

    def _check_values(self, prediction: Tensor, target: Tensor) -> None:
        for what, v in (("prediction", prediction), ("target", target)):
            outside = (v < 0) | (v > 1) | v.isnan()
            if bool(outside.any()):
                bad = v[outside][0].item()
                raise ValueError(f"BCELoss: every {what} must lie in [0, 1]; found {bad!r}")

    def elementwise(self, p: Tensor, t: Tensor) -> Tensor:
        """l(p, t) = -(t log p + (1 - t) log(1 - p)), each log clamped at -100."""
        log_p = p.log().clamp_(min=-100)
        log_q = p.neg().log1p_().clamp_(min=-100)  # log(1 - p), exact for small p
        return -(t * log_p + (1 - t) * log_q)

    def derivative(self, p: Tensor, t: Tensor) -> Tensor:
        """dl/dp = (p - t) / (p (1 - p)), the denominator kept >= 1e-12."""
        return (p - t).div_((p * (1 - p)).clamp_(min=1e-12))


class CrossEntropyLoss(Loss):
    """L = -mean over the batch of sum_k t_k log softmax(z)_k; dL/dz = (softmax(z) - t) / batch.

    logits z and target t have the same shape (..., batch, k), k >= 2; t holds class
    probabilities (each row in [0, 1], summing to 1; one-hot for hard labels). log softmax
    is computed as (z - max z) - log sum e^(z - max z), which never overflows. The
    gradient is softmax(z) sum_k t_k - t, which is softmax(z) - t for probability rows
    (the multi-class twin of BCE after a sigmoid). Matches torch.nn.functional.cross_entropy
    with probability targets. forward raises ShapeError for logits that are not
    (..., batch, k) with k >= 2, and ValueError for targets that are not probabilities.
    Derived in notebooks/04_losses.ipynb.
    """

    def _check_values(self, prediction: Tensor, target: Tensor) -> None:
        if prediction.ndim < 2 or prediction.shape[-1] < 2:
            raise ShapeError(
                f"CrossEntropyLoss: logits and target must be (..., batch, k) with k >= 2 "
                f"classes, got {tuple(prediction.shape)}; for one output unit use BCELoss "
                "after a Sigmoid"
            )
        outside = (target < 0) | (target > 1) | target.isnan()
        if bool(outside.any()):
            bad = target[outside][0].item()
            raise ValueError(
                f"CrossEntropyLoss: every target must be a probability in [0, 1] (one-hot "
                f"for class labels); found {bad!r}"
            )
        row_sum = target.sum(dim=-1)
        off = (row_sum - 1).abs() > 1e-3
        if bool(off.any()):
            bad = row_sum[off][0].item()
            raise ValueError(
                f"CrossEntropyLoss: each target row must sum to 1 (class probabilities); "
                f"found a row summing to {bad:.6g}"
            )

    def count(self, p: Tensor) -> int:
        """N = batch: the loss sums over the k classes and averages over the batch."""
        return p.shape[-2]

    def reduce(self, elementwise: Tensor) -> Tensor:
        """L = the sum over the classes, mean over the batch: (..., batch, k) -> (...)."""
        return elementwise.sum(dim=(-2, -1)).div_(elementwise.shape[-2])

    def elementwise(self, p: Tensor, t: Tensor) -> Tensor:
        """l(z, t)_k = -t_k log softmax(z)_k."""
        return _log_softmax(p).mul_(t).neg_()

    def derivative(self, p: Tensor, t: Tensor) -> Tensor:
        """dl/dz = softmax(z) sum_k t_k - t (softmax(z) - t for probability rows)."""
        return _log_softmax(p).exp_().mul_(t.sum(dim=-1, keepdim=True)).sub_(t)


def _log_softmax(z: Tensor) -> Tensor:
    """log softmax over the last dimension: (z - m) - log sum e^(z - m), m = max z."""
    shifted = z - z.amax(dim=-1, keepdim=True)
    return shifted - shifted.exp().sum(dim=-1, keepdim=True).log_()
