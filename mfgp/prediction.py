"""The pointwise predictive distribution a model returns from ``predict``: :class:`Prediction`.

A :class:`Prediction` holds, per predicted point, the mean, the variance, the 95 % interval and
(optionally) the distribution itself, a :class:`torch.distributions.Distribution` of batch shape
``n`` (Normal, LogNormal, truncated normal or a mixture of one of them, see
:mod:`mfgp.distributions`). The metrics of :mod:`mfgp.metrics` score a prediction under that
distribution; a prediction without one is treated as the Gaussian of its mean and variance.

A positive target (titer, biomass) gets Gaussian predictions from most models, whose lower 95 %
bounds can fall below zero; :meth:`Prediction.truncated` conditions the predictive on a positive
response, so that the bands of a positive target are those of the predictive distribution
conditioned on a positive response.

>>> import torch
>>> p = Prediction.lognormal(torch.zeros(3), torch.full((3,), 0.25))
>>> type(p.distribution).__name__, round(float(p.upper[0]), 4)  # exp(1.96 * 0.5)
('LogNormal', 2.6644)
>>> p.select(torch.tensor([0, 2])).mean.shape
torch.Size([2])
>>> g = Prediction.gaussian(torch.tensor([0.5]), torch.tensor([1.0]))  # lower bound -1.46
>>> round(float(g.truncated(0.0).lower[0]), 4)  # 2.5 % quantile of N(0.5, 1) given > 0
0.0485
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from torch.distributions import Distribution

from mfgp import distributions as D

__all__ = ["Prediction"]


@dataclass(frozen=True)
class Prediction:
    """Pointwise predictive distribution in the units of the data.

    The bands of a positive target are those of the predictive distribution conditioned on a
    positive response: ``mfgp run`` applies :meth:`truncated` (``lower=0``) to the predictions
    of a target whose observed values are all positive, for every model whose predictive is
    not already positive (a Gaussian or a mixture of Gaussians becomes a truncated normal or a
    mixture of truncated normals; log-normal predictions, e.g. ``log_transform=true``, are
    kept as they are). The mean, variance, 95 % bounds, NLPD and CRPS are then those of the
    truncated distribution, exactly.

    Attributes:
        mean: ``n`` predictive means.
        variance: ``n`` predictive variances.
        lower: ``n`` lower 95 % bounds (the 2.5 % quantiles of the distribution).
        upper: ``n`` upper 95 % bounds (the 97.5 % quantiles).
        distribution: the distribution of batch shape ``n`` (Normal, LogNormal,
            :class:`~mfgp.distributions.TruncatedNormal` or a ``MixtureSameFamily`` of one of
            them), or ``None``: Gaussian with ``mean`` and ``variance`` (a prediction built from
            moments only).
    """

    mean: Tensor
    variance: Tensor
    lower: Tensor
    upper: Tensor
    distribution: Distribution | None = None

    @classmethod
    def gaussian(cls, mean: Tensor, variance: Tensor) -> Prediction:
        """A Gaussian prediction; its 95 % bounds are ``mean +- 1.96 sd``."""
        sd = variance.clamp_min(0).sqrt()
        return cls(
            mean=mean,
            variance=variance,
            lower=mean - D.Z95 * sd,
            upper=mean + D.Z95 * sd,
            distribution=D.normal(mean, variance),
        )

    @classmethod
    def lognormal(cls, mu: Tensor, sigma2: Tensor) -> Prediction:
        """The log-normal ``exp(N(mu, sigma2))`` (``mu``, ``sigma2``: ``n``, log units): exact
        moments ``exp(mu + sigma2 / 2)`` and ``(exp(sigma2) - 1) exp(2 mu + sigma2)``, bounds
        ``exp(mu +- 1.96 sigma)``."""
        sd = sigma2.clamp_min(0).sqrt()
        return cls(
            mean=torch.exp(mu + sigma2 / 2),
            variance=torch.expm1(sigma2) * torch.exp(2 * mu + sigma2),
            lower=torch.exp(mu - D.Z95 * sd),
            upper=torch.exp(mu + D.Z95 * sd),
            distribution=D.lognormal(mu, sigma2),
        )

    @classmethod
    def mixture(
        cls,
        weights: Tensor | None,
        component_means: Tensor,
        component_variances: Tensor,
        *,
        log: bool = False,
    ) -> Prediction:
        """A mixture of ``K`` Gaussians per point (log-normals ``exp(N(mean, variance))`` with
        ``log``): exact moments; bounds are the mixture's 2.5 and 97.5 % quantiles.

        Args:
            weights: ``K`` or ``n x K`` weights (normalised), or ``None`` for equal weights.
            component_means: ``n x K`` (log units with ``log``).
            component_variances: ``n x K`` (log units with ``log``).
            log: log-normal components.
        """
        dist = D.mixture(weights, component_means, component_variances, log=log)
        return cls.from_distribution(dist)

    @classmethod
    def from_distribution(cls, distribution: Distribution) -> Prediction:
        """A prediction whose moments and bounds are the exact ones of ``distribution``."""
        mean, variance = D.moments(distribution)
        return cls(
            mean=mean,
            variance=variance,
            lower=D.quantile(distribution, 0.025),
            upper=D.quantile(distribution, 0.975),
            distribution=distribution,
        )

    @property
    def sd(self) -> Tensor:
        """Predictive standard deviations."""
        return self.variance.clamp_min(0).sqrt()

    @property
    def predictive(self) -> Distribution:
        """:attr:`distribution`, or the Gaussian of :attr:`mean` and :attr:`variance` when it
        is ``None``."""
        if self.distribution is not None:
            return self.distribution
        return D.normal(self.mean, self.variance.clamp_min(0))

    def truncated(self, lower: float = 0.0) -> Prediction:
        """The prediction conditioned on the response being ``>= lower``.

        A Normal becomes a truncated normal, a mixture of Normals a mixture of truncated
        normals (each weight multiplied by its component's mass above ``lower``, then
        renormalised); a prediction without a distribution is first the Gaussian of its mean
        and variance. Mean, variance and 95 % bounds are the truncated distribution's exact
        ones. A LogNormal or log-normal mixture (already positive) is returned unchanged for
        ``lower <= 0``.

        Args:
            lower: the bound (0 for a positive target).

        Returns:
            The conditioned prediction (``self`` when nothing changes).

        Raises:
            ValueError: ``lower > 0`` on a log-normal prediction.

        Example:
            >>> p = Prediction.gaussian(torch.tensor([-0.2, 3.0]), torch.tensor([1.0, 0.01]))
            >>> t = p.truncated()
            >>> bool((t.lower >= 0).all()), round(float(t.mean[1]), 4)  # far from 0: unchanged
            (True, 3.0)
        """
        dist = D.truncate(self.predictive, lower)
        if dist is self.distribution:
            return self
        return Prediction.from_distribution(dist)

    def _map(self, fn: Any) -> Prediction:
        dist = None if self.distribution is None else D.map_distribution(self.distribution, fn)
        return Prediction(
            mean=fn(self.mean),
            variance=fn(self.variance),
            lower=fn(self.lower),
            upper=fn(self.upper),
            distribution=dist,
        )

    def widened(self, factor: Tensor | float) -> Prediction:
        """The prediction with its spread multiplied by ``factor`` (per point) about its centre
        (see :func:`mfgp.distributions.widen`); mean, variance and bounds recomputed."""
        return Prediction.from_distribution(D.widen(self.predictive, factor))

    def select(self, index: Any) -> Prediction:
        """The prediction at a subset of the points: ``index`` (a slice, integer indices or a
        boolean mask, as a tensor, array or list) selects along the first dimension of every
        field and of the distribution's parameters (for a mixture: its weights and component
        parameters; for a truncated normal: its bounds too)."""
        if not isinstance(index, slice):
            index = torch.as_tensor(index, device=self.mean.device)
            if index.dtype != torch.bool:
                index = index.long()
        return self._map(lambda t: t[index])

    def to(self, *args: Any, **kwargs: Any) -> Prediction:
        """Move every tensor (and the distribution) with :meth:`torch.Tensor.to`."""
        return self._map(lambda t: t.to(*args, **kwargs))
