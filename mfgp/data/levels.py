"""Fidelity levels: their names and order, and cheap levels given as columns (the wide layout).

The long layout has a ``fidelity`` column naming the level of every row. Spreadsheets often
hold a cheap prediction (a simulator's, a scaling law's) in its own column beside the measured
target instead: :func:`wide_to_long` turns such a table into the long layout, one row per
level and value, the levels named by the columns (cheapest first) and the measurements last,
as ``measured``.

>>> import pandas as pd
>>> wide = pd.DataFrame({"volume_L": [1.0, 10.0], "sim": [1.1, 2.2], "titer": [1.0, None]})
>>> long, names, note = wide_to_long(wide, ["sim"], "titer")
>>> names, long["fidelity"].tolist(), long["titer"].tolist()
(['sim', 'measured'], ['sim', 'sim', 'measured'], [1.1, 2.2, 1.0])
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from mfgp.data.validation import RowNames, listed
from mfgp.exceptions import InputDataError

__all__ = [
    "DEFAULT_FIDELITY_ORDER",
    "TOP_FIDELITY_NAME",
    "check_low_fidelity_columns",
    "fidelity_levels",
    "wide_to_long",
]

#: Fidelity names understood without an explicit order, from cheapest to measured truth.
DEFAULT_FIDELITY_ORDER: tuple[str, ...] = (
    "scaling_law",
    "correlation",
    "simplified_model",
    "simulator",
    "mechanistic",
    "measured",
    "measurement",
)

#: Name of the single level when the data have no fidelity column.
TOP_FIDELITY_NAME = "measured"

_NO_ROWS = RowNames()


def check_low_fidelity_columns(
    columns: Sequence[str], low: Sequence[str], target: str, fidelity_order: Sequence[object] | None
) -> list[str]:
    """Check the ``low_fidelity_cols`` option and return the level names it implies.

    Raises:
        InputDataError: a listed column does not exist, is listed twice, is the target or is
            named ``measured``; or ``fidelity_order`` disagrees with the implied order.
    """
    low = [str(c) for c in low]
    missing = [c for c in low if c not in columns]
    if missing:
        raise InputDataError(
            f"low-fidelity columns {missing} (--low-fidelity-col) do not exist; available "
            f"columns: {list(columns)}"
        )
    if len(set(low)) != len(low):
        raise InputDataError(f"low_fidelity_cols {low} lists a column twice")
    if target in low:
        raise InputDataError(
            f"the target {target!r} is the measured level; it cannot also be a low-fidelity "
            "column (--low-fidelity-col)"
        )
    if TOP_FIDELITY_NAME in low:
        raise InputDataError(
            f"a low-fidelity column cannot be named {TOP_FIDELITY_NAME!r} (the name of the "
            "measured level); rename the column"
        )
    names = [*low, TOP_FIDELITY_NAME]
    if fidelity_order is not None and [str(o).strip() for o in fidelity_order] != names:
        raise InputDataError(
            f"fidelity_order {list(fidelity_order)} disagrees with the levels that "
            f"low_fidelity_cols imply ({names}, cheapest first); leave fidelity_order out"
        )
    return names


def wide_to_long(
    frame: pd.DataFrame,
    low: Sequence[str],
    target: str,
    rows: RowNames = _NO_ROWS,
    *,
    fidelity_label: str | None = None,
) -> tuple[pd.DataFrame, list[str], str]:
    """Turn cheap levels held in columns into rows of the long layout.

    Each row with a value in column ``c`` of ``low`` gives a row of level ``c`` (target = that
    value; the other columns copied), and each row with a measured target a row of the top
    level, ``measured``. A row with neither is kept as a measured row (its empty target is then
    reported). The rows keep their original labels (repeated across the levels), so that
    messages name the user's rows; the levels come in blocks, cheapest first.

    Args:
        frame: the table, its role columns renamed to the canonical names.
        low: the cheap-level columns, cheapest first.
        target: the measured target column.
        rows: names the rows.
        fidelity_label: the user's name of a fidelity column, if the table has one (an error).

    Returns:
        ``(long frame, level names, what was done)``.

    Raises:
        InputDataError: the table also has a fidelity column, or a listed column is empty in
            every row or holds text.
    """
    low = list(low)
    if "fidelity" in frame.columns:
        name = fidelity_label or "fidelity"
        raise InputDataError(
            f"low_fidelity_cols {low} give the levels, so the fidelity column {name!r} cannot be "
            f"used with them; drop it with --ignore {name}, or leave --low-fidelity-col out"
        )
    values: dict[str, pd.Series] = {}
    for column in low:
        raw = frame[column]
        numbers = pd.to_numeric(raw, errors="coerce")
        text = (numbers.isna() & raw.notna()).to_numpy()
        if text.any():
            raise InputDataError(
                f"low-fidelity column {column!r} is not numeric: {rows(raw.index[text])} hold "
                f"{listed((repr(v) for v in raw[text]), brackets=False)}; fix those cells or "
                "leave the column out of --low-fidelity-col"
            )
        if numbers.isna().all():
            raise InputDataError(
                f"low-fidelity column {column!r} is empty in every row; fill it in or leave it "
                "out of --low-fidelity-col"
            )
        values[column] = numbers.astype("float64")
    cheap_any = pd.concat(list(values.values()), axis=1).notna().any(axis=1)
    measured = frame[target].notna() | ~cheap_any
    base = frame.drop(columns=low)
    blocks, counts = [], []
    for column in low:
        has = values[column].notna()
        block = base.loc[has].copy()
        block[target] = values[column][has]
        block["fidelity"] = column
        blocks.append(block)
        counts.append(int(has.sum()))
    top = base.loc[measured].copy()
    top["fidelity"] = TOP_FIDELITY_NAME
    blocks.append(top)
    counts.append(int(measured.sum()))
    names = [*low, TOP_FIDELITY_NAME]
    note = (
        f"cheap levels in columns {low} beside the measured {target!r} read as fidelity levels "
        f"{names}, cheapest first ({' + '.join(str(n) for n in counts)} rows)"
    )
    return pd.concat(blocks), names, note


def fidelity_levels(
    frame: pd.DataFrame, order: Sequence[str | int] | None, rows: RowNames = _NO_ROWS
) -> tuple[list[str], list[int]]:
    """The level names, cheapest first, and the level index of every row.

    Args:
        frame: the canonical frame (with a ``fidelity`` column, or none: one level).
        order: level names from cheapest to measured truth (needed for names that are not in
            :data:`DEFAULT_FIDELITY_ORDER`); integers are levels by themselves.
        rows: names the rows.

    Raises:
        InputDataError: empty, unknown or repeated names, negative integers.
    """
    if "fidelity" not in frame.columns:
        if order is not None and len(order) > 1:
            raise InputDataError(
                f"fidelity_order {list(order)} was given but the data have no fidelity "
                "column; add a 'fidelity' column (aliases: source, level)"
            )
        name = str(order[0]) if order else TOP_FIDELITY_NAME
        return [name], [0] * len(frame)
    raw = frame["fidelity"]
    if raw.isna().any():
        raise InputDataError(
            f"fidelity column has empty values at {rows(raw.index[raw.isna().to_numpy()])}; "
            "give every row a fidelity name"
        )
    values = raw.astype(str).str.strip()
    present = list(dict.fromkeys(values))
    if order is not None:
        names = [str(o).strip() for o in order]
        if len(set(names)) != len(names):
            raise InputDataError(f"fidelity_order {names} lists a name twice")
    elif all(v.lstrip("-").isdigit() for v in present):
        ints = sorted(int(v) for v in present)
        if ints[0] < 0:
            raise InputDataError("integer fidelity levels must be >= 0")
        names = [str(i) for i in range(ints[-1] + 1)]
    elif all(v in DEFAULT_FIDELITY_ORDER for v in present):
        names = [n for n in DEFAULT_FIDELITY_ORDER if n in present]
    else:
        unknown = [v for v in present if v not in DEFAULT_FIDELITY_ORDER]
        at = rows(raw.index[values.isin(unknown).to_numpy()])
        raise InputDataError(
            f"unknown fidelity names {unknown} at {at}; give their order from cheapest to "
            "measured truth with fidelity_order=[...] (--fidelity-order a,b,c), or use the "
            f"known names {list(DEFAULT_FIDELITY_ORDER)}"
        )
    unknown = [v for v in present if v not in names]
    if unknown:
        at = rows(raw.index[values.isin(unknown).to_numpy()])
        raise InputDataError(
            f"unknown fidelity names {unknown} at {at}; fidelity_order lists {names}: add "
            "them to the order or fix the rows"
        )
    lookup = {n: i for i, n in enumerate(names)}
    return names, [lookup[v] for v in values]
