"""One level of the AR1 model (:class:`_Level`: kernel and mean of its delta GP, rho,
noise), the kernel factories by name, and small GPyTorch helpers.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import gpytorch
import torch
from gpytorch.constraints import GreaterThan
from gpytorch.kernels import Kernel
from gpytorch.likelihoods import GaussianLikelihood
from gpytorch.means import ConstantMean, LinearMean, ZeroMean
from gpytorch.priors import LogNormalPrior, NormalPrior
from torch import Tensor, nn

from mfgp.exceptions import InputDataError
from mfgp.models.single_gp import matern52_kernel, se_kernel

Level0 = Callable[[Tensor], Tensor]
KernelFactory = Callable[[int], Kernel]


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
        if not cols:
            return None
        batch = torch.broadcast_shapes(*(c.shape[:-1] for c in cols))  # e.g. draws of mprev
        return torch.cat([c.expand(*batch, c.shape[-1]) for c in cols], dim=-1)


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
