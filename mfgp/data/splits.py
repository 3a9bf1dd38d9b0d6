"""Train/test splits of a :class:`~mfgp.data.ScaleUpData` by scale or by run.

Each split holds out top-fidelity rows (measurements) only; lower-fidelity rows (cheap computed
predictions) stay in training unless asked otherwise. The parts are new ScaleUpData objects
with the parent's levels, columns and validation warnings (not issued again).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from mfgp.exceptions import InputDataError

if TYPE_CHECKING:
    from mfgp.data.dataset import ScaleUpData

__all__ = [
    "forward_chaining",
    "group_split",
    "holdout_largest",
    "leave_one_scale_out",
    "need_volumes",
    "thin_levels",
]

log = logging.getLogger(__name__)


def need_volumes(data: ScaleUpData, k: int, what: str) -> np.ndarray:
    """The distinct top-fidelity volumes, raising unless there are two or more and over ``k``.

    Args:
        data: the data set.
        k: number of volumes to hold out.
        what: the split, for the message.
    """
    vols = data.volumes()
    if len(vols) < 2 or len(vols) <= k:
        raise InputDataError(
            f"{what} needs two or more distinct volumes at the top fidelity "
            f"{data.fidelity_names[-1]!r} (at least {k + 1} to hold out {k}); the data have "
            f"{len(vols)}: {vols.tolist()} L. Add measurements at another scale"
        )
    return vols


def holdout_largest(
    data: ScaleUpData, k: int = 1, *, keep_lower_fidelities: bool = True
) -> tuple[ScaleUpData, ScaleUpData]:
    """Hold out the top-fidelity rows at the ``k`` largest measured volumes (extrapolation).

    Args:
        data: the data set.
        k: number of largest volumes to hold out.
        keep_lower_fidelities: keep lower-fidelity rows (cheap computed predictions) at the
            held-out volumes in the training set. They are what lets a multi-fidelity model
            extrapolate; they never contain measurements.

    Returns:
        ``(train, test)``; ``test`` holds only top-fidelity rows.
    """
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise InputDataError(f"k (--holdout-largest) must be an integer >= 1, got {k!r}")
    vols = need_volumes(data, k, "extrapolation (holding out the largest volumes)")
    held = vols[-k:]
    in_held = np.isin(data.volume_L, held)
    top = data.fidelity == data.top_fidelity
    test = in_held & top
    train = ~test if keep_lower_fidelities else ~in_held
    return data.subset(train), data.subset(test)


def forward_chaining(
    data: ScaleUpData, *, min_train_volumes: int = 2
) -> Iterator[tuple[float, ScaleUpData, ScaleUpData]]:
    """Forward-chaining validation over volumes: train on the measured volumes up to ``V_k``,
    test at the next one, ``V_(k+1)``, for each ``k`` with at least ``min_train_volumes``
    training volumes (the extrapolation a scale-up model is used for, one step at a time; a
    model is never scored on a volume it saw). Lower-fidelity rows (computed predictions) stay
    in every training set, at every volume.

    Yields:
        ``(test volume, train, test)``; ``test`` holds only top-fidelity rows.

    Raises:
        InputDataError: fewer than ``min_train_volumes + 1`` measured volumes.
    """
    vols = need_volumes(data, min_train_volumes, "forward-chaining validation over volumes")
    top = data.fidelity == data.top_fidelity
    for k in range(min_train_volumes, len(vols)):
        test = top & (data.volume_L == vols[k])
        later = top & (data.volume_L > vols[k])
        yield float(vols[k]), data.subset(~test & ~later), data.subset(test)


def leave_one_scale_out(data: ScaleUpData) -> Iterator[tuple[float, ScaleUpData, ScaleUpData]]:
    """Yield ``(volume, train, test)``, holding out the top-fidelity rows of each volume."""
    vols = need_volumes(data, 1, "leave-one-scale-out")
    top = data.fidelity == data.top_fidelity
    for v in vols:
        test = top & (data.volume_L == v)
        yield float(v), data.subset(~test), data.subset(test)


def group_split(
    data: ScaleUpData, n_splits: int | None = None
) -> Iterator[tuple[list[Any], ScaleUpData, ScaleUpData]]:
    """Yield ``(run_ids, train, test)`` folds over the top-fidelity runs (grouped by
    ``run_id``): leave one run out, or ``n_splits`` folds of whole runs.

    Args:
        data: the data set (with a ``run_id`` column).
        n_splits: number of folds (default: one per run).
    """
    if "run_id" not in data.frame.columns:
        raise InputDataError(
            "a grouped split needs a 'run_id' column (aliases: batch, run) naming each run"
        )
    top = data.fidelity == data.top_fidelity
    runs = list(dict.fromkeys(data.frame.loc[top, "run_id"]))
    if len(runs) < 2:
        raise InputDataError(f"a grouped split needs two or more runs, found {runs}")
    n = len(runs) if n_splits is None else int(n_splits)
    if not 2 <= n <= len(runs):
        raise InputDataError(f"n_splits must be between 2 and {len(runs)}, got {n_splits}")
    for fold in np.array_split(np.arange(len(runs)), n):
        ids = [runs[i] for i in fold]
        test = top & data.frame["run_id"].isin(ids).to_numpy()
        yield ids, data.subset(~test), data.subset(test)


def thin_levels(data: ScaleUpData, max_rows: int, *, seed: int = 0) -> ScaleUpData:
    """Keep at most ``max_rows`` rows of each fidelity level below the top one.

    An exact GP's memory grows with the square of its rows, so a cheap level of 100,000
    simulator rows cannot be fitted exactly on a workstation; a few thousand rows of a smooth
    code usually carry the same information. The rows kept are a uniform random subset drawn
    with ``seed`` (``numpy.random.default_rng``), in their original order; the top level (the
    measurements) is never thinned.

    Raises:
        InputDataError: ``max_rows`` is not a whole number >= 1.

    >>> import pandas as pd
    >>> from mfgp.data import ScaleUpData
    >>> df = pd.DataFrame({"V": [1.0] * 6 + [10.0], "fidelity": [0] * 6 + [1], "C": range(7)})
    >>> len(ScaleUpData(df, target="C").thin_levels(2))
    3
    """
    if not isinstance(max_rows, (int, np.integer)) or isinstance(max_rows, bool) or max_rows < 1:
        raise InputDataError(
            f"max_rows (--max-rows-per-level) must be a whole number >= 1, got {max_rows!r}"
        )
    rng = np.random.default_rng(seed)
    keep = np.ones(len(data), dtype=bool)
    thinned = []
    for level in range(data.top_fidelity):
        rows = np.flatnonzero(data.fidelity == level)
        if len(rows) > max_rows:
            drop = np.setdiff1d(rows, rng.choice(rows, size=max_rows, replace=False))
            keep[drop] = False
            thinned.append(f"{data.fidelity_names[level]!r} {len(rows):,} -> {max_rows:,}")
    if not thinned:
        return data
    log.info("thinned the cheap levels (rows): %s", ", ".join(thinned))
    return data.subset(keep)
