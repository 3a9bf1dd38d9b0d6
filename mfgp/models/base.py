"""The interface every mfgp model follows, the model registry, and save/load.

Every model (the AR1 co-kriging GP, NARGP and every baseline) is a ``torch.nn.Module`` and a
BoTorch :class:`~botorch.models.model.Model`:

- ``fit(data, *, seed=0, **options) -> self`` takes a :class:`~mfgp.data.ScaleUpData` (or a
  tuple ``(X, Y)`` / ``(X, Y, Yvar)`` of tensors) and returns the fitted model;
- ``posterior(X)`` returns a BoTorch posterior (full covariance where the model has one), so that
  any BoTorch acquisition function runs on it unchanged;
- ``predict(X)`` returns a :class:`~mfgp.prediction.Prediction` (mean, variance, 95 % bounds
  and the predictive distribution itself: Gaussian unless the model overrides ``predict``) in
  data units;
- ``save(path)`` writes ``model.json`` (class, configuration, names, versions) and ``state.pt``
  (state dict and training tensors); :func:`load_model` reads them back.

Inputs ``X`` are ``n x d`` tensors whose **last column is the fidelity index** (0 = cheapest,
highest = measured truth); the other columns are the model features, in the order of
``ScaleUpData.feature_names`` (``log10_volume_L``, ``time_h``, operating variables).
Models standardise internally, so ``X`` and ``Y`` are in the units of the data.

Subclasses implement ``_build`` (construct the modules from training tensors, no optimisation),
``_optimize`` (fit hyperparameters) and ``posterior``; the base class does validation, seeding,
device and dtype handling and persistence. A model that cannot fit some data sets (``classic``
needs time courses) says so, before fitting, through ``applicability(data)``: ``None`` or one
short reason.
"""

from __future__ import annotations

import inspect
import json
import pickle
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import torch
from botorch.models.model import Model
from botorch.posteriors import GPyTorchPosterior, Posterior
from gpytorch.distributions import MultivariateNormal
from linear_operator.operators import DiagLinearOperator
from torch import Tensor

from mfgp import io
from mfgp.distributions import Z95
from mfgp.exceptions import InputDataError, NotFittedError
from mfgp.fit import seeded
from mfgp.memory import DENSE_COPIES, dense_gp_bytes
from mfgp.prediction import Prediction
from mfgp.settings import check_same_dtype, resolve_device

__all__ = [
    "MODEL_REGISTRY",
    "Z95",
    "Prediction",
    "ScaleUpModel",
    "as_training_tensors",
    "gaussian_posterior",
    "init_option_names",
    "read_model",
    "register_model",
]

M = TypeVar("M", bound="ScaleUpModel")

#: name -> model class; filled by :func:`register_model`.
MODEL_REGISTRY: dict[str, type[ScaleUpModel]] = {}


def register_model(name: str) -> Callable[[type[M]], type[M]]:
    """Class decorator that makes a model selectable by ``name`` (``mfgp run --model NAME``)."""

    def decorator(cls: type[M]) -> type[M]:
        if name in MODEL_REGISTRY and MODEL_REGISTRY[name] is not cls:
            raise ValueError(f"model name {name!r} is already registered")
        cls.name = name
        MODEL_REGISTRY[name] = cls
        return cls

    return decorator


def gaussian_posterior(mean: Tensor, covariance: Tensor) -> GPyTorchPosterior:
    """Wrap a mean (``batch x n``) and a covariance (``batch x n x n``) or variance (``batch x n``)
    as a BoTorch posterior, for models whose predictive distribution is Gaussian."""
    if covariance.dim() == mean.dim():
        cov = DiagLinearOperator(covariance.clamp_min(1e-12))
    else:
        cov = covariance
    return GPyTorchPosterior(MultivariateNormal(mean, cov))


def as_training_tensors(data: Any) -> tuple[Tensor, Tensor, Tensor | None]:
    """Extract ``(X, Y, Yvar)`` from a :class:`~mfgp.data.ScaleUpData` or a tuple of tensors.

    Returns:
        ``X`` (``n x d``, fidelity index last), ``Y`` (``n x 1``), ``Yvar`` (``n x 1`` or None).
    """
    if hasattr(data, "X") and hasattr(data, "Y"):
        X, Y, Yvar = data.X, data.Y, getattr(data, "Yvar", None)
    elif isinstance(data, (tuple, list)) and len(data) in (2, 3):
        X, Y = data[0], data[1]
        Yvar = data[2] if len(data) == 3 else None
    else:
        raise InputDataError(
            "fit() expects a ScaleUpData or a tuple (X, Y) or (X, Y, Yvar) of tensors, "
            f"got {type(data).__name__}"
        )
    if not isinstance(X, Tensor) or not isinstance(Y, Tensor):
        raise InputDataError("X and Y must be torch tensors (use ScaleUpData to load a CSV)")
    if Y.dim() == 1:
        Y = Y.unsqueeze(-1)
    if Yvar is not None and Yvar.dim() == 1:
        Yvar = Yvar.unsqueeze(-1)
    if X.dim() != 2 or X.shape[-1] < 1:
        raise InputDataError(f"X must have shape n x d (fidelity last), got {tuple(X.shape)}")
    if Y.shape != (X.shape[0], 1):
        raise InputDataError(
            f"Y must have shape n x 1 matching X's {X.shape[0]} rows, got {tuple(Y.shape)}"
        )
    if Yvar is not None and Yvar.shape != Y.shape:
        raise InputDataError(f"Yvar must have the shape of Y {tuple(Y.shape)}")
    check_same_dtype(X, Y, Yvar, names=("X", "Y", "Yvar"))
    if not X.is_floating_point():
        raise InputDataError(f"X must be a float tensor, got {X.dtype}")
    for name, t in (("X", X), ("Y", Y), ("Yvar", Yvar)):
        if t is not None and not torch.isfinite(t).all():
            rows = torch.nonzero(~torch.isfinite(t).all(dim=-1)).flatten()[:10].tolist()
            raise InputDataError(f"{name} has NaN or inf values at rows {rows}; remove them")
    fid = X[:, -1]
    if (fid != fid.round()).any() or (fid < 0).any():
        raise InputDataError(
            "the last column of X must be the fidelity index (0, 1, 2, ...), "
            f"got values {sorted(set(fid.tolist()))[:10]}"
        )
    return X, Y, Yvar


class ScaleUpModel(Model, ABC):
    """Base class of mfgp models (see the module docstring for the contract).

    Subclasses set ``name`` through :func:`register_model`, pass their JSON-serialisable
    configuration to ``super().__init__(**config)`` and implement :meth:`_build`,
    :meth:`_optimize` and :meth:`posterior`. Fitted state ends in ``_``.
    """

    name: ClassVar[str] = "base"
    #: True when the model uses rows of every fidelity; False for top-level-only models.
    multi_fidelity: ClassVar[bool] = False
    #: the options :meth:`fit` takes (optimiser settings); each model declares its own.
    fit_options: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **config: Any) -> None:
        super().__init__()
        self.config: dict[str, Any] = dict(config)
        self.metadata: dict[str, Any] = {}
        self.fitted_: bool = False

    # ------------------------------------------------------------------ fitting
    def applicability(self, data: Any) -> str | None:
        """Whether this model, with its options, can fit ``data``, before any fitting.

        Args:
            data: a :class:`~mfgp.data.ScaleUpData` (or an ``(X, Y[, Yvar])`` tuple, about
                which less can be told).

        Returns:
            ``None`` when the model can fit ``data``; otherwise one short reason, such as
            ``"needs time courses (a time column); the data are end points"`` (the default is
            ``None``: models that can fit any data set do not override this).

        Example:
            >>> from mfgp.models import get_model
            >>> get_model("gp").applicability(None) is None
            True
        """
        return None

    def fit(self: M, data: Any, *, seed: int | None = 0, **options: Any) -> M:
        """Fit the model to ``data``.

        Args:
            data: a :class:`~mfgp.data.ScaleUpData`, or a tuple ``(X, Y)``/``(X, Y, Yvar)`` with
                ``X`` ``n x d`` (fidelity index last), ``Y`` and ``Yvar`` ``n x 1``.
            seed: seed for restarts and any other randomness (``None``: not seeded).
            **options: optimiser options of the subclass, those named in its
                :attr:`fit_options` (any other is refused).

        Returns:
            ``self``, fitted.
        """
        unknown = sorted(set(options) - set(type(self).fit_options))
        if unknown:
            known = ", ".join(type(self).fit_options) or "none"
            raise InputDataError(
                f"{type(self).__name__}.fit has no option {', '.join(map(repr, unknown))}; "
                f"its fit options: {known} (model options go to the constructor)"
            )
        X, Y, Yvar = as_training_tensors(data)
        for key in ("feature_names", "fidelity_names", "target"):
            value = getattr(data, key, None)
            if value is not None:
                self.metadata[key] = list(value) if not isinstance(value, str) else value
        self.train_X_, self.train_Y_, self.train_Yvar_ = X, Y, Yvar
        self.n_features_ = X.shape[-1]
        self.n_fidelities_ = int(X[:, -1].max().item()) + 1
        if "fidelity_names" in self.metadata:
            self.n_fidelities_ = max(self.n_fidelities_, len(self.metadata["fidelity_names"]))
        # building draws random initial values too (e.g. GPyTorch's LinearMean weights): seed
        # it, or degenerate fits depend on whatever the global RNG held before
        with seeded(seed, X.device):
            self._build(X, Y, Yvar)
            self.to(device=X.device, dtype=X.dtype)
            self._optimize(seed=seed, **options)
        self.fitted_ = True
        self.eval()
        return self

    def fit_choices(self) -> dict[str, Any]:
        """What the last fit chose from the data where an option left the choice open (for
        example AR1's output transform with ``log_transform="auto"``), as JSON-serialisable
        values; empty when the model makes no such choice. Recorded by ``mfgp run`` in
        ``metrics.json`` and shown in its report.

        Example:
            >>> from mfgp.models import AR1MultiFidelityGP
            >>> import torch
            >>> X = torch.tensor([[0.0, 0], [0.5, 0], [1.0, 0], [0.0, 1], [1.0, 1]])
            >>> Y = torch.tensor([[1.0], [2.0], [1.5], [2.1], [3.2]], dtype=torch.float64)
            >>> m = AR1MultiFidelityGP(log_transform="auto", restarts=1, maxiter=20)
            >>> m.fit((X.double(), Y)).fit_choices()["log_transform"] in ("identity", "log")
            True
        """
        self._check_fitted()
        return {}

    def memory_estimate(self, X: Tensor) -> tuple[int, int | None, int]:
        """Peak memory of fitting this model on the inputs ``X`` (``n x d``, fidelity last),
        estimated from the row counts alone, before any work is done.

        Returns:
            ``(bytes, level, rows)``: the bytes needed, the fidelity index of the rows that
            need them (``None``: rows of every level together) and how many rows that is.
            ``(0, None, 0)`` for a model that holds no dense ``n x n`` matrix (the default).
        """
        return 0, None, 0

    @staticmethod
    def _dense_need(
        X: Tensor, levels: list[int] | None, *, copies: int = DENSE_COPIES
    ) -> tuple[int, int | None, int]:
        """:meth:`memory_estimate` of a model with one exact GP per level in ``levels``
        (``None``: one exact GP over the rows of every level)."""
        fid = X[:, -1].round().long()
        itemsize = X.element_size()
        if levels is None:
            n = int(X.shape[0])
            return dense_gp_bytes(n, copies=copies, itemsize=itemsize), None, n
        counts = {k: int((fid == k).sum()) for k in levels}
        if not counts:
            return 0, None, 0
        level = max(counts, key=counts.__getitem__)
        n = counts[level]
        return dense_gp_bytes(n, copies=copies, itemsize=itemsize), level, n

    @abstractmethod
    def _build(self, X: Tensor, Y: Tensor, Yvar: Tensor | None) -> None:
        """Create the submodules for training data ``X``, ``Y`` (no optimisation)."""

    @abstractmethod
    def _optimize(self, *, seed: int | None, **options: Any) -> None:
        """Fit hyperparameters or weights; runs inside :func:`seeded`."""

    # --------------------------------------------------------------- prediction
    @property
    def num_outputs(self) -> int:
        return 1

    def _check_fitted(self) -> None:
        if not self.fitted_:
            raise NotFittedError(f"{type(self).__name__} is not fitted: call fit(data) first")

    def _check_X(self, X: Tensor) -> None:
        """Validate a test input ``batch x n x d`` against the training inputs."""
        self._check_fitted()
        if not isinstance(X, Tensor):
            raise InputDataError(f"X must be a torch tensor, got {type(X).__name__}")
        if X.dim() < 2 or X.shape[-1] != self.n_features_:
            raise InputDataError(
                f"X must have shape (batch x) n x {self.n_features_} (fidelity index last), "
                f"got {tuple(X.shape)}"
            )
        check_same_dtype(self.train_X_, X, names=("the training data", "X"))
        fid = X[..., -1]
        if ((fid != fid.round()) | (fid < 0) | (fid > self.n_fidelities_ - 1)).any():
            raise InputDataError(
                f"the last column of X is the fidelity index and must be one of "
                f"0..{self.n_fidelities_ - 1}; got {sorted(set(fid.flatten().tolist()))[:10]}"
            )

    @abstractmethod
    def posterior(
        self,
        X: Tensor,
        output_indices: list[int] | None = None,
        observation_noise: bool | Tensor = False,
        posterior_transform: Any = None,
        **kwargs: Any,
    ) -> Posterior:
        """Posterior at ``X`` (``batch x n x d``, fidelity index last), in data units."""

    def predict(self, X: Tensor, *, observation_noise: bool = False) -> Prediction:
        """Pointwise predictive distribution at ``X`` (``n x d``): here the Gaussian of the
        posterior's marginal mean and variance (models whose predictive distribution is not
        Gaussian override this and return it, see :class:`~mfgp.prediction.Prediction`).

        With ``observation_noise=True`` the variance includes the measurement noise, which is
        what a new measurement should be compared with.
        """
        self._check_X(X)
        with torch.no_grad():
            post = self.posterior(X, observation_noise=observation_noise)
            mean = post.mean.squeeze(-1)
            var = post.variance.squeeze(-1).clamp_min(0)
        return Prediction.gaussian(mean, var)

    # -------------------------------------------------------------- persistence
    def get_config(self) -> dict[str, Any]:
        """JSON-serialisable constructor arguments."""
        return dict(self.config)

    def save(self, path: str | Path) -> Path:
        """Save to the directory ``path`` (created; files written atomically): ``model.json``
        (class, configuration, metadata, versions) and ``state.pt`` (tensors only, read back
        with ``torch.load(weights_only=True)``)."""
        self._check_fitted()
        path = Path(path)
        meta = {
            "model": self.name,
            "class": f"{type(self).__module__}.{type(self).__qualname__}",
            "config": self.get_config(),
            "metadata": self.metadata,
            "dtype": str(self.train_X_.dtype).removeprefix("torch."),
            "versions": io.versions(),
        }
        state = {
            "state_dict": {k: v.detach().cpu() for k, v in self.state_dict().items()},
            "train_X": self.train_X_.detach().cpu(),
            "train_Y": self.train_Y_.detach().cpu(),
            "train_Yvar": None if self.train_Yvar_ is None else self.train_Yvar_.detach().cpu(),
            "extra": self._extra_state(),
        }
        io.atomic_write_json(path / "model.json", meta)
        io.atomic_torch_save(path / "state.pt", state)
        return path

    def _extra_state(self) -> dict[str, Any]:
        """Tensors or plain values beyond the state dict that ``load`` needs (override)."""
        return {}

    def _load_extra_state(self, extra: dict[str, Any]) -> None:
        """Restore what :meth:`_extra_state` returned (override)."""

    @classmethod
    def load(
        cls,
        path: str | Path,
        *,
        device: torch.device | str | None = None,
        **overrides: Any,
    ) -> ScaleUpModel:
        """Load a model saved with :meth:`save`; ``overrides`` replace constructor arguments
        (for example a level-0 callable that could not be stored as JSON)."""
        return read_model(path, device=device, expected=cls, **overrides)

    def _restore(self, state: dict[str, Any], metadata: dict[str, Any]) -> None:
        X, Y, Yvar = state["train_X"], state["train_Y"], state["train_Yvar"]
        self.metadata = dict(metadata)
        self.train_X_, self.train_Y_, self.train_Yvar_ = X, Y, Yvar
        self.n_features_ = X.shape[-1]
        self.n_fidelities_ = int(X[:, -1].max().item()) + 1
        if "fidelity_names" in self.metadata:
            self.n_fidelities_ = max(self.n_fidelities_, len(self.metadata["fidelity_names"]))
        self._build(X, Y, Yvar)
        self.to(dtype=X.dtype)
        self._load_extra_state(state.get("extra", {}))
        self.load_state_dict(state["state_dict"])
        self.fitted_ = True
        self.eval()

    def to(self, *args: Any, **kwargs: Any) -> ScaleUpModel:  # type: ignore[override]
        """Move parameters and the stored training tensors to a device and/or dtype (the
        posterior cache is dropped)."""
        super().to(*args, **kwargs)
        self.clear_posterior_cache()
        for name in ("train_X_", "train_Y_", "train_Yvar_"):
            t = getattr(self, name, None)
            if isinstance(t, Tensor):
                setattr(self, name, t.to(*args, **kwargs))
        return self

    # ---------------------------------------------------------- posterior cache
    # Posterior states (Cholesky factors, hyperparameter-draw copies) that an acquisition
    # optimiser would otherwise rebuild on every call, like GPyTorch's prediction strategy:
    # an entry is valid while the tensors it was built from are unchanged (ids and in-place
    # version counters), and the whole cache is dropped by train(), by to() and in copies.
    def _cache_entries(self) -> dict[str, tuple[Any, Any, list[Tensor]]]:
        return self.__dict__.setdefault("_posterior_cache", {})

    def _cache_lookup(self, name: str, tensors: list[Tensor], build: Callable[[], Any]) -> Any:
        """``build()``, cached as entry ``name`` until one of ``tensors`` changes."""
        entry = self._cache_entries().get(name)
        if entry is None or entry[0] != _tensor_key(tensors):
            self._cache_store(name, tensors, build())
        return self._cache_entries()[name][1]

    def _cache_store(self, name: str, tensors: list[Tensor], value: Any) -> None:
        """Store ``value`` as :meth:`_cache_lookup`'s entry ``name`` for ``tensors`` (held, so
        that their ids are not reused)."""
        self._cache_entries()[name] = (_tensor_key(tensors), value, list(tensors))

    def clear_posterior_cache(self) -> None:
        """Drop every cached posterior state; the next posterior call rebuilds what it needs."""
        self.__dict__.pop("_posterior_cache", None)

    def train(self, mode: bool = True) -> ScaleUpModel:
        """Training mode (``mode=True``) drops the posterior cache, as GPyTorch's ``ExactGP``
        drops its prediction strategy; ``eval()`` keeps it."""
        if mode:
            self.clear_posterior_cache()
        return super().train(mode)

    def __getstate__(self) -> dict[str, Any]:
        """Copies and pickles leave the posterior cache behind (it rebuilds on demand)."""
        state = super().__getstate__()
        state.pop("_posterior_cache", None)
        return state

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())


def _tensor_key(tensors: list[Tensor]) -> tuple[tuple[int, int], ...]:
    """Ids and in-place version counters of ``tensors``: changes when one is replaced or edited."""
    return tuple((id(t), t._version) for t in tensors)


def init_option_names(cls: type) -> list[str]:
    """The constructor options of a model class, exactly: the keyword arguments of its
    ``__init__`` and, where that ``__init__`` forwards ``**options`` to its parent class, the
    parent's, up to :class:`ScaleUpModel`."""
    names: list[str] = []
    for klass in cls.__mro__:
        if klass is ScaleUpModel:
            break
        if "__init__" not in vars(klass):
            continue
        params = inspect.signature(klass.__init__).parameters.values()
        names += [
            p.name
            for p in params
            if p.name != "self"
            and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
            and p.name not in names
        ]
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            break
    return names


def read_model(
    path: str | Path,
    *,
    device: torch.device | str | None = None,
    expected: type[ScaleUpModel] | None = None,
    **overrides: Any,
) -> ScaleUpModel:
    """Load any registered model saved with :meth:`ScaleUpModel.save`.

    Args:
        path: the directory written by ``save``.
        device: where to put the model (default CPU).
        expected: if given, raise unless the saved model is of this class.
        **overrides: constructor arguments that replace the saved configuration.
    """
    path = Path(path)
    meta_file, state_file = path / "model.json", path / "state.pt"
    if not meta_file.is_file() or not state_file.is_file():
        raise InputDataError(
            f"{path} is not a saved mfgp model: expected model.json and state.pt inside"
        )
    try:
        meta = json.loads(meta_file.read_text())
        name = meta["model"]
    except (ValueError, KeyError, TypeError) as err:
        raise InputDataError(
            f"{meta_file} is not an mfgp model description ({err}); save the model again"
        ) from None
    cls = MODEL_REGISTRY.get(name)
    if cls is None:
        raise InputDataError(f"{path} holds model {name!r}, which is not registered")
    if expected is not None and expected is not ScaleUpModel and not issubclass(cls, expected):
        raise InputDataError(f"{path} holds a {cls.__name__}, not a {expected.__name__}")
    config = {**meta.get("config", {}), **overrides}
    model = cls(**config)
    state = _load_state(state_file)
    model._restore(state, meta.get("metadata", {}))
    return model.to(resolve_device(device))


def _load_state(state_file: Path) -> dict[str, Any]:
    """``state.pt`` read with ``torch.load(weights_only=True)``: tensors, numbers, strings and
    containers of them only, so that a shared model folder cannot run code when loaded."""
    try:
        state = torch.load(state_file, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if "unsupported global" not in str(err).lower():  # not a forbidden class: damaged
            raise InputDataError(
                f"{state_file} is not a readable mfgp model state (it does not "
                "unpickle as tensors); save the model again"
            ) from None
        raise InputDataError(
            f"{state_file} holds Python objects other than tensors, which mfgp refuses to load "
            "because unpickling them could run code; refit the model and save it with this mfgp"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as err:
        raise InputDataError(
            f"{state_file} is not a readable mfgp model state ({type(err).__name__}: "
            f"{' '.join(str(err).split())[:120]}); save the model again"
        ) from None
    if not isinstance(state, dict) or "state_dict" not in state or "train_X" not in state:
        raise InputDataError(f"{state_file} is not an mfgp model state; save the model again")
    return state
