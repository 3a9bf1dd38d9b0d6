"""Constructors of the Normal and LogNormal families and of their mixtures (variances floored
at the dtype's ``tiny``, so that zero variances stay valid)."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.distributions import Categorical, LogNormal, MixtureSameFamily, Normal

__all__ = ["Z95", "lognormal", "mixture", "normal"]

Z95 = 1.959963984540054  # standard normal 97.5 % quantile


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
