"""Shared test settings and helpers: autograd is off in every test, hypothesis stays quick.

minidl must work with autograd globally off (the course rule), so every test starts
with `torch.set_grad_enabled(False)`. Reference computations that need autograd opt
in locally with `with torch.enable_grad():`, which restores the off state on exit.
The helpers that several test files use live here too (`from conftest import gen`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import torch
from hypothesis import settings

import minidl
from minidl.recipes import Recipe

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


# Helpers ------------------------------------------------------------------------------

# The report's 2-25-25-25-1 network (ELU, ReLU, SELU, sigmoid) with N(0, 1) biases.
REPORT_RECIPE = Recipe(lr=0.5, bias_std=1.0)


def gen(seed: int = 0) -> torch.Generator:
    """A CPU generator seeded with seed: every random draw in the tests takes one."""
    return torch.Generator().manual_seed(seed)


def make_stuck(model: minidl.Sequential, r: int | None = None) -> None:
    """Silence the network (or its replica r): a zero last layer and bias -50.

    The sigmoid then says ~1e-22 everywhere, the gradient vanishes, the loss is flat and
    the error is the share of positive points.
    """
    last = model[-2]
    assert isinstance(last, minidl.Linear)
    w, b = last.weight.value, last.bias.value
    (w if r is None else w[r]).zero_()
    (b if r is None else b[r]).fill_(-50.0)


def stub(*args: Any, **kwargs: Any) -> Any:
    """A learner's function before it is written (the student edition's stub)."""
    raise NotImplementedError("not implemented yet")


def fails_with(check: Callable[..., None], *args: Any, match: str, **kwargs: Any) -> None:
    """The self-check stops with an AssertionError whose message matches `match`."""
    with pytest.raises(AssertionError, match=match):
        check(*args, **kwargs)


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


# Per-notebook markers: `pytest -m nb03` runs the tests of what notebooks/03_activations
# derives, so a learner or a teacher can check one unit at a time. A test gets the marker of a
# notebook named in its id (e.g. [03_activations]), of its file, and of every notebook whose
# words are among the words of its id (file, test name and parameters, lower case).
NOTEBOOK_FILES: dict[str, tuple[str, ...]] = {
    "test_data.py": ("nb00",),
    "test_course_rule.py": ("nb00",),
    "test_testing.py": ("nb01",),
    "test_gradcheck.py": ("nb01",),
    "test_init.py": ("nb02",),
    "test_sgd.py": ("nb06",),
    "test_train.py": ("nb07",),
    "test_replicas.py": ("nb08",),
    "test_experiment.py": ("nb09", "nb10"),
    "test_stats.py": ("nb09", "nb10"),
    "test_cli.py": ("nb10",),
}
NOTEBOOK_WORDS: dict[str, set[str]] = {
    "nb00": {"disk", "dataset", "standardize", "standardizer", "permutation", "rule"},
    "nb01": {"linear", "parameter", "parameters", "param", "params", "module", "zero", "grad"},
    "nb02": {"gain", "xavier", "init", "initialization"},
    "nb03": {"relu", "tanh", "elu", "selu", "sigmoid", "leaky", "leakyrelu", "activation"}
    | {"activations", "derivative"},
    "nb04": {"loss", "losses", "mse", "bce", "mseloss", "bceloss", "crossentropyloss", "cross"},
    "nb05": {"sequential", "network", "state", "dict"},
    "nb06": {"sgd", "momentum", "optimizer", "velocity"},
    "nb07": {"train", "training", "restart", "history", "epoch", "error", "rate"},
    "nb08": {"replica", "replicas", "engine", "engines", "loop"},
    "nb09": {"recipe", "recipes", "sweep", "ablation", "selection", "validation"},
    "nb10": {"reproduce", "reproduction", "report", "code"},
}


def pytest_configure(config: pytest.Config) -> None:
    for marker in NOTEBOOK_WORDS:
        config.addinivalue_line(
            "markers", f"{marker}: tests of what notebook {marker[2:]} derives"
        )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        nodeid = item.nodeid.lower()
        markers = set(NOTEBOOK_FILES.get(item.path.name, ()))
        markers |= {f"nb{n}" for n in re.findall(r"\b(\d\d)_[a-z]", nodeid)}
        words = set(re.split(r"[^a-z0-9]+", nodeid))
        markers |= {marker for marker, keys in NOTEBOOK_WORDS.items() if words & keys}
        for marker in sorted(markers & NOTEBOOK_WORDS.keys()):
            item.add_marker(getattr(pytest.mark, marker))
