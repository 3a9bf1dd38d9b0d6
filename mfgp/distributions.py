r"""Pointwise predictive distributions: constructors, moments, quantiles, log density and CRPS.

A model's pointwise predictive distribution is a :class:`torch.distributions.Distribution`
whose batch shape is the shape of the predicted points (``n``; one scalar distribution per
point) and whose event shape is empty. Three families are supported:

- :class:`~torch.distributions.Normal`;
- :class:`~torch.distributions.LogNormal` (a Gaussian in log units, e.g. AR1 with
  ``log_transform``);
- :class:`~torch.distributions.MixtureSameFamily` of ``K`` Normal or LogNormal components with
  given weights (batch shape ``n x K`` of the components; e.g. the draws of
  ``hyperparameter_samples``, NARGP's Monte Carlo paths, a deep ensemble's members).

The helpers here work on any batch shape ``...``, on any device and dtype, and never call
NumPy:

- :func:`normal`, :func:`lognormal`, :func:`mixture` build the distributions (variances are
  floored at the dtype's ``tiny`` so that zero variances stay valid);
- :func:`moments`: exact means and variances;
- :func:`quantile`: exact quantiles, in closed form for one Normal or LogNormal and by
  vectorised bisection on the CDF for a mixture (torch has no ``icdf`` for mixtures; the
  quantile of a log-normal mixture is ``exp`` of the quantile of the Gaussian mixture of the
  logs);
- :func:`log_prob`: log density (``-inf`` below 0 for the log-normal families);
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
  * mixture of LogNormals: :math:`E|X - y| = \sum_i w_i E|X_i - y|` in closed form and
    :math:`\tfrac12 E|X - X'| = \int_0^\infty F(x) [1 - F(x)]\,dx` numerically: composite
    Simpson rule in :math:`u = \log x` between the mixture's :math:`10^{-7}` and
    :math:`1 - 10^{-7}` quantiles, plus the tails in closed form
    (:math:`\int_0^{a} F \approx E(a - X)^+` and :math:`\int_b^\infty (1 - F) = E(X - b)^+`,
    where :math:`F (1 - F)` differs from them by a factor within :math:`10^{-7}` of 1).

References:
    Gneiting, T. & Raftery, A. E. (2007). Strictly proper scoring rules, prediction, and
    estimation. J. Am. Stat. Assoc. 102(477):359-378.
    Grimit, E. P., Gneiting, T., Berrocal, V. J. & Johnson, N. A. (2006). The continuous ranked
    probability score for circular variables and its application to mesoscale forecast
    ensemble verification. Q. J. R. Meteorol. Soc. 132:2925-2942.
    Baran, S. & Lerch, S. (2015). Log-normal distribution based Ensemble Model Output
    Statistics models for probabilistic wind-speed forecasting. Q. J. R. Meteorol. Soc.
    141:2289-2299.

>>> import torch
>>> d = mixture(None, torch.tensor([[0.0, 2.0]]), torch.tensor([[1.0, 1.0]]))
>>> [round(float(t), 4) for t in moments(d)]
[1.0, 2.0]
>>> round(float(quantile(d, 0.5)), 6)
1.0
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor
from torch.distributions import Categorical, Distribution, LogNormal, MixtureSameFamily, Normal
from torch.special import ndtr, ndtri

__all__ = [
    "Z95",
    "components",
    "crps",
    "log_prob",
    "lognormal",
    "map_distribution",
    "mixture",
    "moments",
    "normal",
    "quantile",
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


def components(dist: Distribution) -> tuple[Tensor, Tensor, Tensor, bool]:
    """The mixture view of a supported distribution: weights, locations and scales (each
    ``... x K``, broadcast; ``K = 1`` for a single Normal or LogNormal; log units for the
    log-normal families) and whether the components are log-normal.

    Raises:
        TypeError: a distribution other than Normal, LogNormal or their mixtures.

    Example:
        >>> w, loc, scale, is_log = components(lognormal(torch.zeros(2), torch.ones(2)))
        >>> tuple(loc.shape), is_log
        ((2, 1), True)
    """
    if isinstance(dist, MixtureSameFamily):
        comp = dist.component_distribution
        if not isinstance(comp, (Normal, LogNormal)):
            raise TypeError(f"unsupported mixture components {type(comp).__name__}")
        probs = dist.mixture_distribution.probs
        w, loc, scale = torch.broadcast_tensors(probs, comp.loc, comp.scale)
        return w, loc, scale, isinstance(comp, LogNormal)
    if isinstance(dist, (Normal, LogNormal)):
        loc, scale = torch.broadcast_tensors(dist.loc, dist.scale)
        is_log = isinstance(dist, LogNormal)
        return torch.ones_like(loc).unsqueeze(-1), loc.unsqueeze(-1), scale.unsqueeze(-1), is_log
    raise TypeError(
        f"unsupported predictive distribution {type(dist).__name__}: use Normal, LogNormal or "
        "a MixtureSameFamily of either"
    )


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
    if isinstance(dist, LogNormal):
        return LogNormal(fn(dist.loc), fn(dist.scale), validate_args=False)
    if isinstance(dist, Normal):
        return Normal(fn(dist.loc), fn(dist.scale), validate_args=False)
    components(dist)  # raises the TypeError
    raise AssertionError  # pragma: no cover


def _component_moments(loc: Tensor, scale: Tensor, is_log: bool) -> tuple[Tensor, Tensor]:
    if not is_log:
        return loc, scale.pow(2)
    s2 = scale.pow(2)
    return torch.exp(loc + s2 / 2), torch.expm1(s2) * torch.exp(2 * loc + s2)


def moments(dist: Distribution) -> tuple[Tensor, Tensor]:
    """Exact mean and variance (each ``...``) of a supported distribution; for a mixture
    ``sum_k w_k m_k`` and ``sum_k w_k [v_k + (m_k - m)^2]``.

    Example:
        >>> m, v = moments(lognormal(torch.zeros(1), torch.ones(1)))
        >>> round(float(v), 4)  # (e - 1) e
        4.6708
    """
    w, loc, scale, is_log = components(dist)
    m_k, v_k = _component_moments(loc, scale, is_log)
    mean = (w * m_k).sum(-1)
    return mean, (w * (v_k + (m_k - mean.unsqueeze(-1)).pow(2))).sum(-1)


def _as_level(p: float | Tensor, like: Tensor) -> Tensor:
    return torch.as_tensor(p, dtype=like.dtype, device=like.device)


def _mixture_cdf(x: Tensor, w: Tensor, loc: Tensor, scale: Tensor) -> Tensor:
    """CDF ``...`` at ``x`` (``...``) of the Gaussian mixture ``w, loc, scale`` (``... x K``)."""
    return (w * ndtr((x.unsqueeze(-1) - loc) / scale)).sum(-1)


def _mixture_quantile(w: Tensor, loc: Tensor, scale: Tensor, p: Tensor, iters: int) -> Tensor:
    """Quantiles ``...`` of Gaussian mixtures by bisection: the root lies between the smallest
    and the largest of the components' own ``p``-quantiles."""
    comp_q = loc + scale * ndtri(p).unsqueeze(-1)
    lo, hi = comp_q.min(-1).values, comp_q.max(-1).values
    eps = torch.finfo(loc.dtype).eps
    for i in range(iters):
        mid = 0.5 * (lo + hi)
        below = _mixture_cdf(mid, w, loc, scale) < p
        lo, hi = torch.where(below, mid, lo), torch.where(below, hi, mid)
        if i % 8 == 7 and bool(((hi - lo) <= 2 * eps * torch.maximum(lo.abs(), hi.abs())).all()):
            break
    return 0.5 * (lo + hi)


def quantile(dist: Distribution, p: float | Tensor, *, iters: int = 200) -> Tensor:
    """Quantiles at level ``p`` (in (0, 1); a float or a tensor broadcasting with the batch
    shape) of a supported distribution: closed form for a Normal or LogNormal, bisection on
    the CDF (at most ``iters`` halvings, stopped at round-off) for a mixture.

    Example:
        >>> round(float(quantile(normal(torch.zeros(1), torch.ones(1)), 0.975)), 6)
        1.959964
    """
    w, loc, scale, is_log = components(dist)
    p_t = torch.broadcast_to(_as_level(p, loc), loc.shape[:-1])
    if loc.shape[-1] == 1:
        q = loc[..., 0] + scale[..., 0] * ndtri(p_t)
    else:
        q = _mixture_quantile(w, loc, scale, p_t, iters)
    return q.exp() if is_log else q


def log_prob(dist: Distribution, y: Tensor) -> Tensor:
    """Log predictive density ``...`` of ``y`` (``...``); ``-inf`` at ``y <= 0`` for the
    log-normal families.

    Example:
        >>> round(float(log_prob(normal(torch.zeros(1), torch.ones(1)), torch.zeros(1))), 6)
        -0.918939
    """
    w, loc, scale, is_log = components(dist)
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


def crps(dist: Distribution, y: Tensor, *, n_intervals: int = 4096) -> Tensor:
    """CRPS ``...`` of a supported distribution at observations ``y`` (``...``), in the units
    of ``y`` (lower is better); see the module docstring for the formulas. ``n_intervals``
    (even) is the Simpson resolution used for mixtures of log-normals only.

    Example:
        >>> c = crps(normal(torch.zeros(1), torch.ones(1)), torch.zeros(1))
        >>> round(float(c), 6)  # (sqrt(2) - 1) / sqrt(pi)
        0.233695
    """
    if n_intervals < 2 or n_intervals % 2:
        raise ValueError(f"n_intervals must be even and >= 2, got {n_intervals}")
    w, loc, scale, is_log = components(dist)
    y = torch.as_tensor(y, dtype=loc.dtype, device=loc.device)
    if loc.shape[-1] == 1:
        fn = _crps_lognormal if is_log else _crps_normal
        return fn(loc[..., 0], scale[..., 0], y)
    if is_log:
        return _crps_lognormal_mixture(w, loc, scale, y, n_intervals)
    return _crps_normal_mixture(w, loc, scale, y)
