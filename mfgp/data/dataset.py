"""ScaleUpData: a validated table as canonical columns, fidelity levels and tensors.

The canonical columns, their aliases and the names with units are in
:mod:`mfgp.data.columns`; cheap levels in columns (the wide layout) and the level names in
:mod:`mfgp.data.levels`; categorical factors in :mod:`mfgp.data.categories`; the checks in
:mod:`mfgp.data.validation` and the splits in :mod:`mfgp.data.splits`.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from mfgp.data import splits
from mfgp.data.categories import one_hot
from mfgp.data.columns import ALIASES, ColumnRole, resolve_roles
from mfgp.data.layout import LAYOUT_OPTIONS, canonical_frame
from mfgp.data.levels import DEFAULT_FIDELITY_ORDER, TOP_FIDELITY_NAME, fidelity_levels
from mfgp.data.reading import read_data
from mfgp.data.validation import RowNames, numeric_column
from mfgp.exceptions import DataWarning, InputDataError
from mfgp.settings import resolve_device, resolve_dtype

__all__ = ["ALIASES", "DEFAULT_FIDELITY_ORDER", "TOP_FIDELITY_NAME", "ScaleUpData"]

log = logging.getLogger(__name__)

_NO_ROWS = RowNames()  # names the rows of new points (no file)


def _names(columns: str | Sequence[str] | None) -> list[str] | None:
    """Column names as a list (one name may be given as a string)."""
    if columns is None:
        return None
    return [columns] if isinstance(columns, str) else [str(c) for c in columns]


class ScaleUpData:
    """Validated multi-scale, multi-fidelity data in the long format (one row per observation).

    Problems that stop a fit raise :class:`~mfgp.exceptions.InputDataError`. Problems that do
    not (duplicate rows, values far outside their column's scale, constant operating variables,
    empty rows and columns, which are dropped) are issued as
    :class:`~mfgp.exceptions.DataWarning` and kept in :attr:`validation_warnings`. What was
    converted from the user's layout (units, decimal commas, cheap levels in columns,
    categorical factors) is logged at INFO and kept in :attr:`conversions`.

    Args:
        source: a CSV or Excel (``.xlsx``) path, or a DataFrame (never modified; a copy is kept).
        target: the response column (for example ``"C"``, ``"titer_gL"``).
        features: operating-variable columns to use (default: every other numeric column).
        ignore: columns to drop before validation (notes, dates, ...).
        fidelity_order: fidelity names (or integers) from cheapest to highest. Needed when the
            names are not in :data:`DEFAULT_FIDELITY_ORDER`; every name in the data must be
            listed. The fidelity index is the position in this order.
        yvar_column: optional column of known measurement-noise variances of the target.
        volume_col: the column of the working volume, named explicitly (wins over the aliases
            and the names with units); a unit in its name (``"Size [mL]"``) is converted.
        time_col: the column of the culture time, likewise (hours unless its name has a unit).
        run_col: the column naming the run of every row.
        fidelity_col: the column naming the fidelity level of every row.
        decimal: ``","`` to read decimal commas (``4,776``), ``"."`` never to; None (default)
            recognises them in a semicolon- or tab-separated file.
        sheet: the sheet of an Excel workbook, by name or 0-based index (default the first).
        low_fidelity_cols: columns holding cheap predictions beside the measured target (the
            wide layout), cheapest first: each becomes a fidelity level named by the column,
            below the measurements (``measured``); implies ``fidelity_order``.
        categorical: text or integer-coded columns to encode as 0/1 indicator features
            (``cell_line=A``, ``cell_line=B``, ...); the levels are in :attr:`categories`.
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
        conversions: what was converted from the user's layout, one message each (kept by the
            subsets like the warnings).
        categories: the levels of every categorical column, sorted.
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
        volume_col: str | None = None,
        time_col: str | None = None,
        run_col: str | None = None,
        fidelity_col: str | None = None,
        decimal: str | None = None,
        sheet: str | int | None = None,
        low_fidelity_cols: Sequence[str] | None = None,
        categorical: Sequence[str] | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | str | None = None,
    ) -> None:
        layout = {
            "volume_col": volume_col,
            "time_col": time_col,
            "run_col": run_col,
            "fidelity_col": fidelity_col,
            "decimal": decimal,
            "sheet": sheet,
            "low_fidelity_cols": _names(low_fidelity_cols),
            "categorical": _names(categorical),
        }
        self._load(
            source,
            target=target,
            features=features,
            ignore=ignore,
            fidelity_order=fidelity_order,
            yvar_column=yvar_column,
            layout=layout,
            device=device,
            dtype=dtype,
            parent=None,
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
        layout: Mapping[str, Any],
        device: torch.device | str | None,
        dtype: torch.dtype | str | None,
        parent: ScaleUpData | None,
    ) -> None:
        """Validate ``source`` and build the tensors.

        ``parent`` is None for data given by the user: the warnings are issued (from the
        caller of ``ScaleUpData(...)``) and kept, the conversions logged and kept. Derived
        subsets pass their parent instead: its warnings, conversions, categories and column
        names are kept, the checks that only warn are skipped, nothing is issued.
        """
        self.source = str(source) if isinstance(source, (str, Path)) else "<DataFrame>"
        raw, rows, notes = read_data(
            source, decimal=layout.get("decimal"), sheet=layout.get("sheet")
        )
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype)
        self._options = {
            "features": None if features is None else list(features),
            "ignore": list(ignore),
            "fidelity_order": None if fidelity_order is None else list(fidelity_order),
            "yvar_column": yvar_column,
            **{k: layout.get(k) for k in LAYOUT_OPTIONS},
        }
        self.target = target
        table = canonical_frame(
            raw,
            target=target,
            features=features,
            ignore=ignore,
            fidelity_order=fidelity_order,
            yvar_column=yvar_column,
            layout=layout,
            rows=rows,
            notes=notes,
            check=parent is None,
        )
        frame, messages, notes = table.frame, table.warnings, table.notes
        self.operating_names, self.yvar_column = table.operating, yvar_column
        #: canonical column -> the user's column that held it (name and unit).
        self.column_roles: dict[str, ColumnRole] = dict(table.roles)
        self.categories, self._explicit = table.categories, table.explicit
        order = table.fidelity_order or fidelity_order
        self.fidelity_names, codes = fidelity_levels(frame, order, rows)
        frame["fidelity"] = [self.fidelity_names[c] for c in codes]
        self.frame = frame.reset_index(drop=True)
        self._fidelity_codes = np.asarray(codes, dtype=np.int64)
        if parent is not None:
            self.categories = {k: list(v) for k, v in parent.categories.items()}
            self._explicit = dict(parent._explicit)
            self.column_roles = dict(parent.column_roles)
            self._options.update({k: parent._options.get(k) for k in LAYOUT_OPTIONS})
        self._build_tensors()
        if parent is None:
            self.validation_warnings: list[str] = messages
            self.conversions: list[str] = notes
            for note in notes:
                log.info("%s", note)
            for message in messages:
                warnings.warn(message, DataWarning, stacklevel=3)
        else:
            self.validation_warnings = list(parent.validation_warnings)
            self.conversions = list(parent.conversions)

    @classmethod
    def _derived(cls, parent: ScaleUpData, frame: pd.DataFrame) -> ScaleUpData:
        """A ScaleUpData of some of ``parent``'s canonical rows: same levels, columns, device,
        dtype, validation warnings (not issued again), conversions and categories."""
        out = cls.__new__(cls)
        out._load(
            frame,
            target=parent.target,
            features=list(parent.operating_names),
            ignore=[],
            fidelity_order=list(parent.fidelity_names),
            yvar_column=parent.yvar_column,
            layout={},
            device=parent.device,
            dtype=parent.dtype,
            parent=parent,
        )
        return out

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

    def _new_point_columns(self, frame: pd.DataFrame) -> pd.DataFrame:
        """New points with canonical columns: the user's names (explicit, aliases, names with
        units, converted to litres and hours) renamed, categorical columns encoded."""
        columns = [str(c) for c in frame.columns]
        frame = frame.set_axis(columns, axis=1)
        explicit = {
            c: name for c, name in self._explicit.items() if name in columns and c not in columns
        }
        aside = [*self.operating_names, *self.categories]
        aside += [self.yvar_column] if self.yvar_column else []
        roles: dict[str, ColumnRole] = resolve_roles(
            columns, target=self.target, explicit=explicit, exclude=aside, what="new points"
        )
        frame = frame.rename(columns={r.source: canon for canon, r in roles.items()})
        for canon, role in roles.items():
            if role.unit is not None and not role.unit.is_canonical:
                word = canon.split("_")[0]
                values = numeric_column(frame, canon, word, _NO_ROWS, label=role.source)
                frame[canon] = role.convert(values)
        return one_hot(frame, self.categories) if self.categories else frame

    def encode(
        self, frame: pd.DataFrame, *, fidelity: int | str | Sequence[int] | np.ndarray | None = None
    ) -> Tensor:
        """Build model inputs ``X`` (``n x (d + 1)``, fidelity index last) for new points.

        Args:
            frame: rows with the volume, the time if the data have time, and the operating
                variables. Columns are read like the data's: canonical names (``volume_L`` in
                litres, ``time_h`` in hours), aliases, names with units (``Volume (mL)``, in
                that unit), the columns named by ``volume_col`` and ``time_col``, and the
                categorical columns by their levels (``cell_line="B"``).
            fidelity: level of every row (index or name; default: the top level), or one index
                per row. Ignored where ``frame`` has a ``fidelity`` column and this is None.

        >>> import pandas as pd
        >>> df = pd.DataFrame({"V": [1.0, 10.0], "t": [1.0, 1.0], "C": [1.0, 2.0]})
        >>> ScaleUpData(df, target="C").encode(pd.DataFrame({"V": [1000.0], "t": [5.0]}))
        tensor([[3., 5., 0.]], dtype=torch.float64)
        >>> new = pd.DataFrame({"Volume [m3]": [1.0], "Time (d)": [2.0]})
        >>> ScaleUpData(df, target="C").encode(new)
        tensor([[ 3., 48.,  0.]], dtype=torch.float64)
        """
        frame = self._new_point_columns(frame.reset_index(drop=True))  # rows named by position
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
