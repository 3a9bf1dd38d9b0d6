"""Leave-one-out calibration of a fitted GP's variance (Bachoc 2013).

After a marginal-likelihood fit, a GP's kernel variance and noise are scaled by one factor so
that its leave-one-out residuals have unit standardised mean square; the posterior mean does
not move (kernel and noise scale alike). Used by :class:`~mfgp.models.ar1.AR1MultiFidelityGP`
and :class:`~mfgp.models.nargp.NARGP` (``loo_variance``). Written by hand: neither GPyTorch nor
BoTorch rescales a fitted model by its cross-validation residuals.

Reference:
    Bachoc, F. (2013). Cross validation and maximum likelihood estimations of hyper-parameters
    of Gaussian processes with model misspecification. Comput. Stat. Data Anal. 66:55-69.
"""

from __future__ import annotations

import torch
from gpytorch.kernels import ScaleKernel
from gpytorch.likelihoods import GaussianLikelihood
from torch import Tensor, nn

__all__ = ["loo_rescale", "loo_variance_scale"]


def loo_variance_scale(L: Tensor, alpha: Tensor, noise: Tensor, min_noise: float) -> float:
    """Factor for a GP's kernel and noise variances that gives its leave-one-out residuals unit
    standardised mean square: ``mean_i alpha_i^2 / [A^-1]_ii`` (Bachoc 2013), clamped to
    [0.01, 100] and never so small that ``noise`` would fall below ``min_noise`` (kernel and
    noise must scale alike for the posterior mean to stay).

    Args:
        L: Cholesky factor of the training covariance ``A`` (``n x n``).
        alpha: ``A^-1 (y - mean)`` (``n``).
        noise: the noise variance(s) to be scaled.
        min_noise: the noise floor.
    """
    a_diag = torch.cholesky_inverse(L).diagonal(dim1=-2, dim2=-1)
    s2 = float((alpha**2 / a_diag).mean().clamp(1e-2, 1e2))
    return max(s2, 1.001 * min_noise / float(noise.min()))


def loo_rescale(
    kernel: nn.Module,
    likelihood: GaussianLikelihood,
    L: Tensor,
    alpha: Tensor,
    min_noise: float,
) -> float:
    """Scale every outputscale in ``kernel`` and ``likelihood``'s noise by
    :func:`loo_variance_scale` (in place); returns the factor.

    Args:
        kernel: the GP's kernel (every :class:`~gpytorch.kernels.ScaleKernel` in it is scaled).
        likelihood: its Gaussian likelihood (learned noise).
        L, alpha: Cholesky factor of its training covariance and ``A^-1 (y - mean)`` (``n``).
        min_noise: the noise floor the scaled noise must stay above.
    """
    with torch.no_grad():
        s2 = loo_variance_scale(L, alpha, likelihood.noise, min_noise)
        for module in kernel.modules():
            if isinstance(module, ScaleKernel):
                module.outputscale = module.outputscale * s2
        likelihood.noise = likelihood.noise * s2
    return s2
