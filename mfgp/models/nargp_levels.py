"""The per-level pieces of :class:`~mfgp.models.nargp.NARGP`: the kernels of the paper
(Perdikaris et al. 2017, eq. 2.6), the starting hyperparameters of each restart, and the
Cholesky factor of a level's training covariance (with the jitter ladder of
:func:`~mfgp.models.gp_linalg.jittered_cholesky`).
"""

from __future__ import annotations

import math

import torch
from botorch.models import SingleTaskGP
from gpytorch.kernels import Kernel, MaternKernel, RBFKernel, ScaleKernel
from gpytorch.priors import GammaPrior, LogNormalPrior
from linear_operator.utils.errors import NotPSDError
from torch import Tensor

from mfgp.exceptions import ModelFittingError
from mfgp.models.gp_linalg import jittered_cholesky

__all__: list[str] = []  # private helpers of mfgp.models.nargp


def _base_kernel(kind: str, d: int, active_dims: list[int]) -> Kernel:
    # weak, dimension-scaled log-normal lengthscale prior (BoTorch's default since 0.12,
    # Hvarfner et al. 2024): short lengthscales (oscillating levels) stay reachable
    prior = LogNormalPrior(loc=math.sqrt(2) + 0.5 * math.log(max(d, 1)), scale=math.sqrt(3))
    if kind == "rbf":
        return RBFKernel(ard_num_dims=d, active_dims=active_dims, lengthscale_prior=prior)
    return MaternKernel(nu=2.5, ard_num_dims=d, active_dims=active_dims, lengthscale_prior=prior)


def _level_kernel(kind: str, d: int, first: bool) -> Kernel:
    """Level-0 kernel ``k(x, x')`` or the NARGP kernel ``k_rho k_f + k_delta`` on ``d + 1``."""
    x_dims = list(range(d))
    if first:
        return ScaleKernel(_base_kernel(kind, d, x_dims), outputscale_prior=GammaPrior(2.0, 0.15))
    k_rho = _base_kernel(kind, d, x_dims)
    k_f = _base_kernel(kind, 1, [d])
    k_delta = _base_kernel(kind, d, x_dims)
    return ScaleKernel(k_rho * k_f, outputscale_prior=GammaPrior(2.0, 0.15)) + ScaleKernel(
        k_delta, outputscale_prior=GammaPrior(2.0, 1.0)
    )


def _initialise(gp: SingleTaskGP, gen: torch.Generator, *, first: bool, min_noise: float) -> None:
    """Set a restart's starting hyperparameters.

    The first restart starts from lengthscales 0.3 (unit-cube inputs), unit outputscales and a
    small noise (1e-4, standardised units; starting in the interpolating regime avoids the
    "everything is noise" optimum on oscillating levels). Later restarts draw lengthscales
    log-uniformly in [0.03, 3], outputscales in [0.1, 3] and noise in [1e-6, 1e-2] from ``gen``.
    """

    def draw(shape: torch.Size, lo: float, hi: float, like: Tensor) -> Tensor:
        u = torch.rand(shape, generator=gen, dtype=torch.float64)
        return torch.exp(math.log(lo) + u * (math.log(hi) - math.log(lo))).to(like)

    with torch.no_grad():
        for module in gp.covar_module.modules():
            if isinstance(module, (RBFKernel, MaternKernel)):
                ls = module.lengthscale
                module.lengthscale = (
                    torch.full_like(ls, 0.3) if first else draw(ls.shape, 0.03, 3.0, ls)
                )
            elif isinstance(module, ScaleKernel):
                os_ = module.outputscale
                module.outputscale = (
                    torch.ones_like(os_) if first else draw(os_.shape, 0.1, 3.0, os_)
                )
        noise = gp.likelihood.noise
        value = torch.full_like(noise, 1e-4) if first else draw(noise.shape, 1e-6, 1e-2, noise)
        gp.likelihood.noise = value.clamp_min(2 * min_noise)
        gp.mean_module.constant = torch.zeros_like(gp.mean_module.constant)


def _train_factor(gp: SingleTaskGP) -> tuple[Tensor, Tensor, Tensor]:
    """Cholesky factor of a level's training covariance (kernel plus noise), the weights
    ``alpha = A^-1 (y - c)`` (``n_tr x 1``) and the constant mean ``c``."""
    Xtr = gp.train_inputs[0]
    K = gp.covar_module(Xtr, Xtr).to_dense()
    K = K + gp.likelihood.noise.squeeze() * torch.eye(K.shape[-1], dtype=K.dtype, device=K.device)
    Lc = _safe_cholesky(K)
    c = gp.mean_module.constant.squeeze()
    alpha = torch.cholesky_solve((gp.train_targets - c).unsqueeze(-1), Lc)
    return Lc, alpha, c


def _safe_cholesky(cov: Tensor) -> Tensor:
    """Cholesky factor of ``... x n x n`` covariances, with the dtype's jitter ladder (scaled
    by the mean variance)."""
    try:
        return jittered_cholesky(cov, relative=True)
    except NotPSDError as err:
        raise ModelFittingError(
            "the NARGP predictive covariance is not positive definite even with jitter; use "
            "covariance='diag' or float64"
        ) from err
