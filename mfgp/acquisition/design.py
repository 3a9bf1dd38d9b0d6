"""Choosing the next runs: sequential greedy batches over the feasible candidate set
(:func:`sequential_greedy`), :func:`suggest` and its :class:`Suggestions` table in the
engineer's terms (vessel, rounded settings, cost, the production band now and after, a
reason)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import torch
from botorch.acquisition import AcquisitionFunction
from botorch.optim.optimize import optimize_acqf_discrete
from torch import Tensor

from mfgp import progress
from mfgp.acquisition.advice import (
    SetPoint,
    band_after,
    outcome,
    reason,
    set_point,
    settings_of,
)
from mfgp.acquisition.functions import (
    OptionCostModel,
    _check_goal,
    _model_tensors,
    build_acquisition,
)
from mfgp.acquisition.space import SearchSpace
from mfgp.exceptions import InputDataError
from mfgp.fit import seeded

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
        frame: one row per run: rank, vessel, option, level (``fidelity``), volume, the
            settings (operating variables rounded to instrument precision, and the fixed
            values such as the end time), cost, the production prediction at the run's
            settings carried to the target volume (``production_mean``, its 95 % band now
            ``production_lower95``/``production_upper95``, the width now and expected after
            this run and those ranked above it, ``width95_now``/``width95_after``), a plain
            ``reason``, and the acquisition values (``expected_gain``, ``gain_per_cost``).
        X: ``q x (d + 1)`` model inputs of the runs.
        goal: the goal used.
        summary: the mean production 95 % width over the production window now and after the
            batch (``window_width95_now``/``_after``), the cost unit and the total cost.
        set_point: the recommended production operating point (``optimise``), else None.
    """

    frame: pd.DataFrame
    X: Tensor
    goal: str
    summary: dict[str, Any] = field(default_factory=dict)
    set_point: SetPoint | None = None


def suggest(
    model: Any,
    space: SearchSpace,
    *,
    goal: str = "learn",
    q: int = 1,
    seed: int = 0,
    n_candidates: int = 256,
    n_mc: int = 128,
    fidelity_names: Sequence[str] | None = None,
    X_pending: Tensor | None = None,
    target: str | None = None,
    positive: bool | None = None,
    spec: float | None = None,
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
        X_pending: ``p x (d + 1)`` runs already planned but not measured: the proposals are
            conditioned on them (as pending points) and never repeat them.
        target: the response's name, for the reasons (default: the model's metadata).
        positive: the response is positive (bands conditioned on it; default: every training
            value is > 0).
        spec: with ``optimise``, the probability that the set point meets ``value >= spec``.

    Returns:
        :class:`Suggestions`.

    Raises:
        InputDataError: bad goal or ``q``, or an empty feasible set.
    """
    goal = _check_goal(goal)
    if not isinstance(q, int) or q < 1:
        raise InputDataError(f"q must be an integer >= 1, got {q!r}")
    X_train, Y_train = _model_tensors(model)
    if goal == "optimise" and q > 1 and not hasattr(model, "fantasize"):
        raise InputDataError(
            f"goal 'optimise' with q > 1 needs a model with fantasize (e.g. ar1); "
            f"{type(model).__name__} has none: use q = 1 or goal 'learn'"
        )
    kw = {"dtype": X_train.dtype, "device": X_train.device}
    pending = None if X_pending is None or X_pending.numel() == 0 else X_pending.to(**kw)
    cands = space.candidates(n_candidates, seed=seed, exclude=pending, **kw)
    if goal == "ei":
        cands = cands[cands[:, -1] == space.top_fidelity]
        if cands.shape[0] == 0:
            raise InputDataError("goal 'ei' needs an option at the top fidelity")
    with seeded(seed, X_train.device):
        acq = build_acquisition(model, space, goal=goal, seed=seed, n_mc=n_mc)
        if pending is not None:
            acq.set_X_pending(pending)
        X, values = sequential_greedy(acq, q=q, choices=cands, max_batch_size=256)
    values = values.reshape(-1)
    cost_model = OptionCostModel(space.options).to(**kw)
    with torch.no_grad():
        costs = cost_model(X.unsqueeze(-2)).reshape(-1)
    if positive is None:
        positive = bool((Y_train > 0).all())
    run_mean, run_sd = _predict(model, X)
    P = space.project(X)
    with torch.no_grad():
        prod = outcome(model, P, positive=positive)
    width_now = (prod.upper - prod.lower).reshape(-1)
    base = pending if pending is not None else X[:0]
    factor = torch.stack(
        [band_after(model, P[i : i + 1], torch.cat([base, X[: i + 1]]))[0] for i in range(len(X))]
    )
    width_after = width_now * factor
    meta = getattr(model, "metadata", {}) or {}
    names = list(fidelity_names or meta.get("fidelity_names", []) or [])
    target = target or meta.get("target") or "the response"
    idx = space.option_index(X).tolist()
    rows = []
    for i in range(X.shape[0]):
        o = space.options[idx[i]]
        # learn/optimise values are gain / cost (deterministic cost); ei is not cost-weighted
        gain = float(values[i]) * float(costs[i]) if goal != "ei" else float(values[i])
        level = names[o.fidelity] if o.fidelity < len(names) else o.fidelity
        row: dict[str, Any] = {
            "rank": i + 1,
            "vessel": o.vessel,
            "option": o.name,
            "fidelity": level,
            "volume_L": o.volume_L,
        }
        row.update(settings_of(space, X[i]))
        row.update(
            {
                "cost": float(costs[i]),
                "target_volume_L": space.target_volume_L,
                "production_mean": float(prod.mean.reshape(-1)[i]),
                "production_lower95": float(prod.lower.reshape(-1)[i]),
                "production_upper95": float(prod.upper.reshape(-1)[i]),
                "width95_now": float(width_now[i]),
                "width95_after": float(width_after[i]),
                "reason": reason(
                    space,
                    o,
                    X[i],
                    X_train,
                    target=target,
                    fidelity_name=str(level),
                    width_now=float(width_now[i]),
                    width_after=float(width_after[i]),
                    goal=goal,
                ),
                "expected_gain": gain,
                "gain_per_cost": gain / float(costs[i]),
                "mean_run": float(run_mean[i]),
                "sd_run": float(run_sd[i]),
            }
        )
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame.attrs["gain_unit"] = {
        "learn": "integrated variance reduction at the target volume (data units^2)",
        "optimise": "max-value entropy information gain (nats)",
        "ei": "log expected improvement at the run's scale",
    }[goal]
    frame.attrs["cost_unit"] = space.cost_unit
    summary = _window_summary(model, space, X, base, positive, seed, kw)
    summary.update({"cost_unit": space.cost_unit, "total_cost": float(costs.sum())})
    point = None
    if goal == "optimise":
        point = set_point(model, space, positive=positive, spec=spec, seed=seed)
    return Suggestions(frame=frame, X=X, goal=goal, summary=summary, set_point=point)


def _window_summary(
    model: Any,
    space: SearchSpace,
    X: Tensor,
    pending: Tensor,
    positive: bool,
    seed: int,
    kw: dict[str, Any],
) -> dict[str, Any]:
    """Mean production 95 % width over the production window, now and after the batch."""
    M = space.target_points(128, seed=seed + 3, **kw)
    with torch.no_grad():
        pred = outcome(model, M, positive=positive)
    now = (pred.upper - pred.lower).reshape(-1)
    after = now * band_after(model, M, torch.cat([pending, X]))
    return {
        "target_volume_L": space.target_volume_L,
        "window_width95_now": float(now.mean()),
        "window_width95_after": float(after.mean()),
        "window_points": int(M.shape[0]),
    }


def format_suggestions(frame: pd.DataFrame) -> str:
    """The engineer's table of :attr:`Suggestions.frame` for the terminal: vessel, settings,
    cost, the production band now and the width after (the reasons follow, one per line)."""
    drop = {"option", "target_volume_L", "expected_gain", "gain_per_cost", "mean_run", "sd_run"}
    drop |= {"reason", "production_mean"}
    shown = frame[[c for c in frame.columns if c not in drop]].copy()
    if "production_lower95" in shown:
        shown.insert(
            list(shown.columns).index("production_lower95"),
            "production now (95 %)",
            [
                f"{m:.3g} [{lo:.3g}, {hi:.3g}]"
                for m, lo, hi in zip(
                    frame["production_mean"],
                    frame["production_lower95"],
                    frame["production_upper95"],
                    strict=True,
                )
            ],
        )
        shown = shown.drop(columns=["production_lower95", "production_upper95"])
    unit = frame.attrs.get("cost_unit")
    if unit:
        shown = shown.rename(columns={"cost": f"cost ({unit})"})
    text = shown.to_string(index=False, float_format=lambda x: f"{x:.4g}")
    if "reason" in frame:
        text += "\n" + "\n".join(
            f"  {r}. {why}" for r, why in zip(frame["rank"], frame["reason"], strict=True)
        )
    return text
