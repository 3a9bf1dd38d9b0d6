"""How the ``mfgp`` command talks to the terminal: log records as ``warning: ...`` and
``error: ...`` lines, the log levels of ``-q``/``-v``/``-vv``, warnings as lines, and the
logging state that :func:`mfgp.cli.main` saves and puts back."""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from mfgp import progress
from mfgp.exceptions import MFGPWarning


class _Formatter(logging.Formatter):
    """``warning: ...`` / ``error: ...`` for users; INFO as the bare message; DEBUG named."""

    def format(self, record: logging.LogRecord) -> str:
        msg = record.getMessage()
        if record.exc_info and record.levelno <= logging.DEBUG:
            msg += "\n" + self.formatException(record.exc_info)
        if record.levelno >= logging.ERROR:
            return f"error: {msg}"
        if record.levelno >= logging.WARNING:
            return f"warning: {msg}"
        if record.levelno >= logging.INFO:
            return msg
        return f"debug {record.name}: {msg}"


def _configure_logging(verbose: int, quiet: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter())
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(logging.ERROR if quiet else logging.WARNING)  # other libraries' output
    mfgp_level = logging.ERROR if quiet else [logging.WARNING, logging.INFO][min(verbose, 1)]
    if verbose > 1 and not quiet:
        mfgp_level = logging.DEBUG
    logging.getLogger("mfgp").setLevel(mfgp_level)
    logging.getLogger("mfgp.progress").setLevel(logging.ERROR if quiet else logging.INFO)
    progress.configure(enabled=not quiet)


@contextmanager
def _warnings_as_lines(verbose: int, quiet: bool) -> Iterator[None]:
    """Show mfgp's warnings as one ``warning: ...`` line each (not ``-q``); other libraries'
    warnings (numerical jitter, deprecations) only with ``-v``."""
    log = logging.getLogger("mfgp")

    def show(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
        if quiet:
            return
        if issubclass(category, MFGPWarning) or verbose > 0:
            log.warning("%s", message)

    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = show  # restored by catch_warnings
        yield


_LOGGERS = ("", "mfgp", "mfgp.progress")


def _logging_state() -> dict[str, Any]:
    """The logging and progress settings that :func:`main` changes, to put back afterwards
    (``main`` called from Python, e.g. a notebook or a test, leaves no trace)."""
    state: dict[str, Any] = {n: logging.getLogger(n).level for n in _LOGGERS}
    state["handlers"] = list(logging.getLogger().handlers)
    state["progress"] = progress.setting()
    return state


def _restore_logging(state: dict[str, Any]) -> None:
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in state["handlers"]:
        root.addHandler(h)
    for name in _LOGGERS:
        logging.getLogger(name).setLevel(state[name])
    progress.configure(enabled=state["progress"])
