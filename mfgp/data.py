"""The data layer: a long-format CSV or DataFrame in, validated tensors and splits out.

One row per observation (DESIGN.md, "Data convention"). Canonical columns and accepted aliases:

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

Every problem found in the input raises :class:`~mfgp.exceptions.InputDataError` naming the
column, the offending rows (0-based data rows; the file line is row + 2) or values, and a fix.

>>> import pandas as pd
>>> df = pd.DataFrame({"V": [1.0, 1.0, 10.0, 10.0], "t": [0, 5, 0, 5], "C": [0.1, 2, 0.1, 1.5]})
>>> data = ScaleUpData(df, target="C")
>>> data.feature_names, tuple(data.X.shape)
(['log10_volume_L', 'time_h'], (4, 3))
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from mfgp.exceptions import InputDataError
from mfgp.settings import resolve_device, resolve_dtype

__all__ = [
    "ALIASES",
    "DEFAULT_FIDELITY_ORDER",
    "TOP_FIDELITY_NAME",
    "ScaleUpData",
    "read_table",
]

log = logging.getLogger(__name__)

#: canonical column -> accepted names (matched exactly, then case-insensitively).
ALIASES: dict[str, tuple[str, ...]] = {
    "volume_L": ("volume_L", "V", "volume", "scale_L"),
    "time_h": ("time_h", "t", "time"),
    "fidelity": ("fidelity", "source", "level"),
    "run_id": ("run_id", "batch", "run"),
}

#: Fidelity names understood without an explicit order, from cheapest to measured truth.
DEFAULT_FIDELITY_ORDER: tuple[str, ...] = (
    "scaling_law",
    "correlation",
    "simplified_model",
    "simulator",
    "mechanistic",
    "measured",
    "measurement",
)

#: Name of the single level when the data have no fidelity column.
TOP_FIDELITY_NAME = "measured"

_NOT_CSV_SUFFIXES = {
    ".xlsx": "an Excel workbook",
    ".xls": "an Excel workbook",
    ".json": "a JSON file",
    ".parquet": "a Parquet file",
    ".pkl": "a pickle",
    ".pickle": "a pickle",
    ".feather": "a Feather file",
    ".h5": "an HDF5 file",
    ".hdf5": "an HDF5 file",
    ".npy": "a NumPy array",
    ".npz": "a NumPy archive",
    ".zip": "a zip archive",
    ".png": "an image",
    ".jpg": "an image",
    ".pdf": "a PDF",
}

_MAX_LISTED = 8  # offending rows/values quoted in one message


def _rows(index: Sequence[Any]) -> str:
    rows = list(index)
    head = ", ".join(str(r) for r in rows[:_MAX_LISTED])
    more = f" and {len(rows) - _MAX_LISTED} more" if len(rows) > _MAX_LISTED else ""
    return f"[{head}{more}]"


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV file (comma, semicolon or tab separated; UTF-8 or Latin-1).

    Raises:
        InputDataError: the file is missing, empty, binary, or not a CSV.
    """
    path = Path(path)
    if not path.exists():
        raise InputDataError(f"data file {path} does not exist; check the --data path")
    if not path.is_file():
        raise InputDataError(f"{path} is not a file; pass the path of a CSV file")
    kind = _NOT_CSV_SUFFIXES.get(path.suffix.lower())
    if kind is not None:
        raise InputDataError(
            f"{path} looks like {kind}, not a CSV; export it as CSV (for example "
            "pandas.read_excel(...).to_csv(...)) and pass that file"
        )
    raw = path.read_bytes()
    if not raw.strip():
        raise InputDataError(f"{path} is empty; it needs a header line and one row per observation")
    if b"\x00" in raw[:4096]:
        raise InputDataError(f"{path} is a binary file, not a CSV; pass a text CSV file")
    for encoding in ("utf-8", "latin-1"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    first = text.lstrip("\ufeff").splitlines()[0]
    sep = max((",", ";", "\t"), key=first.count)
    if first.count(sep) == 0:
        sep = ","
    try:
        frame = pd.read_csv(path, sep=sep, encoding=encoding, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise InputDataError(
            f"{path} could not be read as a CSV ({err}); check that every row has the same "
            "number of fields as the header"
        ) from err
    if frame.empty:
        raise InputDataError(f"{path} has a header but no data rows")
    return frame


def _match_alias(columns: Sequence[str], aliases: Sequence[str]) -> list[str]:
    exact = [c for c in columns if c in aliases]
    if exact:
        return exact
    lowered = {a.lower() for a in aliases}
    return [c for c in columns if c.lower() in lowered]


def _numeric(frame: pd.DataFrame, column: str, role: str) -> pd.Series:
    """Column as float64, raising on non-numeric text, NaN or inf (naming the rows)."""
    raw = frame[column]
    values = pd.to_numeric(raw, errors="coerce")
    bad_text = values.isna() & raw.notna()
    if bad_text.any():
        shown = [repr(v) for v in raw[bad_text].tolist()[:_MAX_LISTED]]
        raise InputDataError(
            f"{role} column {column!r} has non-numeric values at rows "
            f"{_rows(raw.index[bad_text])} (0-based data rows): {', '.join(shown)}; "
            "fix or remove those rows"
        )
    values = values.astype("float64")
    missing = ~np.isfinite(values.to_numpy())
    if missing.any():
        raise InputDataError(
            f"{role} column {column!r} has missing (NaN) or infinite values at rows "
            f"{_rows(raw.index[missing])} (0-based data rows); fill or remove those rows"
        )
    return values


class ScaleUpData:
    """Validated multi-scale, multi-fidelity data in the long format of DESIGN.md.

    Args:
        source: a CSV path or a DataFrame (never modified; a copy is kept).
        target: the response column (for example ``"C"``, ``"titer_gL"``).
        features: operating-variable columns to use (default: every other numeric column).
        ignore: columns to drop before validation (notes, dates, ...).
        fidelity_order: fidelity names (or integers) from cheapest to highest. Needed when the
            names are not in :data:`DEFAULT_FIDELITY_ORDER`; every name in the data must be
            listed. The fidelity index is the position in this order.
        yvar_column: optional column of known measurement-noise variances of the target.
        device: ``"cpu"`` (default) or ``"cuda"``.
        dtype: ``torch.float64`` (default) or ``torch.float32``.

    Attributes:
        frame: the canonical DataFrame (``volume_L``, ``time_h``, ``fidelity``, ``run_id``,
            target, operating variables, ``scale_index`` if any).
        X: ``n x (d + 1)`` inputs, fidelity index last.
        Y: ``n x 1`` target values.
        Yvar: ``n x 1`` noise variances or ``None``.
        feature_names: names of the ``d`` feature columns of ``X``.
        operating_names: the operating variables among them.
        fidelity_names: level names, cheapest first.
        target: the target column name.
    """

    def __init__(
        self,
        source: str | Path | pd.DataFrame,
        *,
        target: str,
        features: Sequence[str] | None = None,
        ignore: Sequence[str] = (),
        fidelity_order: Sequence[str | int] | None = None,
        yvar_column: str | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | str | None = None,
    ) -> None:
        self.source = str(source) if isinstance(source, (str, Path)) else "<DataFrame>"
        if isinstance(source, pd.DataFrame):
            raw = source.copy()
            if raw.empty:
                raise InputDataError("the DataFrame has no rows; it needs one row per observation")
        elif isinstance(source, (str, Path)):
            raw = read_table(source)
        else:
            raise InputDataError(
                f"data must be a CSV path or a pandas DataFrame, got {type(source).__name__}"
            )
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype)
        self._options = {
            "features": None if features is None else list(features),
            "ignore": list(ignore),
            "fidelity_order": None if fidelity_order is None else list(fidelity_order),
            "yvar_column": yvar_column,
        }
        self.target = target
        self.frame = self._canonicalise(raw, target, features, ignore, yvar_column)
        self.fidelity_names, codes = self._fidelity_levels(self.frame, fidelity_order)
        self.frame["fidelity"] = [self.fidelity_names[c] for c in codes]
        self._fidelity_codes = np.asarray(codes, dtype=np.int64)
        self._build_tensors()

    # ---------------------------------------------------------------- validation
    def _canonicalise(
        self,
        raw: pd.DataFrame,
        target: str,
        features: Sequence[str] | None,
        ignore: Sequence[str],
        yvar_column: str | None,
    ) -> pd.DataFrame:
        raw.columns = [str(c).strip() for c in raw.columns]
        dupes = raw.columns[raw.columns.duplicated()].tolist()
        if dupes:
            raise InputDataError(f"duplicated column names {dupes}; give each column one name")
        missing_ignored = [c for c in ignore if c not in raw.columns]
        if missing_ignored:
            raise InputDataError(
                f"columns to ignore {missing_ignored} are not in the data; "
                f"available columns: {list(raw.columns)}"
            )
        raw = raw.drop(columns=list(ignore))
        columns = list(raw.columns)
        if not isinstance(target, str) or not target:
            raise InputDataError("target must be the name of a column, for example --target C")
        if target not in columns:
            close = [c for c in columns if c.lower() == target.lower()]
            close = close or difflib.get_close_matches(target, columns, n=3)
            hint = f" Did you mean {close}?" if close else ""
            raise InputDataError(
                f"target column {target!r} does not exist; available columns: {columns}.{hint}"
            )

        rename: dict[str, str] = {}
        for canon, aliases in ALIASES.items():
            found = [c for c in _match_alias(columns, aliases) if c != target]
            if len(found) > 1:
                raise InputDataError(
                    f"columns {found} all name the {canon!r} column; keep one of them"
                )
            if found:
                rename[found[0]] = canon
        frame = raw.rename(columns=rename)

        scale_cols = [c for c in frame.columns if c.lower() == "scale" and c != target]
        if "volume_L" not in frame.columns:
            if scale_cols:
                raise InputDataError(
                    f"column {scale_cols[0]!r} looks like a scale index (1, 2, 3, ...), not a "
                    "volume in litres; add the working volume as a column 'volume_L' (or 'V'), "
                    "or rename the column to 'scale_L' if it holds litres"
                )
            raise InputDataError(
                f"no volume column; add the working volume in litres as 'volume_L' (aliases: "
                f"{', '.join(ALIASES['volume_L'][1:])}); columns found: {columns}"
            )
        if scale_cols:
            frame = frame.rename(columns={scale_cols[0]: "scale_index"})

        frame["volume_L"] = _numeric(frame, "volume_L", "volume")
        bad = frame["volume_L"] <= 0
        if bad.any():
            raise InputDataError(
                f"volume column 'volume_L' must be > 0 litres; rows {_rows(frame.index[bad])} "
                f"have {_rows(frame.loc[bad, 'volume_L'].tolist())}; fix or remove them"
            )
        if "time_h" in frame.columns:
            frame["time_h"] = _numeric(frame, "time_h", "time")
            bad = frame["time_h"] < 0
            if bad.any():
                raise InputDataError(
                    f"time column 'time_h' must be >= 0 hours; rows {_rows(frame.index[bad])} "
                    "are negative; fix or remove them"
                )
        frame[target] = _numeric(frame, target, "target")
        if yvar_column is not None:
            if yvar_column not in frame.columns:
                raise InputDataError(
                    f"noise-variance column {yvar_column!r} does not exist; "
                    f"available columns: {list(frame.columns)}"
                )
            frame[yvar_column] = _numeric(frame, yvar_column, "noise-variance")
            if (frame[yvar_column] < 0).any():
                raise InputDataError(f"noise variances in {yvar_column!r} must be >= 0")

        reserved = {"volume_L", "time_h", "fidelity", "run_id", "scale_index", target}
        if yvar_column is not None:
            reserved.add(yvar_column)
        if features is None:
            candidates = [c for c in frame.columns if c not in reserved]
            operating = []
            for c in candidates:
                coerced = pd.to_numeric(frame[c], errors="coerce")
                if coerced.notna().sum() == 0 and frame[c].notna().any():
                    raise InputDataError(
                        f"unknown column {c!r} is not numeric; operating variables must be "
                        f"numeric: drop the column, or pass ignore=[{c!r}] (--ignore {c})"
                    )
                operating.append(c)
        else:
            operating = list(features)
            unknown = [c for c in operating if c not in frame.columns]
            if unknown:
                raise InputDataError(
                    f"unknown feature columns {unknown}; available columns: "
                    f"{[c for c in frame.columns if c not in reserved]}"
                )
            clash = [c for c in operating if c in reserved]
            if clash:
                raise InputDataError(
                    f"{clash} cannot be operating variables (volume and time are always "
                    "inputs; the target and fidelity cannot be)"
                )
        for c in operating:
            frame[c] = _numeric(frame, c, "operating-variable")
        self.operating_names = operating
        self.yvar_column = yvar_column
        keep = [
            c
            for c in ("run_id", "fidelity", "scale_index", "volume_L", "time_h")
            if c in frame.columns
        ]
        keep += [target] + ([yvar_column] if yvar_column else []) + operating
        return frame[keep].reset_index(drop=True)

    @staticmethod
    def _fidelity_levels(
        frame: pd.DataFrame, order: Sequence[str | int] | None
    ) -> tuple[list[str], list[int]]:
        if "fidelity" not in frame.columns:
            if order is not None and len(order) > 1:
                raise InputDataError(
                    f"fidelity_order {list(order)} was given but the data have no fidelity "
                    "column; add a 'fidelity' column (aliases: source, level)"
                )
            name = str(order[0]) if order else TOP_FIDELITY_NAME
            return [name], [0] * len(frame)
        raw = frame["fidelity"]
        if raw.isna().any():
            raise InputDataError(
                f"fidelity column has empty values at rows {_rows(raw.index[raw.isna()])}; "
                "give every row a fidelity name"
            )
        values = raw.astype(str).str.strip()
        present = list(dict.fromkeys(values))
        if order is not None:
            names = [str(o).strip() for o in order]
            if len(set(names)) != len(names):
                raise InputDataError(f"fidelity_order {names} lists a name twice")
        elif all(v.lstrip("-").isdigit() for v in present):
            ints = sorted(int(v) for v in present)
            if ints[0] < 0:
                raise InputDataError("integer fidelity levels must be >= 0")
            names = [str(i) for i in range(ints[-1] + 1)]
        elif all(v in DEFAULT_FIDELITY_ORDER for v in present):
            names = [n for n in DEFAULT_FIDELITY_ORDER if n in present]
        else:
            unknown = [v for v in present if v not in DEFAULT_FIDELITY_ORDER]
            raise InputDataError(
                f"unknown fidelity names {unknown}; give their order from cheapest to measured "
                "truth with fidelity_order=[...] (--fidelity-order a,b,c), or use the known "
                f"names {list(DEFAULT_FIDELITY_ORDER)}"
            )
        unknown = [v for v in present if v not in names]
        if unknown:
            rows = raw.index[values.isin(unknown)]
            raise InputDataError(
                f"unknown fidelity names {unknown} at rows {_rows(rows)}; fidelity_order "
                f"lists {names}: add them to the order or fix the rows"
            )
        lookup = {n: i for i, n in enumerate(names)}
        return names, [lookup[v] for v in values]

    # ------------------------------------------------------------------ tensors
    def _build_tensors(self) -> None:
        self.feature_names = ["log10_volume_L"]
        if "time_h" in self.frame.columns:
            self.feature_names.append("time_h")
        self.feature_names += self.operating_names
        self.X = self.encode(self.frame, fidelity=self._fidelity_codes)
        self.Y = torch.as_tensor(
            self.frame[self.target].to_numpy(dtype=np.float64, copy=True),
            dtype=self.dtype,
            device=self.device,
        ).unsqueeze(-1)
        self.Yvar = (
            None
            if self.yvar_column is None
            else torch.as_tensor(
                self.frame[self.yvar_column].to_numpy(dtype=np.float64, copy=True),
                dtype=self.dtype,
                device=self.device,
            ).unsqueeze(-1)
        )

    def encode(
        self, frame: pd.DataFrame, *, fidelity: int | str | Sequence[int] | np.ndarray | None = None
    ) -> Tensor:
        """Build model inputs ``X`` (``n x (d + 1)``, fidelity index last) for new points.

        Args:
            frame: rows with ``volume_L`` (or an alias), ``time_h`` if the data have time, and
                the operating variables.
            fidelity: level of every row (index or name; default: the top level), or one index
                per row. Ignored where ``frame`` has a ``fidelity`` column and this is None.

        >>> import pandas as pd
        >>> df = pd.DataFrame({"V": [1.0, 10.0], "t": [1.0, 1.0], "C": [1.0, 2.0]})
        >>> ScaleUpData(df, target="C").encode(pd.DataFrame({"V": [1000.0], "t": [5.0]}))
        tensor([[3., 5., 0.]], dtype=torch.float64)
        """
        frame = frame.rename(
            columns={
                c: canon
                for canon, aliases in ALIASES.items()
                for c in _match_alias(list(frame.columns), aliases)
            }
        )
        needed = ["volume_L"] + self.feature_names[1:]
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise InputDataError(
                f"new points lack the columns {missing}; they need {needed} like the data"
            )
        cols = [np.log10(_numeric(frame, "volume_L", "volume").to_numpy())]
        if (frame["volume_L"].astype(float) <= 0).any():
            raise InputDataError("volume_L must be > 0 litres")
        cols += [_numeric(frame, c, "feature").to_numpy() for c in needed[1:]]
        if fidelity is None and "fidelity" in frame.columns:
            fidelity = [self.fidelity_index(v) for v in frame["fidelity"]]
        if fidelity is None:
            fid = np.full(len(frame), self.top_fidelity, dtype=np.float64)
        elif isinstance(fidelity, (int, np.integer, str)):
            fid = np.full(len(frame), self.fidelity_index(fidelity), dtype=np.float64)
        else:
            fid = np.asarray(fidelity, dtype=np.float64)
            if fid.shape != (len(frame),):
                raise InputDataError(f"fidelity needs one value per row ({len(frame)})")
        cols.append(fid)
        return torch.as_tensor(np.stack(cols, axis=-1), dtype=self.dtype, device=self.device)

    def fidelity_index(self, level: int | str) -> int:
        """Index of a fidelity given by name or index; raises on unknown levels."""
        if isinstance(level, (int, np.integer)) and not isinstance(level, bool):
            if 0 <= int(level) < self.n_fidelities:
                return int(level)
        elif str(level) in self.fidelity_names:
            return self.fidelity_names.index(str(level))
        raise InputDataError(
            f"unknown fidelity {level!r}; the levels are {self.fidelity_names} "
            f"(indices 0..{self.n_fidelities - 1})"
        )

    # --------------------------------------------------------------- properties
    def __len__(self) -> int:
        return len(self.frame)

    def __repr__(self) -> str:
        return (
            f"ScaleUpData(n={len(self)}, target={self.target!r}, "
            f"features={self.feature_names}, fidelities={self.fidelity_names}, "
            f"volumes_L={self.volumes().tolist()})"
        )

    @property
    def n_fidelities(self) -> int:
        return len(self.fidelity_names)

    @property
    def top_fidelity(self) -> int:
        """Index of the highest fidelity (the measured truth)."""
        return self.n_fidelities - 1

    @property
    def fidelity(self) -> np.ndarray:
        """Fidelity index of every row."""
        return self._fidelity_codes

    @property
    def volume_L(self) -> np.ndarray:
        """Volume of every row, litres."""
        return self.frame["volume_L"].to_numpy()

    def volumes(self, fidelity: int | str | None = None) -> np.ndarray:
        """Sorted distinct volumes (litres) of one level (default: the top level)."""
        level = self.top_fidelity if fidelity is None else self.fidelity_index(fidelity)
        return np.unique(self.volume_L[self._fidelity_codes == level])

    def summary(self) -> pd.DataFrame:
        """Rows, runs and target range per fidelity and volume."""
        aggs: dict[str, tuple[str, str]] = {"rows": (self.target, "size")}
        if "run_id" in self.frame.columns:
            aggs["runs"] = ("run_id", "nunique")
        aggs["target_min"] = (self.target, "min")
        aggs["target_max"] = (self.target, "max")
        out = self.frame.groupby(["fidelity", "volume_L"], sort=False).agg(**aggs)
        order = {n: i for i, n in enumerate(self.fidelity_names)}
        out = out.reset_index()
        out["_o"] = out["fidelity"].map(order)
        return out.sort_values(["_o", "volume_L"]).drop(columns="_o").reset_index(drop=True)

    # ------------------------------------------------------------------- splits
    def subset(self, mask: np.ndarray | Sequence[bool]) -> ScaleUpData:
        """A new ScaleUpData with the rows where ``mask`` is true (same levels and columns)."""
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (len(self),):
            raise InputDataError(f"mask needs one boolean per row ({len(self)})")
        if not mask.any():
            raise InputDataError("the selection is empty; no rows left")
        opts = dict(self._options)
        opts["fidelity_order"] = list(self.fidelity_names)
        opts["features"] = list(self.operating_names)
        opts["ignore"] = []
        return ScaleUpData(
            self.frame.loc[mask].reset_index(drop=True),
            target=self.target,
            device=self.device,
            dtype=self.dtype,
            **opts,
        )

    def to(
        self, device: torch.device | str | None = None, dtype: torch.dtype | None = None
    ) -> ScaleUpData:
        """A copy on another device and/or dtype."""
        out = self.subset(np.ones(len(self), dtype=bool))
        out.device = resolve_device(device) if device is not None else self.device
        out.dtype = resolve_dtype(dtype) if dtype is not None else self.dtype
        out._build_tensors()
        return out

    def _need_volumes(self, k: int, what: str) -> np.ndarray:
        vols = self.volumes()
        if len(vols) < 2 or len(vols) <= k:
            raise InputDataError(
                f"{what} needs two or more distinct volumes at the top fidelity "
                f"{self.fidelity_names[-1]!r} (at least {k + 1} to hold out {k}); the data have "
                f"{len(vols)}: {vols.tolist()} L. Add measurements at another scale"
            )
        return vols

    def holdout_largest(
        self, k: int = 1, *, keep_lower_fidelities: bool = True
    ) -> tuple[ScaleUpData, ScaleUpData]:
        """Hold out the top-fidelity rows at the ``k`` largest measured volumes (extrapolation).

        Args:
            k: number of largest volumes to hold out.
            keep_lower_fidelities: keep lower-fidelity rows (cheap computed predictions) at the
                held-out volumes in the training set. They are what lets a multi-fidelity model
                extrapolate; they never contain measurements.

        Returns:
            ``(train, test)``; ``test`` holds only top-fidelity rows.
        """
        if not isinstance(k, (int, np.integer)) or k < 1:
            raise InputDataError(f"k (--holdout-largest) must be an integer >= 1, got {k!r}")
        vols = self._need_volumes(k, "extrapolation (holding out the largest volumes)")
        held = vols[-k:]
        in_held = np.isin(self.volume_L, held)
        top = self._fidelity_codes == self.top_fidelity
        test = in_held & top
        train = ~test if keep_lower_fidelities else ~in_held
        return self.subset(train), self.subset(test)

    def leave_one_scale_out(self) -> Iterator[tuple[float, ScaleUpData, ScaleUpData]]:
        """Yield ``(volume, train, test)``, holding out the top-fidelity rows of each volume."""
        vols = self._need_volumes(1, "leave-one-scale-out")
        top = self._fidelity_codes == self.top_fidelity
        for v in vols:
            test = top & (self.volume_L == v)
            yield float(v), self.subset(~test), self.subset(test)

    def group_split(
        self, n_splits: int | None = None
    ) -> Iterator[tuple[list[Any], ScaleUpData, ScaleUpData]]:
        """Yield ``(run_ids, train, test)`` folds over the top-fidelity runs (grouped by
        ``run_id``): leave one run out, or ``n_splits`` folds of whole runs."""
        if "run_id" not in self.frame.columns:
            raise InputDataError(
                "a grouped split needs a 'run_id' column (aliases: batch, run) naming each run"
            )
        top = self._fidelity_codes == self.top_fidelity
        runs = list(dict.fromkeys(self.frame.loc[top, "run_id"]))
        if len(runs) < 2:
            raise InputDataError(f"a grouped split needs two or more runs, found {runs}")
        n = len(runs) if n_splits is None else int(n_splits)
        if not 2 <= n <= len(runs):
            raise InputDataError(f"n_splits must be between 2 and {len(runs)}, got {n_splits}")
        for fold in np.array_split(np.arange(len(runs)), n):
            ids = [runs[i] for i in fold]
            test = top & self.frame["run_id"].isin(ids).to_numpy()
            yield ids, self.subset(~test), self.subset(test)

    # --------------------------------------------------------- standardisation
    def standardizers(self) -> tuple[Any, Any]:
        """Fitted, reversible BoTorch transforms for this data set.

        Returns:
            ``(input_transform, outcome_transform)``: an ``InputStandardize`` over the feature
            columns (the fidelity index is left as it is) and a ``Standardize`` of ``Y`` with
            statistics pooled over all fidelity levels (standardising with the top level alone
            drives AR1 fits to rho ~ 0; see DESIGN.md). Apply with ``tf(X)`` / ``ot(Y)`` and
            revert with ``tf.untransform`` / ``ot.untransform``.
        """
        from botorch.models.transforms.input import InputStandardize
        from botorch.models.transforms.outcome import Standardize

        d = self.X.shape[-1]
        tf = InputStandardize(d=d, indices=list(range(d - 1))).to(self.X)
        tf.train()
        tf(self.X)
        tf.eval()
        ot = Standardize(m=1).to(self.Y)
        ot.train()
        ot(self.Y)
        ot.eval()
        return tf, ot
