"""The command line, python -m minidl reproduce | sweep (minidl/__main__.py).

Mostly in-process through main(argv), which is fast (argparse's exit status arrives as
SystemExit(2)); one real subprocess checks that `python -m minidl` itself runs. The
figures printed for minidl are checked against the JSON that the same call writes.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from minidl.__main__ import main
from minidl.recipes import REPORT_TEST_ERROR
from minidl.stats import describe, independent

QUICK = ["--runs", "3", "--epochs", "2", "--no-progress"]
FIGURE = r"(\d+\.\d+) ± (\d+\.\d+)"  # a table cell: mean ± sd


def printed_row(out: str, name: str) -> tuple[list[str], int]:
    """The four figures (train mean, sd, test mean, sd) and the restarts of a table row."""
    row = next(line for line in out.splitlines() if line.startswith(name))
    restarts = re.search(r"restarts (\d+),", row)
    assert restarts, row
    return [f for cell in re.findall(FIGURE, row) for f in cell], int(restarts[1])


def json_row(summary: dict[str, Any]) -> tuple[list[str], int]:
    """The same figures from the JSON summary, formatted as the table prints them."""
    keys = ("train_error_mean", "train_error_std", "test_error_mean", "test_error_std")
    return [f"{summary[k]:.2f}" for k in keys], summary["restarts"]


def test_reproduce_prints_the_table_and_writes_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], json_keys: set[str]
) -> None:
    path = tmp_path / "result.json"
    assert main(["reproduce", *QUICK, "--json", str(path)]) == 0
    out = capsys.readouterr().out
    report = next(line for line in out.splitlines() if line.startswith("report"))
    assert re.findall(r"\d+\.\d+", report) == ["0.92", "0.36", "2.38", "1.04"]  # train, test
    summary = json.loads(path.read_text())
    assert set(summary) == json_keys
    assert summary["runs"] == 3
    assert summary["config"]["epochs"] == 2
    assert len(summary["per_run"]) == 3
    assert printed_row(out, "minidl") == json_row(summary)
    mean_sd = (summary["test_error_mean"], summary["test_error_std"])
    distance = describe(*independent(mean_sd, 3, REPORT_TEST_ERROR, 100))
    assert f"test error - the report's: {distance} (independent means)" in out


def test_sweep_prints_one_row_per_lr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], json_keys: set[str]
) -> None:
    path = tmp_path / "sweep.json"
    argv = ["sweep", "--lr", "0.1", "0.5", "--runs", "2", "--epochs", "2", "--no-progress"]
    assert main([*argv, "--json", str(path)]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("lr ")]
    assert [row.split()[1] for row in rows] == ["0.1", "0.5"]
    summaries = json.loads(path.read_text())
    assert [s["config"]["lr"] for s in summaries] == [0.1, 0.5]
    assert all(set(s) == json_keys for s in summaries)
    for lr, summary in zip(["0.1", "0.5"], summaries, strict=True):
        assert printed_row(out, f"lr {lr} ") == json_row(summary)


def test_one_run_prints_no_spread(capsys: pytest.CaptureFixture[str]) -> None:
    """One run has no standard deviation: the table says so instead of printing 0.00."""
    assert main(["reproduce", "--runs", "1", "--epochs", "1", "--no-progress"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("minidl"))
    assert re.fullmatch(r"minidl\s+\d+\.\d\d ± -\s+\d+\.\d\d ± -\s+restarts \d+, .*", row), row


def test_progress_bar_goes_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("tqdm")
    assert main(["reproduce", "--runs", "1", "--epochs", "2"]) == 0
    captured = capsys.readouterr()
    assert "0.92" in captured.out
    assert "2/2" in captured.err  # tqdm's counter
    assert "2/2" not in captured.out


def test_runs_without_tqdm(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """torch is the only declared dependency (tqdm is in the notebooks extra), so the
    default command, which shows a progress bar, must still run without tqdm."""
    monkeypatch.setitem(sys.modules, "tqdm", None)  # `import tqdm` now raises ImportError
    assert main(["reproduce", "--runs", "1", "--epochs", "1"]) == 0
    assert "0.92" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        ["reproduce", "--runs", "0"],
        ["reproduce", "--runs", "abc"],
        ["reproduce", "--epochs", "-3"],
        ["reproduce", "--batch-size", "0"],
        ["reproduce", "--lr", "-1"],
        ["reproduce", "--lr", "0"],
        ["reproduce", "--lr", "inf"],
        ["reproduce", "--set", "lr=-1"],
        ["reproduce", "--set", "momentum=1.5"],
        ["reproduce", "--set", "loss=foo"],
        ["reproduce", "--set", "task=disk2"],
        ["reproduce", "--set", "hidden=relu,foo"],
        ["reproduce", "--set", "width=0"],
        ["reproduce", "--set", "bias_std=-1"],
        ["sweep", "--lr", "0.1", "nan"],
        ["reproduce", "--momentum", "1.0"],
        ["reproduce", "--momentum", "-0.1"],
        ["reproduce", "--engine", "foo"],
        ["reproduce", "--recipe", "foo"],
        ["reproduce", "--device", "foo"],
        ["sweep", "--runs", "2"],  # sweep needs --lr
        ["frobnicate"],
        [],
    ],
    ids=" ".join,
)
def test_bad_arguments_exit_2_with_usage(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    if argv[:1] == ["reproduce"]:  # small and quiet, should a bad argument slip through
        argv = ["reproduce", *QUICK, *argv[1:]]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert "usage:" in captured.err
    assert captured.out == ""


def python_m_minidl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "minidl", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_subprocess_reproduce(tmp_path: Path) -> None:
    path = tmp_path / "result.json"
    argv = ["reproduce", "--runs", "2", "--epochs", "1", "--no-progress", "--json", str(path)]
    done = python_m_minidl(*argv)
    assert done.returncode == 0, done.stderr
    assert "0.92" in done.stdout
    assert "2.38" in done.stdout
    assert printed_row(done.stdout, "minidl") == json_row(json.loads(path.read_text()))


def test_set_changes_recipe_fields(tmp_path: Path) -> None:
    path = tmp_path / "set.json"
    changes = ["--set", "hidden=tanh,relu,elu", "--set", "use_gain=false", "--set", "bias_std=0.5"]
    assert main(["reproduce", *QUICK, *changes, "--json", str(path)]) == 0
    config = json.loads(path.read_text())["config"]
    assert config["hidden"] == ["tanh", "relu", "elu"]
    assert config["use_gain"] is False
    assert config["bias_std"] == 0.5


def test_set_lr_and_momentum_are_recipe_fields_too(tmp_path: Path) -> None:
    path = tmp_path / "set.json"
    argv = ["reproduce", *QUICK, "--set", "lr=0.2", "--set", "momentum=0.5"]
    assert main([*argv, "--json", str(path)]) == 0
    config = json.loads(path.read_text())["config"]
    assert (config["lr"], config["momentum"]) == (0.2, 0.5)
    assert main([*argv, "--lr", "0.3", "--json", str(path)]) == 0  # the flag wins
    assert json.loads(path.read_text())["config"]["lr"] == 0.3


@pytest.mark.parametrize("change", ["foo=1", "lr", "use_gain=maybe", "width=2.5"])
def test_set_rejects_unknown_fields_and_bad_values(
    change: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["reproduce", *QUICK, "--set", change])
    assert exit_info.value.code == 2
    assert "--set" in capsys.readouterr().err


def test_reproduce_states_the_distance_to_the_published_figure(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["reproduce", *QUICK, "--recipe", "report-code"]) == 0
    out = capsys.readouterr().out
    assert "recipe 'report-code'" in out
    line = next(line for line in out.splitlines() if line.startswith("test error - the report"))
    assert re.search(r"points \(z = [+-]\d+\.\d\d\): ", line)
    assert line.endswith("(independent means)")


def test_lr_from_takes_the_sweeps_winner(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep.json"
    payload = []
    for lr, errors in ((0.1, [3.0, 4.0]), (0.2, [1.0, 2.0]), (0.5, [2.0, 2.0])):
        runs = [dict(train_error=e, test_error=e, restarts=0, diverged=False) for e in errors]
        payload.append(dict(seconds=1.0, config=dict(lr=lr), per_run=runs))
    sweep.write_text(json.dumps(payload))
    out = tmp_path / "out.json"
    assert main(["reproduce", *QUICK, "--lr-from", str(sweep), "--json", str(out)]) == 0
    assert json.loads(out.read_text())["config"]["lr"] == 0.2


@pytest.mark.parametrize("content", ["{}", "[]", "not json"])
def test_lr_from_refuses_a_file_that_is_no_sweep(
    tmp_path: Path, content: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(SystemExit) as exit_info:
        main(["reproduce", *QUICK, "--lr-from", str(path)])
    assert exit_info.value.code == 2
    assert "--lr-from" in capsys.readouterr().err


def test_lr_and_lr_from_exclude_each_other(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "sweep.json"
    runs = [dict(train_error=1.0, test_error=1.0, restarts=0, diverged=False)] * 2
    path.write_text(json.dumps([dict(seconds=1.0, config=dict(lr=0.3), per_run=runs)]))
    with pytest.raises(SystemExit):
        main(["reproduce", *QUICK, "--lr", "0.1", "--lr-from", str(path)])
    assert "not allowed with" in capsys.readouterr().err
