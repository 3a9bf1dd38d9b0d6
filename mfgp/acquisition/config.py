"""User settings of a search space: ``NAME=VALUE`` lists (costs, scales) and the TOML file."""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mfgp.exceptions import InputDataError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 needs the tomli backport (pip install tomli)
    import tomli as tomllib

__all__ = ["load_config", "parse_assignments"]


def parse_assignments(text: str | Mapping[str, Any] | None, what: str) -> dict[str, float]:
    """Parse ``"lab=1,pilot=20"`` (or a mapping) into ``{name: positive float}``.

    Args:
        text: the comma-separated ``NAME=VALUE`` pairs, or a mapping, or None (empty result).
        what: what the values are (``"costs"``, ``"scales"``), for error messages.

    Raises:
        InputDataError: empty names, missing ``=``, non-numeric or non-positive values, or a
            name given twice.

    >>> parse_assignments("lab=1, pilot=20", "costs")
    {'lab': 1.0, 'pilot': 20.0}
    """
    if text is None:
        return {}
    if isinstance(text, Mapping):
        items = [(str(k), v) for k, v in text.items()]
    else:
        items = []
        for part in [p.strip() for p in str(text).split(",") if p.strip()]:
            if part.count("=") != 1:
                raise InputDataError(
                    f"bad {what} entry {part!r}: write NAME=VALUE pairs separated by commas, "
                    f"for example lab=1,pilot=20"
                )
            name, value = (s.strip() for s in part.split("="))
            items.append((name, value))
    out: dict[str, float] = {}
    for name, value in items:
        if not name:
            raise InputDataError(f"bad {what}: an entry has an empty name ({text!r})")
        if name in out:
            raise InputDataError(f"bad {what}: {name!r} is given twice")
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise InputDataError(
                f"bad {what} value {value!r} for {name!r}: it must be a positive number"
            ) from None
        if not (math.isfinite(v) and v > 0):
            raise InputDataError(f"bad {what} value {value!r} for {name!r}: it must be > 0")
        out[name] = v
    if not out:
        raise InputDataError(f"no {what} given: write NAME=VALUE pairs, e.g. lab=1,pilot=20")
    return out


def load_config(path: str | Path) -> dict[str, Any]:
    """Read a search-space TOML file (see :meth:`SearchSpace.from_data` for the keys).

    Example file::

        target_volume_L = 100000
        [costs]
        lab = 1
        pilot = 20
        [scales]            # litres of each named option (default: from the data)
        lab = 2
        pilot = 200
        [bounds]            # operating variables (default: the data's range)
        feed_gLh = [3.0, 12.0]
        [fixed]             # default: time_h = the end of the run
        time_h = 36
        [constraints]       # see EngineeringConstraints
        max_tip_speed = 7.0
        our_per_feed = 16.0

    Raises:
        InputDataError: missing file or invalid TOML.
    """
    path = Path(path)
    if not path.is_file():
        raise InputDataError(f"config file {path} does not exist; check the --config path")
    try:
        return tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise InputDataError(f"{path} is not valid TOML: {err}") from err
