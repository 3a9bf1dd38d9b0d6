"""The truncated normal: a Normal conditioned on ``X >= low`` (:class:`TruncatedNormal`,
:func:`truncated_normal`) and its numerically stable arithmetic (moments, CDF and survival,
quantiles, partial moments), accurate far into the tail."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor
from torch.distributions import Distribution, constraints
from torch.distributions.utils import broadcast_all
from torch.special import ndtr, ndtri

from mfgp.distributions.families import _sd

__all__ = ["TruncatedNormal", "truncated_normal"]

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
