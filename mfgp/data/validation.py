"""Checks of an input table: each a small function that raises or returns warning messages.

Errors raise :class:`~mfgp.exceptions.InputDataError`; problems that do not stop a fit are
returned as message strings, which :class:`~mfgp.data.ScaleUpData` issues as
:class:`~mfgp.exceptions.DataWarning` and keeps in ``validation_warnings``. Every message names
the column, the rows and the values at fault, and says how to fix them. Rows are named in one
form everywhere (:class:`RowNames`)::

    rows [3, 4] (0-based data rows; file lines 5, 6)

(``(0-based data rows)`` alone for a DataFrame; a file's line is row + 2 where the header is
its first line and no blank lines come before the row).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mfgp.exceptions import InputDataError

__all__ = [
    "HUGE_MAGNITUDE",
    "MAX_LISTED",
    "SCALE_RATIO",
    "RowNames",
    "blank_cells_to_nan",
    "check_magnitudes",
    "check_minimum",
    "check_text_columns",
    "check_unique_names",
    "constant_columns",
    "drop_empty_columns",
    "drop_separator_rows",
    "duplicate_rows",
    "far_outside_scale",
    "ignore_hint",
    "listed",
    "missing_volume",
    "numeric_column",
    "operating_columns",
    "text_columns",
]

#: offending rows or values quoted in one message; the rest are counted.
MAX_LISTED = 8

#: magnitudes above this cannot be standardised in float64 (their squares overflow).
HUGE_MAGNITUDE = 1e150

#: values over this many times their column's median magnitude are reported as a likely slip.
SCALE_RATIO = 1e6


def _power(x: float) -> str:
    """``1e6`` for 1e6 (not ``1e+06``)."""
    return f"{x:.0e}".replace("e+0", "e").replace("e+", "e")


_DECIMAL_COMMA = re.compile(r"^\s*[-+]?\d*,\d+\s*$")


def listed(items: Iterable[Any], *, brackets: bool = True) -> str:
    """``[a, b, c]``, or ``[a, ..., h and 4 more]`` past :data:`MAX_LISTED` items."""
    items = list(items)
    head = ", ".join(str(i) for i in items[:MAX_LISTED])
    more = f" and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else ""
    return f"[{head}{more}]" if brackets else f"{head}{more}"


def _values(values: Iterable[Any]) -> list[Any]:
    """Values as plain Python objects, so that messages show ``7.0`` (not ``np.float64(7.0)``)."""
    return [v.item() if isinstance(v, np.generic) else v for v in values]


@dataclass(frozen=True)
class RowNames:
    """Names data rows in messages: ``rows [3, 4] (0-based data rows; file lines 5, 6)``.

    Attributes:
        lines: the 1-based file line of every data row (indexed by the 0-based row number), or
            None where the data did not come from a file.
        line_unit: how the lines are named (``"file lines"``; ``"sheet rows"`` for a workbook).
    """

    lines: tuple[int, ...] | None = None
    line_unit: str = "file lines"

    def __call__(self, rows: Iterable[Any]) -> str:
        """The phrase naming ``rows`` (0-based data row numbers; each once, in order)."""
        rows = list(dict.fromkeys(int(r) for r in rows))
        where = "0-based data rows"
        if self.lines is not None:
            lines = [self.lines[r] if 0 <= r < len(self.lines) else r + 2 for r in rows]
            where += f"; {self.line_unit} {listed(lines, brackets=False)}"
        return f"rows {listed(rows)} ({where})"


def ignore_hint(columns: Sequence[str]) -> str:
    """``--ignore a,b (ignore=['a', 'b'] in Python)``: how to drop ``columns``."""
    return f"--ignore {shlex.quote(','.join(columns))} (ignore={list(columns)!r} in Python)"


def _quoted(columns: Sequence[str]) -> str:
    return ", ".join(repr(c) for c in columns)


def check_unique_names(columns: Sequence[str]) -> None:
    """Raise where two columns have the same name (after stripping spaces)."""
    names = list(columns)
    dupes = sorted({c for c in names if names.count(c) > 1})
    if dupes:
        raise InputDataError(f"duplicated column names {dupes}; give each column one name")


def blank_cells_to_nan(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with empty or whitespace-only text cells as missing values (NaN)."""
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if not (pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)):
            continue
        blank = values.map(lambda v: isinstance(v, str) and not v.strip()).astype(bool)
        if blank.any():
            out[column] = values.mask(blank)
    return out


def drop_separator_rows(frame: pd.DataFrame, rows: RowNames) -> tuple[pd.DataFrame, list[str]]:
    """Drop the rows whose every cell is empty (``,,,,`` lines at the end of a spreadsheet
    export); rows with some cells filled are kept (and checked like every other row).

    Returns:
        The frame without those rows (the other rows keep their numbers) and the warnings.

    Raises:
        InputDataError: every row is empty.
    """
    empty = frame.isna().all(axis=1).to_numpy()
    if not empty.any():
        return frame, []
    if empty.all():
        raise InputDataError(
            f"every data row is empty: {rows(frame.index)} have only separators or blank "
            "cells; the table needs one filled row per observation"
        )
    message = (
        f"{rows(frame.index[empty])} are empty in every column (separator-only lines such as "
        "',,,,' from a spreadsheet export); dropped"
    )
    return frame.loc[~empty], [message]


def drop_empty_columns(
    frame: pd.DataFrame, required: Mapping[str, str]
) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Drop the columns whose every cell is empty.

    Args:
        frame: the table.
        required: columns that must hold values, with their role (``"target"``, ...).

    Returns:
        ``(frame, dropped, warnings)``: the frame without those columns, their names, and the
        warnings.

    Raises:
        InputDataError: a required column is empty in every row.
    """
    empty = [c for c in frame.columns if frame[c].isna().all()]
    for column in empty:
        if column in required:
            raise InputDataError(
                f"{required[column]} column {column!r} is empty in every row; fill it in, or "
                "name another column"
            )
    if not empty:
        return frame, [], []
    if len(empty) == 1:
        message = f"column {empty[0]!r} is empty in every row; dropped"
    else:
        message = f"columns {_quoted(empty)} are empty in every row; dropped"
    return frame.drop(columns=empty), empty, [message]


def text_columns(frame: pd.DataFrame, candidates: Sequence[str]) -> list[str]:
    """The candidate operating variables that hold text: filled cells, none of them a number.

    Columns with some numbers and a few text cells are typos in numeric columns; they are left
    to :func:`numeric_column`, which names the rows.
    """
    out = []
    for column in candidates:
        filled = frame[column].dropna()
        if len(filled) and pd.to_numeric(filled, errors="coerce").isna().all():
            out.append(column)
    return out


def check_text_columns(columns: Sequence[str]) -> None:
    """Raise, naming every text column at once, where operating variables hold text.

    Operating variables must be numbers; categorical factors (a cell line, a medium) are
    declared with ``categorical=[...]`` (``--categorical``) and encoded before this check.
    """
    if not columns:
        return
    if len(columns) == 1:
        what, them, factors = f"column {columns[0]!r} holds", "it", "it a factor"
    else:
        what, them, factors = f"columns {_quoted(columns)} hold", "them", "them factors"
    flag = shlex.quote(",".join(columns))
    raise InputDataError(
        f"{what} text, not numbers: drop {them} with {ignore_hint(columns)} or declare "
        f"{factors} with --categorical {flag} (categorical={list(columns)!r} in Python), or turn "
        "the text into numbers"
    )


def operating_columns(
    frame: pd.DataFrame, features: Sequence[str] | None, reserved: Iterable[str]
) -> list[str]:
    """The operating variables: ``features``, checked, or every column not ``reserved``.

    Raises:
        InputDataError: a named feature is not in the data or is reserved (volume, time,
            target, fidelity, run id); without ``features``, some columns hold text.
    """
    reserved = set(reserved)
    if features is None:
        operating = [c for c in frame.columns if c not in reserved]
        # Text columns are rejected, all named at once; categorical factors are encoded (and
        # so numbers) before this check.
        check_text_columns(text_columns(frame, operating))
        return operating
    operating = list(features)
    unknown = [c for c in operating if c not in frame.columns]
    if unknown:
        raise InputDataError(
            f"unknown feature columns {unknown}; available columns: "
            f"{[c for c in frame.columns if c not in reserved]}"
        )
    clash = [c for c in operating if c in reserved]
    if clash:
        raise InputDataError(
            f"{clash} cannot be operating variables (volume and time are always inputs; the "
            "target and fidelity cannot be)"
        )
    return operating


def missing_volume(columns: Sequence[str], empty: Sequence[str], scale: Sequence[str]) -> None:
    """Raise the error for a table without a volume column.

    Args:
        columns: the table's columns.
        empty: volume columns dropped because they were empty in every row.
        scale: columns named ``scale`` (a scale index 1, 2, 3, ..., not litres).
    """
    if empty:
        raise InputDataError(
            f"volume column {empty[0]!r} is empty in every row; fill in the working volume in "
            "litres of every row"
        )
    if scale:
        raise InputDataError(
            f"column {scale[0]!r} looks like a scale index (1, 2, 3, ...), not a volume in "
            "litres; add the working volume as a column 'volume_L' (or 'V'), or rename the "
            "column to 'scale_L' if it holds litres"
        )
    raise InputDataError(
        "no volume column; add the working volume in litres as 'volume_L' (aliases: V, volume, "
        "scale_L; or with its unit, as 'Volume (mL)'), or name its column with --volume-col "
        f"NAME; columns found: {list(columns)}"
    )


def numeric_column(
    frame: pd.DataFrame, column: str, role: str, rows: RowNames, *, label: str | None = None
) -> pd.Series:
    """Column ``column`` as float64, raising on text, empty (NaN) or infinite cells.

    Args:
        frame: the table.
        column: the column (its canonical name).
        role: what it is, for the messages (``"volume"``, ``"target"``, ...).
        rows: names the rows.
        label: the column's name in the user's data (default ``column``).

    Raises:
        InputDataError: naming the rows and values.
    """
    name = column if label is None else label
    raw = frame[column]
    values = pd.to_numeric(raw, errors="coerce")
    bad_text = (values.isna() & raw.notna()).to_numpy()
    if bad_text.any():
        bad = raw[bad_text].tolist()
        hint = ""
        if any(isinstance(v, str) and _DECIMAL_COMMA.match(v) for v in bad):
            hint = (
                " (commas inside numbers, as in '0,5' or '1,200', are not read: write 0.5 or "
                "1200, read decimal commas with --decimal , (decimal=',' in Python), or export "
                "the file with '.' as the decimal separator and no thousands separator)"
            )
        raise InputDataError(
            f"{role} column {name!r} has non-numeric values at {rows(raw.index[bad_text])}: "
            f"{listed((repr(v) for v in bad), brackets=False)}; fix or remove those rows{hint}"
        )
    values = values.astype("float64")
    array = values.to_numpy()
    missing = np.isnan(array)
    if missing.any():
        raise InputDataError(
            f"{role} column {name!r} has empty (or NaN) cells at {rows(raw.index[missing])}; "
            "fill or remove those rows"
        )
    infinite = np.isinf(array)
    if infinite.any():
        raise InputDataError(
            f"{role} column {name!r} has infinite values at {rows(raw.index[infinite])}: "
            f"{listed(_values(array[infinite]), brackets=False)}; replace them with finite "
            "numbers or remove those rows"
        )
    return values


def check_magnitudes(values: pd.Series, name: str, role: str, rows: RowNames) -> None:
    """Raise where a value's magnitude exceeds :data:`HUGE_MAGNITUDE` (1e150).

    Standardising squares the values, and the square of such a number overflows float64: the
    fit would fail much later with NaN or infinite values.
    """
    huge = (values.abs() > HUGE_MAGNITUDE).to_numpy()
    if huge.any():
        raise InputDataError(
            f"{role} column {name!r} has values too large to compute with at "
            f"{rows(values.index[huge])}: {listed(_values(values[huge]), brackets=False)} "
            f"(magnitudes above {_power(HUGE_MAGNITUDE)} overflow float64 when squared); check the "
            "units or a typo"
        )


def check_minimum(
    values: pd.Series,
    name: str,
    role: str,
    rows: RowNames,
    *,
    minimum: float = 0.0,
    strict: bool = False,
    unit: str = "",
) -> None:
    """Raise, naming the rows and values, where ``values`` fall below ``minimum`` (or reach it,
    if ``strict``): volumes must be > 0 litres, times and noise variances >= 0."""
    bad = (values <= minimum if strict else values < minimum).to_numpy()
    if bad.any():
        bound = f"{'>' if strict else '>='} {minimum:g}{unit}"
        raise InputDataError(
            f"{role} column {name!r} must be {bound}; {rows(values.index[bad])} have "
            f"{listed(_values(values[bad]), brackets=False)}; fix or remove them"
        )


def far_outside_scale(values: pd.Series, name: str, role: str, rows: RowNames) -> list[str]:
    """A warning for values whose magnitude exceeds :data:`SCALE_RATIO` (1e6) times the
    column's median magnitude (zeros left out of the median), a likely slip of units or a typo.
    """
    magnitude = values.abs()
    nonzero = magnitude[magnitude > 0]
    if nonzero.empty:
        return []
    median = float(nonzero.median())
    far = (magnitude > SCALE_RATIO * median).to_numpy()
    if not far.any():
        return []
    return [
        f"{role} column {name!r} has values over {_power(SCALE_RATIO)} times its median magnitude "
        f"({median:.4g}) at {rows(values.index[far])}: "
        f"{listed(_values(values[far]), brackets=False)}; check the units or a typo"
    ]


def constant_columns(
    frame: pd.DataFrame, columns: Sequence[str], labels: Mapping[str, str] | None = None
) -> list[str]:
    """A warning for each operating variable with the same value in every row.

    Such a column carries no information for a model; it is kept (the user may want it as a
    record) and the message says how to drop it.
    """
    if len(frame) < 2:
        return []
    out = []
    for column in columns:
        values = frame[column]
        if values.nunique(dropna=False) == 1:
            name = (labels or {}).get(column, column)
            value = _values([values.iloc[0]])[0]
            out.append(
                f"column {name!r} has the same value ({value!r}) in every row: it carries no "
                f"information; drop it with {ignore_hint([name])}"
            )
    return out


def duplicate_rows(frame: pd.DataFrame, rows: RowNames) -> list[str]:
    """A warning naming the rows equal in every column to an earlier row, and the rows they
    repeat. They are kept: replicate measurements differ at least in their values or run."""
    if frame.empty or frame.shape[1] == 0:
        return []
    try:
        groups = frame.groupby(list(frame.columns), dropna=False, sort=False).ngroup()
    except TypeError:  # unhashable cells (lists, dicts) in a DataFrame: nothing to compare
        return []
    first: dict[int, Any] = {}
    repeats, originals = [], []
    for label, group in zip(frame.index, groups.to_numpy(), strict=True):
        if group in first:
            repeats.append(label)
            originals.append(first[group])
        else:
            first[group] = label
    if not repeats:
        return []
    return [
        f"{rows(repeats)} repeat {rows(originals)} exactly: remove them if they were pasted twice"
    ]
