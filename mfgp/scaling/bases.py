"""Scaling bases (how a quantity changes with volume) and the scaling-law surrogate.

The classic scale-up workflow fits a growth curve at each measured scale and extrapolates each
curve parameter to the target volume with a power law, a log law or a piecewise log-linear law
in V (e.g. Baranyi & Roberts 1994 for the curve; Garcia-Ochoa & Gomez 2009, Biotechnol. Adv.
27:153 for scale-dependent kinetics). :class:`ScalingLawSurrogate` packages that workflow as a
deterministic, differentiable function of the model features, so it can be

- level 0 of a multi-fidelity model: ``surrogate(X_feat)`` with ``X_feat`` ``... x n x d`` whose
  columns follow ``ScaleUpData.feature_names`` (column 0 ``log10_volume_L``, column 1 ``time_h``,
  then operating variables) returns ``... x n`` predictions in the target's units;
- a GP mean function (:class:`ScalingLawMean`, a ``gpytorch.means.Mean``);
- an extra input feature (:func:`append_surrogate_feature`).

Bases (all on ``x = log10 V``): :class:`PowerLaw` (``theta = a V^b``: log link, linear in x),
:class:`LogLaw` (``theta = a + b x``), :class:`PiecewiseLogLinear` (continuous, hinges at knots).
:func:`dimensionless_features` computes log10 P/V, tip speed, kLa and mixing time (see
:mod:`mfgp.scaling.correlations`) as physics-based input features.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import torch
from gpytorch.means import Mean
from torch import Tensor, nn

from mfgp.exceptions import InputDataError, ModelFittingError, NotFittedError
from mfgp.scaling import correlations as corr
from mfgp.scaling.growth import GrowthModel, get_growth_model
from mfgp.settings import DEFAULT_DTYPE

__all__ = [
    "LogLaw",
    "PiecewiseLogLinear",
    "PowerLaw",
    "ScalingBasis",
    "ScalingLaw",
    "ScalingLawMean",
    "ScalingLawSurrogate",
    "append_surrogate_feature",
    "dimensionless_features",
    "make_basis",
]


class ScalingBasis(ABC):
    """Features of ``x = log10 V`` (without intercept) and a link for the modelled quantity.

    ``link`` is ``"log"`` (the natural log of the quantity is linear in the features, so the
    quantity stays positive) or ``"identity"``.
    """

    link: str = "identity"
    name: str = "basis"

    @property
    @abstractmethod
    def n_features(self) -> int:
        """Number of features (excluding the intercept)."""

    @abstractmethod
    def features(self, log10_volume: Tensor) -> Tensor:
        """``... x n`` -> ``... x n x p`` features."""

    def config(self) -> dict[str, Any]:
        """JSON-serialisable description (``make_basis(**config)`` rebuilds it)."""
        return {"name": self.name}

    def forward_link(self, theta: Tensor) -> Tensor:
        """Quantity -> linear predictor."""
        if self.link == "log":
            if (theta <= 0).any():
                raise InputDataError(
                    f"the {self.name} basis models log(quantity); all values must be positive"
                )
            return theta.log()
        return theta

    def inverse_link(self, eta: Tensor) -> Tensor:
        """Linear predictor -> quantity."""
        return eta.exp() if self.link == "log" else eta


class PowerLaw(ScalingBasis):
    """``theta = a V^b``, i.e. ``ln theta = ln a + b' log10 V``.

    >>> PowerLaw().features(torch.tensor([0.0, 1.0])).shape
    torch.Size([2, 1])
    """

    link = "log"
    name = "power"

    @property
    def n_features(self) -> int:
        return 1

    def features(self, log10_volume: Tensor) -> Tensor:
        return log10_volume.unsqueeze(-1)


class LogLaw(ScalingBasis):
    """``theta = a + b log10 V`` (can change sign when extrapolated; see the surrogate's floor).

    >>> LogLaw().link
    'identity'
    """

    link = "identity"
    name = "log"

    @property
    def n_features(self) -> int:
        return 1

    def features(self, log10_volume: Tensor) -> Tensor:
        return log10_volume.unsqueeze(-1)


class PiecewiseLogLinear(ScalingBasis):
    """Continuous piecewise-linear function of ``log10 V`` with hinges at ``knots``.

    Features ``[x, max(x - k1, 0), max(x - k2, 0), ...]``; beyond the last knot it extrapolates
    with the slope of the last segment.

    Args:
        knots: hinge locations in log10 litres (e.g. ``(1.0, 2.0)`` for 10 L and 100 L).
        link: ``"identity"`` (default) or ``"log"``.

    >>> PiecewiseLogLinear((1.0,)).features(torch.tensor([0.0, 2.0])).tolist()
    [[0.0, 0.0], [2.0, 1.0]]
    """

    name = "piecewise"

    def __init__(self, knots: Sequence[float] = (1.0,), link: str = "identity") -> None:
        if link not in ("identity", "log"):
            raise InputDataError(f"link must be 'identity' or 'log', got {link!r}")
        self.knots = tuple(float(k) for k in knots)
        self.link = link

    @property
    def n_features(self) -> int:
        return 1 + len(self.knots)

    def features(self, log10_volume: Tensor) -> Tensor:
        cols = [log10_volume] + [torch.clamp(log10_volume - k, min=0.0) for k in self.knots]
        return torch.stack(cols, dim=-1)

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "knots": list(self.knots), "link": self.link}


def make_basis(name: str | ScalingBasis = "power", **kwargs: Any) -> ScalingBasis:
    """A basis by name: ``power``, ``log`` or ``piecewise`` (``knots=``, ``link=``).

    >>> make_basis("piecewise", knots=[1.0, 2.0]).n_features
    3
    """
    if isinstance(name, ScalingBasis):
        return name
    key = str(name).lower()
    if key in ("power", "power-law", "powerlaw"):
        return PowerLaw()
    if key in ("log", "log-law", "loglaw"):
        return LogLaw()
    if key in ("piecewise", "piecewise-log-linear"):
        return PiecewiseLogLinear(**kwargs)
    raise InputDataError(f"unknown scaling basis {name!r}; choose 'power', 'log' or 'piecewise'")


def _ridge(design: Tensor, target: Tensor, ridge: float) -> Tensor:
    """Least squares with a small ridge on every coefficient but the intercept (column 0)."""
    p = design.shape[-1]
    pen = torch.full((p,), ridge, dtype=design.dtype, device=design.device)
    pen[0] = 0.0
    gram = design.T @ design + torch.diag(pen) * design.shape[0]
    return torch.linalg.solve(gram, design.T @ target)


def _run_at(lv: Tensor, ops: Tensor) -> str:
    """A run without a label, named by its volume and operating point (``the run at 10 L``)."""
    where = f"{10 ** float(lv[0]):.4g} L"
    if ops.shape[-1]:
        where += " and operating point " + ", ".join(f"{float(v):.4g}" for v in ops[0])
    return f"the run at {where}"


def _as_1d(name: str, x: Any, dtype: torch.dtype, device: torch.device | None = None) -> Tensor:
    t = torch.as_tensor(x, dtype=dtype, device=device).reshape(-1)
    if not torch.isfinite(t).all():
        raise InputDataError(f"{name} has NaN or inf values; remove those rows")
    return t


class ScalingLaw(nn.Module):
    """One quantity as a function of volume: ``theta(V) = link^-1(c0 + c . basis(log10 V))``.

    Args:
        basis: a :class:`ScalingBasis` or its name.
        ridge: ridge penalty on the non-intercept coefficients (per observation).

    >>> law = ScalingLaw("power").fit(torch.tensor([0.0, 1.0, 2.0]), torch.tensor([1.0, 2.0, 4.0]))
    >>> round(float(law(torch.tensor([3.0]))), 3)
    8.0
    """

    def __init__(self, basis: str | ScalingBasis = "power", *, ridge: float = 0.0) -> None:
        super().__init__()
        self.basis = make_basis(basis)
        self.ridge = float(ridge)
        self.register_buffer("coef_", torch.zeros(1 + self.basis.n_features, dtype=DEFAULT_DTYPE))
        self.register_buffer("fitted", torch.tensor(False))

    def fit(self, log10_volume: Tensor, values: Tensor) -> ScalingLaw:
        """Fit to ``values`` (``n``) observed at ``log10_volume`` (``n``)."""
        x = _as_1d("log10_volume", log10_volume, self.coef_.dtype, self.coef_.device)
        v = _as_1d("values", values, self.coef_.dtype, self.coef_.device)
        if x.shape != v.shape:
            raise InputDataError(
                f"log10_volume and values differ in length: {x.numel()} vs {v.numel()}"
            )
        if x.numel() < 1 + self.basis.n_features:
            raise InputDataError(
                f"{x.numel()} points for {1 + self.basis.n_features} coefficients; give more "
                "volumes or a simpler basis"
            )
        design = torch.cat([torch.ones_like(x).unsqueeze(-1), self.basis.features(x)], dim=-1)
        self.coef_.copy_(_ridge(design, self.basis.forward_link(v), self.ridge))
        self.fitted.fill_(True)
        return self

    def forward(self, log10_volume: Tensor) -> Tensor:
        """Predicted quantity at ``log10_volume`` (``...``)."""
        if not bool(self.fitted):
            raise NotFittedError("ScalingLaw is not fitted; call fit(log10_volume, values)")
        x = torch.as_tensor(log10_volume, dtype=self.coef_.dtype, device=self.coef_.device)
        eta = self.coef_[0] + self.basis.features(x) @ self.coef_[1:]
        return self.basis.inverse_link(eta)


class ScalingLawSurrogate(nn.Module):
    """The classic scaling workflow as a callable low-fidelity level.

    Fitting (:meth:`fit`) is two-stage: (1) a growth curve (``growth``) is fitted by least squares
    to each run (rows grouped by ``groups``, default: by volume and operating point); (2) each
    curve parameter, through the basis link (log for power laws), is regressed on
    ``[1, basis(log10 V), standardised operating variables]`` by ridge least squares over the runs.
    Evaluation (:meth:`forward`) computes the parameters at any ``(V, operating point)`` and the
    curve at ``time_h``. The surrogate knows only the data given to :meth:`fit`, so fit it on the
    training volumes only.

    Args:
        growth: ``"baranyi"`` (default), ``"logistic"``, ``"gompertz"`` or a
            :class:`~mfgp.scaling.growth.GrowthModel` subclass.
        basis: ``"power"`` (default), ``"log"``, ``"piecewise"`` or a :class:`ScalingBasis`.
        operating_columns: indices into ``X_feat`` (>= 2) of operating variables whose linear
            effect on the parameters is fitted (default none: a function of volume and time only).
            Leave out variables that are confounded with volume (like rpm under a scale-up rule).
        ridge: ridge penalty on the non-intercept coefficients of stage 2.
        floor: smallest value of any parameter after the inverse link (keeps identity-link
            extrapolations positive).
        dtype: float dtype of the fitted coefficients.

    Example:
        >>> import torch
        >>> from mfgp.scaling.growth import BaranyiGrowth
        >>> t = torch.linspace(0, 36, 13, dtype=torch.float64)
        >>> x, y = [], []
        >>> for lv in (0.0, 1.0, 2.0):
        ...     p = torch.tensor([0.15, 60.0 - 3 * lv, 0.35, 5.0], dtype=torch.float64)
        ...     x.append(torch.full_like(t, lv)); y.append(BaranyiGrowth.curve(t, p))
        >>> s = ScalingLawSurrogate().fit(torch.cat(x), t.repeat(3), torch.cat(y))
        >>> X = torch.tensor([[4.0, 36.0]], dtype=torch.float64)
        >>> round(float(s(X)), 0)
        48.0
    """

    def __init__(
        self,
        growth: str | type[GrowthModel] = "baranyi",
        basis: str | ScalingBasis = "power",
        *,
        operating_columns: Sequence[int] = (),
        ridge: float = 1e-3,
        floor: float = 1e-6,
        dtype: torch.dtype = DEFAULT_DTYPE,
        **basis_options: Any,
    ) -> None:
        super().__init__()
        self.growth = get_growth_model(growth)
        self.basis = make_basis(basis, **basis_options)
        self.operating_columns = tuple(int(c) for c in operating_columns)
        if any(c < 2 for c in self.operating_columns):
            raise InputDataError(
                f"operating_columns {self.operating_columns} must index X_feat columns >= 2 "
                "(0 is log10 volume, 1 is time)"
            )
        self.ridge, self.floor = float(ridge), float(floor)
        k = len(self.growth.param_names)
        q = len(self.operating_columns)
        p = 1 + self.basis.n_features + q
        self.register_buffer("coef_", torch.zeros(p, k, dtype=dtype))
        self.register_buffer("op_mean_", torch.zeros(q, dtype=dtype))
        self.register_buffer("op_std_", torch.ones(q, dtype=dtype))
        self.register_buffer("fitted", torch.tensor(False))

    # ----------------------------------------------------------------- config
    def get_config(self) -> dict[str, Any]:
        """JSON-serialisable constructor arguments (rebuild with ``ScalingLawSurrogate(**cfg)``,
        then ``load_state_dict``)."""
        bcfg = self.basis.config()
        return {
            "growth": self.growth.name,
            "basis": bcfg.pop("name"),
            "operating_columns": list(self.operating_columns),
            "ridge": self.ridge,
            "floor": self.floor,
            **bcfg,
        }

    @property
    def param_names(self) -> tuple[str, ...]:
        """Names of the growth-curve parameters."""
        return self.growth.param_names

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        log10_volume: Tensor,
        time_h: Tensor,
        y: Tensor,
        *,
        operating: Tensor | None = None,
        groups: Tensor | Sequence[Any] | None = None,
    ) -> ScalingLawSurrogate:
        """Fit the surrogate to observations.

        Args:
            log10_volume: ``n`` log10 working volumes (litres).
            time_h: ``n`` culture times (h).
            y: ``n`` observations of the target (its units are kept).
            operating: ``n x q`` operating variables, the columns ``operating_columns`` of
                ``X_feat`` in the same order (required when ``operating_columns`` is not empty).
            groups: ``n`` run labels; rows sharing a label form one growth curve. Default: rows
                with equal volume and operating variables.

        Returns:
            ``self``, fitted.

        Raises:
            InputDataError: bad shapes, too few runs or points per run.
            ModelFittingError: a growth-curve fit failed.
        """
        dtype, device = self.coef_.dtype, self.coef_.device
        # fitting runs on the CPU (the growth curves are fitted with scipy); the coefficients
        # are then copied to the surrogate's device
        cpu = torch.device("cpu")
        lv = _as_1d("log10_volume", log10_volume, torch.float64, cpu)
        tt = _as_1d("time_h", time_h, torch.float64, cpu)
        yy = _as_1d("y", y, torch.float64, cpu)
        n = lv.numel()
        if tt.numel() != n or yy.numel() != n:
            raise InputDataError(
                f"log10_volume, time_h and y must have equal lengths, got {n}, {tt.numel()}, "
                f"{yy.numel()}"
            )
        q = len(self.operating_columns)
        if q:
            if operating is None:
                raise InputDataError(
                    f"operating_columns={list(self.operating_columns)} needs operating= (n x {q})"
                )
            ops = torch.as_tensor(operating, dtype=torch.float64, device=cpu).reshape(n, -1)
            if ops.shape[1] != q:
                raise InputDataError(f"operating must be n x {q}, got {tuple(ops.shape)}")
        else:
            ops = torch.zeros(n, 0, dtype=torch.float64)
        names: list[str] | None = None
        if groups is None:
            keys = torch.cat([lv.unsqueeze(-1), ops], dim=-1)
            _, gid = torch.unique(keys, dim=0, return_inverse=True)
        else:
            labels = list(groups.tolist() if isinstance(groups, Tensor) else groups)
            if len(labels) != n:
                raise InputDataError(f"groups must have {n} labels, got {len(labels)}")
            lookup = {lab: i for i, lab in enumerate(dict.fromkeys(labels))}
            gid = torch.tensor([lookup[lab] for lab in labels])
            names = [repr(str(lab)) for lab in lookup]
        n_groups = int(gid.max()) + 1
        k = len(self.growth.param_names)
        rows_lv, rows_ops, rows_theta = [], [], []
        for g in range(n_groups):
            m = gid == g
            run = f"run {names[g]}" if names is not None else _run_at(lv[m], ops[m])
            if int(m.sum()) < k + 1:
                raise InputDataError(
                    f"{run} has {int(m.sum())} time points; a {self.growth.name} curve needs at "
                    f"least {k + 1}; for end-point data (one row per run) drop the time column"
                )
            try:
                model = self.growth().fit(tt[m], yy[m])
            except ModelFittingError as err:
                raise ModelFittingError(f"growth-curve fit of {run} failed: {err}") from err
            rows_lv.append(lv[m].mean())
            rows_ops.append(ops[m].mean(0))
            rows_theta.append(model.params.detach())
        glv = torch.stack(rows_lv)
        gops = torch.stack(rows_ops)
        theta = torch.stack(rows_theta)  # G x k
        p = self.coef_.shape[0]
        if n_groups < 1 + self.basis.n_features:
            raise InputDataError(
                f"{n_groups} runs cannot fit {1 + self.basis.n_features} basis coefficients; "
                "give runs at more volumes or choose a simpler basis"
            )
        if q:
            mean, std = gops.mean(0), gops.std(0, unbiased=False)
            std = torch.where(std > 0, std, torch.ones_like(std))
        else:
            mean, std = torch.zeros(0, dtype=torch.float64), torch.ones(0, dtype=torch.float64)
        design = self._design(glv, gops, mean, std)
        assert design.shape[-1] == p
        eta = self.basis.forward_link(theta)
        coef = _ridge(design, eta, self.ridge)
        self.coef_.copy_(coef.to(dtype=dtype, device=device))
        self.op_mean_.copy_(mean.to(dtype=dtype, device=device))
        self.op_std_.copy_(std.to(dtype=dtype, device=device))
        self.run_params_ = theta
        self.run_log10_volume_ = glv
        self.fitted.fill_(True)
        return self

    def fit_features(self, X_feat: Tensor, y: Tensor, **kwargs: Any) -> ScalingLawSurrogate:
        """Fit from a feature matrix ``n x d`` (ScaleUpData feature order) and targets ``n``."""
        X = torch.as_tensor(X_feat)
        if X.dim() != 2 or X.shape[-1] < 2:
            raise InputDataError(f"X_feat must be n x d with d >= 2, got {tuple(X.shape)}")
        ops = X[:, list(self.operating_columns)] if self.operating_columns else None
        return self.fit(X[:, 0], X[:, 1], y, operating=ops, **kwargs)

    def _design(self, lv: Tensor, ops: Tensor, mean: Tensor, std: Tensor) -> Tensor:
        parts = [torch.ones_like(lv).unsqueeze(-1), self.basis.features(lv)]
        if ops.shape[-1]:
            parts.append((ops - mean) / std)
        return torch.cat(parts, dim=-1)

    # ------------------------------------------------------------- evaluate
    def parameters_at(self, log10_volume: Tensor, operating: Tensor | None = None) -> Tensor:
        """Growth-curve parameters (``... x k``) at ``log10_volume`` (``...``) and operating
        variables (``... x q``)."""
        self._check_fitted()
        lv = torch.as_tensor(log10_volume).to(self.coef_)
        q = len(self.operating_columns)
        ops = torch.as_tensor(operating).to(self.coef_) if q else lv.new_zeros(*lv.shape, 0)
        eta = self._design(lv, ops, self.op_mean_, self.op_std_) @ self.coef_
        return torch.clamp(self.basis.inverse_link(eta), min=self.floor)

    def forward(self, X_feat: Tensor) -> Tensor:
        """Evaluate at features ``X_feat`` (``... x n x d``; column 0 log10 volume in L, column 1
        time in h, operating variables after). Returns ``... x n`` in the dtype and on the device
        of ``X_feat`` (computed in the surrogate's dtype)."""
        X = torch.as_tensor(X_feat)
        if X.shape[-1] < 2 or (
            self.operating_columns and X.shape[-1] <= max(self.operating_columns)
        ):
            need = max((1, *self.operating_columns)) + 1
            raise InputDataError(
                f"X_feat needs at least {need} columns (log10_volume_L, time_h, ...), "
                f"got shape {tuple(X.shape)}"
            )
        Xc = X.to(self.coef_)
        ops = Xc[..., list(self.operating_columns)] if self.operating_columns else None
        theta = self.parameters_at(Xc[..., 0], ops)
        out = self.growth.curve(Xc[..., 1], theta)
        return out.to(dtype=X.dtype if X.is_floating_point() else out.dtype, device=X.device)

    def _check_fitted(self) -> None:
        if not bool(self.fitted):
            raise NotFittedError(
                "ScalingLawSurrogate is not fitted; call fit(log10_volume, time_h, y) or "
                "load_state_dict() first"
            )

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())


class ScalingLawMean(Mean):
    """A GPyTorch mean function that evaluates a fitted :class:`ScalingLawSurrogate`.

    Args:
        surrogate: the fitted surrogate (its parameters are fixed buffers, not trained).
        columns: indices of the GP input columns that form ``X_feat`` in feature order (default:
            all columns). Note that BoTorch input transforms (``Normalize``) are applied before the
            mean: give the mean untransformed inputs, or compose the inverse transform.
        scale: learn a multiplicative factor ``rho`` on the surrogate (a learnable parameter,
            initialised at 1), as in the AR1 model ``f = rho f_0 + delta``.

    >>> import torch
    >>> from mfgp.scaling.growth import BaranyiGrowth
    >>> t = torch.linspace(0, 36, 13, dtype=torch.float64)
    >>> y = BaranyiGrowth.curve(t, torch.tensor([0.2, 50.0, 0.4, 4.0], dtype=torch.float64))
    >>> lv = torch.cat([torch.zeros(13), torch.ones(13)])
    >>> s = ScalingLawSurrogate(basis="log").fit(lv, t.repeat(2), y.repeat(2))
    >>> ScalingLawMean(s)(torch.stack([torch.zeros(3), t[:3]], -1).double()).shape
    torch.Size([3])
    """

    def __init__(
        self,
        surrogate: ScalingLawSurrogate,
        *,
        columns: Sequence[int] | None = None,
        scale: bool = False,
    ) -> None:
        super().__init__()
        surrogate._check_fitted()
        self.surrogate = surrogate
        self.columns = None if columns is None else tuple(int(c) for c in columns)
        if scale:
            self.register_parameter("rho", nn.Parameter(torch.ones((), dtype=DEFAULT_DTYPE)))
        else:
            self.rho = None

    def forward(self, x: Tensor) -> Tensor:
        """``... x n x d`` -> ``... x n``."""
        feats = x[..., list(self.columns)] if self.columns is not None else x
        out = self.surrogate(feats)
        return out if self.rho is None else self.rho.to(out) * out


def append_surrogate_feature(X_feat: Tensor, surrogate: ScalingLawSurrogate) -> Tensor:
    """Return ``X_feat`` (``... x n x d``) with the surrogate's prediction as an extra last column
    (``... x n x (d + 1)``), for models that use it as an input feature.

    >>> import torch
    >>> from mfgp.scaling.growth import BaranyiGrowth
    >>> t = torch.linspace(0, 36, 13, dtype=torch.float64)
    >>> y = BaranyiGrowth.curve(t, torch.tensor([0.2, 50.0, 0.4, 4.0], dtype=torch.float64))
    >>> lv = torch.cat([torch.zeros(13), torch.ones(13)])
    >>> s = ScalingLawSurrogate(basis="log").fit(lv, t.repeat(2), y.repeat(2))
    >>> append_surrogate_feature(torch.zeros(5, 2, dtype=torch.float64), s).shape
    torch.Size([5, 3])
    """
    return torch.cat([X_feat, surrogate(X_feat).unsqueeze(-1)], dim=-1)


def dimensionless_features(
    volume_L: Tensor,
    rpm: Tensor,
    vvm: Tensor,
    *,
    h_over_t: float | Tensor = 1.0,
    d_over_t: float = 1.0 / 3.0,
    power_number: float = 5.0,
    n_impellers: float | Tensor = 1,
    coalescing: bool = False,
) -> Tensor:
    """Physics features for each row: ``log10`` of gassed P/V (W/m3), tip speed (m/s), kLa (1/h)
    and 95 % mixing time (s).

    Args:
        volume_L, rpm, vvm: ``n`` (or any common shape) volumes (L), stirrer speeds (rpm) and
            aeration rates (vvm).
        h_over_t, d_over_t, power_number, n_impellers: vessel geometry (broadcast).
        coalescing: van 't Riet variant.

    Returns:
        ``... x 4`` tensor in the dtype and device of ``volume_L``.

    >>> f = dimensionless_features(torch.tensor([10.0]), torch.tensor([500.0]), torch.tensor([1.0]))
    >>> [round(v, 2) for v in f[0].tolist()]
    [2.54, 0.31, 2.16, 0.52]
    """
    V = torch.as_tensor(volume_L)
    if not V.is_floating_point():
        V = V.to(DEFAULT_DTYPE)
    if (V <= 0).any():
        raise InputDataError("volume_L must be positive; check the volume column (litres)")
    rpm_t, vvm_t = torch.as_tensor(rpm).to(V), torch.as_tensor(vvm).to(V)
    Vm = V / 1000.0
    g = corr.vessel_geometry(Vm, h_over_t, d_over_t)
    N = rpm_t / 60.0
    P0 = corr.ungassed_power(N, g.D, power_number=power_number, n_impellers=n_impellers)
    Pg = corr.gassed_power(P0, N, g.D, corr.gas_flow_rate(vvm_t, Vm))
    pv = Pg / Vm
    us = corr.superficial_gas_velocity(vvm_t, Vm, g.T)
    kla = corr.kla_van_t_riet(pv, us, coalescing=coalescing) * 3600.0
    theta = corr.mixing_time_grenville(N, g.D, g.T, power_number=power_number, H=g.H)
    tip = corr.tip_speed(N, g.D)
    return torch.stack([x.log10() for x in (pv, tip, kla, theta)], dim=-1)
