"""Mechanistic fed-batch simulator across scales: scale acts only through transport physics.

The chain is geometry -> agitation and aeration -> kLa, C*, mixing time, jacket heat removal ->
E. coli-like kinetics (oxygen-limited oxidative capacity with overflow to acetate, acetate
inhibition, Luedeking-Piret product formation) in a two-compartment (feed zone + bulk) substrate
model whose exchange rate follows the mixing time.

Model (per litre, volume change by feeding neglected: concentrated feed):

- Feed: a batch phase on ``S0`` glucose until ``t_feed``, then an exponential feed
  ``F0 exp(mu_set (t - t_feed))`` capped at ``feed_gLh`` (g glucose per litre per hour). A plant
  feed controller caps the feed at what oxygen transfer (keeping DO above 20 % of saturation) and
  the jacket (net of agitation power) can support: ``F <= min(OTR_max, OUR_heat) / y_o2``.
- Compartments (Sweere, Luyben & Kossen 1987; Bylund et al. 1998, Bioprocess Eng. 18:171): a feed
  zone of volume fraction ``f`` (0.1) receives all feed and exchanges with the bulk with time
  constant ``tau_f = tau_fraction * theta95`` (Grenville mixing time, ~10 s at 12 m3).
- Kinetics per compartment (Xu, Jahic & Enfors 1999, Biotechnol. Prog. 15:81, simplified):
  ``q_S = q_S,max S / (K_S + S) / (1 + A / K_iA)``; oxidative capacity
  ``q_ox = q_crit C / (K_O + C)``; overflow ``q_S - min(q_S, q_ox)`` goes to acetate; acetate is
  re-consumed with spare oxidative capacity; ``mu = Y_ox (q_S,ox - m_S) + Y_of q_S,of + Y_XA q_A``.
- Dissolved oxygen is quasi-steady in each compartment (``t_O2 ~ 1 s`` << hours):
  ``kLa (C* - C) = OUR(C)``, solved in closed form (piecewise quadratic).
- Product: ``q_P = (alpha mu+ + beta) K_iP / (K_iP + A) * C / (K_OP + C)`` (Luedeking & Piret 1959).

``simplified=True`` drops the feed-zone gradient and the heat limit (one well-mixed compartment,
jacket unlimited): cheap and optimistic at large scale; it is the middle fidelity of the default
data set.

Typical parameter values are those of E. coli fed-batch models of the overflow class (Xu, Jahic &
Enfors 1999, Biotechnol. Prog. 15:81; Enfors et al. 2001, J. Biotechnol. 85:175): q_S,max 1.2
g/g/h, K_S 0.05 g/L, q_crit 0.7 g/g/h, Y_ox 0.5, Y_of 0.15, m_S 0.03 g/g/h, K_O 5 uM.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd
from scipy.integrate import solve_ivp

from mfgp.exceptions import InputDataError, ModelFittingError
from mfgp.scaling.criteria import (
    OperatingPoint,
    Vessel,
    normalise_rule,
    operating_point,
    scale_up,
)

__all__ = ["Kinetics", "SimulationResult", "kinetics_with", "simulate"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Kinetics:
    """E. coli-like kinetic and process parameters (units in the names or below).

    Attributes:
        q_s_max: maximum glucose uptake (g/g/h).  K_s: glucose affinity (g/L).
        q_crit: oxidative capacity in glucose units (g/g/h).  K_o: O2 affinity (mM).
        Y_ox, Y_of: biomass yield on oxidised / overflow glucose (g/g).  m_s: maintenance (g/g/h).
        Y_as: acetate per overflow glucose (g/g).  q_a_max, K_a: acetate re-uptake (g/g/h, g/L).
        Y_xa: biomass yield on acetate (g/g).  K_ia: acetate inhibition of uptake (g/L).
        o2_ox, o2_of, o2_a: O2 per g oxidised glucose, overflow glucose, acetate (mmol/g).
        alpha, beta: Luedeking-Piret product coefficients (g/g, g/g/h).
        K_ip: acetate inhibition of product formation (g/L).  K_op: O2 affinity of product (mM).
        X0, S0: initial biomass and glucose (g/L).  t_feed: feed start (h).
        F0, mu_set: initial feed rate (g/L/h) and exponential feed rate (1/h).
        do_min: DO fraction of saturation the feed controller keeps.
        zone_fraction: feed-zone volume fraction.  tau_fraction: tau_f / theta95.
    """

    q_s_max: float = 1.2
    K_s: float = 0.05
    q_crit: float = 0.7
    K_o: float = 0.005
    Y_ox: float = 0.5
    Y_of: float = 0.15
    m_s: float = 0.03
    Y_as: float = 0.5
    q_a_max: float = 0.15
    K_a: float = 0.2
    Y_xa: float = 0.3
    K_ia: float = 4.0
    o2_ox: float = 16.0
    o2_of: float = 4.0
    o2_a: float = 20.0
    alpha: float = 0.06
    beta: float = 0.004
    K_ip: float = 1.0
    K_op: float = 0.02
    X0: float = 0.15
    S0: float = 15.0
    t_feed: float = 10.0
    F0: float = 2.0
    mu_set: float = 0.12
    do_min: float = 0.2
    zone_fraction: float = 0.1
    tau_fraction: float = 0.15


@dataclass
class SimulationResult:
    """Time courses of one simulated run (numpy arrays of length ``n_times``).

    Attributes:
        time_h: sampling times (h).
        biomass_gL, substrate_gL, acetate_gL, titer_gL: volume-averaged concentrations (g/L).
        do_percent: bulk dissolved O2 (% of the vessel's saturation C*).
        feed_gLh: glucose feed rate actually delivered (g/L/h).
        conditions: the engineering :class:`~mfgp.scaling.criteria.OperatingPoint`.
        feed_cap_gLh: the controller's cap on the feed rate.
        limited_by: ``"none"``, ``"oxygen"`` or ``"heat"`` (what sets the cap when it binds).
        simplified: whether the simplified (one-compartment, no heat limit) model was used.
    """

    time_h: np.ndarray
    biomass_gL: np.ndarray
    substrate_gL: np.ndarray
    acetate_gL: np.ndarray
    do_percent: np.ndarray
    titer_gL: np.ndarray
    feed_gLh: np.ndarray
    conditions: OperatingPoint
    feed_cap_gLh: float
    limited_by: str
    simplified: bool

    def to_frame(self) -> pd.DataFrame:
        """The time course as a DataFrame (one row per time point) with the operating point.

        >>> simulate(10.0, hours=12.0, n_times=3).to_frame().columns[:3].tolist()
        ['volume_L', 'time_h', 'rpm']
        """
        n = len(self.time_h)
        c = self.conditions
        return pd.DataFrame(
            {
                "volume_L": np.full(n, float(c.volume_L)),
                "time_h": self.time_h,
                "rpm": np.full(n, float(c.rpm)),
                "vvm": np.full(n, float(c.vvm)),
                "biomass_gL": self.biomass_gL,
                "substrate_gL": self.substrate_gL,
                "acetate_gL": self.acetate_gL,
                "do_percent": self.do_percent,
                "titer_gL": self.titer_gL,
                "feed_gLh": self.feed_gLh,
            }
        )


def _rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


class _Model:
    """Right-hand side of the ODE system; states ``[X, S_bulk, S_zone, A, P]``."""

    def __init__(self, k: Kinetics, kla: float, cstar: float, tau_h: float, zone: float) -> None:
        self.k, self.kla, self.cstar, self.tau, self.f = k, kla, cstar, tau_h, zone

    def rates(self, X: float, S: float, A: float) -> tuple[float, float, float, float, float]:
        """Specific rates in one compartment with glucose ``S``: ``(q_S, mu, net acetate rate,
        q_P, DO)`` (scalar arithmetic: this runs thousands of times per simulation)."""
        k = self.k
        S = max(S, 0.0)
        A = max(A, 0.0)
        q_s = k.q_s_max * S / (k.K_s + S) / (1.0 + A / k.K_ia)
        q_a_pot = k.q_a_max * A / (k.K_a + A)
        # Quasi-steady DO: kLa (C* - C) = OUR(C), OUR = X (a + b cap(C)) piecewise in the
        # oxidative capacity cap = q_crit C / (K_o + C): (1) cap <= q_s (overflow), (2) cap <=
        # q_s + q_a_pot (acetate re-uptake), (3) saturated. Each piece gives a quadratic in C;
        # supply - demand decreases in C, so the sign at the breakpoints picks the piece.
        kla, cs, K, qc = self.kla, self.cstar, k.K_o, k.q_crit

        def c_at(cap: float) -> float:
            return K * cap / (qc - cap) if cap < qc else math.inf

        def root(alpha: float, beta: float) -> float:
            b = kla * (cs - K) - X * alpha - X * beta * qc
            c0 = K * (kla * cs - X * alpha)
            return max((b + math.sqrt(max(b * b + 4.0 * kla * c0, 0.0))) / (2.0 * kla), 0.0)

        if kla * (cs - c_at(q_s)) - X * k.o2_ox * q_s <= 0:
            C = root(k.o2_of * q_s, k.o2_ox - k.o2_of)
        elif kla * (cs - c_at(q_s + q_a_pot)) - X * (k.o2_ox * q_s + k.o2_a * q_a_pot) <= 0:
            C = root((k.o2_ox - k.o2_a) * q_s, k.o2_a)
        else:
            C = root(k.o2_ox * q_s + k.o2_a * q_a_pot, 0.0)
        C = min(C, cs)
        cap = qc * C / (K + C)
        q_ox = min(q_s, cap)
        q_of = q_s - q_ox
        q_a = min(max(cap - q_ox, 0.0), q_a_pot)
        mu = k.Y_ox * (q_ox - k.m_s) + k.Y_of * q_of + k.Y_xa * q_a
        q_p = (k.alpha * max(mu, 0.0) + k.beta) * k.K_ip / (k.K_ip + A) * C / (k.K_op + C)
        return q_s, mu, k.Y_as * q_of - q_a, q_p, C

    def __call__(self, t: float, y: np.ndarray, k: Kinetics, feed_max: float) -> np.ndarray:
        feed = 0.0 if t < k.t_feed else min(k.F0 * math.exp(k.mu_set * (t - k.t_feed)), feed_max)
        X, Sb, Sz, A, _ = (float(v) for v in y)
        X = max(X, 1e-9)
        qs_b, mu_b, qa_b, qp_b, _ = self.rates(X, Sb, A)
        if self.f > 0:
            f = self.f
            qs_z, mu_z, qa_z, qp_z, _ = self.rates(X, Sz, A)
            ex = (Sz - Sb) / self.tau
            dSb = -qs_b * X + f / (1.0 - f) * ex
            dSz = feed / f - qs_z * X - ex
            mu = (1.0 - f) * mu_b + f * mu_z
            qa = (1.0 - f) * qa_b + f * qa_z
            qp = (1.0 - f) * qp_b + f * qp_z
        else:
            dSb = dSz = feed - qs_b * X
            mu, qa, qp = mu_b, qa_b, qp_b
        return np.array([mu * X, dSb, dSz, qa * X, qp * X])


def _feed_profile(t: np.ndarray | float, k: Kinetics, feed_max: float) -> np.ndarray:
    t = np.asarray(t, dtype=float)
    ramp = np.minimum(k.F0 * np.exp(k.mu_set * (t - k.t_feed)), feed_max)
    return np.where(t >= k.t_feed, ramp, 0.0)


def simulate(
    volume_L: float,
    *,
    rule: str = "constant-P/V",
    rpm: float | None = None,
    vvm: float = 1.0,
    feed_gLh: float = 6.5,
    hours: float = 36.0,
    n_times: int = 13,
    times: np.ndarray | None = None,
    reference_volume_L: float = 10.0,
    reference_rpm: float = 1000.0,
    vessel: Vessel | None = None,
    temperature_C: float = 37.0,
    simplified: bool = False,
    kinetics: Kinetics | None = None,
    noise: float = 0.0,
    seed: int | np.random.Generator | None = None,
) -> SimulationResult:
    """Simulate one fed-batch run at ``volume_L``.

    The stirrer speed is ``rpm`` when given, otherwise the speed that ``rule`` gives when the
    reference run (``reference_rpm`` in a ``reference_volume_L`` vessel with ``H/T = 1``) is
    scaled to the target vessel (default geometry: :func:`~mfgp.scaling.criteria.Vessel` with a
    volume-dependent ``H/T`` and one Rushton turbine per tank diameter of height).

    Args:
        volume_L: working volume (L), 1 L to 100 m3 is the intended range.
        rule: scale-up rule (see :data:`mfgp.scaling.criteria.RULES`), used when ``rpm`` is None.
        rpm: stirrer speed (rev/min); overrides ``rule``.
        vvm: aeration (vessel volumes of air per minute).
        feed_gLh: maximum glucose feed rate (g per litre per hour) of the exponential feed.
        hours: culture duration (h).
        n_times: number of equally spaced sampling times from 0 to ``hours``.
        times: explicit sampling times (h, strictly increasing), overriding ``n_times``.
        reference_volume_L, reference_rpm: the reference run of the scale-up rule.
        vessel: the target vessel (overrides ``volume_L``'s default geometry; its volume wins).
        temperature_C: culture temperature (sets C*).
        simplified: one compartment, no heat limit (the cheap middle fidelity).
        kinetics: kinetic parameters (default :class:`Kinetics`).
        noise: relative (log-normal) measurement noise on biomass, substrate, acetate and titer,
            and absolute noise in % on DO (``noise * 100`` points); 0 for none.
        seed: ``int`` or ``numpy.random.Generator`` for the noise (no global seeding).

    Returns:
        A :class:`SimulationResult`.

    Raises:
        InputDataError: non-positive volume, rpm, vvm, feed or duration, or an unknown rule.

    >>> r = simulate(10.0, hours=36.0)
    >>> bool(30 < r.biomass_gL[-1] < 70)
    True
    """
    for name, value in (("volume_L", volume_L), ("vvm", vvm), ("hours", hours)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise InputDataError(f"{name} must be a positive number, got {value!r}")
    if not feed_gLh >= 0:
        raise InputDataError(f"feed_gLh must be >= 0 g/L/h, got {feed_gLh!r}")
    if not noise >= 0:
        raise InputDataError(f"noise must be >= 0 (a relative SD such as 0.05), got {noise!r}")
    normalise_rule(rule)  # fail early on a misspelt rule even when rpm is given
    if rpm is not None and not rpm > 0:
        raise InputDataError(f"rpm must be positive, got {rpm!r}; or leave it None to use rule")
    k = kinetics or Kinetics()
    target = vessel if vessel is not None else Vessel(float(volume_L))
    if rpm is None:
        ref = Vessel(float(reference_volume_L), h_over_t=1.0)
        op = scale_up(ref, reference_rpm, target, rule, vvm=vvm, temperature_C=temperature_C)
        op = operating_point(target, float(op.rpm), vvm, temperature_C=temperature_C)
    else:
        op = operating_point(target, float(rpm), vvm, temperature_C=temperature_C)
    kla, cstar = float(op.kla_per_h), float(op.c_star_mM)
    cap_o2 = kla * cstar * (1.0 - k.do_min) / k.o2_ox
    cap_heat = math.inf if simplified else float(op.heat_our_max_mmol_L_h) / k.o2_ox
    cap = min(cap_o2, cap_heat)
    limited_by = "none"
    if cap < feed_gLh:
        limited_by = "oxygen" if cap_o2 <= cap_heat else "heat"
    feed_max = min(feed_gLh, cap)
    tau_h = k.tau_fraction * float(op.mixing_time_s) / 3600.0
    model = _Model(k, kla, cstar, tau_h, 0.0 if simplified else k.zone_fraction)

    t_eval = np.linspace(0.0, hours, n_times) if times is None else np.asarray(times, float)
    if t_eval.ndim != 1 or t_eval.size == 0 or (t_eval < 0).any() or (np.diff(t_eval) <= 0).any():
        raise InputDataError(
            f"times must be a non-empty, strictly increasing 1-D array of hours >= 0, got {t_eval}"
        )
    t_end = max(hours, float(t_eval.max()))
    y = np.array([k.X0, k.S0, k.S0, 0.0, 0.0])
    pieces: list[tuple[np.ndarray, np.ndarray]] = []
    bounds = [0.0, k.t_feed, t_end] if 0.0 < k.t_feed < t_end else [0.0, t_end]
    for a, b in zip(bounds[:-1], bounds[1:], strict=False):
        last = b == t_end
        sel = t_eval[(t_eval >= a) & ((t_eval <= b) if last else (t_eval < b))]
        grid = np.union1d(sel, [a, b])
        sol = solve_ivp(
            model,
            (a, b),
            y,
            method="LSODA",
            t_eval=grid,
            args=(k, feed_max),
            rtol=1e-6,
            atol=1e-8,
        )
        if not sol.success:
            raise ModelFittingError(
                f"the ODE solver failed at {volume_L} L: {sol.message}; "
                "check the kinetic parameters and the feed rate"
            )
        keep = np.isin(grid, sel)
        pieces.append((grid[keep], sol.y[:, keep]))
        y = sol.y[:, -1].copy()
    ts = np.concatenate([p[0] for p in pieces])
    Y = np.concatenate([p[1] for p in pieces], axis=1)
    X, Sb, Sz, A, P = (np.maximum(v, 0.0) for v in Y)
    f = 0.0 if simplified else k.zone_fraction
    S = (1 - f) * Sb + f * Sz
    do = np.array([model.rates(max(x, 1e-9), s, a)[4] for x, s, a in zip(X, Sb, A, strict=True)])
    do_pct = 100.0 * do / cstar
    feed = _feed_profile(ts, k, feed_max)
    if noise > 0:
        rng = _rng(seed)
        n = len(ts)
        X = X * np.exp(rng.normal(0.0, noise, n))
        S = S * np.exp(rng.normal(0.0, noise, n))
        A = A * np.exp(rng.normal(0.0, noise, n))
        P = P * np.exp(rng.normal(0.0, noise, n))
        do_pct = np.clip(do_pct + rng.normal(0.0, 100.0 * noise, n), 0.0, None)
    log.debug(
        "simulated %.4g L: rpm %.1f, cap %.2f g/L/h (%s)", volume_L, float(op.rpm), cap, limited_by
    )
    return SimulationResult(
        time_h=ts,
        biomass_gL=X,
        substrate_gL=S,
        acetate_gL=A,
        do_percent=do_pct,
        titer_gL=P,
        feed_gLh=feed,
        conditions=op,
        feed_cap_gLh=float(cap),
        limited_by=limited_by,
        simplified=simplified,
    )


def kinetics_with(**changes: float) -> Kinetics:
    """Default :class:`Kinetics` with some parameters changed (names checked).

    >>> kinetics_with(q_crit=0.65).q_crit
    0.65
    """
    valid = asdict(Kinetics())
    bad = [name for name in changes if name not in valid]
    if bad:
        raise InputDataError(f"unknown kinetic parameter(s) {bad}; valid: {sorted(valid)}")
    return replace(Kinetics(), **changes)
