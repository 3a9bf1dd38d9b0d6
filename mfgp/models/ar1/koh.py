r"""The Kennedy-O'Hagan prior of the AR1 model as GPyTorch modules, and joint mode as an
:class:`~gpytorch.models.ExactGP`.

- :class:`KOHKernel`: the block covariance over rows ``(x, i)`` (fidelity index last),

  .. math:: k((x, i), (x', j)) = \sum_{l \le \min(i, j)} P_l(x) P_l(x') c_l(z, z'),
            \qquad P_l(x) = \prod_{m = l + 1}^{i} \rho_m(x),

  with each level's kernel :math:`c_l` on the normalised features ``z`` (Kennedy & O'Hagan
  2000, eq. 2-4; the linear-fidelity kernels of BoTorch's ``LinearTruncatedFidelityKernel``
  and Emukit's ``LinearMultiFidelityKernel`` are the constant-rho case), plus optional
  low-rank terms (the recursive fit's trend-coefficient uncertainty, see ``as_joint``).
- :class:`KOHMean`: :math:`\sum_l P_l(x) \mu_l(x)`, with a level-0 callable's contribution
  :math:`P_0(x) f_0(x)`.
- :class:`LevelNoise`: the noise model with one (learned or fixed) variance per fidelity level.
- :class:`KOHExactGP`: the joint model over the training rows; its
  ``ExactMarginalLogLikelihood`` is the joint objective that ``mode="joint"`` maximises.

Everything is in the model's internal units (normalised features, standardised and, with a log
transform, logged outputs). The modules share the model's levels (no copies): they are built
on demand by :attr:`~mfgp.models.ar1.AR1MultiFidelityGP.covar_module`,
:attr:`~mfgp.models.ar1.AR1MultiFidelityGP.mean_module` and
:meth:`~mfgp.models.ar1.AR1MultiFidelityGP.joint_gp`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from gpytorch.distributions import MultivariateNormal
from gpytorch.kernels import Kernel
from gpytorch.likelihoods import _GaussianLikelihoodBase
from gpytorch.likelihoods.noise_models import Noise
from gpytorch.means import Mean
from gpytorch.models import ExactGP
from linear_operator.operators import DiagLinearOperator
from torch import Tensor, nn

from mfgp.models.ar1.level import _dense


def koh_weights(levels: nn.ModuleDict, n_levels: int, z: Tensor, lev: Tensor) -> list[Tensor]:
    """``P_l(x) = prod_{m=l+1}^{lev(x)} rho_m(x)`` (0 for ``l > lev(x)``), ``l = 0..L-1``, each
    ``batch x n``, from the levels' rho at normalised features ``z`` and integer levels ``lev``."""
    one = torch.ones(lev.shape, dtype=z.dtype, device=z.device)
    P: list[Tensor] = [one] * n_levels
    P[n_levels - 1] = (lev == n_levels - 1).to(z.dtype)
    for level in range(n_levels - 2, -1, -1):
        rho_next = levels[str(level + 1)].rho(z)
        below = torch.where(lev > level, rho_next * P[level + 1], torch.zeros_like(one))
        P[level] = torch.where(lev == level, one, below)
    return P


class _KOHInputs(nn.Module):
    """The AR1 levels and the feature normalisation shared by :class:`KOHKernel` and
    :class:`KOHMean`."""

    def __init__(
        self,
        levels: nn.ModuleDict,
        n_levels: int,
        x_lo: Tensor,
        x_rng: Tensor,
        register: bool = True,
    ) -> None:
        super().__init__()
        if register:
            self.levels = levels
        else:  # held, not registered: another module of the same model owns the parameters
            object.__setattr__(self, "levels", levels)
        self.n_levels = n_levels
        self.first_gp_level = n_levels - len(levels)
        self.x_lo, self.x_rng = x_lo, x_rng

    def split(self, X: Tensor) -> tuple[Tensor, Tensor, list[Tensor]]:
        """Normalised features, integer levels and level weights of rows ``X``."""
        z, lev = (X[..., :-1] - self.x_lo) / self.x_rng, X[..., -1].round().long()
        return z, lev, koh_weights(self.levels, self.n_levels, z, lev)


class KOHKernel(Kernel):
    """Kennedy-O'Hagan block covariance of AR1 levels (see the module docstring).

    Args:
        levels: the GP levels (``str(k) -> level`` with ``kernel`` and ``rho``), shared.
        n_levels: number of fidelity levels ``L`` (levels below the first GP level are a
            known callable without covariance).
        x_lo, x_rng: the feature normalisation ``z = (x - x_lo) / x_rng``.
        low_rank: optional ``X -> [G_1, ...]`` (each ``batch x n x p``); adds ``sum G G'``.
    """

    def __init__(
        self,
        levels: nn.ModuleDict,
        n_levels: int,
        x_lo: Tensor,
        x_rng: Tensor,
        low_rank: Callable[[Tensor], list[Tensor]] | None = None,
    ) -> None:
        super().__init__()
        self.inputs = _KOHInputs(levels, n_levels, x_lo, x_rng)
        self.low_rank = low_rank

    def forward(self, x1: Tensor, x2: Tensor, diag: bool = False, **params: Any) -> Tensor:
        inp = self.inputs
        z1, _, P1 = inp.split(x1)
        z2, _, P2 = (z1, None, P1) if x2 is x1 else inp.split(x2)
        out: Tensor | None = None
        for k in range(inp.first_gp_level, inp.n_levels):
            kern = inp.levels[str(k)].kernel
            if diag:
                term = P1[k] * P2[k] * kern(z1, z2, diag=True)
            else:
                term = P1[k].unsqueeze(-1) * P2[k].unsqueeze(-2) * _dense(kern, z1, z2)
            out = term if out is None else out + term
        assert out is not None
        if self.low_rank is not None:
            G2s = self.low_rank(x2) if x2 is not x1 else None
            for i, g1 in enumerate(self.low_rank(x1)):
                g2 = g1 if G2s is None else G2s[i]
                out = out + ((g1 * g2).sum(-1) if diag else g1 @ g2.transpose(-1, -2))
        return out


class KOHMean(Mean):
    """Kennedy-O'Hagan prior mean of AR1 levels: ``sum_l P_l(x) mu_l(x)`` (``batch x n``).

    The levels' parameters (their means among them) are registered with the model's
    :class:`KOHKernel`, not here, so that a GP holding both counts each prior once (GPyTorch's
    ``named_priors`` visits a shared module once per path).

    Args:
        levels, n_levels, x_lo, x_rng: as for :class:`KOHKernel`.
        level0: optional level-0 callable in internal units (``batch x n x d -> batch x n``).
    """

    def __init__(
        self,
        levels: nn.ModuleDict,
        n_levels: int,
        x_lo: Tensor,
        x_rng: Tensor,
        level0: Callable[[Tensor], Tensor] | None = None,
    ) -> None:
        super().__init__()
        self.inputs = _KOHInputs(levels, n_levels, x_lo, x_rng, register=False)
        self.level0 = level0

    def forward(self, X: Tensor) -> Tensor:
        inp = self.inputs
        z, lev, P = inp.split(X)
        out = torch.zeros(lev.shape, dtype=X.dtype, device=X.device)
        if self.level0 is not None:
            out = out + P[0] * self.level0(X)
        for k in range(inp.first_gp_level, inp.n_levels):
            out = out + P[k] * inp.levels[str(k)].mu(z)
        return out


class LevelNoise(Noise):
    """Observation noise with one variance per fidelity level (the level index is the last
    input column), plus known per-row variances at the rows the GP was built on.

    Args:
        per_level: callable returning the ``L`` level variances (learned ones keep their
            gradient).
        rows: optional ``batch x n x d`` rows at which ``row_extra`` applies.
        row_extra: ``batch x n`` known variances added at exactly those rows (a ``Yvar``, or
            the given noise of conditioned rows beyond their level's).
    """

    def __init__(
        self,
        per_level: Callable[[], Tensor],
        rows: Tensor | None = None,
        row_extra: Tensor | None = None,
    ) -> None:
        super().__init__()
        self.per_level = per_level
        self.rows, self.row_extra = rows, row_extra

    def forward(self, *params: Any, shape: torch.Size | None = None, **kwargs: Any) -> Any:
        X = params[0][0] if isinstance(params[0], (list, tuple)) else params[0]
        var = self.per_level()[X[..., -1].round().long()]
        rows = self.rows
        if rows is not None and rows.shape == X.shape and bool(torch.equal(rows, X)):
            var = var + self.row_extra
        return DiagLinearOperator(var)


class LevelNoiseLikelihood(_GaussianLikelihoodBase):
    """Gaussian likelihood with :class:`LevelNoise` (call it with the inputs:
    ``likelihood(f, X)``)."""

    def __init__(self, noise: LevelNoise) -> None:
        super().__init__(noise_covar=noise)


class KOHExactGP(ExactGP):
    """The joint AR1 model over its rows as a GPyTorch ``ExactGP``: prior
    ``N(KOHMean(X), KOHKernel(X, X))``, :class:`LevelNoiseLikelihood`. Its
    ``ExactMarginalLogLikelihood`` (evaluated as ``mll(gp(X), y, X)``) is the per-row joint
    log marginal likelihood plus the log priors of the levels' hyperparameters divided by the
    number of rows: the objective of ``mode="joint"`` (which evaluates it with a hand-written
    gradient, :func:`~mfgp.models.gp_linalg.gaussian_nll`, about 3x faster at 1,000 rows)."""

    def __init__(
        self,
        X: Tensor,
        y: Tensor,
        mean_module: KOHMean,
        covar_module: KOHKernel,
        likelihood: LevelNoiseLikelihood,
    ) -> None:
        super().__init__(X, y, likelihood)
        self.mean_module = mean_module
        self.covar_module = covar_module

    def forward(self, X: Tensor) -> MultivariateNormal:
        return MultivariateNormal(self.mean_module(X), self.covar_module(X))
