"""Every self-check fails on its stub and passes with the solution put back.

For each notebook with solution regions, one kernel runs the full edition cell by cell. At each
cell a learner completes, the kernel first runs the student edition's version of that cell (the
stubs), and its self-check must fail with "not implemented yet"; then the solution goes back, and
the notebook continues (nbval checks that the checks then pass and print what they printed).
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
BEGIN, CHECK = "### BEGIN SOLUTION", "selfcheck.check_"


def has_regions(path: Path) -> bool:
    return any(BEGIN in "".join(c["source"]) for c in json.loads(path.read_text())["cells"])


NOTEBOOKS = [p for p in sorted((ROOT / "notebooks").glob("*.ipynb")) if has_regions(p)]


def hidden(cell: Any) -> bool:
    return bool(cell.get("metadata", {}).get("jupyter", {}).get("source_hidden", False))


@pytest.fixture(scope="module")
def student(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("edition") / "student"
    student_edition.build(ROOT / "notebooks", out)
    return out


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_check_fails_on_its_stub_and_passes_on_the_solution(
    path: Path, student: Path
) -> None:
    full = nbformat.read(path, as_version=4)
    stubbed = nbformat.read(student / path.name, as_version=4)
    where = {"metadata": {"path": str(path.parent)}}
    client = NotebookClient(full, timeout=600, kernel_name="python3", resources=where)
    code = [i for i, c in enumerate(full.cells) if c.cell_type == "code"]
    checked = 0
    with client.setup_kernel():
        for k, index in enumerate(code):
            cell = full.cells[index]
            if BEGIN in cell.source and not hidden(cell):
                stub = stubbed.cells[index]
                check = None if CHECK in stub.source else full.cells[code[k + 1]]
                with pytest.raises(CellExecutionError, match="not implemented yet"):
                    client.execute_cell(stub, index)
                    if check is not None:
                        client.execute_cell(check.copy(), code[k + 1])
                checked += 1
            client.execute_cell(cell, index)  # the solution (and every other cell) as written
    assert checked, f"{path.name}: no self-check after a region"
