"""Known-answer tests of the metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mfgp import metrics
from mfgp.exceptions import InputDataError
from mfgp.models.base import Prediction


def test_known_values():
    y = torch.tensor([1.0, 2.0, 3.0, 4.0])
    m = torch.tensor([1.0, 2.0, 3.0, 6.0])
    assert metrics.rmse(y, m) == pytest.approx(1.0)
    assert metrics.mae(y, m) == pytest.approx(0.5)
    assert metrics.r2(y, y) == 1.0
    assert metrics.r2(y, torch.full_like(y, 2.5)) == pytest.approx(0.0)
    assert metrics.nrmse(y, m) == pytest.approx(1.0 / np.std([1, 2, 3, 4]))
    assert math.isnan(metrics.nrmse(torch.ones(3), torch.ones(3)))
    # NLPD of a standard normal at its mean
    assert metrics.nlpd([0.0], [0.0], [1.0]) == pytest.approx(0.5 * math.log(2 * math.pi))
    # CRPS of N(0, 1) at 0 is (sqrt(2) - 1) / sqrt(pi)
    assert metrics.crps_gaussian([0.0], [0.0], [1.0]) == pytest.approx(
        (math.sqrt(2) - 1) / math.sqrt(math.pi)
    )
    assert metrics.coverage(y, y - 0.5, y + 0.5) == 1.0
    assert metrics.coverage(y, y + 0.1, y + 0.5) == 0.0
    assert metrics.interval_width(y - 1, y + 1) == pytest.approx(2.0)


def test_crps_matches_sampling_estimate():
    rng = np.random.default_rng(0)
    s = rng.normal(1.0, 2.0, size=(200_000,))
    y = 0.3
    est = np.mean(np.abs(s - y)) - 0.5 * np.mean(np.abs(s[:100_000] - s[100_000:]))
    assert metrics.crps_gaussian([y], [1.0], [4.0]) == pytest.approx(est, rel=2e-2)


@settings(max_examples=40, deadline=None)
@given(st.integers(5, 200), st.floats(0.1, 5.0))
def test_gaussian_coverage_is_near_nominal(n, sd):
    # invariant: predictions with the true distribution have coverage near 95 %
    gen = torch.Generator().manual_seed(n)
    y = sd * torch.randn(4000, generator=gen, dtype=torch.float64)
    p = Prediction.gaussian(torch.zeros(4000, dtype=torch.float64), torch.full((4000,), sd**2))
    assert abs(metrics.coverage(y, p.lower, p.upper) - 0.95) < 0.02


def test_evaluate_and_per_volume():
    y = torch.tensor([1.0, 2.0, 3.0, 4.0])
    p = Prediction.gaussian(y + 0.1, torch.full((4,), 0.04))
    out = metrics.evaluate(y, p)
    assert set(out) == set(metrics.METRIC_NAMES)
    table = metrics.per_volume([10.0, 10.0, 100.0, 100.0], y, p)
    assert table["volume_L"].tolist() == [10.0, 100.0, "all"]
    assert table["n"].tolist() == [2, 2, 4]
    assert table["rmse"].tolist() == pytest.approx([0.1, 0.1, 0.1])


def test_bad_inputs():
    with pytest.raises(InputDataError, match="y has 3 values but mean has 2"):
        metrics.rmse([1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(InputDataError, match="NaN"):
        metrics.rmse([1.0, float("nan")], [1.0, 2.0])
    with pytest.raises(InputDataError, match="at least one"):
        metrics.mae([], [])


# ------------------------------------------------- scores under the predictive distribution
T64 = torch.float64


def test_lognormal_prediction_is_scored_as_lognormal():
    """NLPD and CRPS of a log-normal prediction are the log-normal's (SciPy, quadrature), not
    those of a Gaussian with its moments; coverage uses its quantile bounds."""
    from scipy import integrate, stats

    mu = torch.tensor([0.0, 0.5, 1.0, -0.3], dtype=T64)
    s2 = torch.tensor([0.3, 0.1, 0.8, 0.05], dtype=T64)
    y = torch.tensor([0.4, 2.5, 9.0, 0.74], dtype=T64)
    p = Prediction.lognormal(mu, s2)
    ref = stats.lognorm(s=s2.sqrt().numpy(), scale=np.exp(mu.numpy()))
    out = metrics.evaluate(y, p)
    assert out["nlpd"] == pytest.approx(-np.mean(ref.logpdf(y.numpy())), rel=1e-12)
    assert out["nlpd"] != pytest.approx(metrics.nlpd(y, p.mean, p.variance), rel=1e-2)
    crps = []
    for i in range(4):
        d = stats.lognorm(s=float(s2[i].sqrt()), scale=math.exp(float(mu[i])))
        f = lambda x, d=d, yi=float(y[i]): (d.cdf(x) - (x >= yi)) ** 2  # noqa: E731
        crps.append(
            integrate.quad(f, 0, float(y[i]))[0] + integrate.quad(f, float(y[i]), np.inf)[0]
        )
    assert out["crps"] == pytest.approx(np.mean(crps), rel=1e-7)
    assert out["crps"] != pytest.approx(metrics.crps_gaussian(y, p.mean, p.variance), rel=1e-3)
    assert metrics.nlpd(y, p) == out["nlpd"] and metrics.crps(y, p) == out["crps"]
    lo, hi = ref.ppf(0.025), ref.ppf(0.975)
    assert out["coverage95"] == np.mean((y.numpy() >= lo) & (y.numpy() <= hi))
    assert out["width95"] == pytest.approx(np.mean(hi - lo))
    # a log-normal has no density at y <= 0
    assert metrics.nlpd([-1.0, 1.0, 1.0, 1.0], p) == math.inf


def test_mixture_prediction_scores_and_per_volume():
    """A Gaussian mixture is scored by its own density and CRPS, volume by volume."""
    from scipy import integrate, stats

    g = torch.Generator().manual_seed(1)
    n, K = 6, 3
    means = torch.randn(n, K, generator=g, dtype=T64) * 2
    var = torch.rand(n, K, generator=g, dtype=T64) + 0.1
    w = torch.tensor([0.2, 0.3, 0.5], dtype=T64)
    y = torch.randn(n, generator=g, dtype=T64)
    p = Prediction.mixture(w, means, var)
    nlp, crps = [], []
    for i in range(n):
        comps = [stats.norm(float(means[i, k]), float(var[i, k].sqrt())) for k in range(K)]
        pdf = sum(float(w[k]) * comps[k].pdf(float(y[i])) for k in range(K))
        nlp.append(-math.log(pdf))
        cdf = lambda x, c=comps: sum(float(w[k]) * c[k].cdf(x) for k in range(K))  # noqa: E731
        f = lambda x, c=cdf, yi=float(y[i]): (c(x) - (x >= yi)) ** 2  # noqa: E731
        crps.append(integrate.quad(f, -40, float(y[i]))[0] + integrate.quad(f, float(y[i]), 40)[0])
    vols = [1.0, 1.0, 10.0, 10.0, 10.0, 100.0]
    table = metrics.per_volume(vols, y, p).set_index("volume_L")
    for v, rows in ((1.0, [0, 1]), (10.0, [2, 3, 4]), (100.0, [5]), ("all", range(n))):
        assert table.loc[v, "nlpd"] == pytest.approx(np.mean([nlp[i] for i in rows]), rel=1e-10)
        assert table.loc[v, "crps"] == pytest.approx(np.mean([crps[i] for i in rows]), rel=1e-7)
    gauss = metrics.per_volume(vols, y, Prediction.gaussian(p.mean, p.variance))
    assert not np.allclose(gauss["nlpd"], table["nlpd"].to_numpy())


def test_predictions_without_distribution_are_gaussian():
    """Backward compatible: a Prediction built from moments (or any object with the four
    fields) is scored as the Gaussian of its mean and variance."""
    y = torch.tensor([0.3, -1.0, 2.0])
    mean, var = torch.zeros(3), torch.tensor([1.0, 0.5, 2.0])
    old = Prediction(mean=mean, variance=var, lower=mean - 1, upper=mean + 1)
    out = metrics.evaluate(y, old)
    assert out["nlpd"] == pytest.approx(metrics.nlpd(y, mean, var), rel=1e-12)
    assert out["crps"] == pytest.approx(metrics.crps_gaussian(y, mean, var), rel=1e-12)
    assert out["coverage95"] == pytest.approx(2 / 3)  # the given bounds
    assert metrics.crps(y, mean, var) == metrics.crps_gaussian(y, mean, var)
    assert metrics.evaluate(y, Prediction.gaussian(mean, var))["nlpd"] == pytest.approx(out["nlpd"])


def _positive_two_level(n0: int = 16, n1: int = 7):
    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(n0, 1, generator=g, dtype=T64)
    x1 = x0[:n1]
    X = torch.cat(
        [torch.cat([x0, torch.zeros_like(x0)], 1), torch.cat([x1, torch.ones_like(x1)], 1)]
    )
    Y = torch.cat([torch.sin(6 * x0) + 2.5, 1.5 * torch.sin(6 * x1) + 0.3 * x1 + 3.5])
    xt = torch.linspace(0.05, 0.95, 9, dtype=T64).unsqueeze(-1)
    Xt = torch.cat([xt, torch.ones_like(xt)], 1)
    return X, Y, Xt, (1.5 * torch.sin(6 * xt) + 0.3 * xt + 3.6).squeeze(-1)


def test_ar1_log_transform_predicts_and_scores_a_lognormal():
    from scipy import stats

    from mfgp.models import AR1MultiFidelityGP

    X, Y, Xt, yt = _positive_two_level()
    m = AR1MultiFidelityGP(log_transform=True, restarts=1, maxiter=20).fit((X, Y), seed=0)
    p = m.predict(Xt, observation_noise=True)
    assert isinstance(p.distribution, torch.distributions.LogNormal)
    with torch.no_grad():  # log-unit moments (the Gaussian of log y)
        mean, cov = m.latent_posterior(Xt)  # standardised log units
        noise = m.level_noise_variances(internal=True)[Xt[:, -1].long()]
        mu = m.y_mu + m.y_sd * mean
        sd = m.y_sd * (cov.diagonal() + noise).sqrt()
    ref = stats.lognorm(s=sd.numpy(), scale=np.exp(mu.numpy()))
    out = metrics.evaluate(yt, p)
    assert out["nlpd"] == pytest.approx(-np.mean(ref.logpdf(yt.numpy())), rel=1e-10)
    assert out["nlpd"] != pytest.approx(metrics.nlpd(yt, p.mean, p.variance), rel=1e-3)
    np.testing.assert_allclose(p.upper.numpy(), ref.ppf(0.975), rtol=1e-10)


def test_ar1_hyperparameter_samples_predict_the_mixture_over_the_draws():
    from mfgp.models import AR1MultiFidelityGP

    X, Y, Xt, yt = _positive_two_level()
    m = AR1MultiFidelityGP(hyperparameter_samples=4, restarts=1, maxiter=20).fit((X, Y), seed=0)
    for noise in (False, True):
        p = m.predict(Xt, observation_noise=noise)
        d = p.distribution
        assert isinstance(d, torch.distributions.MixtureSameFamily)
        assert d.component_distribution.loc.shape == (9, 4)
        post = m.posterior(Xt, observation_noise=noise)
        torch.testing.assert_close(p.mean, post.mean.squeeze(-1), rtol=1e-8, atol=0)
        torch.testing.assert_close(p.variance, post.variance.squeeze(-1), rtol=1e-8, atol=0)
        # the bounds are the mixture's quantiles, not mean +- 1.96 sd
        F = (d.mixture_distribution.probs * d.component_distribution.cdf(p.lower[:, None])).sum(-1)
        torch.testing.assert_close(F, torch.full_like(F, 0.025), rtol=0, atol=1e-10)
    gauss = Prediction.gaussian(p.mean, p.variance)
    assert metrics.nlpd(yt, p) != pytest.approx(metrics.nlpd(yt, gauss), rel=1e-6)
    # with the log transform: a mixture of log-normals over the same kind of draws
    ml = AR1MultiFidelityGP(hyperparameter_samples=4, log_transform=True, restarts=1, maxiter=20)
    pl = ml.fit((X, Y), seed=0).predict(Xt)
    assert isinstance(pl.distribution.component_distribution, torch.distributions.LogNormal)
    assert bool((pl.lower > 0).all()) and math.isfinite(metrics.crps(yt, pl))


def test_nargp_and_mlp_ensemble_predict_their_mixtures():
    from mfgp.models import NARGP, MLPEnsemble
    from mfgp.test_functions import make_problem

    X, Y, Xt, Yt = make_problem("nonlinear_pair", (16, 7), seed=0, n_test=12)
    m = NARGP(restarts=1, maxiter=20, n_samples=10, hyperparameter_samples=2).fit((X, Y), seed=0)
    for noise in (False, True):
        p = m.predict(Xt, observation_noise=noise)
        assert p.distribution.component_distribution.loc.shape == (12, 20)  # 2 draws x 10 paths
        post = m.posterior(Xt, observation_noise=noise)
        torch.testing.assert_close(p.mean, post.mean.squeeze(-1), rtol=1e-8, atol=0)
        torch.testing.assert_close(p.variance, post.variance.squeeze(-1), rtol=1e-8, atol=0)
    assert metrics.nlpd(Yt, p) != pytest.approx(metrics.nlpd(Yt, p.mean, p.variance), rel=1e-6)
    top = X[:, -1] == 1
    Xe, Ye = X[top].clone(), Y[top]
    Xe[:, -1] = 0
    e = MLPEnsemble(epochs=30, members=3).fit((Xe, Ye), seed=0)
    Xq = Xt.clone()
    Xq[:, -1] = 0
    pe = e.predict(Xq, observation_noise=True)
    assert pe.distribution.component_distribution.loc.shape == (12, 3)
    post = e.posterior(Xq, observation_noise=True)
    torch.testing.assert_close(pe.variance, post.variance.squeeze(-1), rtol=1e-8, atol=0)
    assert isinstance(e.predict(Xq).distribution, torch.distributions.Normal)  # latent spread
