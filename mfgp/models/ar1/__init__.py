r"""Autoregressive (AR1) multi-fidelity co-kriging: Kennedy-O'Hagan, recursive and joint.

The model links ``L`` fidelity levels (0 = cheapest, ``L - 1`` = measured truth) by

.. math::

    f_0(x) = \delta_0(x), \qquad f_k(x) = \rho_k(x)\, f_{k-1}(x) + \delta_k(x), \quad k \ge 1,

with independent Gaussian processes :math:`\delta_k \sim GP(\mu_k, c_k)` and a scale factor
:math:`\rho_k(x)` that is a constant (``rho="constant"``) or linear in chosen features
(``rho="linear"``, :math:`\rho_k(x) = a_k + b_k^\top x_s`). Observations are
:math:`y = f_{\ell}(x) + \varepsilon`, :math:`\varepsilon \sim N(0, \sigma^2_\ell)` (or a known
per-row ``Yvar``). Level 0 may instead be a *known deterministic function* ``level0(x)`` (a
scaling-law surrogate): then :math:`f_0 = \texttt{level0}` enters exactly, no GP is fitted for it
and the first GP level is level 1.

Writing :math:`P_{l}(x) = \prod_{m=l+1}^{\ell(x)} \rho_m(x)` (1 for :math:`l = \ell(x)`, 0 for
:math:`l > \ell(x)`), the prior of the level-:math:`\ell` response at :math:`x` is

.. math::

    E f_{\ell}(x) = \sum_{l \le \ell} P_l(x) \mu_l(x), \qquad
    \operatorname{cov}(f_i(x), f_j(x')) = \sum_{l \le \min(i, j)} P_l(x) P_l(x') c_l(x, x')

(Kennedy & O'Hagan 2000, eq. 2-4, with :math:`\rho` allowed to depend on :math:`x`; the
level-0 callable contributes :math:`P_0(x) f_0(x)` to the mean and nothing to the covariance).

Two inference modes:

``mode="joint"``
    One exact GP over all rows with the block covariance above; hyperparameters of all levels
    maximise the exact joint marginal likelihood (cost :math:`O((\sum_k n_k)^3)`). Exact for any
    design. The first restart starts from the recursive fit.

``mode="recursive"`` (Le Gratiet & Garnier 2014)
    Levels are fitted one after another (cost :math:`O(\sum_k n_k^3)`). The GP of level ``k`` has
    prior mean :math:`\rho_k(x) \hat m_{k-1}(x) + \mu_k(x)`, where :math:`\hat m_{k-1}` is the
    posterior mean of level ``k - 1`` at the level-``k`` inputs, and covariance
    :math:`c_k + \sigma_k^2 I`. The posterior combines independent level posteriors,

    .. math::

        m_k(x) = \rho_k(x) m_{k-1}(x) + \mu_k(x) + c_k(x, X_k) A_k^{-1} r_k, \qquad
        \Sigma_k(x, x') = \rho_k(x) \rho_k(x') \Sigma_{k-1}(x, x') + s_k(x, x'),

    with :math:`s_k` the posterior covariance of :math:`\delta_k` and
    :math:`\operatorname{cov}(f_i(x), f_j(x')) = \Sigma_i(x, x') \prod_{m=i+1}^{j}\rho_m(x')` across
    levels :math:`i \le j`. This equals the joint posterior for nested, noise-free designs
    (:math:`X_k \subseteq X_{k-1}`); otherwise it is the usual approximation that treats
    :math:`f_{k-1}(X_k)` as known and equal to its posterior mean and ignores the posterior
    correlation between levels induced by non-nested or noisy data.

Units: features (all columns of ``X`` but the last) are min-max normalised to [0, 1] with the
training data's statistics (the fidelity column is not); outputs (``log Y`` if
``log_transform=True``) are standardised with mean and standard deviation *pooled over all
levels*, so that :math:`\rho` keeps its meaning and is not driven to 0 by a single level's scale.
``rho`` coefficients refer to these normalised features; ``noise`` is given in data units (log
units with ``log_transform``).

The KOH block covariance, the recursive co-kriging and the per-level Cholesky with the
:func:`mfgp.settings.jitter_ladder` (:mod:`mfgp.models.gp_linalg`) are written here by hand (no
library implements them); kernels, means, priors and posteriors are GPyTorch/BoTorch blocks.

References:
    Kennedy, M. C. & O'Hagan, A. (2000). Predicting the output from a complex computer code
    when fast approximations are available. Biometrika 87(1):1-13.
    Le Gratiet, L. & Garnier, J. (2014). Recursive co-kriging model for design of computer
    experiments with multiple levels of fidelity. Int. J. Uncertainty Quantification 4(5).

Layout: :mod:`~mfgp.models.ar1.level` (one level's hyperparameters), :mod:`~mfgp.models.ar1.koh`
(the KOH prior as GPyTorch kernel, mean, noise model and ``ExactGP``),
:mod:`~mfgp.models.ar1.units` (internal units), :mod:`~mfgp.models.ar1.recursive` and
:mod:`~mfgp.models.ar1.joint` (the two inference modes), :mod:`~mfgp.models.ar1.draws` (the
hyperparameter draws, a batch dimension), :mod:`~mfgp.models.ar1.posterior`,
:mod:`~mfgp.models.ar1.fitting` and :mod:`~mfgp.models.ar1.model` (the class).
"""

from __future__ import annotations

from mfgp.models.ar1.koh import KOHExactGP as KOHExactGP
from mfgp.models.ar1.koh import KOHKernel as KOHKernel
from mfgp.models.ar1.koh import KOHMean as KOHMean
from mfgp.models.ar1.level import KERNELS as KERNELS
from mfgp.models.ar1.level import KernelFactory as KernelFactory
from mfgp.models.ar1.level import Level0 as Level0
from mfgp.models.ar1.level import _dense as _dense
from mfgp.models.ar1.level import _gp_modules as _gp_modules
from mfgp.models.ar1.level import _Level as _Level
from mfgp.models.ar1.level import _log_prior as _log_prior
from mfgp.models.ar1.level import _resolve_kernel as _resolve_kernel
from mfgp.models.ar1.model import AR1MultiFidelityGP

# the public path (as saved in model.json and shown in documentation)
AR1MultiFidelityGP.__module__ = __name__

__all__ = ["AR1MultiFidelityGP", "KOHExactGP", "KOHKernel", "KOHMean"]
