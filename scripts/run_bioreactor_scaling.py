"""One-shot end-to-end run with the seed project's flags.

    python scripts/run_bioreactor_scaling.py --data bioreactor_scales.csv --target C --model hybrid

is ``mfgp run`` (fit on the training volumes, predict the held-out largest volume, write
``outputs/metrics.json``, ``predictions.csv``, ``figures/``, ``models/`` and ``report.md``). A
``--data`` file that is not found relative to the working directory is looked up among the
data sets shipped with mfgp (:mod:`mfgp.datasets`). ``--model hybrid`` is the AR1
multi-fidelity model; on measurement-only data it builds its low-fidelity level from a
scaling-law surrogate fitted on the training volumes.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mfgp import datasets
from mfgp.cli import main


def _resolve_data(argv: list[str]) -> list[str]:
    argv = list(argv)
    if "--data" in argv:
        i = argv.index("--data") + 1
        if i < len(argv) and not Path(argv[i]).exists():
            name = Path(argv[i]).stem
            if name in datasets.names():
                argv[i] = str(datasets.file(name))
    return argv


if __name__ == "__main__":
    sys.exit(main(["run", *_resolve_data(sys.argv[1:])]))
