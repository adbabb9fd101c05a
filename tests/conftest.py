"""Shared test settings: autograd is off in every test, hypothesis stays quick.

minidl must work with autograd globally off (the course rule), so every test starts
with `torch.set_grad_enabled(False)`. Reference computations that need autograd opt
in locally with `with torch.enable_grad():`, which restores the off state on exit.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
import torch
from hypothesis import settings

import minidl

settings.register_profile("default", max_examples=30, deadline=None)
settings.register_profile("thorough", max_examples=500, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(autouse=True)
def grad_off() -> Iterator[None]:
    """Run the test with autograd off; fail it if autograd is left switched on."""
    previous = torch.is_grad_enabled()
    torch.set_grad_enabled(False)
    yield
    left_on = torch.is_grad_enabled()
    torch.set_grad_enabled(previous)
    assert not left_on, "autograd was switched back on during the test"


ReportNetFactory = Callable[..., minidl.Sequential]


def report_network(
    *,
    dtype: torch.dtype = torch.float64,
    generator: torch.Generator | None = None,
    replicas: int | None = None,
) -> minidl.Sequential:
    """The report's 2-25-25-25-1 network: ELU, ReLU, SELU, Sigmoid after the layers."""

    def linear(n_in: int, n_out: int, nonlinearity: str) -> minidl.Linear:
        return minidl.Linear(
            n_in, n_out, nonlinearity, replicas=replicas, generator=generator, dtype=dtype
        )

    return minidl.Sequential(
        linear(2, 25, "elu"),
        minidl.ELU(),
        linear(25, 25, "relu"),
        minidl.ReLU(),
        linear(25, 25, "selu"),
        minidl.SELU(),
        linear(25, 1, "sigmoid"),
        minidl.Sigmoid(),
    )


@pytest.fixture(scope="session")
def make_report_net() -> ReportNetFactory:
    """A factory for the report's network: make_report_net(dtype=, generator=, replicas=)."""
    return report_network


@pytest.fixture(scope="session")
def json_keys() -> set[str]:
    """The keys of `python -m minidl reproduce --json` and Result.to_json()."""
    return {
        "runs",
        "train_error_mean",
        "train_error_std",
        "test_error_mean",
        "test_error_std",
        "restarts",
        "seconds",
        "config",
        "per_run",
    }
