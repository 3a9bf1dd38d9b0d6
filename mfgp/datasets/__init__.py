"""The data sets shipped with mfgp, found through :mod:`importlib.resources`.

They travel inside the installed package, so they are there after ``pip install mfgp`` as well
as in a source checkout. Each is described in this folder's ``README.md`` (columns, units, how it
was made):

- ``bioreactor_multifidelity``: a simulated fed-batch in long format, measured at 1 L to 50 m3,
  with two cheap levels (a scaling law and a simplified model, to 100 m3); targets
  ``titer_gL`` and ``biomass_gL``.
- ``bioreactor_scales``: a small seed-format time-course set (columns ``scale, V, t, C``; biomass
  at 2 L to 20 m3).
- ``cho_endpoint``: end-point titer of an independent CHO fed-batch process, one row per run,
  with column names as engineers write them (``Working volume (L)``, ``Agitation (rpm)``) and a
  text factor (``cell_line``).

Example:
    >>> from mfgp import datasets
    >>> datasets.names()
    ['bioreactor_multifidelity', 'bioreactor_scales', 'cho_endpoint']
    >>> datasets.load("bioreactor_scales").columns.tolist()
    ['scale', 'V', 't', 'C']
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd

from mfgp.exceptions import InputDataError

__all__ = ["DESCRIPTIONS", "TARGETS", "file", "load", "names"]

#: one line per shipped data set.
DESCRIPTIONS = {
    "bioreactor_multifidelity": "simulated fed-batch, measured at 1 L to 50 m3, two cheap levels "
    "(scaling_law, simplified_model) to 100 m3, long format",
    "bioreactor_scales": "seed-format biomass time courses at 2 L to 20 m3 "
    "(columns scale, V, t, C)",
    "cho_endpoint": "end-point titer of an independent CHO fed-batch process, 2 L to 50 m3, "
    "one row per run, unit-bearing column names, a cell_line factor",
}

#: the target column of each data set, and the options its README uses with it.
TARGETS = {
    "bioreactor_multifidelity": ("titer_gL", "--ignore biomass_gL"),
    "bioreactor_scales": ("C", ""),
    "cho_endpoint": ("titer_gL", "--categorical cell_line"),
}


def names() -> list[str]:
    """The shipped data sets, sorted."""
    return sorted(DESCRIPTIONS)


def file(name: str) -> Path:
    """The path of a shipped data set's CSV inside the installed package (read it, do not edit
    it: copy it first, e.g. with ``mfgp example NAME --out my.csv``).

    Raises:
        InputDataError: an unknown name (the message lists the shipped ones).
    """
    if name not in DESCRIPTIONS:
        raise InputDataError(
            f"no shipped data set {name!r}; the shipped ones are {', '.join(names())}"
        )
    # pip installs packages as folders, never zipped, so the resource is a real file
    return Path(str(resources.files(__name__) / f"{name}.csv"))


def load(name: str) -> pd.DataFrame:
    """A shipped data set as a DataFrame (the CSV as it is, nothing encoded)."""
    return pd.read_csv(file(name))
