"""What the reports share: saving figures atomically, Markdown tables, number formats."""

from __future__ import annotations

import io as _io
from pathlib import Path
from typing import Any

import pandas as pd

from mfgp import io

__all__ = ["fmt_volume", "md_table", "pyplot", "save_figure"]


def pyplot() -> Any:
    """``matplotlib.pyplot`` on a file backend (reports are written without a screen)."""
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "pdf", "svg", "cairo"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: str | Path, *, dpi: int = 120) -> Path:
    """Save a matplotlib figure as PNG atomically and close it."""
    plt = pyplot()
    buf = _io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return io.atomic_write_bytes(path, buf.getvalue())


def md_table(frame: pd.DataFrame, floatfmt: str = ".4g") -> str:
    """A Markdown table of ``frame`` (no index)."""
    return frame.to_markdown(index=False, floatfmt=floatfmt)


def fmt_volume(v: Any) -> str:
    """``20000.0`` -> ``"20000"``; strings (``"all"``) as they are."""
    return v if isinstance(v, str) else f"{float(v):g}"
