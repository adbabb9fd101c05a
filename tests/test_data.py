"""The disk data set, standardisation on train statistics, and shuffled minibatches."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from conftest import gen
from minidl.data import disk_dataset, fit_standardizer, shuffled_batches, standardize

RADIUS_SQUARED = 1 / (2 * math.pi)  # a disk of area 1/2


@pytest.mark.parametrize("n", [1, 37, 1000])
def test_disk_dataset_shapes_and_values(n: int) -> None:
    x, y = disk_dataset(n, generator=gen(0))
    assert x.shape == (n, 2) and y.shape == (n, 1)
    assert x.dtype == y.dtype == torch.float32
    assert bool(((y == 0) | (y == 1)).all())
    assert bool((x >= 0).all()) and bool((x <= 1).all())


def test_label_is_one_exactly_inside_the_disk() -> None:
    x, y = disk_dataset(20_000, generator=gen(1))
    r2 = (x.double() - 0.5).square().sum(-1)
    inside = (r2 < RADIUS_SQUARED).to(y.dtype)
    disagree = inside != y[:, 0]
    # only float32 rounding right at the boundary may flip a label
    assert bool(((r2[disagree] - RADIUS_SQUARED).abs() < 1e-6).all())
    assert int(disagree.sum()) <= 2


def test_classes_are_balanced() -> None:
    _, y = disk_dataset(100_000, generator=gen(2))
    assert float(y.mean()) == pytest.approx(0.5, rel=0.01)


def test_seeded_generator_is_deterministic() -> None:
    a, b, c = (disk_dataset(50, generator=gen(s)) for s in (3, 3, 4))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])


def test_replicas_are_independent_sets() -> None:
    x, y = disk_dataset(100, generator=gen(5), replicas=3)
    assert x.shape == (3, 100, 2) and y.shape == (3, 100, 1)
    assert not torch.equal(x[0], x[1]) and not torch.equal(x[1], x[2])
    inside = ((x - 0.5).square().sum(-1, keepdim=True) < RADIUS_SQUARED).to(y.dtype)
    assert torch.equal(inside, y)


def test_dtype_option() -> None:
    x, y = disk_dataset(10, generator=gen(6), dtype=torch.float64)
    assert x.dtype == y.dtype == torch.float64


@pytest.mark.parametrize("replicas", [None, 4])
def test_standardize_gives_zero_mean_unit_std_on_train(replicas: int | None) -> None:
    x_train, _ = disk_dataset(1000, generator=gen(7), replicas=replicas, dtype=torch.float64)
    x_test, _ = disk_dataset(1000, generator=gen(8), replicas=replicas, dtype=torch.float64)
    mean, std = fit_standardizer(x_train)

    z_train, z_test = standardize(x_train, mean, std), standardize(x_test, mean, std)

    torch.testing.assert_close(z_train.mean(-2), torch.zeros_like(z_train.mean(-2)))
    torch.testing.assert_close(z_train.std(-2), torch.ones_like(z_train.std(-2)))
    torch.testing.assert_close(z_test, (x_test - mean) / std)  # train statistics, not test's
    assert not torch.allclose(z_test.mean(-2), torch.zeros_like(z_test.mean(-2)), atol=1e-6)


@given(
    n=st.integers(1, 120),
    batch_size=st.integers(1, 50),
    replicas=st.none() | st.integers(1, 4),
    seed=st.integers(0, 2**31 - 1),
)
def test_batches_form_a_permutation(
    n: int, batch_size: int, replicas: int | None, seed: int
) -> None:
    batches = list(shuffled_batches(n, batch_size, generator=gen(seed), replicas=replicas))

    lead = () if replicas is None else (replicas,)
    sizes = [b.shape[-1] for b in batches]
    assert sizes == [batch_size] * (n // batch_size) + ([n % batch_size] if n % batch_size else [])
    assert all(b.shape == (*lead, b.shape[-1]) and b.dtype == torch.int64 for b in batches)
    order = torch.cat(batches, dim=-1)
    expected = torch.arange(n).expand(*lead, n)
    assert torch.equal(order.sort(dim=-1).values, expected)


def test_batches_are_shuffled_per_replica_and_per_epoch() -> None:
    g = gen(9)
    first = torch.cat(list(shuffled_batches(100, 30, generator=g, replicas=3)), dim=-1)
    second = torch.cat(list(shuffled_batches(100, 30, generator=g, replicas=3)), dim=-1)
    assert not torch.equal(first[0], torch.arange(100))
    assert not torch.equal(first[0], first[1])
    assert not torch.equal(first, second)
    again = torch.cat(list(shuffled_batches(100, 30, generator=gen(9), replicas=3)), dim=-1)
    assert torch.equal(first, again)
