"""Atomic file writes, model and result persistence, and version stamps.

Outputs are written to a temporary file in the destination folder and renamed into place, so an
interrupted run never leaves a half-written file, and a user's input file is never overwritten.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from mfgp.exceptions import InputDataError

__all__ = [
    "atomic_torch_save",
    "atomic_write_bytes",
    "atomic_write_csv",
    "atomic_write_json",
    "atomic_write_text",
    "check_not_input",
    "source_revision",
    "versions",
]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _atomic_replace(path: Path, write: Any) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; use the usual mode
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temporary file, then rename)."""
    return _atomic_replace(Path(path), lambda fh: fh.write(data))


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` as indented JSON atomically (NaN written as ``null``)."""
    return atomic_write_text(path, json.dumps(_json_safe(obj), indent=2) + "\n")


def atomic_write_csv(path: str | Path, frame: pd.DataFrame) -> Path:
    """Write a DataFrame as CSV (no index) atomically."""
    return atomic_write_text(path, frame.to_csv(index=False))


def atomic_torch_save(path: str | Path, obj: Any) -> Path:
    """``torch.save`` to ``path`` atomically."""
    return _atomic_replace(Path(path), lambda fh: torch.save(obj, fh))


def check_not_input(outputs: Iterable[str | Path], inputs: Iterable[str | Path]) -> None:
    """Raise if any output path would overwrite (or lie inside) an input file.

    >>> check_not_input(["out/metrics.json"], ["data.csv"])
    """
    ins = [Path(p).resolve() for p in inputs]
    for out in outputs:
        o = Path(out).resolve()
        for i in ins:
            if o == i or i in o.parents:
                raise InputDataError(
                    f"output {out} would overwrite the input {i}; choose another --out folder"
                )


def source_revision(root: str | Path | None = None) -> str:
    """The git commit of the mfgp source in use (short hash, with ``-dirty`` when tracked files
    differ from it), or ``"unknown"`` outside a git checkout (e.g. an installed wheel).

    Results files record it, so that every figure can be traced to the code that made it.
    ``root``: the source tree to ask (default: the one this module was imported from).
    """
    root = Path(root) if root is not None else Path(__file__).resolve().parent.parent
    if not (root / "pyproject.toml").is_file():  # not a source checkout (an installed copy)
        return "unknown"

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()

    try:
        rev = git("rev-parse", "--short", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{rev}-dirty" if dirty else rev


def versions() -> dict[str, str]:
    """Versions of mfgp (with its git revision, :func:`source_revision`) and its numerical
    stack, for results files."""
    import botorch
    import gpytorch

    import mfgp

    return {
        "mfgp": mfgp.__version__,
        "mfgp_revision": source_revision(),
        "torch": torch.__version__,
        "gpytorch": gpytorch.__version__,
        "botorch": botorch.__version__,
        "python": platform.python_version(),
    }


def _json_safe(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, float):
        return obj if obj == obj and obj not in (float("inf"), float("-inf")) else None
    if isinstance(obj, torch.Tensor):
        return _json_safe(obj.tolist())
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalars
        return _json_safe(obj.item())
    if isinstance(obj, Path):
        return str(obj)
    return obj
