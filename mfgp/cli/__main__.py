"""``python -m mfgp.cli``: the ``mfgp`` command."""

from __future__ import annotations

import sys

from mfgp.cli import main

if __name__ == "__main__":
    sys.exit(main())
