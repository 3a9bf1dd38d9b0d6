"""Atomic file writes, transactional output folders, and version stamps.

Single files are written to a temporary file in the destination folder and renamed into place,
so an interrupted write never leaves a half-written file. A command's output folder is
transactional (:func:`output_folder`): everything is written into a temporary sibling folder,
which replaces the destination only when the whole command succeeded. An earlier mfgp output
folder at that place is replaced whole, never mixed with the new files; a folder holding files
that mfgp did not write is refused, and so is a destination that is, contains or replaces an
input file. A user's input is never overwritten.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import botorch
import gpytorch
import pandas as pd
import torch

from mfgp._version import __version__
from mfgp.exceptions import InputDataError, OutputError

__all__ = [
    "MARKER",
    "OUTPUT_NAMES",
    "atomic_torch_save",
    "atomic_write_bytes",
    "atomic_write_csv",
    "atomic_write_json",
    "atomic_write_text",
    "check_not_input",
    "check_output_file",
    "check_output_folder",
    "is_mfgp_output",
    "output_folder",
    "source_revision",
    "versions",
]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: the file that marks a folder as written by mfgp (what made it, when).
MARKER = ".mfgp-output.json"

#: names that mfgp commands write into an output folder; a folder holding only these (and the
#: marker) is an earlier mfgp output, which a new run may replace.
OUTPUT_NAMES = frozenset(
    {
        MARKER,
        "metrics.json",
        "predictions.csv",
        "report.md",
        "suggestions.csv",
        "suggestions.json",
        "validation.csv",
        "figures",
        "models",
        "model",
    }
)


def _write_error(path: Path, err: OSError) -> OutputError:
    reason = err.strerror or str(err)
    blocking = next((p for p in Path(path).parents if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        reason = f"{blocking} is a file, not a folder"
    return OutputError(
        f"cannot write {path}: {reason}; choose a writable folder with --out (or free space)"
    )


def _atomic_replace(path: Path, write: Any) -> Path:
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise _write_error(path, err) from err
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; use the usual mode
        os.replace(tmp, path)
    except BaseException as err:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(err, OSError) and not isinstance(err, OutputError):
            raise _write_error(path, err) from err
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
    return atomic_write_text(path, json.dumps(json_safe(obj), indent=2) + "\n")


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


def is_mfgp_output(folder: str | Path) -> bool:
    """Whether ``folder`` is empty or holds an earlier mfgp output (its marker file, or only
    names that mfgp writes, :data:`OUTPUT_NAMES`), so that a new run may replace it whole."""
    folder = Path(folder)
    names = {p.name for p in folder.iterdir()}
    return not names or MARKER in names or names <= OUTPUT_NAMES


def check_output_folder(out: str | Path, inputs: Iterable[str | Path] = ()) -> Path:
    """Refuse an output folder that cannot be used, before any work is done.

    Refused: an existing file (a folder is needed), the input file itself, a folder that
    contains an input file (replacing the folder would delete it), and an existing folder that
    holds files mfgp did not write (:func:`is_mfgp_output`).

    Returns:
        ``out`` as an absolute path.

    Raises:
        InputDataError: one line naming the path and what to do instead.
        OutputError: the place cannot be written (read-only or full file system, a file where
            a parent folder should be).

    >>> check_output_folder("outputs").name
    'outputs'
    """
    out = Path(out).expanduser().absolute()
    for i in inputs:
        src = Path(i).expanduser().resolve()
        if src == out.resolve():
            raise InputDataError(
                f"--out {out} is the input file; give a new folder name, e.g. --out results"
            )
        if out.resolve() in src.parents:
            raise InputDataError(
                f"--out {out} contains the input file {src}; the output folder is replaced "
                "whole, so give a folder that holds no input, e.g. --out results"
            )
    if out.is_file() or (out.exists() and not out.is_dir()):
        raise InputDataError(
            f"--out {out} is a file; give a folder name (it is created), e.g. --out results"
        )
    if out.is_dir() and not is_mfgp_output(out):
        foreign = sorted(p.name for p in out.iterdir() if p.name not in OUTPUT_NAMES)
        shown = ", ".join(foreign[:5]) + (" ..." if len(foreign) > 5 else "")
        raise InputDataError(
            f"--out {out} exists and holds files that mfgp did not write ({shown}); mfgp "
            "replaces its output folder whole, so give a new or empty folder"
        )
    _probe_writable(out)
    return out


def _probe_writable(out: Path) -> None:
    """Create and remove a temporary folder where ``out``'s temporary sibling will go (the
    nearest existing ancestor): a read-only or full file system is refused before any work.
    A real attempt, since ``os.access`` says yes to root on read-only mounts."""
    anchor = out.parent
    while not anchor.exists() and anchor != anchor.parent:
        anchor = anchor.parent
    try:
        os.rmdir(tempfile.mkdtemp(dir=anchor, prefix=f".{out.name}.probe-"))
    except OSError as err:
        raise _write_error(out, err) from err


def check_output_file(path: str | Path, inputs: Iterable[str | Path] = ()) -> Path:
    """Refuse an output file that is a folder or an input file, before any work is done.

    Raises:
        InputDataError: one line naming the path and what to do instead.
    """
    path = Path(path).expanduser().absolute()
    if path.is_dir():
        raise InputDataError(
            f"--out {path} is a folder; give a file name for the CSV, e.g. --out run.csv"
        )
    check_not_input([path], inputs)
    return path


@contextmanager
def output_folder(
    out: str | Path, *, inputs: Iterable[str | Path] = (), command: str = ""
) -> Iterator[Path]:
    """Write a command's outputs transactionally.

    Yields a temporary folder beside ``out`` (same file system). When the block finishes, that
    folder replaces ``out`` whole (an earlier output is removed, never mixed with the new
    files); when the block raises, including on Ctrl-C (``KeyboardInterrupt``), the temporary
    folder is removed and ``out`` is left exactly as it was. ``out`` is checked first with
    :func:`check_output_folder`, so a bad destination is refused before any fitting.

    Args:
        out: the destination folder.
        inputs: input files that must not be overwritten or removed.
        command: what wrote the folder, recorded in its marker file.

    Raises:
        InputDataError: ``out`` cannot be used (see :func:`check_output_folder`).
        OutputError: the folder cannot be created or renamed (read-only file system, ...).

    Example:
        >>> import tempfile, pathlib
        >>> root = pathlib.Path(tempfile.mkdtemp())
        >>> with output_folder(root / "out") as tmp:
        ...     _ = (tmp / "report.md").write_text("done")
        >>> (root / "out" / "report.md").read_text()
        'done'
    """
    out = check_output_folder(out, inputs)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.tmp-"))
        os.chmod(tmp, 0o777 & ~_umask())
    except OSError as err:
        raise _write_error(out, err) from err
    try:
        atomic_write_json(
            tmp / MARKER,
            {"command": command, "written": time.strftime("%Y-%m-%dT%H:%M:%S%z")},
        )
        yield tmp
        _swap_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _swap_into_place(tmp: Path, out: Path) -> None:
    """Rename ``tmp`` to ``out``; an existing ``out`` is moved aside first and removed after."""
    old = None
    try:
        if out.exists():
            old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.old-"))
            os.rmdir(old)
            os.rename(out, old)
        os.rename(tmp, out)
    except BaseException as err:  # an OSError, or Ctrl-C between the two renames
        if old is not None and old.exists() and not out.exists():
            os.rename(old, out)  # put the earlier output back
        if isinstance(err, OSError):
            raise _write_error(out, err) from err
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


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
    return {
        "mfgp": __version__,
        "mfgp_revision": source_revision(),
        "torch": torch.__version__,
        "gpytorch": gpytorch.__version__,
        "botorch": botorch.__version__,
        "python": platform.python_version(),
    }


def json_safe(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, float):
        return obj if obj == obj and obj not in (float("inf"), float("-inf")) else None
    if isinstance(obj, torch.Tensor):
        return json_safe(obj.tolist())
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalars
        return json_safe(obj.item())
    if isinstance(obj, Path):
        return str(obj)
    return obj
