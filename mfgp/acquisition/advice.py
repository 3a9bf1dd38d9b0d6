"""What a proposal means for the engineer: the production band now and expected after the
runs, a plain reason for each run, and the recommended production set point.

The expected band after a run: for a GP with fixed hyperparameters, measuring runs ``A``
(noise ``N_A``) lowers the posterior variance at a production point ``p`` by
``k_pA (K_AA + N_A)^-1 k_Ap`` whatever the outcome (the joint posterior, no fantasies). The
95 % width after is the width now times ``sqrt((v_after + n_p) / (v_now + n_p))``, the ratio of
the predictive spreads before and after (``n_p``: the observation noise at ``p``): exact for a
Gaussian prediction, an approximation for log-normal and truncated ones. Written here: BoTorch
gives the variance reduction only as an integrated acquisition value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from mfgp.acquisition.functions import variance_reduction
from mfgp.acquisition.space import SearchSpace
from mfgp.acquisition.vessels import ScaleOption, step_digits
from mfgp.prediction import Prediction
from mfgp.scaling.vessels import vessel_label
from mfgp.selection import predict_outcome

__all__ = ["SetPoint", "band_after", "outcome", "reason", "set_point", "settings_of"]


def outcome(model: Any, X: Tensor, *, positive: bool) -> Prediction:
    """The predictive distribution of a measurement at ``X``: an mfgp model's own
    (:func:`mfgp.selection.predict_outcome`, with ``auto``'s calibration), or the Gaussian of a
    BoTorch model's posterior with observation noise."""
    if hasattr(model, "predict"):
        return predict_outcome(model, X, positive=positive)
    with torch.no_grad():
        post = model.posterior(X, observation_noise=True)
    pred = Prediction.gaussian(post.mean.reshape(-1), post.variance.reshape(-1))
    return pred.truncated(0.0) if positive else pred


def _posterior_parts(model: Any, M: Tensor, A: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Latent variance now at ``M``, its reduction by measuring ``A``, the noise at ``M``."""
    with torch.no_grad():
        latent_M = model.posterior(M).variance.reshape(-1)
        noise_M = model.posterior(M, observation_noise=True).variance.reshape(-1) - latent_M
        if A.shape[0] == 0:
            return latent_M, torch.zeros_like(latent_M), noise_M.clamp_min(0)
        reduction = variance_reduction(model, M, A.unsqueeze(0), jitter=1e-10)[0].clamp_min(0)
    return latent_M, torch.minimum(reduction, latent_M), noise_M.clamp_min(0)


def band_after(model: Any, M: Tensor, A: Tensor) -> Tensor:
    """The factor on the 95 % width at production points ``M`` once runs ``A`` are measured
    (``<= 1``; see the module docstring); NaN where the model has no joint posterior."""
    try:
        latent, reduction, noise = _posterior_parts(model, M, A)
    except (AttributeError, NotImplementedError, RuntimeError, ValueError):
        return torch.full((M.shape[0],), float("nan"), dtype=M.dtype, device=M.device)
    now = latent + noise
    return torch.sqrt((now - reduction).clamp_min(0) / now.clamp_min(1e-300))


def settings_of(space: SearchSpace, x: Tensor) -> dict[str, Any]:
    """The settings of a run ``x`` (``d + 1``) by column: the operating variables and fixed
    values (not the volume), each categorical factor as its level.

    >>> from mfgp.acquisition.vessels import ScaleOption
    >>> s = SearchSpace(["log10_volume_L", "rpm", "c=A", "c=B"], {"rpm": (1.0, 9.0)}, {},
    ...     [ScaleOption("2 L", 0, 2.0, 1.0)], 1e4, 0, categories={"c": ["c=A", "c=B"]})
    >>> settings_of(s, torch.tensor([0.3, 5.0, 0.0, 1.0, 0.0]))
    {'rpm': 5.0, 'c': 'B'}
    """
    out: dict[str, Any] = {}
    indicators = {c: g for g, cols in space.categories.items() for c in cols}
    for j, name in enumerate(space.feature_names[1:], start=1):
        group = indicators.get(name)
        if group is None and "=" in name and name in space.fixed:
            group = name.split("=", 1)[0]
        if group is not None:
            if float(x[j]) > 0.5:
                out[group] = name.split("=", 1)[1]
            continue
        digits = step_digits(float(space.steps.get(name, 0.0)))
        out[name] = float(x[j]) if digits is None else round(float(x[j]), digits)
    return out


def _nearest_gap(space: SearchSpace, x: Tensor, X_train: Tensor) -> tuple[str, float, float]:
    """The variable in which ``x`` differs most from the nearest earlier run of its vessel and
    level (relative to the window): ``(name, value, nearest value)``; ``("", nan, nan)`` when
    the vessel has no runs or nothing is free."""
    free = space.free_names
    same = ((X_train[:, 0] - x[0]).abs() < 1e-9) & (X_train[:, -1] == x[-1])
    if not free or not bool(same.any()):
        return "", math.nan, math.nan
    o = space.options[int(space.option_index(x.unsqueeze(0))[0])]
    window = space.window(o)
    idx = [space.feature_names.index(n) for n in free]
    span = torch.tensor([max(window[n][1] - window[n][0], 1e-12) for n in free]).to(x)
    rel = (X_train[same][:, idx] - x[idx]) / span
    k = int(rel.norm(dim=-1).argmin())
    j = int(rel[k].abs().argmax())
    if float(rel[k].norm()) < 0.2:
        return "", math.nan, math.nan
    return free[j], float(x[idx[j]]), float(X_train[same][k, idx[j]])


def reason(
    space: SearchSpace,
    option: ScaleOption,
    x: Tensor,
    X_train: Tensor,
    *,
    target: str,
    fidelity_name: str,
    width_now: float,
    width_after: float,
    goal: str,
) -> str:
    """One plain sentence on why the run is proposed."""
    top = space.top_fidelity
    measured = sorted(
        {float(10.0 ** float(v)) for v in X_train[X_train[:, -1] == top][:, 0].unique()}
    )
    target_name = vessel_label(space.target_volume_L)
    here = vessel_label(option.volume_L)
    if option.fidelity < top:
        text = (
            f"a cheap {fidelity_name} run at {vessel_label(option.volume_L)}: it corrects the "
            f"{fidelity_name} level where the {target_name} prediction leans on it"
        )
    elif measured and option.volume_L >= max(measured) - 1e-9:
        text = f"pins down how {target} changes from {here} to {target_name}"
    elif measured and option.volume_L > min(measured) + 1e-9:
        above = min(v for v in measured if v > option.volume_L + 1e-9)
        text = f"adds a point on the scale-up curve between {here} and {vessel_label(above)}"
    else:
        text = f"a cheap {here} run"
    name, value, near = _nearest_gap(space, x, X_train)
    if name:
        digits = step_digits(float(space.steps.get(name, 0.0)))
        digits = 3 if digits is None else digits
        text += (
            f" at settings not tried there yet ({name} {value:.{digits}f}; nearest run "
            f"{near:.{digits}f})"
        )
    if goal == "optimise":
        text += f", where {target} at {target_name} may be highest"
    if math.isfinite(width_after) and width_now > 0:
        cut = 100.0 * (1.0 - width_after / width_now)
        text += f"; the {target_name} band narrows by {cut:.2g} %"
    return text


@dataclass
class SetPoint:
    """The recommended production operating point (``optimise``).

    Attributes:
        settings: ``{variable: value}`` at the target volume (rounded to the instrument steps).
        mean, lower, upper: the predicted value there and its 95 % band.
        spec: the specification asked for, or None.
        probability: ``P(value >= spec)`` under the predictive distribution, or None.
        X: the model input of the point (``1 x (d + 1)``).
    """

    settings: dict[str, float]
    mean: float
    lower: float
    upper: float
    spec: float | None
    probability: float | None
    X: Tensor

    def to_dict(self) -> dict[str, Any]:
        return {
            "settings": dict(self.settings),
            "mean": self.mean,
            "lower95": self.lower,
            "upper95": self.upper,
            "spec": self.spec,
            "probability_meets_spec": self.probability,
        }


def set_point(
    model: Any,
    space: SearchSpace,
    *,
    positive: bool,
    spec: float | None = None,
    n: int = 1024,
    seed: int = 0,
) -> SetPoint:
    """The production point of the largest predicted mean among ``n`` feasible Sobol points
    of the production window (at the target volume and the top level)."""
    X_train = getattr(model, "train_X_", None)
    X_train = X_train if X_train is not None else model.train_inputs[0]
    P = space.target_points(n, seed=seed + 7, dtype=X_train.dtype, device=X_train.device)
    with torch.no_grad():
        pred = outcome(model, P, positive=positive)
    i = int(torch.argmax(pred.mean))
    best = pred.select(slice(i, i + 1))
    prob = None
    if spec is not None:
        value = torch.tensor(float(spec), dtype=P.dtype, device=P.device)
        prob = float(1.0 - best.predictive.cdf(value).reshape(-1)[0])
    return SetPoint(
        settings=settings_of(space, P[i]),
        mean=float(best.mean.reshape(-1)[0]),
        lower=float(best.lower.reshape(-1)[0]),
        upper=float(best.upper.reshape(-1)[0]),
        spec=None if spec is None else float(spec),
        probability=prob,
        X=P[i : i + 1],
    )
