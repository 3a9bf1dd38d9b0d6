"""The cost-aware acquisition functions (variance reduction per cost, cost-aware MF-MES, LogEI
with a top-fidelity incumbent), the option cost model, and :func:`build_acquisition` that makes
the one of a goal."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from botorch.acquisition import AcquisitionFunction
from botorch.acquisition.active_learning import qNegIntegratedPosteriorVariance
from botorch.acquisition.cost_aware import InverseCostWeightedUtility
from botorch.acquisition.logei import qLogExpectedImprovement
from botorch.acquisition.max_value_entropy_search import qMultiFidelityMaxValueEntropy
from botorch.models.deterministic import DeterministicModel
from botorch.sampling import SobolQMCNormalSampler
from torch import Tensor

from mfgp.acquisition.space import ScaleOption, SearchSpace
from mfgp.exceptions import InputDataError
from mfgp.fit import seeded

__all__ = [
    "GOALS",
    "ClosedFormVarianceReduction",
    "CostWeightedIntegratedVarianceReduction",
    "OptionCostModel",
    "build_acquisition",
    "incumbent_best",
    "variance_reduction",
]

#: Accepted ``goal`` values of :func:`suggest`.
GOALS = ("learn", "optimise", "ei")
_GOAL_ALIASES = {"optimize": "optimise", "learn": "learn", "optimise": "optimise", "ei": "ei"}


class OptionCostModel(DeterministicModel):
    """Deterministic cost of a run: the cost of its :class:`ScaleOption`.

    The option is found from the run's volume (column 0, log10 litres) and fidelity (last
    column); used with :class:`~botorch.acquisition.cost_aware.InverseCostWeightedUtility`.

    >>> space_options = [ScaleOption("lab", 1, 2.0, 1.0), ScaleOption("pilot", 1, 200.0, 20.0)]
    >>> m = OptionCostModel(space_options)
    >>> m(torch.tensor([[[0.30103, 0.5, 1.0]], [[2.30103, 0.5, 1.0]]])).flatten().tolist()
    [1.0, 20.0]
    """

    def __init__(self, options: Sequence[ScaleOption]) -> None:
        super().__init__()
        self._num_outputs = 1
        self.register_buffer(
            "logv", torch.tensor([math.log10(o.volume_L) for o in options], dtype=torch.float64)
        )
        self.register_buffer("fid", torch.tensor([float(o.fidelity) for o in options]))
        self.register_buffer("cost", torch.tensor([float(o.cost) for o in options]))

    def forward(self, X: Tensor) -> Tensor:
        """Costs ``batch x q x 1`` of runs ``batch x q x (d + 1)``."""
        dist = (X[..., 0:1] - self.logv.to(X)).abs() + 10.0 * (X[..., -1:] - self.fid.to(X)).abs()
        return self.cost.to(X)[dist.argmin(dim=-1)].unsqueeze(-1)


class CostWeightedIntegratedVarianceReduction(AcquisitionFunction):
    r"""Integrated posterior-variance reduction at ``mc_points`` per unit cost.

    ``alpha(x) = [IPV(D) - IPV(D + pending + x) + ...] / cost(x)``, where
    ``IPV = mean_m Var[f(m)]`` over ``mc_points`` and the variance after the run comes from
    BoTorch's :class:`~botorch.acquisition.active_learning.qNegIntegratedPosteriorVariance`
    (a fantasy model). With pending runs the gain is marginal: relative to the variance after
    the pending runs.

    Args:
        model: a fitted model with ``fantasize``.
        mc_points: ``m x (d + 1)`` points where the variance counts.
        cost_model: cost of a run (``batch x q x (d + 1)`` -> ``batch x q x 1``).
        X_pending: ``p x (d + 1)`` runs already chosen.
        seed: seed of the (single) fantasy sampler.
    """

    def __init__(
        self,
        model: Any,
        mc_points: Tensor,
        cost_model: DeterministicModel,
        *,
        X_pending: Tensor | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__(model=model)
        self.mc_points = mc_points
        self.seed = seed
        self.nipv = qNegIntegratedPosteriorVariance(
            model, mc_points, sampler=SobolQMCNormalSampler(torch.Size([1]), seed=seed)
        )
        self.utility = InverseCostWeightedUtility(cost_model=cost_model, use_mean=True)
        self.set_X_pending(X_pending)

    def set_X_pending(self, X_pending: Tensor | None = None) -> None:
        """Set the pending runs and recompute the baseline integrated variance."""
        super().set_X_pending(X_pending)
        self.nipv.set_X_pending(X_pending)
        with torch.no_grad():
            if X_pending is None:
                var = self.model.posterior(self.mc_points).variance
            else:
                sampler = SobolQMCNormalSampler(torch.Size([1]), seed=self.seed)
                fm = self.model.fantasize(X=X_pending, sampler=sampler)
                var = fm.posterior(self.mc_points).variance
        self.baseline = var.mean()

    def gain(self, X: Tensor) -> Tensor:
        """Integrated variance reduction (data units squared) of runs ``batch x q x d``."""
        return self.baseline + self.nipv(X)

    def forward(self, X: Tensor) -> Tensor:
        """Reduction per unit cost, ``batch``."""
        return self.utility(X=X, deltas=self.gain(X))


class ClosedFormVarianceReduction(AcquisitionFunction):
    r"""Integrated variance reduction per unit cost from the joint posterior (no fantasies).

    For a GP with fixed hyperparameters, observing runs ``A`` (noise ``N_A``) reduces the
    posterior covariance at ``mc_points`` ``M`` by ``K_MA (K_AA + N_A)^{-1} K_AM``; the gain of
    a run ``x`` after pending runs ``P`` is ``mean_m [red_{P+x}(m) - red_P(m)]`` (for one run
    and no pending runs: ``mean_m Cov(m, x)^2 / (Var(x) + noise_x)``). Only ``posterior`` on the
    joint set is needed, so this serves models without ``fantasize``; it equals
    :class:`CostWeightedIntegratedVarianceReduction` for GPs.

    Args:
        model: a fitted model whose ``posterior`` has a full covariance and
            ``observation_noise``.
        mc_points: ``m x (d + 1)`` points where the variance counts.
        cost_model: cost of a run.
        X_pending: ``p x (d + 1)`` runs already chosen.
    """

    def __init__(
        self,
        model: Any,
        mc_points: Tensor,
        cost_model: DeterministicModel,
        *,
        X_pending: Tensor | None = None,
    ) -> None:
        super().__init__(model=model)
        self.mc_points = mc_points
        self.utility = InverseCostWeightedUtility(cost_model=cost_model, use_mean=True)
        self.set_X_pending(X_pending)

    def _reduction(self, A: Tensor) -> Tensor:
        """Mean variance reduction at ``mc_points`` from observing ``A`` (``b x a x d``)."""
        return variance_reduction(self.model, self.mc_points, A).mean(-1)

    def set_X_pending(self, X_pending: Tensor | None = None) -> None:
        """Set the pending runs and recompute their variance reduction."""
        super().set_X_pending(X_pending)
        with torch.no_grad():
            self.baseline = (
                torch.zeros((), dtype=self.mc_points.dtype, device=self.mc_points.device)
                if X_pending is None
                else self._reduction(X_pending.unsqueeze(0)).squeeze(0)
            )

    def gain(self, X: Tensor) -> Tensor:
        """Integrated variance reduction of runs ``batch x 1 x (d + 1)`` -> ``batch``."""
        X = X.reshape(-1, X.shape[-2], X.shape[-1])
        if X.shape[-2] == 1:
            return self._single_gain(X.squeeze(-2))
        if self.X_pending is not None:
            X = torch.cat([self.X_pending.expand(X.shape[0], -1, -1), X], dim=-2)
        return self._reduction(X) - self.baseline

    def _single_gain(self, X: Tensor) -> Tensor:
        """The gain of each of ``b`` single runs ``b x (d + 1)`` from one joint posterior over
        the ``mc_points``, the pending runs and the candidates (the same numbers as
        :meth:`_reduction`, by the Schur complement: the covariances conditioned on the
        pending runs ``P`` are ``C_MX - C_MP (K_PP + N_P)^-1 C_PX``, and the gain of ``x`` is
        ``mean_m Cov_P(m, x)^2 / (Var_P(x) + noise_x)``)."""
        M = self.mc_points
        P = self.X_pending if self.X_pending is not None else X[:0]
        m, p = M.shape[0], P.shape[0]
        cov = self.model.posterior(torch.cat([M, P, X])).distribution.covariance_matrix
        PX = torch.cat([P, X])
        noisy = self.model.posterior(PX, observation_noise=True).variance.reshape(-1)
        noise = (noisy - cov.diagonal()[m:]).clamp_min(1e-12)
        C_MX = cov[:m, m + p :]
        var_X = cov.diagonal()[m + p :]
        if p:
            K_PP = cov[m : m + p, m : m + p] + torch.diag(noise[:p])
            L = torch.linalg.cholesky(K_PP)
            C_PX = cov[m : m + p, m + p :]
            S = torch.cholesky_solve(C_PX, L)
            C_MX = C_MX - cov[:m, m : m + p] @ S
            var_X = var_X - (C_PX * S).sum(0)
        return (C_MX**2).mean(0) / (var_X.clamp_min(0) + noise[p:])

    def forward(self, X: Tensor) -> Tensor:
        """Reduction per unit cost, ``batch``."""
        return self.utility(X=X, deltas=self.gain(X))


def variance_reduction(model: Any, M: Tensor, A: Tensor, *, jitter: float = 0.0) -> Tensor:
    """Reduction of the latent posterior variance at each of ``M`` (``m x d``) by observing
    each batch of runs ``A`` (``b x a x d``), ``diag(K_MA (K_AA + N_A)^-1 K_AM)`` from the
    joint posterior covariance (``N_A``: the runs' observation noise) -> ``b x m``.
    ``jitter``: added to ``K_AA``'s diagonal, relative to its mean."""
    b, m = A.shape[0], M.shape[0]
    Z = torch.cat([M.expand(b, m, -1), A], dim=-2)
    cov = model.posterior(Z).distribution.covariance_matrix
    noisy = model.posterior(A, observation_noise=True).variance.squeeze(-1)
    latent = model.posterior(A).variance.squeeze(-1)
    K_MA, K_AA = cov[..., :m, m:], cov[..., m:, m:]
    K_AA = K_AA + torch.diag_embed((noisy - latent).clamp_min(1e-12))
    if jitter:
        scale = K_AA.diagonal(dim1=-2, dim2=-1).abs().mean(-1).clamp_min(1e-12)
        K_AA = K_AA + jitter * scale[..., None, None] * torch.eye(K_AA.shape[-1]).to(K_AA)
    L = torch.linalg.cholesky(K_AA)
    W = torch.cholesky_solve(K_MA.transpose(-1, -2), L)  # b x a x m
    return (K_MA * W.transpose(-1, -2)).sum(-1)


def incumbent_best(
    X: Tensor,
    Y: Tensor,
    *,
    top_fidelity: int | None = None,
    log10_volume: float | None = None,
    maximize: bool = True,
) -> Tensor:
    """Best observed value among the **top-fidelity** rows (never lower levels).

    Args:
        X: ``n x (d + 1)`` training inputs (fidelity last).
        Y: ``n x 1`` (or ``n``) observations.
        top_fidelity: the measured level (default: the largest index in ``X``).
        log10_volume: if given and the top level has rows at that volume, only those count.
        maximize: best = largest (else smallest).

    Raises:
        InputDataError: no top-fidelity rows.

    >>> X = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.5, 1.0]])
    >>> incumbent_best(X, torch.tensor([9.0, 8.0, 1.0]), top_fidelity=1).item()
    1.0
    """
    fid = X[:, -1].round()
    top = int(fid.max().item()) if top_fidelity is None else int(top_fidelity)
    mask = fid == top
    if not bool(mask.any()):
        raise InputDataError(f"no top-fidelity (level {top}) observations for the incumbent")
    if log10_volume is not None:
        at = mask & ((X[:, 0] - log10_volume).abs() < 1e-9)
        if bool(at.any()):
            mask = at
    y = Y.reshape(-1)[mask]
    return y.max() if maximize else y.min()


def _model_tensors(model: Any) -> tuple[Tensor, Tensor]:
    """Training ``X`` (``n x (d + 1)``) and ``Y`` (``n x 1``) of an mfgp or BoTorch model."""
    X = getattr(model, "train_X_", None)
    Y = getattr(model, "train_Y_", None)
    if (X is None or Y is None) and hasattr(model, "train_inputs"):
        X, Y = model.train_inputs[0], model.train_targets.unsqueeze(-1)
    if X is None or Y is None:
        raise InputDataError("the model must be fitted (it has no training data)")
    return X, Y


def build_acquisition(
    model: Any,
    space: SearchSpace,
    *,
    goal: str,
    seed: int = 0,
    n_mc: int = 128,
    num_mv_samples: int = 10,
    num_y_samples: int = 64,
    closed_form: bool = True,
) -> AcquisitionFunction:
    """The cost-aware acquisition function of ``goal`` (see :mod:`mfgp.acquisition`).

    Args:
        model: a fitted model; its training tensors set device and dtype.
        space: the search space.
        goal: ``"learn"``, ``"optimise"`` or ``"ei"``.
        seed: seed of samplers and of the Sobol target set.
        n_mc: target-scale points (variance integration / max-value samples).
        num_mv_samples, num_y_samples: MF-MES Monte Carlo sizes.
        closed_form: for ``learn``, compute the variance reduction in closed form from the
            posterior covariance (default; exact for GPs and far cheaper: one posterior per
            batch of candidates instead of one conditioned model per candidate); ``False``
            fantasises each candidate with BoTorch's ``qNegIntegratedPosteriorVariance``.

    Returns:
        A BoTorch acquisition function of runs ``batch x 1 x (d + 1)``.
    """
    goal = _check_goal(goal)
    X_train, Y_train = _model_tensors(model)
    kw = {"dtype": X_train.dtype, "device": X_train.device}
    cost_model = OptionCostModel(space.options).to(**kw)
    if goal == "learn":
        mc = space.target_points(n_mc, seed=seed + 1, **kw)
        if closed_form or not hasattr(model, "fantasize"):
            return ClosedFormVarianceReduction(model, mc, cost_model)
        # a recursive AR1 conditions in joint mode (exact KOH given its hyperparameters): take
        # the baseline variance from the same joint posterior as the fantasies
        model = model.as_joint() if hasattr(model, "as_joint") else model
        return CostWeightedIntegratedVarianceReduction(model, mc, cost_model, seed=seed)
    if goal == "optimise":
        mc = space.target_points(n_mc, seed=seed + 1, **kw)
        with seeded(seed, X_train.device):
            acq = qMultiFidelityMaxValueEntropy(
                model,
                mc,
                num_fantasies=8,
                num_mv_samples=num_mv_samples,
                num_y_samples=num_y_samples,
                cost_aware_utility=InverseCostWeightedUtility(cost_model=cost_model),
                project=space.project,
            )
        return acq
    vols = {o.volume_L for o in space.options}
    logv = math.log10(vols.pop()) if len(vols) == 1 else None
    best = incumbent_best(X_train, Y_train, top_fidelity=space.top_fidelity, log10_volume=logv)
    return qLogExpectedImprovement(
        model, best_f=best, sampler=SobolQMCNormalSampler(torch.Size([128]), seed=seed)
    )


def _check_goal(goal: str) -> str:
    g = _GOAL_ALIASES.get(str(goal).lower())
    if g is None:
        raise InputDataError(f"unknown goal {goal!r}; choose one of {list(GOALS)}")
    return g
