"""The search space of the next runs: the options (vessels and cheap levels, each with its cost
and its own operating window), the fixed values, the production window, candidate and
target-scale points.

:meth:`SearchSpace.from_data` builds one from a data set and the user's settings
(:func:`mfgp.acquisition.options.space_arguments`)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.quasirandom import SobolEngine

from mfgp.acquisition.constraints import VOLUME, EngineeringConstraints
from mfgp.acquisition.options import DEFAULT_SCALE_RANGES, space_arguments
from mfgp.acquisition.vessels import ScaleOption
from mfgp.exceptions import InputDataError
from mfgp.scaling.criteria import Vessel, scale_up
from mfgp.scaling.vessels import physics_role, same_volume, vessel_of

__all__ = ["DEFAULT_SCALE_RANGES", "ScaleOption", "SearchSpace"]


@dataclass
class SearchSpace:
    """Where the next runs may go.

    Attributes:
        feature_names: the model's feature columns (``log10_volume_L`` first), as in
            :attr:`mfgp.data.ScaleUpData.feature_names`.
        bounds: ``{variable: (lower, upper)}`` for each free operating variable (an option's
            own ``bounds`` replace these for its runs).
        fixed: ``{variable: value}`` for the others (e.g. ``time_h``: end of the run).
        options: the runs the user can do (:class:`ScaleOption`), each with its cost.
        target_volume_L: the production volume the goals refer to.
        top_fidelity: index of the measured (top) level.
        constraints: engineering feasibility limits.
        target_bounds: the operating window at the target volume (None: ``bounds``).
        categories: ``{factor: [indicator columns]}`` of categorical factors: each candidate
            takes one level (its indicator 1, the others 0); not in ``bounds`` or ``fixed``.
        roles: ``{"rpm": column, "vvm": column}``: the columns that are the stirrer speed and
            the aeration (default: found by :func:`~mfgp.scaling.vessels.physics_role`).
        geometry: ``{volume_L: Vessel}`` for vessels whose geometry is known (others: the
            :class:`~mfgp.scaling.criteria.Vessel` defaults).
        steps: ``{variable: step}``: settings are rounded to these (instrument precision).
        cost_unit: what the costs are in (``"EUR"``, ``"h"``; empty: not stated).
    """

    feature_names: list[str]
    bounds: dict[str, tuple[float, float]]
    fixed: dict[str, float]
    options: list[ScaleOption]
    target_volume_L: float
    top_fidelity: int
    constraints: EngineeringConstraints = field(default_factory=EngineeringConstraints)
    target_bounds: dict[str, tuple[float, float]] | None = None
    categories: dict[str, list[str]] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)
    geometry: dict[float, Vessel] = field(default_factory=dict)
    steps: dict[str, float] = field(default_factory=dict)
    cost_unit: str = ""

    def __post_init__(self) -> None:
        names = list(self.feature_names)
        if not names or names[0] != VOLUME:
            raise InputDataError(f"feature_names must start with {VOLUME!r}, got {names}")
        indicators = {c for cols in self.categories.values() for c in cols}
        unknown_ind = sorted(indicators - set(names))
        if unknown_ind:
            raise InputDataError(f"categorical columns {unknown_ind} are not features {names}")
        windows = [("bounds", self.bounds), ("target_bounds", self.target_bounds or {})]
        windows += [(f"option {o.name!r}", dict(o.bounds or {})) for o in self.options]
        for what, window in windows:
            for name, (lo, hi) in window.items():
                if name not in names[1:] or name in indicators:
                    raise InputDataError(
                        f"{what}: bounds for unknown variable {name!r}; features: {names}"
                    )
                if not (math.isfinite(lo) and math.isfinite(hi)):
                    raise InputDataError(f"bounds of {name!r} must be finite, got [{lo}, {hi}]")
                if lo > hi:
                    raise InputDataError(
                        f"bounds of {name!r} have lower {lo} > upper {hi}; swap them"
                    )
        for name in self.fixed:
            if name not in names[1:]:
                raise InputDataError(
                    f"fixed value for unknown variable {name!r}; features: {names}"
                )
        both = sorted(set(self.bounds) & set(self.fixed))
        if both:
            raise InputDataError(f"{both} are both bounded and fixed; give one of the two")
        free = set(names[1:]) - set(self.fixed) - indicators
        missing = [n for n in names[1:] if n in free and n not in self.bounds]
        if missing:
            raise InputDataError(f"variables {missing} need bounds or a fixed value")
        for o in self.options:
            bad = sorted(set(o.fixed or {}) - set(self.fixed))
            if bad:
                raise InputDataError(f"option {o.name!r} fixes {bad}, which the space leaves free")
        if not self.options:
            raise InputDataError(
                "the search space needs at least one option: give the cost of each vessel "
                "you can run, e.g. --costs 2L=1,200L=20"
            )
        if len({o.name for o in self.options}) != len(self.options):
            raise InputDataError("scale option names must be unique")
        bad = [o.name for o in self.options if o.fidelity > self.top_fidelity]
        if bad:
            raise InputDataError(f"options {bad} have a fidelity above the top level")
        if not self.target_volume_L > 0:
            raise InputDataError(f"target volume must be > 0 L, got {self.target_volume_L}")
        if not self.roles:
            self.roles = {r: n for n in names[1:] if (r := physics_role(n)) is not None}

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
        operating: Sequence[str] | None = None,
        cost_unit: str | None = None,
    ) -> SearchSpace:
        """Build a space from a :class:`~mfgp.data.ScaleUpData` and user settings: options
        per vessel with their own windows (see
        :func:`mfgp.acquisition.options.space_arguments` for every rule and default).

        Raises:
            InputDataError: bad or missing costs, an unknown vessel or scale name, bounds with
                lower > upper, unknown variables, or no target volume.
        """
        return cls(
            **space_arguments(
                data,
                costs=costs,
                target_volume_L=target_volume_L,
                scales=scales,
                bounds=bounds,
                fixed=fixed,
                constraints=constraints,
                config=config,
                operating=operating,
                cost_unit=cost_unit,
            )
        )

    # ----------------------------------------------------------------- points
    @property
    def dim(self) -> int:
        """Columns of ``X``: the features and the fidelity index."""
        return len(self.feature_names) + 1

    @property
    def free_names(self) -> list[str]:
        """The bounded operating variables, in feature order."""
        return [n for n in self.feature_names[1:] if n in self.bounds]

    @property
    def physics_names(self) -> list[str]:
        """The feature names with the stirrer-speed and aeration columns called ``rpm`` and
        ``vvm``, as the engineering constraints read them."""
        inverse = {col: role for role, col in self.roles.items()}
        return [inverse.get(n, n) for n in self.feature_names]

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
            self.target_bounds,
            self.categories,
            self.roles,
            self.geometry,
            self.steps,
            self.cost_unit,
        )

    @property
    def option_names(self) -> list[str]:
        return [o.name for o in self.options]

    def window(self, option: ScaleOption | None = None) -> dict[str, tuple[float, float]]:
        """The bounds of the free variables for an option's runs (None: at the target)."""
        if option is None:
            return {**self.bounds, **dict(self.target_bounds or {})}
        return {**self.bounds, **dict(option.bounds or {})}

    def _values(
        self,
        n: int,
        seed: int,
        window: Mapping[str, tuple[float, float]],
        dtype: torch.dtype,
        device: torch.device,
    ) -> tuple[Tensor, Tensor]:
        """Scrambled Sobol values of the free variables (``n x k``, rounded to ``steps``) and
        level indices of the categorical factors (``n x g``)."""
        free, groups = self.free_names, list(self.categories)
        dims = len(free) + len(groups)
        if dims == 0:
            return (torch.zeros(1, 0, dtype=dtype, device=device),) * 2
        u = SobolEngine(dims, scramble=True, seed=seed).draw(n).to(dtype=dtype, device=device)
        lo = torch.tensor([window[k][0] for k in free], dtype=dtype, device=device)
        hi = torch.tensor([window[k][1] for k in free], dtype=dtype, device=device)
        vals = lo + (hi - lo) * u[:, : len(free)]
        for j, name in enumerate(free):
            step = float(self.steps.get(name, 0.0))
            if step > 0:
                r = torch.round(vals[:, j] / step) * step  # inward where rounding left
                r = torch.where(r < lo[j] - 1e-12, r + step, r)
                r = torch.where(r > hi[j] + 1e-12, r - step, r)
                vals[:, j] = torch.minimum(torch.maximum(r, lo[j]), hi[j])
        sizes = torch.tensor([len(self.categories[g]) for g in groups], dtype=dtype, device=device)
        levels = torch.minimum(torch.floor(u[:, len(free) :] * sizes), sizes - 1)
        return vals, levels

    def sobol(self, n: int, seed: int, dtype: torch.dtype, device: torch.device) -> Tensor:
        """Sobol values of the free variables over the space's ``bounds`` (``n x k``)."""
        return self._values(n, seed, self.bounds, dtype, device)[0]

    def assemble(
        self,
        volume_L: float,
        fidelity: int,
        values: Tensor,
        *,
        levels: Tensor | None = None,
        fixed: Mapping[str, float] | None = None,
    ) -> Tensor:
        """Model inputs ``n x (d + 1)`` from free-variable values ``n x k`` (``free_names``),
        categorical level indices ``n x g`` (default: the first level) and fixed values
        (default: the space's)."""
        n = values.shape[0]
        fixed = {**self.fixed, **dict(fixed or {})}
        X = torch.zeros(n, self.dim, dtype=values.dtype, device=values.device)
        X[:, 0] = math.log10(volume_L)
        free = self.free_names
        names = self.feature_names
        for j, name in enumerate(names[1:], start=1):
            if name in self.bounds:
                X[:, j] = values[:, free.index(name)]
            elif name in fixed:
                X[:, j] = fixed[name]
        for g, cols in enumerate(self.categories.values()):
            pick = levels[:, g] if levels is not None else torch.zeros(n, dtype=values.dtype)
            for k, col in enumerate(cols):
                if col in fixed:
                    continue
                X[:, names.index(col)] = (pick == k).to(values.dtype)
        X[:, -1] = float(fidelity)
        return X

    def _window_of_rows(self, X: Tensor) -> list[tuple[Tensor, dict, dict]]:
        """Rows of ``X`` grouped by the window they belong to: an option's (exact volume and
        fidelity), the target's, or the space's bounds."""
        logv = X[:, 0]
        fid = X[:, -1]
        assigned = torch.zeros(X.shape[0], dtype=torch.bool, device=X.device)
        out = []
        for o in self.options:
            rows = ((logv - math.log10(o.volume_L)).abs() < 1e-9) & (fid == o.fidelity)
            rows &= ~assigned
            assigned |= rows
            out.append((rows, self.window(o), {**self.fixed, **dict(o.fixed or {})}))
        at_target = ((logv - math.log10(self.target_volume_L)).abs() < 1e-9) & ~assigned
        assigned |= at_target
        out.append((at_target, self.window(None), self.fixed))
        out.append((~assigned, self.bounds, self.fixed))
        return out

    def feasible(self, X: Tensor) -> Tensor:
        """Inside the window and fixed values of each row's option (or the target's, or the
        space's bounds) and the engineering constraints -> ``n`` bool."""
        ok = torch.zeros(X.shape[0], dtype=torch.bool, device=X.device)
        tol = 1e-9
        for rows, window, fixed in self._window_of_rows(X):
            if not bool(rows.any()):
                continue
            sub = X[rows]
            good = torch.ones(sub.shape[0], dtype=torch.bool, device=X.device)
            for j, name in enumerate(self.feature_names[1:], start=1):
                if name in window:
                    lo, hi = window[name]
                    span = tol * (1 + abs(hi - lo))
                    good &= (sub[:, j] >= lo - span) & (sub[:, j] <= hi + span)
                elif name in fixed:
                    good &= (sub[:, j] - fixed[name]).abs() <= tol * (1 + abs(fixed[name]))
            ok[rows] = good
        return ok & self.constraints.feasible(X, self.physics_names, geometry=self.geometry)

    def candidates(
        self,
        n: int = 256,
        *,
        seed: int = 0,
        dtype: torch.dtype = torch.float64,
        device: torch.device | str | None = None,
        exclude: Tensor | None = None,
    ) -> Tensor:
        """Feasible candidate runs of every option: ``N x (d + 1)`` (``N <= n * options``).

        A scrambled Sobol set of ``n`` points (seeded) is placed in each option's own window
        at its volume and fidelity, rounded to the instrument ``steps``; duplicates, rows of
        ``exclude`` (e.g. runs already planned) and infeasible rows are dropped.

        Raises:
            InputDataError: no candidate is feasible.
        """
        device = torch.device(device) if device is not None else torch.device("cpu")
        parts = []
        for o in self.options:
            vals, levels = self._values(n, seed, self.window(o), dtype, device)
            X = self.assemble(o.volume_L, o.fidelity, vals, levels=levels, fixed=o.fixed)
            X = torch.unique(X, dim=0)
            parts.append(X[self.feasible(X)])
        out = torch.cat(parts)
        if exclude is not None and exclude.numel() and out.shape[0]:
            ex = exclude.to(out)
            same = (out.unsqueeze(1) - ex.unsqueeze(0)).abs() <= 1e-9 * (1 + ex.abs())
            out = out[~same.all(dim=-1).any(dim=-1)]
        if out.shape[0] == 0:
            raise InputDataError(
                "no candidate run lies inside the vessels' windows and the engineering "
                f"constraints; relax the constraints or widen the bounds {self.bounds}"
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
        """Feasible points at the target volume and top fidelity, inside the production
        window: ``N x (d + 1)`` (N <= n)."""
        device = torch.device(device) if device is not None else torch.device("cpu")
        vals, levels = self._values(n, seed, self.window(None), dtype, device)
        X = self.assemble(self.target_volume_L, self.top_fidelity, vals, levels=levels)
        if self.constraints.at_target:
            keep = self.feasible(X)
        else:
            keep = torch.ones_like(X[:, 0]).bool()
        if not bool(keep.any()):
            raise InputDataError(
                f"no operating point is feasible at the target volume {self.target_volume_L:g} "
                "L under the engineering constraints; relax them, or set constraints.at_target "
                "= false"
            )
        return X[keep]

    def project(self, X: Tensor) -> Tensor:
        """Map runs ``batch x q x (d + 1)`` to the target volume and the top fidelity.

        The operating variables are kept, except the stirrer speed (the ``rpm`` role): a
        stirrer speed only means something at its own scale, so it is scaled up to the target
        volume by the constraints' scale-up rule (default constant P/V; each vessel's known
        geometry or the defaults; :func:`mfgp.scaling.criteria.scale_up`). The rule's speed
        ratio is taken at the reference speed ``constraints.reference_rpm``; it does not
        depend on the speed for constant P/V and constant tip speed.
        """
        out = X.clone()
        rpm = self.roles.get("rpm")
        if rpm is not None:
            j = self.feature_names.index(rpm)
            out[..., j] = X[..., j] * self._rpm_factor(X[..., 0])
        out[..., 0] = math.log10(self.target_volume_L)
        out[..., -1] = float(self.top_fidelity)
        return out

    def vessel(self, volume_L: float) -> Vessel:
        """The geometry of the vessel of ``volume_L`` (known, or the defaults)."""
        return vessel_of(volume_L, self.geometry)

    def _rpm_factor(self, logv: Tensor) -> Tensor:
        """Ratio target rpm / run rpm of the scale-up rule for runs at ``10 ** logv`` litres."""
        factor = torch.ones_like(logv)
        ref = float(self.constraints.reference_rpm)
        target = self.vessel(self.target_volume_L)
        for v in torch.unique(logv.detach().cpu()):
            vol = float(10.0 ** float(v))
            op = scale_up(self.vessel(vol), ref, target, self.constraints.rule)
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
        options = []
        for o in self.options:
            d = asdict(o)
            d["vessel"] = o.vessel
            d["bounds"] = {k: [float(f"{b:.6g}") for b in v] for k, v in self.window(o).items()}
            d["fixed"] = {**self.fixed, **dict(o.fixed or {})}
            v = self.vessel(o.volume_L)
            known = any(same_volume(k, o.volume_L) for k in self.geometry)
            d["geometry"] = {
                "h_over_t": v.aspect,
                "d_over_t": v.d_over_t,
                "n_impellers": v.n_impellers_resolved,
                "power_number": v.power_number,
                "source": "config" if known else "defaults (geometric similarity)",
            }
            options.append(d)
        return {
            "feature_names": list(self.feature_names),
            "bounds": {k: list(v) for k, v in self.bounds.items()},
            "fixed": dict(self.fixed),
            "options": options,
            "target_volume_L": self.target_volume_L,
            "target_bounds": {
                k: [float(f"{b:.6g}") for b in v] for k, v in self.window(None).items()
            },
            "top_fidelity": self.top_fidelity,
            "categories": {k: list(v) for k, v in self.categories.items()},
            "roles": dict(self.roles),
            "steps": dict(self.steps),
            "cost_unit": self.cost_unit,
            "constraints": asdict(self.constraints),
        }
