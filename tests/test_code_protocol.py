"""The protocol of the report's published code, built from minidl's modules: the quarter
disk, batches in order, the 0.45 error band, the loss with a second sigmoid, scalar
standardisation per set, and the "report-code" recipe (data.py, train.py, experiment.py).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest
import torch

import minidl
from conftest import gen
from minidl.data import (
    QUARTER_CENTER,
    QUARTER_RADIUS,
    disk_dataset,
    fit_scalar_standardizer,
    standardize,
)
from minidl.experiment import RECIPES, Recipe, SigmoidBCELoss, reproduce
from minidl.train import train

# disk_dataset(center=, radius=) --------------------------------------------------------


def test_defaults_are_the_handouts_disk() -> None:
    a = disk_dataset(500, generator=gen(0))
    b = disk_dataset(500, generator=gen(0), center=(0.5, 0.5), radius=1 / math.sqrt(2 * math.pi))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_quarter_disk_at_the_origin() -> None:
    x, y = disk_dataset(20_000, generator=gen(1), center=QUARTER_CENTER, radius=QUARTER_RADIUS)
    assert QUARTER_CENTER == (0.0, 0.0)
    assert pytest.approx(0.7979, abs=1e-4) == QUARTER_RADIUS
    r2 = x.double().square().sum(-1)
    inside = (r2 < 2 / math.pi).to(y.dtype)
    disagree = inside != y[:, 0]
    assert int(disagree.sum()) <= 2  # float32 rounding at the boundary only
    assert float(y.mean()) == pytest.approx(0.5, abs=0.015)  # area pi r^2 / 4 = 1/2


def test_same_points_other_labels() -> None:
    handout = disk_dataset(300, generator=gen(2), replicas=2)
    code = disk_dataset(300, generator=gen(2), replicas=2, center=(0, 0), radius=0.8)
    assert torch.equal(handout[0], code[0]) and not torch.equal(handout[1], code[1])


@pytest.mark.parametrize(
    ("kw", "pattern"),
    [
        (dict(center=(0.5,)), "center must be two numbers"),
        (dict(center="ab"), "center must be two numbers"),
        (dict(center=(0.5, math.nan)), "center must be finite"),
        (dict(radius=0.0), "radius must be a finite number > 0"),
        (dict(radius=-1.0), "radius"),
        (dict(radius=math.inf), "radius"),
        (dict(radius="1"), "radius"),
    ],
)
def test_bad_center_or_radius_raise(kw: dict[str, Any], pattern: str) -> None:
    with pytest.raises(ValueError, match=f"disk_dataset: {pattern}"):
        disk_dataset(10, **kw)


def test_scalar_standardizer_is_one_mean_and_one_sd_per_set() -> None:
    x, _ = disk_dataset(400, generator=gen(3), replicas=3, dtype=torch.float64)
    mean, std = fit_scalar_standardizer(x)
    assert mean.shape == std.shape == (3, 1, 1)
    z = standardize(x, mean, std)
    flat = z.reshape(3, -1)
    torch.testing.assert_close(flat.mean(-1), torch.zeros(3, dtype=torch.float64))
    torch.testing.assert_close(flat.std(-1), torch.ones(3, dtype=torch.float64))


# train(shuffle=False, error_band=) ------------------------------------------------------


def small_net(seed: int) -> minidl.Sequential:
    g = gen(seed)
    return minidl.Sequential(
        minidl.Linear(2, 4, "relu", generator=g, dtype=torch.float64),
        minidl.ReLU(),
        minidl.Linear(4, 1, "sigmoid", generator=g, dtype=torch.float64),
        minidl.Sigmoid(),
    )


def test_unshuffled_batches_follow_the_data_order() -> None:
    """Without shuffling, training is the same whatever the generator; one epoch equals
    SGD by hand over the batches in order."""
    x, y = disk_dataset(40, generator=gen(4), dtype=torch.float64)
    runs = []
    for seed in (5, 6):
        net = small_net(0)
        opt = minidl.SGD(net.params(), 0.3, 0.2)
        train(net, minidl.MSELoss(), opt, x, y, epochs=1, batch_size=10, generator=gen(seed),
              shuffle=False)  # fmt: skip
        runs.append([p.value for p in net.params()])
    net, loss_fn = small_net(0), minidl.MSELoss()
    opt = minidl.SGD(net.params(), 0.3, 0.2)
    for start in range(0, 40, 10):
        loss_fn(net(x[start : start + 10]), y[start : start + 10])
        opt.zero_grad()
        net.backward(loss_fn.backward())
        opt.step()
    for a, b, by_hand in zip(runs[0], runs[1], net.params(), strict=True):
        assert torch.equal(a, b)
        torch.testing.assert_close(a, by_hand.value)


def test_shuffle_is_the_default() -> None:
    x, y = disk_dataset(40, generator=gen(4), dtype=torch.float64)
    states = []
    for seed in (5, 6):
        net = small_net(0)
        train(net, minidl.MSELoss(), minidl.SGD(net.params(), 0.3), x, y, epochs=1,
              batch_size=10, generator=gen(seed))  # fmt: skip
        states.append(net[0].weight.value)
    assert not torch.equal(states[0], states[1])


def test_error_band_counts_points_farther_than_the_band_from_their_target() -> None:
    x = torch.zeros(4, 1, dtype=torch.float64)
    y = torch.tensor([[0.0], [0.9], [0.0], [0.9]], dtype=torch.float64)
    net = minidl.Sequential(minidl.Linear(1, 1, generator=gen(0), dtype=torch.float64))
    net[0].weight.value.zero_()
    net[0].bias.value.fill_(0.47)  # every output 0.47
    opt = minidl.SGD(net.params(), 1e-12)
    banded = train(net, minidl.MSELoss(), opt, x, y, epochs=1, batch_size=4, error_band=0.45)
    assert banded.train_error.item() == 0.5  # 0.47 is wrong for target 0 only
    net[0].bias.value.fill_(0.52)
    threshold = train(net, minidl.MSELoss(), opt, x, y, epochs=1, batch_size=4)
    assert threshold.train_error.item() == 0.5  # > 0.5: wrong for label 0 only
    net[0].bias.value.fill_(0.5)
    none_wrong = train(net, minidl.MSELoss(), opt, x, y, epochs=1, batch_size=4, error_band=0.5)
    assert none_wrong.train_error.item() == 0.0


# The loss of the report's code --------------------------------------------------------


def test_sigmoid_bce_is_bce_of_a_second_sigmoid_with_the_true_gradient() -> None:
    g = gen(7)
    p = torch.empty(3, 20, 1, dtype=torch.float64).uniform_(generator=g)  # network outputs
    t = (torch.empty(3, 20, 1, dtype=torch.float64).uniform_(generator=g) > 0.5) * 0.9
    t = t.to(torch.float64)
    loss_fn = SigmoidBCELoss()
    loss = loss_fn(p, t)
    grad = loss_fn.backward()
    with torch.enable_grad():
        q = p.clone().requires_grad_()
        ref = torch.nn.functional.binary_cross_entropy(torch.sigmoid(q), t, reduction="none").mean(
            dim=(1, 2)
        )
        ref.sum().backward()
    torch.testing.assert_close(loss, ref.detach())
    torch.testing.assert_close(grad, q.grad)
    torch.testing.assert_close(grad, (torch.sigmoid(p) - t) / 20)  # (s - t) / N
    assert float(loss.min()) > 0.3  # sigmoid(p) stays in (0.5, 0.74): never near zero loss


def test_sigmoid_bce_passes_gradcheck_and_refuses_bad_shapes() -> None:
    t = torch.tensor([[0.0], [0.9], [0.9]], dtype=torch.float64)

    class Fixed(minidl.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            self.loss = SigmoidBCELoss()
            return self.loss(x, t)

        def backward(self, grad_output: torch.Tensor) -> torch.Tensor:
            return self.loss.backward(grad_output)

    x = torch.tensor([[0.2], [0.7], [0.4]], dtype=torch.float64)
    assert minidl.gradcheck(Fixed(), x, generator=gen(8))
    with pytest.raises(ValueError, match=r"SigmoidBCELoss.*same shape"):
        SigmoidBCELoss()(x, t[:2])


# The recipe -----------------------------------------------------------------------------


def test_report_code_recipe_follows_the_code() -> None:
    r = RECIPES["report-code"]
    assert (r.task, r.target_scale, r.error_band, r.loss) == (
        "quarter-disk", 0.9, 0.45, "sigmoid-bce"
    )  # fmt: skip
    assert (r.scaling, r.standardize, r.shuffle, r.code_gains) == ("scalar", True, False, True)
    assert (r.momentum, r.bias_std, r.hidden) == (0.2, 1.0, ("elu", "relu", "selu"))
    assert r.restart and r.restart_tol == pytest.approx(1e-3 / 1000)
    assert r.train_count == "last-epoch"


def test_recipe_defaults_are_the_text_protocol() -> None:
    r = Recipe(lr=0.1)
    assert (r.task, r.target_scale, r.error_band, r.shuffle) == ("disk", 1.0, 0.0, True)
    assert (r.scaling, r.code_gains, r.train_count) == ("feature", False, "final")


def test_code_gains_give_the_elu_layer_gain_1() -> None:
    net = minidl.experiment.build_network(RECIPES["report-code"], generator=gen(0))
    gains = [m.gain for m in net if isinstance(m, minidl.Linear)]
    assert gains == pytest.approx([1.0, math.sqrt(2), 0.75, 1.0])


def test_report_code_runs_and_counts_with_the_band() -> None:
    result = reproduce(runs=3, epochs=2, n=100, recipe="report-code")
    _, target, x_test, y_test = result.data
    assert target.unique().tolist() == pytest.approx([0.0, 0.9])
    assert y_test.unique().tolist() == [0.0, 1.0]
    flat = x_test.reshape(3, -1)  # the test set standardised with its own scalar statistics
    torch.testing.assert_close(flat.mean(-1), torch.zeros(3), atol=1e-5, rtol=0)
    assert result.model is not None
    out = result.model(x_test)
    wrong = ((out - y_test).abs() > 0.45).float().mean(dim=(1, 2)) * 100
    assert result.test_errors == pytest.approx(wrong.tolist(), abs=1e-4)
    assert result.history is not None
    running = (result.history.train_error[-1] * 100).tolist()
    assert result.train_errors == pytest.approx(running, abs=1e-4)


def test_quarter_disk_labels_in_the_experiment() -> None:
    result = reproduce(runs=2, epochs=1, n=200, recipe="report-code", standardize=False)
    x, target = result.data[:2]
    inside = (x.square().sum(-1, keepdim=True) < 2 / math.pi).float() * 0.9
    torch.testing.assert_close(target, inside)


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        (dict(task="square"), "task.*square"),
        (dict(scaling="robust"), "scaling.*robust"),
        (dict(train_count="best"), "train_count.*best"),
        (dict(target_scale=1.5), "target_scale"),
        (dict(error_band=-0.1), "error_band"),
        (dict(loss="hinge"), "loss.*hinge"),
    ],
)
def test_bad_recipe_fields_raise(change: dict[str, Any], pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        reproduce(runs=1, epochs=1, n=10, **change)


def test_every_recipe_field_reaches_the_config() -> None:
    config = reproduce(runs=1, epochs=1, n=20, recipe="report-code").config
    for f in dataclasses.fields(Recipe):
        assert config[f.name] == getattr(RECIPES["report-code"], f.name)
