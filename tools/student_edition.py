"""Build the student edition of the course: python tools/student_edition.py [--out student].

nbgrader's own preprocessors do the work, run through nbconvert, for every notebook in
notebooks/: ClearSolutions replaces each region between `### BEGIN SOLUTION` and
`### END SOLUTION` by a stub that raises NotImplementedError (and a markdown cell marked as an
nbgrader solution, an exercise's written answer, by "YOUR ANSWER HERE"); ClearHiddenTests drops
`### BEGIN HIDDEN TESTS` regions; ClearOutput clears every output. Nothing else changes. The
self-checks the notebooks import (notebooks/selfcheck.py) are copied beside them.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import nbformat
from nbconvert.exporters import NotebookExporter
from nbgrader.preprocessors import ClearHiddenTests, ClearOutput, ClearSolutions
from traitlets.config import Config

ROOT = Path(__file__).resolve().parent.parent
STUB = '# YOUR CODE HERE\nraise NotImplementedError("not implemented yet")'
TEXT_STUB = "*Your answer here.* (The full edition of the course has the worked answer.)"
SUPPORT = ("selfcheck.py",)


def exporter() -> NotebookExporter:
    """nbconvert's notebook exporter with nbgrader's preprocessors, in nbgrader's order."""
    config = Config()
    config.ClearSolutions.code_stub = {"python": STUB}
    config.ClearSolutions.text_stub = TEXT_STUB
    config.ClearSolutions.enforce_metadata = False  # regions count in any cell
    config.ClearHiddenTests.enforce_metadata = False
    config.NotebookExporter.preprocessors = [ClearSolutions, ClearHiddenTests, ClearOutput]
    return NotebookExporter(config=config)


def build(source: Path, out: Path) -> list[Path]:
    """Write the student edition of every notebook in source to out; return the paths.

    out is rebuilt from scratch (a stale notebook from an earlier build never survives).
    Raises FileNotFoundError when source holds no notebook.
    """
    notebooks = sorted(source.glob("*.ipynb"))
    if not notebooks:
        raise FileNotFoundError(f"student_edition: no notebooks in {source}")
    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    export = exporter()
    for path in notebooks:
        body, _ = export.from_notebook_node(nbformat.read(path, as_version=4))
        (staging / path.name).write_text(body, encoding="utf-8")
    for name in SUPPORT:
        shutil.copy2(source / name, staging / name)
    shutil.rmtree(out, ignore_errors=True)  # whole or not at all: swap in the finished folder
    staging.rename(out)
    return [out / p.name for p in notebooks]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=ROOT / "notebooks")
    parser.add_argument("--out", type=Path, default=ROOT / "student")
    args = parser.parse_args()
    written = build(args.source, args.out)
    print(f"student edition: {len(written)} notebooks in {args.out}")


if __name__ == "__main__":
    main()
