r"""Next-experiment design: a cost-aware acquisition layer on BoTorch.

Given a fitted model (any :class:`~mfgp.models.base.ScaleUpModel`; the AR1 co-kriging GP is the
intended one) and a :class:`SearchSpace`, :func:`suggest` proposes the next ``q`` runs. A run is a
**scale option** (a named ``(fidelity, volume)`` pair the user can actually run, with its cost:
``lab`` = 2 L measured at cost 1, ``pilot`` = 200 L measured at cost 20, ...) plus a setting of the
operating variables inside their bounds, with fixed values (for example ``time_h`` = the end of
the run) and engineering feasibility constraints from the scaling layer.

Two goals:

``learn``
    Reduce the posterior variance of the top-fidelity response at the target (production)
    volume, integrated over the operating region (``mc_points``: a scrambled Sobol set at the
    target volume and top fidelity, feasible points only), per unit cost. The variance after the
    candidate run is computed by BoTorch's :class:`~botorch.acquisition.active_learning.
    qNegIntegratedPosteriorVariance`, which fantasises the run (``model.fantasize``, exact for a
    GP: the posterior variance does not depend on the fantasised values, so one fantasy
    suffices). The gain ``IPV(now) - IPV(after)`` is divided by the run's cost with
    :class:`~botorch.acquisition.cost_aware.InverseCostWeightedUtility`
    (:class:`CostWeightedIntegratedVarianceReduction`). For models without ``fantasize`` the
    same reduction is computed in closed form from the joint posterior covariance,
    ``K_MA (K_AA + N_A)^{-1} K_AM`` (:class:`ClosedFormVarianceReduction`). The closed form is
    the default for every model (``closed_form=True``): it equals the fantasy version for GPs
    (tested) and costs one posterior per batch of candidates rather than one conditioned model
    per candidate, which on the default data set (~1000 training rows) is the difference
    between seconds and tens of minutes.

``optimise``
    Find the operating point that maximises the predicted top-fidelity response at the target
    volume: cost-aware multi-fidelity max-value entropy search,
    :class:`~botorch.acquisition.max_value_entropy_search.qMultiFidelityMaxValueEntropy`
    (Takeno et al. 2020), with ``project`` mapping any run to the target volume and top
    fidelity, the max-value samples drawn on the feasible target-scale set and the information
    gain weighted by :class:`~botorch.acquisition.cost_aware.InverseCostWeightedUtility`.

``ei`` (single-fidelity baseline)
    :class:`~botorch.acquisition.logei.qLogExpectedImprovement` at the options' own scale, with
    the incumbent from **top-fidelity data only** (:func:`incumbent_best`; mixing lower levels'
    values into the incumbent stalls optimisation, DESIGN.md).

**Optimisation over a feasible candidate set.** The option is discrete and the engineering
constraints (tip speed, P/V, heat removal: :class:`EngineeringConstraints`) are nonlinear
functions of the stirrer speed, aeration and volume. Rather than passing nonlinear constraints
through ``optimize_acqf`` per option, each option gets a seeded scrambled Sobol set of operating
points inside the bounds, infeasible points are removed, and the acquisition is maximised over
the union with BoTorch's :func:`~botorch.optim.optimize.optimize_acqf_discrete`. Batches
(``q > 1``) are sequential greedy: each chosen run becomes ``X_pending`` (a fantasy for ``learn``
and ``optimise``, BoTorch's pending-point handling for ``ei``), and the next run maximises the
marginal gain per marginal cost. Every random draw is seeded (Sobol seeds, samplers, and a forked
torch RNG for BoTorch's max-value sampling); tensors follow the model's device and dtype.

Costs are a BoTorch :class:`~botorch.models.deterministic.DeterministicModel`
(:class:`OptionCostModel`) that maps a run's ``(log10 volume, fidelity)`` to its option's cost.

References:
    Takeno, S. et al. (2020). Multi-fidelity Bayesian optimization with max-value entropy
    search and its parallelization. ICML 2020.
    Wu, J., Toscano-Palmerin, S., Frazier, P. I. & Wilson, A. G. (2019). Practical
    multi-fidelity Bayesian optimization for hyperparameter tuning. UAI 2019 (cost-aware
    utility).
    Seo, S., Wallat, M., Graepel, T. & Obermayer, K. (2000). Gaussian process regression:
    active data selection and test point rejection. IJCNN (integrated variance reduction).
    Ament, S. et al. (2023). Unexpected improvements to expected improvement for Bayesian
    optimization. NeurIPS 2023 (LogEI).

Example:
    >>> import pandas as pd, torch
    >>> from mfgp.data import ScaleUpData
    >>> from mfgp.models import SingleFidelityGP
    >>> df = pd.DataFrame({"V": [2, 2, 2, 200, 200], "feed": [3.0, 6, 9, 4, 8],
    ...                    "titer": [3.0, 4.5, 5.0, 3.5, 5.2]})
    >>> data = ScaleUpData(df, target="titer")
    >>> space = SearchSpace.from_data(data, costs="lab=1,pilot=20", target_volume_L=1e5)
    >>> model = SingleFidelityGP(restarts=1, maxiter=30).fit(data)
    >>> s = suggest(model, space, goal="ei", q=2, seed=0, n_candidates=64)
    >>> len(s.frame)
    2
"""

from __future__ import annotations

import json
import logging
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from botorch.acquisition import AcquisitionFunction
from botorch.acquisition.active_learning import qNegIntegratedPosteriorVariance
from botorch.acquisition.cost_aware import InverseCostWeightedUtility
from botorch.acquisition.logei import qLogExpectedImprovement
from botorch.acquisition.max_value_entropy_search import qMultiFidelityMaxValueEntropy
from botorch.models.deterministic import DeterministicModel
from botorch.optim.optimize import optimize_acqf_discrete
from botorch.sampling import SobolQMCNormalSampler
from torch import Tensor
from torch.quasirandom import SobolEngine

from mfgp import io, progress
from mfgp.data import ScaleUpData
from mfgp.exceptions import InputDataError
from mfgp.memory import check_model_memory
from mfgp.models.base import seeded
from mfgp.models.registry import get_model
from mfgp.selection import candidate_options, select_model

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 needs the tomli backport (pip install tomli)
    import tomli as tomllib

__all__ = [
    "GOALS",
    "ClosedFormVarianceReduction",
    "CostWeightedIntegratedVarianceReduction",
    "EngineeringConstraints",
    "OptionCostModel",
    "ScaleOption",
    "SearchSpace",
    "SuggestResult",
    "Suggestions",
    "build_acquisition",
    "format_suggestions",
    "incumbent_best",
    "sequential_greedy",
    "load_config",
    "parse_assignments",
    "run_suggest",
    "suggest",
]

log = logging.getLogger(__name__)

#: the models ``auto`` compares for :func:`run_suggest`: those that can condition on planned
#: runs (``fantasize``), which every goal needs.
SUGGEST_CANDIDATES = ("hybrid", "ar1")

#: Accepted ``goal`` values of :func:`suggest`.
GOALS = ("learn", "optimise", "ei")
_GOAL_ALIASES = {"optimize": "optimise", "learn": "learn", "optimise": "optimise", "ei": "ei"}

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

VOLUME = "log10_volume_L"


# ------------------------------------------------------------------------ parsing helpers
def parse_assignments(text: str | Mapping[str, Any] | None, what: str) -> dict[str, float]:
    """Parse ``"lab=1,pilot=20"`` (or a mapping) into ``{name: positive float}``.

    Args:
        text: the comma-separated ``NAME=VALUE`` pairs, or a mapping, or None (empty result).
        what: what the values are (``"costs"``, ``"scales"``), for error messages.

    Raises:
        InputDataError: empty names, missing ``=``, non-numeric or non-positive values, or a
            name given twice.

    >>> parse_assignments("lab=1, pilot=20", "costs")
    {'lab': 1.0, 'pilot': 20.0}
    """
    if text is None:
        return {}
    if isinstance(text, Mapping):
        items = [(str(k), v) for k, v in text.items()]
    else:
        items = []
        for part in [p.strip() for p in str(text).split(",") if p.strip()]:
            if part.count("=") != 1:
                raise InputDataError(
                    f"bad {what} entry {part!r}: write NAME=VALUE pairs separated by commas, "
                    f"for example lab=1,pilot=20"
                )
            name, value = (s.strip() for s in part.split("="))
            items.append((name, value))
    out: dict[str, float] = {}
    for name, value in items:
        if not name:
            raise InputDataError(f"bad {what}: an entry has an empty name ({text!r})")
        if name in out:
            raise InputDataError(f"bad {what}: {name!r} is given twice")
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise InputDataError(
                f"bad {what} value {value!r} for {name!r}: it must be a positive number"
            ) from None
        if not (math.isfinite(v) and v > 0):
            raise InputDataError(f"bad {what} value {value!r} for {name!r}: it must be > 0")
        out[name] = v
    if not out:
        raise InputDataError(f"no {what} given: write NAME=VALUE pairs, e.g. lab=1,pilot=20")
    return out


def load_config(path: str | Path) -> dict[str, Any]:
    """Read a search-space TOML file (see :meth:`SearchSpace.from_data` for the keys).

    Example file::

        target_volume_L = 100000
        [costs]
        lab = 1
        pilot = 20
        [scales]            # litres of each named option (default: from the data)
        lab = 2
        pilot = 200
        [bounds]            # operating variables (default: the data's range)
        feed_gLh = [3.0, 12.0]
        [fixed]             # default: time_h = the end of the run
        time_h = 36
        [constraints]       # see EngineeringConstraints
        max_tip_speed = 7.0
        our_per_feed = 16.0

    Raises:
        InputDataError: missing file or invalid TOML.
    """
    path = Path(path)
    if not path.is_file():
        raise InputDataError(f"config file {path} does not exist; check the --config path")
    try:
        return tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise InputDataError(f"{path} is not valid TOML: {err}") from err


# ------------------------------------------------------------------------ search space
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


@dataclass(frozen=True)
class EngineeringConstraints:
    """Feasibility limits from the scaling layer (:func:`mfgp.scaling.criteria.operating_point`).

    Each limit is checked at the run's volume (default vessel geometry,
    :class:`~mfgp.scaling.criteria.Vessel`). The stirrer speed is the ``rpm`` operating variable
    when the space has one, else ``rpm`` below, else the speed the scale-up ``rule`` gives from the
    reference run; the aeration is the ``vvm`` variable when present, else ``vvm`` below.

    Attributes:
        max_tip_speed: upper limit of the impeller tip speed (m/s; shear), or None.
        max_p_per_v: upper limit of the gassed power per volume (W/m3), or None.
        our_per_feed: heat-removal limit: the oxygen uptake a feed needs, ``our_per_feed *
            feed`` (mmol/L/h per g/L/h; ~16 for glucose oxidation), must not exceed what the
            jacket can cool at that volume (``heat_our_max_mmol_L_h``). None: not checked.
        design_our: a fixed OUR (mmol/L/h) that the jacket must be able to cool (when the space
            has no feed variable), or None.
        feed_column: name of the feed-rate variable used with ``our_per_feed``.
        rpm, vvm: fixed stirrer speed and aeration when they are not operating variables.
        rule, reference_volume_L, reference_rpm: scale-up rule giving the rpm otherwise.
        at_target: also restrict the target-volume points (variance integration, max-value
            samples) to feasible ones; set False when the operating variables are only
            meaningful at the run scales (e.g. a lab rpm range that no production tank can
            reach).
    """

    max_tip_speed: float | None = None
    max_p_per_v: float | None = None
    our_per_feed: float | None = None
    design_our: float | None = None
    feed_column: str = "feed_gLh"
    rpm: float | None = None
    vvm: float = 1.0
    rule: str = "constant-P/V"
    reference_volume_L: float = 10.0
    reference_rpm: float = 1000.0
    at_target: bool = True

    @property
    def active(self) -> bool:
        """Whether any limit is set."""
        return any(
            v is not None
            for v in (self.max_tip_speed, self.max_p_per_v, self.our_per_feed, self.design_our)
        )

    @classmethod
    def from_mapping(cls, cfg: Mapping[str, Any] | None) -> EngineeringConstraints:
        """From a ``[constraints]`` table; unknown keys raise :class:`InputDataError`."""
        cfg = dict(cfg or {})
        known = set(cls.__dataclass_fields__)
        bad = sorted(set(cfg) - known)
        if bad:
            raise InputDataError(f"unknown constraint keys {bad}; known: {sorted(known)}")
        return cls(**cfg)

    def feasible(self, X: Tensor, feature_names: Sequence[str]) -> Tensor:
        """Boolean feasibility of each row of ``X`` (``n x (d + 1)``, fidelity last) -> ``n``."""
        n = X.shape[0]
        ok = torch.ones(n, dtype=torch.bool, device=X.device)
        if not self.active or n == 0:
            return ok
        from mfgp.scaling.criteria import Vessel, operating_point, scale_up

        names = list(feature_names)
        if self.our_per_feed is not None and self.feed_column not in names:
            raise InputDataError(
                f"the heat-removal constraint needs the feed variable {self.feed_column!r} "
                f"(set constraints.feed_column); the features are {names}"
            )
        vols = 10.0 ** X[:, names.index(VOLUME)].double().cpu()
        for v in torch.unique(vols):
            rows = (vols == v).nonzero().flatten()
            sub = X[rows.to(X.device)].double().cpu()
            vessel = Vessel(float(v))
            vvm = (
                sub[:, names.index("vvm")] if "vvm" in names else torch.full((len(rows),), self.vvm)
            )
            if "rpm" in names:
                rpm = sub[:, names.index("rpm")]
            elif self.rpm is not None:
                rpm = torch.full((len(rows),), float(self.rpm))
            else:
                ref = Vessel(float(self.reference_volume_L), h_over_t=1.0)
                r = float(scale_up(ref, self.reference_rpm, vessel, self.rule).rpm)
                rpm = torch.full((len(rows),), r)
            op = operating_point(vessel, rpm.clamp_min(1e-6), vvm.clamp_min(1e-6))
            good = torch.ones(len(rows), dtype=torch.bool)
            if self.max_tip_speed is not None:
                good &= op.tip_speed.expand(len(rows)) <= self.max_tip_speed
            if self.max_p_per_v is not None:
                good &= op.p_per_v.expand(len(rows)) <= self.max_p_per_v
            cap = op.heat_our_max_mmol_L_h.expand(len(rows))
            if self.our_per_feed is not None:
                good &= self.our_per_feed * sub[:, names.index(self.feed_column)] <= cap
            if self.design_our is not None:
                good &= cap >= self.design_our
            ok[rows.to(X.device)] = good.to(X.device)
        return ok


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
        from mfgp.scaling.criteria import Vessel, operating_point

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
        from mfgp.scaling.criteria import Vessel, scale_up

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


# ------------------------------------------------------------------------ cost model
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


# ------------------------------------------------------------------------ acquisitions
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
        b, m = A.shape[0], self.mc_points.shape[0]
        Z = torch.cat([self.mc_points.expand(b, m, -1), A], dim=-2)
        cov = self.model.posterior(Z).distribution.covariance_matrix
        noisy = self.model.posterior(A, observation_noise=True).variance.squeeze(-1)
        latent = self.model.posterior(A).variance.squeeze(-1)
        K_MA, K_AA = cov[..., :m, m:], cov[..., m:, m:]
        K_AA = K_AA + torch.diag_embed((noisy - latent).clamp_min(1e-12))
        L = torch.linalg.cholesky(K_AA)
        W = torch.cholesky_solve(K_MA.transpose(-1, -2), L)  # b x a x m
        return (K_MA * W.transpose(-1, -2)).sum(-1).mean(-1)

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
        if self.X_pending is not None:
            X = torch.cat([self.X_pending.expand(X.shape[0], -1, -1), X], dim=-2)
        return self._reduction(X) - self.baseline

    def forward(self, X: Tensor) -> Tensor:
        """Reduction per unit cost, ``batch``."""
        return self.utility(X=X, deltas=self.gain(X))


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


def _predict(model: Any, X: Tensor) -> tuple[Tensor, Tensor]:
    """Pointwise mean and sd at ``X`` (``n x (d + 1)``): ``predict`` or the posterior."""
    with torch.no_grad():
        if hasattr(model, "predict"):
            p = model.predict(X)
            return p.mean.reshape(-1), p.sd.reshape(-1)
        post = model.posterior(X)
        return post.mean.reshape(-1), post.variance.clamp_min(0).sqrt().reshape(-1)


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
    """The cost-aware acquisition function of ``goal`` (see the module docstring).

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


def _check_goal(goal: str) -> str:
    g = _GOAL_ALIASES.get(str(goal).lower())
    if g is None:
        raise InputDataError(f"unknown goal {goal!r}; choose one of {list(GOALS)}")
    return g


# ------------------------------------------------------------------------ suggest
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


# ------------------------------------------------------------------------ workflow
@dataclass
class SuggestResult:
    """What :func:`run_suggest` produced: the suggestions, the space, the model, the folder."""

    suggestions: Suggestions
    space: SearchSpace
    model: Any
    out_dir: Path | None


def run_suggest(
    data: Any,
    *,
    target: str | None = None,
    goal: str | None = None,
    q: int | None = None,
    costs: str | Mapping[str, float] | None = None,
    target_volume_L: float | None = None,
    scales: str | Mapping[str, float] | None = None,
    config: str | Path | Mapping[str, Any] | None = None,
    model: str | None = None,
    model_options: Mapping[str, Any] | None = None,
    seed: int | None = None,
    n_candidates: int | None = None,
    out: str | Path | None = None,
    data_options: Mapping[str, Any] | None = None,
    device: str | None = None,
) -> SuggestResult:
    """The job behind ``mfgp suggest``: load data, build the space, fit, suggest, write files.

    Arguments left None are taken from ``config`` (TOML keys of the same names), then from
    defaults (goal ``learn``, q 1, model ``auto``: :data:`SUGGEST_CANDIDATES` compared by
    forward-chaining validation over volumes, seed 0, 512 candidates per option); a
    ``[model_options]`` table gives constructor options of the model (e.g. ``restarts = 1``).
    ``suggestions.csv`` and ``suggestions.json`` are written atomically into ``out`` when given.

    Returns:
        A :class:`SuggestResult`.
    """
    cfg: dict[str, Any] = {}
    if isinstance(config, (str, Path)):
        cfg = load_config(config)
    elif config is not None:
        cfg = dict(config)
    goal = _check_goal(goal if goal is not None else cfg.get("goal", "learn"))
    q = int(q if q is not None else cfg.get("q", 1))
    seed = int(seed if seed is not None else cfg.get("seed", 0))
    model_name = model if model is not None else cfg.get("model", "auto")
    n_cand = int(n_candidates if n_candidates is not None else cfg.get("n_candidates", 512))
    inputs = [data] if isinstance(data, (str, Path)) else []
    if out is not None:
        out = io.check_output_folder(out, inputs)
    data_options = dict(data_options or {})
    max_rows = data_options.pop("max_rows_per_level", None)
    if not isinstance(data, ScaleUpData):
        if target is None:
            raise InputDataError("target is required when data is a path (--target COL)")
        data = ScaleUpData(data, target=target, device=device, **data_options)
    if max_rows is not None:
        data = data.thin_levels(int(max_rows), seed=seed)
    space = SearchSpace.from_data(
        data, costs=costs, target_volume_L=target_volume_L, scales=scales, config=cfg
    )
    options = {**dict(cfg.get("model_options", {})), **dict(model_options or {})}
    selection = None
    if model_name == "auto":  # among the models that can condition on planned runs
        able = [n for n in SUGGEST_CANDIDATES if hasattr(get_model(n), "fantasize")]
        selection = select_model(data, candidates=able, model_options={"*": options}, seed=seed)
        model_name = selection.chosen
        options = candidate_options(model_name, {"*": options})
    fitted = get_model(model_name, **options)
    check_model_memory(model_name, fitted, data)
    log.info("fitting %s on %d rows", model_name, len(data))
    fitted.fit(data, seed=seed)
    result = suggest(
        fitted,
        space,
        goal=goal,
        q=q,
        seed=seed,
        n_candidates=n_cand,
        fidelity_names=data.fidelity_names,
    )
    if out is not None:
        payload = {
            "goal": goal,
            "gain_unit": result.frame.attrs.get("gain_unit"),
            "q": q,
            "seed": seed,
            "model": model_name,
            "model_options": options,
            "selection": None if selection is None else selection.to_dict(),
            "fit_choices": fitted.fit_choices(),
            "target": data.target,
            "data": data.source,
            "space": space.to_dict(),
            "suggestions": json.loads(result.frame.to_json(orient="records")),
            "versions": io.versions(),
        }
        with io.output_folder(out, inputs=inputs, command="mfgp suggest") as tmp:
            io.atomic_write_csv(tmp / "suggestions.csv", result.frame)
            io.atomic_write_json(tmp / "suggestions.json", payload)
    return SuggestResult(result, space, fitted, out)
