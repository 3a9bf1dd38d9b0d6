"""Tests of mfgp.models.ensembles: deep ensemble MLP, random forest, gradient-boosted trees."""

from __future__ import annotations

import sys

import pytest
import torch

from mfgp.exceptions import InputDataError
from mfgp.models import get_model, load_model
from mfgp.models.ensembles import MissingDependencyError, MLPEnsemble

DTYPES = [torch.float64, torch.float32]
NAMES = ["mlp_ensemble", "random_forest", "gbt"]
# small settings keep the suite fast; defaults are for real data
FAST = {
    "mlp_ensemble": {"epochs": 60, "hidden": 16},
    "random_forest": {"n_estimators": 30},
    "gbt": {"n_estimators": 30},
}


def growth_data(
    dtype: torch.dtype = torch.float64, *, low: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Logistic growth at 4 volumes x 8 times (top level 1), plus biased level-0 rows."""
    g = torch.Generator().manual_seed(7)
    v = torch.tensor([0.0, 1.0, 2.0, 3.0], dtype=torch.float64)
    t = torch.linspace(0.0, 42.0, 8, dtype=torch.float64)
    V, T = (a.flatten() for a in torch.meshgrid(v, t, indexing="ij"))
    cmax = 10.0 * 10 ** (-0.1 * V)
    y = cmax / (1 + (cmax / 0.1 - 1) * torch.exp(-0.3 * T))
    y = y + 0.05 * torch.randn(y.shape, generator=g, dtype=torch.float64)
    X = torch.stack([V, T, torch.ones_like(V)], -1)
    Y = y.unsqueeze(-1)
    if low:
        X0 = X.clone()
        X0[:, -1] = 0
        X, Y = torch.cat([X0, X]), torch.cat([0.7 * Y + 1.0, Y])
    return X.to(dtype), Y.to(dtype)


def query(dtype: torch.dtype = torch.float64) -> torch.Tensor:
    t = torch.linspace(0.0, 42.0, 5, dtype=dtype)
    return torch.stack([torch.full_like(t, 3.5), t, torch.ones_like(t)], -1)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NAMES)
def test_fit_predict_save_load(name: str, dtype: torch.dtype, tmp_path) -> None:
    X, Y = growth_data(dtype)
    model = get_model(name, **FAST[name]).fit((X, Y), seed=0)
    assert model.multi_fidelity is False
    Xq = torch.cat([X[-8:], query(dtype)])
    pred = model.predict(Xq)
    assert pred.mean.shape == pred.variance.shape == (Xq.shape[0],)
    assert pred.mean.dtype == dtype
    assert torch.isfinite(pred.mean).all() and (pred.variance > 0).all()
    noisy = model.predict(Xq, observation_noise=True)
    assert (noisy.variance >= pred.variance).all()
    post = model.posterior(Xq.unsqueeze(0).expand(2, -1, -1))
    assert post.mean.shape == (2, Xq.shape[0], 1)
    top = X[:, -1] == 1
    rmse = (model.predict(X[top]).mean - Y[top, 0]).pow(2).mean().sqrt()
    assert rmse < 0.6 * Y[top].std()
    model.save(tmp_path / name)
    again = load_model(tmp_path / name).predict(Xq)
    assert torch.equal(again.mean, pred.mean) and torch.equal(again.variance, pred.variance)


@pytest.mark.parametrize("name", NAMES)
def test_seeds_and_top_rows_only(name: str) -> None:
    X, Y = growth_data()
    X1, Y1 = growth_data(low=False)
    a = get_model(name, **FAST[name]).fit((X, Y), seed=4).predict(query())
    b = get_model(name, **FAST[name]).fit((X, Y), seed=4).predict(query())
    c = get_model(name, **FAST[name]).fit((X1, Y1), seed=4).predict(query())
    assert torch.equal(a.mean, b.mean) and torch.equal(a.variance, b.variance)
    torch.testing.assert_close(a.mean, c.mean)  # lower-fidelity rows are ignored


def test_mlp_mixture_moments_and_seed_changes_members() -> None:
    X, Y = growth_data()
    m = MLPEnsemble(epochs=30, hidden=8).fit((X, Y), seed=1)
    Xq = query()
    mu, s2 = m.member_moments((Xq[:, :-1] - m.x_mean_) / m.x_std_)
    mix_mean = mu.mean(0)
    mix_var = (s2 + mu**2).mean(0) - mix_mean**2
    pred = m.predict(Xq, observation_noise=True)
    torch.testing.assert_close(pred.mean, m.y_mean_ + m.y_std_ * mix_mean)
    torch.testing.assert_close(pred.variance, m.y_std_**2 * mix_var)
    other = MLPEnsemble(epochs=30, hidden=8).fit((X, Y), seed=2)
    assert not torch.equal(other.weights[0], m.weights[0])
    assert not torch.equal(m.weights[0][0], m.weights[0][1])  # members differ


def test_gbt_variance_from_quantiles() -> None:
    X, Y = growth_data(low=False)
    m = get_model("gbt", **FAST["gbt"]).fit((X, Y))
    median, lo, hi = m.estimators_
    Z = ((query()[:, :-1] - m.x_mean_) / m.x_std_).numpy()
    width = (hi.predict(Z) - lo.predict(Z)) * m.y_std_.item()
    sd = m.predict(query()).sd.numpy()
    assert sd == pytest.approx(abs(width) / (2 * 1.959963984540054), rel=1e-6, abs=1e-3)


@pytest.mark.parametrize("name,module", [("xgboost", "xgboost"), ("lightgbm", "lightgbm")])
def test_optional_boosters_missing(name: str, module: str, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail
    with pytest.raises(MissingDependencyError, match=r"pip install mfgp\[boost\]"):
        get_model(name)
    with pytest.raises(ImportError):
        get_model(name)


@pytest.mark.parametrize("name", ["xgboost", "lightgbm"])
def test_optional_boosters_fit(name: str, tmp_path) -> None:
    pytest.importorskip(name)
    X, Y = growth_data()
    model = get_model(name, n_estimators=30).fit((X, Y), seed=0)
    pred = model.predict(query())
    assert torch.isfinite(pred.mean).all() and (pred.variance > 0).all()
    model.save(tmp_path / name)
    assert torch.equal(load_model(tmp_path / name).predict(query()).mean, pred.mean)


def test_bad_input() -> None:
    X, Y = growth_data()
    with pytest.raises(InputDataError):
        MLPEnsemble(members=0)
    with pytest.raises(InputDataError):
        get_model("random_forest", n_estimators=1)
    with pytest.raises(InputDataError):
        get_model("gbt", learning_rate=0.0)
    with pytest.raises(InputDataError, match="top fidelity"):
        get_model("gbt").fit((X[-2:], Y[-2:]))
    model = get_model("random_forest", n_estimators=5).fit((X, Y))
    with pytest.raises(InputDataError):
        model.predict(X[:, :2])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name", NAMES)
def test_cuda(name: str, tmp_path) -> None:
    X, Y = (t.cuda() for t in growth_data())
    model = get_model(name, **FAST[name]).fit((X, Y))
    pred = model.predict(query().cuda())
    assert pred.mean.device.type == "cuda" and torch.isfinite(pred.variance).all()
    model.save(tmp_path / name)
    again = load_model(tmp_path / name, device="cuda").predict(query().cuda())
    torch.testing.assert_close(again.mean, pred.mean)
