"""The scaling law of end-point data: one value per run (titer at harvest), no time column.

Many scale-up data sets hold one number per cultivation (the harvest titer, the final biomass)
instead of time courses. :class:`EndPointScalingLaw` is the scaling-law surrogate of such data:
a deterministic, differentiable function ``f(X_feat)`` of the features of
``ScaleUpData.feature_names`` without time (column 0 ``log10_volume_L``, then the operating
variables), in the target's units,

    g(y) = c0 + c . basis(log10 V) + sum_j b_j (z_j - mean_j) / sd_j,

with ``g`` the link: the natural log when every training value is positive (``link="auto"``, the
default), so that the law stays positive however far it is extrapolated (a power law in V is
then ``y = a V^b``), and the identity otherwise. ``basis`` is one of the scaling bases of
:func:`mfgp.scaling.bases.make_basis` (``power`` or ``log``: the single feature ``log10 V``,
which under the log link is a power law and under the identity link a log law; ``piecewise``:
continuous piecewise log-linear with hinges at ``knots``), and ``z_j`` the operating variables,
standardised with the training mean and standard deviation. The coefficients are fitted by
ridge least squares on the rows given to :meth:`EndPointScalingLaw.fit` (give it the training
rows only). The ridge penalty, ``ridge * n * |coef|^2`` on every coefficient but the intercept
(default ``ridge = 1e-3``, as :class:`~mfgp.scaling.bases.ScalingLawSurrogate`), shrinks a
well-determined slope by about 0.1 % (``1 / (1 + ridge / var(column))``) but keeps a few runs
with collinear columns (an operating variable that follows the scale-up rule, so moves with the
volume) from giving huge coefficients of opposite sign.

Like :class:`~mfgp.scaling.bases.ScalingLawSurrogate`, the law can be level 0 of a
multi-fidelity model (``hybrid``), the mean of a discrepancy GP (``discrepancy``) or the
prediction itself (``scaling_law``); :func:`build_surrogate` rebuilds either class from the
JSON configuration saved with a model. :func:`endpoint_link` gives the link the data choose.

References:
    Garcia-Ochoa & Gomez (2009), Biotechnol. Adv. 27:153 (scale-dependent bioprocess
    performance, power laws in scale). Hoerl & Kennard (1970), Technometrics 12:55 (ridge).
    Kennedy & O'Hagan (2000), Biometrika 87:1 (a cheap deterministic level under a GP).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from mfgp.exceptions import InputDataError, NotFittedError
from mfgp.scaling.bases import ScalingBasis, ScalingLawSurrogate, _ridge, make_basis
from mfgp.settings import DEFAULT_DTYPE

__all__ = ["ENDPOINT_BASES", "EndPointScalingLaw", "build_surrogate", "endpoint_link"]

#: bases compared for end-point data (``log`` has the features of ``power``: the link tells
#: them apart, and the data choose it)
ENDPOINT_BASES: tuple[str, ...] = ("power", "piecewise")

_LINKS = ("auto", "log", "identity")


def endpoint_link(y: Tensor) -> str:
    """The link ``link="auto"`` chooses: ``"log"`` when every value of ``y`` is positive, else
    ``"identity"``.

    >>> endpoint_link(torch.tensor([1.0, 2.0])), endpoint_link(torch.tensor([1.0, -2.0]))
    ('log', 'identity')
    """
    return "log" if bool((torch.as_tensor(y) > 0).all()) else "identity"


def _names(rows: Tensor, groups: Sequence[Any] | None, limit: int = 5) -> str:
    """Rows named by their run labels where given (``runs ['A', 'B']``), else by index."""
    idx = torch.nonzero(rows).flatten().tolist()
    if groups is not None:
        labels = list(dict.fromkeys(str(groups[i]) for i in idx))
        more = f" and {len(labels) - limit} more" if len(labels) > limit else ""
        return f"runs {labels[:limit]}{more}"
    more = f" and {len(idx) - limit} more" if len(idx) > limit else ""
    return f"rows {idx[:limit]}{more}"


class EndPointScalingLaw(nn.Module):
    """A scaling law of end-point data as a callable low-fidelity level (see the module).

    Args:
        basis: ``"power"`` (default), ``"log"``, ``"piecewise"`` or a
            :class:`~mfgp.scaling.bases.ScalingBasis` (its own link is not used: the law's
            ``link`` applies to the target).
        link: ``"auto"`` (default: ``"log"`` when every training value is positive, else
            ``"identity"``), ``"log"`` or ``"identity"``.
        operating_columns: indices into ``X_feat`` (>= 1) of the operating variables with a
            linear effect; ``None`` (default): every column after ``log10_volume_L`` seen by
            :meth:`fit`; ``()``: a function of the volume only.
        ridge: ridge penalty per observation on every coefficient but the intercept (default
            ``1e-3``, see the module docstring).
        dtype: float dtype of the coefficients.
        **basis_options: options of the basis (``knots=`` for ``piecewise``).

    Example:
        >>> import torch
        >>> lv = torch.tensor([0.0, 1.0, 2.0, 3.0], dtype=torch.float64)
        >>> rpm = torch.tensor([300.0, 500.0, 400.0, 350.0], dtype=torch.float64)
        >>> y = 5.0 * (10**lv) ** -0.05 * torch.exp(0.001 * rpm)
        >>> law = EndPointScalingLaw(ridge=0.0).fit_features(torch.stack([lv, rpm], -1), y)
        >>> law.link_
        'log'
        >>> X = torch.tensor([[4.0, 400.0]], dtype=torch.float64)  # 10,000 L: never seen
        >>> round(float(law(X)), 6) == round(5.0 * 1e4**-0.05 * 1.4918246976412703, 6)
        True
    """

    kind = "endpoint"

    def __init__(
        self,
        basis: str | ScalingBasis = "power",
        *,
        link: str = "auto",
        operating_columns: Sequence[int] | None = None,
        ridge: float = 1e-3,
        dtype: torch.dtype = DEFAULT_DTYPE,
        **basis_options: Any,
    ) -> None:
        super().__init__()
        if link not in _LINKS:
            raise InputDataError(f"link must be one of {_LINKS}, got {link!r}")
        if ridge < 0:
            raise InputDataError(f"ridge must be >= 0, got {ridge}")
        basis_options.pop("link", None)  # the basis's link: the law has its own
        self.basis = make_basis(basis, **basis_options)
        self.link = link
        self.ridge = float(ridge)
        if operating_columns is not None:
            cols = tuple(int(c) for c in operating_columns)
            if any(c < 1 for c in cols):
                raise InputDataError(
                    f"operating_columns {list(cols)} must index X_feat columns >= 1 (column 0 "
                    "is log10_volume_L)"
                )
            self.operating_columns: tuple[int, ...] | None = cols
        else:
            self.operating_columns = None
        self._register(len(self.operating_columns or ()), dtype, None)
        self.register_buffer("log_link_", torch.tensor(link == "log"))
        self.register_buffer("fitted", torch.tensor(False))

    def _register(self, q: int, dtype: torch.dtype, device: torch.device | None) -> None:
        p = 1 + self.basis.n_features + q
        dt = dict(dtype=dtype, device=device)
        self.register_buffer("coef_", torch.zeros(p, **dt))
        self.register_buffer("op_mean_", torch.zeros(q, **dt))
        self.register_buffer("op_std_", torch.ones(q, **dt))

    # ----------------------------------------------------------------- config
    def get_config(self) -> dict[str, Any]:
        """JSON-serialisable constructor arguments, with ``kind: "endpoint"`` (rebuild with
        :func:`build_surrogate`, then ``load_state_dict``). After :meth:`fit` the operating
        columns are the ones used, so that the rebuilt buffers have the fitted shapes."""
        bcfg = self.basis.config()
        bcfg.pop("link", None)
        cols = self.operating_columns
        return {
            "kind": self.kind,
            "basis": bcfg.pop("name"),
            "link": self.link,
            "operating_columns": None if cols is None else list(cols),
            "ridge": self.ridge,
            **bcfg,
        }

    @property
    def link_(self) -> str:
        """The link of the fitted law: ``"log"`` or ``"identity"``."""
        self._check_fitted()
        return "log" if bool(self.log_link_) else "identity"

    # ------------------------------------------------------------------ fit
    def fit_features(
        self, X_feat: Tensor, y: Tensor, *, groups: Sequence[Any] | Tensor | None = None
    ) -> EndPointScalingLaw:
        """Fit the law by ridge least squares.

        Args:
            X_feat: ``n x d`` features (``log10_volume_L``, then operating variables).
            y: ``n`` end-point values of the target (its units are kept).
            groups: optional ``n`` run labels (``run_id``), used to name runs in errors.

        Returns:
            ``self``, fitted.

        Raises:
            InputDataError: bad shapes, NaN or inf values, too few volumes for the basis, or
                ``link="log"`` with values <= 0.
        """
        X = torch.as_tensor(X_feat)
        yy = torch.as_tensor(y).reshape(-1)
        if X.dim() != 2 or X.shape[-1] < 1:
            raise InputDataError(f"X_feat must be n x d with d >= 1, got {tuple(X.shape)}")
        n, d = X.shape
        if yy.numel() != n:
            raise InputDataError(f"X_feat has {n} rows but y has {yy.numel()} values")
        labels = None
        if groups is not None:
            labels = list(groups.tolist() if isinstance(groups, Tensor) else groups)
            if len(labels) != n:
                raise InputDataError(f"groups must have {n} labels, got {len(labels)}")
        X, yy = X.to(torch.float64), yy.to(X.device, torch.float64)
        bad = ~(torch.isfinite(X).all(-1) & torch.isfinite(yy))
        if bool(bad.any()):
            raise InputDataError(
                f"{_names(bad, labels)} have NaN or inf features or target values; remove them"
            )
        cols = self.operating_columns
        if cols is None:
            cols = tuple(range(1, d))
        if any(c >= d for c in cols):
            raise InputDataError(
                f"operating_columns {list(cols)} out of range: X_feat has {d} columns"
            )
        n_vol = int(torch.unique(torch.round(X[:, 0] * 1e9)).numel())
        k = 1 + self.basis.n_features
        if n_vol < k:
            raise InputDataError(
                f"runs at {n_vol} distinct volume(s) cannot fit the {self.basis.name} basis "
                f"({k} coefficients in log10 V); give runs at more volumes or choose a "
                "simpler basis"
            )
        link = endpoint_link(yy) if self.link == "auto" else self.link
        if link == "log" and bool((yy <= 0).any()):
            raise InputDataError(
                f"link='log' needs positive values, but {_names(yy <= 0, labels)} have values "
                "<= 0; use link='identity' or 'auto'"
            )
        ops = X[:, list(cols)]
        if cols:
            mean, std = ops.mean(0), ops.std(0, unbiased=False)
            std = torch.where(std > 0, std, torch.ones_like(std))
        else:
            mean, std = ops.new_zeros(0), ops.new_ones(0)
        design = self._design(X[:, 0], ops, mean, std)
        eta = yy.log() if link == "log" else yy
        try:
            coef = _ridge(design, eta, self.ridge)
        except torch.linalg.LinAlgError:
            raise InputDataError(
                "the end-point law's columns are collinear (an operating variable is constant "
                "or repeats another, e.g. indicators of every level of a factor); use ridge > 0 "
                "or drop the column"
            ) from None
        dtype, device = self.coef_.dtype, self.coef_.device
        if len(cols) != self.op_mean_.numel():
            self._register(len(cols), dtype, device)
        self.operating_columns = cols
        self.coef_.copy_(coef.to(dtype=dtype, device=device))
        self.op_mean_.copy_(mean.to(dtype=dtype, device=device))
        self.op_std_.copy_(std.to(dtype=dtype, device=device))
        self.log_link_.fill_(link == "log")
        self.fitted.fill_(True)
        return self

    def fit(
        self, X_feat: Tensor, y: Tensor, *, groups: Sequence[Any] | Tensor | None = None
    ) -> EndPointScalingLaw:
        """Alias of :meth:`fit_features` (the law has no other input than the features)."""
        return self.fit_features(X_feat, y, groups=groups)

    def _design(self, lv: Tensor, ops: Tensor, mean: Tensor, std: Tensor) -> Tensor:
        parts = [torch.ones_like(lv).unsqueeze(-1), self.basis.features(lv)]
        if ops.shape[-1]:
            parts.append((ops - mean) / std)
        return torch.cat(parts, dim=-1)

    def coefficients(self) -> dict[str, Any]:
        """The fitted law in the units of the features: ``g(y) = intercept + basis .
        basis(log10 V) + operating . z`` with ``z`` the raw operating variables (not
        standardised), ``g`` the link (``link``).

        Returns:
            ``{"link": str, "intercept": float, "basis": [float], "operating": [float]}``.
        """
        self._check_fitted()
        c = self.coef_.detach().double().cpu()
        nb = self.basis.n_features
        slopes = c[1 + nb :] / self.op_std_.detach().double().cpu()
        intercept = c[0] - (slopes * self.op_mean_.detach().double().cpu()).sum()
        return {
            "link": self.link_,
            "intercept": float(intercept),
            "basis": c[1 : 1 + nb].tolist(),
            "operating": slopes.tolist(),
        }

    # ------------------------------------------------------------- evaluate
    def forward(self, X_feat: Tensor) -> Tensor:
        """Evaluate at features ``X_feat`` (``... x n x d``: column 0 log10 volume in L,
        operating variables after). Returns ``... x n`` in the dtype and on the device of
        ``X_feat`` (computed in the law's dtype); differentiable with respect to ``X_feat``."""
        self._check_fitted()
        X = torch.as_tensor(X_feat)
        cols = self.operating_columns or ()
        need = max((0, *cols)) + 1
        if X.dim() < 1 or X.shape[-1] < need:
            raise InputDataError(
                f"X_feat needs at least {need} columns (log10_volume_L, operating variables), "
                f"got shape {tuple(X.shape)}"
            )
        Xc = X.to(self.coef_)
        ops = Xc[..., list(cols)]
        eta = self._design(Xc[..., 0], ops, self.op_mean_, self.op_std_) @ self.coef_
        out = eta.exp() if bool(self.log_link_) else eta
        return out.to(dtype=X.dtype if X.is_floating_point() else out.dtype, device=X.device)

    def _check_fitted(self) -> None:
        if not bool(self.fitted):
            raise NotFittedError(
                "EndPointScalingLaw is not fitted; call fit_features(X_feat, y) or "
                "load_state_dict() first"
            )

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())


def build_surrogate(
    config: dict[str, Any], *, dtype: torch.dtype = DEFAULT_DTYPE
) -> ScalingLawSurrogate | EndPointScalingLaw:
    """Rebuild an unfitted surrogate from its saved configuration (``get_config()``): an
    :class:`EndPointScalingLaw` for ``kind: "endpoint"``, else (no ``kind``, as in models saved
    before end-point laws existed) a :class:`~mfgp.scaling.bases.ScalingLawSurrogate`.

    >>> type(build_surrogate({"kind": "endpoint", "basis": "power"})).__name__
    'EndPointScalingLaw'
    >>> type(build_surrogate({"growth": "logistic", "basis": "log"})).__name__
    'ScalingLawSurrogate'
    """
    cfg = dict(config)
    kind = cfg.pop("kind", "growth")
    if kind == EndPointScalingLaw.kind:
        return EndPointScalingLaw(**cfg, dtype=dtype)
    if kind != "growth":
        raise InputDataError(f"unknown surrogate kind {kind!r} in the saved model; refit it")
    return ScalingLawSurrogate(**cfg, dtype=dtype)
