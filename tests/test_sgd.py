"""minidl.SGD follows torch.optim.SGD step for step (PyTorch's momentum convention).

Each side computes its own gradients: minidl by backward(), torch by autograd on a
torch.nn copy of the same initial weights. Both see the same 50 batches.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.testing import assert_close

import minidl

F64 = torch.float64
STEPS, LR = 50, 0.05


def batches(seed: int, replicas: int | None = None) -> list[tuple[Tensor, Tensor]]:
    g = torch.Generator().manual_seed(seed)
    lead = () if replicas is None else (replicas,)
    return [
        (
            torch.randn((*lead, 8, 3), generator=g, dtype=F64),
            torch.randn((*lead, 8, 2), generator=g, dtype=F64),
        )
        for _ in range(STEPS)
    ]


def minidl_mlp(replicas: int | None = None, seed: int = 0) -> minidl.Sequential:
    g = torch.Generator().manual_seed(seed)
    return minidl.Sequential(
        minidl.Linear(3, 5, "tanh", replicas=replicas, generator=g, dtype=F64),
        minidl.Tanh(),
        minidl.Linear(5, 2, replicas=replicas, generator=g, dtype=F64),
    )


def torch_copy(net: minidl.Sequential, replica: int | None = None) -> nn.Sequential:
    """A torch.nn network holding a copy of net's (or of one replica's) weights."""
    twin = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2)).to(F64)
    for theirs, ours in zip(twin.parameters(), net.params(), strict=True):
        theirs.data.copy_(ours.value if replica is None else ours.value[replica])
    return twin


def minidl_step(net: minidl.Sequential, opt: minidl.SGD, x: Tensor, t: Tensor) -> None:
    loss_fn = minidl.MSELoss()
    opt.zero_grad()
    loss_fn(net(x), t)
    net.backward(loss_fn.backward())
    opt.step()


def torch_step(net: nn.Sequential, opt: torch.optim.SGD, x: Tensor, t: Tensor) -> None:
    with torch.enable_grad():
        opt.zero_grad()
        F.mse_loss(net(x), t).backward()
        opt.step()


@pytest.mark.parametrize("momentum", [0.0, 0.2, 0.9])
def test_sgd_matches_torch_for_50_steps(momentum: float) -> None:
    net = minidl_mlp()
    twin = torch_copy(net)
    start = [p.value.clone() for p in net.params()]
    opt = minidl.SGD(net.params(), lr=LR, momentum=momentum)
    torch_opt = torch.optim.SGD(twin.parameters(), lr=LR, momentum=momentum)

    for x, t in batches(seed=1):
        minidl_step(net, opt, x, t)
        torch_step(twin, torch_opt, x, t)

    for ours, theirs, first in zip(net.params(), twin.parameters(), start, strict=True):
        assert float((ours.value - first).abs().max()) > 1e-3  # training really moved it
        assert_close(ours.value, theirs.detach(), rtol=0, atol=1e-9)


def test_replicas_train_like_separate_runs() -> None:
    """R replicas on R data streams end where R separate torch runs end."""
    replicas = 3
    net = minidl_mlp(replicas)
    twins = [torch_copy(net, r) for r in range(replicas)]
    opt = minidl.SGD(net.params(), lr=LR, momentum=0.2)
    torch_opts = [torch.optim.SGD(tw.parameters(), lr=LR, momentum=0.2) for tw in twins]

    for x, t in batches(seed=2, replicas=replicas):
        minidl_step(net, opt, x, t)
        for r in range(replicas):
            torch_step(twins[r], torch_opts[r], x[r], t[r])

    for r in range(replicas):
        for ours, theirs in zip(net.params(), twins[r].parameters(), strict=True):
            assert_close(ours.value[r], theirs.detach(), rtol=0, atol=1e-9)


def test_zero_grad_clears_the_gradients() -> None:
    net = minidl_mlp()
    opt = minidl.SGD(net.params(), lr=LR)
    x, t = batches(seed=3)[0]
    loss_fn = minidl.MSELoss()
    loss_fn(net(x), t)
    net.backward(loss_fn.backward())
    assert all(bool(p.grad.abs().sum() > 0) for p in net.params())

    opt.zero_grad()

    assert all(bool((p.grad == 0).all()) for p in net.params())
