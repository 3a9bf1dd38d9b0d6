"""Tests for the growth-curve models: planted-parameter recovery, shapes, dtypes, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mfgp.exceptions import InputDataError, NotFittedError
from mfgp.scaling.growth import (
    BaranyiGrowth,
    GompertzGrowth,
    GrowthModel,
    LogisticGrowth,
    baranyi,
    get_growth_model,
    gompertz,
    logistic,
)

PLANTED = {
    BaranyiGrowth: [0.2, 60.0, 0.35, 5.0],
    LogisticGrowth: [0.5, 40.0, 0.3],
    GompertzGrowth: [0.02, 5.0, 0.3, 12.0],
}


@pytest.mark.parametrize("cls", list(PLANTED))
def test_fit_recovers_planted_parameters(cls: type[GrowthModel]) -> None:
    rng = np.random.default_rng(0)
    t = torch.linspace(0, 40, 15, dtype=torch.float64)
    truth = torch.tensor(PLANTED[cls], dtype=torch.float64)
    y = cls.curve(t, truth) * torch.as_tensor(np.exp(rng.normal(0, 0.01, 15)))
    model = cls().fit(t, y)
    assert model.fitted_
    est = model.params.detach()
    # the amplitude and rate are well identified; y0 and lag less so
    torch.testing.assert_close(est[1:3], truth[1:3], rtol=0.05, atol=0)
    assert torch.allclose(model(t), y, rtol=0.05, atol=0.05 * float(y.max()))


def test_fit_without_noise_is_exact() -> None:
    t = torch.linspace(0, 40, 15, dtype=torch.float64)
    truth = torch.tensor(PLANTED[BaranyiGrowth], dtype=torch.float64)
    est = BaranyiGrowth().fit(t, BaranyiGrowth.curve(t, truth)).params.detach()
    torch.testing.assert_close(est, truth, rtol=1e-3, atol=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(
    ("fn", "params"),
    [(baranyi, [0.2, 60.0, 5.0, 4.0]), (logistic, [0.5, 40.0, 3.0]), (gompertz, [0.1, 5, 2, 3])],
)
def test_curves_broadcast_and_stay_finite(fn, params, dtype: torch.dtype) -> None:  # noqa: ANN001
    t = torch.linspace(0, 200, 50, dtype=dtype).reshape(2, 25)
    p = torch.tensor(params, dtype=dtype).expand(2, 25, len(params))
    y = fn(t, p)
    assert y.shape == (2, 25) and y.dtype == dtype
    assert torch.isfinite(y).all()


def test_baranyi_limits_and_gradients() -> None:
    p = torch.tensor([0.1, 50.0, 0.4, 3.0], dtype=torch.float64, requires_grad=True)
    t = torch.tensor([0.0, 2.0, 10.0, 500.0], dtype=torch.float64)
    y = baranyi(t, p).detach()
    assert float(y[0]) == pytest.approx(0.1) and float(y[-1]) == pytest.approx(50.0)
    assert float(y[1]) < 0.1 * np.exp(0.4 * 2)  # the lag slows early growth
    assert torch.autograd.gradcheck(lambda q: baranyi(t[:3], q), (p,))


def test_module_parameters_are_trainable_and_positive() -> None:
    m = LogisticGrowth(y0=1.0, ymax=10.0, mu=0.5)
    assert m.param_dict() == pytest.approx({"y0": 1.0, "ymax": 10.0, "mu": 0.5})
    m(torch.tensor([1.0, 2.0])).sum().backward()
    assert m.raw.grad is not None
    assert (m.params > 0).all()


def test_errors() -> None:
    with pytest.raises(InputDataError, match="unknown growth model"):
        get_growth_model("richards")
    with pytest.raises(InputDataError, match="unknown parameter"):
        BaranyiGrowth(k=1.0)
    with pytest.raises(InputDataError, match="positive"):
        BaranyiGrowth(mu=-1.0)
    with pytest.raises(InputDataError, match="at least"):
        BaranyiGrowth().fit(torch.tensor([0.0, 1.0]), torch.tensor([1.0, 2.0]))
    with pytest.raises(InputDataError, match="same length"):
        BaranyiGrowth().fit(torch.arange(5.0), torch.arange(6.0))
    with pytest.raises(InputDataError, match="finite"):
        BaranyiGrowth().fit(torch.arange(5.0), torch.tensor([1, 2, float("nan"), 4, 5]))
    with pytest.raises(NotFittedError):
        BaranyiGrowth().check_fitted()
    assert get_growth_model(GompertzGrowth) is GompertzGrowth
