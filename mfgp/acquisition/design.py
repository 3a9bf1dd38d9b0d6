"""Choosing the next runs: sequential greedy batches over the feasible candidate set
(:func:`sequential_greedy`), :func:`suggest` and its :class:`Suggestions` table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import torch
from botorch.acquisition import AcquisitionFunction
from botorch.optim.optimize import optimize_acqf_discrete
from torch import Tensor

from mfgp import progress
from mfgp.acquisition.functions import (
    OptionCostModel,
    _check_goal,
    _model_tensors,
    build_acquisition,
)
from mfgp.acquisition.space import SearchSpace
from mfgp.exceptions import InputDataError
from mfgp.models.base import seeded

__all__ = ["Suggestions", "format_suggestions", "sequential_greedy", "suggest"]


def sequential_greedy(
    acq: AcquisitionFunction, *, q: int, choices: Tensor, max_batch_size: int = 2048
) -> tuple[Tensor, Tensor]:
    """Pick ``q`` of ``choices`` (``n x d``) one at a time, each conditioned on the ones before
    as pending points: BoTorch's :func:`~botorch.optim.optimize.optimize_acqf_discrete` for
    ``q > 1``, one call per pick so that progress can be shown.

    Returns:
        ``q x d`` picks (fewer when fewer choices exist) and their ``q`` acquisition values.
    """
    base = acq.X_pending
    q = min(int(q), int(choices.shape[0]))
    picked: list[Tensor] = []
    values: list[Tensor] = []
    remaining = choices
    try:
        for i in progress.steps(range(q), desc="choosing runs", label=lambda i: f"run {i + 1}"):
            x, v = optimize_acqf_discrete(
                acq, q=1, choices=remaining, max_batch_size=max_batch_size
            )
            picked.append(x)
            values.append(v.reshape(()))
            if i + 1 < q:
                chosen = torch.cat(picked, dim=-2)
                acq.set_X_pending(chosen if base is None else torch.cat([base, chosen], dim=-2))
                remaining = remaining[~(remaining == x).all(dim=-1)]
    finally:
        acq.set_X_pending(base)
    return torch.cat(picked, dim=-2), torch.stack(values)


def _predict(model: Any, X: Tensor) -> tuple[Tensor, Tensor]:
    """Pointwise mean and sd at ``X`` (``n x (d + 1)``): ``predict`` or the posterior."""
    with torch.no_grad():
        if hasattr(model, "predict"):
            p = model.predict(X)
            return p.mean.reshape(-1), p.sd.reshape(-1)
        post = model.posterior(X)
        return post.mean.reshape(-1), post.variance.clamp_min(0).sqrt().reshape(-1)


@dataclass
class Suggestions:
    """Proposed runs.

    Attributes:
        frame: one row per run (rank, option, fidelity, volume, operating variables, cost,
            expected gain, gain per cost, predicted mean and sd at the run's scale and at the
            target volume).
        X: ``q x (d + 1)`` model inputs of the runs.
        goal: the goal used.
    """

    frame: pd.DataFrame
    X: Tensor
    goal: str


def suggest(
    model: Any,
    space: SearchSpace,
    *,
    goal: str = "learn",
    q: int = 1,
    seed: int = 0,
    n_candidates: int = 512,
    n_mc: int = 128,
    fidelity_names: Sequence[str] | None = None,
) -> Suggestions:
    """Propose the next ``q`` runs (sequential greedy, feasible candidate set).

    Args:
        model: a fitted :class:`~mfgp.models.base.ScaleUpModel` (``fantasize`` needed for
            ``learn``, ``optimise`` and ``q > 1``).
        space: the :class:`SearchSpace`.
        goal: ``"learn"`` (integrated variance at the target volume, per cost), ``"optimise"``
            (cost-aware multi-fidelity max-value entropy at the target volume) or ``"ei"``
            (qLogEI at the options' scale, incumbent from top-fidelity data only).
        q: number of runs.
        seed: seed of the candidate set and of every sampler.
        n_candidates: Sobol operating points per option before feasibility filtering.
        n_mc: target-scale points.
        fidelity_names: level names for the output (default: the model's metadata).

    Returns:
        :class:`Suggestions`.

    Raises:
        InputDataError: bad goal or ``q``, or an empty feasible set.
    """
    goal = _check_goal(goal)
    if not isinstance(q, int) or q < 1:
        raise InputDataError(f"q must be an integer >= 1, got {q!r}")
    X_train, _ = _model_tensors(model)
    if goal == "optimise" and q > 1 and not hasattr(model, "fantasize"):
        raise InputDataError(
            f"goal 'optimise' with q > 1 needs a model with fantasize (e.g. ar1); "
            f"{type(model).__name__} has none: use q = 1 or goal 'learn'"
        )
    kw = {"dtype": X_train.dtype, "device": X_train.device}
    cands = space.candidates(n_candidates, seed=seed, **kw)
    if goal == "ei":
        cands = cands[cands[:, -1] == space.top_fidelity]
        if cands.shape[0] == 0:
            raise InputDataError("goal 'ei' needs an option at the top fidelity")
    with seeded(seed, X_train.device):
        acq = build_acquisition(model, space, goal=goal, seed=seed, n_mc=n_mc)
        X, values = sequential_greedy(acq, q=q, choices=cands, max_batch_size=256)
    values = values.reshape(-1)
    cost_model = OptionCostModel(space.options).to(**kw)
    with torch.no_grad():
        costs = cost_model(X.unsqueeze(-2)).reshape(-1)
    run_mean, run_sd = _predict(model, X)
    tgt_mean, tgt_sd = _predict(model, space.project(X))
    names = list(fidelity_names or getattr(model, "metadata", {}).get("fidelity_names", []) or [])
    idx = space.option_index(X).tolist()
    rows = []
    for i in range(X.shape[0]):
        o = space.options[idx[i]]
        # learn/optimise values are gain / cost (deterministic cost); ei is not cost-weighted
        gain = float(values[i]) * float(costs[i]) if goal != "ei" else float(values[i])
        row: dict[str, Any] = {
            "rank": i + 1,
            "option": o.name,
            "fidelity": names[o.fidelity] if o.fidelity < len(names) else o.fidelity,
            "volume_L": o.volume_L,
        }
        for j, name in enumerate(space.feature_names[1:], start=1):
            row[name] = float(X[i, j])
        row.update(
            {
                "cost": float(costs[i]),
                "expected_gain": gain,
                "gain_per_cost": gain / float(costs[i]),
                "mean_run": float(run_mean[i]),
                "sd_run": float(run_sd[i]),
                "target_volume_L": space.target_volume_L,
                "mean_target": float(tgt_mean[i]),
                "sd_target": float(tgt_sd[i]),
            }
        )
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame.attrs["gain_unit"] = {
        "learn": "integrated variance reduction at the target volume (data units^2)",
        "optimise": "max-value entropy information gain (nats)",
        "ei": "log expected improvement at the run's scale",
    }[goal]
    return Suggestions(frame=frame, X=X, goal=goal)


def format_suggestions(frame: pd.DataFrame) -> str:
    """A compact text table of :attr:`Suggestions.frame` for the terminal."""
    return frame.to_string(index=False, float_format=lambda x: f"{x:.4g}")
