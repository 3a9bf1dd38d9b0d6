"""The jobs behind the command line: library functions that read the data, fit, predict and
write a whole output folder.

- :func:`run` (``mfgp run``): back-test: hold out the largest measured volumes, fit on the rest,
  compare the models there, harvest (end-point) metrics first;
- :func:`predict` (``mfgp predict``): fit on every row and predict the asked volumes and
  conditions, with bands, the probability of meeting a specification and warnings wherever
  the request leaves the data.

:mod:`mfgp.cli` is a thin argparse layer over these.
"""

from __future__ import annotations

from mfgp.jobs.common import format_table, resolve_model_names, resolve_model_options
from mfgp.jobs.run import RunResult, run

__all__ = [
    "RunResult",
    "format_table",
    "resolve_model_names",
    "resolve_model_options",
    "run",
]
