"""The course rule: minidl uses torch tensors only, never torch.nn, autograd or optim.

An AST scan of every file in minidl/ (docstrings may name the reference minidl matches;
code, comments aside, may not use it), a test of the scan itself, and a training run
with autograd globally off.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from torch import Tensor

import minidl
from minidl.data import disk_dataset, shuffled_batches

PACKAGE = Path(minidl.__file__).parent

DTYPES = {
    "float16", "bfloat16", "float32", "float64", "half", "float", "double",
    "int8", "int16", "int32", "int64", "uint8", "short", "int", "long", "bool",
    "complex64", "complex128", "cfloat", "cdouble",
}  # fmt: skip
ALLOWED_TORCH_NAMES = DTYPES | {
    "empty", "Tensor", "Generator", "dtype", "device", "Size",
    "set_grad_enabled", "no_grad", "is_grad_enabled",
}  # fmt: skip
FORBIDDEN = re.compile(
    r"\brequires_grad_?\b|\bgrad_fn\b|\bretain_grad\b|autograd|\bfunctional\b"
    r"|\btorch\.(nn|optim|func)\b"
)


def _docstrings(tree: ast.Module) -> set[int]:
    """ids of the string constants that are docstrings."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def _words(node: ast.AST, docstrings: set[int]) -> list[str]:
    """The identifiers and (non-docstring) string constants a node spells."""
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Attribute):
        return [node.attr]
    if isinstance(node, ast.alias):
        return [node.name, node.asname or ""]
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [node.name]
    if isinstance(node, ast.arg):
        return [node.arg]
    if isinstance(node, ast.keyword):
        return [node.arg or ""]
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [] if id(node) in docstrings else [node.value]
    return []


def course_rule_violations(source: str) -> list[str]:
    """Every use of torch beyond the allowed names, as 'line N: ...' messages."""
    tree = ast.parse(source)
    torch_names: set[str] = set()  # what `torch` is called in this file
    tensor_names: set[str] = set()  # what `torch.Tensor` is called
    bad: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "torch":
                    torch_names.add(alias.asname or "torch")
                elif alias.name.startswith("torch.") or alias.name == "importlib":
                    bad.append(f"line {node.lineno}: import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.startswith("torch.") or node.module == "importlib":
                bad.append(f"line {node.lineno}: from {node.module} import ...")
            elif node.module == "torch":
                for alias in node.names:
                    if alias.name not in ALLOWED_TORCH_NAMES:
                        bad.append(f"line {node.lineno}: from torch import {alias.name}")
                    elif alias.name == "Tensor":
                        tensor_names.add(alias.asname or "Tensor")
    tensor_names |= {f"{name}.Tensor" for name in torch_names}
    docstrings = _docstrings(tree)
    for node in ast.walk(tree):
        line = getattr(node, "lineno", "?")
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in torch_names
            and node.attr not in ALLOWED_TORCH_NAMES
        ):
            bad.append(f"line {line}: torch.{node.attr}")
        if isinstance(node, ast.Call):
            func = ast.unparse(node.func)
            if func in tensor_names:
                bad.append(f"line {line}: {func}(...) builds a tensor without torch.empty")
            if func in {"getattr", "__import__"} and any(
                isinstance(a, ast.Name) and a.id in torch_names for a in node.args
            ):
                bad.append(f"line {line}: {func}(torch, ...)")
            if func == "__import__":
                bad.append(f"line {line}: __import__")
        for word in _words(node, docstrings):
            if found := FORBIDDEN.search(word):
                bad.append(f"line {line}: mentions {found[0]!r}")
    return bad


# The scan itself ---------------------------------------------------------------------

BAD_SOURCES = {
    "import-nn": "import torch.nn as nn",
    "from-torch-import-nn": "from torch import nn",
    "functional": "from torch.nn import functional as F",
    "torch.zeros": "import torch\nx = torch.zeros(3)",
    "aliased-torch": "import torch as th\nx = th.randn(3)",
    "autograd": "import torch\ng = torch.autograd.grad",
    "requires_grad_": "y = x.requires_grad_()",
    "requires_grad": "flag = x.requires_grad",
    "grad_fn": "y = x.grad_fn",
    "enable_grad": "import torch\nwith torch.enable_grad():\n    pass",
    "getattr": "import torch\nzeros = getattr(torch, 'zeros')",
    "Tensor-constructor": "from torch import Tensor\nx = Tensor([1.0, 2.0])",
    "torch.Tensor-constructor": "import torch\nx = torch.Tensor([1.0, 2.0])",
    "importlib": "import importlib\nm = importlib.import_module('torch.optim')",
    "import-in-function": "def f(x):\n    import torch\n    return torch.cat([x, x])",
    "string": "name = 'torch.optim'",
}
GOOD_SOURCES = {
    "empty-and-dtypes": (
        "import torch\nfrom torch import Tensor\n"
        "x: Tensor = torch.empty((2, 3), dtype=torch.float64).normal_()\n"
    ),
    "grad-switches": "import torch\nwith torch.no_grad():\n    torch.set_grad_enabled(False)\n",
    "docstring": '"""Matches torch.optim.SGD and torch.nn.functional step for step."""\n',
    "stdlib": "import math\nfrom collections.abc import Iterator\n",
    "tensor-methods": "y = x.clamp(min=0).exp_().sum(dim=-1, keepdim=True)\n",
}


@pytest.mark.parametrize("name", BAD_SOURCES)
def test_scan_flags_bad_source(name: str) -> None:
    assert course_rule_violations(BAD_SOURCES[name]), f"the scan missed {name!r}"


@pytest.mark.parametrize("name", GOOD_SOURCES)
def test_scan_accepts_good_source(name: str) -> None:
    assert course_rule_violations(GOOD_SOURCES[name]) == []


# The package -------------------------------------------------------------------------

SOURCES = sorted(PACKAGE.glob("*.py"))


def test_scan_sees_the_whole_package() -> None:
    names = {p.name for p in SOURCES}
    assert {"module.py", "linear.py", "activations.py", "losses.py", "optim.py"} <= names


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_package_file_follows_the_course_rule(path: Path) -> None:
    assert course_rule_violations(path.read_text(encoding="utf-8")) == []


# Training with autograd off ----------------------------------------------------------


def test_training_runs_with_autograd_off(
    make_report_net: Callable[..., minidl.Sequential],
) -> None:
    torch.set_grad_enabled(False)
    g = torch.Generator().manual_seed(0)
    net = make_report_net(dtype=torch.float32, generator=g)
    loss_fn, opt = minidl.MSELoss(), minidl.SGD(net.params(), lr=0.1, momentum=0.2)
    x, y = disk_dataset(200, generator=g)
    start = [p.value.clone() for p in net.params()]
    produced: list[Tensor] = []

    for idx in shuffled_batches(200, 40, generator=g):
        opt.zero_grad()
        out = net(x[idx])
        loss = loss_fn(out, y[idx])
        grad_out = loss_fn.backward()
        grad_x = net.backward(grad_out)
        opt.step()
        produced += [out, loss, grad_out, grad_x]
        assert not torch.is_grad_enabled()

    produced += [t for p in net.params() for t in (p.value, p.grad)]
    assert not any(t.requires_grad for t in produced)
    assert all(bool(torch.isfinite(t).all()) for t in produced)
    assert any(not torch.equal(p.value, s) for p, s in zip(net.params(), start, strict=True))
