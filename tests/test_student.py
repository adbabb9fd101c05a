"""The student edition (make student): built by nbgrader's preprocessors from notebooks/.

Solution regions become stubs, written answers become a prompt, outputs are cleared, and
nothing else changes; every region a learner completes is followed by a self-check; and each
student notebook runs up to its first stub, where it stops with "not implemented yet".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

import student_edition  # tools/student_edition.py (pytest puts tools/ on the path)

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"


def cells(path: Path) -> list[dict[str, Any]]:
    return list(json.loads(path.read_text())["cells"])


def source(cell: dict[str, Any]) -> str:
    return "".join(cell["source"])


def is_answer(cell: dict[str, Any]) -> bool:
    """A written answer: a markdown cell marked as an nbgrader solution."""
    return bool(cell.get("metadata", {}).get("nbgrader", {}).get("solution"))


def solution_lines(text: str) -> list[str]:
    """The lines between the markers, stripped, that say something (not blank, not `pass`)."""
    lines, inside = [], False
    for line in text.splitlines():
        if BEGIN in line:
            inside = True
        elif END in line:
            inside = False
        elif inside and line.strip() not in ("", "pass", "return", ")", "]", "}"):
            lines.append(line.strip())
    return lines


@pytest.fixture(scope="module")
def student(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("edition") / "student"
    student_edition.build(ROOT / "notebooks", out)
    return out


def test_every_notebook_has_a_student_version(student: Path) -> None:
    assert sorted(p.name for p in student.glob("*.ipynb")) == [p.name for p in NOTEBOOKS]
    assert (student / "selfcheck.py").is_file()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_solutions_are_stubbed_and_nothing_else_changes(path: Path, student: Path) -> None:
    full, stripped = cells(path), cells(student / path.name)
    assert len(full) == len(stripped), "the student edition adds or drops cells"
    regions = 0
    for a, b in zip(full, stripped, strict=True):
        assert a["cell_type"] == b["cell_type"]
        if b["cell_type"] == "code":
            assert b["outputs"] == [] and b["execution_count"] is None
        if BEGIN in source(a):
            regions += source(a).count(BEGIN)
            assert source(b).count('raise NotImplementedError("not implemented yet")') == source(
                a
            ).count(BEGIN)
            kept = set(source(b).splitlines())
            assert not [line for line in solution_lines(source(a)) if line in kept]
        elif is_answer(a):
            regions += 1
            assert source(b) == student_edition.TEXT_STUB
        else:
            assert source(a) == source(b), "a cell without a solution region changed"
    assert regions, f"{path.name} has no solution region for a learner to write"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_region_is_followed_by_a_check(path: Path) -> None:
    """The next code cell after a region (other than an exercise answer) runs a self-check."""
    code = [c for c in cells(path) if c["cell_type"] == "code"]
    for i, cell in enumerate(code):
        hidden = cell.get("metadata", {}).get("jupyter", {}).get("source_hidden", False)
        if BEGIN in source(cell) and not hidden:
            after = source(cell).split(END)[-1] + "".join(source(c) for c in code[i + 1 : i + 2])
            assert "selfcheck.check_" in after, (
                f"{path.name}: code cell {i} has a solution region but no self-check after it"
            )


def learner_regions(path: Path) -> bool:
    """Has a region a learner writes (not only collapsed exercise answers)."""
    return any(
        BEGIN in source(c)
        and not c.get("metadata", {}).get("jupyter", {}).get("source_hidden", False)
        for c in cells(path)
    )


# A notebook with regions a learner writes is run up to each of its stubs, the first among
# them, by tests/test_student_checks.py; the ones with exercise answers only are run here.
@pytest.mark.parametrize(
    "path", [p for p in NOTEBOOKS if not learner_regions(p)], ids=lambda p: p.stem
)
def test_student_notebook_runs_up_to_its_first_stub(path: Path, student: Path) -> None:
    nb = nbformat.read(student / path.name, as_version=4)
    client = NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(student)}}
    )
    with pytest.raises(CellExecutionError) as info:
        client.execute()
    message = str(info.value)
    assert "NotImplementedError" in message or "not implemented yet" in message, message[-2000:]
