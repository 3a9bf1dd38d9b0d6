"""Runs and their end points (harvest), the numbers a bioprocess engineer reports.

A *run* is one cultivation: the rows sharing a ``run_id``, or, without that column, the rows of
one level at one volume and one operating point (every operating variable equal). Its *end
point* is its last time point (the harvest); in end-point data (no time column) every row is
an end point. Metrics and figures at harvest are computed on the end-point rows of the top
level (the measurements).

>>> import pandas as pd
>>> from mfgp.data import ScaleUpData
>>> df = pd.DataFrame({"V": [1.0, 1.0, 10.0, 10.0], "t": [0, 5, 0, 5], "C": [0.1, 2, 0.1, 1.5]})
>>> endpoint_mask(ScaleUpData(df, target="C")).tolist()
[False, True, False, True]
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from mfgp.data.dataset import ScaleUpData

__all__ = ["endpoint_mask", "run_labels"]


def run_labels(data: ScaleUpData) -> np.ndarray:
    """A run label per row: ``run_id`` where given, else level, volume and operating point
    (``"measured 1000 L rpm=150 vvm=1"``), so that rows of one cultivation share a label."""
    frame = data.frame
    if "run_id" in frame.columns:
        return (frame["fidelity"].astype(str) + "/" + frame["run_id"].astype(str)).to_numpy()
    parts = [frame["fidelity"].astype(str), frame["volume_L"].map(lambda v: f"{v:g} L")]
    parts += [frame[c].map(lambda v, c=c: f"{c}={v:g}") for c in data.operating_names]
    return pd.concat(parts, axis=1).agg(" ".join, axis=1).to_numpy()


def endpoint_mask(data: ScaleUpData, *, top_only: bool = True) -> np.ndarray:
    """Rows that are the end point (last time point) of their run; every row of end-point data.

    Args:
        data: the data set.
        top_only: only rows of the top level (the measurements).

    Returns:
        A boolean array, one entry per row.
    """
    frame = data.frame
    keep = np.ones(len(frame), dtype=bool)
    if "time_h" in frame.columns:
        labels = run_labels(data)
        last = pd.Series(frame["time_h"].to_numpy()).groupby(labels).transform("max").to_numpy()
        keep = frame["time_h"].to_numpy() == last
    if top_only:
        keep &= data.fidelity == data.top_fidelity
    return keep
