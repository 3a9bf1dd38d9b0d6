"""The physics level: vessel capacities and a calibrated kinetic model as a known level 0.

:class:`PhysicsLevel` pairs the capacity of every vessel (:mod:`mfgp.physics.capacity`) with a
compact kinetic model (:mod:`mfgp.physics.kinetics`) calibrated on the measured small-scale
runs. Evaluated at any scale it predicts the target with the limitation that the vessel
imposes there, so that a production prediction bends where capacity falls short of demand.

Calibration (:meth:`PhysicsLevel.fit_features`): maximum a posteriori by
:func:`scipy.optimize.least_squares` on the residuals ``(y - y_hat) / sigma`` stacked with one
row ``(theta_k - m_k) / s_k`` per prior (a Gaussian prior on every parameter: weak ones on the
amplitude and the growth shape, the documented :data:`~mfgp.physics.kinetics.PHYSICS_PRIORS`
on the limitation); ``sigma`` is re-estimated from the residuals and the fit repeated, from
several starting oxygen demands (the likelihood is flat where nothing limits). The Laplace
approximation ``cov = (J^T J)^-1`` at the optimum gives the parameters' uncertainty, and
``n_draws`` parameter sets drawn from it (seeded) give the level's variance at every point
(:meth:`PhysicsLevel.variance`), which the hybrid model adds to its prediction. A parameter
that the data do not identify keeps about its prior spread (``identified`` in
:meth:`PhysicsLevel.parameters`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy.optimize import least_squares
from torch import Tensor, nn

from mfgp.exceptions import InputDataError, ModelFittingError, NotFittedError
from mfgp.physics.capacity import CAPACITY_GROUPS, VesselSet, capacity_groups, constant_pv_rpm
from mfgp.physics.kinetics import (
    PHYSICS_PARAMETERS,
    PHYSICS_PRIORS,
    growth_shape,
    limitation,
)
from mfgp.scaling.correlations import AIR_O2_FRACTION
from mfgp.scaling.criteria import operating_point
from mfgp.settings import DEFAULT_DTYPE

__all__ = ["PhysicsLevel"]

log = logging.getLogger(__name__)
_DEMAND_STARTS = (2.0, 20.0, 200.0)


def _independent_columns(X: Tensor, columns: list[int]) -> list[int]:
    """``columns`` without those that are constant or a linear function of an earlier one
    (the last indicator of a factor is one minus the others: its effect is the intercept's)."""
    kept: list[int] = []
    for c in columns:
        x = X[:, c]
        if float(x.std()) < 1e-12:
            continue
        design = torch.stack([torch.ones_like(x), *[X[:, k] for k in kept]], -1)
        fit = design @ torch.linalg.lstsq(design, x.unsqueeze(-1)).solution
        if float((x - fit[:, 0]).std()) > 1e-9 * float(x.std()):
            kept.append(c)
    return kept


class PhysicsLevel(nn.Module):
    """A calibrated physics level 0 (see the module docstring).

    Args:
        target_kind: ``"biomass"`` or ``"product"`` (:func:`~mfgp.physics.target_kind`).
        time_column: index into ``X_feat`` of the time (h), or None for end-point data.
        rpm_column, vvm_column: indices of the stirrer speed and the aeration, or None (the
            defaults of :mod:`mfgp.physics.capacity`).
        operating_columns: indices of the other operating variables (a log-linear effect on
            the amplitude); None: every column that is not volume, time, rpm or vvm.
        vessels: ``{"VOLUME": {geometry key: value}}`` (a config's ``[vessels]`` table).
        temperature_C: culture temperature.
        o2_fraction: O2 fraction of the sparge gas (air 0.2095, up to 1 for pure O2).
        n_draws: parameter sets drawn from the Laplace posterior for the variance.
        seed: seed of the draws.
        feature_names: names of the ``X_feat`` columns (for the parameter table).
        dtype: float dtype of the parameters.

    Example:
        >>> lv = torch.tensor([0.0, 0.5, 1.0, 2.0, 3.0], dtype=torch.float64).repeat(2)
        >>> y = torch.full((10,), 4.0, dtype=torch.float64) + 0.01 * torch.arange(10.0)
        >>> level = PhysicsLevel().fit_features(lv.unsqueeze(-1), y)
        >>> X = torch.tensor([[1.0], [4.7]], dtype=torch.float64)   # 10 L and 50 m3
        >>> m, v = level(X), level.variance(X)
        >>> bool(v[1] > v[0])            # the limitation is uncertain at scale
        True
    """

    kind = "physics"

    def __init__(
        self,
        *,
        target_kind: str = "product",
        time_column: int | None = None,
        rpm_column: int | None = None,
        vvm_column: int | None = None,
        operating_columns: Sequence[int] | None = None,
        vessels: Mapping[str, Mapping[str, Any]] | None = None,
        temperature_C: float = 37.0,
        o2_fraction: float = AIR_O2_FRACTION,
        n_draws: int = 64,
        seed: int = 0,
        feature_names: Sequence[str] | None = None,
        dtype: torch.dtype = DEFAULT_DTYPE,
    ) -> None:
        super().__init__()
        self.feature_names = None if feature_names is None else [str(n) for n in feature_names]
        if target_kind not in ("biomass", "product"):
            raise InputDataError(f"target_kind must be 'biomass' or 'product', got {target_kind!r}")
        self.target_kind = target_kind
        self.time_column = time_column
        self.rpm_column = rpm_column
        self.vvm_column = vvm_column
        self.operating_columns = None if operating_columns is None else list(operating_columns)
        self.vessels = VesselSet.from_config(
            vessels, temperature_C=temperature_C, o2_fraction=o2_fraction
        )
        self.vessel_table = {k: dict(v) for k, v in dict(vessels or {}).items()}
        self.n_draws, self.seed = int(n_draws), int(seed)
        self._register(len(self.operating_columns or ()), dtype)

    # ------------------------------------------------------------ parameters
    def _register(self, q: int, dtype: torch.dtype) -> None:
        p = self._n_params(q)
        self.register_buffer("theta_", torch.zeros(p, dtype=dtype))
        self.register_buffer("draws_", torch.zeros(self.n_draws, p, dtype=dtype))
        self.register_buffer("cov_", torch.zeros(p, p, dtype=dtype))
        self.register_buffer("op_mean_", torch.zeros(q, dtype=dtype))
        self.register_buffer("op_std_", torch.ones(q, dtype=dtype))
        self.register_buffer("t_end_", torch.tensor(1.0, dtype=dtype))
        self.register_buffer("sigma_", torch.tensor(1.0, dtype=dtype))
        self.register_buffer("fitted", torch.tensor(False))

    def _n_params(self, q: int) -> int:
        return 1 + q + (3 if self.time_column is not None else 0) + len(PHYSICS_PARAMETERS)

    def parameter_names(self) -> list[str]:
        """Names of the parameters, in the order of ``theta_``."""
        q = self.op_mean_.numel()
        label = dict(enumerate(self.feature_names or []))
        cols = (self.operating_columns or [])[:q]
        names = ["log_amplitude", *[f"b[{label.get(c, c)}]" for c in cols]]
        if self.time_column is not None:
            names += ["log_mu", "logit_x0", "logit_w"]
        return names + list(PHYSICS_PARAMETERS)

    def _slices(self) -> tuple[slice, slice, slice]:
        q = self.op_mean_.numel()
        amp = slice(0, 1 + q)
        shape = slice(1 + q, 1 + q + (3 if self.time_column is not None else 0))
        return amp, shape, slice(shape.stop, shape.stop + len(PHYSICS_PARAMETERS))

    def get_config(self) -> dict[str, Any]:
        """JSON-serialisable constructor arguments with ``kind: "physics"`` (rebuild with
        ``PhysicsLevel(**config)``, then ``load_state_dict``)."""
        return {
            "kind": self.kind,
            "target_kind": self.target_kind,
            "time_column": self.time_column,
            "rpm_column": self.rpm_column,
            "vvm_column": self.vvm_column,
            "operating_columns": self.operating_columns,
            "vessels": self.vessel_table,
            "temperature_C": self.vessels.temperature_C,
            "o2_fraction": self.vessels.o2_fraction,
            "n_draws": self.n_draws,
            "seed": self.seed,
            "feature_names": self.feature_names,
        }

    # ----------------------------------------------------------------- model
    def groups(self, X_feat: Tensor) -> dict[str, Tensor]:
        """The capacity groups of the rows of ``X_feat`` (``n x d``)."""
        X = X_feat.to(self.theta_)
        rpm = None if self.rpm_column is None else X[:, self.rpm_column]
        vvm = None if self.vvm_column is None else X[:, self.vvm_column]
        return capacity_groups(10.0 ** X[:, 0], rpm, vvm, self.vessels)

    def _predict(self, X: Tensor, groups: Mapping[str, Tensor], theta: Tensor) -> Tensor:
        amp, shape, phys = self._slices()
        coef = theta[..., amp]
        z = (X[:, self.operating_columns or []] - self.op_mean_) / self.op_std_
        eta = coef[..., :1] + (coef[..., 1:].unsqueeze(-2) * z).sum(-1)
        out = eta.exp() * limitation(groups, theta[..., phys])
        if self.time_column is not None:
            t = X[:, self.time_column]
            out = out * growth_shape(t, theta[..., shape], self.target_kind, float(self.t_end_))
        return out

    def _priors(self, y: Tensor) -> tuple[np.ndarray, np.ndarray]:
        q = self.op_mean_.numel()
        top = float(y.abs().max().clamp_min(1e-12))
        m = [math.log(top)] + [0.0] * q
        s = [3.0] + [1.0] * q
        if self.time_column is not None:
            m += [math.log(8.0 / float(self.t_end_)), math.log(0.02 / 0.98), 0.0]
            s += [1.5, 2.5, 2.0]
        for name in PHYSICS_PARAMETERS:
            m.append(PHYSICS_PRIORS[name][0])
            s.append(PHYSICS_PRIORS[name][1])
        return np.array(m), np.array(s)

    # ------------------------------------------------------------------- fit
    def fit_features(
        self, X_feat: Tensor, y: Tensor, *, groups: Sequence[Any] | None = None
    ) -> PhysicsLevel:
        """Calibrate on features ``X_feat`` (``n x d``: log10 volume first) and target ``y``.

        ``groups`` (run labels) is accepted for the surrogate interface and not used.

        Raises:
            InputDataError: too few rows, or non-finite values.
            ModelFittingError: the optimiser failed from every start.
        """
        X = torch.as_tensor(X_feat).to(self.theta_)
        yt = torch.as_tensor(y).to(self.theta_).reshape(-1)
        if X.dim() != 2 or X.shape[0] != yt.numel() or X.shape[0] < 3:
            raise InputDataError(
                f"the physics level needs at least 3 rows of X_feat (n x d) and y, got "
                f"{tuple(X.shape)} and {tuple(yt.shape)}"
            )
        if not bool(torch.isfinite(X).all() & torch.isfinite(yt).all()):
            raise InputDataError("the physics level got NaN or infinite features or targets")
        if self.operating_columns is None:
            used = {0, self.time_column, self.rpm_column, self.vvm_column}
            self.operating_columns = _independent_columns(
                X, [c for c in range(X.shape[1]) if c not in used]
            )
        q = len(self.operating_columns)
        self._register(q, self.theta_.dtype)
        ops = X[:, self.operating_columns]
        if q:
            self.op_mean_ = ops.mean(0)
            self.op_std_ = ops.std(0).clamp_min(1e-12) if X.shape[0] > 1 else self.op_std_
        if self.time_column is not None:
            self.t_end_ = X[:, self.time_column].max().clamp_min(1e-9)
        groups_t = self.groups(X)
        prior_m, prior_s = self._priors(yt)
        y_np = yt.detach().cpu().numpy()
        theta_start = prior_m.copy()

        def residuals(th: np.ndarray, sigma: float) -> np.ndarray:
            t = torch.as_tensor(th, dtype=self.theta_.dtype, device=self.theta_.device)
            pred = self._predict(X, groups_t, t).detach().cpu().numpy()
            return np.concatenate([(y_np - pred) / sigma, (th - prior_m) / prior_s])

        best = None
        k_dem = 1 + q + (3 if self.time_column is not None else 0)
        for demand in _DEMAND_STARTS:
            th = theta_start.copy()
            th[k_dem] = math.log(demand)
            sigma = max(float(np.std(y_np)) * 0.2, 1e-9)
            try:
                for _ in range(3):
                    res = least_squares(residuals, th, args=(sigma,), method="trf", x_scale=1.0)
                    th = res.x
                    r = res.fun[: len(y_np)] * sigma
                    dof = max(len(y_np) - len(th) / 2, 1.0)
                    sigma = max(float(np.sqrt(np.sum(r**2) / dof)), 1e-6 * np.abs(y_np).max())
                res = least_squares(residuals, th, args=(sigma,), method="trf")
            except (ValueError, np.linalg.LinAlgError) as err:
                log.info("physics level: start at OUR %g failed: %s", demand, err)
                continue
            if best is None or res.cost < best[0].cost:
                best = (res, sigma)
        if best is None:
            raise ModelFittingError(
                "the physics level could not be calibrated from any start; check that the "
                "target is a positive amount (g/L) and the time column is in hours"
            )
        res, sigma = best
        J = res.jac
        cov = np.linalg.pinv(J.T @ J)
        cov = 0.5 * (cov + cov.T)
        self.theta_ = torch.as_tensor(res.x, dtype=self.theta_.dtype)
        self.cov_ = torch.as_tensor(cov, dtype=self.theta_.dtype)
        self.sigma_ = torch.tensor(sigma, dtype=self.theta_.dtype)
        self._prior = (prior_m, prior_s)
        gen = np.random.default_rng(self.seed)
        draws = gen.multivariate_normal(res.x, cov, size=self.n_draws, method="eigh")
        self.draws_ = torch.as_tensor(draws, dtype=self.theta_.dtype)
        self.fitted = torch.tensor(True)
        log.info(
            "physics level calibrated: %s",
            ", ".join(f"{n}={v:.3g}" for n, v in zip(self.parameter_names(), res.x, strict=True)),
        )
        return self

    # -------------------------------------------------------------- evaluate
    def _check_fitted(self) -> None:
        if not bool(self.fitted):
            raise NotFittedError("PhysicsLevel is not fitted; call fit_features(X_feat, y)")

    def _flat(self, X_feat: Tensor) -> tuple[Tensor, tuple[int, ...]]:
        X = torch.as_tensor(X_feat)
        return X.reshape(-1, X.shape[-1]).to(self.theta_), tuple(X.shape[:-1])

    def forward(self, X_feat: Tensor) -> Tensor:
        """The level at the MAP parameters: ``... x n`` values for ``... x n x d`` features,
        in the dtype and on the device of ``X_feat``. Not differentiable in ``X_feat`` (the
        vessel geometry is looked up per volume)."""
        self._check_fitted()
        X, shape = self._flat(X_feat)
        out = self._predict(X, self.groups(X), self.theta_)
        return out.reshape(shape).to(dtype=X_feat.dtype, device=X_feat.device)

    def draws(self, X_feat: Tensor) -> Tensor:
        """The level under each drawn parameter set: ``n_draws x ... x n``."""
        self._check_fitted()
        X, shape = self._flat(X_feat)
        out = self._predict(X, self.groups(X), self.draws_)
        return out.reshape(self.n_draws, *shape).to(dtype=X_feat.dtype, device=X_feat.device)

    def variance(self, X_feat: Tensor) -> Tensor:
        """The calibration variance of the level at ``X_feat`` (over the parameter draws)."""
        return self.draws(X_feat).var(0)

    def parameters_table(self) -> pd.DataFrame:
        """One row per parameter: MAP value, posterior sd, prior mean and sd, and whether
        the data identify it (posterior sd below half the prior's)."""
        self._check_fitted()
        sd = torch.sqrt(torch.diagonal(self.cov_).clamp_min(0)).cpu().numpy()
        m, s = getattr(self, "_prior", (np.full(sd.shape, np.nan), np.full(sd.shape, np.nan)))
        return pd.DataFrame(
            {
                "parameter": self.parameter_names(),
                "map": self.theta_.cpu().numpy(),
                "sd": sd,
                "prior_mean": m,
                "prior_sd": s,
                "identified": sd < 0.5 * np.asarray(s),
            }
        )

    def capacity_curve(self, volumes_L: Sequence[float], X_ref: Tensor) -> pd.DataFrame:
        """Capacity against demand over volume, for the report.

        Args:
            volumes_L: the volumes to show.
            X_ref: one row of features (``d``) giving the operating point; its volume is
                replaced by each of ``volumes_L``, its stirrer speed (if any) by the speed that
                gives its power per volume in each vessel (constant P/V).

        Returns:
            One row per volume: ``volume_L``, the capacity groups, the oxygen demand (MAP,
            and the 95 % range over the parameter draws) and its served fraction, pCO2, each
            limitation factor (MAP) and the level's mean and sd (over the draws).
        """
        self._check_fitted()
        ref = X_ref.reshape(1, -1).to(self.theta_)
        X = ref.repeat(len(volumes_L), 1)
        X[:, 0] = torch.log10(torch.as_tensor(list(volumes_L), dtype=X.dtype))
        if self.rpm_column is not None:  # the reference run's P/V at every scale
            v_ref = float(10.0 ** ref[0, 0])
            vessel = self.vessels.vessel(v_ref)
            vvm = 1.0 if self.vvm_column is None else float(ref[0, self.vvm_column])
            rpm = float(ref[0, self.rpm_column])
            pv = float(operating_point(vessel, rpm, vvm).p_per_v_ungassed)
            for i, v in enumerate(volumes_L):
                X[i, self.rpm_column] = constant_pv_rpm(self.vessels.vessel(float(v)), pv)
        g = self.groups(X)
        parts = limitation(g, self.theta_[self._slices()[2]], parts=True)
        assert isinstance(parts, dict)
        draws = self._predict(X, g, self.draws_)
        frame = {"volume_L": list(volumes_L)}
        frame.update({k: g[k].cpu().numpy() for k in CAPACITY_GROUPS})
        frame.update({k: v.detach().cpu().numpy() for k, v in parts.items()})
        frame["level_mean"] = self._predict(X, g, self.theta_).cpu().numpy()
        frame["level_sd"] = draws.std(0).cpu().numpy()
        demand = self.draws_[:, self._slices()[2].start].exp()  # over the parameter draws
        low, high = torch.quantile(demand, torch.tensor([0.025, 0.975]).to(demand)).tolist()
        frame["demand_lower95"] = [low] * len(volumes_L)
        frame["demand_upper95"] = [high] * len(volumes_L)
        return pd.DataFrame(frame)

    def extra_repr(self) -> str:
        return f"target_kind={self.target_kind!r}, time_column={self.time_column}"
