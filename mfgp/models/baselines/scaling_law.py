"""``scaling_law``: the scaling-law surrogate alone as the prediction, and the surrogate helpers
shared with ``discrepancy``.

The surrogate is fitted on the **top-fidelity training rows** (lower levels are ignored: keep
it simple and comparable) and is, by the data's layout:

- time courses (a ``time_h`` feature): :class:`~mfgp.scaling.bases.ScalingLawSurrogate`, a
  growth curve per run whose parameters follow a scaling basis of ``log10 V``;
- end points (one row per run, no time column):
  :class:`~mfgp.scaling.endpoint_law.EndPointScalingLaw`, the (log) target linear in the
  scaling basis of ``log10 V`` and in the standardised operating variables.

Its predictive variance is the leave-one-scale-out residual variance (honest: each scale is
predicted by a surrogate that did not see it).

References:
    Garcia-Ochoa & Gomez (2009), Biotechnol. Adv. 27:153 (scale-dependent kinetics). Baranyi &
    Roberts (1994), Int. J. Food Microbiol. 23:277 (growth curves). Arlot & Celisse (2010),
    Stat. Surveys 4:40 (cross-validation for the predictive error).
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import Tensor

from mfgp.exceptions import InputDataError
from mfgp.models.base import ScaleUpModel, register_model
from mfgp.models.baselines.common import (
    TopLevelBaseline,
    data_layout,
    has_time_column,
    variance_floor,
)
from mfgp.scaling.bases import ScalingLawSurrogate, make_basis
from mfgp.scaling.endpoint_law import EndPointScalingLaw
from mfgp.scaling.growth import get_growth_model

__all__ = ["ScalingLawOnly", "Surrogate", "fit_surrogate", "make_surrogate", "surrogate_reason"]

log = logging.getLogger(__name__)

Surrogate = ScalingLawSurrogate | EndPointScalingLaw


def surrogate_config(growth: str, basis: str, surrogate_ridge: float) -> dict[str, Any]:
    """Validated surrogate options of ``scaling_law`` and ``discrepancy``."""
    get_growth_model(growth)
    make_basis(basis)
    if surrogate_ridge < 0:
        raise InputDataError(f"surrogate_ridge must be >= 0, got {surrogate_ridge}")
    return {"growth": growth, "basis": basis, "surrogate_ridge": float(surrogate_ridge)}


def make_surrogate(
    model: ScaleUpModel, n_features: int, dtype: torch.dtype, *, link: str = "auto"
) -> Surrogate:
    """The unfitted surrogate of ``model`` (its ``growth``, ``basis``, ``surrogate_ridge``) for
    ``n_features`` feature columns: growth curves on time courses, an end-point law (every
    operating variable, link ``link``) on end-point data (see the module docstring)."""
    cfg = model.config
    if has_time_column(model.metadata.get("feature_names"), n_features):
        return ScalingLawSurrogate(
            cfg["growth"], cfg["basis"], ridge=cfg["surrogate_ridge"], dtype=dtype
        )
    return EndPointScalingLaw(
        cfg["basis"],
        link=link,
        operating_columns=range(1, n_features),
        ridge=cfg["surrogate_ridge"],
        dtype=dtype,
    )


def fit_surrogate(surrogate: Surrogate, Xf: Tensor, y: Tensor) -> Surrogate:
    """Fit ``surrogate`` on features ``m x p`` and targets ``m``. The fit runs on CPU tensors (the
    growth-curve least squares is SciPy's anyway); the coefficients go to the surrogate's device.
    """
    return surrogate.fit_features(Xf.detach().cpu(), y.detach().cpu())


def surrogate_reason(model: ScaleUpModel, data: Any) -> str | None:
    """Why the surrogate of ``model`` cannot fit ``data``: fewer distinct measured volumes than
    its basis has coefficients in ``log10 V`` (``None`` when it can, or cannot tell)."""
    layout = data_layout(data)
    need = 1 + make_basis(model.config["basis"]).n_features
    if layout is not None and layout.top_volumes < need:
        return (
            f"needs measured runs at at least {need} volumes for the {model.config['basis']} "
            f"scaling basis; the data have {layout.top_volumes}"
        )
    return None


@register_model("scaling_law")
class ScalingLawOnly(TopLevelBaseline):
    """The scaling-law surrogate alone as the prediction, with a leave-one-scale-out variance.

    The surrogate (see the module docstring: growth curves on time courses, an
    :class:`~mfgp.scaling.endpoint_law.EndPointScalingLaw` on end-point data) is fitted on the
    **top-fidelity rows** and evaluated at ``X`` (time courses: columns ``log10_volume_L``,
    ``time_h``, other features ignored; end points: ``log10_volume_L`` and every operating
    variable). Variance: every training scale is predicted by a surrogate fitted on the other
    scales; the mean squared leave-one-scale-out residual is the predictive variance of a new
    observation, and the in-sample mean squared residual is taken as the observation noise (the
    latent variance is their difference, floored at 10 % of the total). With fewer than 3 scales
    the in-sample residual variance is used for both (and a warning is logged).

    Args:
        growth: ``"baranyi"`` (default), ``"logistic"`` or ``"gompertz"`` (time courses).
        basis: ``"power"`` (default), ``"log"`` or ``"piecewise"``.
        surrogate_ridge: ridge penalty of the surrogate's regression.

    Example:
        >>> import torch
        >>> from mfgp.scaling.growth import logistic
        >>> v = torch.tensor([0.0, 1.0, 2.0]).double().repeat_interleave(8)
        >>> t = torch.linspace(0, 40, 8).double().repeat(3)
        >>> p = torch.stack([0.1 + 0 * v, 10 * 10 ** (-0.1 * v), 0.3 + 0 * v], -1)
        >>> X = torch.stack([v, t, torch.zeros_like(v)], -1)
        >>> m = ScalingLawOnly(growth="logistic").fit((X, logistic(t, p).unsqueeze(-1)))
        >>> m.predict(X[:2]).mean.shape
        torch.Size([2])
    """

    def __init__(
        self, *, growth: str = "baranyi", basis: str = "power", surrogate_ridge: float = 1e-3
    ) -> None:
        super().__init__(**surrogate_config(growth, basis, surrogate_ridge))

    def applicability(self, data: Any) -> str | None:
        """A reason for too few measured rows or volumes (see :func:`surrogate_reason`)."""
        return super().applicability(data) or surrogate_reason(self, data)

    def _build_top(self, Xf: Tensor, Y: Tensor) -> None:
        self.surrogate_ = make_surrogate(self, Xf.shape[-1], Xf.dtype)
        dt = dict(dtype=Xf.dtype, device=Xf.device)
        self.register_buffer("latent_var_", torch.ones((), **dt))
        self.register_buffer("noise_var_", torch.ones((), **dt))

    def _fold_surrogate(self, Xf: Tensor) -> Surrogate:
        """A fresh surrogate for a leave-one-scale-out fold (an end-point law keeps the link of
        the full fit, so that every fold models the same quantity)."""
        link = getattr(self.surrogate_, "link_", "auto")
        return make_surrogate(self, Xf.shape[-1], Xf.dtype, link=link)

    def _optimize(self, *, seed: int | None, **options: Any) -> None:
        Xf, Y = self.top_rows_
        y = Y.squeeze(-1)
        fit_surrogate(self.surrogate_, Xf, y)
        in_sample = ((self.surrogate_(Xf) - y) ** 2).mean()
        v = torch.round(Xf[:, 0] * 1e9) / 1e9
        scales = torch.unique(v)
        if scales.numel() >= 3:
            sq = torch.zeros_like(y)
            for s in scales:
                test = v == s
                held = fit_surrogate(self._fold_surrogate(Xf), Xf[~test], y[~test])
                sq[test] = (held(Xf[test]) - y[test]) ** 2
            total = torch.maximum(sq.mean(), in_sample)
        else:
            log.warning("scaling_law: fewer than 3 scales; variance from in-sample residuals")
            total = 2 * in_sample
        floor = variance_floor(y.dtype)
        self.noise_var_.fill_(float(in_sample.clamp_min(floor)))
        self.latent_var_.fill_(
            float(torch.maximum(total - in_sample, 0.1 * total).clamp_min(floor))
        )

    def _mean_var(self, Xf: Tensor, observation_noise: bool = False) -> tuple[Tensor, Tensor]:
        mean = self.surrogate_(Xf)
        var = (self.latent_var_ + (self.noise_var_ if observation_noise else 0.0)).expand_as(mean)
        return mean, var
