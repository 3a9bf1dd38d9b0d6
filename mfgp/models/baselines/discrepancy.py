"""``discrepancy``: the scaling-law surrogate as the mean plus a GP on its residual.

The Kennedy-O'Hagan AR1 model with ``rho`` fixed to 1: ``f(x) = s(x) + delta(x)``, ``s`` the
surrogate of :mod:`mfgp.models.baselines.scaling_law` (growth curves on time courses, an
:class:`~mfgp.scaling.endpoint_law.EndPointScalingLaw` on end-point data) fitted on the
top-fidelity rows, ``delta`` a BoTorch :class:`~botorch.models.SingleTaskGP` on the residuals.
Known noise variances (``Yvar``) are passed to the GP.

References:
    Kennedy & O'Hagan (2000), Biometrika 87:1 (discrepancy/AR1 model). Rasmussen & Williams
    (2006), Gaussian Processes for Machine Learning, sec. 2.7 (a fixed mean function).
"""

from __future__ import annotations

from typing import Any

import torch
from botorch.posteriors import GPyTorchPosterior, Posterior
from gpytorch.distributions import MultivariateNormal
from torch import Tensor

from mfgp.exceptions import InputDataError
from mfgp.models.base import ScaleUpModel, register_model
from mfgp.models.baselines.common import data_layout, top_fidelity_rows
from mfgp.models.baselines.scaling_law import (
    fit_surrogate,
    make_surrogate,
    surrogate_config,
    surrogate_reason,
)
from mfgp.models.single_gp import SingleFidelityGP

__all__ = ["DiscrepancyGP"]


@register_model("discrepancy")
class DiscrepancyGP(SingleFidelityGP):
    """Scaling-law surrogate as the mean plus a GP on the residual (AR1 with ``rho = 1``).

    ``f(x) = s(x) + delta(x)``: ``s`` is the surrogate of
    :class:`~mfgp.models.baselines.ScalingLawOnly` (growth curves on time courses, an end-point
    law on end-point data) fitted on the **top-fidelity rows** (lower levels are ignored: kept
    simple), ``delta`` a BoTorch :class:`~botorch.models.SingleTaskGP` (Matern-5/2 ARD,
    normalised inputs, standardised outputs, marginal likelihood from seeded restarts, as
    :class:`SingleFidelityGP`) on the residuals ``y - s(x)`` over every feature column. The
    posterior is the GP's (full covariance) shifted by ``s(x)``.

    Args:
        growth, basis, surrogate_ridge: the surrogate, as
            :class:`~mfgp.models.baselines.ScalingLawOnly`.
        mean: mean of the residual GP, ``"constant"`` (default) or ``"linear"``.
        restarts, maxiter: marginal-likelihood restarts and L-BFGS iterations.

    Example:
        >>> import torch
        >>> from mfgp.scaling.growth import logistic
        >>> v = torch.tensor([0.0, 1.0, 2.0]).double().repeat_interleave(8)
        >>> t = torch.linspace(0, 40, 8).double().repeat(3)
        >>> p = torch.stack([0.1 + 0 * v, 10 * 10 ** (-0.1 * v), 0.3 + 0 * v], -1)
        >>> X = torch.stack([v, t, torch.zeros_like(v)], -1)
        >>> y = logistic(t, p).unsqueeze(-1) + 0.01 * torch.sin(t).unsqueeze(-1)
        >>> m = DiscrepancyGP(growth="logistic", restarts=1).fit((X, y))
        >>> m.predict(X[:2]).mean.shape
        torch.Size([2])
    """

    multi_fidelity = False

    def __init__(
        self,
        *,
        growth: str = "baranyi",
        basis: str = "power",
        surrogate_ridge: float = 1e-3,
        mean: str = "constant",
        restarts: int = 3,
        maxiter: int = 200,
    ) -> None:
        if mean not in ("constant", "linear"):
            raise InputDataError(f"mean must be 'constant' or 'linear', got {mean!r}")
        if restarts < 1:
            raise InputDataError(f"restarts must be >= 1, got {restarts}")
        ScaleUpModel.__init__(
            self,
            **surrogate_config(growth, basis, surrogate_ridge),
            mean=mean,
            restarts=restarts,
            maxiter=maxiter,
        )

    def applicability(self, data: Any) -> str | None:
        """A reason for fewer than 3 measured rows, or too few volumes for the surrogate."""
        layout = data_layout(data)
        if layout is not None and layout.top_rows < 3:
            return f"needs at least 3 measured rows; the data have {layout.top_rows}"
        return surrogate_reason(self, data)

    def _build(self, X: Tensor, Y: Tensor, Yvar: Tensor | None) -> None:
        Xf, _ = top_fidelity_rows(X, Y)
        if Xf.shape[0] < 3:
            raise InputDataError(
                f"the top fidelity has {Xf.shape[0]} row(s); the discrepancy GP needs at least 3"
            )
        self.surrogate_ = make_surrogate(self, Xf.shape[-1], X.dtype)

    def _residual_data(self, resid: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
        X, Yvar = self.train_X_, self.train_Yvar_
        top = X[:, -1] == X[:, -1].max()
        Xr = X[top].clone()
        return Xr, resid.reshape(-1, 1).to(Xr), None if Yvar is None else Yvar[top]

    def _optimize(self, *, seed: int | None, **options: Any) -> None:
        Xf, Y = top_fidelity_rows(self.train_X_, self.train_Y_)
        fit_surrogate(self.surrogate_, Xf, Y.squeeze(-1))
        with torch.no_grad():
            self.resid_ = (Y.squeeze(-1) - self.surrogate_(Xf)).detach()
        # build the residual GP exactly as the single-fidelity GP does, then fit it
        SingleFidelityGP._build(self, *self._residual_data(self.resid_))
        self.gp_.to(self.train_X_)
        super()._optimize(seed=seed, **options)

    def _extra_state(self) -> dict[str, Any]:
        return {"resid": self.resid_.detach().cpu()}

    def _load_extra_state(self, extra: dict[str, Any]) -> None:
        if "resid" not in extra:
            raise InputDataError("the saved discrepancy model has no residuals; refit it")
        self.resid_ = extra["resid"].to(self.train_X_)
        SingleFidelityGP._build(self, *self._residual_data(self.resid_))
        self.gp_.to(self.train_X_)

    def to(self, *args: Any, **kwargs: Any) -> DiscrepancyGP:  # type: ignore[override]
        super().to(*args, **kwargs)
        if isinstance(getattr(self, "resid_", None), Tensor):
            self.resid_ = self.resid_.to(*args, **kwargs)
        return self

    def posterior(
        self,
        X: Tensor,
        output_indices: list[int] | None = None,
        observation_noise: bool | Tensor = False,
        posterior_transform: Any = None,
        **kwargs: Any,
    ) -> Posterior:
        """Posterior of the top level at ``X`` (``batch x n x d``; fidelity column ignored):
        the residual GP's posterior (full covariance) shifted by the surrogate."""
        self._check_X(X)
        post = self.gp_.posterior(X[..., :-1], observation_noise=observation_noise)
        mvn = post.distribution
        shifted = MultivariateNormal(
            mvn.mean + self.surrogate_(X[..., :-1]).to(mvn.mean), mvn.lazy_covariance_matrix
        )
        out = GPyTorchPosterior(shifted)
        return posterior_transform(out) if posterior_transform is not None else out
