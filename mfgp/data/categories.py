"""Categorical factors: text or integer-coded columns (cell line, medium, site) as indicators.

A column declared categorical (``categorical=["cell_line"]``, ``--categorical cell_line``)
becomes one 0/1 indicator column per level, ``cell_line=A``, ``cell_line=B``, ... (every level,
sorted: numerically where every level is a number, else as text), among the operating
variables. The levels are kept (``ScaleUpData.categories``) so that new points written with the
original column (``cell_line = "B"``) are encoded the same way (:func:`one_hot`).

>>> import pandas as pd
>>> frame = pd.DataFrame({"rpm": [100.0, 200.0, 300.0], "cell_line": ["B", "A", "B"]})
>>> out, levels, notes, _ = encode_categories(frame, ["cell_line"])
>>> list(out.columns), levels
(['rpm', 'cell_line=A', 'cell_line=B'], {'cell_line': ['A', 'B']})
>>> out["cell_line=B"].tolist()
[1.0, 0.0, 1.0]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from mfgp.data.validation import RowNames, ignore_hint
from mfgp.exceptions import InputDataError

__all__ = ["category_label", "encode_categories", "indicator_name", "one_hot"]

_NO_ROWS = RowNames()


def category_label(value: Any) -> str:
    """The level a cell names: text stripped, whole numbers without a decimal point (``2.0`` and
    ``2`` are both level ``"2"``)."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return str(int(number)) if number.is_integer() else f"{number:g}"
    return str(value).strip()


def indicator_name(column: str, level: str) -> str:
    """``cell_line=A``: the indicator column of one level."""
    return f"{column}={level}"


def _sorted_levels(labels: Sequence[str]) -> list[str]:
    unique = sorted(set(labels))
    try:
        return sorted(unique, key=float)
    except ValueError:
        return unique


def _labels(frame: pd.DataFrame, column: str, rows: RowNames, what: str) -> pd.Series:
    values = frame[column]
    empty = values.isna().to_numpy()
    if empty.any():
        raise InputDataError(
            f"categorical column {column!r} has empty cells at {what}{rows(values.index[empty])}; "
            "fill them (for example with 'unknown') or remove those rows"
        )
    return values.map(category_label)


def _indicators(labels: pd.Series, column: str, levels: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {indicator_name(column, lv): (labels == lv).astype("float64") for lv in levels},
        index=labels.index,
    )


def encode_categories(
    frame: pd.DataFrame, columns: Sequence[str], rows: RowNames = _NO_ROWS
) -> tuple[pd.DataFrame, dict[str, list[str]], list[str], list[str]]:
    """Replace each categorical column by its indicator columns, in its place.

    Args:
        frame: the table.
        columns: the categorical columns.
        rows: names the rows.

    Returns:
        ``(frame, levels, notes, warnings)``: the encoded frame, the levels of every column,
        what was done, and a warning for a column with one level only.

    Raises:
        InputDataError: a column has empty cells.
    """
    levels: dict[str, list[str]] = {}
    notes: list[str] = []
    warns: list[str] = []
    parts: list[pd.DataFrame] = []
    for name in frame.columns:
        if name not in columns:
            parts.append(frame[[name]])
            continue
        labels = _labels(frame, name, rows, "")
        levels[name] = _sorted_levels(list(labels))
        block = _indicators(labels, name, levels[name])
        clash = [c for c in block.columns if c in frame.columns]
        if clash:
            raise InputDataError(
                f"the indicator columns {clash} of categorical column {name!r} are already "
                "columns of the data; rename them"
            )
        parts.append(block)
        notes.append(
            f"categorical column {name!r} encoded as {len(levels[name])} indicator columns "
            f"{', '.join(block.columns)}"
        )
        if len(levels[name]) == 1:
            warns.append(
                f"categorical column {name!r} has one level ({levels[name][0]!r}) in every row: "
                f"it carries no information; drop it with {ignore_hint([name])}"
            )
    return pd.concat(parts, axis=1), levels, notes, warns


def one_hot(frame: pd.DataFrame, categories: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """Encode new points: each categorical column given by its levels becomes its indicators
    (with the levels of the data); points given with the indicators already pass as they are.

    Raises:
        InputDataError: a level that the data do not have, or neither the column nor its
            indicators.
    """
    for name, levels in categories.items():
        indicators = [indicator_name(name, lv) for lv in levels]
        if name not in frame.columns:
            if all(c in frame.columns for c in indicators):
                continue
            raise InputDataError(
                f"new points lack the categorical column {name!r}; give its level in every row "
                f"(one of {list(levels)})"
            )
        labels = _labels(frame, name, _NO_ROWS, "new points ")
        unknown = ~labels.isin(list(levels))
        if unknown.any():
            found = list(dict.fromkeys(labels[unknown]))
            what = f"level {found[0]!r}" if len(found) == 1 else f"levels {found}"
            raise InputDataError(
                f"unknown {what} of categorical column {name!r} at new points "
                f"{_NO_ROWS(labels.index[unknown.to_numpy()])}; the known levels are "
                f"{list(levels)}"
            )
        block = _indicators(labels, name, levels)
        frame = pd.concat([frame.drop(columns=[name, *indicators], errors="ignore"), block], axis=1)
    return frame
