"""NARGP: nonlinear fusion accuracy, interface, persistence, dtypes, reproducibility."""

from __future__ import annotations

import copy

import pytest
import torch

from mfgp.exceptions import InputDataError, NotFittedError
from mfgp.models import available_models, get_model, load_model
from mfgp.models.nargp import NARGP
from mfgp.test_functions import make_problem

from .conftest import DTYPES

FAST = {"restarts": 1, "maxiter": 60, "n_samples": 50}


@pytest.fixture(scope="module")
def pair():
    """Nonlinear pair of Perdikaris et al. (2017) with 50/14 nested points, 300 test points."""
    return make_problem("nonlinear_pair", (50, 14), seed=0, n_test=300)


@pytest.fixture(scope="module")
def fitted(pair):
    X, Y, _, _ = pair
    return NARGP(**FAST).fit((X, Y), seed=0)


def _nrmse(pred, Yt):
    return ((pred - Yt.squeeze(-1)).pow(2).mean().sqrt() / Yt.std()).item()


def test_registered():
    assert "nargp" in available_models()
    assert isinstance(get_model("nargp", restarts=1), NARGP)


def test_beats_linear_correlation_on_nonlinear_pair(pair, fitted):
    """NARGP learns f_H = (x - sqrt 2) f_L^2, which no rho f_L + delta(x) fit can match: even
    the oracle least-squares fit of f_H on (f_L, 1, x) with the true f_L is poor."""
    X, Y, Xt, Yt = pair
    pred = fitted.predict(Xt)
    err = _nrmse(pred.mean, Yt)
    x = Xt[:, 0]
    f_low = torch.sin(8 * torch.pi * x)
    A = torch.stack([f_low, torch.ones_like(x), x], -1)
    coef = torch.linalg.lstsq(A, Yt).solution
    linear_err = _nrmse((A @ coef).squeeze(-1), Yt)
    assert linear_err > 0.8
    assert err < 0.15
    inside = ((Yt.squeeze(-1) >= pred.lower) & (Yt.squeeze(-1) <= pred.upper)).double().mean()
    assert inside > 0.8
    # the low level is reproduced as well
    Xl = Xt.clone()
    Xl[:, -1] = 0
    assert _nrmse(fitted.predict(Xl).mean, f_low.unsqueeze(-1)) < 0.05


def test_same_seed_same_result_and_mc_seed(pair, fitted):
    X, Y, Xt, _ = pair
    again = NARGP(**FAST).fit((X, Y), seed=0)
    a, b = fitted.predict(Xt[:20]), again.predict(Xt[:20])
    assert a.mean.equal(b.mean) and a.variance.equal(b.variance)
    assert fitted.predict(Xt[:20]).mean.equal(a.mean)  # MC draws come from a seeded generator


def test_save_load_round_trip(tmp_path, pair, fitted):
    _, _, Xt, _ = pair
    fitted.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert isinstance(loaded, NARGP) and loaded.get_config() == fitted.get_config()
    a, b = fitted.predict(Xt[:30]), loaded.predict(Xt[:30])
    torch.testing.assert_close(a.mean, b.mean)
    torch.testing.assert_close(a.variance, b.variance)
    assert isinstance(NARGP.load(tmp_path / "m"), NARGP)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dtypes(dtype):
    X, Y, Xt, Yt = make_problem("forrester", (16, 6), seed=1, n_test=50, dtype=dtype)
    m = NARGP(**FAST).fit((X, Y), seed=0)
    pred = m.predict(Xt)
    assert pred.mean.dtype == dtype and pred.mean.shape == (50,)
    assert (pred.variance >= 0).all() and torch.isfinite(pred.mean).all()
    assert _nrmse(pred.mean, Yt) < 0.2


def test_three_levels_and_mixed_fidelity_rows():
    X, Y, Xt, Yt = make_problem("branin", (20, 10, 5), seed=0, n_test=40)
    m = NARGP(**FAST).fit((X, Y), seed=0)
    Xm = Xt.clone()
    Xm[:10, -1] = 0
    Xm[10:20, -1] = 1
    pred = m.predict(Xm)
    assert pred.mean.shape == (40,) and torch.isfinite(pred.variance).all()
    # each row is predicted at its own fidelity: level-0 rows close to the level-0 mean
    torch.testing.assert_close(pred.mean[:10], m.predict(Xm[:10]).mean)


def test_sample_covariance_posterior(tmp_path, pair, fitted):
    _, _, Xt, _ = pair
    diag = fitted
    diag.save(tmp_path / "m")
    full = load_model(tmp_path / "m", covariance="sample")  # same fit, joint Monte Carlo draws
    Xq = Xt[:5].clone().requires_grad_(True)
    post = full.posterior(Xq)
    cov = post.distribution.covariance_matrix
    assert cov.shape == (5, 5)
    assert torch.linalg.eigvalsh(cov.detach()).min() > -1e-9
    post.mean.sum().backward()  # differentiable in X, for acquisition functions
    assert torch.isfinite(Xq.grad).all()
    batch = full.posterior(Xt[:6].reshape(2, 3, 2))
    assert batch.mean.shape == (2, 3, 1)
    # same moments as the diagonal mode up to Monte Carlo error
    torch.testing.assert_close(
        post.mean.detach().squeeze(-1), diag.predict(Xt[:5]).mean, atol=0.05, rtol=0
    )


def test_observation_noise_adds_variance(fitted, pair):
    _, _, Xt, _ = pair
    a = fitted.predict(Xt[:5])
    b = fitted.predict(Xt[:5], observation_noise=True)
    assert (b.variance > a.variance).all()


def test_validation(pair):
    X, Y, Xt, _ = pair
    with pytest.raises(InputDataError, match="kernel"):
        NARGP(kernel="linear")
    with pytest.raises(InputDataError, match="covariance"):
        NARGP(covariance="full")
    with pytest.raises(InputDataError, match="n_samples"):
        NARGP(n_samples=1)
    with pytest.raises(NotFittedError):
        NARGP().predict(Xt)
    with pytest.raises(InputDataError, match="Yvar"):
        NARGP(**FAST).fit((X, Y, torch.ones_like(Y)))
    keep = (X[:, -1] == 0) | (torch.arange(len(X)) == len(X) - 1)
    with pytest.raises(InputDataError, match="at least 2 rows"):
        NARGP(**FAST).fit((X[keep], Y[keep]))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA not available")
def test_cuda(pair):
    X, Y, Xt, _ = pair
    m = NARGP(**FAST).fit((X.cuda(), Y.cuda()), seed=0)
    pred = m.predict(Xt.cuda())
    assert pred.mean.is_cuda


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA not available")
def test_hyperparameter_samples_on_cuda(pair):
    X, Y, Xt, _ = pair
    preds = []
    for device in ("cpu", "cuda"):
        m = NARGP(hyperparameter_samples=3, **FAST).fit((X.to(device), Y.to(device)), seed=0)
        assert m.levels_[1].hyper_samples.device.type == device
        pred = m.predict(Xt[:10].to(device))
        assert pred.mean.device.type == device
        preds.append(pred.mean.cpu())
    torch.testing.assert_close(preds[0], preds[1], rtol=1e-3, atol=1e-4)


def test_loo_variance_rescales_bands_not_the_mean(pair):
    """``loo_variance`` calibrates each level's leave-one-out residuals to unit mean square and
    leaves each level's GP mean where the plain fit puts it (the Monte Carlo mean of the top
    level moves a little with the lower level's variance)."""
    X, Y, Xt, _ = pair
    g = torch.Generator().manual_seed(0)
    Y = Y + 0.05 * torch.randn(Y.shape, generator=g, dtype=Y.dtype)  # noisy: no noise floor
    plain = NARGP(restarts=1, maxiter=50, n_samples=20).fit((X, Y), seed=0)
    loo = NARGP(restarts=1, maxiter=50, n_samples=20, loo_variance=True).fit((X, Y), seed=0)
    a, b = loo.predict(Xt[:40]), plain.predict(Xt[:40])
    assert not torch.allclose(a.variance, b.variance)
    x = plain.levels_[0].train_inputs[0]
    with torch.no_grad():
        for k in range(len(plain.levels_)):
            torch.testing.assert_close(
                loo.level_mean(x, k), plain.level_mean(x, k), rtol=1e-6, atol=1e-8
            )
    with torch.no_grad():
        for gp in loo.levels_:
            Xtr, ytr = gp.train_inputs[0], gp.train_targets
            K = gp.covar_module(Xtr, Xtr).to_dense()
            A = K + gp.likelihood.noise.squeeze() * torch.eye(K.shape[-1], dtype=K.dtype)
            Ainv = torch.linalg.inv(A)
            alpha = Ainv @ (ytr - gp.mean_module.constant)
            assert float((alpha**2 / Ainv.diagonal()).mean()) == pytest.approx(1.0, rel=1e-3)


@pytest.fixture(scope="module")
def mixed(pair):
    X, Y, _, _ = pair
    return NARGP(hyperparameter_samples=4, **FAST).fit((X, Y), seed=0)


@pytest.mark.parametrize("covariance", ["diag", "sample"])
def test_hyperparameter_samples_mix_the_draws(tmp_path, pair, mixed, covariance):
    """Known answer: with ``hyperparameter_samples`` the posterior is the moment-matched
    mixture of plug-in models holding each draw, draw ``s`` with Monte Carlo seed
    ``mc_seed + s`` (rebuilt here from plug-in copies)."""
    _, _, Xt, _ = pair
    mixed.save(tmp_path / "m")
    model = load_model(tmp_path / "m", covariance=covariance)
    Xq = Xt[:6]
    post = model.posterior(Xq)
    parts = []
    for s in range(4):
        cp = copy.deepcopy(model)
        cp.config.update(hyperparameter_samples=0, mc_seed=s)  # plug-in, this draw's MC seed
        with torch.no_grad():
            for gp, ref in zip(cp.levels_, mixed.levels_, strict=True):
                params = list(gp.covar_module.parameters())
                sizes = [p.numel() for p in params]
                for p, v in zip(params, torch.split(ref.hyper_samples[s], sizes), strict=True):
                    p.copy_(v.view_as(p))
        ps = cp.posterior(Xq)
        parts.append((ps.mean.squeeze(-1), ps.distribution.covariance_matrix))
    mean = sum(m for m, _ in parts) / 4
    cov = sum(c + (m - mean).unsqueeze(-1) * (m - mean).unsqueeze(-2) for m, c in parts) / 4
    got = post.distribution.covariance_matrix
    torch.testing.assert_close(post.mean.squeeze(-1), mean, rtol=1e-9, atol=1e-12)
    if covariance == "diag":
        torch.testing.assert_close(got.diagonal(), cov.diagonal(), rtol=1e-9, atol=1e-12)
    else:
        torch.testing.assert_close(got, cov, rtol=1e-6, atol=1e-9)
    # the draws spread around the fit and change the prediction
    draws = mixed.levels_[1].hyper_samples
    assert draws.shape[0] == 4 and bool((draws.std(0) > 0).any())
    assert not torch.allclose(post.mean.squeeze(-1), parts[0][0])


def test_hyperparameter_samples_reproducible_and_saved(tmp_path, pair, mixed):
    X, Y, Xt, _ = pair
    again = NARGP(hyperparameter_samples=4, **FAST).fit((X, Y), seed=0)
    other = NARGP(hyperparameter_samples=4, **FAST).fit((X, Y), seed=1)
    for a, b in zip(mixed.levels_, again.levels_, strict=True):
        assert a.hyper_samples.equal(b.hyper_samples)
    assert not mixed.levels_[1].hyper_samples.equal(other.levels_[1].hyper_samples)
    mixed.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    a, b = mixed.predict(Xt[:20]), loaded.predict(Xt[:20])
    assert a.mean.equal(b.mean) and a.variance.equal(b.variance)
    # the fitted values stay in the model; the draws live in copies
    plain = NARGP(**FAST).fit((X, Y), seed=0)
    for gp, ref in zip(mixed.levels_, plain.levels_, strict=True):
        for p, q in zip(gp.parameters(), ref.parameters(), strict=True):
            assert p.equal(q)
    for bad in (1, -1):
        with pytest.raises(InputDataError, match="hyperparameter_samples"):
            NARGP(hyperparameter_samples=bad)


def test_warm_start_keeps_or_starts_from_a_previous_fit(pair, fitted):
    """``warm_start`` loads a previous fit's hyperparameters as the first start: with
    ``restarts=1, maxiter=0`` the refit on new data has exactly those hyperparameters (and a
    different posterior, from the new data); a model of another shape or an unknown option
    raises."""
    X, Y, Xt, _ = pair
    keep = X[:, -1] == 0
    keep[torch.nonzero(X[:, -1] == 1).squeeze(-1)[:10]] = True  # 10 of the 14 top rows
    again = NARGP(**{**FAST, "restarts": 1}).fit(
        (X[keep], Y[keep]), seed=0, warm_start=fitted, maxiter=0
    )
    for (name, v), (name2, w) in zip(
        fitted.levels_.named_parameters(), again.levels_.named_parameters(), strict=True
    ):
        assert name == name2
        torch.testing.assert_close(w, v, rtol=0, atol=0)
    assert not torch.allclose(again.predict(Xt).mean, fitted.predict(Xt).mean)
    cold = NARGP(**{**FAST, "restarts": 1}).fit((X[keep], Y[keep]), seed=0, maxiter=0)
    assert not torch.equal(
        cold.levels_[1].covar_module.kernels[0].outputscale,
        fitted.levels_[1].covar_module.kernels[0].outputscale,
    )
    with pytest.raises(InputDataError, match="warm_start has different"):
        NARGP(**FAST, kernel="matern52").fit((X, Y), warm_start=fitted, maxiter=0)
    with pytest.raises(InputDataError, match="warm_start must be a fitted NARGP"):
        NARGP(**FAST).fit((X, Y), warm_start=NARGP())
    with pytest.raises(InputDataError, match="has no option .warmstart."):
        NARGP(**FAST).fit((X, Y), warmstart=fitted)
    with pytest.raises(InputDataError, match="restarts >= 1"):
        NARGP(**FAST).fit((X, Y), restarts=0)
