"""Exact summaries of a supported distribution: :func:`moments` and :func:`quantile` (closed
form for one component, bisection on the CDF for a mixture)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from torch.distributions import Distribution
from torch.special import ndtr, ndtri

from mfgp.distributions.transforms import _to_work, _view
from mfgp.distributions.truncated import _tn_icdf, _tn_moments, _tn_survival

__all__ = ["moments", "quantile"]


def _component_moments(loc: Tensor, scale: Tensor, is_log: bool) -> tuple[Tensor, Tensor]:
    if not is_log:
        return loc, scale.pow(2)
    s2 = scale.pow(2)
    return torch.exp(loc + s2 / 2), torch.expm1(s2) * torch.exp(2 * loc + s2)


def moments(dist: Distribution) -> tuple[Tensor, Tensor]:
    """Exact mean and variance (each ``...``) of a supported distribution; for a mixture
    ``sum_k w_k m_k`` and ``sum_k w_k [v_k + (m_k - m)^2]``.

    Example:
        >>> from mfgp.distributions import lognormal
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
        >>> from mfgp.distributions import normal
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
