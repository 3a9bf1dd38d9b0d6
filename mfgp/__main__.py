"""``python -m mfgp``: the ``mfgp`` command line."""

import sys

from mfgp.cli import main

sys.exit(main())
