"""Comparing many-run results: differences, their verdicts, and the results files.

Paired and independent differences of means with their standard errors, verdicts with a
borderline band, and results files read back and written whole. Error rates here are in
percent, as in Result.

Derived in notebooks/09_recipes.ipynb (used in notebooks/10_reproduction.ipynb).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .experiment import Result


def mean_sd(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (n - 1) of at least two numbers.

    Raises:
        ValueError: fewer than two values.
    """
    n = len(values)
    if n < 2:
        raise ValueError(f"mean_sd: needs at least 2 values, got {n}")
    mean = math.fsum(values) / n
    return mean, math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))


def paired(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """Mean of d_r = a_r - b_r and its standard error s_d / sqrt(n).

    For two settings whose run r saw the same data (same seed, same process), so that the
    spread shared by both cancels.

    Args:
        a: one value per run (a Result's test_errors, say).
        b: the value of the same runs under the other setting.

    Returns:
        (mean difference, its standard error).

    Raises:
        ValueError: lists of other lengths, or fewer than 2 runs.
    """
    if len(a) != len(b):
        raise ValueError(f"paired: a has {len(a)} runs and b has {len(b)}; pair run by run")
    mean, sd = mean_sd([x - y for x, y in zip(a, b, strict=True)])
    return mean, sd / math.sqrt(len(a))


def independent(
    a: tuple[float, float], n_a: int, b: tuple[float, float], n_b: int
) -> tuple[float, float]:
    """m_a - m_b and its standard error sqrt(s_a^2 / n_a + s_b^2 / n_b), runs independent.

    For figures that cannot be paired: a published one, or runs of another process or CPU.

    Args:
        a: (mean, sd) over n_a runs.
        n_a: the number of runs behind a, >= 2.
        b: (mean, sd) over n_b runs.
        n_b: the number of runs behind b, >= 2.

    Returns:
        (difference of the means, its standard error).

    Raises:
        ValueError: fewer than 2 runs on either side.
    """
    if n_a < 2 or n_b < 2:
        raise ValueError(f"independent: needs at least 2 runs each, got {n_a} and {n_b}")
    return a[0] - b[0], math.sqrt(a[1] ** 2 / n_a + b[1] ** 2 / n_b)


def z_score(difference: float, se: float) -> float:
    """difference / se (0 when both are 0; +-inf for a difference without spread)."""
    if se > 0:
        return difference / se
    return 0.0 if difference == 0 else math.copysign(math.inf, difference)


def verdict(difference: float, se: float, *, threshold: float = 2.0, margin: float = 0.3) -> str:
    """Verdict "lower" or "higher" for |z| > threshold + margin, z = difference / se.

    "no measurable difference" for |z| < threshold - margin, else "borderline". The
    band keeps a verdict from flipping when the data move a little (another CPU, one more
    rounding): a z of 1.9 or 2.1 reads "borderline", never "higher" on one machine and
    "no measurable difference" on the next.

    Args:
        difference: a difference of means (percentage points).
        se: its standard error.
        threshold: the |z| that separates the verdicts.
        margin: the half-width of the "borderline" band around threshold.

    Raises:
        ValueError: unless 0 <= margin < threshold.
    """
    if not 0 <= margin < threshold:
        raise ValueError(f"verdict: need 0 <= margin < threshold, got {margin} and {threshold}")
    z = abs(z_score(difference, se))
    if z > threshold + margin:
        return "lower" if difference < 0 else "higher"
    return "no measurable difference" if z < threshold - margin else "borderline"


def describe(difference: float, se: float, **band: float) -> str:
    """One line: "+0.08 ± 0.03 points (z = +2.91): higher" (verdict's keywords pass through).

    z is shown to two decimals, so that a value near a threshold of verdict() reads as
    its side of it (z = +2.31 is "higher", z = +2.29 "borderline").
    """
    z = z_score(difference, se)
    return f"{difference:+.2f} ± {se:.2f} points (z = {z:+.2f}): {verdict(difference, se, **band)}"


def best(results: Sequence[Result]) -> Result:
    """The result with the lowest mean test error (the first of equals).

    Raises:
        ValueError: no results.
    """
    if not results:
        raise ValueError("best: no results to choose from")
    return min(results, key=lambda r: r.test_error_mean_sd[0])


def runners_up(
    results: Sequence[Result], winner: Result, **band: float
) -> list[tuple[Result, float, float]]:
    """(result, difference, se) of the others whose verdict against the winner is not "higher".

    That is, within noise of the winner or borderline; differences of the test errors,
    paired run by run, so the runs must share their seed. `band` passes to verdict().
    """
    close = []
    for r in results:
        if r is not winner:
            diff, se = paired(r.test_errors, winner.test_errors)
            if verdict(diff, se, **band) != "higher":
                close.append((r, diff, se))
    return close


def load_results(path: str | os.PathLike[str]) -> Result | list[Result]:
    """A results file of `python -m minidl reproduce|sweep --json`, read back.

    Returns:
        One Result (reproduce), or a list of them, one per learning rate (sweep).

    Raises:
        ValueError: the file holds neither; the message names it.
    """
    with open(path) as f:
        data = json.load(f)
    try:
        if isinstance(data, list):
            return [Result.from_json(d) for d in data]
        return Result.from_json(data)
    except ValueError as error:
        raise ValueError(f"load_results: {os.fspath(path)}: {error}") from None


def write_json(payload: Any, path: str | os.PathLike[str]) -> None:
    """Write payload as JSON whole or not at all: a temporary file, renamed into place."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".json")
    try:
        os.fchmod(fd, 0o644)  # as an ordinary file (mkstemp makes it private)
        with os.fdopen(fd, "w") as f:
            json.dump(payload, f, indent=1)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def results_dir() -> Path:
    """The folder that `make results` writes, found from wherever Python runs.

    Tried in order: $MINIDL_RESULTS; results/ in the working directory or the nearest
    parent that has one (a notebook runs in notebooks/); results/ beside the package's
    folder (an editable install of the repository). Raises FileNotFoundError naming them.
    Used by notebooks/09_recipes.ipynb and notebooks/10_reproduction.ipynb.
    """
    tried = []
    if os.environ.get("MINIDL_RESULTS"):
        tried.append(Path(os.environ["MINIDL_RESULTS"]))
    here = Path.cwd().resolve()
    tried += [folder / "results" for folder in (here, *here.parents)]
    tried.append(Path(__file__).resolve().parent.parent / "results")
    for folder in tried:
        if (folder / "default.json").is_file():
            return folder
    raise FileNotFoundError(
        "results_dir: no results/ with default.json in $MINIDL_RESULTS, the working directory "
        f"or its parents, or beside the package ({tried[-1]}); run `make results`"
    )
