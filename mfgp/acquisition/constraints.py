"""Engineering feasibility of runs: tip speed, P/V and heat-removal limits from the scaling
layer (:mod:`mfgp.scaling.criteria`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from mfgp.exceptions import InputDataError
from mfgp.scaling.criteria import Vessel, operating_point, scale_up
from mfgp.scaling.vessels import vessel_of

__all__ = ["VOLUME", "EngineeringConstraints"]

VOLUME = "log10_volume_L"


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

    def feasible(
        self,
        X: Tensor,
        feature_names: Sequence[str],
        *,
        geometry: Mapping[float, Vessel] | None = None,
    ) -> Tensor:
        """Boolean feasibility of each row of ``X`` (``n x (d + 1)``, fidelity last) -> ``n``.

        ``feature_names`` call the stirrer speed ``rpm`` and the aeration ``vvm``;
        ``geometry`` gives the vessels whose geometry is known (``{volume_L: Vessel}``; the
        others have the :class:`~mfgp.scaling.criteria.Vessel` defaults)."""
        n = X.shape[0]
        ok = torch.ones(n, dtype=torch.bool, device=X.device)
        if not self.active or n == 0:
            return ok
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
            vessel = vessel_of(float(v), geometry)
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
