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
"""

from __future__ import annotations

import copy
import logging
import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import gpytorch
import torch
from botorch.models.model import FantasizeMixin
from botorch.models.transforms.outcome import Log
from botorch.optim.utils import sample_all_priors
from botorch.posteriors import GPyTorchPosterior, Posterior
from gpytorch.constraints import GreaterThan
from gpytorch.distributions import MultivariateNormal
from gpytorch.kernels import Kernel
from gpytorch.likelihoods import GaussianLikelihood
from gpytorch.means import ConstantMean, LinearMean, ZeroMean
from gpytorch.priors import LogNormalPrior, NormalPrior
from linear_operator.operators import DenseLinearOperator
from linear_operator.utils.errors import NotPSDError
from torch import Tensor, nn

from mfgp import progress
from mfgp.exceptions import (
    InputDataError,
    MFGPError,
    MFGPWarning,
    ModelFittingError,
    NumericalWarning,
)
from mfgp.memory import DENSE_COPIES
from mfgp.models.base import (
    Prediction,
    ScaleUpModel,
    as_training_tensors,
    init_option_names,
    register_model,
)
from mfgp.models.gp_linalg import gaussian_nll, jittered_cholesky, loo_variance_scale, solve_lower
from mfgp.models.hyper_mcmc import flat_params, mixture_moments, sample_level, set_params
from mfgp.models.single_gp import matern52_kernel, se_kernel
from mfgp.models.sparse_level import dtc_state, inducing_rows

__all__ = ["AR1MultiFidelityGP"]

log = logging.getLogger(__name__)

Level0 = Callable[[Tensor], Tensor]
KernelFactory = Callable[[int], Kernel]
# instance attributes holding cached posterior states (see AR1MultiFidelityGP._cached)
_CACHES = ("_state_cache", "_shadow_cache", "_joint_cache", "_cond_cache", "_joint_copy")


def _dense(kernel: Kernel, x1: Tensor, x2: Tensor) -> Tensor:
    """Dense kernel matrix ``batch x n1 x n2``."""
    out = kernel(x1, x2)
    return out.to_dense() if hasattr(out, "to_dense") else out


def _gp_modules(module: nn.Module) -> list[gpytorch.Module]:
    """``module`` itself if it is a GPyTorch module, else its GPyTorch children."""
    if isinstance(module, gpytorch.Module):
        return [module]
    return [m for m in module.children() if isinstance(m, gpytorch.Module)]


def _log_prior(module: nn.Module) -> Tensor | float:
    """Sum of the log prior densities registered on ``module`` (or its GPyTorch children)."""
    total: Tensor | float = 0.0
    for gm in _gp_modules(module):
        for _, mod, prior, closure, _ in gm.named_priors():
            total = total + prior.log_prob(closure(mod)).sum()
    return total


class _Level(gpytorch.Module):
    """Hyperparameters of one GP level: kernel and mean of delta_k, rho_k, noise.

    Args:
        d: number of features.
        kernel: covariance of delta_k on normalised features.
        mean: ``"constant"``, ``"linear"`` or ``"zero"``.
        mean_dims: feature columns of a linear mean.
        rho: ``None`` (no rho: the lowest level without a level-0 callable), ``"constant"`` or
            ``"linear"``.
        rho_dims: feature columns of a linear rho.
        learn_noise: whether the level's noise variance is a learned parameter.
        noise_prior: ``(loc, scale)`` of the LogNormal prior of a learned noise variance.
        min_noise: lower bound of a learned noise variance.
        rho_slope_sd: standard deviation of a zero-mean Normal prior on the slopes of a linear
            rho (None: no prior).
    """

    def __init__(
        self,
        *,
        kernel: Kernel,
        mean: str,
        mean_dims: list[int],
        rho: str | None,
        rho_dims: list[int],
        learn_noise: bool,
        noise_prior: tuple[float, float] = (-4.0, 1.0),
        min_noise: float = 1e-6,
        rho_slope_sd: float | None = None,
    ) -> None:
        super().__init__()
        self.kernel = kernel
        self.mean_dims = list(mean_dims)
        self.rho_dims = list(rho_dims)
        self.rho_kind = rho
        if mean == "constant":
            self.mean: gpytorch.means.Mean = ConstantMean()
        elif mean == "linear":
            self.mean = LinearMean(len(mean_dims))
        else:
            self.mean = ZeroMean()
        if rho is not None:
            self.rho_a = nn.Parameter(torch.ones(()))
            if rho == "linear":
                self.rho_b = nn.Parameter(torch.zeros(len(rho_dims)))
                if rho_slope_sd is not None:
                    self.register_prior(
                        "rho_b_prior",
                        NormalPrior(0.0, rho_slope_sd),
                        lambda m: m.rho_b,
                        lambda m, v: m.rho_b.data.copy_(v.reshape(m.rho_b.shape)),
                    )
        if learn_noise:
            self.likelihood = GaussianLikelihood(
                noise_prior=LogNormalPrior(*noise_prior),
                noise_constraint=GreaterThan(min_noise),
            )
            self.noise_start = min(max(math.exp(noise_prior[0]), 10 * min_noise), 1e-2)
            self.likelihood.noise = self.noise_start

    def mu(self, z: Tensor) -> Tensor:
        """Prior mean of delta at normalised features ``z`` (``batch x n x d``) -> ``batch x n``."""
        if isinstance(self.mean, LinearMean):
            return self.mean(z[..., self.mean_dims])
        out = self.mean(z)
        return out.expand(z.shape[:-1])

    def rho(self, z: Tensor) -> Tensor:
        """rho_k at ``z`` (``batch x n x d``) -> ``batch x n``."""
        if self.rho_kind is None:
            return torch.ones(z.shape[:-1], dtype=z.dtype, device=z.device)
        out = self.rho_a.expand(z.shape[:-1])
        if self.rho_kind == "linear":
            out = out + z[..., self.rho_dims] @ self.rho_b
        return out

    def noise(self) -> Tensor | None:
        return self.likelihood.noise.squeeze(-1) if hasattr(self, "likelihood") else None

    def regressors(self, z: Tensor, mprev: Tensor | None) -> Tensor | None:
        """Columns that multiply the linear coefficients of the level's prior mean
        ``rho(x) m_{k-1}(x) + mu(x)`` (rho coefficients, then mean coefficients):
        ``batch x n x p``, or None when the level has no such coefficient."""
        cols: list[Tensor] = []
        if self.rho_kind is not None and mprev is not None:
            cols.append(mprev.unsqueeze(-1))
            if self.rho_kind == "linear":
                cols.append(mprev.unsqueeze(-1) * z[..., self.rho_dims])
        if isinstance(self.mean, (ConstantMean, LinearMean)):
            cols.append(torch.ones_like(z[..., :1]))
            if isinstance(self.mean, LinearMean):
                cols.append(z[..., self.mean_dims])
        return torch.cat(cols, dim=-1) if cols else None


#: mfgp's kernel factories by the name a configuration stores
KERNELS: dict[str, KernelFactory] = {"matern52": matern52_kernel, "se": se_kernel}


def _resolve_kernel(kernel: KernelFactory | str | None) -> tuple[KernelFactory, str]:
    """The factory and the configuration name of AR1's ``kernel`` argument."""
    if kernel is None:
        return matern52_kernel, "matern52"
    if isinstance(kernel, str):
        if kernel == "custom":
            raise InputDataError(
                "this model was saved with a custom kernel factory, which cannot be stored; "
                "pass it again: AR1MultiFidelityGP.load(path, kernel=fn)"
            )
        if kernel not in KERNELS:
            raise InputDataError(
                f"kernel must be a factory d -> Kernel or one of {sorted(KERNELS)}, got {kernel!r}"
            )
        return KERNELS[kernel], kernel
    if not callable(kernel):
        raise InputDataError(f"kernel must be callable (d -> Kernel), got {type(kernel).__name__}")
    name = next((n for n, f in KERNELS.items() if f is kernel), "custom")
    return kernel, name


@register_model("ar1")
class AR1MultiFidelityGP(ScaleUpModel, FantasizeMixin):
    r"""Kennedy-O'Hagan AR1 co-kriging GP for any number of fidelity levels.

    ``X`` is ``n x d`` with the fidelity index (0..L-1, 0 cheapest) as the last column, ``Y`` is
    ``n x 1``. **Indexing convention:** fidelity indices are the same with or without a level-0
    callable. Without ``level0``, level 0 is a GP fitted to the level-0 rows. With ``level0``,
    index 0 *is* the callable: rows with fidelity 0 are not needed (and are ignored with a
    warning), the data's level 1 is the first GP level (``f_1 = rho_1 * level0 + delta_1``), and
    ``posterior`` at fidelity 0 returns the callable's value with zero variance.

    Args:
        mode: ``"recursive"`` (Le Gratiet & Garnier, level by level) or ``"joint"`` (one exact GP
            with the KOH block covariance).
        joint_start: in ``joint`` mode, where the joint marginal-likelihood optimisation starts:
            ``"recursive"`` (default) from a recursive fit on every row (for a nested design
            that is already the joint optimum up to the noise approximation, so few joint
            steps remain), or ``"default"``, every level from its data-driven start (the
            textbook Kennedy & O'Hagan fit, all hyperparameters at once; a reference for
            benchmarks, slower).
        rho: ``"constant"`` per level or ``"linear"`` in the features ``rho_features``.
        rho_features: feature columns (0-based, fidelity excluded) of a linear rho; default
            ``[0]`` (``log10_volume_L``).
        delta_mean: mean of each delta GP: ``"constant"``, ``"linear"`` (in ``mean_features``)
            or ``"zero"``.
        mean_features: feature columns of a linear delta mean (default: all).
        noise: ``None`` (learned per level; or the per-row ``Yvar`` when given), a float (fixed
            variance for every level) or a list of per-level variances (length ``L``; the entry
            of a level-0 callable is ignored), in data units (log units if ``log_transform``).
            A per-row ``Yvar`` (third element of the data) is known noise in data units; with
            ``log_transform`` it is mapped to log units by the delta method, ``Yvar / Y**2``.
        log_transform: ``True``: model ``log Y`` (targets must be positive; the posterior and
            :meth:`predict` are log-normal). ``"auto"``: let the data choose, when every target
            (and a level-0 callable at the training rows) is positive: the fit fits both the
            identity and the log model (plug-in hyperparameters) and keeps the one with the larger
            :meth:`log_evidence`, which is in the units of the data (the Jacobian of the log
            included), as in Box & Cox (1964); with a non-positive value the identity is used.
            The choice and both evidences are recorded in ``metadata["log_transform"]``, the
            result in :attr:`log_transform_`.
        restarts: marginal-likelihood optimisations per fit (the first from a data-driven
            default: rho at the least-squares ratio; the others sample kernel and noise
            hyperparameters from their priors, rho stays at its least-squares start).
        maxiter: L-BFGS iterations per restart.
        level0: optional deterministic callable ``level0(X_feat) -> batch x n`` taking raw
            features ``batch x n x (d - 1)`` (not stored in the configuration: pass it again to
            :meth:`load`). An ``nn.Module`` is registered as a submodule so ``.to()`` moves it.
        noise_prior: ``(loc, scale)`` of the LogNormal prior of each learned level noise
            variance, in standardised units (outputs pooled-standardised).
        min_noise: lower bound of a learned noise variance, standardised units.
        trend_uncertainty: in ``recursive`` mode, add the posterior uncertainty of each level's
            trend coefficients (rho and the delta mean) to the predictive covariance, with a
            Normal(fitted value, ``trend_uncertainty``^2) prior per coefficient in standardised
            units (universal co-kriging; Le Gratiet & Garnier 2014 treat these coefficients
            as Bayesian too). Without it (``None``), rho and the mean are plug-in estimates and
            the bands ignore that, say, a rho slope in log V was learnt from two scales, which
            makes extrapolation to production scale overconfident. The mean is unchanged.
            A model fitted in joint mode uses plug-in values; conditioned and fantasy models
            of a recursive model (joint-mode copies, :meth:`as_joint`) keep the uncertainty.
        loo_variance: in ``recursive`` mode, after fitting each level, rescale its GP variance
            (outputscale and learned noise together: the mean is unchanged) so that its
            leave-one-out residuals have unit standardised variance (Bachoc 2013: the
            cross-validation estimate of the variance is more robust than maximum likelihood
            when the kernel is misspecified). On by default: on the test functions it moved
            the 95 % coverage of the default model into or near [0.90, 0.98] without moving
            the mean (``benchmarks/results/accuracy_test_functions.md``);
            :meth:`for_simulator` turns it off (with interpolating squared-exponential levels
            it made coverage worse on Branin and Park).
        nugget: what a level's noise variance (learned, fixed or per-row) stands for.
            ``"noise"`` (default): measurement noise, left out of the posterior of the
            response itself (add it with ``observation_noise=True``). ``"misfit"``: for a
            deterministic code, which has no measurement noise, a fitted nugget is the part of
            the code's output the GP's smooth kernel cannot follow, and that misfit persists at
            new inputs (Gramacy & Lee 2012; Andrianakis & Challenor 2012). The posterior then
            includes it at every point: level ``k``'s nugget is white in ``x`` and is carried
            up the levels by ``rho`` like ``delta_k``, so ``f_l(x)`` gets the variance
            ``sum_{k <= l} sigma_k^2 prod_{j=k+1..l} rho_j(x)^2``, correlated across levels at
            the same ``x``; ``observation_noise=True`` then adds nothing more (a run of the
            code returns ``f`` itself). :meth:`for_simulator` uses ``"misfit"``. A list gives
            one value per level (cheapest first; like ``noise``, the entry of a level-0
            callable may be left out), for cheap levels that are codes under a measured top
            level: ``["misfit", "misfit", "noise"]`` carries the codes' misfit into the
            posterior of every level while the measurements' noise stays noise.
        hyperparameter_samples: in ``recursive`` mode, ``S >= 2`` integrates over the kernel
            hyperparameters of each level instead of plugging in their fitted values: ``S``
            seeded draws per level from their posterior, stored with the model. The draws come
            from a random-walk Metropolis chain in GPyTorch's raw, unconstrained parameters
            (priors on the constrained values, with the Jacobian), started at the fitted values,
            whose step covariance is that of a Laplace approximation there (finite-difference
            Hessian, every direction's standard deviation capped at 1); 200 steps of burn-in,
            then every 25th state. The posterior is the equal-weight mixture of the ``S``
            draws' posteriors (the Bayesian predictive, as in BoTorch's fully Bayesian GPs),
            moment-matched by :meth:`posterior`: mean ``m = E_s[m_s]``, covariance ``E_s[C_s +
            (m_s - m)(m_s - m)^T]``; :meth:`predict` returns the mixture itself. Bands widen
            where the data leave the lengthscales uncertain (plug-in GPs are overconfident on
            small noise-free designs), and the mean follows the posterior mass where it lies
            away from the fitted (MAP) values, e.g. towards the long delta lengthscales of a
            nearly linear discrepancy. Costs ``200 + 25 S``
            likelihood evaluations per level at fit time and ``S`` posterior evaluations per
            call. Levels with more rows than ``fit_rows`` (1000 if None) keep their fitted
            values in every draw. Conditioned and fantasy models use the fitted values alone
            (their mean is the plug-in one, not the mixture's). 0 (default): plug-in.
        rho_slope_sd: with ``rho="linear"``, the standard deviation of a zero-mean Normal prior
            on each slope of rho (per unit of the [0, 1]-normalised feature, i.e. the change of
            rho across the data range). None (default): no prior. With few top-level scales
            (e.g. one lab and one pilot volume) a free slope is barely identified and can swing
            wildly between refits; a prior of about 0.5 keeps it to plausible changes.
        fit_rows: in ``recursive`` mode, a level with more rows than this fits its
            hyperparameters on a seeded random subset of ``fit_rows`` of its rows
            (subset-of-data estimation; the posterior still conditions on every row). Each
            marginal-likelihood evaluation costs ``O(n^3)`` time and ``O(d n^2)`` memory, so this
            keeps large cheap levels (thousands of simulator rows) tractable: one
            likelihood-and-gradient evaluation of an 8-D Matern-5/2 level takes about 8 s at
            6400 rows and 0.06 s at 1000 rows on 2 CPU cores.
            ``None``: always all rows. Joint mode always uses every row.
        exact_rows: in ``recursive`` mode, a level with more rows than this (typically a
            large simulator level) is conditioned on every row through ``inducing_points``
            inducing inputs (a seeded random subset of its rows; the deterministic training
            conditional of :mod:`mfgp.models.sparse_level`): ``O(n m^2)`` time and
            ``O(m^2)`` memory instead of ``O(n^3)`` and ``8 n^2`` bytes. The levels so
            conditioned are logged and reported by :meth:`fit_choices`. Such a model cannot
            be copied to joint mode (:meth:`as_joint`, conditioning, fantasies). None: every
            level exact.
        inducing_points: the inducing inputs of a level over ``exact_rows`` (default 1000).
        kernel: factory ``d -> Kernel`` for each delta, or the name of one of mfgp's:
            ``"matern52"`` (default: scaled Matern-5/2 ARD with priors for [0, 1] inputs,
            :func:`~mfgp.models.single_gp.matern52_kernel`) or ``"se"``
            (:func:`~mfgp.models.single_gp.se_kernel`). The configuration stores the name (so
            :meth:`load` rebuilds the same kernel), or ``"custom"`` for any other factory,
            which must then be passed again to :meth:`load`. A factory must return a fresh,
            equal kernel on every call: it is called for every level at every build (and for
            the candidate models of ``log_transform="auto"``).

    Priors (for normalised features and pooled-standardised outputs): lengthscale
    Gamma(3, 6), outputscale Gamma(2, 0.15) (default kernel), noise LogNormal(-4, 1) with a
    1e-6 floor; rho and the delta means have no prior.

    BoTorch support: :meth:`posterior` (mixed levels, full covariance, ``observation_noise``),
    :meth:`condition_on_observations` and ``fantasize`` (batched fantasies), hence
    ``qMultiFidelityKnowledgeGradient`` with a ``project`` to the top level, ``qLogNEI`` and
    ``optimize_acqf`` (fix the fidelity column with ``fixed_features``). Conditioned and
    fantasy models are always joint-mode models with the same hyperparameters (for a
    recursive model: the exact KOH conditioning given its hyperparameters, which equals the
    recursive posterior on nested, noise-free designs).

    Example:
        >>> import torch
        >>> x = torch.linspace(0, 1, 12, dtype=torch.float64).unsqueeze(-1)
        >>> lo = torch.cat([x, torch.zeros_like(x)], -1)
        >>> hi = torch.cat([x[::3], torch.ones_like(x[::3])], -1)
        >>> X = torch.cat([lo, hi])
        >>> Y = torch.cat([torch.sin(6 * x), 1.8 * torch.sin(6 * x[::3]) + 0.2])
        >>> m = AR1MultiFidelityGP(restarts=1, maxiter=50).fit((X, Y))
        >>> m.predict(hi).mean.shape
        torch.Size([4])
    """

    fit_options = ("restarts", "maxiter", "warm_start")

    multi_fidelity = True

    def __init__(
        self,
        *,
        mode: str = "recursive",
        rho: str = "constant",
        rho_features: Sequence[int] = (0,),
        delta_mean: str = "constant",
        mean_features: Sequence[int] | None = None,
        noise: float | Sequence[float] | None = None,
        log_transform: bool | str = False,
        restarts: int = 3,
        maxiter: int = 200,
        level0: Level0 | None = None,
        kernel: KernelFactory | str | None = None,
        noise_prior: Sequence[float] = (-4.0, 1.0),
        min_noise: float = 1e-6,
        fit_rows: int | None = 1000,
        exact_rows: int | None = 10000,
        inducing_points: int = 1000,
        rho_slope_sd: float | None = None,
        trend_uncertainty: float | None = 1.0,
        loo_variance: bool = True,
        joint_start: str = "recursive",
        hyperparameter_samples: int = 0,
        nugget: str | Sequence[str] = "noise",
    ) -> None:
        if mode not in ("recursive", "joint"):
            raise InputDataError(f"mode must be 'recursive' or 'joint', got {mode!r}")
        if rho not in ("constant", "linear"):
            raise InputDataError(f"rho must be 'constant' or 'linear', got {rho!r}")
        if delta_mean not in ("constant", "linear", "zero"):
            raise InputDataError(
                f"delta_mean must be 'constant', 'linear' or 'zero', got {delta_mean!r}"
            )
        nuggets = [nugget] if isinstance(nugget, str) else list(nugget)
        if not nuggets or any(v not in ("noise", "misfit") for v in nuggets):
            raise InputDataError(
                f"nugget must be 'noise', 'misfit' or a list of those per level, got {nugget!r}"
            )
        if joint_start not in ("recursive", "default"):
            raise InputDataError(
                f"joint_start must be 'recursive' or 'default', got {joint_start!r}"
            )
        if restarts < 1:
            raise InputDataError(f"restarts must be >= 1, got {restarts}")
        if int(hyperparameter_samples) < 0 or int(hyperparameter_samples) == 1:
            raise InputDataError(
                "hyperparameter_samples must be 0 (plug-in hyperparameters) or >= 2, got "
                f"{hyperparameter_samples}"
            )
        if maxiter < 0:
            raise InputDataError(f"maxiter must be >= 0, got {maxiter}")
        if log_transform != "auto" and not isinstance(log_transform, (bool, int)):
            raise InputDataError(
                f"log_transform must be True, False or 'auto', got {log_transform!r}"
            )
        if level0 is not None and not callable(level0):
            raise InputDataError("level0 must be a callable level0(X_feat) -> batch x n")
        if noise is not None and not isinstance(noise, (int, float)):
            noise = [float(v) for v in noise]
        noise_prior = [float(v) for v in noise_prior]
        if len(noise_prior) != 2 or not noise_prior[1] > 0:
            raise InputDataError(
                f"noise_prior must be (loc, scale) of a LogNormal with scale > 0, got {noise_prior}"
            )
        if not min_noise > 0:
            raise InputDataError(f"min_noise must be > 0, got {min_noise}")
        if trend_uncertainty is not None and not trend_uncertainty > 0:
            raise InputDataError(
                f"trend_uncertainty must be None or a prior sd > 0, got {trend_uncertainty}"
            )
        if rho_slope_sd is not None and not rho_slope_sd > 0:
            raise InputDataError(f"rho_slope_sd must be None or > 0, got {rho_slope_sd}")
        if fit_rows is not None and int(fit_rows) < 10:
            raise InputDataError(f"fit_rows must be None or >= 10, got {fit_rows}")
        if exact_rows is not None and int(exact_rows) < 10:
            raise InputDataError(f"exact_rows must be None or >= 10, got {exact_rows}")
        if int(inducing_points) < 10:
            raise InputDataError(f"inducing_points must be >= 10, got {inducing_points}")
        factory, kernel_name = _resolve_kernel(kernel)
        super().__init__(
            mode=mode,
            rho=rho,
            rho_features=[int(i) for i in rho_features],
            delta_mean=delta_mean,
            mean_features=None if mean_features is None else [int(i) for i in mean_features],
            noise=noise,
            log_transform=log_transform if log_transform == "auto" else bool(log_transform),
            restarts=int(restarts),
            maxiter=int(maxiter),
            fit_rows=None if fit_rows is None else int(fit_rows),
            exact_rows=None if exact_rows is None else int(exact_rows),
            inducing_points=int(inducing_points),
            rho_slope_sd=None if rho_slope_sd is None else float(rho_slope_sd),
            trend_uncertainty=None if trend_uncertainty is None else float(trend_uncertainty),
            loo_variance=bool(loo_variance),
            joint_start=joint_start,
            hyperparameter_samples=int(hyperparameter_samples),
            noise_prior=noise_prior,
            min_noise=float(min_noise),
            kernel=kernel_name,
            nugget=nugget if isinstance(nugget, str) else nuggets,
        )
        self.level0 = level0  # an nn.Module becomes a submodule (moved by .to())
        self._kernel_factory: KernelFactory = factory
        self._cond: list[tuple[Tensor, Tensor, Tensor | None]] = []
        # set by as_joint() on copies of a recursive model with trend uncertainty
        self._trend_state: list[dict[str, Tensor]] | None = None

    #: Settings of :meth:`for_simulator` (deterministic, smooth computer codes).
    SIMULATOR_SETTINGS: dict[str, Any] = {
        "noise_prior": (-12.0, 3.0),
        "min_noise": 1e-12,
        "loo_variance": False,
        "hyperparameter_samples": 32,
        "log_transform": "auto",
        "nugget": "misfit",
    }

    @classmethod
    def for_simulator(cls, **kwargs: Any) -> AR1MultiFidelityGP:
        """An AR1 model set up for deterministic, smooth simulators (noise-free levels).

        The defaults of the class target measured bioprocess data (Matern-5/2 deltas, a noise
        prior around 2 % of the output variance). For noise-free codes (analytic test
        functions, an ODE simulator at every level) this uses squared-exponential deltas
        (:func:`~mfgp.models.single_gp.se_kernel`) and a noise prior LogNormal(-12, 3) with a
        1e-12 floor, so the model can interpolate to round-off (the jitter ladder still guards
        the Cholesky factorisations), and integrates over the kernel hyperparameters with 32
        posterior draws per level (``hyperparameter_samples``): with interpolating
        squared-exponential levels, plug-in bands were too narrow on most test functions, and
        the mixture mean was more accurate than the plug-in one on 5 of 7
        (``benchmarks/results/accuracy_test_functions.md``). With positive outputs it lets the
        log evidence choose between modelling ``Y`` and ``log Y`` (``log_transform="auto"``):
        many codes' outputs are positive and multiplicative in their inputs (on the Borehole
        function the log model has about 100 nats more evidence and lower error). A nugget the
        fit still needs is misfit of the smooth kernel, not noise, so the posterior includes
        it (``nugget="misfit"``): on Borehole the discrepancy's outputscale often collapses
        and its misfit goes into the nugget, and leaving that out made the bands too narrow.
        Any argument overrides these settings.

        Example:
            >>> m = AR1MultiFidelityGP.for_simulator(restarts=1)
            >>> m.config["noise_prior"]
            [-12.0, 3.0]
        """
        opts: dict[str, Any] = {"kernel": "se", **cls.SIMULATOR_SETTINGS}
        opts.update(kwargs)
        return cls(**opts)

    # ----------------------------------------------------------------- building
    @property
    def likelihood(self) -> None:
        """No GPyTorch likelihood object: noise is per level (used by BoTorch's fantasize)."""
        return None

    @property
    def batch_shape(self) -> torch.Size:
        """Batch shape of the model (non-empty only for fantasy / conditioned models)."""
        shapes = [x.shape[:-2] for x, _, _ in self._cond] + [y.shape[:-1] for _, y, _ in self._cond]
        return torch.broadcast_shapes(*shapes) if shapes else torch.Size([])

    def memory_estimate(self, X: Tensor) -> tuple[int, int | None, int]:
        """Joint mode: one exact GP over every row; recursive mode: one per level, each
        hyperparameter draw holding its own factor (see the base class)."""
        if self.config["mode"] == "joint":
            return self._dense_need(X, None)
        top = int(X[:, -1].max().round())
        copies = DENSE_COPIES + int(self.config.get("hyperparameter_samples", 0))
        fid = X[:, -1].round().long()
        exact = [
            k
            for k in range(self.first_gp_level, top + 1)
            if not self._is_sparse(int((fid == k).sum()))
        ]
        return self._dense_need(X, exact, copies=copies)

    @property
    def first_gp_level(self) -> int:
        """Index of the lowest GP level: 1 with a level-0 callable, else 0."""
        return 1 if self.level0 is not None else 0

    @property
    def log_transform_(self) -> bool:
        """Whether the model works on ``log Y``: the ``log_transform`` option, or, when that is
        ``"auto"``, the fit's choice (``metadata["log_transform"]["selected"]``)."""
        opt = self.config["log_transform"]
        if opt != "auto":
            return bool(opt)
        sel = self.metadata.get("log_transform")
        if not isinstance(sel, dict) or "selected" not in sel:
            # not NotFittedError: an AttributeError raised in a property is masked by
            # nn.Module.__getattr__
            raise MFGPError(
                "log_transform='auto' is resolved by fit(); fit the model before using it"
            )
        return sel["selected"] == "log"

    def rho(self, X: Tensor) -> Tensor:
        """The fitted scale factor ``rho_k(x)`` of each row's own level ``k`` (1 at level 0).

        Args:
            X: ``batch x n x d`` inputs in data units, fidelity index last.

        Returns:
            ``batch x n`` values of ``rho_{level(x)}(x)``.
        """
        self._check_X(X)
        z, lev = self._z(X)
        out = torch.ones(lev.shape, dtype=X.dtype, device=X.device)
        with torch.no_grad():
            for k in range(1, self.n_fidelities_):
                out = torch.where(lev == k, self.levels_[str(k)].rho(z), out)
        return out

    def _build(self, X: Tensor, Y: Tensor, Yvar: Tensor | None) -> None:
        cfg = self.config
        d = X.shape[-1] - 1
        if d < 1:
            raise InputDataError("X needs at least one feature column before the fidelity index")
        if self.metadata.get("has_level0") and self.level0 is None:
            raise InputDataError(
                "this AR1 model was saved with a level-0 callable, which cannot be stored; pass "
                "it again: AR1MultiFidelityGP.load(path, level0=fn)"
            )
        self.metadata["has_level0"] = self.level0 is not None
        L, g0 = self.n_fidelities_, self.first_gp_level
        lev = X[:, -1].round().long()
        if g0 == 1 and bool((lev == 0).any()):
            warnings.warn(
                f"{int((lev == 0).sum())} rows have fidelity 0, which is given by the level0 "
                "callable; they are ignored",
                MFGPWarning,
                stacklevel=3,
            )
        used = lev >= g0
        for k in range(g0, L):
            if not bool((lev == k).any()):
                raise InputDataError(
                    f"fidelity level {k} has no rows: every GP level "
                    f"({g0}..{L - 1}) needs data; renumber the fidelities or drop the empty level"
                )
        for name in ("rho_features", "mean_features"):
            cols = cfg[name] if cfg[name] is not None else []
            bad = [c for c in cols if not 0 <= c < d]
            if bad:
                raise InputDataError(
                    f"{name} {bad} out of range: X has {d} feature columns (0..{d - 1}) before "
                    "the fidelity index"
                )
        Yt = Y
        if self.log_transform_:
            if bool((Y[used] <= 0).any()):
                raise InputDataError("log_transform=True needs Y > 0 in every row")
            Yt = Y.clamp_min(torch.finfo(Y.dtype).tiny).log()
        Xu, Yu = X[used, :-1], Yt[used, 0]
        lo, hi = Xu.min(0).values, Xu.max(0).values
        rng = hi - lo
        rng = torch.where(rng > 1e-12 * (1 + lo.abs()), rng, torch.ones_like(rng))
        y_mu = Yu.mean()
        y_sd = Yu.std() if Yu.numel() > 1 else torch.ones_like(y_mu)
        if not bool(y_sd > 1e-12 * (1 + y_mu.abs())):
            y_sd = torch.ones_like(y_mu)
        self.register_buffer("x_lo", lo.clone())
        self.register_buffer("x_rng", rng.clone())
        self.register_buffer("y_mu", y_mu.clone())
        self.register_buffer("y_sd", y_sd.clone())
        noise = cfg["noise"]
        learn = noise is None and Yvar is None
        fixed = torch.zeros(L, dtype=X.dtype)
        if noise is not None:
            vals = [float(noise)] * L if isinstance(noise, (int, float)) else list(noise)
            if len(vals) == L - g0 and g0 == 1:
                vals = [0.0, *vals]
            if len(vals) != L:
                raise InputDataError(
                    f"noise must be a float or a list of {L} per-level variances, got {len(vals)}"
                )
            if any(v < 0 for v in vals):
                raise InputDataError(f"noise variances must be >= 0, got {vals}")
            fixed = torch.tensor(vals, dtype=X.dtype) / y_sd.cpu() ** 2
        self.register_buffer("fixed_noise", fixed.to(X.device))
        self._misfit_levels()  # a per-level nugget list must match the levels
        mean_dims = cfg["mean_features"] if cfg["mean_features"] is not None else list(range(d))
        self.levels_ = nn.ModuleDict()
        for k in range(g0, L):
            self.levels_[str(k)] = _Level(
                kernel=self._kernel_factory(d),
                mean=cfg["delta_mean"],
                mean_dims=mean_dims,
                rho=cfg["rho"] if k >= 1 else None,
                rho_dims=cfg["rho_features"],
                learn_noise=learn,
                noise_prior=tuple(cfg.get("noise_prior", (-4.0, 1.0))),
                min_noise=cfg.get("min_noise", 1e-6),
                rho_slope_sd=cfg.get("rho_slope_sd"),
            )
            S = int(cfg.get("hyperparameter_samples", 0))
            if S:
                P = sum(p.numel() for p in self.levels_[str(k)].kernel.parameters())
                self.levels_[str(k)].register_buffer("hyper_samples", torch.zeros(S, P))
        self._cond = []
        self.to(device=X.device, dtype=X.dtype)

    # ------------------------------------------------------------ internal units
    def _z(self, X: Tensor) -> tuple[Tensor, Tensor]:
        """Normalised features ``batch x n x (d-1)`` and integer levels ``batch x n``."""
        return (X[..., :-1] - self.x_lo) / self.x_rng, X[..., -1].round().long()

    def _to_internal_y(self, Y: Tensor) -> Tensor:
        """Data-unit ``Y`` (``... x 1``) -> standardised (log) units ``...``."""
        Y = Y.squeeze(-1)
        if self.log_transform_:
            Y = Y.clamp_min(torch.finfo(Y.dtype).tiny).log()
        return (Y - self.y_mu) / self.y_sd

    def _f0(self, X: Tensor) -> Tensor:
        """Level-0 callable at ``X`` (``batch x n x d``), standardised -> ``batch x n``."""
        assert self.level0 is not None
        v = self.level0(X[..., :-1])
        if not isinstance(v, Tensor):
            v = torch.as_tensor(v, dtype=X.dtype, device=X.device)
        v = v.to(X)
        if v.shape == X.shape[:-1] + (1,):
            v = v.squeeze(-1)
        if v.shape != X.shape[:-1]:
            raise InputDataError(
                f"level0 must return a tensor of shape {tuple(X.shape[:-1])} for inputs of "
                f"shape {tuple(X[..., :-1].shape)}, got {tuple(v.shape)}"
            )
        if not bool(torch.isfinite(v).all()):
            raise InputDataError("level0 returned NaN or inf values; check its input domain")
        if self.log_transform_:
            if bool((v <= 0).any()):
                raise InputDataError("log_transform=True needs level0 to return values > 0")
            v = v.log()
        return (v - self.y_mu) / self.y_sd

    def _weights(self, z: Tensor, lev: Tensor) -> list[Tensor]:
        """``P_l(x) = prod_{m=l+1}^{lev(x)} rho_m(x)`` (0 for ``l > lev``), for l = 0..L-1."""
        L = self.n_fidelities_
        one = torch.ones(lev.shape, dtype=z.dtype, device=z.device)
        P: list[Tensor] = [one] * L
        P[L - 1] = (lev == L - 1).to(z.dtype)
        for level in range(L - 2, -1, -1):
            rho_next = self.levels_[str(level + 1)].rho(z)
            below = torch.where(lev > level, rho_next * P[level + 1], torch.zeros_like(one))
            P[level] = torch.where(lev == level, one, below)
        return P

    def _noise_per_level(self) -> Tensor:
        """Learned or fixed noise variance of each level (``L``, standardised units)."""
        vals = list(self.fixed_noise.unbind())
        for k in range(self.first_gp_level, self.n_fidelities_):
            nz = self.levels_[str(k)].noise()
            if nz is not None:
                vals[k] = nz.reshape(())
        return torch.stack(vals)

    def _level_noise(self) -> Tensor:
        """Noise variance (``L``, standardised units) of a *new* observation at each level: the
        level noise plus, with a per-row ``Yvar``, the level's mean ``Yvar``."""
        out = self._noise_per_level()
        if self.train_Yvar_ is not None:
            lev = self.train_X_[:, -1].round().long()
            yv = self._yvar_internal()
            extra = [
                yv[lev == k].mean() if k >= self.first_gp_level else yv.new_zeros(())
                for k in range(self.n_fidelities_)
            ]
            out = out + torch.stack(extra)
        return out

    def _yvar_internal(self) -> Tensor:
        """Per-row known noise of the training data in standardised units (``n``)."""
        yv = self.train_Yvar_.squeeze(-1)
        if self.log_transform_:
            yv = yv / self.train_Y_.squeeze(-1).clamp_min(torch.finfo(yv.dtype).tiny) ** 2
        return yv / self.y_sd**2

    def _train_rows(self) -> tuple[Tensor, Tensor, Tensor]:
        """Used training rows: raw ``X`` (``N x d``), standardised ``y`` (``N``), noise (``N``)."""
        lev = self.train_X_[:, -1].round().long()
        used = lev >= self.first_gp_level
        X, y = self.train_X_[used], self._to_internal_y(self.train_Y_[used])
        noise = self._noise_per_level()[lev[used]]
        if self.train_Yvar_ is not None:
            noise = noise + self._yvar_internal()[used]
        return X, y, noise

    # -------------------------------------------------------- prior and joint GP
    def _prior_mean(self, X: Tensor) -> Tensor:
        """KOH prior mean ``batch x n`` (standardised units) at ``X`` (``batch x n x d``)."""
        z, lev = self._z(X)
        P = self._weights(z, lev)
        out = torch.zeros(lev.shape, dtype=X.dtype, device=X.device)
        if self.level0 is not None:
            out = out + P[0] * self._f0(X)
        for k in range(self.first_gp_level, self.n_fidelities_):
            out = out + P[k] * self.levels_[str(k)].mu(z)
        return out

    def _prior_cov(self, X1: Tensor, X2: Tensor) -> Tensor:
        """KOH block covariance ``batch x n1 x n2`` between the levels of ``X1`` and ``X2``."""
        z1, lev1 = self._z(X1)
        z2, lev2 = self._z(X2)
        P1, P2 = self._weights(z1, lev1), self._weights(z2, lev2)
        out = None
        for k in range(self.first_gp_level, self.n_fidelities_):
            term = (
                P1[k].unsqueeze(-1)
                * P2[k].unsqueeze(-2)
                * _dense(self.levels_[str(k)].kernel, z1, z2)
            )
            out = term if out is None else out + term
        assert out is not None
        if self._trend_state is not None:
            for g1, g2 in zip(self._trend_rows(X1), self._trend_rows(X2), strict=True):
                out = out + g1 @ g2.transpose(-1, -2)
        return out

    def _trend_rows(self, X: Tensor) -> list[Tensor]:
        """For a joint-mode copy of a recursive model with trend uncertainty (see
        :meth:`as_joint`): per GP level ``k`` with trend coefficients, ``sd P_k(x) h_k(x)``
        (``batch x n x p_k``), where ``h_k`` are the level's regressors with the recursive
        posterior mean of level ``k - 1`` in place of ``f_{k-1}``, so that the joint prior
        covariance carries the same ``sd^2 h h'`` terms as the recursive posterior."""
        assert self._trend_state is not None
        sd = float(self.config["trend_uncertainty"])
        z, lev = self._z(X)
        P = self._weights(z, lev)
        m_below = self._f0(X) if self.level0 is not None else None
        rows: list[Tensor] = []
        for i, st in enumerate(self._trend_state):
            lvl = self.levels_[str(self.first_gp_level + i)]
            h = lvl.regressors(z, m_below)
            if h is not None:
                rows.append(sd * P[self.first_gp_level + i].unsqueeze(-1) * h)
            d_mean = lvl.mu(z) + _dense(lvl.kernel, z, st["z"]) @ st["alpha"]
            m_below = d_mean if m_below is None else lvl.rho(z) * m_below + d_mean
        return rows

    def _cond_data(self) -> tuple[Tensor, Tensor, Tensor] | None:
        """Conditioned observations (``None`` without), broadcast to the model batch shape."""
        if not self._cond:
            return None
        Xs, ys, ns = [], [], []
        level_noise = self._level_noise()
        for Xc, yc, nc in self._cond:
            Xs.append(Xc)
            ys.append(yc)
            ns.append(level_noise[Xc[..., -1].round().long()] if nc is None else nc)
        batch = torch.broadcast_shapes(
            *[x.shape[:-2] for x in Xs], *[v.shape[:-1] for v in ys], *[v.shape[:-1] for v in ns]
        )
        Xa = torch.cat([x.expand(*batch, *x.shape[-2:]) for x in Xs], dim=-2)
        ya = torch.cat([v.expand(*batch, v.shape[-1]) for v in ys], dim=-1)
        na = torch.cat([v.expand(*batch, v.shape[-1]) for v in ns], dim=-1)
        return Xa, ya, na

    def _joint_nll(self) -> Tensor:
        """Negative joint log marginal likelihood plus log priors, per observation."""
        X, y, noise = self._train_rows()
        K = self._prior_cov(X, X) + torch.diag_embed(noise)
        return gaussian_nll(K, y - self._prior_mean(X)) - _log_prior(self.levels_) / y.numel()

    def _joint_base(self) -> dict[str, Tensor]:
        """The training rows ``X0``, the jittered Cholesky factor ``L0`` of their KOH covariance
        and the whitened residual ``w0 = L0^-1 (y0 - m(X0))``; unbatched."""
        X0, y0, n0 = self._train_rows()
        L0 = jittered_cholesky(self._prior_cov(X0, X0) + torch.diag_embed(n0))
        r0 = (y0 - self._prior_mean(X0)).unsqueeze(-1)
        return {"X0": X0, "L0": L0, "w0": solve_lower(L0, r0)}

    def _joint_cond(self, base: dict[str, Tensor]) -> dict[str, Tensor] | None:
        """The conditioned rows' block of the factor of the joint covariance (``None`` without
        conditioned rows). With ``K`` the covariance of the training rows (factor ``L0``) and
        the conditioned rows ``c``, the factor of the whole is ``[[L0, 0], [B', C]]`` with
        ``B = L0^-1 K_0c`` and ``C C' = K_cc - B' B``, so a fantasy costs ``O(N^2 q)`` instead of
        a new ``O((N + q)^3)`` factorisation (written by hand: GPyTorch's fantasy updates
        assume its own ``ExactGP`` caches). Returns ``Xc``, ``B``, ``C`` and the whitened
        residual ``wc = C^-1 (y_c - m(X_c) - B' w0)``, at the conditioned rows' batch shape."""
        data = self._cond_data()
        if data is None:
            return None
        Xc, yc, nc = data
        # X0 unbatched: its per-row terms (weights, trend rows) are computed once
        B = solve_lower(base["L0"], self._prior_cov(base["X0"], Xc))
        S = self._prior_cov(Xc, Xc) + torch.diag_embed(nc) - B.transpose(-1, -2) @ B
        C = jittered_cholesky(S)
        rc = (yc - self._prior_mean(Xc)).unsqueeze(-1) - B.transpose(-1, -2) @ base["w0"]
        return {"Xc": Xc, "B": B, "C": C, "wc": solve_lower(C, rc)}

    def _joint_latent(self, X: Tensor) -> tuple[Tensor, Tensor]:
        """Exact KOH posterior mean ``batch x n`` and covariance ``batch x n x n``.

        The training rows are factorised once per parameter state (cached in eval mode, see
        :meth:`_cached`) and unbatched: a ``b x q x d`` query broadcasts against one factor,
        and conditioned (fantasy) rows add a block update (:meth:`_joint_cond`), cached too
        unless they carry gradients (fantasies at candidate points, as in knowledge gradient),
        which must flow."""
        base = self._joint_base() if self.training else self._cached_joint_base()
        cond_grad = any(t.requires_grad for obs in self._cond for t in obs if t is not None)
        if self.training or cond_grad:
            cond = self._joint_cond(base)
        else:
            cond = self._cached("_cond_cache", lambda: self._joint_cond(base))
        batch = (
            X.shape[:-2]
            if cond is None
            else torch.broadcast_shapes(X.shape[:-2], cond["Xc"].shape[:-2])
        )
        Xb = X.expand(*batch, *X.shape[-2:])
        K0 = self._prior_cov(base["X0"], Xb)  # unbatched X0: per-row terms computed once
        V0 = solve_lower(base["L0"], K0)
        mean = self._prior_mean(Xb) + (V0.transpose(-1, -2) @ base["w0"]).squeeze(-1)
        cov = self._prior_cov(X, X) - V0.transpose(-1, -2) @ V0
        if cond is not None:
            Kc = self._prior_cov(cond["Xc"].expand(*batch, *cond["Xc"].shape[-2:]), Xb)
            Vc = solve_lower(cond["C"], Kc - cond["B"].transpose(-1, -2) @ V0)
            mean = mean + (Vc.transpose(-1, -2) @ cond["wc"]).squeeze(-1)
            cov = cov - Vc.transpose(-1, -2) @ Vc
        return mean, cov

    # ------------------------------------------------------------ recursive GP
    def _level_terms(
        self, k: int, Xk: Tensor, yk: Tensor, nk: Tensor, mprev: Tensor | None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Prior residual ``r``, covariance ``A`` (with noise) of level ``k``'s own GP."""
        lvl = self.levels_[str(k)]
        z, _ = self._z(Xk)
        m = lvl.mu(z)
        if mprev is not None:
            m = m + lvl.rho(z) * mprev
        A = _dense(lvl.kernel, z, z) + torch.diag_embed(nk)
        return yk - m, A, z

    def _recursive_state(
        self, prefix: list[dict[str, Tensor]] | None = None
    ) -> list[dict[str, Tensor]]:
        """Per-level Cholesky factors and weights of the recursive co-kriging posterior;
        ``prefix``: the already computed states of the lowest levels (reused as they are)."""
        X, y, noise = self._train_rows()
        lev = X[:, -1].round().long()
        state: list[dict[str, Tensor]] = list(prefix or [])
        for k in range(self.first_gp_level + len(state), self.n_fidelities_):
            sel = lev == k
            Xk = X[sel]
            mprev = self._regressor(k, Xk, state)
            state.append(self._level_state(k, Xk, y[sel], noise[sel], mprev))
        return state

    def _level_state(
        self, k: int, Xk: Tensor, yk: Tensor, nk: Tensor, mprev: Tensor | None
    ) -> dict[str, Tensor]:
        """Normalised inputs ``z``, Cholesky factor ``L`` and weights ``alpha = A^-1 r`` of
        level ``k``'s GP."""
        if self._is_sparse(Xk.shape[0]):
            return self._sparse_level_state(k, Xk, yk, nk, mprev)
        r, A, z = self._level_terms(k, Xk, yk, nk, mprev)
        Lc = jittered_cholesky(A)
        alpha = torch.cholesky_solve(r.unsqueeze(-1), Lc).squeeze(-1)
        state = {"z": z, "L": Lc, "alpha": alpha}
        sd = self.config.get("trend_uncertainty")
        H = self.levels_[str(k)].regressors(z, mprev) if sd is not None else None
        if H is not None:
            # Gaussian posterior of the trend coefficients given the level's GP:
            # precision H' A^-1 H + I / sd^2 (O'Hagan 1978; Le Gratiet & Garnier 2014, sec. 3)
            AinvH = torch.cholesky_solve(H, Lc)
            eye = torch.eye(H.shape[-1], dtype=H.dtype, device=H.device)
            G = H.transpose(-1, -2) @ AinvH + eye / sd**2
            state["AinvH"] = AinvH
            state["G_L"] = torch.linalg.cholesky(G)
        return state

    def _is_sparse(self, n_rows: int) -> bool:
        """Whether a level of ``n_rows`` rows is conditioned through inducing inputs."""
        cap = self.config.get("exact_rows")
        return self.config["mode"] == "recursive" and cap is not None and n_rows > cap

    def _sparse_level_state(
        self, k: int, Xk: Tensor, yk: Tensor, nk: Tensor, mprev: Tensor | None
    ) -> dict[str, Tensor]:
        """:meth:`_level_state` of a level over ``exact_rows`` rows (see ``exact_rows``)."""
        lvl = self.levels_[str(k)]
        z, _ = self._z(Xk)
        mean = lvl.mu(z)
        if mprev is not None:
            mean = mean + lvl.rho(z) * mprev
        sd = self.config.get("trend_uncertainty")
        H = lvl.regressors(z, mprev) if sd is not None else None
        idx = inducing_rows(Xk.shape[0], self.config["inducing_points"], seed=7 + k)
        return dtc_state(lvl.kernel, z, yk - mean, nk, idx.to(z.device), H, sd)

    def _regressor(self, k: int, Xk: Tensor, state: list[dict[str, Tensor]]) -> Tensor | None:
        """Posterior mean of level ``k - 1`` at ``Xk`` (None for the lowest GP level 0)."""
        if k == 0:
            return None
        Xp = Xk.clone()
        Xp[..., -1] = k - 1
        if k == self.first_gp_level:
            return self._f0(Xp)
        return self._recursive_latent(Xp, state, with_cov=False)[0]

    def _recursive_latent(
        self, X: Tensor, state: list[dict[str, Tensor]], *, with_cov: bool = True
    ) -> tuple[Tensor, Tensor | None]:
        """Recursive co-kriging mean ``batch x n`` and covariance ``batch x n x n``."""
        z, lev = self._z(X)
        P = self._weights(z, lev)
        mean = torch.zeros(lev.shape, dtype=X.dtype, device=X.device)
        cov = None
        m_below: Tensor | None = None  # posterior mean of level k - 1 at X (for the regressors)
        if self.level0 is not None:
            m_below = self._f0(X)
            mean = mean + P[0] * m_below
        for i, st in enumerate(state):
            k = self.first_gp_level + i
            lvl = self.levels_[str(k)]
            Kxs = _dense(lvl.kernel, z, st["z"])  # batch x n x n_k
            d_mean = lvl.mu(z) + Kxs @ st["alpha"]
            mean = mean + P[k] * d_mean
            if with_cov:
                V = solve_lower(st["L"], Kxs.transpose(-1, -2))
                S = _dense(lvl.kernel, z, z) - V.transpose(-1, -2) @ V
                if "LB" in st:  # a level conditioned through inducing inputs (DTC)
                    W = solve_lower(st["LB"], V)
                    S = S + W.transpose(-1, -2) @ W
                if "G_L" in st:
                    h = lvl.regressors(z, m_below)
                    assert h is not None
                    U = h - Kxs @ st["AinvH"]  # batch x n x p
                    W = solve_lower(st["G_L"], U.transpose(-1, -2))
                    S = S + W.transpose(-1, -2) @ W
                term = P[k].unsqueeze(-1) * P[k].unsqueeze(-2) * S
                cov = term if cov is None else cov + term
            m_below = d_mean if m_below is None else lvl.rho(z) * m_below + d_mean
        if with_cov and cov is None:
            cov = torch.zeros(*lev.shape, lev.shape[-1], dtype=X.dtype, device=X.device)
        return mean, cov

    # ------------------------------------------------------------------ fitting
    def fit(self, data: Any, *, seed: int | None = 0, **options: Any) -> AR1MultiFidelityGP:
        """Fit the model (see :meth:`ScaleUpModel.fit`); with ``log_transform="auto"`` first
        choose the output transform (see the class docstring)."""
        if self.config["log_transform"] != "auto":
            self.metadata.pop("log_transform", None)
            return super().fit(data, seed=seed, **options)
        winner = self._select_log_transform(data, seed, options)
        if winner is None:  # only the identity is possible: nothing to compare
            return super().fit(data, seed=seed, **options)
        # the winner's fitted hyperparameters, unchanged (maxiter=0); leave-one-out rescaling
        # and hyperparameter draws follow as in any fit, so the result equals fitting with
        # log_transform set to the selected value (up to round-off with loo_variance: a
        # direct fit rescales a level before fitting the next, which leaves its mean unchanged
        # in exact arithmetic)
        opts = {**options, "warm_start": winner, "restarts": 1, "maxiter": 0}
        return super().fit(data, seed=seed, **opts)

    def _select_log_transform(
        self, data: Any, seed: int | None, options: dict[str, Any]
    ) -> AR1MultiFidelityGP | None:
        """Fit the identity and the log model with plug-in hyperparameters and record the
        choice in ``metadata["log_transform"]``; returns the fitted winner, or ``None`` when a
        non-positive target or level-0 value rules out the log (the identity is then used)."""
        X, Y, _ = as_training_tensors(data)
        used = X[:, -1].round().long() >= (1 if self.level0 is not None else 0)
        positive = bool((Y[used] > 0).all())
        if positive and self.level0 is not None:
            with torch.no_grad():
                v = self.level0(X[used, :-1])
            v = torch.as_tensor(v)
            positive = bool(torch.isfinite(v).all()) and bool((v > 0).all())
        if not positive:
            self.metadata["log_transform"] = {
                "option": "auto",
                "selected": "identity",
                "reason": "a target or level-0 value is not positive",
            }
            log.info("log_transform='auto': identity (a target or level-0 value is <= 0)")
            return None
        init = set(init_option_names(AR1MultiFidelityGP))
        base = {k: v for k, v in self.config.items() if k in init and k != "kernel"}
        base.update(loo_variance=False, hyperparameter_samples=0)
        fitted: dict[str, AR1MultiFidelityGP] = {}
        evidence: dict[str, float] = {}
        errors: dict[str, Exception] = {}
        for name in ("identity", "log"):
            cand = AR1MultiFidelityGP(
                **{**base, "log_transform": name == "log"},
                level0=self.level0,
                kernel=self._kernel_factory,
            )
            try:
                cand.fit(data, seed=seed, **options)
                evidence[name] = cand.log_evidence()
            except (MFGPError, NotPSDError) as err:
                errors[name] = err
                continue
            fitted[name] = cand
        if not fitted:
            raise errors["identity"]
        best = max(fitted, key=lambda n: evidence[n])
        self.metadata["log_transform"] = {
            "option": "auto",
            "selected": best,
            "log_evidence": evidence,
            **({"errors": {k: str(v) for k, v in errors.items()}} if errors else {}),
        }
        log.info(
            "log_transform='auto': %s (log evidence in data units: %s)",
            best,
            ", ".join(f"{k} {v:.2f}" for k, v in evidence.items()),
        )
        return fitted[best]

    def fit_choices(self) -> dict[str, Any]:
        """``{"log_transform": "identity" | "log"}`` when ``log_transform="auto"`` (see
        :meth:`ScaleUpModel.fit_choices`), and ``{"inducing_levels": {level: {"rows": n,
        "inducing": m}}}`` for levels conditioned through inducing inputs (``exact_rows``)."""
        out = super().fit_choices()
        sel = self.metadata.get("log_transform")
        if isinstance(sel, dict) and "selected" in sel:
            out["log_transform"] = sel["selected"]
        if self.metadata.get("sparse_levels"):
            out["inducing_levels"] = dict(self.metadata["sparse_levels"])
        return out

    def log_evidence(self) -> float:
        """Log marginal likelihood of the training data at the fitted hyperparameters plus
        their log prior density, in the units of the data.

        This is the objective the fit maximises, evaluated over every training row: in
        ``recursive`` mode the sum of the levels' terms (the joint value for a nested,
        noise-free design), in ``joint`` mode the joint one. It includes the Jacobian of the
        output standardisation and, with a log transform, of the log (``-sum log y``), so that
        models of the same data with different output transforms can be compared (Box & Cox
        1964). With hyperparameter draws it is evaluated at the fitted (MAP) values.

        Returns:
            The log evidence (a float; larger is better).
        """
        self._check_fitted()
        X, y, noise = self._train_rows()
        with torch.no_grad():
            if self.config["mode"] == "joint":
                total = -float(self._joint_nll()) * y.numel()
            else:
                lev = X[:, -1].round().long()
                state = self._cached_recursive_state()  # reused by later posterior calls
                total = 0.0
                for i, k in enumerate(range(self.first_gp_level, self.n_fidelities_)):
                    sel = lev == k
                    Xk, yk, nk = X[sel], y[sel], noise[sel]
                    mprev = self._regressor(k, Xk, state[:i])
                    scale = 1.0
                    if self._is_sparse(Xk.shape[0]):
                        # a level over exact_rows: its term estimated from a seeded subset
                        sub = inducing_rows(Xk.shape[0], self.config["fit_rows"] or 1000, seed=k)
                        sub = sub.to(X.device)
                        scale = Xk.shape[0] / sub.numel()
                        Xk, yk, nk = Xk[sub], yk[sub], nk[sub]
                        mprev = None if mprev is None else mprev[sub]
                    total -= scale * float(self._level_nlp(k, Xk, yk, nk, mprev)())
            total -= y.numel() * math.log(float(self.y_sd))
            if self.log_transform_:
                used = self.train_X_[:, -1].round().long() >= self.first_gp_level
                total -= float(self.train_Y_[used].log().sum())
        return total

    def _optimize(self, *, seed: int | None, **options: Any) -> None:
        """Options: ``restarts``, ``maxiter`` (override the configuration) and ``warm_start``, a
        fitted AR1 model with the same levels and configuration (typically the previous round
        of a sequential design) whose hyperparameters start the first restart of every level
        instead of the data-driven default; the later restarts still sample from the priors."""
        restarts = int(options.get("restarts", self.config["restarts"]))
        maxiter = int(options.get("maxiter", self.config["maxiter"]))
        warm = options.get("warm_start")
        if warm is not None:
            self._check_warm_start(warm)
        X, y, _ = self._train_rows()
        lev = X[:, -1].round().long()
        state: list[dict[str, Tensor]] = []
        # joint mode pays O((sum n_k)^3) per step anyway: its recursive start uses every row,
        # which leaves the joint optimisation far fewer steps than a subset start would
        joint = self.config["mode"] == "joint"
        fit_rows = None if joint else self.config.get("fit_rows")
        # joint_start="default": the textbook joint fit, every level from its data-driven start
        cold = joint and self.config.get("joint_start", "recursive") == "default"
        sparse: dict[str, dict[str, int]] = {}
        for k in range(self.first_gp_level, self.n_fidelities_):
            sel = lev == k
            Xk, yk = X[sel], y[sel]
            with torch.no_grad():
                mprev = self._regressor(k, Xk, state)
            self._init_level(k, Xk, yk, mprev)
            lvl = self.levels_[str(k)]
            if warm is not None:  # parameters only (buffers such as hyperparameter draws differ)
                params = dict(warm.levels_[str(k)].named_parameters())
                lvl.load_state_dict({n: p.detach() for n, p in params.items()}, strict=False)
            sub = torch.arange(Xk.shape[0], device=X.device)
            if fit_rows is not None and Xk.shape[0] > fit_rows:
                gen = torch.Generator().manual_seed(1000 * (0 if seed is None else seed) + k)
                sub = torch.randperm(Xk.shape[0], generator=gen)[:fit_rows].sort().values
                sub = sub.to(X.device)
                log.info(
                    "level %d: hyperparameters from %d of its %d rows (fit_rows)",
                    k,
                    fit_rows,
                    Xk.shape[0],
                )
            Xs, ys = Xk[sub], yk[sub]
            mps = None if mprev is None else mprev[sub]

            def loss_fn(
                k: int = k, Xs: Tensor = Xs, ys: Tensor = ys, mp: Tensor | None = mps, sub=sub
            ) -> Tensor:
                _, _, noise = self._train_rows()
                r, A, _ = self._level_terms(k, Xs, ys, noise[lev == k][sub], mp)
                return gaussian_nll(A, r) - _log_prior(self.levels_[str(k)]) / ys.numel()

            if cold:  # the start's value only; the joint optimisation below fits the level
                self._restarts(lvl, loss_fn, 1, 0, f"level {k}")
            else:
                self._restarts(lvl, loss_fn, restarts, maxiter, f"level {k}")
            with torch.no_grad():
                _, _, noise = self._train_rows()
                st = self._level_state(k, Xk, yk, noise[sel], mprev)
                # joint mode: the joint fit that follows would undo the rescaling
                if not joint and self.config.get("loo_variance") and self._loo_rescale(k, st):
                    _, _, noise = self._train_rows()
                    st = self._level_state(k, Xk, yk, noise[sel], mprev)
                state.append(st)
            if "n_rows" in st:
                m = int(st["alpha"].shape[-1])
                sparse[str(k)] = {"rows": int(Xk.shape[0]), "inducing": m}
                log.info(
                    "level %d: %d rows, conditioned through %d inducing inputs (exact_rows)",
                    k,
                    Xk.shape[0],
                    m,
                )
            if k >= 1:
                self._check_rho_sign(k, Xk, yk, mprev)
        self.metadata["sparse_levels"] = sparse
        if joint:
            with torch.no_grad():
                z = self._z(X)[0]
                before = {k: lv.rho(z).mean() for k, lv in self.levels_.items() if int(k) >= 1}
            self._restarts(self.levels_, self._joint_nll, restarts, maxiter, "joint model")
            with torch.no_grad():
                for k, rho0 in before.items():
                    rho = self.levels_[k].rho(z).mean()
                    if bool(rho * rho0 < 0):
                        warnings.warn(
                            f"level {k}: the joint fit flipped the sign of rho "
                            f"({float(rho0):.3g} -> {float(rho):.3g}); check the data",
                            NumericalWarning,
                            stacklevel=3,
                        )
        if not joint and self.config.get("hyperparameter_samples", 0):
            self._sample_hyperparameters(seed)
        self.eval()
        if not joint and not self.config.get("hyperparameter_samples", 0):
            # the factors just computed are the posterior's: keep them (a level conditioned
            # through inducing inputs costs seconds to rebuild at 100,000 rows)
            self._seed_cache("_state_cache", state)

    def _sample_hyperparameters(self, seed: int | None) -> None:
        """Draw ``hyperparameter_samples`` raw kernel-parameter vectors per level from their
        posterior (see the class docstring and :mod:`mfgp.models.hyper_mcmc`). A level whose
        Hessian or likelihood cannot be evaluated keeps plug-in values."""
        S = int(self.config["hyperparameter_samples"])
        cap = self.config.get("fit_rows") or 1000
        gen = torch.Generator().manual_seed(7919 * (0 if seed is None else seed) + 17)
        X, y, noise = self._train_rows()
        lev = X[:, -1].round().long()
        with torch.no_grad():
            state = self._recursive_state()
        for i, k in enumerate(range(self.first_gp_level, self.n_fidelities_)):
            lvl = self.levels_[str(k)]
            sel = lev == k
            if not list(lvl.kernel.parameters()):  # a kernel without parameters has no draws
                continue
            if int(sel.sum()) > cap:
                lvl.hyper_samples.copy_(flat_params(lvl.kernel).expand_as(lvl.hyper_samples))
                continue
            Xk, yk, nk = X[sel], y[sel], noise[sel]
            with torch.no_grad():
                mprev = self._regressor(k, Xk, state[:i])
            draws = sample_level(
                lvl.kernel, self._level_nlp(k, Xk, yk, nk, mprev), S, gen, name=f"level {k}"
            )
            lvl.hyper_samples.copy_(draws)

    def _level_nlp(
        self, k: int, Xk: Tensor, yk: Tensor, nk: Tensor, mprev: Tensor | None
    ) -> Callable[[], Tensor]:
        """Level ``k``'s negative log posterior (likelihood of its ``Xk`` rows plus log priors)
        at its current kernel parameters, as a callable for :mod:`mfgp.models.hyper_mcmc`."""
        lvl = self.levels_[str(k)]

        def nlp() -> Tensor:
            r, A, _ = self._level_terms(k, Xk, yk, nk, mprev)
            return r.shape[-1] * gaussian_nll(A, r) - _log_prior(lvl)

        return nlp

    def _hyper_shadows(self) -> list[tuple[AR1MultiFidelityGP, list[dict[str, Tensor]]]]:
        """Copies of this model whose kernels hold the hyperparameter draws, with their
        recursive states (cached like the recursive state); empty without draws, in training
        mode or for joint-mode models. The lowest levels whose draws all equal the fitted
        values (levels over ``fit_rows``, typically a large simulator level 0) share this
        model's factors instead of holding ``S`` copies of them."""
        S = int(self.config.get("hyperparameter_samples", 0))
        if not S or self.training or self.config["mode"] == "joint" or self._cond:
            return []
        if not getattr(self, "fitted_", False):
            return []
        return self._cached("_shadow_cache", self._build_shadows)

    def _build_shadows(self) -> list[tuple[AR1MultiFidelityGP, list[dict[str, Tensor]]]]:
        """Build what :meth:`_hyper_shadows` caches."""
        S = int(self.config["hyperparameter_samples"])
        saved = {n: self.__dict__.pop(n) for n in _CACHES if n in self.__dict__}
        try:
            base = copy.deepcopy(self)
        finally:
            self.__dict__.update(saved)
        base.config["hyperparameter_samples"] = 0
        shared = 0  # lowest levels without draws of their own
        for k in range(self.first_gp_level, self.n_fidelities_):
            lvl = self.levels_[str(k)]
            if not bool((lvl.hyper_samples == flat_params(lvl.kernel)).all()):
                break
            shared += 1
        prefix = self._cached_recursive_state()[:shared]
        shadows = []
        for s_ in range(S):
            sh = copy.deepcopy(base)
            for k, lvl in sh.levels_.items():
                set_params(lvl.kernel, self.levels_[k].hyper_samples[s_])
            sh.eval()
            shadows.append((sh, sh._recursive_state(prefix)))
        return shadows

    def _loo_rescale(self, k: int, st: dict[str, Tensor]) -> bool:
        """Rescale level ``k``'s GP variance (outputscale and learned noise together, so the
        mean does not move) so that its leave-one-out residuals have unit standardised
        variance: ``s2 = mean_i alpha_i^2 / [A^-1]_ii`` (Bachoc 2013, cross-validation estimate
        of the variance parameter). Returns whether it changed anything: skipped for a level
        without an outputscale, with fixed or per-row noise, or with over 4000 rows."""
        lvl = self.levels_[str(k)]
        kern = lvl.kernel
        n = st["alpha"].shape[-1]
        if "n_rows" in st:  # conditioned through inducing inputs: no exact LOO residuals
            return False
        if not hasattr(kern, "outputscale") or not hasattr(lvl, "likelihood") or n > 4000:
            return False
        if self.train_Yvar_ is not None or n < 3:
            return False
        floor = float(lvl.likelihood.noise_covar.raw_noise_constraint.lower_bound)
        s2 = loo_variance_scale(st["L"], st["alpha"], lvl.likelihood.noise, floor)
        kern.outputscale = kern.outputscale * s2
        lvl.likelihood.noise = lvl.likelihood.noise * s2
        log.debug("level %d: leave-one-out variance scale %.3g", k, s2)
        return True

    def _check_warm_start(self, warm: Any) -> None:
        """``warm`` must be a fitted AR1 model whose levels have this model's parameters."""
        if not isinstance(warm, AR1MultiFidelityGP) or not getattr(warm, "fitted_", False):
            raise InputDataError("warm_start must be a fitted AR1MultiFidelityGP")
        mine = {k: tuple(v.shape) for k, v in self.levels_.named_parameters()}
        theirs = {k: tuple(v.shape) for k, v in warm.levels_.named_parameters()}
        if mine != theirs:
            raise InputDataError(
                "warm_start has different levels or parameters (another number of fidelities, "
                "features, rho or mean setting); fit it with the same configuration"
            )

    def _init_level(self, k: int, Xk: Tensor, yk: Tensor, mprev: Tensor | None) -> None:
        """Data-driven default start: rho at the least-squares ratio, mean and outputscale from
        the residual of the regression of level ``k`` on level ``k - 1``."""
        lvl = self.levels_[str(k)]
        with torch.no_grad():
            resid = yk
            if mprev is not None:
                mc = mprev - mprev.mean()
                var = (mc * mc).sum()
                rho0 = (mc * (yk - yk.mean())).sum() / var if var > 1e-12 else yk.new_tensor(1.0)
                if not bool(torch.isfinite(rho0)):
                    rho0 = yk.new_tensor(1.0)
                lvl.rho_a.fill_(rho0)
                if hasattr(lvl, "rho_b"):
                    lvl.rho_b.zero_()
                resid = yk - rho0 * mprev
            if isinstance(lvl.mean, ConstantMean):
                lvl.mean.constant.fill_(resid.mean())
            elif isinstance(lvl.mean, LinearMean):
                lvl.mean.weights.zero_()
                lvl.mean.bias.fill_(resid.mean())
            kern = lvl.kernel
            if hasattr(kern, "outputscale"):
                v = resid.var() if resid.numel() > 1 else resid.new_tensor(1.0)
                kern.outputscale = v.clamp(1e-2, 4.0)
            if hasattr(kern, "base_kernel") and hasattr(kern.base_kernel, "lengthscale"):
                kern.base_kernel.lengthscale = 0.3
            if hasattr(lvl, "likelihood"):
                lvl.likelihood.noise = lvl.noise_start

    def _check_rho_sign(self, k: int, Xk: Tensor, yk: Tensor, mprev: Tensor | None) -> None:
        lvl = self.levels_[str(k)]
        if mprev is None:
            return
        with torch.no_grad():
            mc = mprev - mprev.mean()
            ls = (mc * (yk - yk.mean())).sum()
            rho = lvl.rho(self._z(Xk)[0]).mean()
        if bool(ls * rho < 0):
            warnings.warn(
                f"level {k}: fitted rho ({float(rho):.3g}) has the opposite sign of the "
                "least-squares ratio of the levels; check the data or use more restarts",
                NumericalWarning,
                stacklevel=4,
            )

    def _restarts(
        self,
        module: nn.Module,
        loss_fn: Callable[[], Tensor],
        restarts: int,
        maxiter: int,
        what: str,
    ) -> None:
        """Minimise ``loss_fn`` over ``module``'s parameters from ``restarts`` starts; keep the
        best; raise :class:`ModelFittingError` when every start fails."""
        start = {k: v.detach().clone() for k, v in module.state_dict().items()}
        rho_names = [
            n for n, _ in module.named_parameters() if n.rsplit(".", 1)[-1].startswith("rho_")
        ]
        params = [p for p in module.parameters() if p.requires_grad]
        best_loss, best_state, last_err = math.inf, None, None
        module.train()
        for r in progress.steps(range(restarts), desc=f"ar1 {what}: restarts", leave=False):
            module.load_state_dict(start)
            if r > 0:
                for gm in _gp_modules(module):
                    sample_all_priors(gm)
                # keep rho at its least-squares start: restarts must not flip its sign
                with torch.no_grad():
                    for n, p in module.named_parameters():
                        if n in rho_names:
                            p.copy_(start[n])
            try:
                loss = self._lbfgs(params, loss_fn, maxiter)
            except (NotPSDError, RuntimeError, ValueError) as err:
                last_err = err
                warnings.warn(f"{what}: restart {r} failed: {err}", NumericalWarning, stacklevel=3)
                continue
            log.debug("%s: restart %d: loss %.5f", what, r, loss)
            if math.isfinite(loss) and loss < best_loss:
                best_loss = loss
                best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
        if best_state is None:
            raise ModelFittingError(
                f"AR1 fit of the {what} failed in all {restarts} restarts (last error: "
                f"{last_err}); the covariance was not positive definite even with the largest "
                "jitter. Remove duplicated inputs with conflicting outputs, fix the noise to a "
                "larger value (noise=...), use float64, or rescale the target"
            ) from last_err
        module.load_state_dict(best_state)

    @staticmethod
    def _lbfgs(params: list[nn.Parameter], loss_fn: Callable[[], Tensor], maxiter: int) -> float:
        """Run L-BFGS (strong Wolfe line search); returns the final loss."""
        if maxiter > 0 and params:
            opt = torch.optim.LBFGS(params, lr=1.0, max_iter=maxiter, line_search_fn="strong_wolfe")

            def closure() -> Tensor:
                opt.zero_grad()
                loss = loss_fn()
                if not bool(torch.isfinite(loss)):
                    raise ValueError("the marginal likelihood is not finite")
                loss.backward()
                return loss

            opt.step(closure)
        with torch.no_grad():
            return float(loss_fn())

    # --------------------------------------------------------------- posterior
    def _latent(self, X: Tensor) -> tuple[Tensor, Tensor]:
        """Latent mean ``batch x n`` and covariance ``batch x n x n``, standardised units."""
        if self.config["mode"] == "joint" or self._cond:
            return self._joint_latent(X)
        shadows = self._hyper_shadows()
        if not shadows:
            mean, cov = self._recursive_latent(X, self._cached_recursive_state())
            assert cov is not None
            return mean, cov
        # equal-weight mixture over the hyperparameter draws, moment-matched
        return mixture_moments([sh._recursive_latent(X, st) for sh, st in shadows])

    def _state_tensors(self, cond: bool = True) -> list[Tensor]:
        """Every tensor a cached posterior state depends on (``cond=False``: leaving out the
        conditioned observations, for states of the training rows alone)."""
        tensors = [*self.parameters(), *self.buffers(), self.train_X_, self.train_Y_]
        if self.train_Yvar_ is not None:
            tensors.append(self.train_Yvar_)
        for st in self._trend_state or []:
            tensors.extend(st.values())
        for obs in self._cond if cond else []:
            tensors.extend(t for t in obs if t is not None)
        return tensors

    def _cached_recursive_state(self) -> list[dict[str, Tensor]]:
        """:meth:`_recursive_state`, cached in eval mode until a parameter, buffer or the
        training data change (keyed on the tensors' in-place version counters), so that an
        acquisition optimiser calling :meth:`posterior` many times factorises each level once.
        The cached factors carry no gradient to the hyperparameters (only to ``X``)."""
        if self.training:
            return self._recursive_state()
        return self._cached("_state_cache", self._recursive_state)

    def _cached(self, name: str, build: Callable[[], Any], *, cond: bool = True) -> Any:
        """``build()``, kept in ``self.__dict__[name]`` until a parameter, buffer, the training
        data or (with ``cond``) a conditioned observation change (keyed on the tensors' ids and
        in-place version counters)."""
        with torch.no_grad():
            return self._cache_lookup(name, self._state_tensors(cond), build)

    def _seed_cache(self, name: str, value: Any, *, cond: bool = True) -> None:
        """Store ``value`` as :meth:`_cached`'s entry ``name`` for the current tensors."""
        self._cache_store(name, self._state_tensors(cond), value)

    def _cached_joint_base(self) -> dict[str, Tensor]:
        """:meth:`_joint_base`, cached (it does not depend on conditioned observations)."""
        return self._cached("_joint_cache", self._joint_base, cond=False)

    def _internal_posterior(
        self, X: Tensor, observation_noise: bool | Tensor, *, diagonal: bool = False
    ) -> tuple[Tensor, Tensor]:
        """Mean and covariance of the (log-)response in data (log) units.

        With ``diagonal``, the latent covariance is reduced to its diagonal, floored at 0,
        before the nugget and noise terms are added (for :meth:`predict`): a latent variance
        computed as prior minus explained variance can come out slightly negative by round-off
        where the data pin it down, and flooring the sum instead would also remove the
        misfit nugget that belongs there.
        """
        return self._observed(X, *self._latent(X), observation_noise, diagonal=diagonal)

    def _observed(
        self,
        X: Tensor,
        mean: Tensor,
        cov: Tensor,
        observation_noise: bool | Tensor,
        *,
        diagonal: bool = False,
    ) -> tuple[Tensor, Tensor]:
        """:meth:`_internal_posterior` from the latent ``mean`` and ``cov`` (standardised
        units): misfit nugget and observation noise added, in data (log) units."""
        if diagonal:
            cov = torch.diag_embed(cov.diagonal(dim1=-2, dim2=-1).clamp_min(0))
        misfit = self._misfit_levels()
        if any(misfit):
            cov = cov + self._misfit_cov(X, misfit)
        if isinstance(observation_noise, Tensor):
            nz = observation_noise.squeeze(-1).to(cov)
            cov = cov + torch.diag_embed(nz.expand(cov.shape[:-1]))
        elif observation_noise:  # the noise of the "noise" levels only
            keep = torch.tensor([not m for m in misfit], dtype=cov.dtype, device=cov.device)
            nz = (self._level_noise() * keep)[X[..., -1].round().long()]
            cov = cov + torch.diag_embed(nz.expand(cov.shape[:-1]))
        return mean * self.y_sd + self.y_mu, cov * self.y_sd**2

    def _misfit_levels(self) -> list[bool]:
        """Per level (``L``), whether its nugget is misfit (``nugget``)."""
        opt = self.config.get("nugget", "noise")
        L = self.n_fidelities_
        if isinstance(opt, str):
            return [opt == "misfit"] * L
        vals = list(opt)
        if len(vals) == L - 1 and self.first_gp_level == 1:
            vals = ["noise", *vals]
        if len(vals) != L:
            raise InputDataError(
                f"nugget must be one value or a list of {L} per-level values, got {len(vals)}"
            )
        return [v == "misfit" for v in vals]

    def _misfit_cov(self, X: Tensor, misfit: list[bool]) -> Tensor:
        """Covariance ``batch x n x n`` (standardised units) of the nugget terms of the levels
        flagged in ``misfit`` at ``X``: ``f_l(x)`` carries ``sum_{k <= l} c_k(x) e_k(x)`` with
        ``e_k`` white noise of level ``k``'s variance and ``c_k(x) = prod_{j=k+1..l}
        rho_j(x)``, so two points share a term only at the same features."""
        z, lev = self._z(X)
        nz = self._level_noise() * torch.tensor(misfit, dtype=X.dtype, device=X.device)
        cols = []
        for k in range(self.n_fidelities_):
            c = (lev >= k).to(X.dtype)
            if k < self.first_gp_level:  # a level-0 callable is exact
                c = torch.zeros_like(c)
            for j in range(max(k + 1, 1), self.n_fidelities_):
                c = torch.where(lev >= j, c * self.levels_[str(j)].rho(z), c)
            cols.append(c * nz[k].clamp_min(0).sqrt())
        C = torch.stack(cols, dim=-1)  # batch x n x L
        feats = X[..., :-1]
        same = (feats.unsqueeze(-2) == feats.unsqueeze(-3)).all(dim=-1)
        return (C @ C.transpose(-1, -2)) * same.to(X.dtype)

    def posterior(
        self,
        X: Tensor,
        output_indices: list[int] | None = None,
        observation_noise: bool | Tensor = False,
        posterior_transform: Any = None,
        **kwargs: Any,
    ) -> Posterior:
        """Joint posterior at ``X`` (``batch x n x d``, fidelity index last; levels may be mixed)
        with a full covariance across points and levels, in data units.

        Args:
            X: ``batch x n x d`` inputs.
            observation_noise: ``True`` adds each point's level noise; a tensor
                ``batch x n x 1`` adds that noise (standardised units, as in BoTorch).
            posterior_transform: optional BoTorch posterior transform.

        Returns:
            A :class:`~botorch.posteriors.GPyTorchPosterior` (a log-normal
            ``TransformedPosterior`` when ``log_transform=True``).
        """
        self._check_X(X)
        mean, cov = self._internal_posterior(X, observation_noise)
        # lazy covariance: a level-0 callable gives exactly zero variance, so no eager Cholesky
        post: Posterior = GPyTorchPosterior(MultivariateNormal(mean, DenseLinearOperator(cov)))
        if self.log_transform_:
            post = Log().untransform_posterior(post)
        if posterior_transform is not None:
            post = posterior_transform(post)
        return post

    def predict(self, X: Tensor, *, observation_noise: bool = False) -> Prediction:
        """Pointwise predictive distribution at ``X`` (``n x d``): Gaussian, or log-normal with
        ``log_transform`` (bounds are its quantiles, always positive). With
        ``hyperparameter_samples`` (recursive mode) it is the equal-weight mixture over the
        draws of those distributions, each draw with its own latent mean and variance plus the
        misfit nugget and noise, whose moments without the log are :meth:`posterior`'s
        moment-matched ones; bounds are the mixture's quantiles."""
        self._check_X(X)
        with torch.no_grad():
            shadows = self._hyper_shadows()
            if shadows:
                noise = observation_noise
                parts = [
                    self._observed(X, *sh._recursive_latent(X, st), noise, diagonal=True)
                    for sh, st in shadows
                ]
                means = torch.stack([m for m, _ in parts], dim=-1)
                var = torch.stack([c.diagonal(dim1=-2, dim2=-1) for _, c in parts], dim=-1)
                return Prediction.mixture(None, means, var, log=self.log_transform_)
            mean, cov = self._internal_posterior(X, observation_noise, diagonal=True)
            var = cov.diagonal(dim1=-2, dim2=-1)
        if self.log_transform_:
            return Prediction.lognormal(mean, var)
        return Prediction.gaussian(mean, var)

    # ------------------------------------------------------------ conditioning
    def as_joint(self) -> AR1MultiFidelityGP:
        """A copy in ``mode="joint"`` with the same hyperparameters (no refitting): the exact KOH
        posterior given this model's hyperparameters. The copy of a recursive model with
        ``trend_uncertainty`` keeps that uncertainty (its joint prior covariance carries the
        trend terms, with the regressors of the recursive fit), so that conditioned and
        fantasy models start from the recursive posterior's covariance; the hyperparameter
        draws of ``hyperparameter_samples`` are not carried over (the copy's posterior is the
        plug-in one, at the fitted values, not the mixture over the draws)."""
        sparse = sorted(self.metadata.get("sparse_levels", {}))
        if sparse:
            raise InputDataError(
                f"level(s) {', '.join(sparse)} are conditioned through inducing inputs "
                "(exact_rows), which joint mode, conditioning and fantasies cannot use; refit "
                "with exact_rows=None (or a larger exact_rows) for them"
            )
        cond, self._cond = self._cond, []
        saved = {n: self.__dict__.pop(n) for n in _CACHES if n in self.__dict__}
        try:
            new = copy.deepcopy(self)
        finally:
            self._cond = cond
            self.__dict__.update(saved)
        new._cond = list(cond)
        if self.config["mode"] == "recursive" and self.config.get("trend_uncertainty"):
            # keep the recursive trend-coefficient uncertainty (see _trend_rows)
            new._trend_state = [
                {key: st[key] for key in ("z", "alpha")} for st in self._cached_recursive_state()
            ]
        new.config["mode"] = "joint"
        return new

    def condition_on_observations(
        self, X: Tensor, Y: Tensor, noise: Tensor | None = None, **kwargs: Any
    ) -> AR1MultiFidelityGP:
        """A new model conditioned on extra observations, hyperparameters unchanged.

        The result is always in joint mode (a recursive model is first converted with
        :meth:`as_joint`), so conditioning is exact given the hyperparameters. Batched ``Y``
        (``sample_shape x batch x n x 1``, as produced by :meth:`fantasize`) gives a batched
        model with ``batch_shape = sample_shape x batch``.

        In eval mode the first call caches a joint copy of this model and the Cholesky factor
        of its training rows (``N^2`` memory, ``O(N^3)`` once); every conditioned model shares
        that factor and adds only a block for its own rows (``O(N^2 q)``), see
        ``benchmarks/results/speed_posterior.md``.

        Args:
            X: ``batch x n x d`` inputs (fidelity index last).
            Y: ``(sample x) batch x n x 1`` observations in data units.
            noise: optional ``... x n x 1`` noise variances in standardised units; default: the
                level noise of each point.
        """
        self._check_X(X)
        if Y.shape[-1] != 1 or Y.shape[-2] != X.shape[-2]:
            raise InputDataError(
                f"Y must have shape ... x {X.shape[-2]} x 1 to match X, got {tuple(Y.shape)}"
            )
        # a joint template (for a recursive model, its cached joint copy) whose factor of the
        # training rows the new model reuses: a fantasy costs a block update, not a refactoring
        joint = (
            self if self.config["mode"] == "joint" else self._cached("_joint_copy", self.as_joint)
        )
        new = joint.as_joint()
        if not self.training:
            new._seed_cache("_joint_cache", joint._cached_joint_base(), cond=False)
        nz = None if noise is None else noise.squeeze(-1).to(X)
        new._cond = [*new._cond, (X, self._to_internal_y(Y.to(X)), nz)]
        return new

    def to(self, *args: Any, **kwargs: Any) -> AR1MultiFidelityGP:  # type: ignore[override]
        super().to(*args, **kwargs)
        for cache in _CACHES:
            self.__dict__.pop(cache, None)
        if self._trend_state is not None:
            self._trend_state = [
                {key: v.to(*args, **kwargs) for key, v in st.items()} for st in self._trend_state
            ]
        self._cond = [
            (
                x.to(*args, **kwargs),
                y.to(*args, **kwargs),
                None if n is None else n.to(*args, **kwargs),
            )
            for x, y, n in getattr(self, "_cond", [])
        ]
        return self
