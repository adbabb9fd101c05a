"""The report's 100-run experiment, run as R replicas in one pass (or one network at a time).

minidl's replicas are what torch calls model ensembling: R copies of one architecture
stacked along a new leading dimension (torch.func.stack_module_state) and run in one pass
(torch.func.vmap); here each layer holds the stacked parameters itself, and a batched
product does what vmap does. Recipes are selected in notebooks/09_recipes.ipynb; the
published figures are reproduced in notebooks/10_reproduction.ipynb (replicas in
notebooks/08_replicas.ipynb).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from .checks import ArgumentError, check_size
from .data import disk_dataset, fit_scalar_standardizer, fit_standardizer, standardize
from .module import Module
from .optim import SGD
from .recipes import ACTIVATIONS as ACTIVATIONS
from .recipes import LOSSES as LOSSES
from .recipes import RECIPES as RECIPES
from .recipes import REPORT_TEST_ERROR as REPORT_TEST_ERROR
from .recipes import REPORT_TRAIN_ERROR as REPORT_TRAIN_ERROR
from .recipes import SCALINGS as SCALINGS
from .recipes import TASKS as TASKS
from .recipes import TRAIN_COUNTS as TRAIN_COUNTS
from .recipes import Recipe as Recipe
from .recipes import SigmoidBCELoss as SigmoidBCELoss
from .recipes import build_network as build_network
from .recipes import check_recipe as check_recipe
from .train import ENGINES as ENGINES
from .train import History, RestartRule, _wrong, error_rate, train


@dataclass
class Result:
    """What reproduce() measured: one entry per run, errors in PERCENT (4.2 is 4.2 %).

    History holds fractions; reproduce() turns the final ones into exact percentages of
    the n points. train_errors and test_errors list one error per run;
    train_error_mean_sd and test_error_mean_sd give (mean, sd) over the runs. to_json()
    and from_json() write and read the summary that `python -m minidl reproduce --json`
    writes (its keys: train_error_mean, train_error_std, per_run, ...).
    Derived in notebooks/09_recipes.ipynb.
    """

    train_errors: list[float]  # one per run, in percent
    test_errors: list[float]  # one per run, in percent
    restarts: list[int]  # how many times each run's network was redrawn
    diverged: list[bool]  # whether each run's loss was ever non-finite
    seconds: float  # wall time of the training
    config: dict[str, Any] = field(default_factory=dict)  # the run's settings and Recipe
    model: Module | None = field(default=None, repr=False)  # the trained replicas
    data: tuple[Tensor, ...] = field(default=(), repr=False)  # x, target, x_test, y_test, as fed
    standardizer: tuple[Tensor, Tensor] | None = field(default=None, repr=False)  # the train's
    history: History | None = field(default=None, repr=False)

    @staticmethod
    def _mean_std(values: list[float]) -> tuple[float, float]:
        mean = sum(values) / len(values)
        var = sum((v - mean) ** 2 for v in values) / max(len(values) - 1, 1)
        return mean, var**0.5

    @property
    def train_error_mean_sd(self) -> tuple[float, float]:
        """(mean, sample standard deviation) of train_errors over the runs, in percent."""
        return self._mean_std(self.train_errors)

    @property
    def test_error_mean_sd(self) -> tuple[float, float]:
        """(mean, sample standard deviation) of test_errors over the runs, in percent."""
        return self._mean_std(self.test_errors)

    @classmethod
    def from_json(cls, summary: dict[str, Any]) -> Result:
        """A Result back from `to_json()`'s summary (no model, data, standardiser or history).

        Raises:
            ValueError: the summary is not one of a run; the message names the missing key.
        """
        try:
            per_run = summary["per_run"]
            return cls(
                train_errors=[float(p["train_error"]) for p in per_run],
                test_errors=[float(p["test_error"]) for p in per_run],
                restarts=[int(p["restarts"]) for p in per_run],
                diverged=[bool(p["diverged"]) for p in per_run],
                seconds=float(summary["seconds"]),
                config=dict(summary["config"]),
            )
        except (KeyError, TypeError) as error:
            raise ValueError(
                f"Result.from_json: not a summary of `reproduce --json` (missing {error})"
            ) from None

    @property
    def recipe(self) -> Recipe:
        """The Recipe the runs were trained with, rebuilt from the config."""
        names = {f.name for f in dataclasses.fields(Recipe)}
        fields = {k: v for k, v in self.config.items() if k in names}
        if "hidden" in fields:
            fields["hidden"] = tuple(fields["hidden"])
        return Recipe(**fields)

    def to_json(self) -> dict[str, Any]:
        """The summary that `python -m minidl reproduce --json PATH` writes."""
        return {
            "runs": len(self.train_errors),
            "train_error_mean": self.train_error_mean_sd[0],
            "train_error_std": self.train_error_mean_sd[1],
            "test_error_mean": self.test_error_mean_sd[0],
            "test_error_std": self.test_error_mean_sd[1],
            "restarts": sum(self.restarts),
            "seconds": self.seconds,
            "config": self.config,
            "per_run": [
                {"train_error": a, "test_error": b, "restarts": r, "diverged": d}
                for a, b, r, d in zip(
                    self.train_errors,
                    self.test_errors,
                    self.restarts,
                    self.diverged,
                    strict=True,
                )
            ],
        }


def _error(model: Module, x: Tensor, y: Tensor, band: float | None) -> Tensor:
    """Error rate: threshold 0.5 (error_rate), or |output - y| > band (the report's code)."""
    if band is None:
        return error_rate(model, x, y)
    return _wrong(model(x), y, band).to(x.dtype).mean(dim=-1)


def _percent(rate: Tensor, n: int) -> list[float]:
    """Error rates as exact percentages of n points (42 wrong of 1000 -> 4.2)."""
    return [round(r * n) * 100 / n for r in rate.tolist()]


def reproduce(
    runs: int = 100,
    epochs: int = 100,
    batch_size: int = 100,
    n: int = 1000,
    lr: float | None = None,
    momentum: float | None = None,
    recipe: str | Recipe = "default",
    seed: int = 0,
    engine: str = "replicas",
    device: str = "cpu",
    dtype: torch.dtype = torch.float32,
    on_epoch: Callable[[int], None] | None = None,
    **changes: Any,
) -> Result:
    """Train `runs` networks, each on its own fresh train and test set of n points.

    The recipe fixes the network and training choices; lr, momentum and any Recipe field
    given as a keyword override it. The same seed gives the same data, initial weights
    and batches with either engine; restarts draw from a stream of their own, so one
    network's restart leaves the others' runs unchanged.

    Args:
        runs: R, the number of networks, an integer >= 1.
        epochs: passes over each train set, an integer >= 1.
        batch_size: points per step, an integer >= 1.
        n: points in each train set and in each test set, an integer >= 1.
        lr: the learning rate (None: the recipe's).
        momentum: the momentum (None: the recipe's).
        recipe: a name in RECIPES, or a Recipe.
        seed: seeds the data, the initial weights and the batches (the redraws use
            seed + 2^32).
        engine: "replicas" (all R networks in one pass) or "loop" (one at a time).
        device: where to train, "cpu" or another torch device.
        dtype: of the data and parameters.
        on_epoch: called as on_epoch(epoch) after each epoch (a progress bar).
        **changes: Recipe fields to change, such as bias_std=0.0.

    Returns:
        The Result, R train and test errors in percent, with the model, data and History.

    Raises:
        ArgumentError: a bad size, engine, recipe name or recipe value.
        TypeError: a keyword that is not a Recipe field.

    Derived in notebooks/09_recipes.ipynb (as replicas in notebooks/08_replicas.ipynb).
    """
    for name, value in (("runs", runs), ("epochs", epochs), ("batch_size", batch_size), ("n", n)):
        check_size("reproduce", name, value)
    if engine not in ENGINES:
        raise ArgumentError(f"reproduce: engine must be one of {ENGINES}, got {engine!r}")
    if isinstance(recipe, str):
        if recipe not in RECIPES:
            raise ArgumentError(f"reproduce: unknown recipe {recipe!r}; one of {list(RECIPES)}")
        recipe = RECIPES[recipe]
    if lr is not None:
        changes["lr"] = lr
    if momentum is not None:
        changes["momentum"] = momentum
    recipe = dataclasses.replace(recipe, **changes)
    check_recipe(recipe, "reproduce")

    g = torch.Generator(device).manual_seed(seed)
    restart_g = torch.Generator(device).manual_seed(seed + 2**32)  # redraws: their own stream
    center, radius = TASKS[recipe.task]
    data_kw: dict[str, Any] = dict(
        center=center, radius=radius, generator=g, replicas=runs, dtype=dtype, device=device
    )
    x, y = disk_dataset(n, **data_kw)
    x_test, y_test = disk_dataset(n, **data_kw)
    standardizer = None
    if recipe.standardize and recipe.scaling == "feature":  # each run's own train statistics
        standardizer = mean, std = fit_standardizer(x)
        x, x_test = standardize(x, mean, std), standardize(x_test, mean, std)
    elif recipe.standardize:  # the code: one scalar mean and sd, each set with its own
        standardizer = fit_scalar_standardizer(x)
        x, x_test = (
            standardize(x, *standardizer),
            standardize(x_test, *fit_scalar_standardizer(x_test)),
        )
    target = y if recipe.target_scale == 1 else y * recipe.target_scale
    band = recipe.error_band or None
    model = build_network(recipe, replicas=runs, generator=g, dtype=dtype, device=device)
    optimizer = SGD(model.params(), recipe.lr, recipe.momentum)
    rule = RestartRule(tol=recipe.restart_tol, generator=restart_g) if recipe.restart else None
    start = time.perf_counter()
    history = train(
        model,
        LOSSES[recipe.loss](),
        optimizer,
        x,
        target,
        epochs=epochs,
        batch_size=batch_size,
        generator=g,
        restart=rule,
        engine=engine,
        on_epoch=on_epoch,
        shuffle=recipe.shuffle,
        error_band=band,
    )
    seconds = time.perf_counter() - start
    config = dict(
        runs=runs,
        epochs=epochs,
        batch_size=batch_size,
        n=n,
        seed=seed,
        engine=engine,
        device=str(device),
        dtype=str(dtype).removeprefix("torch."),
        **dataclasses.asdict(recipe),
    )
    if recipe.train_count == "last-epoch":
        train_rate = history.train_error[-1]  # running, while the weights still moved
    else:
        train_rate = _error(model, x, target, band)
    return Result(
        train_errors=_percent(train_rate, n),
        test_errors=_percent(_error(model, x_test, y_test, band), n),
        restarts=history.restarts.tolist(),
        diverged=history.diverged.tolist(),
        seconds=seconds,
        config=config,
        model=model,
        data=(x, target, x_test, y_test),
        standardizer=standardizer,
        history=history,
    )
