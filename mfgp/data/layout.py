"""From the user's table to the canonical frame: column roles, units, layouts, factors.

:func:`canonical_frame` turns a raw table (as read, or a DataFrame) into the canonical frame of
:class:`~mfgp.data.ScaleUpData`, in this order:

1. the names: columns to ignore are dropped, the target and every named column must exist;
2. the clean-up (user data only): blank cells as missing, separator-only rows and empty
   columns dropped, repeated rows reported;
3. the roles (:mod:`mfgp.data.columns`): explicit names, aliases, names with units;
4. the wide layout (:mod:`mfgp.data.levels`): cheap levels held in columns become rows;
5. the numbers: volume and time converted to litres and hours and checked, the target;
6. the categorical factors (:mod:`mfgp.data.categories`) as indicator columns, then the
   operating variables.

Each conversion from the user's layout is described by a note (``Canonical.notes``).

>>> import pandas as pd
>>> raw = pd.DataFrame({"Volume (mL)": [500.0, 5000.0], "Time [h]": [1.0, 2.0], "C": [1.0, 2.0]})
>>> out = canonical_frame(raw, target="C")
>>> out.frame.columns.tolist(), out.frame["volume_L"].tolist(), out.operating
(['volume_L', 'time_h', 'C'], [0.5, 5.0], [])
>>> for note in out.notes:
...     print(note)
volume column 'Volume (mL)' read as mL, converted to litres
time column 'Time [h]' read as hours
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from mfgp.data.categories import encode_categories, indicator_name
from mfgp.data.columns import ROLE_OPTIONS, ColumnRole, resolve_roles, volume_like
from mfgp.data.levels import check_low_fidelity_columns, wide_to_long
from mfgp.data.validation import (
    RowNames,
    blank_cells_to_nan,
    check_magnitudes,
    check_minimum,
    check_unique_names,
    constant_columns,
    drop_empty_columns,
    drop_separator_rows,
    duplicate_rows,
    far_outside_scale,
    missing_volume,
    numeric_column,
    operating_columns,
)
from mfgp.exceptions import InputDataError

__all__ = ["LAYOUT_OPTIONS", "Canonical", "canonical_frame"]

#: the ScaleUpData options that say how the user's table is laid out.
LAYOUT_OPTIONS = (
    "volume_col",
    "time_col",
    "run_col",
    "fidelity_col",
    "decimal",
    "sheet",
    "low_fidelity_cols",
    "categorical",
)


@dataclass
class Canonical:
    """A table in the canonical layout.

    Attributes:
        frame: the canonical columns (``run_id``, ``fidelity``, ``scale_index``, ``volume_L``,
            ``time_h``, where present; the target; the noise variances; the operating
            variables). Rows keep their original labels (the rows of cheap levels held in
            columns repeat them).
        warnings: the messages of the problems that do not stop a fit.
        notes: what was converted from the user's layout.
        operating: the operating variables (indicator columns of the factors included).
        categories: the levels of every categorical column.
        explicit: canonical column -> the user's column named for it.
        fidelity_order: the level names the wide layout implies (None otherwise).
        roles: canonical column -> the user's column that held it (name and unit).
    """

    frame: pd.DataFrame
    warnings: list[str]
    notes: list[str]
    operating: list[str]
    categories: dict[str, list[str]]
    explicit: dict[str, str]
    fidelity_order: list[str] | None
    roles: dict[str, ColumnRole] = field(default_factory=dict)


def _check_named(named: Mapping[str, Sequence[str]]) -> None:
    """Raise where two options name one column (a cheap level also a factor, ...)."""
    seen: dict[str, str] = {}
    for option, names in named.items():
        for name in names:
            if name in seen and seen[name] != option:
                raise InputDataError(
                    f"column {name!r} is named both by {seen[name]} and by {option}; a column "
                    "has one role"
                )
            seen[name] = option


def canonical_frame(
    raw: pd.DataFrame,
    *,
    target: str,
    features: Sequence[str] | None = None,
    ignore: Sequence[str] = (),
    fidelity_order: Sequence[str | int] | None = None,
    yvar_column: str | None = None,
    layout: Mapping[str, Any] | None = None,
    rows: RowNames | None = None,
    notes: Sequence[str] = (),
    check: bool = True,
) -> Canonical:
    """The canonical layout of ``raw`` (modified in place: its names are stripped).

    Args:
        raw: the table as read.
        target, features, ignore, fidelity_order, yvar_column: as for
            :class:`~mfgp.data.ScaleUpData`.
        layout: the layout options of :data:`LAYOUT_OPTIONS` (``volume_col``, ...).
        rows: names the rows (default: 0-based rows of a DataFrame).
        notes: what reading converted (decimal commas), put first in ``Canonical.notes``.
        check: False for a derived subset, whose frame is canonical already: skips the checks
            that only warn and the clean-up of empty cells, rows and columns (a subset keeps its
            parent's columns, even one left empty in the subset).

    Raises:
        InputDataError: naming the column, the rows and values, and the fix.
    """
    layout = layout or {}
    rows = rows or RowNames()
    notes = list(notes)
    messages: list[str] = []
    raw.columns = [str(c).strip() for c in raw.columns]
    check_unique_names(list(raw.columns))
    missing_ignored = [c for c in ignore if c not in raw.columns]
    if missing_ignored:
        raise InputDataError(
            f"columns to ignore {missing_ignored} are not in the data; "
            f"available columns: {list(raw.columns)}"
        )
    if not isinstance(target, str) or not target:
        raise InputDataError("target must be the name of a column, for example --target C")
    low = [str(c) for c in layout.get("low_fidelity_cols") or []]
    categorical = [str(c) for c in layout.get("categorical") or []]
    explicit = {c: layout[o] for c, o in ROLE_OPTIONS.items() if layout.get(o) is not None}
    _check_named(
        {
            **{o: [layout[o]] for o in ROLE_OPTIONS.values() if layout.get(o) is not None},
            "low_fidelity_cols": low,
            "categorical": categorical,
            "ignore": list(ignore),
        },
    )
    if check:
        raw = blank_cells_to_nan(raw)
        raw, found = drop_separator_rows(raw, rows)
        messages += found
        messages += duplicate_rows(raw, rows)
    raw = raw.drop(columns=list(ignore))
    columns = list(raw.columns)
    if target not in columns:
        close = [c for c in columns if c.lower() == target.lower()]
        close = close or difflib.get_close_matches(target, columns, n=3)
        hint = f" Did you mean {close}?" if close else ""
        raise InputDataError(
            f"target column {target!r} does not exist; available columns: {columns}.{hint}"
        )
    implied = check_low_fidelity_columns(columns, low, target, fidelity_order) if low else None
    as_features = [c for c in low if c in (features or ())]
    if as_features:
        raise InputDataError(
            f"low-fidelity columns {as_features} hold levels of the target; they cannot be "
            "operating variables: leave them out of --features"
        )
    missing = [c for c in categorical if c not in columns]
    if missing:
        raise InputDataError(
            f"categorical columns {missing} (--categorical) do not exist; available columns: "
            f"{columns}"
        )
    required = {target: "target"}
    if yvar_column is not None:
        required[yvar_column] = "noise-variance"
    required.update({c: "operating-variable" for c in features or () if c != target})
    required.update({n: f"{c.split('_')[0]}" for c, n in explicit.items() if n in columns})
    required.update({c: "categorical" for c in categorical})
    required.update({c: "low-fidelity" for c in low})
    dropped: list[str] = []
    if check:
        raw, dropped, found = drop_empty_columns(raw, required)
        messages += found
    columns = list(raw.columns)

    aside = [*low, *categorical, *([yvar_column] if yvar_column else [])]
    roles = resolve_roles(columns, target=target, explicit=explicit, exclude=aside)
    notes += [m for r in roles.values() if (m := r.message()) is not None]
    renamed = {r.source: canon for canon, r in roles.items()}
    frame = raw.rename(columns=renamed)
    labels = {canon: r.source for canon, r in roles.items()}
    if features is not None:  # a role column named as a feature is refused below, by its role
        features = [renamed.get(c, c) for c in features]

    def label(column: str) -> str:
        return labels.get(column, column)

    if low:
        if yvar_column is not None:
            raise InputDataError(
                "yvar_column gives the noise of the measurements; it cannot be used with "
                "low_fidelity_cols (the wide layout) yet: give the data in the long layout"
            )
        frame, implied, note = wide_to_long(
            frame, low, target, rows, fidelity_label=labels.get("fidelity")
        )
        notes.append(note)
    scale_cols = [c for c in frame.columns if c.lower() == "scale" and c not in (target, *aside)]
    if "volume_L" not in frame.columns:
        missing_volume(columns, volume_like(dropped), scale_cols)
    if scale_cols:
        frame = frame.rename(columns={scale_cols[0]: "scale_index"})
        labels["scale_index"] = scale_cols[0]

    def number(column: str, role: str) -> pd.Series:
        values = numeric_column(frame, column, role, rows, label=label(column))
        check_magnitudes(values, label(column), role, rows)
        found = roles.get(column)
        return values if found is None else found.convert(values)

    roles_of = {"volume_L": "volume"}
    frame["volume_L"] = number("volume_L", "volume")
    check_minimum(frame["volume_L"], label("volume_L"), "volume", rows, strict=True, unit=" litres")
    if "time_h" in frame.columns:
        roles_of["time_h"] = "time"
        frame["time_h"] = number("time_h", "time")
        check_minimum(frame["time_h"], label("time_h"), "time", rows, unit=" hours")
    roles_of[target] = "target"
    frame[target] = number(target, "target")
    if yvar_column is not None:
        if yvar_column not in frame.columns:
            raise InputDataError(
                f"noise-variance column {yvar_column!r} does not exist; "
                f"available columns: {list(frame.columns)}"
            )
        roles_of[yvar_column] = "noise-variance"
        frame[yvar_column] = number(yvar_column, "noise-variance")
        check_minimum(frame[yvar_column], yvar_column, "noise-variance", rows)

    reserved = {"volume_L", "time_h", "fidelity", "run_id", "scale_index", target}
    if yvar_column is not None:
        reserved.add(yvar_column)
    indicators: set[str] = set()
    categories: dict[str, list[str]] = {}
    if categorical:
        frame, categories, found_notes, found = encode_categories(frame, categorical, rows)
        notes += found_notes
        messages += found if check else []
        expand = {c: [indicator_name(c, v) for v in lv] for c, lv in categories.items()}
        indicators = {name for names in expand.values() for name in names}
        if features is not None:
            absent = [c for c in categorical if c not in features]
            if absent:
                raise InputDataError(
                    f"categorical columns {absent} are not among the features "
                    f"{list(features)}; add them to --features or leave them out of "
                    "--categorical"
                )
            features = [name for c in features for name in expand.get(c, [c])]
    operating = operating_columns(frame, features, reserved)
    for c in operating:
        roles_of[c] = "operating-variable"
        frame[c] = number(c, "operating-variable")
    if check:
        for c, role in roles_of.items():
            if role != "volume" and c not in indicators:  # volumes span decades by design
                messages += far_outside_scale(frame[c], label(c), role, rows)
        plain = [c for c in operating if c not in indicators]
        messages += constant_columns(frame, plain, labels)
    keep = [
        c for c in ("run_id", "fidelity", "scale_index", "volume_L", "time_h") if c in frame.columns
    ]
    keep += [target] + ([yvar_column] if yvar_column else []) + operating
    return Canonical(
        frame=frame[keep].copy(),
        warnings=messages,
        notes=notes,
        operating=operating,
        categories=categories,
        explicit=explicit,
        fidelity_order=implied,
        roles=dict(roles),
    )
