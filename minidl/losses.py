"""Losses as modules: loss = L(prediction, target); backward() returns dL/dprediction.

Both reduce by the mean over the last two dimensions (batch and features), so a
(R, batch, k) prediction gives one loss per replica. Derived in notebooks/04_losses.ipynb.
"""

from __future__ import annotations

from torch import Tensor

from .module import Module, ShapeError, check_tensor


class _Loss(Module):
    """L = mean over the last two dimensions of an elementwise loss l(p, t)."""

    _target: Tensor | None = None

    def __call__(self, prediction: Tensor, target: Tensor) -> Tensor:  # type: ignore[override]
        return self.forward(prediction, target)

    def forward(self, prediction: Tensor, target: Tensor) -> Tensor:  # type: ignore[override]
        """The mean loss: a scalar, or one value per replica."""
        name = type(self).__name__
        check_tensor(name, prediction, "prediction")
        check_tensor(name, target, "target")
        if prediction.shape != target.shape:
            raise ShapeError(
                f"{name}: prediction {tuple(prediction.shape)} and target "
                f"{tuple(target.shape)} must have the same shape (no broadcasting)"
            )
        self._check_values(prediction, target)
        self._input, self._target = prediction, target
        return self.elementwise(prediction, target).mean(dim=_dims(prediction))

    def backward(self, grad_output: Tensor | None = None) -> Tensor:
        """dL/dp = l'(p, t) / N, N = batch * features (times grad_output if given)."""
        p = self._input
        if p is None or self._target is None:
            raise RuntimeError(f"{type(self).__name__}: backward() called before forward()")
        dims = _dims(p)
        count = 1
        for d in dims:
            count *= p.shape[d]
        grad = self.derivative(p, self._target).div_(count)
        if grad_output is None:
            return grad
        reduced = p.shape[: p.ndim - len(dims)]
        check_tensor(type(self).__name__, grad_output, "grad_output")
        if grad_output.shape != reduced:
            raise ShapeError(
                f"{type(self).__name__}: grad_output has shape {tuple(grad_output.shape)}, "
                f"but the loss had shape {tuple(reduced)}"
            )
        return grad.mul_(grad_output.reshape(*reduced, *([1] * len(dims))))

    def _check_values(self, prediction: Tensor, target: Tensor) -> None:
        """Reject values the loss is not defined for (nothing to reject by default)."""

    def elementwise(self, p: Tensor, t: Tensor) -> Tensor:
        """l(p, t) for each element."""
        raise NotImplementedError

    def derivative(self, p: Tensor, t: Tensor) -> Tensor:
        """dl/dp for each element (a new tensor)."""
        raise NotImplementedError


def _dims(p: Tensor) -> tuple[int, ...]:
    """The dimensions a loss averages over: the last two (or all, for fewer)."""
    return tuple(range(max(p.ndim - 2, 0), p.ndim))


class MSELoss(_Loss):
    """L = mean (p - t)^2; dL/dp = 2 (p - t) / N.

    Derived in notebooks/04_losses.ipynb.
    """

    def elementwise(self, p: Tensor, t: Tensor) -> Tensor:
        return (p - t).square_()

    def derivative(self, p: Tensor, t: Tensor) -> Tensor:
        return (p - t).mul_(2)


class BCELoss(_Loss):
    """L = -mean [t log p + (1 - t) log(1 - p)], logs clamped at -100 as in torch.

    dL/dp = (p - t) / (p (1 - p)) / N, with p (1 - p) kept >= 1e-12, so the loss and its
    gradient stay finite at p = 0 and p = 1. Derived in notebooks/04_losses.ipynb.
    """

    def _check_values(self, prediction: Tensor, target: Tensor) -> None:
        for what, v in (("prediction", prediction), ("target", target)):
            outside = (v < 0) | (v > 1) | v.isnan()
            if bool(outside.any()):
                bad = v[outside][0].item()
                raise ValueError(f"BCELoss: every {what} must lie in [0, 1]; found {bad!r}")

    def elementwise(self, p: Tensor, t: Tensor) -> Tensor:
        log_p = p.log().clamp_(min=-100)
        log_q = p.neg().log1p_().clamp_(min=-100)  # log(1 - p), exact for small p
        return -(t * log_p + (1 - t) * log_q)

    def derivative(self, p: Tensor, t: Tensor) -> Tensor:
        return (p - t).div_((p * (1 - p)).clamp_(min=1e-12))
