"""The 100-run experiment, in miniature: reproduce() and its Result (minidl/experiment.py).

The JSON summary has the documented keys and consistent statistics, the seed fixes
everything, both engines give the same runs, recipes and overrides reach the config,
and unknown names are refused.
"""

from __future__ import annotations

import statistics
from typing import Any

import pytest
import torch

from minidl import experiment
from minidl.experiment import RECIPES, Result, reproduce
from minidl.train import History, train

SMALL: dict[str, Any] = dict(runs=4, epochs=3, n=100)


@pytest.fixture(scope="module")
def small() -> Result:
    return reproduce(**SMALL)


def without_seconds(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in summary.items() if k != "seconds"}


def test_json_summary_has_the_documented_keys(small: Result, json_keys: set[str]) -> None:
    summary = small.to_json()
    assert set(summary) == json_keys
    assert summary["runs"] == 4
    assert len(summary["per_run"]) == 4
    assert summary["seconds"] > 0
    for run in summary["per_run"]:
        assert set(run) == {"train_error", "test_error", "restarts", "diverged"}


def test_errors_are_percentages_of_whole_points(small: Result) -> None:
    n = SMALL["n"]
    for run in small.to_json()["per_run"]:
        for key in ("train_error", "test_error"):
            percent = run[key]
            assert 0 <= percent <= 100
            assert percent * n / 100 == pytest.approx(round(percent * n / 100), abs=1e-3)


def test_summary_statistics_match_the_runs(small: Result) -> None:
    summary = small.to_json()
    runs = summary["per_run"]
    for split in ("train", "test"):
        errors = [run[f"{split}_error"] for run in runs]
        assert summary[f"{split}_error_mean"] == pytest.approx(statistics.mean(errors))
        assert summary[f"{split}_error_std"] == pytest.approx(statistics.stdev(errors))
    assert summary["restarts"] == sum(run["restarts"] for run in runs)


def test_config_records_the_run(small: Result) -> None:
    config = small.to_json()["config"]
    assert {k: config[k] for k in SMALL} == SMALL
    assert config["seed"] == 0
    assert config["engine"] == "replicas"
    assert config["lr"] == RECIPES["default"].lr


def test_same_seed_same_result(small: Result) -> None:
    again = reproduce(**SMALL)
    assert without_seconds(again.to_json()) == without_seconds(small.to_json())


def test_different_seed_different_result(small: Result) -> None:
    other = reproduce(**SMALL, seed=1)
    assert other.to_json()["config"]["seed"] == 1
    assert other.train_errors + other.test_errors != small.train_errors + small.test_errors


def test_engines_agree() -> None:
    kw: dict[str, Any] = dict(SMALL, batch_size=20, dtype=torch.float64, seed=3)
    batched = reproduce(**kw, engine="replicas")
    looped = reproduce(**kw, engine="loop")
    assert looped.config["engine"] == "loop"
    assert looped.train_errors == batched.train_errors
    assert looped.test_errors == batched.test_errors
    assert looped.restarts == batched.restarts


def test_engine_loop_runs_the_loop_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    engines: list[str] = []

    def spy(*args: Any, **kwargs: Any) -> History:
        engines.append(kwargs["engine"])
        return train(*args, **kwargs)

    monkeypatch.setattr(experiment, "train", spy)
    reproduce(runs=2, epochs=1, n=10, engine="loop")
    reproduce(runs=2, epochs=1, n=10, engine="replicas")
    assert engines == ["loop", "replicas"]


def test_recipes_differ_in_config() -> None:
    report = reproduce(**SMALL, recipe="report").config
    default = reproduce(**SMALL, recipe="default").config
    assert set(report) == set(default)
    assert report != default
    assert report["standardize"] is False
    assert default["standardize"] is True


def test_lr_and_momentum_override_the_recipe() -> None:
    config = reproduce(runs=1, epochs=1, n=20, lr=0.125, momentum=0.0).config
    assert config["lr"] == 0.125
    assert config["momentum"] == 0.0


def test_on_epoch_is_called_once_per_epoch() -> None:
    seen: list[int] = []
    reproduce(runs=2, epochs=3, n=20, on_epoch=seen.append)
    assert seen == [0, 1, 2]


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        (dict(recipe="nope"), "recipe.*nope"),
        (dict(engine="nope"), "engine.*nope"),
        (dict(runs=0), "runs"),
        (dict(epochs=0), "epochs"),
        (dict(loss="hinge"), "loss.*hinge"),
    ],
)
def test_unknown_names_and_bad_sizes_raise(change: dict[str, Any], pattern: str) -> None:
    kw: dict[str, Any] = dict(runs=1, epochs=1, n=10)
    kw.update(change)
    with pytest.raises(ValueError, match=pattern):
        reproduce(**kw)


def test_result_keeps_the_standardiser_of_each_run() -> None:
    result = reproduce(**SMALL)
    assert result.standardizer is not None
    mean, std = result.standardizer
    x = result.data[0]
    assert mean.shape == std.shape == (4, 1, 2)
    assert torch.allclose(x.mean(dim=1), torch.zeros(4, 2), atol=1e-5)
    assert reproduce(**SMALL, standardize=False).standardizer is None
