"""Scores of a predictive distribution at observations: the log density (:func:`log_prob`)
and the CRPS (:func:`crps`; closed forms, and Simpson's rule for mixtures of log-normals or
truncated normals)."""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.distributions import Distribution
from torch.special import ndtr

from mfgp.distributions.summaries import _as_level, _mixture_quantile, _tn_mixture_quantile
from mfgp.distributions.transforms import _to_work, _view
from mfgp.distributions.truncated import (
    _LOG_SQRT_2PI,
    _SQRT2,
    _inv_mills,
    _log_tail_ratio,
    _tn_log_prob,
    _tn_moments,
    _tn_parts,
    _tn_survival,
    _tn_upper_partial,
)

__all__ = ["crps", "log_prob"]

_INV_SQRT_2PI = 1.0 / math.sqrt(2 * math.pi)
_INV_SQRT_PI = 1.0 / math.sqrt(math.pi)
_TAIL = 1e-7  # probability left out of each side of the numerical CRPS integral
_CHUNK = 2**22  # elements per chunk of the pairwise / grid computations


def log_prob(dist: Distribution, y: Tensor) -> Tensor:
    """Log predictive density ``...`` of ``y`` (``...``); ``-inf`` at ``y <= 0`` for the
    log-normal families and at ``y`` below the bound for the truncated ones.

    Example:
        >>> from mfgp.distributions import normal
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
    of ``y`` (lower is better); see :mod:`mfgp.distributions` for the formulas. ``n_intervals``
    (even) is the Simpson resolution used for mixtures of log-normals or truncated normals.

    Example:
        >>> from mfgp.distributions import normal
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
