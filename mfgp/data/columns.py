"""Column roles: which column of a user's table is the volume, the time, the fidelity, the run.

A column gets its role in one of three ways, in this order:

1. **named explicitly** (``volume_col="Reactor"``, ``--volume-col Reactor``): it wins over every
   other way, and a name that is not a column is an error listing the columns;
2. **by an exact alias** (:data:`ALIASES`: ``V``, ``volume``, ``t``, ``source``, ``batch``, ...,
   matched exactly, then case-insensitively);
3. **by a name with a unit** (volume and time only), case-insensitively, the unit in ``()``,
   ``[]`` or after ``_``: ``Volume (L)``, ``Working volume [m3]``, ``V [mL]``, ``volume_mL``,
   ``Vol (m³)``, ``Scale (L)``, ``Time [h]``, ``Time (d)``, ``time_min``, ``Age (days)``,
   ``Culture time (h)``, ``EFT (h)``. The values are converted to litres and hours
   (:data:`VOLUME_UNITS`, :data:`TIME_UNITS`). A volume- or time-like name with a unit in
   brackets that is not understood (``Volume (gal)``) is an error naming the units understood.
   A bare ``scale`` is a scale index (1, 2, 3, ...), never a volume; ``Scale (L)`` is a volume.
   One-letter names with another unit are left alone (``T (°C)`` is a temperature).

Two columns found for one role is an error asking to keep one of them.

>>> split_unit("Working volume [m3]")
('Working volume', 'm3', True)
>>> role = resolve_roles(["Working volume [m3]", "Time (d)", "titer"], target="titer")
>>> [(r.canonical, r.source, r.unit.label) for r in role.values()]
[('volume_L', 'Working volume [m3]', 'm3'), ('time_h', 'Time (d)', 'days')]
>>> role["volume_L"].message()
"volume column 'Working volume [m3]' read as m3, converted to litres"
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mfgp.data.validation import ignore_hint
from mfgp.exceptions import InputDataError

__all__ = [
    "ALIASES",
    "ROLE_OPTIONS",
    "TIME_UNITS",
    "VOLUME_UNITS",
    "ColumnRole",
    "Unit",
    "match_alias",
    "resolve_roles",
    "role_flag",
    "split_unit",
    "unit_role",
    "volume_like",
]

#: canonical column -> accepted names (matched exactly, then case-insensitively).
ALIASES: dict[str, tuple[str, ...]] = {
    "volume_L": ("volume_L", "V", "volume", "scale_L"),
    "time_h": ("time_h", "t", "time"),
    "fidelity": ("fidelity", "source", "level"),
    "run_id": ("run_id", "batch", "run"),
}

#: canonical column -> the ScaleUpData keyword that names its column explicitly.
ROLE_OPTIONS: dict[str, str] = {
    "volume_L": "volume_col",
    "time_h": "time_col",
    "fidelity": "fidelity_col",
    "run_id": "run_col",
}

_ROLE_WORDS = {"volume_L": "volume", "time_h": "time", "fidelity": "fidelity", "run_id": "run"}
_CANONICAL_UNITS = {"volume_L": "litres", "time_h": "hours"}


@dataclass(frozen=True)
class Unit:
    """A unit of volume or time and its conversion to litres or hours.

    Attributes:
        label: the unit as messages write it (``"m3"``, ``"min"``).
        multiply: factor applied first.
        divide: divisor applied after (``mL``: divide by 1000, exact for decimal values).
    """

    label: str
    multiply: float = 1.0
    divide: float = 1.0

    @property
    def is_canonical(self) -> bool:
        """True for litres and hours (no conversion)."""
        return self.multiply == 1.0 and self.divide == 1.0

    def convert(self, values: pd.Series | np.ndarray) -> pd.Series | np.ndarray:
        """``values`` in litres or hours."""
        if self.is_canonical:
            return values
        return values * self.multiply / self.divide


def _spellings(table: Mapping[Unit, Iterable[str]]) -> dict[str, Unit]:
    return {spelling: unit for unit, names in table.items() for spelling in names}


#: volume unit spellings (lower case, ``³`` and ``^3`` as ``3``) -> unit.
VOLUME_UNITS: dict[str, Unit] = _spellings(
    {
        Unit("L"): ("l", "liter", "liters", "litre", "litres", "dm3"),
        Unit("mL", divide=1e3): ("ml", "milliliter", "milliliters", "millilitre", "millilitres",
                                 "cm3", "cc"),
        Unit("µL", divide=1e6): ("µl", "ul", "microliter", "microliters", "microlitre",
                                 "microlitres"),
        Unit("hL", multiply=100.0): ("hl", "hectoliter", "hectoliters", "hectolitre",
                                     "hectolitres"),
        Unit("m3", multiply=1e3): ("m3", "cubic meter", "cubic meters", "cubic metre",
                                   "cubic metres", "cbm"),
    }
)  # fmt: skip

#: time unit spellings (lower case) -> unit.
TIME_UNITS: dict[str, Unit] = _spellings(
    {
        Unit("h"): ("h", "hr", "hrs", "hour", "hours"),
        Unit("min", divide=60.0): ("min", "mins", "minute", "minutes"),
        Unit("s", divide=3600.0): ("s", "sec", "secs", "second", "seconds"),
        Unit("days", multiply=24.0): ("d", "day", "days"),
        Unit("weeks", multiply=168.0): ("wk", "wks", "week", "weeks"),
    }
)

#: names (lower case, ``_`` and ``-`` as spaces) that are a volume or a time when they carry a
#: unit.
_STEMS: dict[str, frozenset[str]] = {
    "volume_L": frozenset(
        {"volume", "vol", "v", "working volume", "working vol", "wv", "reactor volume",
         "bioreactor volume", "vessel volume", "culture volume", "liquid volume",
         "fill volume", "scale"}
    ),
    "time_h": frozenset(
        {"time", "t", "age", "culture age", "culture time", "cultivation time", "process time",
         "elapsed time", "fermentation time", "elapsed fermentation time", "eft", "batch time",
         "run time", "time since inoculation"}
    ),
}  # fmt: skip
_UNITS = {"volume_L": VOLUME_UNITS, "time_h": TIME_UNITS}
_UNIT_LISTS = {"volume_L": "L, mL, µL, hL, m3", "time_h": "h, min, s, d, weeks"}

_BRACKETED = re.compile(r"^(?P<stem>.*?)\s*(?:\((?P<p>[^()]*)\)|\[(?P<b>[^\[\]]*)\])\s*$")
_SUFFIXED = re.compile(r"^(?P<stem>.+?)_(?P<unit>[^_\s]+)$")


def split_unit(name: str) -> tuple[str, str | None, bool]:
    """Split a column name into its stem and unit: ``(stem, unit or None, bracketed)``.

    The unit is the text in a final ``(...)`` or ``[...]`` (``bracketed`` True) or after the
    last ``_`` (``volume_mL``).

    >>> split_unit("volume_mL"), split_unit("rpm")
    (('volume', 'mL', False), ('rpm', None, False))
    """
    text = " ".join(str(name).split())
    found = _BRACKETED.match(text)
    if found and found.group("stem"):
        unit = found.group("p") if found.group("p") is not None else found.group("b")
        return found.group("stem"), unit.strip(), True
    found = _SUFFIXED.match(text)
    if found:
        return found.group("stem"), found.group("unit"), False
    return text, None, False


def _stem_key(stem: str) -> str:
    return " ".join(stem.lower().replace("_", " ").replace("-", " ").split()).rstrip(".")


def _unit_key(unit: str) -> str:
    key = unit.lower().replace("³", "3").replace("^3", "3").replace("μ", "µ").strip(" .")
    return " ".join(key.split())


def unit_role(name: str) -> tuple[str, Unit] | None:
    """``(canonical column, unit)`` where ``name`` is a volume or time name with a unit.

    Raises:
        InputDataError: a volume- or time-like name whose bracketed unit is not understood
            (``Volume (gal)``); a bare ``scale`` with another word in brackets is left alone.
    """
    stem, unit, bracketed = split_unit(name)
    if unit is None:
        return None
    key = _stem_key(stem)
    for canon, stems in _STEMS.items():
        if key not in stems:
            continue
        found = _UNITS[canon].get(_unit_key(unit))
        if found is not None:
            return canon, found
        if bracketed and len(key) > 1 and key != "scale":  # T (°C) is a temperature
            word = _ROLE_WORDS[canon]
            raise InputDataError(
                f"column {name!r} looks like a {word} but its unit {unit!r} is not understood; "
                f"units understood: {_UNIT_LISTS[canon]}; convert the column to one of them "
                f"and name it so (e.g. '{stem} ({_UNIT_LISTS[canon].split(',')[0]})'), or drop "
                f"it with {ignore_hint([name])}"
            )
        return None
    return None


def match_alias(columns: Sequence[str], aliases: Sequence[str]) -> list[str]:
    """The columns named as one of ``aliases``: exact matches, else case-insensitive ones."""
    exact = [c for c in columns if c in aliases]
    if exact:
        return exact
    lowered = {a.lower() for a in aliases}
    return [c for c in columns if c.lower() in lowered]


def volume_like(columns: Sequence[str]) -> list[str]:
    """The columns whose name is a volume (an alias or a name with a volume unit)."""
    out = match_alias(columns, ALIASES["volume_L"])
    for column in columns:
        try:
            found = unit_role(column)
        except InputDataError:
            found = None
        if found and found[0] == "volume_L" and column not in out:
            out.append(column)
    return out


def role_flag(canonical: str) -> str:
    """``--volume-col``: the flag naming a role's column (``volume_col`` in Python)."""
    return "--" + ROLE_OPTIONS[canonical].replace("_", "-")


@dataclass(frozen=True)
class ColumnRole:
    """The user's column that holds a canonical column.

    Attributes:
        canonical: ``volume_L``, ``time_h``, ``fidelity`` or ``run_id``.
        source: the column's name in the user's table.
        unit: its unit (volume and time; None means litres or hours).
        how: ``"explicit"`` (named by an option), ``"alias"`` or ``"unit"`` (a name with a unit).
    """

    canonical: str
    source: str
    unit: Unit | None = None
    how: str = "alias"

    def convert(self, values: pd.Series) -> pd.Series:
        """``values`` in litres or hours."""
        return values if self.unit is None else self.unit.convert(values)

    def message(self) -> str | None:
        """What reading this column did, for :attr:`ScaleUpData.conversions` (None for an
        alias, read as it is)."""
        if self.how == "alias":
            return None
        word = _ROLE_WORDS[self.canonical]
        named = f" (named by {ROLE_OPTIONS[self.canonical]})" if self.how == "explicit" else ""
        if self.canonical not in _CANONICAL_UNITS:
            return f"{word} column {self.source!r}{named} read as {self.canonical}"
        canon_unit = _CANONICAL_UNITS[self.canonical]
        if self.unit is None or self.unit.is_canonical:
            return f"{word} column {self.source!r}{named} read as {canon_unit}"
        return (
            f"{word} column {self.source!r}{named} read as {self.unit.label}, converted to "
            f"{canon_unit}"
        )


def _explicit_role(canonical: str, name: str) -> ColumnRole:
    unit = None
    if canonical in _UNITS:
        _, text, _ = split_unit(name)
        if text is not None:
            unit = _UNITS[canonical].get(_unit_key(text))
    return ColumnRole(canonical, name, unit, "explicit")


def resolve_roles(
    columns: Sequence[str],
    *,
    target: str | None,
    explicit: Mapping[str, str | None] | None = None,
    exclude: Iterable[str] = (),
    what: str = "the data",
) -> dict[str, ColumnRole]:
    """Find the column of each role among ``columns``.

    Args:
        columns: the table's columns.
        target: the target column (never a role).
        explicit: canonical column -> the user's column named for it (``volume_col``, ...).
        exclude: columns that cannot take a role by alias or unit (the cheap-level and
            categorical columns, the operating variables of new points).
        what: ``"the data"`` or ``"new points"``, for the messages.

    Returns:
        canonical column -> :class:`ColumnRole`, for the roles found (in :data:`ALIASES` order).

    Raises:
        InputDataError: an explicit name is not a column, is the target or names two roles; two
            columns are found for one role; a volume- or time-like name has an unknown unit.
    """
    found: dict[str, ColumnRole] = {}
    claimed: dict[str, str] = {}
    for canonical, name in (explicit or {}).items():
        if name is None:
            continue
        flag = role_flag(canonical)
        if name not in columns:
            raise InputDataError(
                f"{_ROLE_WORDS[canonical]} column {name!r} (given by {flag}, "
                f"{ROLE_OPTIONS[canonical]}= in Python) does not exist in {what}; available "
                f"columns: {list(columns)}"
            )
        if name == target:
            raise InputDataError(
                f"column {name!r} is the target; it cannot also be the {_ROLE_WORDS[canonical]} "
                f"column ({flag}): name another column"
            )
        if name in claimed:
            raise InputDataError(
                f"column {name!r} is named both by {role_flag(claimed[name])} and by {flag}; "
                "name one column for each"
            )
        claimed[name] = canonical
        found[canonical] = _explicit_role(canonical, name)
    skip = set(exclude) | set(claimed) | ({target} if target is not None else set())
    free = [c for c in columns if c not in skip]
    units: dict[str, tuple[str, Unit]] = {}
    for column in free:
        hit = unit_role(column)
        if hit is not None:
            units[column] = hit
    out: dict[str, ColumnRole] = {}
    for canonical, aliases in ALIASES.items():
        if canonical in found:
            out[canonical] = found[canonical]
            continue
        by_alias = match_alias(free, aliases)
        by_unit = [c for c, (canon, _) in units.items() if canon == canonical]
        matches = [c for c in free if c in by_alias or c in by_unit]
        if len(matches) > 1:
            raise InputDataError(
                f"columns {matches} all name the {canonical!r} column; keep one of them: drop "
                f"the others with {ignore_hint(matches[1:])}"
            )
        if matches:
            column = matches[0]
            unit = units[column][1] if column in units else None
            how = "alias" if column in by_alias else "unit"
            out[canonical] = ColumnRole(canonical, column, unit, how)
            free.remove(column)
    return out
