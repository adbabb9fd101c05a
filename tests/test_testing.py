"""minidl.compare: a stable verdict line when values agree, an AssertionError naming the worst
entry when they do not."""

from __future__ import annotations

import math

import pytest
import torch

import minidl


def test_agreeing_values_print_one_stable_line(capsys: pytest.CaptureFixture[str]) -> None:
    a = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    minidl.compare("dL/dW", a + 1e-14, a)
    assert capsys.readouterr().out == "dL/dW: agrees within atol=1e-12, rtol=1e-10\n"
    minidl.compare("loss", 0.5, 0.5, atol=0, rtol=0)
    assert capsys.readouterr().out == "loss: agrees within atol=0, rtol=0\n"
    minidl.compare("quiet", a, a, quiet=True)
    assert capsys.readouterr().out == ""


def test_the_failure_names_the_worst_entry_and_how_many_fail() -> None:
    expected = torch.zeros(2, 3, dtype=torch.float64)
    actual = expected.clone()
    actual[0, 1], actual[1, 2] = 1e-3, 5e-3
    with pytest.raises(AssertionError) as info:
        minidl.compare("dL/dX", actual, expected, atol=1e-6)
    message = str(info.value)
    assert "dL/dX: 2 of 6 entries" in message
    assert "worst at [1, 2]" in message and "got 0.005" in message and "5.00e-03" in message


def test_relative_tolerance_scales_with_the_expected_value() -> None:
    big = torch.tensor([1e6], dtype=torch.float64)
    minidl.compare("big", big * (1 + 1e-11), big, atol=0.0, rtol=1e-10)
    with pytest.raises(AssertionError):
        minidl.compare("big", big * (1 + 1e-9), big, atol=0.0, rtol=1e-10)


def test_sequences_name_the_tensor_that_fails() -> None:
    ok, off = torch.ones(2), torch.ones(3)
    with pytest.raises(AssertionError, match=r"worst at \[1\]\[2\]"):
        minidl.compare("grads", [ok, off + torch.tensor([0, 0, 1.0])], [ok, off])
    with pytest.raises(ValueError, match="2 actual tensors but 1 expected"):
        minidl.compare("grads", [ok, ok], [ok])


def test_non_finite_values() -> None:
    inf = torch.tensor([math.inf, -math.inf])
    minidl.compare("same infinities", inf, inf)
    with pytest.raises(AssertionError):
        minidl.compare("opposite", inf, -inf)
    with pytest.raises(AssertionError):
        minidl.compare("finite vs inf", torch.tensor([1.0]), torch.tensor([math.inf]))
    with pytest.raises(AssertionError, match="got nan"):
        minidl.compare("nan", torch.tensor([0.0, math.nan]), torch.zeros(2))
    with pytest.raises(AssertionError):
        minidl.compare("nan expected", torch.zeros(1), torch.tensor([math.nan]))


def test_no_broadcasting_and_no_bad_arguments() -> None:
    with pytest.raises(minidl.ShapeError, match=r"shape \(3, 1\), expected \(3,\)"):
        minidl.compare("y", torch.zeros(3, 1), torch.zeros(3))
    with pytest.raises(TypeError, match="must hold tensors or numbers"):
        minidl.compare("y", "0", 0.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must be >= 0"):
        minidl.compare("y", 0.0, 0.0, atol=-1)


def test_mixed_dtypes_compare_in_float64() -> None:
    minidl.compare("f32 vs f64", torch.ones(2), torch.ones(2, dtype=torch.float64), atol=0, rtol=0)


def test_gradcheck_prints_no_rounding_digits() -> None:
    lin = minidl.Linear(3, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    x = torch.randn(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    result = minidl.gradcheck(lin, x)
    assert str(result) == (
        "gradcheck ok: backward agrees with central differences within atol=1e-05, rtol=1e-04"
    )
