"""Tests of mfgp.models.baselines: ridge, lasso, scaling_law, discrepancy."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import Lasso, Ridge

from mfgp.exceptions import InputDataError, NotFittedError
from mfgp.models import get_model, load_model
from mfgp.models.baselines import LassoBaseline, RidgeBaseline, fista_lasso, scale_groups

DTYPES = [torch.float64, torch.float32]
NAMES = ["ridge", "lasso", "scaling_law", "discrepancy"]
# logistic curves (the data are logistic) and one restart keep the tests fast
FAST = {
    "scaling_law": {"growth": "logistic"},
    "discrepancy": {"growth": "logistic", "restarts": 1, "maxiter": 50},
}
pytestmark = pytest.mark.filterwarnings("ignore::botorch.exceptions.warnings.InputDataWarning")


def growth_data(
    dtype: torch.dtype = torch.float64, *, low: bool = True, noise: float = 0.05
) -> tuple[torch.Tensor, torch.Tensor]:
    """Logistic growth at 4 volumes (1 L to 1000 L), 8 times each; top level 1 (32 rows) and,
    with ``low``, a biased level 0 at the same inputs. Columns: log10 V, time_h, fidelity."""
    g = torch.Generator().manual_seed(123)
    v = torch.tensor([0.0, 1.0, 2.0, 3.0], dtype=torch.float64)
    t = torch.linspace(0.0, 42.0, 8, dtype=torch.float64)
    V, T = (a.flatten() for a in torch.meshgrid(v, t, indexing="ij"))
    cmax = 10.0 * 10 ** (-0.1 * V)  # plateau falls with scale (power law in V)
    mu = 0.3 - 0.03 * V
    y = 0.1 + cmax / (1 + (cmax / 0.1 - 1) * torch.exp(-mu * T))
    y = y + noise * torch.randn(y.shape, generator=g, dtype=torch.float64)
    X1 = torch.stack([V, T, torch.ones_like(V)], -1)
    if not low:
        return X1.to(dtype), y.unsqueeze(-1).to(dtype)
    X0 = X1.clone()
    X0[:, -1] = 0
    X = torch.cat([X0, X1])
    Y = torch.cat([0.8 * y + 0.5, y]).unsqueeze(-1)
    return X.to(dtype), Y.to(dtype)


def query_points(dtype: torch.dtype = torch.float64) -> torch.Tensor:
    t = torch.linspace(0.0, 42.0, 5, dtype=dtype)
    return torch.stack([torch.full_like(t, 3.5), t, torch.ones_like(t)], -1)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NAMES)
def test_fit_predict_save_load(name: str, dtype: torch.dtype, tmp_path) -> None:
    X, Y = growth_data(dtype)
    model = get_model(name, **FAST.get(name, {})).fit((X, Y), seed=0)
    Xt = torch.cat([X[-8:], query_points(dtype)])
    pred = model.predict(Xt)
    assert pred.mean.shape == pred.variance.shape == (Xt.shape[0],)
    assert pred.mean.dtype == dtype
    assert torch.isfinite(pred.mean).all() and (pred.variance > 0).all()
    noisy = model.predict(Xt, observation_noise=True)
    assert (noisy.variance >= pred.variance * (1 - 1e-5)).all()
    post = model.posterior(Xt.unsqueeze(0).expand(2, -1, -1))
    assert post.mean.shape == (2, Xt.shape[0], 1)
    # the in-sample fit is better than predicting the mean
    top = X[:, -1] == 1
    rmse = (model.predict(X[top]).mean - Y[top, 0]).pow(2).mean().sqrt()
    assert rmse < Y[top].std()
    model.save(tmp_path / name)
    loaded = load_model(tmp_path / name)
    again = loaded.predict(Xt)
    assert torch.equal(again.mean, pred.mean) and torch.equal(again.variance, pred.variance)


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_result(name: str) -> None:
    X, Y = growth_data()
    a = get_model(name, **FAST.get(name, {})).fit((X, Y), seed=3).predict(query_points())
    b = get_model(name, **FAST.get(name, {})).fit((X, Y), seed=3).predict(query_points())
    assert torch.equal(a.mean, b.mean) and torch.equal(a.variance, b.variance)


@pytest.mark.parametrize("name", ["ridge", "lasso", "scaling_law"])
def test_use_top_rows_only(name: str) -> None:
    X, Y = growth_data()
    X1, Y1 = growth_data(low=False)
    a = get_model(name, **FAST.get(name, {})).fit((X, Y)).predict(query_points())
    b = get_model(name, **FAST.get(name, {})).fit((X1, Y1)).predict(query_points())
    torch.testing.assert_close(a.mean, b.mean)
    assert get_model(name).multi_fidelity is False


def test_ridge_equals_closed_form_and_sklearn() -> None:
    X, Y = growth_data(low=False)
    model = RidgeBaseline(alphas=[2.5]).fit((X, Y))
    Xf, Yf = model.top_rows_
    phi, y = model.design(Xf), (Yf.squeeze(-1) - model.y_mean_) / model.y_std_
    p = phi.shape[1]
    closed = torch.linalg.solve(phi.T @ phi + 2.5 * torch.eye(p, dtype=phi.dtype), phi.T @ y)
    torch.testing.assert_close(model.coef_, closed)
    sk = Ridge(alpha=2.5).fit(phi.numpy(), y.numpy())
    np.testing.assert_allclose(model.coef_.numpy(), sk.coef_, atol=1e-10)
    Xt = query_points()
    expected = model.y_mean_.item() + model.y_std_.item() * sk.predict(
        model.design(Xt[:, :-1]).numpy()
    )
    np.testing.assert_allclose(model.predict(Xt).mean.numpy(), expected, atol=1e-9)


def test_lasso_matches_sklearn() -> None:
    X, Y = growth_data(low=False)
    model = LassoBaseline(alphas=[0.01], max_iter=20000).fit((X, Y))
    Xf, Yf = model.top_rows_
    phi, y = model.design(Xf), (Yf.squeeze(-1) - model.y_mean_) / model.y_std_
    sk = Lasso(alpha=0.01, tol=1e-12, max_iter=200000).fit(phi.numpy(), y.numpy())
    np.testing.assert_allclose(model.coef_.numpy(), sk.coef_, atol=1e-4)
    # soft-thresholding on an orthonormal design is exact
    w = fista_lasso(
        torch.eye(3, dtype=torch.float64) * 3**0.5,
        torch.tensor([3.0, 0.1, -2.0], dtype=torch.float64) * 3**0.5,
        torch.tensor([0.5], dtype=torch.float64),
    )
    torch.testing.assert_close(w.squeeze(-1), torch.tensor([2.5, 0.0, -1.5], dtype=torch.float64))


def test_cv_selects_from_grid_and_groups_by_scale() -> None:
    X, Y = growth_data(low=False)
    model = RidgeBaseline(alphas=[1e-3, 1e-1, 10.0]).fit((X, Y))
    assert float(model.alpha_) in (1e-3, 1e-1, 10.0)
    assert scale_groups(X[:, 0]).unique().numel() == 4
    assert scale_groups(torch.zeros(7)).unique().numel() == 5


def test_bad_input() -> None:
    X, Y = growth_data()
    with pytest.raises(InputDataError):
        get_model("ridge").fit((X, Y[:-1]))
    with pytest.raises(InputDataError):
        get_model("ridge").fit((X[:, -1:], Y))  # no feature column
    with pytest.raises(InputDataError):
        RidgeBaseline(alphas=[-1.0])
    with pytest.raises(NotFittedError):
        get_model("lasso").predict(X)
    model = get_model("ridge").fit((X, Y))
    with pytest.raises(InputDataError):
        model.predict(X[:, 1:])  # wrong number of columns
    with pytest.raises(InputDataError):
        model.predict(X.float())  # wrong dtype


def test_scaling_law_known_answer_and_loso_variance() -> None:
    v = torch.tensor([0.0, 1.0, 2.0, 3.0], dtype=torch.float64)
    t = torch.linspace(0.0, 42.0, 8, dtype=torch.float64)
    V, T = (a.flatten() for a in torch.meshgrid(v, t, indexing="ij"))

    def truth(V: torch.Tensor, T: torch.Tensor) -> torch.Tensor:
        cmax, mu = 10.0 * 10 ** (-0.1 * V), 0.3 * 10 ** (-0.05 * V)
        return cmax / (1 + (cmax / 0.1 - 1) * torch.exp(-mu * T))

    X = torch.stack([V, T, torch.ones_like(V)], -1)
    m = get_model("scaling_law", growth="logistic", surrogate_ridge=0.0).fit((X, truth(V, T)))
    Xq = query_points()
    torch.testing.assert_close(m.predict(Xq).mean, truth(Xq[:, 0], Xq[:, 1]), rtol=1e-4, atol=1e-4)
    # with noise, the leave-one-scale-out variance exceeds the in-sample noise estimate
    Xn, Yn = growth_data(low=False)
    noisy = get_model("scaling_law", growth="logistic").fit((Xn, Yn))
    assert noisy.latent_var_ > 0 and noisy.noise_var_ > 0
    p = noisy.predict(Xq, observation_noise=True)
    torch.testing.assert_close(p.variance, (noisy.latent_var_ + noisy.noise_var_).expand(5))


def test_discrepancy_is_surrogate_plus_gp() -> None:
    X, Y = growth_data()
    m = get_model("discrepancy", **FAST["discrepancy"]).fit((X, Y))
    Xq = query_points()
    with torch.no_grad():
        expected = m.surrogate_(Xq[:, :-1]) + m.gp_.posterior(Xq[:, :-1]).mean.squeeze(-1)
    torch.testing.assert_close(m.predict(Xq).mean, expected)
    cov = m.posterior(Xq).distribution.covariance_matrix
    assert cov.shape == (5, 5) and torch.allclose(cov, cov.T)
    s = get_model("scaling_law", growth="logistic").fit((X, Y))
    top = X[:, -1] == 1
    err_d = (m.predict(X[top]).mean - Y[top, 0]).abs().mean()
    err_s = (s.predict(X[top]).mean - Y[top, 0]).abs().mean()
    assert err_d <= err_s  # the GP corrects the surrogate's misfit
    assert m.multi_fidelity is False


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name", NAMES)
def test_cuda(name: str, tmp_path) -> None:
    X, Y = (t.cuda() for t in growth_data())
    model = get_model(name, **FAST.get(name, {})).fit((X, Y))
    pred = model.predict(query_points().cuda())
    assert pred.mean.device.type == "cuda" and torch.isfinite(pred.variance).all()
    model.save(tmp_path / name)
    again = load_model(tmp_path / name, device="cuda").predict(query_points().cuda())
    torch.testing.assert_close(again.mean, pred.mean)


@pytest.mark.parametrize("name", ["ridge", "lasso"])
def test_linear_baselines_trained_on_two_volumes_keep_finite_bands(name):
    """With runs at two volumes v^2 is constant on the training rows; it must not blow the
    band up away from them (it gave a 95 % width of 1.8e13 g/L at 100 L from 1 and 10 L)."""
    g = torch.Generator().manual_seed(0)
    logv = torch.tensor([0.0, 1.0]).repeat_interleave(6)
    rpm = torch.rand(12, generator=g, dtype=torch.float64)
    X = torch.stack([logv.double(), rpm, torch.zeros(12, dtype=torch.float64)], -1)
    Y = (5 + 0.3 * logv.double() + 0.2 * rpm + 0.05 * torch.randn(12, generator=g)).unsqueeze(-1)
    model = get_model(name).fit((X, Y), seed=0)
    Xnew = torch.tensor([[2.0, 0.5, 0.0]], dtype=torch.float64)
    pred = model.predict(Xnew)
    assert torch.isfinite(pred.variance).all() and float(pred.variance.sqrt()) < 10.0
    assert abs(float(pred.mean) - 5.7) < 2.0
