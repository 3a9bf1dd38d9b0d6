"""Shared helpers of the baselines: top-fidelity rows, grouped folds, thread control, the
variance floor, what a data set holds (time courses or end points), and
:class:`TopLevelBaseline`, the base of every single-fidelity baseline.

End-point data (one row per run, no ``time_h`` feature) are told from time courses by the
data's ``feature_names`` (:func:`has_time_column`); tensors without names follow the
convention of :class:`~mfgp.data.ScaleUpData`: column 1 is time when there are two or more
feature columns.

References:
    Hastie, Tibshirani & Friedman (2009), The Elements of Statistical Learning, sec. 7.10
    (cross-validation; grouped folds keep correlated rows together).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import gpytorch
import torch
from botorch.posteriors import Posterior
from torch import Tensor

from mfgp.exceptions import InputDataError
from mfgp.models.base import ScaleUpModel, gaussian_posterior

__all__ = [
    "END_POINT_REASON",
    "DataLayout",
    "TopLevelBaseline",
    "data_layout",
    "feature_index",
    "has_time_column",
    "num_threads",
    "scale_groups",
    "top_fidelity_rows",
    "variance_floor",
]

log = logging.getLogger(__name__)

#: the reason a model that fits growth curves gives for end-point data
END_POINT_REASON = "needs time courses (a time column); the data are end points"


def has_time_column(feature_names: Sequence[str] | None, n_features: int) -> bool:
    """Whether the features hold a time column: ``time_h`` among ``feature_names`` where they
    are known, else (tensors without names) two or more feature columns, column 1 being time.

    >>> has_time_column(["log10_volume_L", "rpm"], 2), has_time_column(None, 2)
    (False, True)
    """
    if feature_names:
        return "time_h" in list(feature_names)
    return n_features >= 2


@dataclass(frozen=True)
class DataLayout:
    """What a data set holds, for ``applicability``: whether it has time courses, and the
    rows and distinct volumes of its top (measured) level."""

    time_course: bool
    top_rows: int
    top_volumes: int


def data_layout(data: Any) -> DataLayout | None:
    """The :class:`DataLayout` of a :class:`~mfgp.data.ScaleUpData` or an ``(X, Y[, Yvar])``
    tuple (``X`` ``n x d``, fidelity last); ``None`` when ``data`` is neither (``fit`` then
    says what is wrong).

    >>> X = torch.tensor([[0.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    >>> data_layout((X, torch.ones(3, 1)))
    DataLayout(time_course=False, top_rows=3, top_volumes=2)
    """
    X = getattr(data, "X", None)
    if X is None and isinstance(data, (tuple, list)) and data:
        X = data[0]
    if not isinstance(X, Tensor) or X.dim() != 2 or X.shape[0] == 0 or X.shape[-1] < 2:
        return None
    top = X[:, -1] == X[:, -1].max()
    vols = torch.unique(torch.round(X[top, 0].double() * 1e9))
    names = getattr(data, "feature_names", None)
    return DataLayout(has_time_column(names, X.shape[-1] - 1), int(top.sum()), vols.numel())


@contextmanager
def num_threads(n: int | None) -> Iterator[None]:
    """Run a block with ``n`` torch intra-op threads (``None``: unchanged), then restore them.

    Loops over tiny matrices (FISTA, small MLPs) run several times faster on one thread: extra
    threads only add synchronisation, and on a busy machine they can be 10-50x slower.

    >>> with num_threads(1):
    ...     torch.get_num_threads()
    1
    """
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def top_fidelity_rows(X: Tensor, Y: Tensor) -> tuple[Tensor, Tensor]:
    """The rows of the highest fidelity present, without the fidelity column.

    Args:
        X: ``n x d`` inputs, fidelity index last.
        Y: ``n x 1`` targets.

    Returns:
        ``Xf`` (``m x (d-1)`` features) and ``Yt`` (``m x 1``) of the top-fidelity rows.

    >>> X = torch.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 1.0]])
    >>> top_fidelity_rows(X, torch.ones(3, 1))[0].shape
    torch.Size([2, 1])
    """
    if X.shape[-1] < 2:
        raise InputDataError("X needs at least one feature column before the fidelity index")
    top = X[:, -1] == X[:, -1].max()
    return X[top, :-1], Y[top]


def scale_groups(v: Tensor, *, min_groups: int = 3, max_folds: int = 5) -> Tensor:
    """Fold labels for grouped cross-validation: one group per distinct scale (leave one scale
    out).

    With fewer than ``min_groups`` distinct scales, leave-one-scale-out is not informative, so
    rows are split into ``min(max_folds, n)`` interleaved folds instead (deterministic).

    Args:
        v: ``n`` values of ``log10_volume_L``.

    Returns:
        ``n`` integer fold labels ``0..k-1``.

    >>> scale_groups(torch.tensor([0.0, 0.0, 1.0, 2.0])).tolist()
    [0, 0, 1, 2]
    """
    _, inverse = torch.unique(torch.round(v * 1e6), return_inverse=True)
    if int(inverse.max()) + 1 >= min_groups:
        return inverse
    k = max(2, min(max_folds, v.shape[0]))
    return torch.arange(v.shape[0], device=v.device) % k


def feature_index(model: ScaleUpModel, name: str, default: int | None) -> int | None:
    """Column of feature ``name`` from the data's ``feature_names`` (or ``default`` without
    names)."""
    names = model.metadata.get("feature_names")
    if names:
        return list(names).index(name) if name in names else None
    return default


def variance_floor(dtype: torch.dtype) -> float:
    """Smallest variance reported: twice GPyTorch's ``min_variance`` for ``dtype`` (below it
    GPyTorch warns and rounds up).

    >>> variance_floor(torch.float64) > 0
    True
    """
    return 2.0 * gpytorch.settings.min_variance.value(dtype)


class TopLevelBaseline(ScaleUpModel):
    """Shared machinery of single-fidelity baselines that use the top-fidelity rows only.

    Subclasses implement :meth:`_build_top` (features ``m x p`` and targets ``m x 1`` of the top
    level, in data units), :meth:`_optimize` and :meth:`_mean_var` (predictive mean and variance
    in data units, with or without observation noise); this class selects the rows, ignores the
    fidelity column at prediction and wraps the result as a BoTorch posterior (diagonal
    covariance).
    """

    multi_fidelity = False
    #: the fewest top-fidelity rows the model fits
    min_rows: int = 3

    def applicability(self, data: Any) -> str | None:
        """A reason when the top (measured) level has fewer than :attr:`min_rows` rows."""
        layout = data_layout(data)
        if layout is not None and layout.top_rows < self.min_rows:
            return f"needs at least {self.min_rows} measured rows; the data have {layout.top_rows}"
        return None

    def _build(self, X: Tensor, Y: Tensor, Yvar: Tensor | None) -> None:
        Xf, Yt = top_fidelity_rows(X, Y)
        if Xf.shape[0] < 3:
            raise InputDataError(
                f"the top fidelity has {Xf.shape[0]} row(s); {type(self).__name__} needs at "
                "least 3 observations"
            )
        self._build_top(Xf, Yt)

    def _build_top(self, Xf: Tensor, Y: Tensor) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _mean_var(
        self, Xf: Tensor, observation_noise: bool = False
    ) -> tuple[Tensor, Tensor]:  # pragma: no cover - abstract
        """Mean and variance (each ``batch x n``, data units) at features ``batch x n x p``;
        the variance is latent, plus the observation noise when ``observation_noise``."""
        raise NotImplementedError

    @property
    def top_rows_(self) -> tuple[Tensor, Tensor]:
        """Top-fidelity training features ``m x p`` and targets ``m x 1``."""
        return top_fidelity_rows(self.train_X_, self.train_Y_)

    def posterior(
        self,
        X: Tensor,
        output_indices: list[int] | None = None,
        observation_noise: bool | Tensor = False,
        posterior_transform: Any = None,
        **kwargs: Any,
    ) -> Posterior:
        """Gaussian posterior of the top level at ``X`` (``batch x n x d``; the fidelity column
        is ignored), with diagonal covariance."""
        self._check_X(X)
        add_noise = not isinstance(observation_noise, Tensor) and bool(observation_noise)
        mean, var = self._mean_var(X[..., :-1], add_noise)
        if isinstance(observation_noise, Tensor):
            var = var + observation_noise.squeeze(-1).to(var)
        post = gaussian_posterior(mean, var.clamp_min(variance_floor(var.dtype)))
        return posterior_transform(post) if posterior_transform is not None else post
