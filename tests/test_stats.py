"""Paired and independent comparisons, verdicts with a borderline band, results files
(minidl/stats.py)."""

from __future__ import annotations

import json
import math
import os
import statistics
from pathlib import Path
from typing import Any

import pytest

from minidl.experiment import Result, reproduce
from minidl.stats import (
    best,
    describe,
    independent,
    load_results,
    mean_sd,
    paired,
    runners_up,
    verdict,
    write_json,
    z_score,
)


def test_mean_sd_is_the_sample_statistics() -> None:
    values = [1.0, 2.5, 4.0, 0.5]
    assert mean_sd(values) == pytest.approx((statistics.mean(values), statistics.stdev(values)))
    with pytest.raises(ValueError, match="at least 2"):
        mean_sd([1.0])


def test_paired_is_the_mean_and_standard_error_of_the_differences() -> None:
    a, b = [2.0, 3.0, 5.0, 4.0], [1.0, 2.5, 4.0, 4.5]
    d = [x - y for x, y in zip(a, b, strict=True)]
    mean, se = paired(a, b)
    assert mean == pytest.approx(statistics.mean(d))
    assert se == pytest.approx(statistics.stdev(d) / 2)


def test_pairing_removes_the_shared_spread() -> None:
    base = [1.0, 5.0, 2.0, 8.0, 3.0]
    a = [x + 0.5 for x in base]
    mean, se = paired(a, base)
    assert mean == pytest.approx(0.5) and se == pytest.approx(0.0, abs=1e-12)
    _, se_unpaired = independent(mean_sd(a), 5, mean_sd(base), 5)
    assert se_unpaired > 1


def test_paired_refuses_lists_of_other_lengths() -> None:
    with pytest.raises(ValueError, match="pair run by run"):
        paired([1.0, 2.0, 3.0], [1.0, 2.0])


def test_independent_standard_error() -> None:
    diff, se = independent((2.35, 1.07), 100, (2.38, 1.04), 100)
    assert diff == pytest.approx(-0.03)
    assert se == pytest.approx(math.sqrt((1.07**2 + 1.04**2) / 100))
    assert se == pytest.approx(0.149, abs=1e-3)  # "about 0.15 points"
    with pytest.raises(ValueError, match="at least 2"):
        independent((1.0, 1.0), 1, (1.0, 1.0), 100)


def test_z_score_edge_cases() -> None:
    assert z_score(1.0, 0.5) == 2.0
    assert z_score(0.0, 0.0) == 0.0
    assert z_score(-1.0, 0.0) == -math.inf


@pytest.mark.parametrize(
    ("z", "word"),
    [
        (0.0, "no measurable difference"),
        (1.69, "no measurable difference"),
        (1.71, "borderline"),
        (1.99, "borderline"),
        (2.0, "borderline"),
        (2.01, "borderline"),
        (2.29, "borderline"),
        (2.31, "higher"),
        (-2.31, "lower"),
        (-1.99, "borderline"),
        (9.0, "higher"),
    ],
)
def test_verdict_has_a_borderline_band_around_the_threshold(z: float, word: str) -> None:
    assert verdict(z * 0.1, 0.1) == word


def test_verdict_band_is_configurable_and_checked() -> None:
    assert verdict(2.1, 1.0, margin=0.0) == "higher"
    assert verdict(2.9, 1.0, threshold=3.0, margin=0.5) == "borderline"
    with pytest.raises(ValueError, match="margin"):
        verdict(1.0, 1.0, threshold=2.0, margin=2.0)


def test_describe_is_one_stable_line() -> None:
    assert describe(0.08, 0.0275) == "+0.08 ± 0.03 points (z = +2.91): higher"
    assert describe(-0.05, 0.031) == "-0.05 ± 0.03 points (z = -1.61): no measurable difference"


def fake(errors: list[float], lr: float) -> Result:
    n = len(errors)
    return Result(errors, errors, [0] * n, [False] * n, 1.0, {"lr": lr})


def test_best_and_runners_up() -> None:
    winner = fake([1.0, 2.0, 3.0, 2.0], 0.1)
    close = fake([1.1, 2.0, 2.9, 2.2], 0.2)  # +0.05, noisy: within noise
    far = fake([3.0, 4.0, 5.0, 4.1], 0.5)  # +2.0 on every run: measurably worse
    results = [close, winner, far]
    assert best(results) is winner
    ups = runners_up(results, winner)
    assert [r.config["lr"] for r, _, _ in ups] == [0.2]
    assert ups[0][1] == pytest.approx(0.05)
    with pytest.raises(ValueError, match="no results"):
        best([])


def test_results_round_trip_through_json(tmp_path: Path) -> None:
    result = reproduce(runs=3, epochs=2, n=50)
    path = tmp_path / "one.json"
    write_json(result.to_json(), path)
    back = load_results(path)
    assert isinstance(back, Result)
    assert back.to_json() == json.loads(json.dumps(result.to_json()))
    assert back.recipe == result.recipe
    write_json([result.to_json(), result.to_json()], path)
    both = load_results(path)
    assert isinstance(both, list) and len(both) == 2


def test_load_results_names_the_file_it_cannot_read(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"runs": 3}))
    with pytest.raises(ValueError, match=r"bad\.json.*per_run"):
        load_results(path)


def test_write_json_is_whole_or_nothing(tmp_path: Path) -> None:
    path = tmp_path / "out.json"
    write_json({"a": 1}, path)
    before = path.read_text()
    unserialisable: Any = {"a": object()}
    with pytest.raises(TypeError):
        write_json(unserialisable, path)
    assert path.read_text() == before  # the old file is untouched
    assert os.listdir(tmp_path) == ["out.json"]  # and no temporary file is left behind
    assert json.loads(before) == {"a": 1}


def test_results_dir_is_found_from_anywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from minidl.stats import results_dir

    monkeypatch.delenv("MINIDL_RESULTS", raising=False)
    monkeypatch.chdir(tmp_path)  # no results/ here: the one beside the package
    assert (results_dir() / "default.json").is_file()
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "default.json").write_text("{}")
    monkeypatch.setenv("MINIDL_RESULTS", str(mine))
    assert results_dir() == mine
    monkeypatch.setenv("MINIDL_RESULTS", str(tmp_path / "nowhere"))
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "default.json").write_text("{}")
    monkeypatch.chdir(tmp_path / "mine")  # a parent holds results/
    assert results_dir() == tmp_path / "results"
