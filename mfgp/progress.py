"""Progress a person can follow: bars on a terminal, one line per step elsewhere.

Long work (fitting several models, each with restarts; choosing a batch of experiments; a
benchmark sweep) goes through :func:`steps`. On a terminal (standard error is a TTY) it shows a
`tqdm <https://tqdm.github.io>`_ bar; a nested bar (``leave=False``, e.g. the restarts of one fit)
disappears when done. When standard error is a file or a pipe (CI logs, ``2> log.txt``), outer
steps print one line each through the ``mfgp.progress`` logger and nested ones print nothing,
so a log holds one line per model instead of thousands of bar updates. :func:`configure` turns
progress off (``mfgp -q``) or on.

>>> list(steps([1, 2, 3], desc="demo"))
[1, 2, 3]
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

__all__ = ["configure", "enabled", "setting", "steps"]

T = TypeVar("T")

log = logging.getLogger("mfgp.progress")

_settings: dict[str, bool | None] = {"enabled": None}  # None: on where someone can see it


def configure(*, enabled: bool | None) -> None:
    """Show progress (``True``), hide it (``False``, as ``mfgp -q`` does), or show bars only on
    a terminal and step lines only where the ``mfgp.progress`` logger has a handler (``None``,
    the default)."""
    _settings["enabled"] = enabled


def setting() -> bool | None:
    """The value last given to :func:`configure`."""
    return _settings["enabled"]


def enabled() -> bool:
    """Whether progress is shown at all (see :func:`configure`)."""
    return _settings["enabled"] is not False


def _on_terminal() -> bool:
    try:
        return bool(sys.stderr.isatty())
    except (AttributeError, ValueError):  # replaced or closed stream
        return False


def steps(
    items: Iterable[T],
    *,
    desc: str,
    total: int | None = None,
    leave: bool = True,
    label: Callable[[T], str] | None = None,
) -> Iterator[T]:
    """Iterate over ``items`` and show progress.

    Args:
        items: what to iterate over.
        desc: what the steps are, e.g. ``"fitting models"``.
        total: number of items (default ``len(items)`` where defined).
        leave: an outer loop (kept on screen, one log line per step off a terminal) or a
            nested one (``False``: its bar vanishes when done, and it logs nothing).
        label: names an item for the step line and the bar (default ``str``).

    Yields:
        The items, unchanged.
    """
    if not enabled():
        yield from items
        return
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    name = label or str
    if _on_terminal():
        from tqdm.auto import tqdm

        bar: Any = tqdm(items, desc=desc, total=total, leave=leave, dynamic_ncols=True)
        with bar:
            for item in bar:
                what = name(item)
                if what:
                    bar.set_postfix_str(what, refresh=False)
                yield item
        return
    for i, item in enumerate(items, start=1):
        if leave:
            of = f"/{total}" if total is not None else ""
            what = name(item)
            log.info("%s [%d%s]%s", desc, i, of, f": {what}" if what else "")
        yield item
