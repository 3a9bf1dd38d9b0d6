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

from mfgp.distributions.families import Z95, lognormal, mixture, normal
from mfgp.distributions.scoring import crps, log_prob
from mfgp.distributions.summaries import moments, quantile
from mfgp.distributions.transforms import components, map_distribution, truncate, widen
from mfgp.distributions.truncated import TruncatedNormal, truncated_normal

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
