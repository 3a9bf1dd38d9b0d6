"""Known-answer tests of the predictive distributions (mfgp.distributions) and of Prediction:
log densities, quantiles, moments and CRPS against SciPy, and selecting points."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, optimize, stats

from mfgp import distributions as D
from mfgp.prediction import Prediction

T = torch.float64


def _t(*values: float) -> torch.Tensor:
    return torch.tensor(values, dtype=T)


def _crps_quad(cdf, y: float, lo: float, hi: float, breaks: tuple[float, ...] = ()) -> float:
    """``int (F(x) - 1{x >= y})^2 dx`` over ``[lo, hi]`` by adaptive quadrature (split at y)."""
    pts = sorted({lo, hi, *(b for b in (y, *breaks) if lo < b < hi)})
    f = lambda x: (cdf(x) - (x >= y)) ** 2  # noqa: E731
    pieces = zip(pts[:-1], pts[1:], strict=True)
    total = sum(
        integrate.quad(f, a, b, limit=400, epsabs=1e-13, epsrel=1e-11)[0] for a, b in pieces
    )
    # outside [lo, hi], F is 0 below and 1 above: the integrand is 1 between y and the range
    return total + max(lo - y, 0.0) + max(y - hi, 0.0)


def _crps_quad_log(cdf, y: float, u_lo: float, u_hi: float, breaks=()) -> float:
    """The same integral for a distribution on ``x > 0``, substituting ``x = exp(u)`` (so that
    heavy right tails stay resolved); ``cdf`` is the CDF in ``x``."""
    ly = math.log(y) if y > 0 else -math.inf
    pts = sorted({u_lo, u_hi, *(b for b in (ly, *breaks) if u_lo < b < u_hi)})
    f = lambda u: (cdf(math.exp(u)) - (u >= ly)) ** 2 * math.exp(u)  # noqa: E731
    pieces = zip(pts[:-1], pts[1:], strict=True)
    total = sum(
        integrate.quad(f, a, b, limit=400, epsabs=1e-13, epsrel=1e-11)[0] for a, b in pieces
    )
    # F = 0 below exp(u_lo) and 1 above exp(u_hi): the integrand is 1 between y and the range
    lo, hi = math.exp(u_lo), math.exp(u_hi)
    return total + max(lo - max(y, 0.0), 0.0) + max(-y, 0.0) + max(y - hi, 0.0)


def _mix_cdf(w, mu, sd, log: bool):
    if log:
        return lambda x: sum(
            wi * stats.lognorm.cdf(x, s=si, scale=math.exp(mi))
            for wi, mi, si in zip(w, mu, sd, strict=True)
        )
    return lambda x: sum(
        wi * stats.norm.cdf(x, mi, si) for wi, mi, si in zip(w, mu, sd, strict=True)
    )


# ------------------------------------------------------------------ single distributions
@settings(max_examples=30, deadline=None)
@given(st.floats(-3, 3), st.floats(0.05, 2.0), st.floats(-5, 5))
def test_normal_log_prob_quantile_crps_match_scipy(mu, sd, y):
    d = D.normal(_t(mu), _t(sd**2))
    assert float(D.log_prob(d, _t(y))) == pytest.approx(stats.norm.logpdf(y, mu, sd), rel=1e-12)
    for p in (0.025, 0.5, 0.975):
        assert float(D.quantile(d, p)) == pytest.approx(stats.norm.ppf(p, mu, sd), abs=1e-12)
    ref = _crps_quad(lambda x: stats.norm.cdf(x, mu, sd), y, mu - 14 * sd, mu + 14 * sd)
    assert float(D.crps(d, _t(y))) == pytest.approx(ref, rel=1e-8, abs=1e-12)


@settings(max_examples=30, deadline=None)
@given(st.floats(-1.5, 1.5), st.floats(0.05, 1.2), st.floats(0.01, 10.0))
def test_lognormal_log_prob_quantile_moments_match_scipy(mu, s, y):
    d = D.lognormal(_t(mu), _t(s**2))
    ref = stats.lognorm(s=s, scale=math.exp(mu))
    assert float(D.log_prob(d, _t(y))) == pytest.approx(ref.logpdf(y), rel=1e-10, abs=1e-12)
    for p in (0.025, 0.975):
        assert float(D.quantile(d, p)) == pytest.approx(ref.ppf(p), rel=1e-12)
    mean, var = D.moments(d)
    assert float(mean) == pytest.approx(ref.mean(), rel=1e-12)
    assert float(var) == pytest.approx(ref.var(), rel=1e-10)


@pytest.mark.parametrize("y", [-2.0, 0.0, 0.3, 1.0, 2.5, 40.0])
@pytest.mark.parametrize(("mu", "s"), [(0.0, 1.0), (1.2, 0.15), (-0.5, 1.8)])
def test_lognormal_crps_matches_quadrature(mu, s, y):
    """Baran & Lerch's closed form, also at y <= 0 (where F = 0 below y)."""
    ref_dist = stats.lognorm(s=s, scale=math.exp(mu))
    ref = _crps_quad_log(ref_dist.cdf, y, mu - 14 * s, mu + 14 * s, (mu,))
    got = float(D.crps(D.lognormal(_t(mu), _t(s**2)), _t(y)))
    assert got == pytest.approx(ref, rel=1e-7, abs=1e-10)
    assert float(D.log_prob(D.lognormal(_t(mu), _t(s**2)), _t(y))) == (
        -math.inf if y <= 0 else pytest.approx(ref_dist.logpdf(y))
    )


# ------------------------------------------------------------------------------ mixtures
MIXTURES = [
    ([0.2, 0.5, 0.3], [0.0, 1.0, 3.0], [0.55, 0.22, 1.1]),
    ([0.5, 0.5], [-1.0, 1.0], [0.3, 0.3]),
    ([0.7, 0.1, 0.1, 0.1], [0.4, 0.5, 2.5, -0.5], [0.05, 0.8, 0.2, 0.4]),
]


@pytest.mark.parametrize(("w", "mu", "sd"), MIXTURES)
@pytest.mark.parametrize("log", [False, True])
def test_mixture_quantiles_match_brentq(w, mu, sd, log):
    d = D.mixture(_t(*w), _t(*mu).unsqueeze(0), _t(*sd).pow(2).unsqueeze(0), log=log)
    cdf = _mix_cdf(w, mu, sd, log)
    for p in (1e-4, 0.025, 0.3, 0.5, 0.975, 0.999):
        lo, hi = (1e-12, 1e6) if log else (-50.0, 50.0)
        ref = optimize.brentq(lambda x, q: cdf(x) - q, lo, hi, args=(p,), xtol=1e-15, rtol=1e-14)
        assert float(D.quantile(d, p)) == pytest.approx(ref, rel=1e-11, abs=1e-12)


@pytest.mark.parametrize(("w", "mu", "sd"), MIXTURES)
def test_gaussian_mixture_crps_log_prob_and_moments(w, mu, sd):
    """Grimit et al.'s closed form against quadrature of ``(F - H)^2``; density and moments
    against the weighted components."""
    d = D.mixture(_t(*w), _t(*mu).unsqueeze(0), _t(*sd).pow(2).unsqueeze(0))
    cdf = _mix_cdf(w, mu, sd, log=False)
    for y in (-3.0, 0.2, 1.0, 2.9, 9.0):
        ref = _crps_quad(cdf, y, -40.0, 40.0, tuple(mu))
        assert float(D.crps(d, _t(y).unsqueeze(0))) == pytest.approx(ref, rel=1e-9, abs=1e-12)
        dens = sum(wi * stats.norm.pdf(y, mi, si) for wi, mi, si in zip(w, mu, sd, strict=True))
        assert float(D.log_prob(d, _t(y))) == pytest.approx(math.log(dens), rel=1e-10)
    mean, var = D.moments(d)
    m = float(np.dot(w, mu))
    assert float(mean) == pytest.approx(m, rel=1e-12)
    assert float(var) == pytest.approx(float(np.dot(w, np.square(sd) + np.square(mu))) - m**2)


@pytest.mark.parametrize(("w", "mu", "sd"), MIXTURES)
def test_lognormal_mixture_crps_matches_quadrature(w, mu, sd):
    """The numerical CRPS of a log-normal mixture (Simpson in log x plus closed-form tails)."""
    d = D.mixture(_t(*w), _t(*mu).unsqueeze(0), _t(*sd).pow(2).unsqueeze(0), log=True)
    cdf = _mix_cdf(w, mu, sd, log=True)
    u_lo = min(m - 14 * s for m, s in zip(mu, sd, strict=True))
    u_hi = max(m + 14 * s for m, s in zip(mu, sd, strict=True))
    for y in (-1.0, 0.5, 1.5, 12.0, 80.0):
        ref = _crps_quad_log(cdf, y, u_lo, u_hi, tuple(mu))
        assert float(D.crps(d, _t(y).unsqueeze(0))) == pytest.approx(ref, rel=1e-8, abs=1e-10)
    mean, _ = D.moments(d)
    ref_mean = sum(wi * math.exp(mi + si**2 / 2) for wi, mi, si in zip(w, mu, sd, strict=True))
    assert float(mean) == pytest.approx(ref_mean, rel=1e-12)


def test_single_component_mixtures_equal_the_closed_forms():
    mu, s2 = _t(0.3, -0.2, 1.0), _t(0.2, 0.5, 0.05)
    y = _t(1.1, 0.2, 3.0)
    for log, single in ((False, D.normal(mu, s2)), (True, D.lognormal(mu, s2))):
        two = D.mixture(None, mu.unsqueeze(-1).expand(3, 2), s2.unsqueeze(-1).expand(3, 2), log=log)
        torch.testing.assert_close(D.crps(two, y), D.crps(single, y), rtol=1e-9, atol=1e-12)
        torch.testing.assert_close(D.log_prob(two, y), D.log_prob(single, y))
        torch.testing.assert_close(D.quantile(two, 0.975), D.quantile(single, 0.975))


def test_float32_and_zero_variance():
    d = D.mixture(None, torch.zeros(2, 3), torch.zeros(2, 3))  # point masses at 0
    assert D.crps(d, torch.ones(2)).dtype == torch.float32
    torch.testing.assert_close(D.crps(d, torch.ones(2)), torch.ones(2))  # |X - y| = 1
    torch.testing.assert_close(D.quantile(d, 0.975), torch.zeros(2))
    with pytest.raises(TypeError, match="unsupported"):
        D.crps(torch.distributions.Uniform(torch.zeros(1), torch.ones(1)), torch.zeros(1))


# ----------------------------------------------------------------------------- Prediction
def test_prediction_constructors_have_exact_moments_and_quantiles():
    mu, s2 = _t(0.0, 1.0), _t(0.25, 0.04)
    p = Prediction.lognormal(mu, s2)
    assert isinstance(p.distribution, torch.distributions.LogNormal)
    ref = stats.lognorm(s=np.sqrt(s2.numpy()), scale=np.exp(mu.numpy()))
    np.testing.assert_allclose(p.mean.numpy(), ref.mean(), rtol=1e-12)
    np.testing.assert_allclose(p.variance.numpy(), ref.var(), rtol=1e-10)
    np.testing.assert_allclose(p.lower.numpy(), ref.ppf(0.025), rtol=1e-12)
    np.testing.assert_allclose(p.upper.numpy(), ref.ppf(0.975), rtol=1e-12)
    g = Prediction.gaussian(mu, s2)
    assert isinstance(g.distribution, torch.distributions.Normal)
    torch.testing.assert_close(g.upper, mu + D.Z95 * s2.sqrt())
    m = Prediction.mixture(_t(0.25, 0.75), _t(0.0, 2.0).expand(2, 2), _t(1.0, 1.0).expand(2, 2))
    torch.testing.assert_close(m.mean, _t(1.5, 1.5))
    torch.testing.assert_close(m.variance, _t(1.75, 1.75))  # 1 + 0.25 * 0.75 * 2^2
    cdf = _mix_cdf([0.25, 0.75], [0.0, 2.0], [1.0, 1.0], log=False)
    assert cdf(float(m.lower[0])) == pytest.approx(0.025, abs=1e-13)
    assert cdf(float(m.upper[1])) == pytest.approx(0.975, abs=1e-13)
    old = Prediction(mean=mu, variance=s2, lower=mu - 1, upper=mu + 1)  # moments only
    assert old.distribution is None and isinstance(old.predictive, torch.distributions.Normal)


def test_prediction_select_and_to():
    g = torch.Generator().manual_seed(0)
    mu, s2 = torch.randn(5, 3, generator=g, dtype=T), torch.rand(5, 3, generator=g, dtype=T)
    w = torch.rand(5, 3, generator=g, dtype=T)
    y = torch.randn(5, generator=g, dtype=T)
    for p in (
        Prediction.mixture(w, mu, s2),
        Prediction.mixture(None, mu, s2, log=True),
        Prediction.lognormal(mu[:, 0], s2[:, 0]),
        Prediction.gaussian(mu[:, 0], s2[:, 0]),
    ):
        for index in (torch.tensor([4, 1]), np.array([False, True, False, False, True]), [3]):
            sub = p.select(index)
            rows = torch.arange(5)[torch.as_tensor(index)]
            for field in ("mean", "variance", "lower", "upper"):
                torch.testing.assert_close(getattr(sub, field), getattr(p, field)[rows])
            torch.testing.assert_close(
                D.crps(sub.distribution, y[rows]), D.crps(p.distribution, y)[rows]
            )
            torch.testing.assert_close(D.moments(sub.distribution)[1], p.variance[rows])
        low = p.to(dtype=torch.float32)
        assert low.mean.dtype == torch.float32
        assert D.log_prob(low.distribution, y.float()).dtype == torch.float32
        assert p.select(slice(1, 3)).mean.shape == (2,)
