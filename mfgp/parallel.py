"""Independent tasks in parallel: joblib processes on one machine, or a Dask cluster.

Validation fits (one model on one fold) are independent, so :func:`map_tasks` runs them side
by side: in this process (``n_jobs=1``), in joblib worker processes (the default: one per
core), or on a Dask cluster (``scheduler="tcp://host:8786"``, with ``pip install
'dask[distributed]'``). Results come back in the order of the tasks, with progress shown as
each finishes (:mod:`mfgp.progress`). Each worker runs torch on ``cores // workers`` threads,
so that workers do not oversubscribe the machine.

>>> map_tasks(pow, [(2, 3), (3, 2)], n_jobs=1, desc="powers")
[8, 9]
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import torch

from mfgp import progress
from mfgp.exceptions import InputDataError

__all__ = ["available_cores", "map_tasks"]


def available_cores() -> int:
    """CPU cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _call(fn: Callable[..., Any], args: tuple[Any, ...], threads: int) -> Any:
    """Run one task in a worker: ``threads`` torch threads, and the worker's log and warnings
    kept quiet (its tasks report through their results; the main process shows progress)."""
    torch.set_num_threads(threads)
    logging.getLogger("mfgp").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args)


def map_tasks(
    fn: Callable[..., Any],
    tasks: Sequence[tuple[Any, ...]],
    *,
    n_jobs: int | None = None,
    scheduler: str | None = None,
    desc: str = "tasks",
    label: Callable[[tuple[Any, ...]], str] | None = None,
) -> list[Any]:
    """``[fn(*args) for args in tasks]``, computed in parallel.

    Args:
        fn: a module-level function (it is sent to worker processes).
        tasks: the argument tuples.
        n_jobs: worker processes (``None``: one per core, at most one per task; ``1``: in this
            process). Ignored with ``scheduler``.
        scheduler: address of a Dask scheduler to run the tasks on a cluster.
        desc: what the tasks are, for the progress display.
        label: names a task for the progress display.

    Returns:
        The results, in the order of ``tasks``.

    Raises:
        InputDataError: ``scheduler`` is given but Dask's ``distributed`` is not installed.
    """
    tasks = list(tasks)
    name = label or (lambda args: str(args[0]))
    if scheduler:
        return _dask(fn, tasks, scheduler, desc, name)
    workers = min(len(tasks), available_cores()) if n_jobs is None else int(n_jobs)
    if workers < 0:
        workers = max(1, available_cores() + 1 + workers)
    if workers <= 1 or len(tasks) <= 1:
        return [fn(*args) for args in progress.steps(tasks, desc=desc, label=name)]
    from joblib import Parallel, delayed

    threads = max(1, available_cores() // workers)
    par = Parallel(n_jobs=workers, return_as="generator")
    results = par(delayed(_call)(fn, args, threads) for args in tasks)
    shown = progress.steps(results, desc=desc, total=len(tasks), label=lambda _: "")
    return list(shown)


def _dask(
    fn: Callable[..., Any],
    tasks: list[tuple[Any, ...]],
    scheduler: str,
    desc: str,
    name: Callable[[tuple[Any, ...]], str],
) -> list[Any]:
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise InputDataError(
            "--scheduler needs Dask's distributed package: pip install 'dask[distributed]'"
        ) from None
    with Client(scheduler) as client:
        futures = [client.submit(fn, *args, pure=False) for args in tasks]
        index = {f.key: i for i, f in enumerate(futures)}
        out: list[Any] = [None] * len(tasks)
        done = progress.steps(
            as_completed(futures), desc=desc, total=len(tasks), label=lambda _: ""
        )
        for fut in done:
            out[index[fut.key]] = fut.result()
        return out
