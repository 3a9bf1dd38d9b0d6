"""Tests for the scaling bases and the ScalingLawSurrogate."""

from __future__ import annotations

import gpytorch
import pytest
import torch

from mfgp.exceptions import InputDataError, NotFittedError
from mfgp.scaling.bases import (
    LogLaw,
    PiecewiseLogLinear,
    PowerLaw,
    ScalingLaw,
    ScalingLawMean,
    ScalingLawSurrogate,
    append_surrogate_feature,
    dimensionless_features,
    make_basis,
)
from mfgp.scaling.growth import BaranyiGrowth

F64 = torch.float64
LV = torch.tensor([0.0, 1.0, 2.0, 3.0], dtype=F64)


def test_power_law_recovers_exponent() -> None:
    V = 10**LV
    law = ScalingLaw(PowerLaw()).fit(LV, 3.0 * V**0.25)
    assert float(law(torch.tensor(5.0, dtype=F64))) == pytest.approx(3.0 * 1e5**0.25, rel=1e-8)


def test_log_law_and_piecewise() -> None:
    law = ScalingLaw(LogLaw()).fit(LV, 10.0 - 2.0 * LV)
    assert float(law(torch.tensor(4.0, dtype=F64))) == pytest.approx(2.0)
    x = torch.linspace(0, 4, 9, dtype=F64)
    y = torch.where(x < 2, 5.0 + x, 7.0 - 0.5 * (x - 2))
    pw = ScalingLaw(PiecewiseLogLinear(knots=(2.0,))).fit(x, y)
    torch.testing.assert_close(
        pw(torch.tensor([1.0, 5.0], dtype=F64)), torch.tensor([6.0, 5.5], dtype=F64)
    )


def test_make_basis_and_errors() -> None:
    assert isinstance(make_basis("power"), PowerLaw)
    assert make_basis("piecewise", knots=[1.0, 2.0], link="log").config()["link"] == "log"
    with pytest.raises(InputDataError, match="unknown scaling basis"):
        make_basis("spline")
    with pytest.raises(InputDataError, match="positive"):
        ScalingLaw("power").fit(LV, torch.tensor([1.0, -1.0, 2.0, 3.0]))
    with pytest.raises(NotFittedError):
        ScalingLaw("power")(LV)


def _planted_data(noise: float = 0.0, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Baranyi curves whose ymax and mu follow power laws of V and depend on an operating var."""
    gen = torch.Generator().manual_seed(seed)
    t = torch.linspace(0, 36, 13, dtype=F64)
    rows = []
    for lv in (0.0, 1.0, 2.0, 3.0):
        for feed in (5.0, 7.0):
            ymax = 60.0 * 10 ** (-0.03 * lv) * (feed / 6.0) ** 0.5
            mu = 0.35 * 10 ** (-0.02 * lv)
            y = BaranyiGrowth.curve(t, torch.tensor([0.2, ymax, mu, 4.0], dtype=F64))
            y = y * torch.exp(noise * torch.randn(13, generator=gen, dtype=F64))
            X = torch.stack([torch.full_like(t, lv), t, torch.full_like(t, feed)], -1)
            rows.append((X, y))
    X = torch.cat([r[0] for r in rows])
    y = torch.cat([r[1] for r in rows])
    return X, y


def test_surrogate_fit_and_extrapolate() -> None:
    X, y = _planted_data()
    s = ScalingLawSurrogate("baranyi", "power", operating_columns=(2,), ridge=0.0).fit_features(
        X, y
    )
    torch.testing.assert_close(s(X), y, rtol=0.03, atol=0.3)
    # extrapolate to 10 m3 at t = 36 h: ymax and mu follow the planted power laws
    Xp = torch.tensor([[4.0, 36.0, 6.0]], dtype=F64)
    want = BaranyiGrowth.curve(
        Xp[:, 1], torch.tensor([0.2, 60.0 * 10 ** (-0.12), 0.35 * 10 ** (-0.08), 4.0], dtype=F64)
    )
    assert float(s(Xp)) == pytest.approx(float(want), rel=0.05)


def test_surrogate_uses_only_the_data_given() -> None:
    X, y = _planted_data()
    lab = X[:, 0] <= 1.0
    a = ScalingLawSurrogate(basis="log").fit_features(X[lab], y[lab])
    y_changed = y.clone()
    y_changed[~lab] *= 3.0
    b = ScalingLawSurrogate(basis="log").fit_features(X[lab], y_changed[lab])
    torch.testing.assert_close(a(X), b(X))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_surrogate_batch_shapes_dtype_and_grad(dtype: torch.dtype) -> None:
    X, y = _planted_data()
    s = ScalingLawSurrogate("gompertz", "power", operating_columns=(2,)).fit_features(X, y)
    Xb = X[:10].to(dtype).expand(3, 10, 3).clone().requires_grad_(True)
    out = s(Xb)
    assert out.shape == (3, 10) and out.dtype == dtype
    out.sum().backward()
    assert Xb.grad is not None and torch.isfinite(Xb.grad).all()
    s32 = s.to(torch.float32)
    assert s32.coef_.dtype == torch.float32
    assert s32(X.float()).dtype == torch.float32


def test_surrogate_state_dict_roundtrip(tmp_path) -> None:  # noqa: ANN001
    X, y = _planted_data(noise=0.02)
    s = ScalingLawSurrogate("logistic", "piecewise", knots=(1.5,), operating_columns=(2,))
    s.fit_features(X, y)
    torch.save({"config": s.get_config(), "state": s.state_dict()}, tmp_path / "s.pt")
    saved = torch.load(tmp_path / "s.pt", weights_only=False)
    t = ScalingLawSurrogate(**saved["config"])
    with pytest.raises(NotFittedError):
        t(X)
    t.load_state_dict(saved["state"])
    torch.testing.assert_close(t(X), s(X))


def test_surrogate_groups_argument_and_errors() -> None:
    X, y = _planted_data()
    groups = [int(i) // 13 for i in range(X.shape[0])]
    s = ScalingLawSurrogate(operating_columns=(2,)).fit(
        X[:, 0], X[:, 1], y, operating=X[:, 2:], groups=groups
    )
    assert s.run_params_.shape == (8, 4)
    with pytest.raises(InputDataError, match="operating="):
        ScalingLawSurrogate(operating_columns=(2,)).fit(X[:, 0], X[:, 1], y)
    with pytest.raises(InputDataError, match=">= 2"):
        ScalingLawSurrogate(operating_columns=(1,))
    with pytest.raises(InputDataError, match="runs cannot fit"):
        ScalingLawSurrogate().fit(X[:13, 0], X[:13, 1], y[:13])
    with pytest.raises(InputDataError, match="columns"):
        s(X[:, :2])
    with pytest.raises(InputDataError, match="equal lengths"):
        ScalingLawSurrogate().fit(X[:, 0], X[:-1, 1], y)


def test_surrogate_errors_name_runs_by_label_or_volume() -> None:
    """A run too short for a growth curve is named by its label, or without labels by its
    volume (never by an internal index)."""
    X, y = _planted_data()
    short = torch.ones(X.shape[0], dtype=torch.bool)
    short[3:13] = False  # the first run keeps 3 time points
    Xs, ys = X[short], y[short]
    labels = [f"lab-{int(i) // 13}" for i in torch.nonzero(short).flatten()]
    with pytest.raises(InputDataError, match="run 'lab-0' has 3 time points"):
        ScalingLawSurrogate().fit(Xs[:, 0], Xs[:, 1], ys, groups=labels)
    with pytest.raises(InputDataError, match="the run at 1 L and operating point 5 has 3 time"):
        ScalingLawSurrogate(operating_columns=(2,)).fit_features(Xs, ys)


def test_surrogate_as_gp_mean_and_feature() -> None:
    X, y = _planted_data()
    s = ScalingLawSurrogate(operating_columns=(2,)).fit_features(X, y)
    # GP inputs with the fidelity index as the last column: the mean uses the first three
    Xgp = torch.cat([X, torch.zeros(X.shape[0], 1, dtype=F64)], -1)
    mean = ScalingLawMean(s, columns=(0, 1, 2), scale=True)
    assert isinstance(mean, gpytorch.means.Mean)
    torch.testing.assert_close(mean(Xgp), s(X))
    assert [n for n, _ in mean.named_parameters()] == ["rho"]

    class GP(gpytorch.models.ExactGP):
        def __init__(self) -> None:
            super().__init__(Xgp, y, gpytorch.likelihoods.GaussianLikelihood())
            self.mean_module = mean
            self.covar_module = gpytorch.kernels.RBFKernel()

        def forward(self, x: torch.Tensor) -> gpytorch.distributions.MultivariateNormal:
            return gpytorch.distributions.MultivariateNormal(
                self.mean_module(x), self.covar_module(x)
            )

    gp = GP().double()
    gp.eval()
    with torch.no_grad():
        assert gp(Xgp[:5]).mean.shape == (5,)
    assert append_surrogate_feature(X, s).shape == (X.shape[0], 4)


def test_dimensionless_features() -> None:
    f = dimensionless_features(
        torch.tensor([10.0, 10000.0], dtype=F64),
        torch.tensor([500.0, 107.7], dtype=F64),
        torch.tensor([1.0, 1.0], dtype=F64),
    )
    assert f.shape == (2, 4)
    # constant ungassed P/V: gassed P/V similar; tip speed up 10^(1/3); mixing time up
    assert float(f[1, 1] - f[0, 1]) == pytest.approx(1 / 3, abs=0.01)
    assert float(f[1, 3]) > float(f[0, 3])
    with pytest.raises(InputDataError, match="volume"):
        dimensionless_features(torch.tensor([0.0]), torch.tensor([1.0]), torch.tensor([1.0]))
