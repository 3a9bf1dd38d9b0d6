"""Vessels by name and geometry, and the physical role of operating-variable columns.

A vessel is named by its working volume (:func:`vessel_label`: ``"2 L"``, ``"200 L"``,
``"10 m3"``; :func:`parse_vessel_name` reads ``2L``, ``2 l``, ``500 mL``, ``10m3``). Its geometry
(:func:`vessel_from_config`) is the :class:`~mfgp.scaling.criteria.Vessel` default (geometric
similarity) overridden by a config table's geometry keys (:data:`GEOMETRY_KEYS`).

Physical roles: the stirrer speed and the aeration rate enter the scaling correlations; a
column is the stirrer speed when it is named ``rpm`` or carries the unit rpm (``Agitation
(rpm)``, ``N [1/min]``), the aeration when named ``vvm`` or with the unit vvm (``Air (vvm)``).

Used by the suggestion layer (:mod:`mfgp.acquisition`) and the physics level
(:mod:`mfgp.physics`). Written by hand: no library knows bioreactor vessels.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from mfgp.data.columns import split_unit
from mfgp.exceptions import InputDataError
from mfgp.scaling.criteria import Vessel

__all__ = [
    "GEOMETRY_KEYS",
    "parse_vessel_name",
    "physics_role",
    "same_volume",
    "vessel_from_config",
    "vessel_label",
    "vessel_of",
]

#: geometry keys of a ``[vessels."VOLUME"]`` table (:class:`~mfgp.scaling.criteria.Vessel`
#: fields, and ``diameter_m``, the tank diameter, from which ``h_over_t`` follows).
GEOMETRY_KEYS = (
    "h_over_t",
    "d_over_t",
    "n_impellers",
    "power_number",
    "U",
    "coolant_delta_T",
    "back_pressure_Pa",
    "cooling_W_per_K",
    "diameter_m",
)

_VOLUME_NAME = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ml|l|hl|m3|m³)\s*$", re.IGNORECASE)
_VOLUME_FACTOR = {"ml": 1e-3, "l": 1.0, "hl": 100.0, "m3": 1e3, "m³": 1e3}
_RPM_UNITS = {"rpm", "1/min", "min-1", "min^-1", "u/min"}


def vessel_label(volume_L: float) -> str:
    """The name of a vessel: litres below 10 m3, cubic metres from there.

    >>> vessel_label(2.0), vessel_label(200.0), vessel_label(1000.0), vessel_label(50000.0)
    ('2 L', '200 L', '1000 L', '50 m3')
    """
    if volume_L >= 1e4:
        return f"{volume_L / 1e3:g} m3"
    return f"{volume_L:g} L"


def parse_vessel_name(name: str) -> float | None:
    """The volume (litres) that a vessel name gives, or None when it is not a volume.

    >>> parse_vessel_name("2L"), parse_vessel_name("500 mL"), parse_vessel_name("10 m3")
    (2.0, 0.5, 10000.0)
    >>> parse_vessel_name("200"), parse_vessel_name("pilot") is None
    (200.0, True)
    """
    text = str(name).strip()
    try:
        value = float(text)
    except ValueError:
        found = _VOLUME_NAME.match(text)
        if not found:
            return None
        value = float(found.group(1)) * _VOLUME_FACTOR[found.group(2).lower()]
    return value if value > 0 and math.isfinite(value) else None


def physics_role(name: str) -> str | None:
    """``"rpm"`` or ``"vvm"`` where a column is the stirrer speed or the aeration, else None.

    >>> physics_role("Agitation (rpm)"), physics_role("Air [vvm]"), physics_role("feed_gLh")
    ('rpm', 'vvm', None)
    """
    low = str(name).strip().lower()
    if low in ("rpm", "vvm"):
        return low
    _, unit, bracketed = split_unit(str(name))
    if unit is None or not bracketed and low.count("_") == 0:
        return None
    unit = unit.strip().lower().replace(" ", "")
    if unit in _RPM_UNITS:
        return "rpm"
    if unit == "vvm":
        return "vvm"
    return None


def same_volume(a: float, b: float) -> bool:
    """Whether two volumes are one vessel (equal to 1e-9 decades)."""
    return abs(math.log10(a) - math.log10(b)) < 1e-9


def vessel_of(volume_L: float, geometry: Mapping[float, Vessel] | None = None) -> Vessel:
    """The vessel of ``volume_L``: its known geometry (``{volume_L: Vessel}``), or the
    :class:`~mfgp.scaling.criteria.Vessel` defaults."""
    for vol, vessel in dict(geometry or {}).items():
        if same_volume(vol, volume_L):
            return vessel
    return Vessel(float(volume_L))


def vessel_from_config(volume_L: float, spec: Mapping[str, Any] | None = None) -> Vessel:
    """The geometry of a vessel: the :class:`Vessel` defaults (geometric similarity, one
    impeller per diameter of height) overridden by the geometry keys of ``spec``.

    >>> round(vessel_from_config(200.0, {"diameter_m": 0.5}).aspect, 3)
    2.037
    """
    spec = dict(spec or {})
    kw = {k: spec[k] for k in GEOMETRY_KEYS if k in spec and k != "diameter_m"}
    for key in GEOMETRY_KEYS:
        value = spec.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise InputDataError(
                f"vessel {vessel_label(volume_L)}: {key} must be a number, got {value!r}"
            )
    if "diameter_m" in spec:
        d = float(spec["diameter_m"])
        if not d > 0:
            raise InputDataError(f"vessel {vessel_label(volume_L)}: diameter_m must be > 0")
        kw["h_over_t"] = 4.0 * volume_L / 1e3 / (math.pi * d**3)
    try:
        return Vessel(float(volume_L), **kw)
    except (TypeError, InputDataError) as err:
        raise InputDataError(f"vessel {vessel_label(volume_L)}: {err}") from None
