"""Every supported distribution seen as a mixture (weights, locations, scales, bounds), and
the operations built on that view: :func:`components`, :func:`truncate`,
:func:`map_distribution` and :func:`widen`."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import Tensor
from torch.distributions import Categorical, Distribution, LogNormal, MixtureSameFamily, Normal

from mfgp.distributions.truncated import TruncatedNormal, _standardise, _work_dtype

__all__ = ["components", "map_distribution", "truncate", "widen"]


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
        >>> from mfgp.distributions import mixture
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
        >>> from mfgp.distributions import lognormal
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
        >>> from mfgp.distributions import normal
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
    too (in log units for log-normal components, which are then shifted together so that the
    mean is kept: widening a band must not move the point prediction). Used to calibrate
    bands, e.g. to widen them with the distance of an extrapolation.

    >>> from mfgp.distributions import normal
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
    if v.is_log:  # log E[Y] = logsumexp(log w + loc + scale^2 / 2): keep it
        log_w = torch.log(v.w.clamp_min(1e-300))
        before = torch.logsumexp(log_w + v.loc + 0.5 * v.scale**2, -1, keepdim=True)
        after = torch.logsumexp(log_w + loc + 0.5 * scale**2, -1, keepdim=True)
        loc = loc + (before - after)
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


def _to_work(v: _View) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """A truncated view's ``w, loc, scale, low`` in the working dtype."""
    assert v.low is not None
    dt = _work_dtype(v.loc)
    return v.w.to(dt), v.loc.to(dt), v.scale.to(dt), v.low.to(dt)
