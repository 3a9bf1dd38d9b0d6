"""The data layer: a long-format CSV or DataFrame in, validated tensors and splits out.

One row per observation. Canonical columns and accepted aliases:

============  ==============================  ===============================================
column        aliases                         meaning
============  ==============================  ===============================================
volume_L      V, volume, scale_L              working volume in litres (> 0)
time_h        t, time                         culture time in hours (optional)
fidelity      source, level                   information source, low to high (optional)
run_id        batch, run                      groups the rows of one run (optional)
============  ==============================  ===============================================

The target is any column chosen by name; every other numeric column is an operating variable
(rpm, vvm, P/V, temperature, ...). A column ``scale`` holding small integers next to a volume
column is a scale index (1, 2, 3, ...), never litres: it is kept aside, not used as a feature.

Tensors: ``X`` is ``n x (d + 1)`` with columns ``log10_volume_L``, ``time_h`` (if present), the
operating variables, and the **fidelity index last** (0 = cheapest, highest = measured truth);
``Y`` is ``n x 1``. Both are float64 by default, on the chosen device.

Every problem that stops a fit raises :class:`~mfgp.exceptions.InputDataError` naming the
column, the offending rows and values, and a fix. Problems that do not (duplicate rows, values
far outside their column's scale, constant operating variables; empty rows and columns, which
are dropped) are issued as :class:`~mfgp.exceptions.DataWarning` and kept in
``ScaleUpData.validation_warnings``. Rows are named as
``rows [3, 4] (0-based data rows; file lines 5, 6)``.

Other layouts are read too: names with units (``Working volume [m3]``, ``Time (d)``, converted
to litres and hours), columns named explicitly (``volume_col=...``), decimal commas, Excel
workbooks, cheap levels held in columns beside the target (``low_fidelity_cols=[...]``) and
categorical factors (``categorical=[...]``); each conversion is kept in
``ScaleUpData.conversions``.

Modules: :mod:`~mfgp.data.reading` (files to a raw DataFrame), :mod:`~mfgp.data.columns`
(column roles, aliases, units), :mod:`~mfgp.data.levels` (fidelity levels, the wide layout),
:mod:`~mfgp.data.categories` (categorical factors), :mod:`~mfgp.data.layout` (the user's table
to the canonical frame), :mod:`~mfgp.data.validation` (the checks), :mod:`~mfgp.data.dataset`
(:class:`ScaleUpData`), :mod:`~mfgp.data.splits`.

>>> import pandas as pd
>>> df = pd.DataFrame({"V": [1.0, 1.0, 10.0, 10.0], "t": [0, 5, 0, 5], "C": [0.1, 2, 0.1, 1.5]})
>>> data = ScaleUpData(df, target="C")
>>> data.feature_names, tuple(data.X.shape)
(['log10_volume_L', 'time_h'], (4, 3))
>>> data.validation_warnings
[]
"""

from __future__ import annotations

from mfgp.data.dataset import ALIASES, DEFAULT_FIDELITY_ORDER, TOP_FIDELITY_NAME, ScaleUpData
from mfgp.data.harvest import endpoint_mask, run_labels
from mfgp.data.reading import read_table
from mfgp.data.splits import forward_chaining

__all__ = [
    "ALIASES",
    "DEFAULT_FIDELITY_ORDER",
    "TOP_FIDELITY_NAME",
    "ScaleUpData",
    "endpoint_mask",
    "forward_chaining",
    "read_table",
    "run_labels",
]
