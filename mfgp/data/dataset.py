"""ScaleUpData: a validated table as canonical columns, fidelity levels and tensors.

The canonical columns and their aliases are in :data:`ALIASES`; the checks are in
:mod:`mfgp.data.validation` and the splits in :mod:`mfgp.data.splits`.
"""

from __future__ import annotations

import difflib
import logging
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from mfgp.data import splits
from mfgp.data.reading import read_table_with_lines
from mfgp.data.validation import (
    RowNames,
    blank_cells_to_nan,
    check_magnitudes,
    check_minimum,
    check_unique_names,
    constant_columns,
    drop_empty_columns,
    drop_separator_rows,
    duplicate_rows,
    far_outside_scale,
    ignore_hint,
    missing_volume,
    numeric_column,
    operating_columns,
)
from mfgp.exceptions import DataWarning, InputDataError
from mfgp.settings import resolve_device, resolve_dtype

__all__ = ["ALIASES", "DEFAULT_FIDELITY_ORDER", "TOP_FIDELITY_NAME", "ScaleUpData"]

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

_NO_ROWS = RowNames()  # names the rows of new points (no file)


def _match_alias(columns: Sequence[str], aliases: Sequence[str]) -> list[str]:
    exact = [c for c in columns if c in aliases]
    if exact:
        return exact
    lowered = {a.lower() for a in aliases}
    return [c for c in columns if c.lower() in lowered]


class ScaleUpData:
    """Validated multi-scale, multi-fidelity data in the long format (one row per observation).

    Problems that stop a fit raise :class:`~mfgp.exceptions.InputDataError`. Problems that do
    not (duplicate rows, values far outside their column's scale, constant operating variables,
    empty rows and columns, which are dropped) are issued as
    :class:`~mfgp.exceptions.DataWarning` and kept in :attr:`validation_warnings`.

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
        validation_warnings: the messages of the warnings issued at load (kept, not issued
            again, by :meth:`subset`, :meth:`to` and the splits).
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
        self._load(
            source,
            target=target,
            features=features,
            ignore=ignore,
            fidelity_order=fidelity_order,
            yvar_column=yvar_column,
            device=device,
            dtype=dtype,
            inherited=None,
        )

    def _load(
        self,
        source: str | Path | pd.DataFrame,
        *,
        target: str,
        features: Sequence[str] | None,
        ignore: Sequence[str],
        fidelity_order: Sequence[str | int] | None,
        yvar_column: str | None,
        device: torch.device | str | None,
        dtype: torch.dtype | str | None,
        inherited: Sequence[str] | None,
    ) -> None:
        """Validate ``source`` and build the tensors.

        ``inherited`` is None for data given by the user: the warnings are issued (from the
        caller of ``ScaleUpData(...)``) and kept. Derived subsets pass their parent's warnings
        instead; they are kept, the checks that only warn are skipped, nothing is issued.
        """
        self.source = str(source) if isinstance(source, (str, Path)) else "<DataFrame>"
        lines: tuple[int, ...] | None = None
        if isinstance(source, pd.DataFrame):
            raw = source.copy()
            if raw.empty:
                raise InputDataError("the DataFrame has no rows; it needs one row per observation")
            raw = raw.reset_index(drop=True)
        elif isinstance(source, (str, Path)):
            raw, file_lines = read_table_with_lines(source)
            lines = tuple(file_lines)
        else:
            raise InputDataError(
                f"data must be a CSV path or a pandas DataFrame, got {type(source).__name__}"
            )
        rows = RowNames(lines)
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype)
        self._options = {
            "features": None if features is None else list(features),
            "ignore": list(ignore),
            "fidelity_order": None if fidelity_order is None else list(fidelity_order),
            "yvar_column": yvar_column,
        }
        self.target = target
        frame, messages = self._canonicalise(
            raw, target, features, ignore, yvar_column, rows, check=inherited is None
        )
        self.fidelity_names, codes = self._fidelity_levels(frame, fidelity_order, rows)
        frame["fidelity"] = [self.fidelity_names[c] for c in codes]
        self.frame = frame.reset_index(drop=True)
        self._fidelity_codes = np.asarray(codes, dtype=np.int64)
        self._build_tensors()
        self.validation_warnings: list[str] = messages if inherited is None else list(inherited)
        if inherited is None:
            for message in messages:
                warnings.warn(message, DataWarning, stacklevel=3)

    @classmethod
    def _derived(cls, parent: ScaleUpData, frame: pd.DataFrame) -> ScaleUpData:
        """A ScaleUpData of some of ``parent``'s canonical rows: same levels, columns, device,
        dtype and validation warnings (not issued again)."""
        out = cls.__new__(cls)
        out._load(
            frame,
            target=parent.target,
            features=list(parent.operating_names),
            ignore=[],
            fidelity_order=list(parent.fidelity_names),
            yvar_column=parent.yvar_column,
            device=parent.device,
            dtype=parent.dtype,
            inherited=parent.validation_warnings,
        )
        return out

    # ---------------------------------------------------------------- validation
    def _canonicalise(
        self,
        raw: pd.DataFrame,
        target: str,
        features: Sequence[str] | None,
        ignore: Sequence[str],
        yvar_column: str | None,
        rows: RowNames,
        *,
        check: bool,
    ) -> tuple[pd.DataFrame, list[str]]:
        """The canonical frame (rows keep their original numbers) and the warning messages.

        ``check`` False (for a derived subset, whose frame is canonical already) skips the
        checks that only warn and the clean-up of empty cells, rows and columns: a subset keeps
        its parent's columns, even one left empty in the subset.
        """
        messages: list[str] = []
        raw.columns = [str(c).strip() for c in raw.columns]
        check_unique_names(list(raw.columns))
        missing_ignored = [c for c in ignore if c not in raw.columns]
        if missing_ignored:
            raise InputDataError(
                f"columns to ignore {missing_ignored} are not in the data; "
                f"available columns: {list(raw.columns)}"
            )
        if not isinstance(target, str) or not target:
            raise InputDataError("target must be the name of a column, for example --target C")
        if check:
            raw = blank_cells_to_nan(raw)
            raw, found = drop_separator_rows(raw, rows)
            messages += found
            messages += duplicate_rows(raw, rows)
        raw = raw.drop(columns=list(ignore))
        columns = list(raw.columns)
        if target not in columns:
            close = [c for c in columns if c.lower() == target.lower()]
            close = close or difflib.get_close_matches(target, columns, n=3)
            hint = f" Did you mean {close}?" if close else ""
            raise InputDataError(
                f"target column {target!r} does not exist; available columns: {columns}.{hint}"
            )
        required = {target: "target"}
        if yvar_column is not None:
            required[yvar_column] = "noise-variance"
        required.update({c: "operating-variable" for c in features or () if c != target})
        dropped: list[str] = []
        if check:
            raw, dropped, found = drop_empty_columns(raw, required)
            messages += found
        columns = list(raw.columns)

        rename: dict[str, str] = {}
        for canon, aliases in ALIASES.items():
            matches = [c for c in _match_alias(columns, aliases) if c != target]
            if len(matches) > 1:
                raise InputDataError(
                    f"columns {matches} all name the {canon!r} column; keep one of them: drop "
                    f"the others with {ignore_hint(matches[1:])}"
                )
            if matches:
                rename[matches[0]] = canon
        frame = raw.rename(columns=rename)
        labels = {canon: orig for orig, canon in rename.items()}

        def label(column: str) -> str:
            return labels.get(column, column)

        scale_cols = [c for c in frame.columns if c.lower() == "scale" and c != target]
        if "volume_L" not in frame.columns:
            missing_volume(columns, _match_alias(dropped, ALIASES["volume_L"]), scale_cols)
        if scale_cols:
            frame = frame.rename(columns={scale_cols[0]: "scale_index"})
            labels["scale_index"] = scale_cols[0]

        def number(column: str, role: str) -> pd.Series:
            values = numeric_column(frame, column, role, rows, label=label(column))
            check_magnitudes(values, label(column), role, rows)
            return values

        roles = {"volume_L": "volume"}
        frame["volume_L"] = number("volume_L", "volume")
        check_minimum(
            frame["volume_L"], label("volume_L"), "volume", rows, strict=True, unit=" litres"
        )
        if "time_h" in frame.columns:
            roles["time_h"] = "time"
            frame["time_h"] = number("time_h", "time")
            check_minimum(frame["time_h"], label("time_h"), "time", rows, unit=" hours")
        roles[target] = "target"
        frame[target] = number(target, "target")
        if yvar_column is not None:
            if yvar_column not in frame.columns:
                raise InputDataError(
                    f"noise-variance column {yvar_column!r} does not exist; "
                    f"available columns: {list(frame.columns)}"
                )
            roles[yvar_column] = "noise-variance"
            frame[yvar_column] = number(yvar_column, "noise-variance")
            check_minimum(frame[yvar_column], yvar_column, "noise-variance", rows)

        reserved = {"volume_L", "time_h", "fidelity", "run_id", "scale_index", target}
        if yvar_column is not None:
            reserved.add(yvar_column)
        operating = operating_columns(frame, features, reserved)
        for c in operating:
            roles[c] = "operating-variable"
            frame[c] = number(c, "operating-variable")
        if check:
            for c, role in roles.items():
                if role != "volume":  # volumes span decades (1 mL to 100 m3) by design
                    messages += far_outside_scale(frame[c], label(c), role, rows)
            messages += constant_columns(frame, operating, labels)
        self.operating_names = operating
        self.yvar_column = yvar_column
        keep = [
            c
            for c in ("run_id", "fidelity", "scale_index", "volume_L", "time_h")
            if c in frame.columns
        ]
        keep += [target] + ([yvar_column] if yvar_column else []) + operating
        return frame[keep].copy(), messages

    @staticmethod
    def _fidelity_levels(
        frame: pd.DataFrame, order: Sequence[str | int] | None, rows: RowNames = _NO_ROWS
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
                f"fidelity column has empty values at {rows(raw.index[raw.isna().to_numpy()])}; "
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
            at = rows(raw.index[values.isin(unknown).to_numpy()])
            raise InputDataError(
                f"unknown fidelity names {unknown} at {at}; give their order from cheapest to "
                "measured truth with fidelity_order=[...] (--fidelity-order a,b,c), or use the "
                f"known names {list(DEFAULT_FIDELITY_ORDER)}"
            )
        unknown = [v for v in present if v not in names]
        if unknown:
            at = rows(raw.index[values.isin(unknown).to_numpy()])
            raise InputDataError(
                f"unknown fidelity names {unknown} at {at}; fidelity_order lists {names}: add "
                "them to the order or fix the rows"
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
        frame = frame.reset_index(drop=True)  # rows are named by position
        needed = ["volume_L"] + self.feature_names[1:]
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise InputDataError(
                f"new points lack the columns {missing}; they need {needed} like the data"
            )
        volume = numeric_column(frame, "volume_L", "volume", _NO_ROWS).to_numpy()
        if (volume <= 0).any():
            raise InputDataError(
                f"volume_L must be > 0 litres; new points {_NO_ROWS(np.flatnonzero(volume <= 0))} "
                "are not"
            )
        cols = [np.log10(volume)]
        cols += [numeric_column(frame, c, "feature", _NO_ROWS).to_numpy() for c in needed[1:]]
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
        """A new ScaleUpData with the rows where ``mask`` is true (same levels and columns;
        the validation warnings are kept, not issued again)."""
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (len(self),):
            raise InputDataError(f"mask needs one boolean per row ({len(self)})")
        if not mask.any():
            raise InputDataError("the selection is empty; no rows left")
        return ScaleUpData._derived(self, self.frame.loc[mask].reset_index(drop=True))

    def to(
        self, device: torch.device | str | None = None, dtype: torch.dtype | None = None
    ) -> ScaleUpData:
        """A copy on another device and/or dtype."""
        out = self.subset(np.ones(len(self), dtype=bool))
        out.device = resolve_device(device) if device is not None else self.device
        out.dtype = resolve_dtype(dtype) if dtype is not None else self.dtype
        out._build_tensors()
        return out

    def holdout_largest(
        self, k: int = 1, *, keep_lower_fidelities: bool = True
    ) -> tuple[ScaleUpData, ScaleUpData]:
        """Hold out the top-fidelity rows at the ``k`` largest measured volumes; see
        :func:`mfgp.data.splits.holdout_largest`."""
        return splits.holdout_largest(self, k, keep_lower_fidelities=keep_lower_fidelities)

    def thin_levels(self, max_rows: int, *, seed: int = 0) -> ScaleUpData:
        """At most ``max_rows`` rows of each level below the top one (a seeded random subset,
        in file order; the measurements are kept whole); see
        :func:`mfgp.data.splits.thin_levels`."""
        return splits.thin_levels(self, max_rows, seed=seed)

    def leave_one_scale_out(self) -> Iterator[tuple[float, ScaleUpData, ScaleUpData]]:
        """Yield ``(volume, train, test)``, holding out the top-fidelity rows of each volume;
        see :func:`mfgp.data.splits.leave_one_scale_out`."""
        return splits.leave_one_scale_out(self)

    def group_split(
        self, n_splits: int | None = None
    ) -> Iterator[tuple[list[Any], ScaleUpData, ScaleUpData]]:
        """Yield ``(run_ids, train, test)`` folds over the top-fidelity runs; see
        :func:`mfgp.data.splits.group_split`."""
        return splits.group_split(self, n_splits)

    # --------------------------------------------------------- standardisation
    def standardizers(self) -> tuple[Any, Any]:
        """Fitted, reversible BoTorch transforms for this data set.

        Returns:
            ``(input_transform, outcome_transform)``: an ``InputStandardize`` over the feature
            columns (the fidelity index is left as it is) and a ``Standardize`` of ``Y`` with
            statistics pooled over all fidelity levels (standardising with the top level alone
            drives AR1 fits to rho ~ 0). Apply with ``tf(X)`` / ``ot(Y)`` and revert with
            ``tf.untransform`` / ``ot.untransform``.
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
