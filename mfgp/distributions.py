r"""Pointwise predictive distributions: constructors, moments, quantiles, log density and CRPS.

A model's pointwise predictive distribution is a :class:`torch.distributions.Distribution`
whose batch shape is the shape of the predicted points (``n``; one scalar distribution per
point) and whose event shape is empty. These families are supported:

- :class:`~torch.distributions.Normal`;
- :class:`~torch.distributions.LogNormal` (a Gaussian in log units, e.g. AR1 with
  ``log_transform``);
- :class:`TruncatedNormal`: a Normal conditioned on ``X >= low`` (:func:`truncate`, e.g. the
  predictive of a positive target conditioned on a positive response);
- :class:`~torch.distributions.MixtureSameFamily` of ``K`` Normal, LogNormal or TruncatedNormal
  components with given weights (batch shape ``n x K`` of the components; e.g. the draws of
  ``hyperparameter_samples``, NARGP's Monte Carlo paths, a deep ensemble's members).

The helpers here work on any batch shape ``...``, on any device and dtype, and never call
NumPy:

- :func:`normal`, :func:`lognormal`, :func:`truncated_normal`, :func:`mixture` build the
  distributions (variances are floored at the dtype's ``tiny`` so that zero variances stay
  valid); :func:`truncate` conditions a Normal or a mixture of Normals on ``X >= low`` (a
  mixture's weights renormalised by each component's mass above ``low``);
- :func:`moments`: exact means and variances;
- :func:`quantile`: exact quantiles, in closed form for one Normal, LogNormal or truncated
  normal (Newton's method far in the tail) and by
  vectorised bisection on the CDF for a mixture (torch has no ``icdf`` for mixtures; the
  quantile of a log-normal mixture is ``exp`` of the quantile of the Gaussian mixture of the
  logs);
- :func:`log_prob`: log density (``-inf`` below 0 for the log-normal families and below the
  bound for the truncated ones);
- :func:`crps`: the continuous ranked probability score
  :math:`\operatorname{CRPS}(F, y) = \int (F(x) - 1\{x \ge y\})^2\,dx
  = E|X - y| - \tfrac12 E|X - X'|`:

  * Normal, closed form (Gneiting & Raftery 2007):
    :math:`\sigma [z (2\Phi(z) - 1) + 2\varphi(z) - 1/\sqrt\pi]`, :math:`z = (y - \mu)/\sigma`;
  * LogNormal, closed form (Baran & Lerch 2015):
    :math:`y [2\Phi(z) - 1] - 2 e^{\mu + \sigma^2/2} [\Phi(z - \sigma) + \Phi(\sigma/\sqrt2) - 1]`,
    :math:`z = (\log y - \mu)/\sigma` (:math:`2 e^{\mu+\sigma^2/2} [1 - \Phi(\sigma/\sqrt2)] - y`
    for :math:`y \le 0`);
  * mixture of Normals, closed form (Grimit et al. 2006):
    :math:`\sum_i w_i A(y - \mu_i, \sigma_i^2)
    - \tfrac12 \sum_{ij} w_i w_j A(\mu_i - \mu_j, \sigma_i^2 + \sigma_j^2)` with
    :math:`A(m, s^2) = 2 s \varphi(m/s) + m [2\Phi(m/s) - 1]` (``O(K^2)`` per point, computed
    in chunks);
  * truncated normal :math:`N(\mu, \sigma^2)` conditioned on :math:`X \ge a`, closed form
    (Thorarinsdottir & Gneiting 2010; Gneiting et al. 2006 for :math:`a = 0`), with
    :math:`\alpha = (a - \mu)/\sigma`, :math:`Q = 1 - \Phi(\alpha)` and
    :math:`z = (\max(y, a) - \mu)/\sigma`:
    :math:`\sigma \{z [1 - 2 (1 - \Phi(z))/Q] + 2\varphi(z)/Q
    - \Phi(-\sqrt2\alpha) / (\sqrt\pi Q^2)\} + (a - y)^+`;
  * mixture of LogNormals: :math:`E|X - y| = \sum_i w_i E|X_i - y|` in closed form and
    :math:`\tfrac12 E|X - X'| = \int_0^\infty F(x) [1 - F(x)]\,dx` numerically: composite
    Simpson rule in :math:`u = \log x` between the mixture's :math:`10^{-7}` and
    :math:`1 - 10^{-7}` quantiles, plus the tails in closed form
    (:math:`\int_0^{a} F \approx E(a - X)^+` and :math:`\int_b^\infty (1 - F) = E(X - b)^+`,
    where :math:`F (1 - F)` differs from them by a factor within :math:`10^{-7}` of 1);
  * mixture of truncated normals: the same, with Simpson's rule in :math:`x` (accurate to
    about :math:`10^{-8}` relative while the components' scales are within a factor of about
    100 of each other).

References:
    Gneiting, T. & Raftery, A. E. (2007). Strictly proper scoring rules, prediction, and
    estimation. J. Am. Stat. Assoc. 102(477):359-378.
    Grimit, E. P., Gneiting, T., Berrocal, V. J. & Johnson, N. A. (2006). The continuous ranked
    probability score for circular variables and its application to mesoscale forecast
    ensemble verification. Q. J. R. Meteorol. Soc. 132:2925-2942.
    Baran, S. & Lerch, S. (2015). Log-normal distribution based Ensemble Model Output
    Statistics models for probabilistic wind-speed forecasting. Q. J. R. Meteorol. Soc.
    141:2289-2299.
    Thorarinsdottir, T. L. & Gneiting, T. (2010). Probabilistic forecasts of wind speed:
    ensemble model output statistics by using heteroscedastic censored regression. J. R. Stat.
    Soc. A 173:371-388.
    Gneiting, T., Larson, K., Westrick, K., Genton, M. G. & Aldrich, E. (2006). Calibrated
    probabilistic forecasting at the Stateline wind energy center. Mon. Weather Rev.
    134:3209-3229.

>>> import torch
>>> d = mixture(None, torch.tensor([[0.0, 2.0]]), torch.tensor([[1.0, 1.0]]))
>>> [round(float(t), 4) for t in moments(d)]
[1.0, 2.0]
>>> round(float(quantile(d, 0.5)), 6)
1.0
>>> t = truncate(normal(torch.tensor([-1.0]), torch.tensor([1.0])), 0.0)  # N(-1, 1) | X >= 0
>>> round(float(quantile(t, 0.025)), 4) >= 0
True
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import torch
from torch import Tensor
from torch.distributions import (
    Categorical,
    Distribution,
    LogNormal,
    MixtureSameFamily,
    Normal,
    constraints,
)
from torch.distributions.utils import broadcast_all
from torch.special import ndtr, ndtri

__all__ = [
    "Z95",
    "TruncatedNormal",
    "components",
    "crps",
    "log_prob",
    "lognormal",
    "map_distribution",
    "mixture",
    "moments",
    "normal",
    "quantile",
    "truncate",
    "truncated_normal",
    "widen",
]

Z95 = 1.959963984540054  # standard normal 97.5 % quantile
_INV_SQRT_2PI = 1.0 / math.sqrt(2 * math.pi)
_INV_SQRT_PI = 1.0 / math.sqrt(math.pi)
_TAIL = 1e-7  # probability left out of each side of the numerical CRPS integral
_CHUNK = 2**22  # elements per chunk of the pairwise / grid computations


def _sd(variance: Tensor) -> Tensor:
    """``sqrt(max(variance, tiny))``: a valid (positive) scale for every variance >= 0."""
    return variance.clamp_min(torch.finfo(variance.dtype).tiny).sqrt()


def normal(mean: Tensor, variance: Tensor) -> Normal:
    """Gaussians ``N(mean, variance)``, batch shape ``...`` (the shape of ``mean``).

    Example:
        >>> normal(torch.zeros(3), torch.ones(3)).batch_shape
        torch.Size([3])
    """
    return Normal(mean, _sd(variance), validate_args=False)


def lognormal(mu: Tensor, sigma2: Tensor) -> LogNormal:
    """Log-normals ``exp(N(mu, sigma2))`` (``mu``, ``sigma2`` in log units), batch shape ``...``.

    Example:
        >>> round(float(lognormal(torch.zeros(1), torch.ones(1)).mean), 4)  # exp(1/2)
        1.6487
    """
    return LogNormal(mu, _sd(sigma2), validate_args=False)


def mixture(
    weights: Tensor | None, means: Tensor, variances: Tensor, *, log: bool = False
) -> MixtureSameFamily:
    """A mixture of ``K`` Gaussians (or, with ``log``, log-normals) per point.

    Args:
        weights: ``K`` or ``... x K`` non-negative weights (normalised here); ``None``: equal.
        means: ``... x K`` component means (log units with ``log``).
        variances: ``... x K`` component variances (log units with ``log``).
        log: components ``LogNormal(means, variances)`` instead of ``Normal``.

    Returns:
        A :class:`~torch.distributions.MixtureSameFamily` of batch shape ``...``.

    Example:
        >>> mixture(None, torch.zeros(5, 3), torch.ones(5, 3)).batch_shape
        torch.Size([5])
    """
    means, variances = torch.broadcast_tensors(means, variances)
    if weights is None:
        weights = torch.ones_like(means)
    weights = weights.to(means).expand(means.shape)
    comp_cls = LogNormal if log else Normal
    comp = comp_cls(means, _sd(variances), validate_args=False)
    mix = Categorical(probs=weights, validate_args=False)
    return MixtureSameFamily(mix, comp, validate_args=False)


# ------------------------------------------------------------------ truncated normal
_SQRT2 = math.sqrt(2.0)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
# asymptotic series in 1/alpha of the standard normal truncated below alpha (alpha -> inf):
# lambda - alpha = sum_k c_k alpha^-(2k+1) and Var / scale^2 = sum_k c_k alpha^-(2k+2), used
# above _SERIES_FROM where the closed forms lose digits to cancellation (eps alpha^4)
_DELTA_SERIES = (1, -2, 10, -74, 706, -8162, 110410, -1708394, 29752066, -576037442)
_VAR_SERIES = (1, -6, 50, -518, 6354, -89782, 1435330, -25625910, 505785122, -10944711398)
_SERIES_FROM = 20.0
_NEWTON_FROM = 5.0  # quantiles of alpha > _NEWTON_FROM by Newton in the distance to the bound
_ALPHA_MIN = -40.0  # below: no mass is cut off in float64 (Phi(-40) ~ 1e-350)


def _work_dtype(t: Tensor) -> torch.dtype:
    """float64 for the truncated-normal arithmetic, except where the device has none (MPS)."""
    return t.dtype if t.device.type == "mps" else torch.float64


def _standardise(loc: Tensor, scale: Tensor, low: Tensor) -> Tensor:
    """``alpha = (low - loc) / scale``, clamped to ``[-40, sqrt(max) / 4]`` (no NaN or inf)."""
    alpha = (low - loc) / scale
    big = math.sqrt(torch.finfo(alpha.dtype).max) / 4
    return torch.nan_to_num(alpha, nan=_ALPHA_MIN, posinf=big, neginf=_ALPHA_MIN).clamp(
        _ALPHA_MIN, big
    )


def _inv_mills(alpha: Tensor) -> Tensor:
    """``lambda(alpha) = phi(alpha) / (1 - Phi(alpha))``, stable for every ``alpha``."""
    pos = alpha > 0
    a_pos, a_neg = alpha.clamp_min(0), alpha.clamp_max(0)
    lam_pos = _SQRT_2_OVER_PI / torch.special.erfcx(a_pos / _SQRT2)
    lam_neg = torch.exp(-0.5 * a_neg * a_neg - _LOG_SQRT_2PI - torch.special.log_ndtr(-a_neg))
    return torch.where(pos, lam_pos, lam_neg)


def _series(alpha: Tensor, coefs: tuple[int, ...], first: int) -> Tensor:
    """``sum_k coefs[k] alpha^-(2k + first)`` (Horner in ``1 / alpha^2``)."""
    inv = 1 / alpha.clamp_min(1.0)
    t = inv * inv
    acc = torch.zeros_like(alpha)
    for c in reversed(coefs):
        acc = acc * t + c
    return acc * inv.pow(first)


def _delta(alpha: Tensor) -> Tensor:
    """``lambda(alpha) - alpha``: the standardised distance of the mean from the bound."""
    return torch.where(
        alpha > _SERIES_FROM, _series(alpha, _DELTA_SERIES, 1), _inv_mills(alpha) - alpha
    )


def _var_factor(alpha: Tensor) -> Tensor:
    """``Var / scale^2 = 1 + alpha lambda - lambda^2`` of the standard normal truncated below
    ``alpha``."""
    lam = _inv_mills(alpha)
    a_lam = torch.where(lam > 0, alpha * lam, torch.zeros_like(lam))
    direct = (1 + a_lam - lam * lam).clamp_min(0)
    return torch.where(alpha > _SERIES_FROM, _series(alpha, _VAR_SERIES, 2), direct)


def _log_erfcx(x: Tensor) -> Tensor:
    return torch.special.erfcx(x).log()


def _log_tail_ratio(alpha: Tensor, d: Tensor, z: Tensor) -> Tensor:
    """``log [(1 - Phi(z)) / (1 - Phi(alpha))]`` at ``z = alpha + d``, ``d >= 0``: through
    ``erfcx`` for ``alpha > 0`` (no underflow, no cancellation), directly otherwise."""
    a_pos = alpha.clamp_min(0)
    via_erfcx = -d * (a_pos + d / 2) + _log_erfcx((a_pos + d) / _SQRT2) - _log_erfcx(a_pos / _SQRT2)
    direct = torch.special.log_ndtr(-z) - torch.special.log_ndtr(-alpha)
    return torch.where(alpha > 0, via_erfcx, direct)


def _tn_parts(loc: Tensor, scale: Tensor, low: Tensor, x: Tensor) -> tuple[Tensor, ...]:
    """``alpha``, ``d = (max(x, low) - low) / scale``, ``z = (max(x, low) - loc) / scale`` and
    whether ``x`` is below the bound, in the working dtype, broadcast."""
    alpha = _standardise(loc, scale, low)
    below = x < low
    xc = torch.where(below, low, x)
    d = torch.where(below, torch.zeros_like(xc), (xc - low) / scale)
    d = torch.nan_to_num(d, nan=0.0)  # low = -inf, x = -inf
    z = torch.where(alpha > 0, alpha + d, (xc - loc) / scale)
    z = torch.nan_to_num(z, nan=_ALPHA_MIN, neginf=_ALPHA_MIN)
    return alpha, d, z, below


def _tn_moments(loc: Tensor, scale: Tensor, low: Tensor) -> tuple[Tensor, Tensor]:
    alpha = _standardise(loc, scale, low)
    mean = torch.where(alpha > 0, low + scale * _delta(alpha), loc + scale * _inv_mills(alpha))
    return mean, scale.pow(2) * _var_factor(alpha)


def _tn_log_prob(loc: Tensor, scale: Tensor, low: Tensor, x: Tensor) -> Tensor:
    alpha, d, z, below = _tn_parts(loc, scale, low, x)
    via_lambda = _inv_mills(alpha).log() - d * (alpha + d / 2)  # alpha > 0: no cancellation
    direct = -0.5 * z * z - _LOG_SQRT_2PI - torch.special.log_ndtr(-alpha)
    lp = torch.where(alpha > 0, via_lambda, direct) - scale.log()
    return torch.where(below, torch.full_like(lp, -math.inf), lp)


def _tn_survival(loc: Tensor, scale: Tensor, low: Tensor, x: Tensor) -> tuple[Tensor, Tensor]:
    """``(F(x), 1 - F(x))``, each accurate in relative terms."""
    alpha, d, z, below = _tn_parts(loc, scale, low, x)
    log_s = _log_tail_ratio(alpha, d, z)
    # near the bound with alpha <= 0, F = (Phi(z) - Phi(alpha)) / (1 - Phi(alpha)) directly
    f_direct = (ndtr(z) - ndtr(alpha)) / ndtr(-alpha)
    F = torch.where(alpha > 0, -torch.expm1(log_s), f_direct.clamp(0, 1))
    S = torch.where(alpha > 0, log_s.exp(), torch.exp(log_s).clamp(0, 1))
    return torch.where(below, torch.zeros_like(F), F), torch.where(below, torch.ones_like(S), S)


def _tn_icdf(loc: Tensor, scale: Tensor, low: Tensor, p: Tensor, steps: int = 12) -> Tensor:
    """Quantiles: closed form through ``ndtri`` for ``alpha <= 5``; beyond, Newton's method on
    the log survival ratio in the distance ``w`` to the bound (concave and decreasing, started
    to the right of the root from the exponential tail ``-log(1 - p) / lambda(alpha)``, so the
    iterates decrease monotonically to it)."""
    alpha = _standardise(loc, scale, low)
    p, alpha, loc, scale, low = torch.broadcast_tensors(p, alpha, loc, scale, low)
    mass = ndtr(-alpha)
    lower = ndtri(ndtr(alpha) + p * mass)
    upper = -ndtri((1 - p) * mass)
    z = torch.where((alpha <= 0) & (p < 0.5), lower, upper)
    a = alpha.clamp_min(_NEWTON_FROM)
    target = torch.log1p(-p)
    w = -target / _inv_mills(a)
    la = _log_erfcx(a / _SQRT2)
    for _ in range(steps):
        g = -w * (a + w / 2) + _log_erfcx((a + w) / _SQRT2) - la - target
        w = (w + g / _inv_mills(a + w)).clamp_min(0)
    w = torch.where(p >= 1, torch.full_like(w, math.inf), w)
    return torch.where(alpha > _NEWTON_FROM, low + scale * w, loc + scale * z)


def _tn_upper_partial(loc: Tensor, scale: Tensor, low: Tensor, x: Tensor) -> Tensor:
    """``E(X - x)^+`` (``E X - x`` for ``x`` below the bound)."""
    alpha, d, z, below = _tn_parts(loc, scale, low, x)
    mean, _ = _tn_moments(loc, scale, low)
    log_pdf_ratio = torch.where(
        alpha > 0,
        _inv_mills(alpha).log() - d * (alpha + d / 2),
        -0.5 * z * z - _LOG_SQRT_2PI - torch.special.log_ndtr(-alpha),
    )  # log [phi(z) / (1 - Phi(alpha))]
    S = _log_tail_ratio(alpha, d, z).exp()
    part = scale * (log_pdf_ratio.exp() - z * S)
    return torch.where(below, mean - x, part.clamp_min(0))


def _crps_truncated(loc: Tensor, scale: Tensor, low: Tensor, y: Tensor) -> Tensor:
    """Closed-form CRPS of ``N(loc, scale^2)`` truncated below ``low`` (Thorarinsdottir &
    Gneiting 2010; Gneiting et al. 2006 for ``low = 0``), with the ratios to the mass
    ``1 - Phi(alpha)`` evaluated through ``erfcx`` for ``alpha > 0``."""
    alpha, d, z, below = _tn_parts(loc, scale, low, y)
    pos = alpha > 0
    a_pos = alpha.clamp_min(0)
    S = _log_tail_ratio(alpha, d, z).exp()  # (1 - Phi(z)) / (1 - Phi(alpha))
    pdf_ratio = torch.where(
        pos,
        _inv_mills(alpha) * torch.exp(-d * (alpha + d / 2)),
        torch.exp(-0.5 * z * z - _LOG_SQRT_2PI - torch.special.log_ndtr(-alpha)),
    )  # phi(z) / (1 - Phi(alpha))
    pair = torch.where(
        pos,
        2 * torch.special.erfcx(a_pos) / torch.special.erfcx(a_pos / _SQRT2).pow(2),
        ndtr(-_SQRT2 * alpha) / ndtr(-alpha).pow(2),
    )  # Phi(-sqrt2 alpha) / (1 - Phi(alpha))^2
    c = scale * (z * (1 - 2 * S) + 2 * pdf_ratio - pair * _INV_SQRT_PI)
    return c + torch.where(below, low - y, torch.zeros_like(c))


class TruncatedNormal(Distribution):
    r"""The normal ``N(loc, scale^2)`` conditioned on ``X >= low`` (truncated below ``low``).

    Density :math:`\varphi(z) / (\sigma [1 - \Phi(\alpha)])` on ``x >= low`` with
    :math:`z = (x - \mu)/\sigma`, :math:`\alpha = (\mathrm{low} - \mu)/\sigma`; mean
    :math:`\mu + \sigma\lambda` and variance :math:`\sigma^2 (1 + \alpha\lambda - \lambda^2)`
    with :math:`\lambda = \varphi(\alpha) / [1 - \Phi(\alpha)]`. Every method stays accurate
    when the bound lies far above ``loc`` (the mass ``1 - Phi(alpha)`` underflows from
    ``alpha ~ 38``): ratios to the mass go through ``erfcx``, the moments through their
    asymptotic series for ``alpha > 20``, the quantiles through Newton's method for
    ``alpha > 5``. The arithmetic is in float64 (except on MPS), results in ``loc``'s dtype.
    ``low = -inf`` is the plain normal.

    Args:
        loc: means of the untruncated normals.
        scale: their standard deviations (> 0).
        low: the lower bounds (a float or a tensor broadcasting with ``loc``).

    Example:
        >>> d = TruncatedNormal(torch.tensor([0.0]), torch.tensor([1.0]), 0.0)  # half-normal
        >>> round(float(d.mean), 6), round(float(d.icdf(torch.tensor(0.5))), 6)
        (0.797885, 0.67449)
    """

    arg_constraints = {
        "loc": constraints.real,
        "scale": constraints.positive,
        "low": constraints.real,
    }
    has_rsample = True

    def __init__(
        self,
        loc: Tensor | float,
        scale: Tensor | float,
        low: Tensor | float = 0.0,
        validate_args: bool | None = None,
    ) -> None:
        self.loc, self.scale, self.low = broadcast_all(loc, scale, low)
        super().__init__(self.loc.shape, validate_args=validate_args)

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self) -> constraints.Constraint:
        return constraints.greater_than_eq(self.low)

    def expand(self, batch_shape: Any, _instance: Any = None) -> TruncatedNormal:
        new = self._get_checked_instance(TruncatedNormal, _instance)
        batch_shape = torch.Size(batch_shape)
        new.loc = self.loc.expand(batch_shape)
        new.scale = self.scale.expand(batch_shape)
        new.low = self.low.expand(batch_shape)
        super(TruncatedNormal, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def _params(self) -> tuple[Tensor, Tensor, Tensor]:
        dt = _work_dtype(self.loc)
        return self.loc.to(dt), self.scale.to(dt), self.low.to(dt)

    def _value(self, value: Any) -> Tensor:
        return torch.as_tensor(value, device=self.loc.device).to(_work_dtype(self.loc))

    @property
    def alpha(self) -> Tensor:
        """The standardised bound ``(low - loc) / scale``."""
        return (self.low - self.loc) / self.scale

    @property
    def log_mass(self) -> Tensor:
        """``log P(N(loc, scale^2) >= low)``: the log normaliser."""
        return torch.special.log_ndtr(-_standardise(*self._params())).to(self.loc.dtype)

    @property
    def mean(self) -> Tensor:
        return _tn_moments(*self._params())[0].to(self.loc.dtype)

    @property
    def variance(self) -> Tensor:
        return _tn_moments(*self._params())[1].to(self.loc.dtype)

    @property
    def mode(self) -> Tensor:
        return torch.maximum(self.loc, self.low)

    def log_prob(self, value: Any) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        return _tn_log_prob(*self._params(), self._value(value)).to(self.loc.dtype)

    def cdf(self, value: Any) -> Tensor:
        return _tn_survival(*self._params(), self._value(value))[0].to(self.loc.dtype)

    def icdf(self, value: Any) -> Tensor:
        return _tn_icdf(*self._params(), self._value(value)).to(self.loc.dtype)

    def entropy(self) -> Tensor:
        loc, scale, low = self._params()
        alpha = _standardise(loc, scale, low)
        lam = _inv_mills(alpha)
        a_lam = torch.where(lam > 0, alpha * lam, torch.zeros_like(lam))
        h = 0.5 + _LOG_SQRT_2PI + scale.log() + torch.special.log_ndtr(-alpha) + a_lam / 2
        return h.to(self.loc.dtype)

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        shape = self._extended_shape(sample_shape)
        u = torch.rand(shape, dtype=self.loc.dtype, device=self.loc.device)
        tiny = torch.finfo(self.loc.dtype).tiny
        return self.icdf(u.clamp(tiny, 1 - torch.finfo(self.loc.dtype).eps))


def truncated_normal(loc: Tensor, variance: Tensor, low: float | Tensor = 0.0) -> TruncatedNormal:
    """``N(loc, variance)`` conditioned on ``X >= low``, batch shape ``...`` (the shape of
    ``loc``); ``loc`` and ``variance`` are those of the normal before truncation.

    Example:
        >>> d = truncated_normal(torch.zeros(3), torch.ones(3))  # half-normals
        >>> round(float(d.mean[0]), 6)  # sqrt(2 / pi)
        0.797885
    """
    low_t = torch.as_tensor(low, dtype=loc.dtype, device=loc.device)
    return TruncatedNormal(loc, _sd(variance), low_t, validate_args=False)


def _log_mass_above(comp: Normal | TruncatedNormal, low: Tensor) -> Tensor:
    """``log P(X >= low)`` of each (possibly already truncated) normal component."""
    dt = _work_dtype(comp.loc)
    loc, scale, low = comp.loc.to(dt), comp.scale.to(dt), low.to(dt)
    log_mass = torch.special.log_ndtr(-_standardise(loc, scale, low))
    if isinstance(comp, TruncatedNormal):
        old = comp.low.to(dt)
        log_mass = torch.where(
            low > old, log_mass - torch.special.log_ndtr(-_standardise(loc, scale, old)), 0.0
        )
    return log_mass.to(comp.loc.dtype)


def _truncate_normal(comp: Normal | TruncatedNormal, low: Tensor) -> TruncatedNormal:
    loc, scale = torch.broadcast_tensors(comp.loc, comp.scale)
    if isinstance(comp, TruncatedNormal):
        low = torch.maximum(comp.low, low)
    return TruncatedNormal(loc, scale, low.expand(loc.shape), validate_args=False)


def truncate(dist: Distribution, low: float | Tensor = 0.0) -> Distribution:
    """``dist`` conditioned on ``X >= low`` (``low``: a float or a tensor broadcasting with the
    batch shape).

    - Normal -> :class:`TruncatedNormal`; a truncated normal is truncated at the larger bound;
    - mixture of Normals (or truncated normals) -> mixture of truncated normals, each weight
      multiplied by its component's mass above ``low`` and the weights renormalised (a point
      whose components all lie far below ``low`` keeps the component nearest to it);
    - LogNormal and mixtures of LogNormals are returned as they are for ``low <= 0`` (their
      support is already ``x > 0``).

    Raises:
        ValueError: a log-normal family with ``low > 0``.
        TypeError: an unsupported distribution.

    Example:
        >>> t = truncate(mixture(None, torch.tensor([[-3.0, 1.0]]), torch.ones(1, 2)), 0.0)
        >>> [round(float(p), 4) for p in t.mixture_distribution.probs[0]]  # 0.0013 : 0.8413
        [0.0016, 0.9984]
    """
    _view(dist)  # raises the TypeError for an unsupported distribution
    comp = dist.component_distribution if isinstance(dist, MixtureSameFamily) else dist
    low_t = torch.as_tensor(low, dtype=comp.loc.dtype, device=comp.loc.device)
    if isinstance(dist, MixtureSameFamily):
        comp = dist.component_distribution
        if isinstance(comp, LogNormal):
            return _lognormal_unchanged(dist, low_t)
        low_k = low_t.unsqueeze(-1) if low_t.dim() else low_t
        logits = dist.mixture_distribution.logits.expand(comp.batch_shape)
        logits = logits + _log_mass_above(comp, low_k)
        new = _truncate_normal(comp, low_k.expand(comp.batch_shape))
        mix = Categorical(logits=logits, validate_args=False)
        return MixtureSameFamily(mix, new, validate_args=False)
    if isinstance(dist, LogNormal):
        return _lognormal_unchanged(dist, low_t)
    return _truncate_normal(dist, low_t.expand(dist.batch_shape))


def _lognormal_unchanged(dist: Distribution, low: Tensor) -> Distribution:
    if bool((low > 0).any()):
        raise ValueError("truncate: a log-normal family can only be truncated at low <= 0")
    return dist


class _View(NamedTuple):
    """A supported distribution as a mixture: weights, locations, scales (``... x K``), the
    lower bounds of truncated normal components (``None`` otherwise) and whether the
    components are log-normal (locations and scales in log units)."""

    w: Tensor
    loc: Tensor
    scale: Tensor
    low: Tensor | None
    is_log: bool


def _view(dist: Distribution) -> _View:
    if isinstance(dist, MixtureSameFamily):
        comp = dist.component_distribution
        probs = dist.mixture_distribution.probs
        if isinstance(comp, TruncatedNormal):
            w, loc, scale, low = torch.broadcast_tensors(probs, comp.loc, comp.scale, comp.low)
            return _View(w, loc, scale, low, False)
        if not isinstance(comp, (Normal, LogNormal)):
            raise TypeError(f"unsupported mixture components {type(comp).__name__}")
        w, loc, scale = torch.broadcast_tensors(probs, comp.loc, comp.scale)
        return _View(w, loc, scale, None, isinstance(comp, LogNormal))
    if isinstance(dist, TruncatedNormal):
        params = torch.broadcast_tensors(dist.loc, dist.scale, dist.low)
        loc, scale, low = (t.unsqueeze(-1) for t in params)
        return _View(torch.ones_like(loc), loc, scale, low, False)
    if isinstance(dist, (Normal, LogNormal)):
        loc, scale = torch.broadcast_tensors(dist.loc, dist.scale)
        is_log = isinstance(dist, LogNormal)
        w = torch.ones_like(loc).unsqueeze(-1)
        return _View(w, loc.unsqueeze(-1), scale.unsqueeze(-1), None, is_log)
    raise TypeError(
        f"unsupported predictive distribution {type(dist).__name__}: use Normal, LogNormal, "
        "TruncatedNormal or a MixtureSameFamily of one of them"
    )


def components(dist: Distribution) -> tuple[Tensor, Tensor, Tensor, bool]:
    """The mixture view of a Normal, a LogNormal or a mixture of either: weights, locations and
    scales (each ``... x K``, broadcast; ``K = 1`` for a single Normal or LogNormal; log units
    for the log-normal families) and whether the components are log-normal.

    Raises:
        TypeError: any other distribution (truncated normals included: their bounds do not fit
            this view).

    Example:
        >>> w, loc, scale, is_log = components(lognormal(torch.zeros(2), torch.ones(2)))
        >>> tuple(loc.shape), is_log
        ((2, 1), True)
    """
    v = _view(dist)
    if v.low is not None:
        raise TypeError("components: truncated normals have bounds; use moments, quantile ...")
    return v.w, v.loc, v.scale, v.is_log


def map_distribution(dist: Distribution, fn: Callable[[Tensor], Tensor]) -> Distribution:
    """The same family with ``fn`` applied to every parameter tensor (mixture logits expanded
    to the components' batch shape first), e.g. ``lambda t: t[index]`` to select points (the
    first batch dimension) or ``lambda t: t.to("cpu")``.

    Example:
        >>> d = map_distribution(normal(torch.zeros(4), torch.ones(4)), lambda t: t[:2])
        >>> d.batch_shape
        torch.Size([2])
    """
    if isinstance(dist, MixtureSameFamily):
        comp = map_distribution(dist.component_distribution, fn)
        logits = dist.mixture_distribution.logits.expand(dist.component_distribution.batch_shape)
        mix = Categorical(logits=fn(logits), validate_args=False)
        return MixtureSameFamily(mix, comp, validate_args=False)
    if isinstance(dist, TruncatedNormal):
        loc, scale, low = torch.broadcast_tensors(dist.loc, dist.scale, dist.low)
        return TruncatedNormal(fn(loc), fn(scale), fn(low), validate_args=False)
    if isinstance(dist, LogNormal):
        return LogNormal(fn(dist.loc), fn(dist.scale), validate_args=False)
    if isinstance(dist, Normal):
        return Normal(fn(dist.loc), fn(dist.scale), validate_args=False)
    _view(dist)  # raises the TypeError
    raise AssertionError  # pragma: no cover


def widen(dist: Distribution, factor: Tensor | float) -> Distribution:
    """The distribution with its spread multiplied by ``factor`` (per point, ``>= 0``), its
    centre kept: every component's scale times ``factor`` and, in a mixture, every
    component's location moved away from the weighted mean of the locations by ``factor``
    too (in log units for log-normal components, so a log-normal keeps its median). Used to
    calibrate bands, e.g. to widen them with the distance of an extrapolation.

    >>> d = widen(normal(torch.zeros(2), torch.ones(2)), torch.tensor([1.0, 2.0]))
    >>> d.scale.tolist()
    [1.0, 2.0]
    """
    v = _view(dist)
    f = torch.as_tensor(factor, dtype=v.loc.dtype, device=v.loc.device)
    f = f.expand(v.loc.shape[:-1]).unsqueeze(-1)
    centre = (v.w * v.loc).sum(-1, keepdim=True)
    loc = centre + f * (v.loc - centre)
    scale = f * v.scale
    if not isinstance(dist, MixtureSameFamily):
        loc, scale = loc.squeeze(-1), scale.squeeze(-1)
        if isinstance(dist, TruncatedNormal):
            return TruncatedNormal(loc, scale, v.low.squeeze(-1), validate_args=False)
        family = LogNormal if v.is_log else Normal
        return family(loc, scale, validate_args=False)
    mix = dist.mixture_distribution
    if v.low is not None:
        comp: Distribution = TruncatedNormal(loc, scale, v.low, validate_args=False)
    else:
        comp = (LogNormal if v.is_log else Normal)(loc, scale, validate_args=False)
    return MixtureSameFamily(mix, comp, validate_args=False)


def _component_moments(loc: Tensor, scale: Tensor, is_log: bool) -> tuple[Tensor, Tensor]:
    if not is_log:
        return loc, scale.pow(2)
    s2 = scale.pow(2)
    return torch.exp(loc + s2 / 2), torch.expm1(s2) * torch.exp(2 * loc + s2)


def _to_work(v: _View) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """A truncated view's ``w, loc, scale, low`` in the working dtype."""
    assert v.low is not None
    dt = _work_dtype(v.loc)
    return v.w.to(dt), v.loc.to(dt), v.scale.to(dt), v.low.to(dt)


def moments(dist: Distribution) -> tuple[Tensor, Tensor]:
    """Exact mean and variance (each ``...``) of a supported distribution; for a mixture
    ``sum_k w_k m_k`` and ``sum_k w_k [v_k + (m_k - m)^2]``.

    Example:
        >>> m, v = moments(lognormal(torch.zeros(1), torch.ones(1)))
        >>> round(float(v), 4)  # (e - 1) e
        4.6708
    """
    v = _view(dist)
    if v.low is None:
        w = v.w
        m_k, v_k = _component_moments(v.loc, v.scale, v.is_log)
    else:
        w, loc, scale, low = _to_work(v)
        m_k, v_k = _tn_moments(loc, scale, low)
    mean = (w * m_k).sum(-1)
    var = (w * (v_k + (m_k - mean.unsqueeze(-1)).pow(2))).sum(-1)
    return mean.to(v.loc.dtype), var.to(v.loc.dtype)


def _as_level(p: float | Tensor, like: Tensor) -> Tensor:
    return torch.as_tensor(p, dtype=like.dtype, device=like.device)


def _mixture_cdf(x: Tensor, w: Tensor, loc: Tensor, scale: Tensor) -> Tensor:
    """CDF ``...`` at ``x`` (``...``) of the Gaussian mixture ``w, loc, scale`` (``... x K``)."""
    return (w * ndtr((x.unsqueeze(-1) - loc) / scale)).sum(-1)


def _bisect(
    cdf: Callable[[Tensor], Tensor], lo: Tensor, hi: Tensor, p: Tensor, iters: int
) -> Tensor:
    """The root of ``cdf(x) = p`` in ``[lo, hi]`` by bisection, stopped at round-off."""
    eps = torch.finfo(lo.dtype).eps
    for i in range(iters):
        mid = 0.5 * (lo + hi)
        below = cdf(mid) < p
        lo, hi = torch.where(below, mid, lo), torch.where(below, hi, mid)
        if i % 8 == 7 and bool(((hi - lo) <= 2 * eps * torch.maximum(lo.abs(), hi.abs())).all()):
            break
    return 0.5 * (lo + hi)


def _mixture_quantile(w: Tensor, loc: Tensor, scale: Tensor, p: Tensor, iters: int) -> Tensor:
    """Quantiles ``...`` of Gaussian mixtures by bisection: the root lies between the smallest
    and the largest of the components' own ``p``-quantiles."""
    comp_q = loc + scale * ndtri(p).unsqueeze(-1)
    lo, hi = comp_q.min(-1).values, comp_q.max(-1).values
    return _bisect(lambda x: _mixture_cdf(x, w, loc, scale), lo, hi, p, iters)


def _tn_mixture_cdf(x: Tensor, w: Tensor, loc: Tensor, scale: Tensor, low: Tensor) -> Tensor:
    return (w * _tn_survival(loc, scale, low, x.unsqueeze(-1))[0]).sum(-1)


def _tn_mixture_quantile(
    w: Tensor, loc: Tensor, scale: Tensor, low: Tensor, p: Tensor, iters: int
) -> Tensor:
    """Quantiles ``...`` of mixtures of truncated normals, bisecting between the smallest and
    the largest of the components' own ``p``-quantiles."""
    comp_q = _tn_icdf(loc, scale, low, p.unsqueeze(-1))
    lo, hi = comp_q.min(-1).values, comp_q.max(-1).values
    return _bisect(lambda x: _tn_mixture_cdf(x, w, loc, scale, low), lo, hi, p, iters)


def quantile(dist: Distribution, p: float | Tensor, *, iters: int = 200) -> Tensor:
    """Quantiles at level ``p`` (in (0, 1); a float or a tensor broadcasting with the batch
    shape) of a supported distribution: closed form for a Normal, LogNormal or truncated
    normal, bisection on the CDF (at most ``iters`` halvings, stopped at round-off) for a
    mixture.

    Example:
        >>> round(float(quantile(normal(torch.zeros(1), torch.ones(1)), 0.975)), 6)
        1.959964
    """
    v = _view(dist)
    if v.low is not None:
        w, loc, scale, low = _to_work(v)
        p_t = torch.broadcast_to(_as_level(p, loc), loc.shape[:-1])
        if loc.shape[-1] == 1:
            q = _tn_icdf(loc[..., 0], scale[..., 0], low[..., 0], p_t)
        else:
            q = _tn_mixture_quantile(w, loc, scale, low, p_t, iters)
        return q.to(v.loc.dtype)
    w, loc, scale, is_log = v.w, v.loc, v.scale, v.is_log
    p_t = torch.broadcast_to(_as_level(p, loc), loc.shape[:-1])
    if loc.shape[-1] == 1:
        q = loc[..., 0] + scale[..., 0] * ndtri(p_t)
    else:
        q = _mixture_quantile(w, loc, scale, p_t, iters)
    return q.exp() if is_log else q


def log_prob(dist: Distribution, y: Tensor) -> Tensor:
    """Log predictive density ``...`` of ``y`` (``...``); ``-inf`` at ``y <= 0`` for the
    log-normal families and at ``y`` below the bound for the truncated ones.

    Example:
        >>> round(float(log_prob(normal(torch.zeros(1), torch.ones(1)), torch.zeros(1))), 6)
        -0.918939
    """
    v = _view(dist)
    if v.low is not None:
        w, loc, scale, low = _to_work(v)
        y = torch.as_tensor(y, device=loc.device).to(loc.dtype)
        lp = _tn_log_prob(loc, scale, low, y.unsqueeze(-1))
        return torch.logsumexp(lp + w.log(), dim=-1).to(v.loc.dtype)
    w, loc, scale, is_log = v.w, v.loc, v.scale, v.is_log
    y = torch.as_tensor(y, dtype=loc.dtype, device=loc.device)
    pos = y > 0
    x = torch.where(pos, y, torch.ones_like(y)).log() if is_log else y
    z = (x.unsqueeze(-1) - loc) / scale
    lp = -0.5 * z.pow(2) - scale.log() - 0.5 * math.log(2 * math.pi)
    if is_log:
        lp = lp - x.unsqueeze(-1)
    out = torch.logsumexp(lp + w.log(), dim=-1)
    if is_log:
        out = torch.where(pos, out, torch.full_like(out, -math.inf))
    return out


def _pdf(z: Tensor) -> Tensor:
    return torch.exp(-0.5 * z * z) * _INV_SQRT_2PI


def _A(m: Tensor, s2: Tensor) -> Tensor:
    """Grimit et al.'s ``A(m, s^2) = E|m + s Z| = 2 s phi(m / s) + m (2 Phi(m / s) - 1)``."""
    s = s2.sqrt()
    z = m / s
    return 2 * s * _pdf(z) + m * (2 * ndtr(z) - 1)


def _crps_normal(loc: Tensor, scale: Tensor, y: Tensor) -> Tensor:
    z = (y - loc) / scale
    return scale * (z * (2 * ndtr(z) - 1) + 2 * _pdf(z) - _INV_SQRT_PI)


def _crps_lognormal(loc: Tensor, scale: Tensor, y: Tensor) -> Tensor:
    pos = y > 0
    ly = torch.where(pos, y, torch.ones_like(y)).log()
    z = torch.where(pos, (ly - loc) / scale, torch.full_like(ly, -math.inf))
    m = torch.exp(loc + scale.pow(2) / 2)
    return y * (2 * ndtr(z) - 1) - 2 * m * (ndtr(z - scale) + ndtr(scale / math.sqrt(2)) - 1)


def _flat(w: Tensor, loc: Tensor, scale: Tensor, y: Tensor) -> tuple[Tensor, ...]:
    """Broadcast to ``... x K`` and ``...``, then flatten to ``N x K`` and ``N``."""
    batch = torch.broadcast_shapes(loc.shape[:-1], y.shape)
    K = loc.shape[-1]
    out = [t.expand(*batch, K).reshape(-1, K) for t in (w, loc, scale)]
    return (*out, y.expand(batch).reshape(-1))


def _crps_normal_mixture(w: Tensor, loc: Tensor, scale: Tensor, y: Tensor) -> Tensor:
    batch = torch.broadcast_shapes(loc.shape[:-1], y.shape)
    w, loc, scale, y = _flat(w, loc, scale, y)
    s2 = scale.pow(2)
    first = (w * _A(y.unsqueeze(-1) - loc, s2)).sum(-1)
    K = loc.shape[-1]
    # E|X - X'|: the diagonal pairs plus twice the pairs i < j (the terms are symmetric)
    second = (w.pow(2) * _A(torch.zeros_like(loc), 2 * s2)).sum(-1)
    a, b = torch.triu_indices(K, K, offset=1, device=loc.device)
    step = max(1, _CHUNK // max(1, a.numel()))
    for i in range(0, loc.shape[0], step):
        wi, li, si = w[i : i + step], loc[i : i + step], s2[i : i + step]
        pair = _A(li[:, a] - li[:, b], si[:, a] + si[:, b])
        second[i : i + step] += 2 * (wi[:, a] * wi[:, b] * pair).sum(-1)
    return (first - 0.5 * second).reshape(batch)


def _simpson_weights(n_intervals: int, like: Tensor) -> Tensor:
    """Composite Simpson weights on ``n_intervals + 1`` nodes of ``[0, 1]`` (even count)."""
    w = torch.ones(n_intervals + 1, dtype=like.dtype, device=like.device)
    w[1:-1:2], w[2:-1:2] = 4.0, 2.0
    return w / (3 * n_intervals)


def _crps_lognormal_mixture(
    w: Tensor, loc: Tensor, scale: Tensor, y: Tensor, n_intervals: int
) -> Tensor:
    batch = torch.broadcast_shapes(loc.shape[:-1], y.shape)
    w, loc, scale, y = _flat(w, loc, scale, y)
    m = torch.exp(loc + scale.pow(2) / 2)
    mean = (w * m).sum(-1)

    def call(k_log: Tensor, k: Tensor, sign: float = 1.0) -> Tensor:
        """``E(X - k)^+`` (``sign=1``) or ``E(k - X)^+`` (``sign=-1``), in closed form."""
        d2 = (loc - k_log.unsqueeze(-1)) / scale
        part = m * ndtr(sign * (d2 + scale)) - k.unsqueeze(-1) * ndtr(sign * d2)
        return sign * (w * part).sum(-1)

    pos = y > 0
    ly = torch.where(pos, y, torch.ones_like(y)).log()
    e_abs = torch.where(pos, 2 * call(ly, y) - mean + y, mean - y)  # E|X - y|
    # half E|X - X'| = int F (1 - F) dx: Simpson in u = log x over the central mass
    u_lo = _mixture_quantile(w, loc, scale, _as_level(_TAIL, loc).expand_as(y), 200)
    u_hi = _mixture_quantile(w, loc, scale, _as_level(1 - _TAIL, loc).expand_as(y), 200)
    t = torch.linspace(0, 1, n_intervals + 1, dtype=loc.dtype, device=loc.device)
    sw = _simpson_weights(n_intervals, loc)
    half = torch.empty_like(y)
    K = loc.shape[-1]
    step = max(1, _CHUNK // ((n_intervals + 1) * K))
    for i in range(0, loc.shape[0], step):
        sl = slice(i, i + step)
        width = u_hi[sl] - u_lo[sl]
        u = u_lo[sl].unsqueeze(-1) + width.unsqueeze(-1) * t  # c x G
        z = (u.unsqueeze(-1) - loc[sl].unsqueeze(-2)) / scale[sl].unsqueeze(-2)  # c x G x K
        wi = w[sl].unsqueeze(-2)
        F, S = (wi * ndtr(z)).sum(-1), (wi * ndtr(-z)).sum(-1)
        half[sl] = width * ((F * S * u.exp()) * sw).sum(-1)
    x_lo, x_hi = u_lo.exp(), u_hi.exp()
    tails = call(u_lo, x_lo, -1.0) + call(u_hi, x_hi)  # int_0^x_lo F and int_x_hi^inf (1 - F)
    return (e_abs - half - tails).reshape(batch)


def _crps_truncated_mixture(
    w: Tensor, loc: Tensor, scale: Tensor, low: Tensor, y: Tensor, n_intervals: int
) -> Tensor:
    batch = torch.broadcast_shapes(loc.shape[:-1], y.shape)
    K = loc.shape[-1]
    low = low.expand(*batch, K).reshape(-1, K)
    w, loc, scale, y = _flat(w, loc, scale, y)
    mean_k, _ = _tn_moments(loc, scale, low)
    up = _tn_upper_partial(loc, scale, low, y.unsqueeze(-1))
    e_abs = (w * (2 * up - (mean_k - y.unsqueeze(-1)))).sum(-1)  # E|X - y|
    # half E|X - X'| = int F (1 - F) dx: Simpson in x over the central mass
    x_lo = _tn_mixture_quantile(w, loc, scale, low, _as_level(_TAIL, loc).expand_as(y), 200)
    x_hi = _tn_mixture_quantile(w, loc, scale, low, _as_level(1 - _TAIL, loc).expand_as(y), 200)
    t = torch.linspace(0, 1, n_intervals + 1, dtype=loc.dtype, device=loc.device)
    sw = _simpson_weights(n_intervals, loc)
    half = torch.empty_like(y)
    step = max(1, _CHUNK // ((n_intervals + 1) * K))
    for i in range(0, loc.shape[0], step):
        sl = slice(i, i + step)
        width = x_hi[sl] - x_lo[sl]
        x = x_lo[sl].unsqueeze(-1) + width.unsqueeze(-1) * t  # c x G
        F_k, S_k = _tn_survival(
            loc[sl].unsqueeze(-2), scale[sl].unsqueeze(-2), low[sl].unsqueeze(-2), x.unsqueeze(-1)
        )  # c x G x K
        wi = w[sl].unsqueeze(-2)
        F, S = (wi * F_k).sum(-1), (wi * S_k).sum(-1)
        half[sl] = width * ((F * S) * sw).sum(-1)
    # int_low^x_lo F = E(x_lo - X)^+ and int_x_hi^inf (1 - F) = E(X - x_hi)^+
    up_lo = _tn_upper_partial(loc, scale, low, x_lo.unsqueeze(-1))
    up_hi = _tn_upper_partial(loc, scale, low, x_hi.unsqueeze(-1))
    tails = (w * (x_lo.unsqueeze(-1) - mean_k + up_lo + up_hi)).sum(-1)
    return (e_abs - half - tails).reshape(batch)


def crps(dist: Distribution, y: Tensor, *, n_intervals: int = 4096) -> Tensor:
    """CRPS ``...`` of a supported distribution at observations ``y`` (``...``), in the units
    of ``y`` (lower is better); see the module docstring for the formulas. ``n_intervals``
    (even) is the Simpson resolution used for mixtures of log-normals or truncated normals.

    Example:
        >>> c = crps(normal(torch.zeros(1), torch.ones(1)), torch.zeros(1))
        >>> round(float(c), 6)  # (sqrt(2) - 1) / sqrt(pi)
        0.233695
    """
    if n_intervals < 2 or n_intervals % 2:
        raise ValueError(f"n_intervals must be even and >= 2, got {n_intervals}")
    v = _view(dist)
    if v.low is not None:
        w, loc, scale, low = _to_work(v)
        y = torch.as_tensor(y, device=loc.device).to(loc.dtype)
        if loc.shape[-1] == 1:
            out = _crps_truncated(loc[..., 0], scale[..., 0], low[..., 0], y)
        else:
            out = _crps_truncated_mixture(w, loc, scale, low, y, n_intervals)
        return out.to(v.loc.dtype)
    w, loc, scale, is_log = v.w, v.loc, v.scale, v.is_log
    y = torch.as_tensor(y, dtype=loc.dtype, device=loc.device)
    if loc.shape[-1] == 1:
        fn = _crps_lognormal if is_log else _crps_normal
        return fn(loc[..., 0], scale[..., 0], y)
    if is_log:
        return _crps_lognormal_mixture(w, loc, scale, y, n_intervals)
    return _crps_normal_mixture(w, loc, scale, y)
