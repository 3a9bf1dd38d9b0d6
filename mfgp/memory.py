"""Memory checks before fitting: refuse in seconds what would fail after minutes.

An exact Gaussian process holds dense ``n x n`` matrices of its training rows (the kernel
matrix, its Cholesky factor, and work space for the likelihood's gradient), so its memory grows
as ``n^2``: 8 bytes per entry in float64, a few copies at once. At 100,000 rows one such matrix
is 80 GB. Models report what their fit needs (:meth:`ScaleUpModel.memory_estimate
<mfgp.models.base.ScaleUpModel.memory_estimate>`); :func:`check_memory` compares it with the
memory this machine has free and raises a one-line error naming the rows and what avoids it.

>>> dense_gp_bytes(1000) // 2**20
22
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mfgp.exceptions import InputDataError

__all__ = [
    "DENSE_COPIES",
    "available_bytes",
    "check_memory",
    "check_model_memory",
    "dense_gp_bytes",
    "format_bytes",
]

#: dense ``n x n`` matrices an exact GP fit holds at its peak (kernel matrix, Cholesky factor,
#: the likelihood gradient's work space); measured as 2.5-3 for GPyTorch's exact
#: marginal likelihood in float64, rounded up.
DENSE_COPIES = 3


def dense_gp_bytes(n: int, *, copies: int = DENSE_COPIES, itemsize: int = 8) -> int:
    """Bytes of ``copies`` dense ``n x n`` matrices of ``itemsize``-byte floats."""
    return int(copies) * int(n) ** 2 * int(itemsize)


def available_bytes() -> int | None:
    """Memory available to a new allocation on this machine (Linux ``MemAvailable``, else the
    physical memory), or ``None`` when it cannot be told."""
    meminfo = Path("/proc/meminfo")
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def format_bytes(n: float) -> str:
    """``1.5e9`` -> ``"1.4 GiB"``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover


def check_memory(
    model: str, need: int, what: str, *, fix: str, available: int | None = None
) -> None:
    """Raise when a fit would need more memory than this machine has free.

    Args:
        model: the model's name, for the message.
        need: bytes the fit needs (:meth:`ScaleUpModel.memory_estimate`).
        what: what needs it, e.g. ``"the exact GP of level 'simulator' (100,000 rows)"``.
        fix: what avoids it, e.g. ``"--max-rows-per-level 5000"``.
        available: bytes free (default: :func:`available_bytes`).

    Raises:
        InputDataError: ``need`` exceeds ``available``.
    """
    free = available_bytes() if available is None else available
    if free is None or need <= free:
        return
    raise InputDataError(
        f"model {model!r} would need about {format_bytes(need)} of memory for {what}, and this "
        f"machine has {format_bytes(free)} free; {fix}"
    )


def check_model_memory(name: str, model: Any, data: Any) -> None:
    """Refuse, in seconds, a fit of ``model`` (a :class:`~mfgp.models.base.ScaleUpModel`) on
    ``data`` (a :class:`~mfgp.data.ScaleUpData`) that would need more memory than this machine
    has free (``model.memory_estimate``), naming the rows and the option that avoids it.

    Raises:
        InputDataError: the fit would not fit in memory.
    """
    need, level, rows = model.memory_estimate(data.X)
    free = available_bytes()
    if not need or free is None or need <= free:
        return
    where = (
        "the rows of every level together"
        if level is None
        else f"level {data.fidelity_names[level]!r}"
    )
    itemsize = data.X.element_size()
    copies = max(1, round(need / (rows**2 * itemsize)))
    fitting = int((free / 2 / (copies * itemsize)) ** 0.5) // 1000 * 1000
    if level is not None and level < data.top_fidelity:
        fix = (
            f"thin the cheap levels with --max-rows-per-level {max(fitting, 100)} (a seeded "
            "random subset; max_rows_per_level in Python), use ar1 or hybrid (which condition "
            "a level over 10,000 rows through inducing inputs), or use a model of the "
            "measurements only (--model gp)"
        )
    else:
        fix = f"use fewer rows (at most about {max(fitting, 100)}) or a model without an exact GP"
    check_memory(name, need, f"the exact GP of {where} ({rows:,} rows)", fix=fix)
