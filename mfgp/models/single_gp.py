"""Single-fidelity exact GP on the top level: the walking skeleton and the fair GP baseline.

A BoTorch :class:`~botorch.models.SingleTaskGP` on the model features (``log10_volume_L``,
``time_h``, operating variables) of the **top-fidelity rows only**; the fidelity column of ``X`` is
ignored at prediction time (the model always predicts the top level). Inputs are normalised to
the unit cube of the training data and outputs standardised (BoTorch transforms); the kernel is a
Matern-5/2 ARD kernel with Gamma priors on lengthscales and outputscale that suit normalised
inputs; the mean is constant or linear in the inputs (``mean="linear"``), so that extrapolation
in log volume follows a trend instead of reverting to a constant.

Hyperparameters maximise the exact marginal likelihood (L-BFGS-B through
:func:`botorch.fit.fit_gpytorch_mll`) from several seeded restarts drawn from the priors.
"""

from __future__ import annotations

import logging
from typing import Any

from botorch.models import SingleTaskGP
from botorch.models.transforms.input import Normalize
from botorch.models.transforms.outcome import Standardize
from botorch.optim.utils import sample_all_priors
from gpytorch.kernels import MaternKernel, RBFKernel, ScaleKernel
from gpytorch.likelihoods import GaussianLikelihood
from gpytorch.means import ConstantMean, LinearMean
from gpytorch.mlls import ExactMarginalLogLikelihood
from gpytorch.priors import GammaPrior, LogNormalPrior
from torch import Tensor

from mfgp.exceptions import InputDataError
from mfgp.fit import fit_with_restarts, mll_scipy
from mfgp.models.base import ScaleUpModel, register_model

__all__ = ["SingleFidelityGP", "matern52_kernel", "se_kernel"]

log = logging.getLogger(__name__)


def matern52_kernel(d: int) -> ScaleKernel:
    """Scaled Matern-5/2 ARD kernel with priors for inputs normalised to [0, 1]^d.

    Lengthscale ~ Gamma(3, 6) (mode 1/3 of the input range), outputscale ~ Gamma(2, 0.15)
    (for standardised outputs).
    """
    return ScaleKernel(
        MaternKernel(nu=2.5, ard_num_dims=d, lengthscale_prior=GammaPrior(3.0, 6.0)),
        outputscale_prior=GammaPrior(2.0, 0.15),
    )


def se_kernel(d: int) -> ScaleKernel:
    """Scaled squared-exponential (RBF) ARD kernel for infinitely smooth responses.

    Meant for deterministic simulators and analytic test functions (measured data are better
    served by the rougher :func:`matern52_kernel`). The lengthscale prior LogNormal(0, 1.5) on
    [0, 1]-normalised inputs is wide (95 % between 0.05 and 19), so that nearly linear
    directions can take long lengthscales; the outputscale has no prior.
    """
    return ScaleKernel(RBFKernel(ard_num_dims=d, lengthscale_prior=LogNormalPrior(0.0, 1.5)))


@register_model("gp")
class SingleFidelityGP(ScaleUpModel):
    """Exact GP on the top-fidelity rows, with a constant or linear mean.

    Args:
        mean: ``"constant"`` or ``"linear"`` (linear in the normalised inputs).
        restarts: number of marginal-likelihood optimisations (the first from the default
            initialisation, the others from prior samples); the best is kept.
        maxiter: L-BFGS iterations per restart.

    Example:
        >>> import torch
        >>> X = torch.rand(12, 2, dtype=torch.float64); X[:, -1] = 0
        >>> Y = torch.sin(6 * X[:, :1])
        >>> m = SingleFidelityGP().fit((X, Y), seed=0)
        >>> m.predict(X[:3]).mean.shape
        torch.Size([3])
    """

    fit_options = ("restarts", "maxiter")

    def __init__(self, *, mean: str = "linear", restarts: int = 3, maxiter: int = 200) -> None:
        if mean not in ("constant", "linear"):
            raise InputDataError(f"mean must be 'constant' or 'linear', got {mean!r}")
        if restarts < 1:
            raise InputDataError(f"restarts must be >= 1, got {restarts}")
        super().__init__(mean=mean, restarts=restarts, maxiter=maxiter)

    def memory_estimate(self, X: Tensor) -> tuple[int, int | None, int]:
        """One exact GP on the top-fidelity rows (see the base class)."""
        return self._dense_need(X, [int(X[:, -1].max().round())])

    def _build(self, X: Tensor, Y: Tensor, Yvar: Tensor | None) -> None:
        d = X.shape[-1] - 1
        if d < 1:
            raise InputDataError("X needs at least one feature column before the fidelity index")
        top = X[:, -1] == X[:, -1].max()
        Xt, Yt = X[top, :-1], Y[top]
        if Xt.shape[0] < 2:
            raise InputDataError(
                f"the top fidelity has {Xt.shape[0]} row(s); a GP needs at least 2 observations"
            )
        mean = ConstantMean() if self.config["mean"] == "constant" else LinearMean(d)
        self.gp_ = SingleTaskGP(
            Xt,
            Yt,
            train_Yvar=None if Yvar is None else Yvar[top],
            covar_module=matern52_kernel(d),
            mean_module=mean,
            likelihood=None
            if Yvar is not None
            else GaussianLikelihood(noise_prior=GammaPrior(1.1, 0.05)),
            input_transform=Normalize(d),
            outcome_transform=Standardize(1),
        )

    def _optimize(self, *, seed: int | None, **options: Any) -> None:
        maxiter = int(options.get("maxiter", self.config["maxiter"]))
        mll = ExactMarginalLogLikelihood(self.gp_.likelihood, self.gp_)

        def start(r: int) -> None:  # later restarts: the priors (from the previous optimum)
            if r > 0:
                sample_all_priors(self.gp_)

        def loss() -> Tensor:
            return -mll(self.gp_(self.gp_.train_inputs[0]), self.gp_.train_targets)

        fit_with_restarts(
            self.gp_,
            loss,
            restarts=int(options.get("restarts", self.config["restarts"])),
            maxiter=maxiter,
            start=start,
            optimise=mll_scipy(mll, max_attempts=3, quiet=RuntimeWarning),
            what=self.name,
            hint="check for duplicated inputs with conflicting outputs, or rescale the target",
            reset=False,
        )
        self.gp_.eval()

    def posterior(
        self,
        X: Tensor,
        output_indices: list[int] | None = None,
        observation_noise: bool | Tensor = False,
        posterior_transform: Any = None,
        **kwargs: Any,
    ):
        """Posterior of the top level at ``X`` (``batch x n x d``; the fidelity column is
        ignored)."""
        self._check_X(X)
        return self.gp_.posterior(
            X[..., :-1],
            observation_noise=observation_noise,
            posterior_transform=posterior_transform,
        )
