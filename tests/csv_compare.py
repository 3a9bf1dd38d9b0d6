"""Compare a regenerated CSV with a committed one numerically, not byte for byte.

Floating-point results differ in their last bits between CPUs (vectorised maths, BLAS kernels),
and a value printed with ``%.6g`` can then round to the neighbouring last digit (``3.14425`` on
one machine, ``3.14426`` on another). The comparison asks for the same columns and row order,
key columns equal as text, and every other value within one unit of its last printed digit or,
for values computed by an adaptive ODE solver, within a relative tolerance ``rel`` of the order of
the solver's own (the simulator integrates with ``rtol=1e-6``: a last-bit difference in one step
can change the step sizes and so the sixth digit by more than one unit).
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import pandas as pd

__all__ = ["assert_csv_close", "last_digit_unit"]


def last_digit_unit(text: str) -> float:
    """One unit of the last printed digit of a number written as ``text``.

    >>> last_digit_unit("3.14425"), last_digit_unit("120"), last_digit_unit("1.5e-05")
    (1e-05, 1.0, 1e-06)
    """
    exponent = Decimal(text.strip()).as_tuple().exponent
    return 10.0 ** int(exponent) if isinstance(exponent, int) else math.inf


def _read(source: str | Path) -> pd.DataFrame:
    text = Path(source).read_text() if isinstance(source, Path) else source
    return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)


def assert_csv_close(
    regenerated: str | Path,
    committed: str | Path,
    *,
    keys: Sequence[str],
    rel: float = 0.0,
    max_listed: int = 20,
) -> None:
    """Assert that two CSV files (paths, or CSV text) hold the same table.

    Args:
        regenerated: the freshly made file.
        committed: the reference file.
        keys: columns that must be equal as text (run ids, levels, volumes, times).
        rel: relative tolerance allowed beyond one unit of the last printed digit.
        max_listed: differing cells quoted in the failure message.

    Raises:
        AssertionError: columns or row counts differ, or cells differ, each listed as
            ``row, column: committed -> regenerated``.
    """
    new, ref = _read(regenerated), _read(committed)
    assert list(new.columns) == list(ref.columns), (
        f"columns differ: {list(new.columns)} vs committed {list(ref.columns)}"
    )
    assert len(new) == len(ref), f"{len(new)} rows regenerated, {len(ref)} committed"
    bad: list[str] = []
    for col in ref.columns:
        for row, (a, b) in enumerate(zip(new[col], ref[col], strict=True)):
            if a == b:
                continue
            if col not in keys:
                try:
                    unit = max(last_digit_unit(a), last_digit_unit(b))
                    tol = max(unit * (1 + 1e-9), rel * abs(float(b)))
                    if abs(float(a) - float(b)) <= tol:
                        continue
                except (ArithmeticError, ValueError):
                    pass  # not numbers: a text difference
            bad.append(f"row {row}, {col}: {b} -> {a}")
    if bad:
        shown = "; ".join(bad[:max_listed])
        more = f" (and {len(bad) - max_listed} more)" if len(bad) > max_listed else ""
        raise AssertionError(
            f"{len(bad)} cell(s) differ beyond the tolerance (committed -> "
            f"regenerated): {shown}{more}"
        )
