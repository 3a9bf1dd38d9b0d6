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


# ---------------------------------------------------------------------- truncated normal
TRUNC = [  # (mu, sd, low): alpha = (low - mu) / sd from -4 to 8
    (0.0, 1.0, 0.0),
    (0.5, 1.0, 0.0),
    (-1.0, 0.5, 0.0),
    (4.0, 1.0, 0.0),
    (-0.8, 0.1, 0.0),
    (2.0, 0.7, -1.0),
]


def _truncnorm(mu: float, sd: float, low: float):
    # b = 40 sd: the mass above is below 1e-340 (scipy has no entropy for b = inf)
    return stats.truncnorm(a=(low - mu) / sd, b=40.0, loc=mu, scale=sd)


@pytest.mark.parametrize(("mu", "sd", "low"), TRUNC)
def test_truncated_normal_matches_scipy_truncnorm(mu, sd, low):
    """log density, CDF, quantiles, mean and variance of N(mu, sd^2) | X >= low."""
    d = D.truncated_normal(_t(mu), _t(sd**2), low)
    assert isinstance(d, D.TruncatedNormal)
    ref = _truncnorm(mu, sd, low)
    m0, s0 = ref.mean(), ref.std()
    for x in (low, low + 1e-3 * sd, m0 - s0, m0, m0 + 2 * s0, m0 + 6 * s0):
        if x < low:
            continue
        assert float(D.log_prob(d, _t(x))) == pytest.approx(ref.logpdf(x), rel=1e-10, abs=1e-12)
        assert float(d.cdf(_t(x))) == pytest.approx(ref.cdf(x), rel=1e-10, abs=1e-15)
    assert float(D.log_prob(d, _t(low - 1e-9))) == -math.inf
    assert float(d.cdf(_t(low - 1.0))) == 0.0
    for p in (1e-4, 0.025, 0.3, 0.5, 0.975, 0.9999):
        assert float(D.quantile(d, p)) == pytest.approx(ref.ppf(p), rel=1e-10)
        assert float(d.icdf(_t(p))) == pytest.approx(ref.ppf(p), rel=1e-10)
    mean, var = D.moments(d)
    assert float(mean) == pytest.approx(ref.mean(), rel=1e-11)
    assert float(var) == pytest.approx(ref.var(), rel=1e-9)
    # scipy's truncnorm.entropy loses digits far in the tail: -int f log f by quadrature
    ent = integrate.quad(lambda x: -ref.pdf(x) * ref.logpdf(x), low, m0 + 30 * s0, limit=200)[0]
    assert float(d.entropy()) == pytest.approx(ent, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize(("mu", "sd"), [(-3.0, 0.1), (-10.0, 0.5), (-30.0, 0.2), (-1e3, 1.0)])
def test_truncated_normal_far_above_the_mean_against_mpmath(mu, sd):
    """The bound 30 to 1000 sd above the mean (the mass underflows from ~38 sd): moments,
    quantiles, log density and CRPS stay accurate (50-digit references)."""
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 50
    d = D.truncated_normal(_t(mu), _t(sd**2), 0.0)
    alpha = -mp.mpf(mu) / sd
    mass = mp.ncdf(-alpha)
    lam = mp.npdf(alpha) / mass
    mean, var = D.moments(d)
    assert float(mean) == pytest.approx(float(mu + sd * lam), rel=1e-12)
    assert float(var) == pytest.approx(float(sd**2 * (1 + alpha * lam - lam**2)), rel=1e-10)
    for p in (0.025, 0.5, 0.975):
        q = mp.mpf(float(D.quantile(d, p)))
        assert float((mass - mp.ncdf(-(q - mu) / sd)) / mass) == pytest.approx(p, rel=1e-9)
    x = float(mean)
    ref_lp = mp.log(mp.npdf((x - mp.mpf(mu)) / sd) / (sd * mass))
    assert float(D.log_prob(d, _t(x))) == pytest.approx(float(ref_lp), rel=1e-12)

    def cdf(t):
        return (mass - mp.ncdf(-(t - mp.mpf(mu)) / sd)) / mass

    for y in (-0.5, x, 5 * x):
        pts = sorted({0, max(y, 0), x, 60 * x})
        ref = mp.quad(lambda t, y=y: (cdf(t) - (t >= y)) ** 2, pts)
        ref += mp.quad(lambda t: (1 - cdf(t)) ** 2, [60 * x, mp.inf]) + max(-y, 0)
        assert float(D.crps(d, _t(y))) == pytest.approx(float(ref), rel=1e-8)


@pytest.mark.parametrize("y", [-1.0, 0.0, 0.05, 0.7, 2.0, 9.0])
@pytest.mark.parametrize(("mu", "sd", "low"), TRUNC)
def test_truncated_normal_crps_matches_quadrature(mu, sd, low, y):
    """The closed form (Thorarinsdottir & Gneiting 2010), also below the bound."""
    ref_dist = _truncnorm(mu, sd, low)
    hi = max(mu, low) + 16 * sd
    ref = _crps_quad(ref_dist.cdf, y, low, hi, (ref_dist.mean(),))
    got = float(D.crps(D.truncated_normal(_t(mu), _t(sd**2), low), _t(y)))
    assert got == pytest.approx(ref, rel=1e-9, abs=1e-12)


def test_truncated_normal_is_a_torch_distribution():
    g = torch.Generator().manual_seed(0)
    d = D.TruncatedNormal(_t(-0.5, 1.0), _t(1.0, 0.3), 0.0)
    assert d.batch_shape == (2,) and d.support.check(_t(0.0, 2.0)).all()
    torch.manual_seed(0)
    draws = d.sample((20000,))
    assert draws.shape == (20000, 2) and bool((draws >= 0).all())
    torch.testing.assert_close(draws.mean(0), d.mean, rtol=0.03, atol=0.0)
    mix = D.truncate(
        D.mixture(
            torch.rand(3, 2, generator=g, dtype=T),
            _t(-1.0, 1.0).expand(3, 2),
            _t(1.0, 0.5).expand(3, 2),
        )
    )
    # torch's own mixture methods, from the components' cdf / mean / variance, agree
    torch.testing.assert_close(mix.mean, D.moments(mix)[0])
    torch.testing.assert_close(mix.variance, D.moments(mix)[1])
    torch.testing.assert_close(mix.cdf(D.quantile(mix, 0.3)), torch.full((3,), 0.3, dtype=T))
    torch.testing.assert_close(mix.log_prob(_t(0.4)), D.log_prob(mix, _t(0.4)))
    assert d.expand((4, 2)).mean.shape == (4, 2)
    with pytest.raises(TypeError, match="truncated"):
        D.components(d)


@pytest.mark.parametrize(("w", "mu", "sd"), MIXTURES)
def test_truncated_mixture_matches_the_conditioned_mixture(w, mu, sd):
    """A mixture of Normals conditioned on X >= 0: weights renormalised by each component's
    mass above 0; density, CDF, quantiles, moments and CRPS against the mixture's own
    density and CDF divided by its mass above 0 (quadrature, brentq)."""
    d = D.truncate(D.mixture(_t(*w), _t(*mu).unsqueeze(0), _t(*sd).pow(2).unsqueeze(0)), 0.0)
    comp = d.component_distribution
    assert isinstance(comp, D.TruncatedNormal)
    masses = [wi * stats.norm.sf(0.0, mi, si) for wi, mi, si in zip(w, mu, sd, strict=True)]
    total = sum(masses)
    np.testing.assert_allclose(
        d.mixture_distribution.probs[0].numpy(), np.array(masses) / total, rtol=1e-12
    )
    base = _mix_cdf(w, mu, sd, log=False)
    mass0 = 1 - base(0.0)
    cdf = lambda x: 0.0 if x < 0 else (base(x) - base(0.0)) / mass0  # noqa: E731

    def pdf(x):
        comps = zip(w, mu, sd, strict=True)
        return sum(wi * stats.norm.pdf(x, mi, si) for wi, mi, si in comps) / mass0

    for y in (0.0, 0.3, 1.0, 2.9):
        assert float(D.log_prob(d, _t(y))) == pytest.approx(math.log(pdf(y)), rel=1e-10)
    assert float(D.log_prob(d, _t(-0.1))) == -math.inf
    for p in (1e-4, 0.025, 0.5, 0.975, 0.999):
        ref = optimize.brentq(lambda x, q: cdf(x) - q, 0.0, 50.0, args=(p,), xtol=1e-15)
        assert float(D.quantile(d, p)) == pytest.approx(ref, rel=1e-10, abs=1e-13)
    hi = max(mu) + 16 * max(sd)
    m1 = integrate.quad(lambda x: x * pdf(x), 0, hi, points=tuple(mu), limit=200)[0]
    m2 = integrate.quad(lambda x: x * x * pdf(x), 0, hi, points=tuple(mu), limit=200)[0]
    mean, var = D.moments(d)
    assert float(mean) == pytest.approx(m1, rel=1e-10)
    assert float(var) == pytest.approx(m2 - m1**2, rel=1e-9)
    for y in (-1.0, 0.0, 0.2, 1.0, 2.9, 9.0):
        ref = _crps_quad(cdf, y, 0.0, hi, tuple(mu))
        assert float(D.crps(d, _t(y).unsqueeze(0))) == pytest.approx(ref, rel=1e-8, abs=1e-12)


def test_single_component_truncated_mixture_equals_the_closed_form():
    mu, s2 = _t(0.3, -0.2, -2.0), _t(0.2, 0.5, 0.05)
    y = _t(1.1, 0.0, 3.0)
    single = D.truncate(D.normal(mu, s2))
    two = D.truncate(D.mixture(None, mu.unsqueeze(-1).expand(3, 2), s2.unsqueeze(-1).expand(3, 2)))
    torch.testing.assert_close(D.crps(two, y), D.crps(single, y), rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(D.log_prob(two, y), D.log_prob(single, y))
    torch.testing.assert_close(D.quantile(two, 0.975), D.quantile(single, 0.975))


def test_truncate_twice_keeps_the_larger_bound_and_lognormals_stay():
    d = D.normal(_t(0.2, -1.0), _t(1.0, 4.0))
    once = D.truncate(d, 0.5)
    for a, b in ((0.0, 0.5), (0.5, 0.0)):
        twice = D.truncate(D.truncate(d, a), b)
        torch.testing.assert_close(D.moments(twice)[1], D.moments(once)[1])
    mix = D.mixture(_t(0.3, 0.7), _t(-1.0, 1.0).expand(2, 2), _t(1.0, 1.0).expand(2, 2))
    torch.testing.assert_close(
        D.truncate(D.truncate(mix, 0.0), 0.5).mixture_distribution.probs,
        D.truncate(mix, 0.5).mixture_distribution.probs,
    )
    ln = D.lognormal(_t(0.0, 1.0), _t(1.0, 1.0))
    ln_mix = D.mixture(None, _t(0.0, 1.0).expand(2, 2), _t(1.0, 1.0).expand(2, 2), log=True)
    assert D.truncate(ln, 0.0) is ln and D.truncate(ln_mix) is ln_mix
    with pytest.raises(ValueError, match="log-normal"):
        D.truncate(ln, 1.0)
    with pytest.raises(TypeError, match="unsupported"):
        D.truncate(torch.distributions.Uniform(torch.zeros(1), torch.ones(1)))


def test_truncated_float32_and_point_masses():
    mu, s2 = torch.tensor([-1.0, 0.5, 3.0]), torch.tensor([0.25, 1.0, 0.0])
    d32 = D.truncate(D.normal(mu, s2))
    d64 = D.truncate(D.normal(mu.double(), s2.double()))
    for f in (
        lambda d: D.moments(d)[0],
        lambda d: D.quantile(d, 0.975),
        lambda d: D.crps(d, torch.ones(3, dtype=d.loc.dtype)),
    ):
        out = f(d32)
        assert out.dtype == torch.float32
        torch.testing.assert_close(out.double(), f(d64), rtol=1e-6, atol=1e-7)
    # a point mass below the bound is conditioned to the bound
    far = D.truncate(D.normal(_t(-1.0), _t(0.0)))
    torch.testing.assert_close(D.moments(far)[0], _t(0.0))
    assert float(D.quantile(far, 0.975)) == pytest.approx(0.0, abs=1e-300)
    assert float(D.crps(far, _t(2.0))) == pytest.approx(2.0)
    # ... and one above it stays
    torch.testing.assert_close(D.moments(d64)[0][2], torch.tensor(3.0, dtype=T))


# ------------------------------------------------------------ Prediction.truncated
def test_prediction_truncated_bands_of_a_positive_target_are_nonnegative():
    """Gaussian predictions of a positive target near 0: the conditioned prediction's mean,
    variance and bounds are scipy's truncnorm's, its lower bounds >= 0; metrics use it."""
    from mfgp import metrics

    mu, sd = _t(-0.3, 0.1, 0.8, 5.0), _t(0.5, 0.4, 0.6, 0.5)
    g = Prediction.gaussian(mu, sd.pow(2))
    assert bool((g.lower < 0).any())
    t = g.truncated(0.0)
    assert isinstance(t.distribution, D.TruncatedNormal) and bool((t.lower >= 0).all())
    for i, (m, s) in enumerate(zip(mu.tolist(), sd.tolist(), strict=True)):
        ref = _truncnorm(m, s, 0.0)
        assert float(t.mean[i]) == pytest.approx(ref.mean(), rel=1e-11)
        assert float(t.variance[i]) == pytest.approx(ref.var(), rel=1e-9)
        assert float(t.lower[i]) == pytest.approx(ref.ppf(0.025), rel=1e-10)
        assert float(t.upper[i]) == pytest.approx(ref.ppf(0.975), rel=1e-10)
    y = _t(0.2, 0.05, 1.0, 5.2)
    assert metrics.crps(y, t) == pytest.approx(float(D.crps(t.distribution, y).mean()))
    assert metrics.crps(y, t) < metrics.crps(y, g)  # mass below 0 only costs
    assert metrics.nlpd(y, t) == pytest.approx(float(-D.log_prob(t.distribution, y).mean()))
    moments_only = Prediction(mean=mu, variance=sd.pow(2), lower=g.lower, upper=g.upper)
    torch.testing.assert_close(moments_only.truncated().upper, t.upper)
    ln = Prediction.lognormal(mu, sd.pow(2))
    assert ln.truncated(0.0) is ln


def test_prediction_truncated_mixture_select_and_to():
    g = torch.Generator().manual_seed(1)
    mu, s2 = torch.randn(5, 3, generator=g, dtype=T), torch.rand(5, 3, generator=g, dtype=T)
    w = torch.rand(5, 3, generator=g, dtype=T)
    y = torch.rand(5, generator=g, dtype=T)
    for p in (
        Prediction.mixture(w, mu, s2).truncated(),
        Prediction.gaussian(mu[:, 0], s2[:, 0]).truncated(),
    ):
        assert bool((p.lower >= 0).all())
        for index in (torch.tensor([4, 1]), np.array([False, True, False, False, True]), [3]):
            sub = p.select(index)
            rows = torch.arange(5)[torch.as_tensor(index)]
            for field in ("mean", "variance", "lower", "upper"):
                torch.testing.assert_close(getattr(sub, field), getattr(p, field)[rows])
            torch.testing.assert_close(
                D.crps(sub.distribution, y[rows]), D.crps(p.distribution, y)[rows]
            )
            torch.testing.assert_close(D.quantile(sub.distribution, 0.975), p.upper[rows])
        low = p.to(dtype=torch.float32)
        assert D.log_prob(low.distribution, y.float()).dtype == torch.float32
        assert p.select(slice(1, 3)).mean.shape == (2,)


def test_widen_scales_the_spread_about_the_centre():
    import torch

    from mfgp import distributions as D

    mix = D.mixture(
        None, torch.tensor([[0.0, 2.0], [1.0, 1.5]]), torch.tensor([[1.0, 0.5], [0.2, 0.3]])
    )
    mean, var = D.moments(mix)
    wide = D.widen(mix, torch.tensor([2.0, 3.0]))
    m2, v2 = D.moments(wide)
    torch.testing.assert_close(m2, mean)
    torch.testing.assert_close(v2, var * torch.tensor([4.0, 9.0]))
    base = D.lognormal(torch.zeros(2), torch.ones(2))
    ln = D.widen(base, 2.0)
    torch.testing.assert_close(D.moments(ln)[0], D.moments(base)[0])  # the mean is kept
    torch.testing.assert_close(ln.scale, torch.full((2,), 2.0))
    lmix = D.mixture(None, torch.tensor([[0.0, 0.5]]), torch.tensor([[0.3, 0.2]]), log=True)
    torch.testing.assert_close(D.moments(D.widen(lmix, 2.5))[0], D.moments(lmix)[0])
