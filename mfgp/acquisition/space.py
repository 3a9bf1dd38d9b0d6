"""The search space of the next runs: the scale options (vessel volume, fidelity, cost), the
bounds and fixed values of the operating variables, candidate and target-scale points."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.quasirandom import SobolEngine

from mfgp.acquisition.config import load_config, parse_assignments
from mfgp.acquisition.constraints import VOLUME, EngineeringConstraints
from mfgp.exceptions import InputDataError
from mfgp.scaling.criteria import Vessel, operating_point, scale_up

__all__ = ["DEFAULT_SCALE_RANGES", "ScaleOption", "SearchSpace"]

log = logging.getLogger(__name__)

#: Default volume ranges (litres) of the named scales: the largest top-fidelity volume of the
#: data inside the range is used (``lab``: <= 10 L, ``pilot``: (10, 1000] L,
#: ``demo``/``production``: > 1000 L).
DEFAULT_SCALE_RANGES: dict[str, tuple[float, float]] = {
    "lab": (0.0, 10.0),
    "bench": (0.0, 10.0),
    "pilot": (10.0, 1000.0),
    "demo": (1000.0, math.inf),
    "production": (1000.0, math.inf),
}


@dataclass(frozen=True)
class ScaleOption:
    """A kind of run the user can do next.

    Attributes:
        name: label (``"lab"``, ``"pilot"``, a fidelity name, ...).
        fidelity: fidelity index of the run (0 = cheapest level; top = measured).
        volume_L: working volume of the run (litres).
        cost: cost of one run (any unit, e.g. lab runs = 1).
    """

    name: str
    fidelity: int
    volume_L: float
    cost: float

    def __post_init__(self) -> None:
        if not (self.volume_L > 0 and math.isfinite(self.volume_L)):
            raise InputDataError(f"option {self.name!r}: volume must be > 0 L, got {self.volume_L}")
        if not (self.cost > 0 and math.isfinite(self.cost)):
            raise InputDataError(f"option {self.name!r}: cost must be > 0, got {self.cost}")
        if self.fidelity < 0:
            raise InputDataError(f"option {self.name!r}: fidelity must be >= 0")


@dataclass
class SearchSpace:
    """Where the next runs may go.

    Attributes:
        feature_names: the model's feature columns (``log10_volume_L`` first), as in
            :attr:`mfgp.data.ScaleUpData.feature_names`.
        bounds: ``{variable: (lower, upper)}`` for each free operating variable.
        fixed: ``{variable: value}`` for the others (e.g. ``time_h``: end of the run).
        options: the runs the user can do (:class:`ScaleOption`), each with its cost.
        target_volume_L: the production volume the goals refer to.
        top_fidelity: index of the measured (top) level.
        constraints: engineering feasibility limits.
    """

    feature_names: list[str]
    bounds: dict[str, tuple[float, float]]
    fixed: dict[str, float]
    options: list[ScaleOption]
    target_volume_L: float
    top_fidelity: int
    constraints: EngineeringConstraints = field(default_factory=EngineeringConstraints)

    def __post_init__(self) -> None:
        names = list(self.feature_names)
        if not names or names[0] != VOLUME:
            raise InputDataError(f"feature_names must start with {VOLUME!r}, got {names}")
        for name, (lo, hi) in self.bounds.items():
            if name not in names[1:]:
                raise InputDataError(f"bounds for unknown variable {name!r}; features: {names}")
            if not (math.isfinite(lo) and math.isfinite(hi)):
                raise InputDataError(f"bounds of {name!r} must be finite, got [{lo}, {hi}]")
            if lo > hi:
                raise InputDataError(f"bounds of {name!r} have lower {lo} > upper {hi}; swap them")
        for name in self.fixed:
            if name not in names[1:]:
                raise InputDataError(
                    f"fixed value for unknown variable {name!r}; features: {names}"
                )
        both = sorted(set(self.bounds) & set(self.fixed))
        if both:
            raise InputDataError(f"{both} are both bounded and fixed; give one of the two")
        missing = [n for n in names[1:] if n not in self.bounds and n not in self.fixed]
        if missing:
            raise InputDataError(f"variables {missing} need bounds or a fixed value")
        if not self.options:
            raise InputDataError("the search space needs at least one scale option (costs)")
        if len({o.name for o in self.options}) != len(self.options):
            raise InputDataError("scale option names must be unique")
        bad = [o.name for o in self.options if o.fidelity > self.top_fidelity]
        if bad:
            raise InputDataError(f"options {bad} have a fidelity above the top level")
        if not self.target_volume_L > 0:
            raise InputDataError(f"target volume must be > 0 L, got {self.target_volume_L}")

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_data(
        cls,
        data: Any,
        *,
        costs: str | Mapping[str, float] | None = None,
        target_volume_L: float | None = None,
        scales: str | Mapping[str, float] | None = None,
        bounds: Mapping[str, Sequence[float]] | None = None,
        fixed: Mapping[str, float] | None = None,
        constraints: EngineeringConstraints | Mapping[str, Any] | None = None,
        config: Mapping[str, Any] | str | Path | None = None,
    ) -> SearchSpace:
        """Build a space from a :class:`~mfgp.data.ScaleUpData` and user settings.

        Settings come from the keyword arguments, then the ``config`` (a mapping or a TOML path,
        :func:`load_config`), then defaults:

        - bounds: the range of each operating variable over all rows of the data;
        - fixed: ``time_h`` = the largest time in the data (the end of the run);
        - constraints: when ``rpm`` is a free operating variable and no constraints are given,
          the gassed P/V may not exceed the largest P/V of the measured runs (the operating
          envelope the data demonstrate; see :meth:`_envelope_constraints`), so that candidate
          and target points at other scales stay physically reachable;
        - options: one per cost name. A name maps to ``(fidelity, volume)`` through ``scales``
          (litres; top fidelity), a ``[options.NAME]`` table (``volume_L``, ``fidelity``,
          ``cost``), a fidelity name of the data (that level at the target volume), or the
          default ranges :data:`DEFAULT_SCALE_RANGES` (``lab``: the largest top-fidelity volume
          <= 10 L in the data, ``pilot``: the largest in (10, 1000] L).

        Raises:
            InputDataError: bad costs or scales, an unknown scale name, bounds with
                lower > upper, unknown variables, or no target volume.
        """
        cfg: dict[str, Any] = {}
        if isinstance(config, (str, Path)):
            cfg = load_config(config)
        elif config is not None:
            cfg = dict(config)
        known = {"target_volume_L", "costs", "scales", "options", "bounds", "fixed", "constraints"}
        known |= {"goal", "q", "model", "model_options", "seed", "n_candidates"}
        unknown = sorted(set(cfg) - known)
        if unknown:
            raise InputDataError(f"unknown config keys {unknown}; known: {sorted(known)}")
        names = list(data.feature_names)
        frame = data.frame
        top = int(data.top_fidelity)

        tv = target_volume_L if target_volume_L is not None else cfg.get("target_volume_L")
        if tv is None:
            raise InputDataError("give the target volume (--target-volume LITRES)")
        tv = float(tv)

        # options
        opt_cfg = {str(k): dict(v) for k, v in dict(cfg.get("options", {})).items()}
        cost_map = parse_assignments(costs if costs is not None else cfg.get("costs"), "costs")
        for name, spec in opt_cfg.items():
            if "cost" in spec and name not in cost_map:
                cost_map[name] = float(spec["cost"])
        scale_map: dict[str, float] = {}
        if cfg.get("scales"):
            scale_map.update(parse_assignments(cfg["scales"], "scales"))
        if scales is not None:
            scale_map.update(parse_assignments(scales, "scales"))
        unused = sorted(set(scale_map) - set(cost_map))
        if unused:
            raise InputDataError(
                f"scales {unused} have no cost; add them to --costs (costs: {sorted(cost_map)})"
            )
        top_vols = np.unique(frame.loc[data.fidelity == top, "volume_L"].to_numpy(float))
        options = []
        for name, cost in cost_map.items():
            spec = opt_cfg.get(name, {})
            fid_spec = spec.get("fidelity")
            if fid_spec is not None:
                fid = data.fidelity_index(fid_spec)
            elif name in data.fidelity_names and name not in scale_map:
                fid = data.fidelity_index(name)
            else:
                fid = top
            if name in scale_map:
                vol = scale_map[name]
            elif "volume_L" in spec:
                vol = float(spec["volume_L"])
            elif name in data.fidelity_names:
                vol = tv
            elif name.lower() in DEFAULT_SCALE_RANGES:
                lo, hi = DEFAULT_SCALE_RANGES[name.lower()]
                inside = top_vols[(top_vols > lo) & (top_vols <= hi)]
                if inside.size == 0:
                    raise InputDataError(
                        f"scale {name!r}: the data have no top-fidelity volume in ({lo:g}, "
                        f"{hi:g}] L; give its volume with --scales {name}=LITRES"
                    )
                vol = float(inside.max())
            else:
                raise InputDataError(
                    f"unknown scale name {name!r}: use lab, pilot, production, a fidelity name "
                    f"{data.fidelity_names}, or give its volume with --scales {name}=LITRES"
                )
            options.append(ScaleOption(name, int(fid), float(vol), float(cost)))

        # bounds and fixed values
        fixed_map = {str(k): float(v) for k, v in dict(cfg.get("fixed", {})).items()}
        fixed_map.update({str(k): float(v) for k, v in dict(fixed or {}).items()})
        if "time_h" in names and "time_h" not in fixed_map:
            user_b = set(dict(cfg.get("bounds", {}))) | set(dict(bounds or {}))
            if "time_h" not in user_b:
                fixed_map["time_h"] = float(frame["time_h"].max())
        bounds_map: dict[str, tuple[float, float]] = {}
        for name in names[1:]:
            if name in fixed_map:
                continue
            col = frame[name].to_numpy(float)
            bounds_map[name] = (float(col.min()), float(col.max()))
        for src in (cfg.get("bounds", {}), bounds or {}):
            for name, pair in dict(src).items():
                if not isinstance(pair, Sequence) or len(pair) != 2:
                    raise InputDataError(f"bounds of {name!r} must be [lower, upper], got {pair!r}")
                bounds_map[str(name)] = (float(pair[0]), float(pair[1]))
        if isinstance(constraints, EngineeringConstraints):
            cons = constraints
        elif constraints is None and "constraints" not in cfg and "rpm" in bounds_map:
            cons = cls._envelope_constraints(data, names)
        else:
            merged = {**dict(cfg.get("constraints", {})), **dict(constraints or {})}
            cons = EngineeringConstraints.from_mapping(merged)
        return cls(
            feature_names=names,
            bounds=bounds_map,
            fixed=fixed_map,
            options=options,
            target_volume_L=tv,
            top_fidelity=top,
            constraints=cons,
        )

    @staticmethod
    def _envelope_constraints(data: Any, names: Sequence[str]) -> EngineeringConstraints:
        """Default limits when the stirrer speed is free and the user set no constraints: the
        gassed P/V may not exceed the largest P/V of the measured (top-fidelity) runs.

        Without it, the rpm bounds (the range over every scale of the data) let a 50 m3
        candidate or target point take a 1 L rpm, a P/V a hundred times what any tank can
        deliver, where the model extrapolates freely. The P/V of each measured run comes from
        :func:`mfgp.scaling.criteria.operating_point` (default vessel geometry).
        """
        frame = data.frame
        top = np.asarray(data.fidelity) == int(data.top_fidelity)
        rows = frame.loc[top]
        vvm = rows["vvm"].to_numpy(float) if "vvm" in names else np.ones(len(rows))
        best = 0.0
        for vol in np.unique(rows["volume_L"].to_numpy(float)):
            sel = rows["volume_L"].to_numpy(float) == vol
            op = operating_point(
                Vessel(float(vol)),
                torch.tensor(rows.loc[sel, "rpm"].to_numpy(float)).clamp_min(1e-6),
                torch.tensor(vvm[sel]).clamp_min(1e-6),
            )
            best = max(best, float(op.p_per_v.max()))
        log.info(
            "engineering constraints: none given; P/V limited to %.0f W/m3, the largest of the "
            "measured runs (set [constraints] in the config to change)",
            best,
        )
        return EngineeringConstraints(max_p_per_v=best)

    # ----------------------------------------------------------------- points
    @property
    def dim(self) -> int:
        """Columns of ``X``: the features and the fidelity index."""
        return len(self.feature_names) + 1

    @property
    def free_names(self) -> list[str]:
        """The bounded operating variables, in feature order."""
        return [n for n in self.feature_names[1:] if n in self.bounds]

    def restrict(self, names: Sequence[str]) -> SearchSpace:
        """The same space with only the named options (e.g. a lab-only design)."""
        keep = [o for o in self.options if o.name in set(names)]
        if len(keep) != len(set(names)):
            raise InputDataError(f"unknown options {sorted(set(names))}; have {self.option_names}")
        return SearchSpace(
            list(self.feature_names),
            dict(self.bounds),
            dict(self.fixed),
            keep,
            self.target_volume_L,
            self.top_fidelity,
            self.constraints,
        )

    @property
    def option_names(self) -> list[str]:
        return [o.name for o in self.options]

    def _sobol(self, n: int, seed: int, dtype: torch.dtype, device: torch.device) -> Tensor:
        free = self.free_names
        if not free:
            return torch.zeros(1, 0, dtype=dtype, device=device)
        u = SobolEngine(len(free), scramble=True, seed=seed).draw(n).to(dtype=dtype, device=device)
        lo = torch.tensor([self.bounds[k][0] for k in free], dtype=dtype, device=device)
        hi = torch.tensor([self.bounds[k][1] for k in free], dtype=dtype, device=device)
        return lo + (hi - lo) * u

    def assemble(self, volume_L: float, fidelity: int, values: Tensor) -> Tensor:
        """Model inputs ``n x (d + 1)`` from free-variable values ``n x k`` (``free_names``)."""
        n = values.shape[0]
        X = torch.empty(n, self.dim, dtype=values.dtype, device=values.device)
        X[:, 0] = math.log10(volume_L)
        free = self.free_names
        for j, name in enumerate(self.feature_names[1:], start=1):
            X[:, j] = values[:, free.index(name)] if name in self.bounds else self.fixed[name]
        X[:, -1] = float(fidelity)
        return X

    def feasible(self, X: Tensor) -> Tensor:
        """Inside the bounds (and fixed values) and the engineering constraints -> ``n`` bool."""
        ok = torch.ones(X.shape[0], dtype=torch.bool, device=X.device)
        tol = 1e-9
        for j, name in enumerate(self.feature_names[1:], start=1):
            if name in self.bounds:
                lo, hi = self.bounds[name]
                span = tol * (1 + abs(hi - lo))
                ok &= (X[:, j] >= lo - span) & (X[:, j] <= hi + span)
            else:
                ok &= (X[:, j] - self.fixed[name]).abs() <= tol * (1 + abs(self.fixed[name]))
        return ok & self.constraints.feasible(X, self.feature_names)

    def candidates(
        self,
        n: int = 512,
        *,
        seed: int = 0,
        dtype: torch.dtype = torch.float64,
        device: torch.device | str | None = None,
    ) -> Tensor:
        """Feasible candidate runs of every option: ``N x (d + 1)`` (``N <= n * options``).

        A scrambled Sobol set of ``n`` operating points (seeded; the same for every option) is
        placed at each option's volume and fidelity; infeasible rows are dropped.

        Raises:
            InputDataError: no candidate is feasible.
        """
        device = torch.device(device) if device is not None else torch.device("cpu")
        vals = self._sobol(n, seed, dtype, device)
        parts = []
        for o in self.options:
            X = self.assemble(o.volume_L, o.fidelity, vals)
            parts.append(X[self.feasible(X)])
        out = torch.cat(parts)
        if out.shape[0] == 0:
            raise InputDataError(
                "no candidate run satisfies the engineering constraints; relax them or widen "
                f"the bounds {self.bounds}"
            )
        return out

    def target_points(
        self,
        n: int = 128,
        *,
        seed: int = 1,
        dtype: torch.dtype = torch.float64,
        device: torch.device | str | None = None,
    ) -> Tensor:
        """Feasible points at the target volume and top fidelity: ``N x (d + 1)`` (N <= n)."""
        device = torch.device(device) if device is not None else torch.device("cpu")
        X = self.assemble(
            self.target_volume_L, self.top_fidelity, self._sobol(n, seed, dtype, device)
        )
        keep = self.feasible(X) if self.constraints.at_target else torch.ones_like(X[:, 0]).bool()
        if not bool(keep.any()):
            raise InputDataError(
                f"no operating point is feasible at the target volume {self.target_volume_L:g} "
                "L under the engineering constraints; relax them, or set constraints.at_target "
                "= false"
            )
        return X[keep]

    def project(self, X: Tensor) -> Tensor:
        """Map runs ``batch x q x (d + 1)`` to the target volume and the top fidelity.

        The operating variables are kept, except the stirrer speed (an ``rpm`` variable): a
        stirrer speed only means something at its own scale, so it is scaled up to the target
        volume by the constraints' scale-up rule (default constant P/V; both volumes with the
        default vessel geometry, as in the feasibility check;
        :func:`mfgp.scaling.criteria.scale_up`). The rule's speed ratio is taken at the
        reference speed ``constraints.reference_rpm``; it does not depend on the speed for
        constant P/V and constant tip speed.
        """
        out = X.clone()
        if "rpm" in self.feature_names:
            j = self.feature_names.index("rpm")
            out[..., j] = X[..., j] * self._rpm_factor(X[..., 0])
        out[..., 0] = math.log10(self.target_volume_L)
        out[..., -1] = float(self.top_fidelity)
        return out

    def _rpm_factor(self, logv: Tensor) -> Tensor:
        """Ratio target rpm / run rpm of the scale-up rule for runs at ``10 ** logv`` litres."""
        factor = torch.ones_like(logv)
        ref = float(self.constraints.reference_rpm)
        for v in torch.unique(logv.detach().cpu()):
            vol = float(10.0 ** float(v))
            # default geometry at both scales, as in EngineeringConstraints.feasible
            op = scale_up(Vessel(vol), ref, Vessel(self.target_volume_L), self.constraints.rule)
            factor = torch.where(logv == v.to(logv), float(op.rpm) / ref, factor)
        return factor

    def option_index(self, X: Tensor) -> Tensor:
        """Index of the option of each run ``... x (d + 1)`` (nearest volume and fidelity)."""
        logv = torch.tensor([math.log10(o.volume_L) for o in self.options]).to(X)
        fid = torch.tensor([float(o.fidelity) for o in self.options]).to(X)
        dist = (X[..., 0:1] - logv).abs() + 10.0 * (X[..., -1:] - fid).abs()
        return dist.argmin(dim=-1)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly description."""
        return {
            "feature_names": list(self.feature_names),
            "bounds": {k: list(v) for k, v in self.bounds.items()},
            "fixed": dict(self.fixed),
            "options": [asdict(o) for o in self.options],
            "target_volume_L": self.target_volume_L,
            "top_fidelity": self.top_fidelity,
            "constraints": asdict(self.constraints),
        }
