"""Tests of the AR1 (Kennedy-O'Hagan) co-kriging GP, recursive and joint."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import pytest
import torch
from botorch.acquisition import PosteriorMean, qMultiFidelityKnowledgeGradient
from botorch.acquisition.cost_aware import InverseCostWeightedUtility
from botorch.acquisition.logei import qLogNoisyExpectedImprovement
from botorch.models import SingleTaskGP
from botorch.models.cost import AffineFidelityCostModel
from botorch.models.transforms.input import Normalize
from botorch.models.transforms.outcome import Standardize
from botorch.optim import optimize_acqf, optimize_acqf_mixed
from botorch.sampling import SobolQMCNormalSampler
from gpytorch.means import ConstantMean
from gpytorch.mlls import ExactMarginalLogLikelihood
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor

from mfgp.exceptions import InputDataError, MFGPError, MFGPWarning, ModelFittingError
from mfgp.fit import mcmc
from mfgp.models import AR1MultiFidelityGP, get_model, gp_linalg
from mfgp.models.ar1 import fitting as ar1_fitting
from mfgp.models.ar1 import joint as ar1_joint
from mfgp.models.ar1 import recursive as ar1_recursive
from mfgp.models.hybrid import HybridGP
from mfgp.models.single_gp import se_kernel

DTYPES = [torch.float32, torch.float64]


@pytest.fixture(autouse=True, scope="module")
def _single_thread():
    """Small dense linear algebra is fastest (and not slowed by busy cores) on one thread."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _f0(x: Tensor) -> Tensor:
    return torch.sin(8 * x[..., 0]) + 0.5 * x[..., 0]


def _factorisations(mp, *modules, key=lambda shape: shape) -> list:
    """``key(shape)`` of every Cholesky factorisation that ``modules`` ask for from now on:
    each module's ``jittered_cholesky`` is wrapped through ``mp`` (a pytest MonkeyPatch),
    the factorisation itself unchanged."""
    calls: list = []
    real = gp_linalg.jittered_cholesky
    for module in modules:
        mp.setattr(
            module, "jittered_cholesky", lambda A, **kw: calls.append(key(A.shape)) or real(A, **kw)
        )
    return calls


def _rows(x: Tensor, level: int) -> Tensor:
    return torch.cat([x, torch.full_like(x[:, :1], float(level))], dim=-1)


def _ar1_data(
    dtype: torch.dtype,
    rho: Callable[[Tensor], Tensor] | None = None,
    n: tuple[int, ...] = (40, 15),
    seed: int = 0,
) -> tuple[Tensor, Tensor]:
    """Nested two-level AR1 data: f1 = rho(x) f0 + 0.3 (x - 0.5), noise-free."""
    g = torch.Generator().manual_seed(seed)
    x0 = torch.rand(n[0], 1, generator=g, dtype=torch.float64)
    x1 = x0[: n[1]]
    r = (lambda x: 1.8 * torch.ones_like(x[..., 0])) if rho is None else rho
    y0 = _f0(x0)
    y1 = r(x1) * _f0(x1) + 0.3 * (x1[..., 0] - 0.5)
    X = torch.cat([_rows(x0, 0), _rows(x1, 1)])
    Y = torch.cat([y0, y1]).unsqueeze(-1)
    return X.to(dtype), Y.to(dtype)


def _three_levels(dtype: torch.dtype = torch.float64) -> tuple[Tensor, Tensor]:
    """Nested three-level data: f1 = 1.5 f0 + d1, f2 = 0.8 f1 + d2."""
    x0 = torch.linspace(0, 1, 25, dtype=torch.float64).unsqueeze(-1)
    x1, x2 = x0[::2], x0[::4]

    def f1(x: Tensor) -> Tensor:
        return 1.5 * _f0(x) + 0.2 * x[..., 0]

    def f2(x: Tensor) -> Tensor:
        return 0.8 * f1(x) - 0.3 * (x[..., 0] - 0.5) ** 2

    X = torch.cat([_rows(x0, 0), _rows(x1, 1), _rows(x2, 2)])
    Y = torch.cat([_f0(x0), f1(x1), f2(x2)]).unsqueeze(-1)
    return X.to(dtype), Y.to(dtype)


def _grid(n: int, level: int, dtype: torch.dtype, lo: float = 0.02, hi: float = 0.98) -> Tensor:
    x = torch.linspace(lo, hi, n, dtype=dtype).unsqueeze(-1)
    return _rows(x, level)


# ------------------------------------------------------------------- known answers
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["recursive", "joint"])
def test_recovers_planted_constant_rho(dtype: torch.dtype, mode: str) -> None:
    X, Y = _ar1_data(dtype)
    m = AR1MultiFidelityGP(mode=mode, restarts=1, maxiter=60).fit((X, Y), seed=0)
    rho = m.levels_["1"].rho_a.item()
    assert abs(rho - 1.8) < 0.05, rho
    Xt = _grid(7, 1, dtype)
    truth = 1.8 * _f0(Xt) + 0.3 * (Xt[:, 0] - 0.5)
    pred = m.predict(Xt)
    assert pred.mean.dtype == dtype
    assert ((pred.mean - truth).abs() < 0.02 + 3 * pred.sd).all()
    assert (pred.mean - truth).abs().median() < 0.02


def test_recovers_planted_linear_rho() -> None:
    def rho(x: Tensor) -> Tensor:
        return 1.0 + 1.5 * x[..., 0]

    X, Y = _ar1_data(torch.float64, rho=rho, n=(40, 20))
    m = AR1MultiFidelityGP(rho="linear", rho_features=[0], restarts=1, maxiter=80).fit((X, Y))
    Xt = _grid(5, 1, torch.float64, 0.1, 0.9)
    fitted = m.rho(Xt)
    assert (fitted - rho(Xt)).abs().max() < 0.05, fitted
    torch.testing.assert_close(
        m.rho(_grid(3, 0, torch.float64)), torch.ones(3, dtype=torch.float64)
    )


@pytest.mark.parametrize("nlevels", [2, 3])
@pytest.mark.parametrize("trend", [None, 1.0])
def test_recursive_equals_joint_on_nested_design(nlevels: int, trend: float | None) -> None:
    """Le Gratiet & Garnier: for a nested, noise-free design the recursive posterior is the
    joint KOH posterior (same hyperparameters); the difference is O(noise + round-off). The
    joint copy of a model with trend uncertainty carries it too."""
    X, Y = _three_levels()
    keep = X[:, -1] < nlevels
    X, Y = X[keep], Y[keep]
    m = AR1MultiFidelityGP(
        mode="recursive",
        noise=1e-12,
        restarts=1,
        maxiter=40,
        trend_uncertainty=trend,
        rho="linear" if trend else "constant",
    ).fit((X, Y))
    joint = m.as_joint()
    assert joint.config["mode"] == "joint"
    # mixed levels in one call, inside and outside the data range
    Xt = torch.cat([_grid(8, k, torch.float64, -0.1, 1.2) for k in range(nlevels)])
    a, b = m.posterior(Xt), joint.posterior(Xt)
    scale = a.covariance_matrix.diagonal().max()
    # with trend uncertainty the joint copy re-estimates the coefficients by generalised least
    # squares, which equals the fitted values only at the exact likelihood optimum (40 L-BFGS
    # iterations get close, not exact); the recursive mean keeps the fitted values
    assert (a.mean - b.mean).abs().max() < (1e-5 if trend is None else 1e-3)
    assert ((a.covariance_matrix - b.covariance_matrix).abs().max() / scale) < 1e-6


@pytest.mark.parametrize("mode", ["recursive", "joint"])
def test_non_nested_design(mode: str) -> None:
    """Level-1 inputs that are not level-0 inputs: the recursive mode uses the level-0
    posterior mean there (an approximation), the joint mode is exact; both recover rho."""
    g = torch.Generator().manual_seed(5)
    x0 = torch.linspace(0, 1, 30, dtype=torch.float64).unsqueeze(-1)
    x1 = torch.rand(12, 1, generator=g, dtype=torch.float64)
    X = torch.cat([_rows(x0, 0), _rows(x1, 1)])
    Y = torch.cat([_f0(x0), 1.8 * _f0(x1) + 0.3 * (x1[:, 0] - 0.5)]).unsqueeze(-1)
    m = AR1MultiFidelityGP(mode=mode, restarts=1, maxiter=60).fit((X, Y))
    assert abs(m.levels_["1"].rho_a.item() - 1.8) < 0.1
    Xt = _grid(6, 1, torch.float64, 0.1, 0.9)
    truth = 1.8 * _f0(Xt) + 0.3 * (Xt[:, 0] - 0.5)
    assert (m.predict(Xt).mean - truth).abs().max() < 0.05


def test_zero_level0_reduces_to_single_task_gp() -> None:
    g = torch.Generator().manual_seed(1)
    x = torch.rand(15, 2, generator=g, dtype=torch.float64)
    X = _rows(x, 1)
    Y = (torch.sin(5 * x[:, :1]) + x[:, 1:]) * 3 + 10

    def zero(xf: Tensor) -> Tensor:
        return torch.zeros(xf.shape[:-1], dtype=xf.dtype)

    m = AR1MultiFidelityGP(level0=zero, restarts=1, maxiter=40, trend_uncertainty=None)
    m.fit((X, Y))
    lvl = m.levels_["1"]
    c0 = ((0 - m.y_mu) / m.y_sd).item()
    stgp = SingleTaskGP(
        x,
        Y,
        covar_module=copy.deepcopy(lvl.kernel),
        mean_module=ConstantMean(),
        input_transform=Normalize(2, bounds=torch.stack([m.x_lo, m.x_lo + m.x_rng])),
        outcome_transform=Standardize(1),
    )
    with torch.no_grad():
        stgp.mean_module.constant.fill_(lvl.rho_a.item() * c0 + lvl.mean.constant.item())
        stgp.likelihood.noise = lvl.likelihood.noise
    stgp.eval()
    xt = torch.rand(6, 2, generator=g, dtype=torch.float64) * 1.2
    a, b = m.posterior(_rows(xt, 1)), stgp.posterior(xt)
    torch.testing.assert_close(a.mean, b.mean, rtol=1e-6, atol=1e-8)
    torch.testing.assert_close(a.variance, b.variance, rtol=1e-6, atol=1e-10)


@pytest.mark.parametrize("delta_mean", ["constant", "linear"])
def test_trend_uncertainty_equals_gp_with_random_coefficients(delta_mean: str) -> None:
    """Known answer: with trend coefficients beta ~ N(beta_hat, sd^2 I), the posterior
    covariance equals that of a GP whose kernel is k(x, x') + sd^2 h(x)' h(x'), h = [f0, 1(, z)]
    (O'Hagan 1978); the mean is the plug-in one."""
    g = torch.Generator().manual_seed(2)
    x = torch.rand(12, 1, generator=g, dtype=torch.float64)
    X = _rows(x, 1)
    Y = (1.7 * _f0(x) + 0.4 * x[:, 0]).unsqueeze(-1)
    sd = 0.7
    m = AR1MultiFidelityGP(
        level0=_f0, noise=1e-3, delta_mean=delta_mean, trend_uncertainty=sd, restarts=1, maxiter=30
    ).fit((X, Y))
    plug = copy.deepcopy(m)
    plug.config["trend_uncertainty"] = None
    Xt = _grid(7, 1, torch.float64, -0.3, 1.3)
    lvl = m.levels_["1"]

    def z_of(Xr: Tensor) -> Tensor:  # the model's normalised features
        return (Xr[:, :-1] - m.x_lo) / m.x_rng

    def h(Xr: Tensor) -> Tensor:
        z = z_of(Xr)
        f0 = (_f0(Xr[:, :-1]) - m.y_mu) / m.y_sd  # level 0 in standardised units
        cols = [f0.unsqueeze(-1), torch.ones_like(z[:, :1])]
        return torch.cat(cols + ([z] if delta_mean == "linear" else []), dim=-1)

    with torch.no_grad():
        z, zt = z_of(X), z_of(Xt)
        noise = m.level_noise_variances(internal=True)[X[:, -1].long()]
        K = lvl.kernel(z, z).to_dense() + sd**2 * h(X) @ h(X).T + torch.diag(noise)
        Kst = lvl.kernel(zt, z).to_dense() + sd**2 * h(Xt) @ h(X).T
        Kss = lvl.kernel(zt, zt).to_dense() + sd**2 * h(Xt) @ h(Xt).T
        exact = Kss - Kst @ torch.linalg.solve(K, Kst.T)
        mean, cov = m.latent_posterior(Xt)
        mean_plug, cov_plug = plug.latent_posterior(Xt)
    torch.testing.assert_close(cov, exact, rtol=1e-6, atol=1e-9)
    torch.testing.assert_close(mean, mean_plug)
    assert bool((cov.diagonal() >= cov_plug.diagonal() - 1e-12).all())
    # extrapolating beyond the data the coefficient uncertainty matters most
    assert float(cov.diagonal()[-1] - cov_plug.diagonal()[-1]) > 1e-4


def test_three_levels_with_level0_callable() -> None:
    X, Y = _three_levels()
    keep = X[:, -1] > 0  # level 0 given exactly by the callable, no level-0 rows

    m = AR1MultiFidelityGP(level0=_f0, restarts=1, maxiter=60).fit((X[keep], Y[keep]))
    assert m.n_fidelities_ == 3 and set(m.levels_.keys()) == {"1", "2"}
    assert abs(m.levels_["1"].rho_a.item() - 1.5) < 0.1
    assert abs(m.levels_["2"].rho_a.item() - 0.8) < 0.1
    Xt = _grid(5, 2, torch.float64, 0.1, 0.9)
    truth = 0.8 * (1.5 * _f0(Xt) + 0.2 * Xt[:, 0]) - 0.3 * (Xt[:, 0] - 0.5) ** 2
    assert (m.predict(Xt).mean - truth).abs().max() < 0.05
    # fidelity 0 is the callable itself: exact, zero variance
    X0 = _grid(4, 0, torch.float64)
    p0 = m.predict(X0)
    torch.testing.assert_close(p0.mean, _f0(X0))
    assert p0.variance.abs().max() < 1e-12


def test_three_levels_without_callable_joint() -> None:
    X, Y = _three_levels()
    m = AR1MultiFidelityGP(mode="joint", restarts=1, maxiter=40).fit((X, Y))
    Xt = _grid(5, 2, torch.float64, 0.1, 0.9)
    truth = 0.8 * (1.5 * _f0(Xt) + 0.2 * Xt[:, 0]) - 0.3 * (Xt[:, 0] - 0.5) ** 2
    assert (m.predict(Xt).mean - truth).abs().max() < 0.05


@pytest.mark.parametrize("mode", ["recursive", "joint"])
def test_posterior_covariance_positive_definite_across_levels(mode: str) -> None:
    X, Y = _three_levels()
    m = AR1MultiFidelityGP(mode=mode, restarts=1, maxiter=30).fit((X, Y))
    Xt = torch.cat([_grid(5, k, torch.float64, 0.05, 1.1) for k in range(3)])
    for noise in (False, True):
        cov = m.posterior(Xt, observation_noise=noise).covariance_matrix
        assert cov.shape == (15, 15)
        torch.testing.assert_close(cov, cov.transpose(-1, -2))
        torch.linalg.cholesky(cov)
        assert torch.linalg.eigvalsh(cov).min() > 0
    # batched input
    post = m.posterior(Xt.reshape(3, 5, 2))
    assert post.mean.shape == (3, 5, 1)


# --------------------------------------------------------------------- options
@pytest.mark.parametrize("dtype", DTYPES)
def test_log_transform_bands_positive(dtype: torch.dtype) -> None:
    X, Y = _ar1_data(dtype, n=(25, 10))
    Ypos = torch.exp(Y)
    m = AR1MultiFidelityGP(log_transform=True, restarts=1, maxiter=40).fit((X, Ypos))
    Xt = _grid(8, 1, dtype, -0.5, 1.5)  # extrapolation too
    pred = m.predict(Xt)
    assert (pred.lower > 0).all() and (pred.upper > pred.lower).all()
    assert ((pred.mean > pred.lower) & (pred.mean < pred.upper)).all()
    post = m.posterior(Xt)
    torch.testing.assert_close(post.mean.squeeze(-1), pred.mean)
    torch.testing.assert_close(post.variance.squeeze(-1), pred.variance)
    assert (post.rsample(torch.Size([4])) > 0).all()
    with pytest.raises(InputDataError, match="Y > 0"):
        AR1MultiFidelityGP(log_transform=True).fit((X, Y - 10))


def test_fixed_and_heteroscedastic_noise() -> None:
    X, Y = _ar1_data(torch.float64, n=(20, 8))
    m = AR1MultiFidelityGP(noise=[1e-4, 1e-3], restarts=1, maxiter=20).fit((X, Y))
    assert not hasattr(m.levels_["0"], "likelihood")
    torch.testing.assert_close(m.level_noise_variances(), X.new_tensor([1e-4, 1e-3]))
    Yvar = torch.full_like(Y, 1e-3)
    mh = AR1MultiFidelityGP(restarts=1, maxiter=20).fit((X, Y, Yvar))
    Xt = _grid(4, 1, torch.float64)
    latent = mh.predict(Xt).variance
    noisy = mh.predict(Xt, observation_noise=True).variance
    torch.testing.assert_close(noisy - latent, torch.full_like(latent, 1e-3))


def test_save_load_round_trip(tmp_path) -> None:
    X, Y = _three_levels()
    keep = X[:, -1] > 0
    m = AR1MultiFidelityGP(level0=_f0, rho="linear", delta_mean="linear", restarts=1, maxiter=20)
    m.fit((X[keep], Y[keep]))
    m.save(tmp_path / "ar1")
    with pytest.raises(InputDataError, match="level0=fn"):
        AR1MultiFidelityGP.load(tmp_path / "ar1")
    loaded = AR1MultiFidelityGP.load(tmp_path / "ar1", level0=_f0)
    Xt = torch.cat([_grid(5, k, torch.float64) for k in range(3)])
    a, b = m.posterior(Xt), loaded.posterior(Xt)
    torch.testing.assert_close(a.mean, b.mean, rtol=0, atol=0)
    torch.testing.assert_close(a.covariance_matrix, b.covariance_matrix, rtol=0, atol=0)
    assert loaded.config == m.config
    as32 = loaded.to(dtype=torch.float32)
    assert as32.predict(Xt.float()).mean.dtype == torch.float32


def test_level0_module_moves_with_to() -> None:
    class Law(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("a", torch.tensor(8.0, dtype=torch.float64))

        def forward(self, xf: Tensor) -> Tensor:
            return torch.sin(self.a * xf[..., 0]) + 0.5 * xf[..., 0]

    X, Y = _ar1_data(torch.float64, n=(20, 10))
    keep = X[:, -1] > 0
    law = Law()
    m = AR1MultiFidelityGP(level0=law, restarts=1, maxiter=20).fit((X[keep], Y[keep]))
    assert "level0.a" in m.state_dict()
    m.to(dtype=torch.float32)
    assert law.a.dtype == torch.float32


def test_same_seed_same_fit() -> None:
    X, Y = _ar1_data(torch.float64, n=(20, 8))
    fits = [
        AR1MultiFidelityGP(mode="joint", restarts=2, maxiter=15).fit((X, Y), seed=3)
        for _ in range(2)
    ]
    s0, s1 = (f.state_dict() for f in fits)
    for key in s0:
        torch.testing.assert_close(s0[key], s1[key], rtol=0, atol=0)


def test_fit_rows_subset_estimates_on_a_subset_and_conditions_on_all(monkeypatch) -> None:
    """A level larger than ``fit_rows`` fits hyperparameters on a seeded subset; the posterior
    still interpolates every row (noise-free data), and the same seed gives the same fit."""
    X, Y = _ar1_data(torch.float64, n=(60, 15))
    calls: list[int] = []
    orig = ar1_fitting.gaussian_nll

    def spy(K: Tensor, r: Tensor) -> Tensor:
        calls.append(r.shape[-1])
        return orig(K, r)

    with monkeypatch.context() as mp:
        for module in (ar1_fitting, ar1_joint):  # the submodules that call it
            mp.setattr(module, "gaussian_nll", spy)
        fits = [
            AR1MultiFidelityGP(fit_rows=20, restarts=1, maxiter=30).fit((X, Y), seed=4)
            for _ in range(2)
        ]
    assert set(calls) == {20, 15}  # level 0 on 20 of its 60 rows, level 1 (15 rows) on all
    for key, v in fits[0].state_dict().items():
        torch.testing.assert_close(v, fits[1].state_dict()[key], rtol=0, atol=0)
    lo = X[X[:, -1] == 0]
    pred = fits[0].predict(lo)
    assert (pred.mean - Y[X[:, -1] == 0, 0]).abs().max() < 0.05
    full = AR1MultiFidelityGP(fit_rows=None, restarts=1, maxiter=30).fit((X, Y), seed=4)
    Xt = _grid(9, 1, torch.float64)
    assert (fits[0].predict(Xt).mean - full.predict(Xt).mean).abs().max() < 0.05
    with pytest.raises(InputDataError, match="fit_rows"):
        AR1MultiFidelityGP(fit_rows=3)


def test_posterior_cache_follows_parameters(monkeypatch) -> None:
    """The recursive posterior factorises once per parameter state and refreshes after a
    parameter changes in place (load_state_dict, optimiser steps)."""
    X, Y = _ar1_data(torch.float64, n=(20, 8))
    m = AR1MultiFidelityGP(restarts=1, maxiter=20).fit((X, Y))
    Xt = _grid(5, 1, torch.float64)
    calls = _factorisations(monkeypatch, ar1_recursive)
    a = m.predict(Xt).mean
    torch.testing.assert_close(m.predict(Xt).mean, a, rtol=0, atol=0)
    assert calls == []  # the fit's factors serve every call
    with torch.no_grad():
        m.levels_["1"].rho_a.mul_(2.0)
    b = m.predict(Xt).mean
    assert calls == [torch.Size([20, 20]), torch.Size([8, 8])]  # one factor per level
    assert (a - b).abs().max() > 1e-3
    m.predict(Xt)
    assert len(calls) == 2  # cached again
    fresh = copy.deepcopy(m)  # new tensors: nothing cached for them
    torch.testing.assert_close(fresh.predict(Xt).mean, b)


def test_train_mode_drops_the_posterior_cache_and_copies_leave_it(monkeypatch) -> None:
    """Like GPyTorch's prediction strategy, the cached factors go with ``train()`` (they are
    rebuilt at the next posterior call in eval mode), and a deep copy starts without them."""
    X, Y = _ar1_data(torch.float64, n=(20, 8))
    m = AR1MultiFidelityGP(restarts=1, maxiter=20).fit((X, Y))
    Xt = _grid(5, 1, torch.float64)
    a = m.predict(Xt).mean
    calls = _factorisations(monkeypatch, ar1_recursive, key=lambda shape: shape[-1])
    copy.deepcopy(m).predict(Xt)
    assert calls == [20, 8]
    m.train()
    m.eval()
    torch.testing.assert_close(m.predict(Xt).mean, a)
    assert calls == [20, 8, 20, 8]
    m.predict(Xt)
    assert len(calls) == 4


def test_joint_posterior_factorises_once_and_broadcasts(monkeypatch) -> None:
    """Joint mode factorises the training covariance once per parameter state, at the data's
    batch shape: a ``b x 1 x d`` query gives the pointwise posterior of the ``1 x b x d`` query
    with a single factorisation, and an in-place parameter change refreshes the factor."""
    X, Y = _ar1_data(torch.float64, n=(20, 8))
    m = AR1MultiFidelityGP(mode="joint", restarts=1, maxiter=20).fit((X, Y))
    Xt = _grid(6, 1, torch.float64)
    calls = _factorisations(monkeypatch, ar1_joint, ar1_recursive)  # the callers
    flat = m.posterior(Xt)
    batched = m.posterior(Xt.unsqueeze(-2))
    assert calls == [torch.Size([28, 28])]
    torch.testing.assert_close(batched.mean.reshape(-1), flat.mean.reshape(-1))
    torch.testing.assert_close(batched.variance.reshape(-1), flat.variance.reshape(-1))
    with torch.no_grad():
        m.levels_["1"].rho_a.mul_(2.0)
    moved = m.posterior(Xt)
    assert len(calls) == 2 and (moved.mean - flat.mean).abs().max() > 1e-3


@pytest.mark.parametrize("mode", ["recursive", "joint"])
def test_conditioned_posterior_equals_direct_factorisation(mode: str) -> None:
    """The block update of conditioned (fantasy) rows gives the posterior of one dense
    factorisation of training plus conditioned rows (the model's ``joint_gp``), for batched
    fantasies and for a model conditioned twice."""
    X, Y = _ar1_data(torch.float64, n=(20, 8))
    m = AR1MultiFidelityGP(mode=mode, restarts=1, maxiter=20, trend_uncertainty=1.0).fit((X, Y))
    m.eval()
    g = torch.Generator().manual_seed(3)
    Xc = torch.rand(2, 2, generator=g, dtype=torch.float64)
    Xc[:, -1] = torch.tensor([0.0, 1.0], dtype=torch.float64)
    Yc = 2.0 + torch.randn(3, 2, 1, generator=g, dtype=torch.float64)  # 3 fantasies
    once = m.condition_on_observations(Xc, Yc)
    Xd = torch.tensor([[0.55, 1.0]], dtype=torch.float64)
    twice = once.condition_on_observations(Xd, torch.full((3, 1, 1), 2.5, dtype=torch.float64))
    Xt = _grid(5, 1, torch.float64)
    for cond in (once, twice):
        assert cond.batch_shape == torch.Size([3])
        gp = cond.joint_gp()  # training and conditioned rows, internal units
        Xa, ya = gp.train_inputs[0], gp.train_targets
        assert Xa.shape == (3, 28 + (2 if cond is once else 3), 2)
        noise = gp.likelihood.noise_covar(Xa).diagonal()
        level = cond.level_noise_variances(internal=True)[Xa[..., -1].long()]
        torch.testing.assert_close(noise, level)  # no Yvar: the level noise
        K = cond.covar_module(Xa, Xa).to_dense() + torch.diag_embed(noise)
        Kxs = cond.covar_module(Xa, Xt.expand(3, *Xt.shape)).to_dense()
        A = torch.linalg.solve(K, Kxs)
        mean = cond.mean_module(Xt) + (
            A.transpose(-1, -2) @ (ya - cond.mean_module(Xa)).unsqueeze(-1)
        ).squeeze(-1)
        cov = cond.covar_module(Xt, Xt).to_dense() - Kxs.transpose(-1, -2) @ A
        got_mean, got_cov = cond.latent_posterior(Xt)
        torch.testing.assert_close(got_mean, mean, rtol=1e-6, atol=1e-8)
        torch.testing.assert_close(got_cov, cov, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("mode", ["recursive", "joint"])
def test_conditioned_models_share_the_training_factor(monkeypatch, mode: str) -> None:
    """Conditioned (fantasy) models reuse their parent's factor of the training rows and
    factorise only a block for their own rows."""
    X, Y = _ar1_data(torch.float64, n=(20, 8))
    m = AR1MultiFidelityGP(mode=mode, restarts=1, maxiter=20).fit((X, Y))
    m.eval()
    calls = _factorisations(monkeypatch, ar1_joint, key=lambda shape: shape[-1])
    Xc = torch.tensor([[0.2, 0.0], [0.6, 1.0]], dtype=torch.float64)
    once = m.condition_on_observations(Xc, torch.ones(3, 2, 1, dtype=torch.float64))
    Xd = torch.tensor([[0.55, 1.0]], dtype=torch.float64)
    twice = once.condition_on_observations(Xd, torch.full((3, 1, 1), 2.5, dtype=torch.float64))
    Xt = _grid(5, 1, torch.float64)
    once.posterior(Xt)
    twice.posterior(Xt)
    assert calls.count(28) == 1  # the 28 training rows, factorised once
    assert sorted(c for c in calls if c != 28) == [2, 3]  # each model's own block


def test_joint_posterior_gradient_flows_through_fantasy_points(monkeypatch) -> None:
    """A model conditioned on observations that depend on candidate points (fantasies, as in
    knowledge gradient) is not served from the cache: the gradient reaches the candidates."""
    X, Y = _ar1_data(torch.float64, n=(20, 8))
    m = AR1MultiFidelityGP(restarts=1, maxiter=20).fit((X, Y))
    m.eval()
    xc = torch.tensor([[0.3, 1.0]], dtype=torch.float64, requires_grad=True)
    yc = m.posterior(xc).mean.detach() + 0.5 * xc[..., :1]
    cond = m.condition_on_observations(xc, yc)
    out = cond.posterior(_grid(4, 1, torch.float64)).mean.sum()
    (g,) = torch.autograd.grad(out, xc)
    assert torch.isfinite(g).all() and g[0, 0].abs() > 1e-6
    # the same model queried twice without gradients factorises its block once
    calls = _factorisations(monkeypatch, ar1_joint, key=lambda shape: shape[-1])
    with torch.no_grad():
        cond2 = m.condition_on_observations(xc.detach(), yc.detach())
        a = cond2.posterior(_grid(4, 1, torch.float64)).mean
        cond2.posterior(_grid(4, 1, torch.float64))
        assert calls.count(1) == 1  # the one conditioned row's block, cached
        torch.testing.assert_close(a, cond.posterior(_grid(4, 1, torch.float64)).mean.detach())
        assert calls.count(1) == 2  # with gradients to the candidates: not cached


@pytest.mark.parametrize("dtype", DTYPES)
def test_for_simulator_interpolates_noise_free_levels(dtype: torch.dtype) -> None:
    """The simulator settings (SE kernel, low-noise prior) interpolate noise-free smooth
    levels far more closely than the measured-data defaults."""
    X, Y = _ar1_data(dtype, n=(30, 10))
    Xt = _grid(25, 1, dtype)
    truth = 1.8 * _f0(Xt) + 0.3 * (Xt[:, 0] - 0.5)
    sim = AR1MultiFidelityGP.for_simulator(restarts=1, maxiter=100).fit((X, Y))
    default = AR1MultiFidelityGP(restarts=1, maxiter=100).fit((X, Y))
    err_sim = (sim.predict(Xt).mean - truth).abs().max()
    err_def = (default.predict(Xt).mean - truth).abs().max()
    assert sim.config["noise_prior"] == [-12.0, 3.0]
    assert err_sim < err_def
    assert err_sim < (0.05 if dtype == torch.float32 else 0.01)
    with pytest.raises(InputDataError, match="noise_prior"):
        AR1MultiFidelityGP(noise_prior=(0.0, -1.0))
    with pytest.raises(InputDataError, match="min_noise"):
        AR1MultiFidelityGP(min_noise=0.0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_hyperparameter_samples_mix_the_draws(dtype: torch.dtype) -> None:
    """With ``hyperparameter_samples`` the posterior is the moment-matched mixture of the
    stored draws: mean ``m = E_s[m_s]``, covariance ``E_s[C_s + (m_s - m)(m_s - m)']`` (known
    answer, rebuilt here from plug-in copies holding each draw)."""
    X, Y = _ar1_data(dtype, n=(20, 8))
    Xt = torch.cat([_grid(7, 0, dtype), _grid(7, 1, dtype, -0.2, 1.2)])
    kw = {"restarts": 1, "maxiter": 60, "kernel": se_kernel, "noise_prior": (-12.0, 3.0)}
    plain = AR1MultiFidelityGP(**kw).fit((X, Y), seed=3)
    mix = AR1MultiFidelityGP(hyperparameter_samples=5, **kw).fit((X, Y), seed=3)
    a, b = plain.posterior(Xt), mix.posterior(Xt)
    parts = []
    for s in range(5):
        cp = copy.deepcopy(plain)
        for k, lvl in cp.levels_.items():
            draw = mix.levels_[k].hyper_samples[s]
            params = list(lvl.kernel.parameters())
            sizes = [p.numel() for p in params]
            with torch.no_grad():
                for p, v in zip(params, torch.split(draw, sizes), strict=True):
                    p.copy_(v.view_as(p))
        ps = cp.posterior(Xt)
        parts.append((ps.mean.squeeze(-1), ps.covariance_matrix))
    mean = sum(m for m, _ in parts) / 5
    expected = sum(c + (m - mean).unsqueeze(-1) * (m - mean).unsqueeze(-2) for m, c in parts) / 5
    # float32: the draws are factorised as one batch and the copies one by one, whose
    # round-off differs by about cond * eps (noise at its 1e-6 floor: cond ~ 1e5)
    tol = {"rtol": 1e-8, "atol": 1e-10} if dtype == torch.float64 else {"rtol": 1e-2, "atol": 5e-3}
    torch.testing.assert_close(b.mean.squeeze(-1), mean, **tol)
    torch.testing.assert_close(b.covariance_matrix, expected, **tol)
    assert not torch.allclose(b.mean, a.mean, rtol=1e-4)  # not the plug-in (MAP) mean
    # the draws spread around the fit and change the bands (not always wider: longer
    # lengthscales among the draws narrow them)
    draws = mix.levels_["1"].hyper_samples
    assert bool((draws.std(0) > 0).all())
    assert not torch.allclose(b.covariance_matrix, a.covariance_matrix, rtol=1e-3)


def test_hyperparameter_draws_sample_the_level_posterior() -> None:
    """Known answer: the draws of a level's two raw kernel parameters (SE lengthscale and
    outputscale) have the quartiles of the level's posterior density ``exp(-energy)``,
    integrated on a grid. That posterior has a long tail towards long lengthscales, which a
    Laplace approximation (symmetric about the fitted values) misses."""
    x = torch.linspace(0.05, 0.95, 8, dtype=torch.float64).unsqueeze(-1)
    X = torch.cat([x, torch.ones_like(x)], dim=-1)
    Y = (torch.sin(8 * x) + 0.5 * x + 0.3 * torch.cos(3 * x)).reshape(-1, 1)
    m = AR1MultiFidelityGP.for_simulator(level0=_f0, restarts=1, hyperparameter_samples=200)
    m.fit((X, Y), seed=0)
    draws = m.levels_["1"].hyper_samples
    kern = m.levels_["1"].kernel
    theta0 = mcmc.flat_params(kern)
    gp = m.joint_gp()  # level 0 is the callable: the joint GP is level 1's own
    mll = ExactMarginalLogLikelihood(gp.likelihood, gp)
    Xk, yk = gp.train_inputs[0], gp.train_targets
    axes = (
        torch.linspace(-8.0, 40.0, 97, dtype=torch.float64),
        torch.linspace(-1.0, 2.5, 71, dtype=torch.float64),
    )
    grid = torch.cartesian_prod(*axes)

    def nlp() -> Tensor:  # negative log posterior of level 1's hyperparameters
        return -yk.numel() * mll(gp(Xk), yk, Xk)

    energy = torch.tensor([mcmc.energy(kern, nlp, t) for t in grid])
    mcmc.set_params(kern, theta0)
    w = torch.softmax(-energy, 0).reshape(97, 71)
    assert float(w[0].sum() + w[-1].sum() + w[:, 0].sum() + w[:, -1].sum()) < 1e-3  # mass inside
    q = torch.tensor([0.25, 0.5, 0.75], dtype=torch.float64)
    for j, (axis, marginal) in enumerate(zip(axes, (w.sum(1), w.sum(0)), strict=True)):
        cdf = marginal.cumsum(0)
        h = axis[1] - axis[0]  # each grid point holds the mass of a cell of width h
        i = torch.searchsorted(cdf, q).clamp(1, len(axis) - 1)
        exact = axis[i - 1] + h / 2 + (q - cdf[i - 1]) / (cdf[i] - cdf[i - 1]) * h
        got = torch.quantile(draws[:, j], q)
        iqr = exact[2] - exact[0]
        assert ((got - exact).abs() < 0.2 * iqr).all(), (j, got, exact)


def test_hyperparameter_samples_reproducible_saved_and_differentiable(tmp_path) -> None:
    X, Y = _ar1_data(torch.float64, n=(20, 8))
    kw = {"restarts": 1, "maxiter": 40, "hyperparameter_samples": 4}
    m1 = AR1MultiFidelityGP(**kw).fit((X, Y), seed=1)
    m2 = AR1MultiFidelityGP(**kw).fit((X, Y), seed=1)
    m3 = AR1MultiFidelityGP(**kw).fit((X, Y), seed=2)
    d1, d2 = m1.levels_["1"].hyper_samples, m2.levels_["1"].hyper_samples
    torch.testing.assert_close(d1, d2, rtol=0, atol=0)
    assert not torch.equal(d1, m3.levels_["1"].hyper_samples)
    m1.save(tmp_path / "m")
    loaded = AR1MultiFidelityGP.load(tmp_path / "m")
    Xt = _grid(6, 1, torch.float64).requires_grad_()
    a, b = m1.posterior(Xt), loaded.posterior(Xt)
    torch.testing.assert_close(a.covariance_matrix, b.covariance_matrix, rtol=0, atol=0)
    torch.linalg.cholesky(a.covariance_matrix + 1e-10 * torch.eye(6, dtype=torch.float64))
    a.variance.sum().backward()  # acquisition functions differentiate the bands in X
    assert Xt.grad is not None and bool(torch.isfinite(Xt.grad).all())
    # a level over fit_rows keeps its fitted values and shares its factors with the draws
    big = AR1MultiFidelityGP(fit_rows=10, **kw).fit((X, Y), seed=1)
    theta0 = torch.cat([p.detach().reshape(-1) for p in big.levels_["0"].kernel.parameters()])
    assert bool((big.levels_["0"].hyper_samples == theta0).all())
    assert not bool((big.levels_["1"].hyper_samples == big.levels_["1"].hyper_samples[0]).all())
    with pytest.MonkeyPatch.context() as mp:
        calls = _factorisations(mp, ar1_recursive, key=tuple)
        pred = big.predict(_grid(5, 1, torch.float64))
    # level 0 factorised once and shared by the draws; level 1 once fitted, once for the 4
    # draws together (a batch dimension, not 4 copies)
    assert sorted(calls) == [(4, 8, 8), (8, 8), (20, 20)]
    assert isinstance(pred.distribution, torch.distributions.MixtureSameFamily)
    assert bool(torch.isfinite(pred.variance).all())
    # joint-mode models (plug-in posterior, no mixture) and AR1.for_simulator
    joint = AR1MultiFidelityGP(mode="joint", **kw).fit((X, Y), seed=1)
    assert isinstance(
        joint.predict(_grid(5, 1, torch.float64)).distribution, torch.distributions.Normal
    )
    assert AR1MultiFidelityGP.for_simulator().config["hyperparameter_samples"] == 32
    for bad in (1, -2):
        with pytest.raises(InputDataError, match="hyperparameter_samples"):
            AR1MultiFidelityGP(hyperparameter_samples=bad)


def test_loo_variance_calibrates_without_moving_the_mean() -> None:
    """With ``loo_variance`` every level's leave-one-out residuals have unit standardised
    mean square (Bachoc 2013), and the posterior mean equals the plain ML fit's."""
    X, Y = _ar1_data(torch.float64, n=(30, 12))
    Y = Y + 0.01 * torch.randn(Y.shape, generator=torch.Generator().manual_seed(0), dtype=Y.dtype)
    loo = AR1MultiFidelityGP(restarts=1, maxiter=60, loo_variance=True).fit((X, Y), seed=0)
    ml = AR1MultiFidelityGP(restarts=1, maxiter=60, loo_variance=False).fit((X, Y), seed=0)
    Xt = torch.cat([_grid(9, 0, torch.float64), _grid(9, 1, torch.float64, -0.2, 1.2)])
    a, b = loo.predict(Xt), ml.predict(Xt)
    torch.testing.assert_close(a.mean, b.mean, rtol=1e-6, atol=1e-8)
    assert not torch.allclose(a.variance, b.variance)
    with torch.no_grad():  # each level's own GP, by hand from the public modules
        lev = X[:, -1].long()
        noise = loo.level_noise_variances(internal=True)
        y = (Y.squeeze(-1) - loo.y_mu) / loo.y_sd
        for k in (0, 1):
            Xk, lvl = X[lev == k], loo.levels_[str(k)]
            z = (Xk[:, :-1] - loo.x_lo) / loo.x_rng
            r = y[lev == k] - lvl.mu(z)
            if k == 1:  # minus rho times level 0's posterior mean at the level-1 inputs
                below = Xk.clone()
                below[:, -1] = 0.0
                m0 = (loo.posterior(below).mean.squeeze(-1) - loo.y_mu) / loo.y_sd
                r = r - lvl.rho(z) * m0
            A = lvl.kernel(z, z).to_dense() + noise[k] * torch.eye(len(z), dtype=z.dtype)
            Ainv = torch.linalg.inv(A)
            alpha = Ainv @ r
            ms = float((alpha**2 / Ainv.diagonal()).mean())
            assert ms == pytest.approx(1.0, rel=1e-3)


def test_warm_start_starts_from_the_given_fit() -> None:
    """``warm_start`` loads a previous fit's hyperparameters as the first start: with no
    optimiser steps the refit has exactly those hyperparameters; a mismatch raises."""
    X, Y = _ar1_data(torch.float64, n=(30, 10))
    prev = AR1MultiFidelityGP(restarts=1, maxiter=40).fit((X, Y), seed=0)
    X2, Y2 = _ar1_data(torch.float64, n=(30, 12), seed=0)
    again = AR1MultiFidelityGP(restarts=1, maxiter=0, loo_variance=False)
    again.fit((X2, Y2), warm_start=prev)
    for key, v in prev.levels_.state_dict().items():
        torch.testing.assert_close(again.levels_.state_dict()[key], v, rtol=0, atol=0)
    cold = AR1MultiFidelityGP(restarts=1, maxiter=0).fit((X2, Y2))
    assert not torch.equal(cold.levels_["1"].rho_a, prev.levels_["1"].rho_a)
    with pytest.raises(InputDataError, match="warm_start has different"):
        AR1MultiFidelityGP(rho="linear", restarts=1, maxiter=0).fit((X2, Y2), warm_start=prev)
    with pytest.raises(InputDataError, match="has no option .warmstart."):
        AR1MultiFidelityGP(restarts=1).fit((X2, Y2), warmstart=prev)


# ---------------------------------------------------------------------- errors
def test_fit_raises_model_fitting_error_when_cholesky_fails(monkeypatch) -> None:
    X, Y = _ar1_data(torch.float64, n=(10, 5))

    def broken(A: Tensor, *args, **kwargs):
        return torch.zeros_like(A), torch.ones(A.shape[:-2], dtype=torch.int32)

    monkeypatch.setattr(torch.linalg, "cholesky_ex", broken)
    with pytest.warns(Warning), pytest.raises(ModelFittingError, match="all 2 restarts"):
        AR1MultiFidelityGP(restarts=2, maxiter=5).fit((X, Y))


def test_joint_starts_agree_and_joint_mode_is_not_loo_rescaled() -> None:
    """Both joint starts reach the joint marginal-likelihood optimum on a nested design (the
    textbook start is slower, not different); joint mode ignores ``loo_variance``, which the
    joint optimisation would undo."""
    X, Y = _ar1_data(torch.float64, n=(30, 12))
    Y = Y + 0.01 * torch.randn(Y.shape, generator=torch.Generator().manual_seed(0), dtype=Y.dtype)
    fits = {
        start: AR1MultiFidelityGP(mode="joint", restarts=1, maxiter=200, joint_start=start).fit(
            (X, Y), seed=0
        )
        for start in ("recursive", "default")
    }
    with torch.no_grad():
        nll = {k: -m.log_evidence() / Y.numel() for k, m in fits.items()}
    assert nll["default"] == pytest.approx(nll["recursive"], abs=1e-4)
    Xt = _grid(9, 1, torch.float64, -0.2, 1.2)
    a, b = fits["recursive"].predict(Xt), fits["default"].predict(Xt)
    assert (a.mean - b.mean).abs().max() < 1e-2 * Y.std()
    plain = AR1MultiFidelityGP(mode="joint", restarts=1, maxiter=200, loo_variance=False)
    plain.fit((X, Y), seed=0)
    for key, v in plain.state_dict().items():
        torch.testing.assert_close(v, fits["recursive"].state_dict()[key])
    with pytest.raises(InputDataError, match="joint_start"):
        AR1MultiFidelityGP(mode="joint", joint_start="cold")


def test_input_errors() -> None:
    X, Y = _ar1_data(torch.float64, n=(10, 5))
    with pytest.raises(InputDataError, match="Y must have shape"):
        AR1MultiFidelityGP().fit((X, Y[:-1]))
    with pytest.raises(InputDataError, match="mixed dtypes"):
        AR1MultiFidelityGP().fit((X, Y.float()))
    with pytest.raises(InputDataError, match="mode"):
        AR1MultiFidelityGP(mode="exact")
    with pytest.raises(InputDataError, match="level 1 has no rows"):
        X2 = X.clone()
        X2[X2[:, -1] == 1, -1] = 2
        AR1MultiFidelityGP().fit((X2, Y))
    with pytest.raises(InputDataError, match="rho_features"):
        AR1MultiFidelityGP(rho="linear", rho_features=[3]).fit((X, Y))
    m = AR1MultiFidelityGP(restarts=1, maxiter=5).fit((X, Y))
    with pytest.raises(InputDataError, match="fidelity index"):
        m.posterior(_grid(3, 5, torch.float64))
    with pytest.raises(InputDataError, match="shape"):
        m.posterior(torch.zeros(3, 4, dtype=torch.float64))
    with pytest.raises(InputDataError, match="mixed dtypes"):
        m.posterior(_grid(3, 1, torch.float32))


def test_registered_as_ar1_and_hybrid() -> None:
    assert isinstance(get_model("ar1"), AR1MultiFidelityGP)
    hybrid = get_model("hybrid", mode="joint")
    assert isinstance(hybrid, HybridGP) and hybrid.name == "hybrid"


# -------------------------------------------------------------------- BoTorch
@pytest.fixture(scope="module")
def fitted() -> dict[str, AR1MultiFidelityGP]:
    X, Y = _ar1_data(torch.float64, n=(20, 8))
    out = {
        mode: AR1MultiFidelityGP(mode=mode, restarts=1, maxiter=30).fit((X, Y))
        for mode in ("recursive", "joint")
    }
    # for_simulator's choices: the log model (positive, multiplicative levels), nugget as misfit
    sim = AR1MultiFidelityGP.for_simulator(restarts=1, maxiter=30, hyperparameter_samples=0)
    out["simulator"] = sim.fit(_multiplicative(torch.float64))
    assert out["simulator"].fit_choices() == {"log_transform": "log"}
    return out


@pytest.mark.parametrize("mode", ["recursive", "joint"])
def test_condition_on_observations_and_fantasize(fitted, mode: str) -> None:
    m = fitted[mode]
    Xn = _grid(3, 1, torch.float64, 0.9, 0.95)
    Yn = torch.tensor([[2.0], [2.1], [2.2]], dtype=torch.float64)
    c = m.condition_on_observations(Xn, Yn)
    before, after = m.predict(Xn), c.predict(Xn)
    assert (after.variance < before.variance).all()
    assert (after.mean - Yn.squeeze(-1)).abs().max() < (before.mean - Yn.squeeze(-1)).abs().max()
    assert m.batch_shape == torch.Size([]) and m.config["mode"] == mode  # the original as it was
    torch.testing.assert_close(m.predict(Xn).mean, before.mean)
    # equals the joint model refitted on the union with the same hyperparameters
    union = m.as_joint()
    union.train_X_ = torch.cat([m.train_X_, Xn])
    union.train_Y_ = torch.cat([m.train_Y_, Yn])
    Xt = torch.cat([_grid(4, 0, torch.float64), _grid(4, 1, torch.float64)])
    torch.testing.assert_close(c.posterior(Xt).mean, union.posterior(Xt).mean)
    fm = m.fantasize(
        _grid(2, 1, torch.float64).expand(3, 2, 2), SobolQMCNormalSampler(torch.Size([4]))
    )
    assert fm.batch_shape == torch.Size([4, 3])
    assert fm.posterior(_grid(5, 1, torch.float64)).mean.shape == (4, 3, 5, 1)


@pytest.mark.parametrize("mode", ["recursive", "joint", "simulator"])
def test_qmfkg_with_project_and_optimize_acqf(fitted, mode: str) -> None:
    m = fitted[mode]
    top = 1.0

    def project(X: Tensor) -> Tensor:
        Xp = X.clone()
        Xp[..., -1] = top
        return Xp

    cost = InverseCostWeightedUtility(
        cost_model=AffineFidelityCostModel(fidelity_weights={1: 1.0}, fixed_cost=0.5)
    )
    current = PosteriorMean(m)(_grid(20, 1, torch.float64).unsqueeze(-2)).max().detach()
    kg = qMultiFidelityKnowledgeGradient(
        m, num_fantasies=4, current_value=current, cost_aware_utility=cost, project=project
    )
    g = torch.Generator().manual_seed(0)
    Xc = torch.rand(3, 1 + 4, 2, generator=g, dtype=torch.float64)
    Xc[..., -1] = torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64).view(3, 1)
    Xc.requires_grad_(True)
    values = kg(Xc)
    assert values.shape == (3,) and torch.isfinite(values).all()
    values.sum().backward()
    assert torch.isfinite(Xc.grad).all()
    # discrete fidelities: optimise qMFKG over each level with the fidelity column fixed
    bounds = torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
    cand, val = optimize_acqf_mixed(
        kg,
        bounds=bounds,
        q=1,
        num_restarts=2,
        raw_samples=8,
        fixed_features_list=[{1: 0.0}, {1: 1.0}],
        options={"maxiter": 5, "batch_limit": 2},
    )
    assert cand.shape == (1, 2) and cand[0, -1] in (0.0, 1.0) and math.isfinite(val.item())

    X = m.train_X_
    nei = qLogNoisyExpectedImprovement(
        m, X_baseline=X[X[:, -1] == top], sampler=SobolQMCNormalSampler(torch.Size([16]))
    )
    cand, val = optimize_acqf(
        nei,
        bounds=bounds,
        q=2,
        num_restarts=2,
        raw_samples=8,
        fixed_features={1: top},
        options={"maxiter": 10},
    )
    assert cand.shape == (2, 2) and (cand[:, -1] == top).all() and math.isfinite(val.item())


def test_level0_rows_are_ignored_with_a_warning() -> None:
    X, Y = _ar1_data(torch.float64, n=(12, 6))
    with pytest.warns(MFGPWarning, match="ignored"):
        m = AR1MultiFidelityGP(level0=_f0, restarts=1, maxiter=10).fit((X, Y))
    keep = X[:, -1] > 0
    ref = AR1MultiFidelityGP(level0=_f0, restarts=1, maxiter=10).fit((X[keep], Y[keep]))
    Xt = _grid(4, 1, torch.float64)
    torch.testing.assert_close(m.predict(Xt).mean, ref.predict(Xt).mean)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available")
@pytest.mark.parametrize("mode", ["recursive", "joint"])
def test_cuda_matches_cpu(mode: str) -> None:
    X, Y = _three_levels()
    keep = X[:, -1] > 0
    preds = []
    for device in ("cpu", "cuda"):
        data = (X[keep].to(device), Y[keep].to(device))
        m = AR1MultiFidelityGP(mode=mode, level0=_f0, restarts=1, maxiter=20).fit(data)
        Xt = torch.cat([_grid(4, k, torch.float64) for k in range(3)]).to(device)
        post = m.posterior(Xt)
        assert post.mean.device.type == device
        preds.append(post.mean.cpu())
    torch.testing.assert_close(preds[0], preds[1], rtol=1e-4, atol=1e-4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available")
def test_hyperparameter_samples_on_cuda() -> None:
    X, Y = _ar1_data(torch.float64, n=(20, 8))
    covs = []
    for device in ("cpu", "cuda"):
        m = AR1MultiFidelityGP(restarts=1, maxiter=30, hyperparameter_samples=3)
        m.fit((X.to(device), Y.to(device)), seed=0)
        post = m.posterior(_grid(5, 1, torch.float64).to(device))
        assert post.covariance_matrix.device.type == device
        covs.append(post.covariance_matrix.cpu())
    torch.testing.assert_close(covs[0], covs[1], rtol=1e-3, atol=1e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available")
def test_batched_and_fantasy_posteriors_on_cuda() -> None:
    """The folded triangular solves and the fantasy block update run on CUDA and match CPU."""
    X, Y = _ar1_data(torch.float64, n=(20, 8))
    out = []
    for device in ("cpu", "cuda"):
        m = AR1MultiFidelityGP(restarts=1, maxiter=20).fit((X.to(device), Y.to(device)), seed=0)
        m.eval()
        q = _grid(6, 1, torch.float64).to(device).unsqueeze(-2)  # 6 x 1 x 2
        Xc = torch.tensor([[0.4, 1.0]], dtype=torch.float64, device=device)
        cond = m.condition_on_observations(
            Xc, torch.ones(3, 1, 1, dtype=torch.float64, device=device)
        )
        with torch.no_grad():
            a, b = m.posterior(q), cond.posterior(q.unsqueeze(-3).expand(-1, 3, -1, -1))
        assert a.mean.device.type == device and b.mean.device.type == device
        out.append((a.variance.cpu(), b.mean.cpu(), b.variance.cpu()))
    for cpu, gpu in zip(*out, strict=True):
        torch.testing.assert_close(cpu, gpu, rtol=1e-4, atol=1e-6)


# ------------------------------------------------------- output transform selection
def _multiplicative(dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """Positive nested data whose levels differ by a factor: log f1 = log f0 + 0.5 x."""
    x0 = torch.linspace(0, 1, 20, dtype=torch.float64).unsqueeze(-1)
    x1 = x0[::3]

    def logf0(x: Tensor) -> Tensor:
        return 2.0 * torch.sin(4 * x[..., 0]) + 1.0

    X = torch.cat([_rows(x0, 0), _rows(x1, 1)])
    Y = torch.cat([logf0(x0), logf0(x1) + 0.5 * x1[..., 0]]).exp().unsqueeze(-1)
    return X.to(dtype), Y.to(dtype)


def test_koh_kernel_and_mean_known_answer() -> None:
    """Known answer (Kennedy & O'Hagan 2000, eq. 2-4) for two levels with constant rho:
    k((x,0),(x',0)) = c0, k((x,1),(x',0)) = rho c0, k((x,1),(x',1)) = rho^2 c0 + c1, and the
    mean rho mu0 + mu1 at level 1; diag=True gives the diagonal."""
    X, Y = _ar1_data(torch.float64, n=(20, 8))
    m = AR1MultiFidelityGP(restarts=1, maxiter=20).fit((X, Y))
    x = torch.rand(5, 1, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    X0, X1 = _rows(x, 0), _rows(x, 1)
    z = (x - m.x_lo) / m.x_rng
    c0 = m.levels_["0"].kernel(z, z).to_dense()
    c1 = m.levels_["1"].kernel(z, z).to_dense()
    rho = m.levels_["1"].rho_a
    with torch.no_grad():
        k = m.covar_module
        torch.testing.assert_close(k(X0, X0).to_dense(), c0)
        torch.testing.assert_close(k(X1, X0).to_dense(), rho * c0)
        torch.testing.assert_close(k(X1, X1).to_dense(), rho**2 * c0 + c1)
        torch.testing.assert_close(k(X1, X1, diag=True), (rho**2 * c0 + c1).diagonal())
        mu0, mu1 = m.levels_["0"].mu(z), m.levels_["1"].mu(z)
        torch.testing.assert_close(m.mean_module(X1), rho * mu0 + mu1)


def test_joint_gp_marginal_likelihood_is_the_joint_objective() -> None:
    """``joint_gp()`` is a GPyTorch ExactGP whose exact marginal log likelihood, in data units
    (minus log y_sd per row), is the joint model's log evidence; it shares the model's
    levels, so an optimiser step on it moves the model's posterior."""
    X, Y = _ar1_data(torch.float64, n=(20, 8))
    m = AR1MultiFidelityGP(mode="joint", restarts=1, maxiter=30).fit((X, Y))
    gp = m.joint_gp()
    mll = ExactMarginalLogLikelihood(gp.likelihood, gp)
    Xg, yg = gp.train_inputs[0], gp.train_targets
    with torch.no_grad():
        value = float(mll(gp(Xg), yg, Xg))
    n = Y.numel()
    assert n * value - n * math.log(float(m.y_sd)) == pytest.approx(m.log_evidence(), rel=1e-8)
    before = m.predict(X[-3:]).mean
    opt = torch.optim.SGD(gp.parameters(), lr=0.05)
    loss = -mll(gp(Xg), yg, Xg)
    loss.backward()
    opt.step()
    assert (m.predict(X[-3:]).mean - before).abs().max() > 1e-8


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["recursive", "joint"])
def test_log_evidence_is_the_gaussian_density_in_data_units(dtype: torch.dtype, mode: str) -> None:
    """Known answer: log_evidence = log N(Y; KOH mean, KOH covariance) in data units (the
    standardisation's and the log's Jacobians included) + the log prior of the hyperparameters."""
    X, Y = _multiplicative(dtype)
    for log_y in (False, True):
        m = AR1MultiFidelityGP(
            mode=mode, log_transform=log_y, restarts=1, maxiter=30, trend_uncertainty=None
        ).fit((X, Y))
        Yd = Y.double().squeeze(-1)
        with torch.no_grad():
            gp = m.joint_gp()
            mean = m.mean_module(X).double()
            noise = m.level_noise_variances(internal=True)[X[:, -1].long()]
            cov = m.covar_module(X, X).to_dense().double() + torch.diag_embed(noise.double())
            prior = sum(float(p.log_prob(c(mod)).sum()) for _, mod, p, c, _ in gp.named_priors())
        sd, mu = float(m.y_sd), float(m.y_mu)
        g = Yd.log() if log_y else Yd
        dist = torch.distributions.MultivariateNormal(mu + sd * mean, sd**2 * cov)
        expected = float(dist.log_prob(g)) - (float(Yd.log().sum()) if log_y else 0.0) + prior
        if mode == "joint":  # the joint objective is exact
            tol = 1e-3 if dtype == torch.float32 else 1e-8
            assert m.log_evidence() == pytest.approx(expected, rel=tol)
        else:  # recursive: the level terms equal the joint value for this nested design up to
            # the (small) learned noise the recursive likelihood treats as known
            assert m.log_evidence() == pytest.approx(expected, abs=0.5)


@pytest.mark.parametrize("dtype", DTYPES)
def test_log_transform_auto_chooses_log_for_multiplicative_levels(dtype: torch.dtype) -> None:
    X, Y = _multiplicative(dtype)
    auto = AR1MultiFidelityGP(log_transform="auto", restarts=2, maxiter=60).fit((X, Y), seed=1)
    sel = auto.metadata["log_transform"]
    assert sel["selected"] == "log" and auto.log_transform_
    assert auto.fit_choices() == {"log_transform": "log"}
    assert sel["log_evidence"]["log"] > sel["log_evidence"]["identity"] + 5
    # the result is the model fitted with the chosen transform
    direct = AR1MultiFidelityGP(log_transform=True, restarts=2, maxiter=60).fit((X, Y), seed=1)
    Xt = _grid(9, 1, dtype, -0.2, 1.2)
    a, b = auto.predict(Xt), direct.predict(Xt)
    # (up to round-off: the direct fit rescales level 0's variance before fitting level 1,
    # which leaves its mean unchanged only in exact arithmetic)
    tol = {"rtol": 2e-3, "atol": 1e-6} if dtype == torch.float32 else {}
    torch.testing.assert_close(a.mean, b.mean, **tol)
    torch.testing.assert_close(a.variance, b.variance, **tol)
    assert (a.lower > 0).all()
    # and the recorded evidences are those of plug-in fits of either transform
    ident = AR1MultiFidelityGP(log_transform=False, loo_variance=False, restarts=2, maxiter=60).fit(
        (X, Y), seed=1
    )
    assert sel["log_evidence"]["identity"] == pytest.approx(ident.log_evidence(), rel=1e-12)


def test_log_transform_auto_with_draws_saves_and_loads(tmp_path) -> None:
    X, Y = _multiplicative(torch.float64)
    m = AR1MultiFidelityGP.for_simulator(restarts=1, maxiter=40, hyperparameter_samples=4)
    assert m.config["log_transform"] == "auto"
    m.fit((X, Y), seed=0)
    direct = AR1MultiFidelityGP.for_simulator(
        restarts=1, maxiter=40, hyperparameter_samples=4, log_transform=True
    ).fit((X, Y), seed=0)
    Xt = _grid(6, 1, torch.float64)
    torch.testing.assert_close(m.predict(Xt).mean, direct.predict(Xt).mean, rtol=0, atol=0)
    m.save(tmp_path / "m")
    loaded = AR1MultiFidelityGP.load(tmp_path / "m")
    assert loaded.config["log_transform"] == "auto" and loaded.log_transform_
    assert loaded.metadata["log_transform"] == m.metadata["log_transform"]
    torch.testing.assert_close(loaded.predict(Xt).mean, m.predict(Xt).mean, rtol=0, atol=0)


def test_log_transform_auto_identity_when_not_positive() -> None:
    X, Y = _ar1_data(torch.float64, n=(20, 8))  # sin: negative values
    m = AR1MultiFidelityGP(log_transform="auto", restarts=1, maxiter=30).fit((X, Y))
    sel = m.metadata["log_transform"]
    assert sel["selected"] == "identity" and "not positive" in sel["reason"]
    assert not m.log_transform_
    # a level-0 callable that is not positive rules the log out too
    Xp, Yp = _multiplicative(torch.float64)
    keep = Xp[:, -1] == 1
    m0 = AR1MultiFidelityGP(log_transform="auto", level0=_f0, restarts=1, maxiter=30)
    m0.fit((Xp[keep], Yp[keep]))
    assert m0.metadata["log_transform"]["selected"] == "identity"
    # a plain option leaves no record
    m.config["log_transform"] = False
    m.fit((X, Y))
    assert "log_transform" not in m.metadata and m.fit_choices() == {}


def test_log_transform_option_checked() -> None:
    with pytest.raises(InputDataError, match="log_transform must be True, False or 'auto'"):
        AR1MultiFidelityGP(log_transform="yes")
    m = AR1MultiFidelityGP(log_transform="auto")
    with pytest.raises(MFGPError, match="resolved by fit"):
        _ = m.log_transform_
    with pytest.raises(InputDataError, match="log_transform"):
        get_model("ar1", log_transform="sometimes")


def test_kernel_by_name_survives_save_and_load(tmp_path) -> None:
    """for_simulator's squared-exponential kernel is stored by name, so load rebuilds it; a
    custom factory must be passed again, with a clear error otherwise."""
    X, Y = _ar1_data(torch.float64, n=(15, 6))
    Xt = _grid(5, 1, torch.float64)
    sim = AR1MultiFidelityGP.for_simulator(restarts=1, maxiter=20, hyperparameter_samples=0)
    assert sim.config["kernel"] == "se"
    assert AR1MultiFidelityGP(kernel=se_kernel).config["kernel"] == "se"
    assert AR1MultiFidelityGP().config["kernel"] == "matern52"
    sim.fit((X, Y)).save(tmp_path / "sim")
    loaded = AR1MultiFidelityGP.load(tmp_path / "sim")
    torch.testing.assert_close(loaded.predict(Xt).mean, sim.predict(Xt).mean, rtol=0, atol=0)

    def custom(d: int):
        return se_kernel(d)

    m = AR1MultiFidelityGP(kernel=custom, restarts=1, maxiter=20)
    assert m.config["kernel"] == "custom"
    m.fit((X, Y)).save(tmp_path / "custom")
    with pytest.raises(InputDataError, match="custom kernel factory"):
        AR1MultiFidelityGP.load(tmp_path / "custom")
    again = AR1MultiFidelityGP.load(tmp_path / "custom", kernel=custom)
    torch.testing.assert_close(again.predict(Xt).mean, m.predict(Xt).mean, rtol=0, atol=0)
    with pytest.raises(InputDataError, match="one of"):
        AR1MultiFidelityGP(kernel="rbf")
    with pytest.raises(InputDataError, match="callable"):
        AR1MultiFidelityGP(kernel=3)


# ------------------------------------------------------------------ nugget as misfit
@pytest.mark.parametrize("dtype", DTYPES)
def test_nugget_misfit_adds_the_levels_noise_carried_by_rho(dtype: torch.dtype) -> None:
    """Known answer: with nugget="misfit" the posterior is the "noise" model's latent one plus
    sum_k sigma_k^2 prod rho^2 on the diagonal, rho sigma_0^2 across levels at the same x,
    nothing between different x; observation_noise adds nothing more."""
    X, Y = _ar1_data(dtype, n=(20, 8))
    m = AR1MultiFidelityGP(restarts=1, maxiter=40).fit((X, Y))
    mis = copy.deepcopy(m)
    mis.config["nugget"] = "misfit"
    x = torch.tensor([[0.3], [0.3], [0.7]], dtype=dtype)
    Xq = torch.cat([x, torch.tensor([[0.0], [1.0], [1.0]], dtype=dtype)], dim=-1)
    a = m.posterior(Xq).covariance_matrix.squeeze(0)
    b = mis.posterior(Xq).covariance_matrix.squeeze(0)
    with torch.no_grad():
        s0, s1 = m.level_noise_variances().tolist()
        rho = float(m.levels_["1"].rho_a)
    expected = torch.tensor(
        [[s0, rho * s0, 0.0], [rho * s0, s1 + rho**2 * s0, 0.0], [0.0, 0.0, s1 + rho**2 * s0]],
        dtype=dtype,
    )
    tol = {"rtol": 1e-3, "atol": 1e-6} if dtype == torch.float32 else {}
    torch.testing.assert_close(b - a, expected, **tol)
    torch.testing.assert_close(mis.posterior(Xq).mean, m.posterior(Xq).mean)
    torch.testing.assert_close(
        mis.predict(Xq, observation_noise=True).variance, mis.predict(Xq).variance
    )
    # the "noise" model adds each level's noise only with observation_noise
    noisy = m.predict(Xq, observation_noise=True).variance - m.predict(Xq).variance
    torch.testing.assert_close(noisy, torch.tensor([s0, s1, s1], dtype=dtype), **tol)
    assert AR1MultiFidelityGP.for_simulator().config["nugget"] == "misfit"
    with pytest.raises(InputDataError, match="nugget must be 'noise', 'misfit' or a list"):
        AR1MultiFidelityGP(nugget="measurement")
    with pytest.raises(InputDataError, match="nugget must be 'noise', 'misfit' or a list"):
        AR1MultiFidelityGP(nugget=["misfit", "signal"])


def test_nugget_per_level_codes_under_measurements() -> None:
    """nugget=["misfit", "noise"]: the cheap level's misfit enters the posterior of both levels
    (times rho^2 at the top); the top level's noise stays observation noise."""
    X, Y = _ar1_data(torch.float64, n=(20, 8))
    m = AR1MultiFidelityGP(restarts=1, maxiter=40).fit((X, Y))
    mixed = copy.deepcopy(m)
    mixed.config["nugget"] = ["misfit", "noise"]
    Xq = torch.tensor([[0.3, 0.0], [0.3, 1.0], [0.7, 1.0]], dtype=torch.float64)
    with torch.no_grad():
        s0, s1 = m.level_noise_variances().tolist()
        rho = float(m.levels_["1"].rho_a)
    diff = mixed.predict(Xq).variance - m.predict(Xq).variance
    torch.testing.assert_close(diff, torch.tensor([s0, rho**2 * s0, rho**2 * s0]).double())
    noisy = mixed.predict(Xq, observation_noise=True).variance - mixed.predict(Xq).variance
    torch.testing.assert_close(noisy, torch.tensor([0.0, s1, s1]).double())
    # fitting with the option gives the same model
    fitted = AR1MultiFidelityGP(nugget=["misfit", "noise"], restarts=1, maxiter=40).fit((X, Y))
    torch.testing.assert_close(fitted.predict(Xq).variance, mixed.predict(Xq).variance)
    mixed.config["nugget"] = ["misfit", "noise", "noise"]
    with pytest.raises(InputDataError, match="list of 2 per-level values"):
        mixed.predict(Xq)
    with pytest.raises(InputDataError, match="list of 2 per-level values"):
        AR1MultiFidelityGP(nugget=["misfit"] * 3, restarts=1).fit((X, Y))


def test_nugget_misfit_with_a_level0_callable_and_linear_rho() -> None:
    """A level-0 callable is exact (no misfit); a linear rho scales the lower nugget by
    rho(x)^2 at each x; the covariance stays positive definite."""
    g = torch.Generator().manual_seed(3)
    x = torch.rand(12, 1, generator=g, dtype=torch.float64)
    Y = (1.5 * _f0(x) + 0.2 * x[:, 0]).unsqueeze(-1)
    m = AR1MultiFidelityGP(level0=_f0, nugget="misfit", restarts=1, maxiter=30)
    m.fit((_rows(x, 1), Y))
    Xq = _grid(6, 1, torch.float64)
    with torch.no_grad():
        s1 = float(m.level_noise_variances()[1])
    plain = copy.deepcopy(m)
    plain.config["nugget"] = "noise"
    diff = m.predict(Xq).variance - plain.predict(Xq).variance
    torch.testing.assert_close(diff, torch.full_like(diff, s1))
    # three levels, linear rho: PD covariance across mixed levels
    X3, Y3 = _three_levels()
    m3 = AR1MultiFidelityGP(rho="linear", nugget="misfit", restarts=1, maxiter=30).fit((X3, Y3))
    xs = torch.linspace(0.1, 0.9, 4, dtype=torch.float64).unsqueeze(-1)
    Xm = torch.cat([_rows(xs, 0), _rows(xs, 1), _rows(xs, 2)])
    cov = m3.posterior(Xm).covariance_matrix.squeeze(0)
    assert torch.linalg.eigvalsh(cov).min() > 0


def test_predict_floors_the_latent_variance_before_the_misfit_nugget(monkeypatch) -> None:
    """A latent variance that round-off made negative is floored at 0 before the misfit nugget
    is added, so predict's variance keeps the nugget (flooring the sum lost it: a variance of
    exactly 0 at an untrained point); the posterior's covariance is unchanged."""
    X, Y = _ar1_data(torch.float64, n=(20, 8))
    m = AR1MultiFidelityGP(nugget="misfit", restarts=1, maxiter=40).fit((X, Y))
    Xq = torch.tensor([[0.3, 0.0], [0.3, 1.0], [0.7, 1.0]], dtype=torch.float64)
    with torch.no_grad():
        s0, s1 = m.level_noise_variances().tolist()
        rho = float(m.levels_["1"].rho_a)
    nugget = torch.tensor([s0, s1 + rho**2 * s0, s1 + rho**2 * s0], dtype=torch.float64)
    latent = m.latent_posterior(Xq)
    bent = latent[1].clone()
    bent.diagonal().copy_(torch.tensor([-1.0, 0.2, -1e-9]) / m.y_sd**2)  # round-off at 0 and 2
    monkeypatch.setattr(m, "latent_posterior", lambda X: (latent[0], bent))
    var = m.predict(Xq).variance
    expected = nugget + torch.tensor([0.0, 0.2, 0.0], dtype=torch.float64)
    torch.testing.assert_close(var, expected)
    assert (var > 0).all()
    full = m.posterior(Xq).mvn.covariance_matrix.diagonal()  # the full covariance as it is
    torch.testing.assert_close(full[1], expected[1])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available")
def test_for_simulator_choices_on_cuda() -> None:
    """log_transform="auto" and nugget="misfit" (for_simulator) run on CUDA and match CPU."""
    X, Y = _multiplicative(torch.float64)
    out = []
    for device in ("cpu", "cuda"):
        m = AR1MultiFidelityGP.for_simulator(restarts=1, maxiter=30, hyperparameter_samples=3)
        m.fit((X.to(device), Y.to(device)), seed=0)
        pred = m.predict(_grid(5, 1, torch.float64).to(device))
        assert pred.mean.device.type == device
        out.append((m.fit_choices(), pred.mean.cpu(), pred.variance.cpu()))
    assert out[0][0] == out[1][0]
    torch.testing.assert_close(out[0][1], out[1][1], rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(out[0][2], out[1][2], rtol=1e-3, atol=1e-8)


@settings(max_examples=6, deadline=None)
@given(scale=st.floats(min_value=1e-3, max_value=1e3))
def test_log_evidence_shifts_by_the_jacobian_of_a_unit_change(scale: float) -> None:
    """Invariant: measuring Y in other units (c Y) leaves every fit unchanged and shifts the log
    evidence of both the identity and the log model by -N log c, so the choice of
    log_transform="auto" does not depend on the units."""
    X, Y = _multiplicative(torch.float64)
    base = AR1MultiFidelityGP(log_transform="auto", restarts=1, maxiter=25).fit((X, Y))
    scaled = AR1MultiFidelityGP(log_transform="auto", restarts=1, maxiter=25)
    scaled.fit((X, scale * Y))
    a = base.metadata["log_transform"]["log_evidence"]
    b = scaled.metadata["log_transform"]["log_evidence"]
    shift = -Y.shape[0] * math.log(scale)
    for name in ("identity", "log"):
        assert b[name] == pytest.approx(a[name] + shift, abs=1e-4 * (1 + abs(a[name])))
    assert scaled.fit_choices() == base.fit_choices()
