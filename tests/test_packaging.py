"""The dependency pins agree, public classes name their notebook, notebooks are run.

pyproject.toml names the dependencies, constraints.txt pins them, environment.yml
repeats the pins for conda users; the three must not drift apart.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

import minidl

if sys.version_info >= (3, 11):
    import tomllib
else:  # pytest itself depends on tomli before Python 3.11
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "minidl"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
NOTEBOOK_PATH = re.compile(r"notebooks/\d\d_[A-Za-z0-9_]+\.ipynb")


def normalize(name: str) -> str:
    """PEP 503: case and runs of -_. do not matter."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(spec: str) -> str:
    found = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", spec)
    assert found, f"cannot read a package name in {spec!r}"
    return normalize(found[1])


def pins(lines: list[str]) -> dict[str, str]:
    """name -> version for every 'name==version' line."""
    result = {}
    for line in lines:
        spec = line.split("#")[0].strip()
        if "==" in spec:
            name, version = spec.split("==")
            result[normalize(name)] = version.strip()
    return result


def pyproject_dependencies() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        specs += extra
    return {requirement_name(s) for s in specs} - {normalize(project["name"])}


def constraints() -> dict[str, str]:
    return pins((ROOT / "constraints.txt").read_text().splitlines())


def environment_pins() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_lists = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert pip_lists, "environment.yml has no pip section"
    return pins([line for lines in pip_lists for line in lines])


def test_pyproject_names_dependencies() -> None:
    assert {"torch", "pytest", "hypothesis", "nbval"} <= pyproject_dependencies()


def test_constraints_pin_torch() -> None:
    assert constraints()["torch"] == "2.13.0"


@pytest.mark.parametrize("name", sorted(pyproject_dependencies()))
def test_environment_yml_pins_each_dependency_as_constraints_does(name: str) -> None:
    assert name in constraints(), f"constraints.txt does not pin {name}"
    assert environment_pins().get(name) == constraints()[name]


def test_environment_yml_pins_nothing_constraints_does_not() -> None:
    allowed = constraints()
    for name, version in environment_pins().items():
        assert allowed.get(name) == version, f"environment.yml pins {name}=={version}"


@pytest.mark.env
@pytest.mark.parametrize("name", sorted(pyproject_dependencies()))
def test_installed_versions_are_the_pinned_ones(name: str) -> None:
    installed = importlib.metadata.version(name).split("+")[0]  # 2.13.0+cpu is 2.13.0
    assert installed == constraints()[name]


# Docstrings name the notebooks -------------------------------------------------------

PUBLIC_CLASSES = [obj for name in minidl.__all__ if inspect.isclass(obj := getattr(minidl, name))]


@pytest.mark.parametrize("cls", PUBLIC_CLASSES, ids=lambda c: c.__name__)
def test_public_class_docstring_names_its_notebook(cls: type) -> None:
    assert NOTEBOOK_PATH.search(cls.__doc__ or ""), f"{cls.__name__}'s docstring names no notebook"


def mentioned_notebooks() -> list[str]:
    paths = {m for f in PACKAGE.glob("*.py") for m in NOTEBOOK_PATH.findall(f.read_text())}
    return sorted(paths)


def test_notebooks_named_in_the_source_exist() -> None:
    if not NOTEBOOKS:
        pytest.skip("notebooks/ holds no .ipynb yet (the notebooks are written in parallel)")
    mentioned = mentioned_notebooks()
    assert mentioned, "minidl's source names no notebook"
    missing = [p for p in mentioned if not (ROOT / p).is_file()]
    assert not missing, f"named in minidl but missing: {missing}"


# Notebooks are stored executed -------------------------------------------------------


def code_cells(path: Path) -> list[dict[str, Any]]:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return [c for c in cells if c["cell_type"] == "code" and "".join(c["source"]).strip()]


NOTEBOOK_PARAMS = [pytest.param(p, id=p.name) for p in NOTEBOOKS] or [
    pytest.param(None, marks=pytest.mark.skip(reason="notebooks/ holds no .ipynb yet"))
]


@pytest.mark.parametrize("path", NOTEBOOK_PARAMS)
def test_notebook_was_run_top_to_bottom(path: Path) -> None:
    counts = [c["execution_count"] for c in code_cells(path)]
    assert counts == list(range(1, len(counts) + 1)), f"execution counts {counts}"


@pytest.mark.parametrize("path", NOTEBOOK_PARAMS)
def test_notebook_has_no_error_output(path: Path) -> None:
    for i, cell in enumerate(code_cells(path)):
        errors = [o for o in cell.get("outputs", []) if o["output_type"] == "error"]
        assert errors == [], f"code cell {i}: {errors[0]['ename']}: {errors[0]['evalue']}"
