"""``hybrid``: the AR1 co-kriging model that brings its own scaling-law low fidelity.

The seed project's name for the multi-fidelity model. With lower-fidelity rows in the data it is
exactly :class:`~mfgp.models.ar1.AR1MultiFidelityGP`. With **measurements only** (one fidelity
level, as in the seed file ``scale, V, t, C``) and no ``level0`` given, it fits a scaling-law
surrogate on the rows passed to :meth:`fit` (the training volumes only: no held-out row reaches
any fitted quantity) and uses it as a known level 0:

    f_meas(x) = rho(x) * surrogate(x) + delta(x).

The surrogate is a :class:`~mfgp.scaling.bases.ScalingLawSurrogate` (a growth curve per run whose
parameters are power laws of the volume) on time courses, and an
:class:`~mfgp.scaling.endpoint_law.EndPointScalingLaw` (the log target, or the target when some
value is <= 0, linear in a scaling basis of log10 V and in the standardised operating variables)
on end-point data (one row per run, no time column). The scaling basis (power law, log law or
piecewise log-linear in V) is chosen by leave-one-scale-out error on the training volumes
(``surrogate={"basis": "auto"}``, the default): each volume but the smallest is left out in
turn, the surrogate is refitted on the others and scored on it; the basis with the lowest mean
RMSE wins. A fixed basis can be given instead.

**Physics level.** The cheap level may instead be a :class:`~mfgp.physics.PhysicsLevel`: the
capacity of every vessel (P/V, kLa and OTR_max, cooling, mixing time, dissolved CO2) from the
operating point and the vessel geometry (the ``physics={"vessels": ...}`` option, or geometric
similarity defaults), paired with a compact kinetic model calibrated on the training runs; it
bends where a vessel's capacity falls short of the culture's demand. ``cheap_level="auto"``
(the default) considers it only when the vessels are described (``physics={"vessels":
...}``, or a suggest config's ``[vessels]``): a physics level on default vessels is a guess
about the plant, and is used only when asked for (``cheap_level="physics"``). With described
vessels it chooses between the two by forward-chaining error: the whole model, with each
level in turn, predicts the harvest of each of the two largest training volumes (with at
least two smaller ones) from the smaller volumes only, and the level with the lower summed
RMSE over the folds both could fit wins (the scaling law on ties; on tensor input without
volumes to chain, the two levels alone are compared the same way; with fewer than three
measured volumes, nothing to compare, the physics level). The
physics level's calibration uncertainty (its covariance over drawn parameter sets) is added to
the posterior: ``Cov = Cov_GP + rho(x) rho(x') Cov_physics(x, x')``, so that bands, the
acquisition functions and the suggestions all see it.

The measurements become level 1 inside the model; to the user they stay fidelity 0 (the only
level of the data), so ``X`` is the same as for any other model.
"""

from __future__ import annotations

import logging
import math
import warnings
from typing import Any

import torch
from torch import Tensor

from mfgp.data import ScaleUpData, endpoint_mask, forward_chaining
from mfgp.exceptions import InputDataError, MFGPError, MFGPWarning
from mfgp.models.ar1 import AR1MultiFidelityGP
from mfgp.models.base import Prediction, as_training_tensors, register_model
from mfgp.models.baselines.common import data_layout, has_time_column
from mfgp.physics import CAPACITY_GROUPS, PhysicsLevel, VesselSet, capacity_groups, target_kind
from mfgp.scaling.bases import ScalingLawSurrogate
from mfgp.scaling.correlations import AIR_O2_FRACTION
from mfgp.scaling.endpoint_law import (
    ENDPOINT_BASES,
    EndPointScalingLaw,
    build_surrogate,
    endpoint_link,
)
from mfgp.scaling.vessels import physics_role

__all__ = [
    "CHEAP_LEVELS",
    "PHYSICS_INPUTS",
    "HybridGP",
    "forward_chaining_rmse",
    "select_surrogate_basis",
]

log = logging.getLogger(__name__)

BASES = ("power", "log", "piecewise")
#: what ``cheap_level`` may be.
CHEAP_LEVELS = ("auto", "physics", "scaling_law")
#: the capacity groups ``physics_inputs=True`` gives the GP (log10 of each).
PHYSICS_INPUTS = ("kla_per_h", "heat_our_max", "mixing_time_s")
#: surrogate options that only growth-curve surrogates have (left out on end-point data)
_GROWTH_ONLY = ("growth", "floor")


def _check_vessels(physics: dict[str, Any]) -> None:
    """Build the vessels of a ``physics`` option once when the model is made, so that a table
    that cannot be built is an error then, not when a validation fold first builds the physics
    level (where a failure only scores the level)."""
    try:
        VesselSet.from_config(
            physics.get("vessels"),
            temperature_C=float(physics.get("temperature_C", 37.0)),
            o2_fraction=float(physics.get("o2_fraction", AIR_O2_FRACTION)),
        )
    except InputDataError as err:
        raise InputDataError(f"physics: {err}") from None


def select_surrogate_basis(
    X_feat: Tensor,
    y: Tensor,
    *,
    groups: list[str] | None = None,
    candidates: tuple[str, ...] = BASES,
    surrogate_cls: type[ScalingLawSurrogate] | type[EndPointScalingLaw] = ScalingLawSurrogate,
    **options: Any,
) -> tuple[str, dict[str, float]]:
    """Choose the scaling basis of a surrogate by leave-one-scale-out RMSE.

    Args:
        X_feat: ``n x d`` features (``log10_volume_L`` first; ``time_h`` second for the
            growth-curve surrogate).
        y: ``n`` observations.
        groups: optional run label per row.
        candidates: basis names to compare.
        surrogate_cls: :class:`~mfgp.scaling.bases.ScalingLawSurrogate` (time courses, the
            default) or :class:`~mfgp.scaling.endpoint_law.EndPointScalingLaw` (end points).
        **options: other arguments of ``surrogate_cls``.

    Returns:
        ``(best basis, {basis: mean leave-one-scale-out RMSE})``; a basis that cannot be fitted
        with one volume left out scores ``inf``. With fewer than three volumes there is nothing
        to compare and the first candidate is returned.

    Example:
        >>> lv = torch.tensor([0.0, 1.0, 2.0, 3.0], dtype=torch.float64).repeat_interleave(2)
        >>> y = 4.0 * (10**lv) ** -0.05 * (1 + 0.01 * torch.sin(7 * lv))
        >>> best, scores = select_surrogate_basis(
        ...     lv.unsqueeze(-1), y, candidates=ENDPOINT_BASES, surrogate_cls=EndPointScalingLaw
        ... )
        >>> sorted(scores), best in scores
        (['piecewise', 'power'], True)
    """
    lv = X_feat[:, 0]
    vols = torch.unique(lv)
    scores: dict[str, float] = {}
    if vols.numel() < 3:
        return candidates[0], scores
    splits = [(lv != v, lv == v) for v in vols[1:]]
    for basis in candidates:

        def make(basis: str = basis) -> Any:
            return surrogate_cls(basis=basis, **options)

        errs = _fold_rmse(make, X_feat, y, groups, splits)
        scores[basis] = sum(errs) / len(errs)
    best = min(scores, key=lambda b: scores[b])
    log.info("surrogate basis by leave-one-scale-out RMSE: %s (%s)", best, scores)
    return best, scores


def forward_chaining_rmse(
    make: Any, X_feat: Tensor, y: Tensor, *, groups: list[str] | None = None, folds: int = 2
) -> list[float]:
    """RMSE of a level predicting each of the ``folds`` largest volumes from the smaller ones
    only (each fold keeps at least two smaller volumes); ``inf`` for a fold where it cannot be
    fitted; an empty list when there is no such fold.

    Args:
        make: a callable returning an unfitted level with ``fit_features`` (a fresh one per
            fold).
        X_feat, y, groups: as in :func:`select_surrogate_basis`.
    """
    lv = X_feat[:, 0]
    vols = torch.unique(lv)
    splits = [(lv < v, lv == v) for v in vols[max(2, vols.numel() - folds) :]]
    return _fold_rmse(make, X_feat, y, groups, splits)


def _fold_rmse(
    make: Any,
    X_feat: Tensor,
    y: Tensor,
    groups: list[str] | None,
    splits: list[tuple[Tensor, Tensor]],
) -> list[float]:
    """RMSE of a fresh level (``make()``) fitted on each split's ``train`` rows and evaluated
    on its ``test`` rows; ``inf`` where it cannot be fitted."""
    errs = []
    for train, test in splits:
        g = None if groups is None else [gi for gi, k in zip(groups, train, strict=True) if k]
        try:
            level = make().fit_features(X_feat[train], y[train], groups=g)
            errs.append(float(torch.sqrt(torch.mean((level(X_feat[test]) - y[test]) ** 2))))
        except MFGPError:
            errs.append(math.inf)
    return errs


def _choose_level(scores: dict[str, list[float]], *, vessels_described: bool = False) -> str:
    """``"physics"`` when its summed forward-chaining RMSE over the folds both could fit is
    lower, when only it could be fitted, or when there is no fold to compare (fewer than
    three measured volumes) and the vessels are described; else ``"scaling_law"``."""
    phys, law = scores["physics"], scores["scaling_law"]
    if not phys and not law:
        return "physics" if vessels_described else "scaling_law"
    both = [(a, b) for a, b in zip(phys, law, strict=True) if math.isfinite(a + b)]
    if both:
        return "physics" if sum(a for a, _ in both) < sum(b for _, b in both) else "scaling_law"
    if any(math.isfinite(a) for a in phys) and not any(math.isfinite(b) for b in law):
        return "physics"
    return "scaling_law"


def physics_options(data: Any, feature_names: list[str] | None, d: int) -> dict[str, Any]:
    """The column roles of a physics level on ``data``: time, stirrer speed and aeration
    columns of ``X_feat`` (found by name, :func:`mfgp.scaling.vessels.physics_role`), and the
    target's kind (biomass or product, :func:`mfgp.physics.target_kind`)."""
    names = list(feature_names or [])[:d]
    out: dict[str, Any] = {"target_kind": target_kind(getattr(data, "target", None))}
    if has_time_column(feature_names, d):
        out["time_column"] = 1
    for i, name in enumerate(names):
        role = physics_role(name)
        if role is not None and f"{role}_column" not in out:
            out[f"{role}_column"] = i
    return out


@register_model("hybrid")
class HybridGP(AR1MultiFidelityGP):
    """AR1 co-kriging with an automatic scaling-law level 0 for measurement-only data.

    Args:
        surrogate: keyword arguments of :class:`~mfgp.scaling.bases.ScalingLawSurrogate`
            (default: Baranyi-Roberts curves; ``basis="auto"`` picks the basis by
            leave-one-scale-out error on the training data) or, on end-point data, of
            :class:`~mfgp.scaling.endpoint_law.EndPointScalingLaw` (``basis``, ``link``,
            ``ridge``, ``knots``, ``operating_columns``; ``growth`` and ``floor`` do not apply
            and are left out; ``basis="auto"`` compares ``power`` and ``piecewise``).
        cheap_level: ``"auto"`` (default: with the vessels described in ``physics``, the
            physics level or the scaling law, whichever predicts the largest training volumes
            better from the smaller ones; else the scaling law), ``"physics"`` or
            ``"scaling_law"``; used on measurement-only data.
        physics: options of :class:`~mfgp.physics.PhysicsLevel`: ``vessels`` (``{"VOLUME":
            {"diameter_m", "h_over_t", "d_over_t", "n_impellers", "power_number", "U",
            "coolant_delta_T", "cooling_W_per_K", "back_pressure_Pa"}}``), ``o2_fraction`` of
            the sparge gas, ``temperature_C``, ``target_kind`` (default from the target's name),
            ``n_draws``; the column roles are found from the column names.
        physics_inputs: ``True`` (the groups :data:`PHYSICS_INPUTS`) or a list of capacity
            groups (:data:`mfgp.physics.CAPACITY_GROUPS`) whose log10 the GP levels take as
            extra inputs beside the features, computed per row from the volume, the stirrer
            speed, the aeration and the vessels of ``physics``; measurement-only data only.
            Default ``False``.
        rho: ``"linear"`` (default: the scale factor is linear in ``log10_volume_L``, because
            the agreement between a cheap level and the measurements changes with scale) or
            ``"constant"``.
        delta_mean: ``"linear"`` (default: the discrepancy follows a trend in the inputs, so
            extrapolation in log volume follows it with growing uncertainty), ``"constant"`` or
            ``"zero"``.
        **options: every other option of :class:`~mfgp.models.ar1.AR1MultiFidelityGP`.

    The two defaults were chosen on a validation split of the default data set that never
    touches its production volumes (train on measurements up to 100 L, predict 1000 L): RMSE
    0.291 (linear, linear) against 0.300-0.306 for the other three combinations, NLPD 0.89
    against 0.91-0.99.

    Example:
        >>> import pandas as pd
        >>> from mfgp.data import ScaleUpData
        >>> data = ScaleUpData("mfgp/datasets/bioreactor_scales.csv", target="C")  # doctest: +SKIP
        >>> train, test = data.holdout_largest(1)  # doctest: +SKIP
        >>> HybridGP(restarts=1).fit(train).predict(test.X).mean.shape  # doctest: +SKIP
        torch.Size([26])
    """

    def __init__(
        self,
        *,
        surrogate: dict[str, Any] | None = None,
        cheap_level: str = "auto",
        physics: dict[str, Any] | None = None,
        physics_inputs: bool | list[str] = False,
        rho: str = "linear",
        delta_mean: str = "linear",
        **options: Any,
    ) -> None:
        if cheap_level not in CHEAP_LEVELS:
            raise InputDataError(
                f"cheap_level must be one of {list(CHEAP_LEVELS)}, got {cheap_level!r}"
            )
        physics = dict(physics or {})
        allowed = {"vessels", "o2_fraction", "temperature_C", "target_kind", "n_draws"}
        unknown = sorted(set(physics) - allowed)
        if unknown:
            raise InputDataError(
                f"unknown physics option {unknown[0]!r}; choose from {sorted(allowed)}"
            )
        _check_vessels(physics)
        inputs = list(PHYSICS_INPUTS) if physics_inputs is True else list(physics_inputs or [])
        bad = [g for g in inputs if g not in CAPACITY_GROUPS]
        if bad:
            raise InputDataError(
                f"unknown physics input {bad[0]!r}; choose from {list(CAPACITY_GROUPS)}"
            )
        super().__init__(rho=rho, delta_mean=delta_mean, **options)
        self.config["physics_inputs"] = inputs
        self.config["surrogate"] = dict(surrogate or {})
        self.config["cheap_level"] = cheap_level
        self.config["physics"] = physics

    @property
    def _shift(self) -> int:
        return 1 if self.metadata.get("auto_level0") else 0

    def applicability(self, data: Any) -> str | None:
        """On measurement-only data, a reason when the surrogate cannot be fitted: measured runs
        at fewer than 2 volumes (the scaling law needs two)."""
        X = getattr(data, "X", None)
        names = list(getattr(data, "fidelity_names", None) or [])
        layout = data_layout(data)
        if self.level0 is not None or layout is None or not isinstance(X, Tensor):
            return None
        if bool((X[:, -1] == 0).all()) and len(names) <= 1 and layout.top_volumes < 2:
            return (
                "needs measured runs at at least 2 volumes for its scaling-law level 0; the data "
                f"have {layout.top_volumes}"
            )
        return None

    def fit(self, data: Any, *, seed: int | None = 0, **options: Any) -> HybridGP:
        X, Y, Yvar = as_training_tensors(data)
        names = list(getattr(data, "fidelity_names", None) or [])
        single = bool((X[:, -1] == 0).all()) and len(names) <= 1
        if not single or self.level0 is not None:
            self.metadata.pop("auto_level0", None)
            unused = [
                key
                for key, default in (("cheap_level", "auto"), ("physics", {}),
                                     ("surrogate", {}), ("physics_inputs", []))
                if self.config[key] != default
            ]  # fmt: skip
            if unused:
                warnings.warn(
                    f"hybrid: option {', '.join(unused)} not used: it shapes the cheap level "
                    "hybrid builds on measurement-only data, and these data have cheap levels "
                    f"of their own ({', '.join(names[:-1]) or 'level0'})",
                    MFGPWarning,
                    stacklevel=2,
                )
            return super().fit(data, seed=seed, **options)
        if X.shape[-1] < 2:
            raise InputDataError(
                "X needs a log10_volume_L feature column before the fidelity index"
            )
        groups = None
        frame = getattr(data, "frame", None)
        if frame is not None and "run_id" in frame.columns:
            groups = frame["run_id"].astype(str).tolist()
        Xf, yf = X[:, :-1].detach().cpu(), Y[:, 0].detach().cpu()
        feature_names = getattr(data, "feature_names", None)
        if has_time_column(feature_names, Xf.shape[-1]):
            opts = {"basis": "auto", **self.config["surrogate"]}
            cls: type[ScalingLawSurrogate] | type[EndPointScalingLaw] = ScalingLawSurrogate
            candidates = BASES
        else:  # end points: one row per run, no time column
            opts = {"basis": "auto", "link": "auto", **self.config["surrogate"]}
            opts = {k: v for k, v in opts.items() if k not in _GROWTH_ONLY}
            if opts["link"] == "auto":  # every fold models the same quantity
                opts["link"] = endpoint_link(yf)
            cls, candidates = EndPointScalingLaw, ENDPOINT_BASES
        choice = self.config["cheap_level"]
        if opts["basis"] == "auto" and choice != "physics":
            rest = {k: v for k, v in opts.items() if k != "basis"}
            opts["basis"], scores = select_surrogate_basis(
                Xf, yf, groups=groups, candidates=candidates, surrogate_cls=cls, **rest
            )
            self.metadata["surrogate_loso_rmse"] = scores
        phys = {
            **physics_options(data, feature_names, Xf.shape[-1]),
            **self.config["physics"],
            "seed": 0 if seed is None else int(seed),
            "feature_names": list(feature_names or [])[: Xf.shape[-1]] or None,
        }

        def make_physics() -> PhysicsLevel:
            return PhysicsLevel(**phys, dtype=X.dtype)

        described = bool(self.config["physics"].get("vessels"))
        self.metadata.pop("cheap_level_rmse", None)
        if choice == "auto" and not described:  # a physics level on invented vessels: asked for
            choice = "scaling_law"
        elif choice == "auto":
            if isinstance(data, ScaleUpData) and len(data.volumes()) >= 3:
                scores = self._model_fold_rmse(data, seed)
            else:  # tensors: compare the two levels alone
                scores = {
                    "physics": forward_chaining_rmse(make_physics, Xf, yf, groups=groups),
                    "scaling_law": forward_chaining_rmse(
                        lambda: cls(**opts, dtype=X.dtype), Xf, yf, groups=groups
                    ),
                }
            self.metadata["cheap_level_rmse"] = scores
            choice = _choose_level(scores, vessels_described=True)
            log.info("hybrid: cheap level %s by forward-chaining RMSE %s", choice, scores)
        surrogate = make_physics() if choice == "physics" else cls(**opts, dtype=X.dtype)
        surrogate.fit_features(Xf, yf, groups=groups)
        self.metadata["cheap_level"] = choice
        self.metadata["surrogate"] = (
            surrogate.get_config() if choice == "physics" or cls is EndPointScalingLaw else opts
        )
        self.level0 = surrogate.to(X.device)
        self.metadata["auto_level0"] = True
        if self.config["physics_inputs"]:
            self.metadata["physics_inputs"] = {
                "groups": list(self.config["physics_inputs"]),
                "rpm_column": phys.get("rpm_column"),
                "vvm_column": phys.get("vvm_column"),
                "vessels": self.config["physics"].get("vessels"),
                "o2_fraction": float(self.config["physics"].get("o2_fraction", AIR_O2_FRACTION)),
                "temperature_C": float(self.config["physics"].get("temperature_C", 37.0)),
            }
        else:
            self.metadata.pop("physics_inputs", None)
        super().fit((self._internal_X(X), Y, Yvar), seed=seed, **options)
        for key in ("feature_names", "target"):
            if getattr(data, key, None) is not None:
                value = getattr(data, key)
                self.metadata[key] = value if isinstance(value, str) else list(value)
        low = "physics_level" if choice == "physics" else "scaling_law_surrogate"
        self.metadata["fidelity_names"] = [low, *(names or ["measured"])]
        self.metadata["auto_level0"] = True
        return self

    def _model_fold_rmse(self, data: ScaleUpData, seed: int | None) -> dict[str, list[float]]:
        """Harvest RMSE of this model with each cheap level forced, predicting each of the two
        largest training volumes (with at least two smaller ones) from the smaller volumes
        (one restart per fit: the ranking is what counts); ``inf`` where a fit fails."""
        folds = list(forward_chaining(data))[-2:]
        scores: dict[str, list[float]] = {"physics": [], "scaling_law": []}
        for level in scores:
            config = {**self.get_config(), "cheap_level": level, "restarts": 1}
            for _, train, test in folds:
                ends = test.subset(endpoint_mask(test))
                try:
                    with warnings.catch_warnings():  # inner validation fits: not the user's
                        warnings.simplefilter("ignore", MFGPWarning)
                        model = type(self)(**config).fit(train, seed=seed)
                        mean = model.predict(ends.X).mean
                    err = float(torch.sqrt(torch.mean((mean - ends.Y[:, 0]) ** 2)))
                except MFGPError as error:
                    log.info("hybrid: %s level failed on a fold: %s", level, error)
                    err = math.inf
                scores[level].append(err if math.isfinite(err) else math.inf)
        return scores

    def fit_choices(self) -> dict[str, Any]:
        """AR1's choices plus, with an automatic level 0 whose basis was ``"auto"``, the
        surrogate basis chosen by leave-one-scale-out error (``surrogate_basis``) and, for an
        end-point law, its link (``surrogate_link``: ``"log"`` or ``"identity"``)."""
        out = super().fit_choices()
        if self.metadata.get("auto_level0"):
            out["cheap_level"] = self.metadata.get("cheap_level", "scaling_law")
        if isinstance(self.level0, PhysicsLevel):
            return out
        if self.metadata.get("auto_level0") and "surrogate_loso_rmse" in self.metadata:
            out["surrogate_basis"] = self.metadata["surrogate"]["basis"]
        if self.metadata.get("auto_level0") and isinstance(self.level0, EndPointScalingLaw):
            out["surrogate_link"] = self.level0.link_
        return out

    def _internal_X(self, X: Tensor) -> Tensor:
        if not self._shift:
            return X
        if not isinstance(X, Tensor) or bool((X[..., -1] != 0).any()):
            raise InputDataError(
                "this hybrid model was fitted on one fidelity level: the last column of X must "
                "be 0 (the measurements)"
            )
        Xs = X.clone()
        Xs[..., -1] = 1
        spec = self.metadata.get("physics_inputs")
        if not spec:
            return Xs
        return torch.cat([Xs[..., :-1], self._capacity_inputs(X, spec), Xs[..., -1:]], dim=-1)

    @staticmethod
    def _capacity_inputs(X: Tensor, spec: dict[str, Any]) -> Tensor:
        """``... x n x g``: log10 of the capacity groups of ``spec`` at every row of ``X``."""
        flat = X.reshape(-1, X.shape[-1]).detach()
        vessels = VesselSet.from_config(
            spec.get("vessels"),
            temperature_C=spec["temperature_C"],
            o2_fraction=spec["o2_fraction"],
        )
        rpm = None if spec["rpm_column"] is None else flat[:, spec["rpm_column"]]
        vvm = None if spec["vvm_column"] is None else flat[:, spec["vvm_column"]]
        g = capacity_groups(10.0 ** flat[:, 0], rpm, vvm, vessels)
        cols = [torch.log10(g[k].clamp_min(1e-6)) for k in spec["groups"]]
        return torch.stack(cols, dim=-1).reshape(*X.shape[:-1], len(cols)).to(X)

    def posterior(self, X: Tensor, *args: Any, **kwargs: Any):  # type: ignore[override]
        return super().posterior(self._internal_X(X), *args, **kwargs)

    def predict(self, X: Tensor, *, observation_noise: bool = False) -> Prediction:
        return super().predict(self._internal_X(X), observation_noise=observation_noise)

    def _internal_posterior(
        self, X: Tensor, observation_noise: bool | Tensor, *, diagonal: bool = False
    ) -> tuple[Tensor, Tensor]:
        """AR1's posterior; with a physics level, plus the covariance its calibration
        uncertainty gives the measurements, ``rho(x) rho(x') Cov_s[g_s(x), g_s(x')]`` over
        the drawn parameter sets ``g_s`` (in log units with ``log_transform``): the level is
        uncertain the same way at every point, so the term is shared, not white. Not part of
        the ``hyperparameter_samples`` mixture."""
        mean, cov = super()._internal_posterior(X, observation_noise, diagonal=diagonal)
        if not isinstance(self.level0, PhysicsLevel):
            return mean, cov
        draws = self.level0.draws(X[..., :-1]).to(cov)
        if self.log_transform_:
            draws = torch.log(draws.clamp_min(torch.finfo(draws.dtype).tiny))
        dev = (draws - draws.mean(0)) * self.rho(X).reshape(X.shape[:-1]).to(cov)
        extra = torch.einsum("s...i,s...j->...ij", dev, dev) / max(draws.shape[0] - 1, 1)
        if diagonal:
            extra = torch.diag_embed(extra.diagonal(dim1=-2, dim2=-1))
        return mean, cov + extra

    def physics_curve(self, volumes_L: list[float], X_ref: Tensor) -> Any:
        """With a physics level: its capacity-versus-demand table over ``volumes_L`` at the
        operating point of the feature row ``X_ref`` (:meth:`PhysicsLevel.capacity_curve`);
        None otherwise."""
        if not isinstance(self.level0, PhysicsLevel):
            return None
        return self.level0.capacity_curve(volumes_L, X_ref[..., :-1])

    def condition_on_observations(self, X: Tensor, Y: Tensor, **kwargs: Any) -> HybridGP:
        return super().condition_on_observations(self._internal_X(X), Y, **kwargs)

    def _restore(self, state: dict[str, Any], metadata: dict[str, Any]) -> None:
        if metadata.get("auto_level0") and self.level0 is None:
            cfg = dict(metadata["surrogate"])
            dtype = state["train_X"].dtype
            if cfg.get("kind") == PhysicsLevel.kind:
                cfg.pop("kind")
                self.level0 = PhysicsLevel(**cfg, dtype=dtype)
            else:
                self.level0 = build_surrogate(cfg, dtype=dtype)
        super()._restore(state, metadata)
