"""Parameter and Module: the two classes every layer builds on.

Derived in notebooks/01_linear.ipynb.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

import torch
from torch import Tensor

from .checks import ArgumentError as ArgumentError
from .checks import ShapeError as ShapeError
from .checks import check_finite as check_finite
from .checks import check_mask as check_mask
from .checks import check_number as check_number
from .checks import check_size as check_size
from .checks import check_tensor as check_tensor
from .checks import without_history as without_history

M = TypeVar("M", bound="Module")


def zeros_like(t: Tensor) -> Tensor:
    """A zero tensor of t's shape, dtype and device, made with torch.empty."""
    return torch.empty(t.shape, dtype=t.dtype, device=t.device).zero_()


class Parameter:
    """A trainable tensor `value` and the gradient `grad` that minidl fills by hand.

    Args:
        value: the tensor to train, any shape, floating point; its storage is kept
            (detached from torch's graph), and `grad` starts as zeros of its shape.

    Raises:
        TypeError: value is not a floating-point tensor.

    Derived in notebooks/01_linear.ipynb.
    """

    def __init__(self, value: Tensor) -> None:
        check_tensor("Parameter", value, "value")
        self.value = value.detach()  # the same storage, never part of torch's graph
        self.grad = zeros_like(value)

    @classmethod
    def from_pair(cls, value: Tensor, grad: Tensor) -> Parameter:
        """A Parameter over the handout's (value, gradient) pair, sharing both tensors.

        Args:
            value: the parameter's tensor.
            grad: its gradient, of the same shape (not checked here; SGD checks it).

        Returns:
            A Parameter whose value and grad are these very tensors.
        """
        p = cls.__new__(cls)
        p.value, p.grad = value, grad
        return p

    @property
    def shape(self) -> torch.Size:
        """The shape shared by value and grad."""
        return self.value.shape

    def __repr__(self) -> str:
        return f"Parameter(shape={tuple(self.value.shape)}, dtype={self.value.dtype})"


# What forward() saves for backward() ---------------------------------------------------

KEEP = 2  # a module keeps the saved tensors of its last KEEP forward passes


class _Saved:
    """What one forward call saved: its pass, its output and the tensors backward needs."""

    __slots__ = ("output", "pass_id", "tensors", "used")

    def __init__(self, pass_id: int, output: Tensor, tensors: tuple[Any, ...]) -> None:
        self.pass_id, self.output, self.tensors, self.used = pass_id, output, tensors, False


class _Passes:
    """Shared bookkeeping of forward and backward passes.

    The forward and backward pass running now, and the gradient that a loss (or
    gradcheck) handed out last together with the prediction it is for.
    """

    def __init__(self) -> None:
        self.count = 0
        self.forward: int | None = None  # id of the outermost forward running now
        self.backward: int | None = None  # id of the pass the running backward uses
        self.backward_serial = 0
        self.saving = True
        self.gradient: Tensor | None = None
        self.prediction: Tensor | None = None

    def new(self) -> int:
        self.count += 1
        return self.count


PASSES = _Passes()


def link_gradient(gradient: Tensor, prediction: Tensor) -> Tensor:
    """Record that `gradient` is dL/d`prediction`, and return it.

    A later backward(gradient) then uses the forward pass that produced prediction,
    whatever other forwards ran since. Losses and gradcheck call it.
    """
    PASSES.gradient, PASSES.prediction = gradient, prediction
    return gradient


@contextmanager
def no_saving() -> Iterator[None]:
    """Forwards inside this block save nothing for backward (evaluation only)."""
    previous, PASSES.saving = PASSES.saving, False
    try:
        yield
    finally:
        PASSES.saving = previous


def _same_tensor(a: Tensor, b: Tensor) -> bool:
    """a and b are the same values in memory (the same tensor, or a view of all of it)."""
    return a is b or (
        a.shape == b.shape
        and a.dtype == b.dtype
        and a.device == b.device
        and a.data_ptr() == b.data_ptr()
        and a.stride() == b.stride()
    )


def _same_values(a: _Saved, b: _Saved) -> bool:
    """Two forward calls that saw equal inputs and gave equal outputs."""
    if len(a.tensors) != len(b.tensors) or not a.output.equal(b.output):
        return False
    return all(
        s.equal(t) if isinstance(s, Tensor) and isinstance(t, Tensor) else s is t
        for s, t in zip(a.tensors, b.tensors, strict=True)
    )


class Module:
    """A layer: y = forward(x); backward(dL/dy) accumulates dL/dparams, returns dL/dx.

    Saved state, in two sentences: every forward() pushes what backward() needs onto
    the module's own stack, labelled with its forward pass, and backward() takes the
    entries of one pass in reverse order, so a module used twice in a network gets each
    use's input back. That pass is the one whose output the loss differentiated (for a
    gradient from elsewhere: the only pass not yet backpropagated, or the only one whose
    output has the gradient's shape, or the last of passes that saw the same input and
    gave the same output), so an evaluation between forward and backward changes
    nothing, and backward() raises RuntimeError when it cannot tell.
    Details: in eval() mode forward saves nothing and backward is refused (train()
    switches back); error_rate() and gradcheck's probes save nothing; a module keeps
    the saved tensors of at most 2 passes, and none of a backpropagated pass once the
    next pass begins; backward() may run again on a pass until then (the gradients add
    up). forward and backward never record torch's autograd history,
    whatever the grad mode.
    Derived in notebooks/01_linear.ipynb.
    """

    training = True
    replicas: int | None = None  # R when the parameters hold R independent networks
    _saved: list[_Saved] | None = None  # what forward saved, oldest first
    _cursor: tuple[int, int] = (-1, 0)  # (backward serial, uses taken in it)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in ("forward", "backward", "backward_params"):
            if name in cls.__dict__:
                setattr(cls, name, without_history(cls.__dict__[name]))

    def forward(self, *args: Any, **kwargs: Any) -> Tensor:
        """y = f(x); save what backward will need.

        A layer takes forward(x); a loss (see Loss) takes forward(prediction, target).
        Each subclass documents its shapes and errors.
        """
        raise NotImplementedError

    def backward(self, grad_output: Tensor) -> Tensor:
        """dL/dx from dL/dy; dL/dp is ADDED to each parameter's grad.

        Args:
            grad_output: dL/dy, of the shape of the output y.

        Returns:
            dL/dx, of the shape of the input x.
        """
        raise NotImplementedError

    def backward_params(self, grad_output: Tensor) -> None:
        """backward() for the parameter gradients only, when nobody reads dL/dx.

        train() calls it: the network's input is the data, whose gradient it never uses
        (torch skips it too: the data does not require grad). A layer that can skip
        dL/dx overrides this (Linear, and Sequential for its first module); by default
        it is backward() with the result dropped.

        Args:
            grad_output: dL/dy, of the shape of the output y.
        """
        self.backward(grad_output)

    def __call__(self, *args: Any, **kwargs: Any) -> Tensor:
        """module(x) is module.forward(x)."""
        return self.forward(*args, **kwargs)

    def params(self) -> list[Parameter]:
        """The trainable parameters, in a fixed order."""
        return []

    def named_params(self) -> list[tuple[str, Parameter]]:
        """params() with torch's names: the attribute that holds each one ("weight")."""
        names = {id(v): k for k, v in vars(self).items() if isinstance(v, Parameter)}
        return [(names.get(id(p), str(i)), p) for i, p in enumerate(self.params())]

    def param(self) -> list[tuple[Tensor, Tensor]]:
        """The handout's view of params(): (value, gradient) pairs, the same tensors."""
        return [(p.value, p.grad) for p in self.params()]

    def zero_grad(self) -> None:
        """Set every parameter gradient to zero."""
        for p in self.params():
            p.grad.zero_()

    def children(self) -> list[Module]:
        """The modules this one is built from (none for a layer)."""
        return []

    def train(self, mode: bool = True) -> Module:
        """Training mode (the default): forward() saves what backward() needs.

        Args:
            mode: True for training mode, False for evaluation mode (as eval()).

        Returns:
            This module, switched with all its children.

        Raises:
            ArgumentError: mode is not a bool.
        """
        if not isinstance(mode, bool):
            raise ArgumentError(f"{type(self).__name__}.train: mode must be a bool, got {mode!r}")
        self.training = mode
        for m in self.children():
            m.train(mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode: forward() saves nothing and backward() is refused."""
        return self.train(False)

    def state_dict(self) -> dict[str, Tensor]:
        """{name: value} for every parameter, named as torch does ("0.weight", "0.bias", ...).

        The values share storage with the parameters; torch.save can write the dict.
        """
        return {name: p.value for name, p in self.named_params()}

    def load_state_dict(self, state: Mapping[str, Tensor], strict: bool = True) -> None:
        """Copy every value of state into the parameter of the same name, in place.

        Args:
            state: {name: tensor}, as state_dict() gives, each of its parameter's shape.
            strict: as in torch: True requires the same names; False copies only the
                names both have.

        Raises:
            KeyError: (strict) missing or unexpected keys, all named.
            TypeError: state is not a mapping, or a value is not a tensor.
            ShapeError: a value's shape differs from its parameter's.

        Nothing is copied when it raises.
        """
        name = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state, Mapping):
            raise TypeError(f"{name}: expected a dict of tensors, got {type(state).__name__}")
        own = dict(self.named_params())
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        if not strict:
            own = {k: p for k, p in own.items() if k in state}
        elif missing or unexpected:
            raise KeyError(f"{name}: missing keys {missing}, unexpected keys {unexpected}")
        for key, p in own.items():
            value = state[key]
            if not isinstance(value, Tensor):
                raise TypeError(f"{name}: {key!r} must be a tensor, got {type(value).__name__}")
            if value.shape != p.value.shape:
                raise ShapeError(
                    f"{name}: {key!r} has shape {tuple(value.shape)}, but the parameter "
                    f"has shape {tuple(p.value.shape)}"
                )
        with torch.no_grad():
            for key, p in own.items():
                p.value.copy_(state[key])

    def saved_tensors(self) -> list[Tensor]:
        """Every tensor this module keeps for backward now (outputs and inputs), once each."""
        found: dict[int, Tensor] = {}
        for e in self._saved or []:
            for t in (e.output, *e.tensors):
                if isinstance(t, Tensor):
                    found.setdefault(id(t), t)
        return list(found.values())

    def reset_parameters(
        self, generator: torch.Generator | None = None, mask: Tensor | None = None
    ) -> None:
        """Redraw the parameters (a layer without parameters does nothing).

        Args:
            generator: the torch.Generator of the draws (None: torch's global one).
            mask: None to redraw everything, or a bool tensor (R,) that picks the
                replicas to redraw (train()'s restart rule uses it).
        """

    def replica(self, r: int) -> Module:
        """A single network that shares its storage with replica r of this one.

        Args:
            r: the replica, 0 <= r < R.

        Returns:
            A module without replicas whose parameters are views of replica r's.
        """
        return self.fresh_copy()

    def fresh_copy(self: M) -> M:
        """A shallow copy with nothing saved for backward."""
        twin = copy.copy(self)
        twin.__dict__.pop("_saved", None)
        twin.__dict__.pop("_cursor", None)
        return twin

    def extra_repr(self) -> str:
        """The arguments shown between the parentheses of repr()."""
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"

    # Saving for backward (the helpers the layers use) ------------------------------

    def _save(self, output: Tensor, *tensors: Any) -> Tensor:
        """Push output and what backward needs onto this module's stack; return output."""
        passes = PASSES
        if not (self.training and passes.saving):
            return output
        pass_id = passes.forward
        if pass_id is None:  # this module's forward is a pass of its own
            passes.count += 1
            pass_id = passes.count
        stack = self._saved
        if stack is None:
            stack = self._saved = []
        elif stack and stack[-1].pass_id != pass_id:  # a new pass begins
            last = stack[-1]
            if last.used:  # the last pass was backpropagated: nothing else is needed
                stack.clear()
            elif stack[0].pass_id != last.pass_id:  # keep the last KEEP (= 2) passes
                stack[:] = [e for e in stack if e.pass_id == last.pass_id]
        stack.append(_Saved(pass_id, output, tensors))
        return output

    def _choose_pass(self, grad_output: Tensor) -> int:
        """The forward pass an outermost backward(grad_output) belongs to."""
        stack = self._saved or []
        name = type(self).__name__
        prediction = PASSES.prediction
        if prediction is not None and grad_output is PASSES.gradient:
            for e in reversed(stack):
                if _same_tensor(e.output, prediction):
                    return e.pass_id
            raise RuntimeError(
                f"{name}: backward() got the gradient for a prediction that no saved "
                "forward() of this module produced (it ran in eval mode or under "
                "error_rate(), or more than 2 forward passes ago); call forward() again "
                "and compute the loss on its output"
            )
        pending = {e.pass_id for e in stack if not e.used}
        if len(pending) == 1:
            return pending.pop()
        if not pending:
            if stack:
                return stack[-1].pass_id  # backward again on the same pass: grads add up
            raise RuntimeError(f"{name}: backward() called before forward()")
        fitting = [e for e in stack if not e.used and e.output.shape == grad_output.shape]
        if len({e.pass_id for e in fitting}) == 1:  # one output has the gradient's shape
            return fitting[0].pass_id
        if fitting and all(_same_values(e, fitting[-1]) for e in fitting):
            return fitting[-1].pass_id  # the same input and output: it does not matter which
        raise RuntimeError(
            f"{name}: backward() follows {len(pending)} forward passes that were not "
            "backpropagated, and its gradient does not say which one it is for (an "
            "evaluation ran between forward and backward?). Evaluate with "
            "minidl.train.error_rate() or in eval() mode, or call forward() again just "
            "before the loss and backward()"
        )

    def _take(self, pass_id: int) -> _Saved:
        """This module's next saved entry of pass_id within the running backward."""
        stack = self._saved or []
        serial = PASSES.backward_serial
        cursor = self._cursor
        k = cursor[1] + 1 if cursor[0] == serial else 0
        self._cursor = (serial, k)
        if k == 0 and stack and stack[-1].pass_id == pass_id:  # the usual case
            entry = stack[-1]
            entry.used = True
            return entry
        seen = 0
        for e in reversed(stack):
            if e.pass_id == pass_id:
                if seen == k:
                    e.used = True
                    return e
                seen += 1
        name = type(self).__name__
        if not stack:
            raise RuntimeError(f"{name}: backward() called before forward()")
        raise RuntimeError(
            f"{name}: backward() finds nothing saved by the forward pass it belongs to "
            "(that forward ran in eval mode, or this module ran 2 other forward passes "
            "since); call forward() again before backward()"
        )

    def _begin_backward(self, grad_output: Tensor) -> tuple[int, bool]:
        """(pass id, whether this call is the outermost backward and must end it)."""
        if PASSES.backward is not None:
            return PASSES.backward, False
        pass_id = self._choose_pass(grad_output)
        PASSES.backward = pass_id
        PASSES.backward_serial += 1
        return pass_id, True

    def _saved_tensors(self, grad_output: Tensor) -> tuple[Any, ...]:
        """What forward saved, after checking that grad_output fits the output."""
        name = type(self).__name__
        check_tensor(name, grad_output, "grad_output")
        if not self.training:
            raise RuntimeError(f"{name}: backward() in eval mode; call train() first")
        pass_id = PASSES.backward
        if pass_id is not None:  # inside a container's backward
            entry = self._take(pass_id)
        else:
            pass_id, _ = self._begin_backward(grad_output)
            try:
                entry = self._take(pass_id)
            finally:
                PASSES.backward = None
        out = entry.output
        if grad_output.dtype != out.dtype:
            raise TypeError(
                f"{name}: grad_output is {grad_output.dtype} but the output was {out.dtype}"
            )
        if grad_output.shape != out.shape:
            raise ShapeError(
                f"{name}: grad_output has shape {tuple(grad_output.shape)}, "
                f"but the output had shape {tuple(out.shape)}"
            )
        return entry.tensors
