"""Adapters that run mfgp's models and peer libraries' multi-fidelity models behind one call.

Every adapter has ``name`` and ``fit_predict(train_X, train_Y, test_X, seed) -> (mean, var)``:
``train_X`` is ``N x (d + 1)`` with the fidelity index (0 = cheapest) as the last column,
``train_Y`` is ``N x 1``, ``test_X`` is ``n x (d + 1)`` (the fidelity column is ignored: peers
predict the top level), and ``mean``/``var`` are ``n`` float64 tensors of the latent top-level
function in data units. So every model sees exactly the same designs, in the same process.

Peers, each configured as its own documentation recommends for a noise-free (deterministic)
code, since every test function here is noise-free:

- :class:`BoTorchMultiFidelity`: BoTorch's ``SingleTaskMultiFidelityGP`` (Wu et al. 2019, the
  downsampling/linear-truncated fidelity kernel), fidelity scaled to ``[0, 1]``, inputs normalised
  and outputs standardised by BoTorch transforms, fitted with ``fit_gpytorch_mll``. Noise-free:
  a known observation variance ``train_Yvar`` (BoTorch's models reference: the noise is
  inferred only when ``train_Yvar`` is None), set to ``1e-6`` in standardised units (the
  small fixed value GPyTorch's maintainers suggest for a noise-free GP rather than 0, which is
  numerically unstable: gpytorch issue #1196).
- :class:`EmukitLinear`: Emukit's ``GPyLinearMultiFidelityModel`` with ``LinearMultiFidelityKernel``
  (Kennedy & O'Hagan 2000 AR1, joint), RBF ARD kernels; as Emukit's multi-fidelity tutorial
  (``notebooks/Emukit-tutorial-multi-fidelity.ipynb``: "we choose to fix the noise to '0' for
  both fidelities in order to reflect that the observations are exact"): every level's
  ``mixed_noise.Gaussian_noise*`` fixed at 0 and ``GPyMultiOutputWrapper(...,
  n_optimization_restarts=5)``.
- :class:`EmukitNonLinear`: Emukit's ``NonLinearMultiFidelityModel`` (Perdikaris et al. 2017)
  with ``make_non_linear_kernels(GPy.kern.RBF, ARD=True)``; as the same tutorial's NARGP
  section: ``optimization_restarts=5`` (also the class's default) and
  ``m.Gaussian_noise.variance.fix(0)`` for every level's GPy model (the class itself fixes the
  intermediate levels at 1e-4 and learns the top level's). With the noise fixed at 0 its
  ``predict`` (which includes the likelihood; Emukit has no latent option) is the latent one;
  where it interpolates to round-off that variance collapses (NLPD about 1e300 on Forrester),
  and ``noise_var=1e-6`` (the value of Emukit's own benchmark wrappers,
  ``emukit/examples/multi_fidelity_dgp/baseline_model_wrappers.py``) keeps it finite.
- :class:`SMTMFK`: SMT's ``MFK`` multi-fidelity kriging (Le Gratiet 2013 recursive co-kriging),
  as the MFK documentation's example (``theta0=[1.0] * d``, ``corr="squar_exp"``) with SMT's
  noise-free defaults stated explicitly: ``eval_noise=False``, ``noise0=[0.0]`` (interpolation,
  only the ``nugget`` jitter 100 eps), ``propagate_uncertainty=True`` (lower levels' variance
  in the top-level prediction), and SMT's default ``n_start=10`` optimiser starts.

Emukit (through GPy) is given inputs scaled to the unit cube of the training inputs and outputs
standardised with the statistics of all levels pooled (Emukit does neither itself; its tutorials
use O(1) functions, and GPy's kernels start at variance 1 and lengthscale 1); predictions are
mapped back. SMT scales internally and gets raw data. Emukit and GPy draw restarts from NumPy's
global generator: those adapters seed it inside a context that restores the caller's NumPy state
afterwards, so no global random state leaks.

The optional packages are imported lazily; a missing one raises an ``ImportError`` that says to
``pip install 'mfgp[peers]'``.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch import Tensor

from mfgp.exceptions import InputDataError
from mfgp.fit import seeded
from mfgp.models.base import ScaleUpModel
from mfgp.prediction import Prediction

__all__ = [
    "PEERS",
    "BoTorchMultiFidelity",
    "EmukitLinear",
    "EmukitNonLinear",
    "MFGPAdapter",
    "Peer",
    "SMTMFK",
    "get_peer",
]

log = logging.getLogger(__name__)

_INSTALL_HINT = "install the optional peers with: pip install 'mfgp[peers]' (emukit, GPy, smt)"


def _require(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(f"{module} is not available ({err}); {_INSTALL_HINT}") from err


@contextmanager
def _numpy_seeded(seed: int | None) -> Iterator[None]:
    """Seed NumPy's global generator for a block and restore the caller's state afterwards."""
    state = np.random.get_state()
    try:
        if seed is not None:
            np.random.seed(seed)
        yield
    finally:
        np.random.set_state(state)


def _split(train_X: Tensor, train_Y: Tensor) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per-level feature and target arrays (level 0 first)."""
    X = train_X.detach().cpu().double().numpy()
    Y = train_Y.detach().cpu().double().numpy().reshape(-1, 1)
    fid = np.round(X[:, -1]).astype(int)
    levels = int(fid.max()) + 1
    xs = [X[fid == k, :-1] for k in range(levels)]
    ys = [Y[fid == k] for k in range(levels)]
    if any(len(x) == 0 for x in xs):
        raise InputDataError(f"every level 0..{levels - 1} needs training rows")
    return xs, ys


class Peer:
    """Common shape of an adapter: a ``name`` and :meth:`fit_predict`."""

    name: str = "peer"
    #: what the last fit chose, for the results (e.g. ``{"log_transform": "log"}``); empty if
    #: nothing
    fit_info: dict[str, Any] = {}  # noqa: RUF012 - read-only default, replaced per fit

    def fit_predict(
        self, train_X: Tensor, train_Y: Tensor, test_X: Tensor, seed: int = 0
    ) -> tuple[Tensor, Tensor]:
        """Fit on ``train_X`` (``N x (d+1)``, fidelity last), ``train_Y`` (``N x 1``); return
        the top level's latent mean and variance at ``test_X`` (``n x (d+1)``), ``n`` each."""
        raise NotImplementedError

    def fit_prediction(
        self, train_X: Tensor, train_Y: Tensor, test_X: Tensor, seed: int = 0
    ) -> Prediction:
        """:meth:`fit_predict` as a :class:`~mfgp.prediction.Prediction`: a peer gives moments
        only, so this is the Gaussian of that mean and variance (:class:`MFGPAdapter`: the
        model's own predictive distribution)."""
        mean, var = self.fit_predict(train_X, train_Y, test_X, seed=seed)
        return Prediction.gaussian(mean.double(), var.double())


class MFGPAdapter(Peer):
    """Any mfgp model behind the peer interface.

    Args:
        name: label in results tables.
        factory: callable returning an unfitted :class:`~mfgp.models.base.ScaleUpModel`.

    >>> from mfgp.models.nargp import NARGP
    >>> MFGPAdapter("nargp", lambda: NARGP(restarts=1)).name
    'nargp'
    """

    def __init__(self, name: str, factory: Callable[[], ScaleUpModel]) -> None:
        self.name = name
        self.factory = factory

    def fit_predict(
        self, train_X: Tensor, train_Y: Tensor, test_X: Tensor, seed: int = 0
    ) -> tuple[Tensor, Tensor]:
        pred = self.fit_prediction(train_X, train_Y, test_X, seed=seed)
        return pred.mean, pred.variance

    def fit_prediction(
        self, train_X: Tensor, train_Y: Tensor, test_X: Tensor, seed: int = 0
    ) -> Prediction:
        """The fitted model's own ``predict`` of the top level (with its predictive
        distribution), on the CPU in float64."""
        model = self.factory().fit((train_X, train_Y), seed=seed)
        top = int(train_X[:, -1].max().item())
        Xt = test_X.clone()
        Xt[:, -1] = top
        pred = model.predict(Xt)
        self.fit_info = model.fit_choices()
        return pred.to("cpu", torch.float64)


class BoTorchMultiFidelity(Peer):
    """BoTorch ``SingleTaskMultiFidelityGP`` with the fidelity as a ``[0, 1]`` input.

    Args:
        maxiter: L-BFGS-B iterations of ``fit_gpytorch_mll``.
        noise_free: give BoTorch a known observation variance of ``noise_var`` (in
            standardised units) instead of inferring the noise: the setting for a noise-free
            code (BoTorch infers the noise only when ``train_Yvar`` is None).
        noise_var: that variance, relative to the variance of the training outputs.

    >>> BoTorchMultiFidelity().name
    'botorch_stmf'
    """

    name = "botorch_stmf"

    def __init__(
        self, *, maxiter: int = 200, noise_free: bool = True, noise_var: float = 1e-6
    ) -> None:
        self.maxiter = maxiter
        self.noise_free = noise_free
        self.noise_var = noise_var

    def fit_predict(
        self, train_X: Tensor, train_Y: Tensor, test_X: Tensor, seed: int = 0
    ) -> tuple[Tensor, Tensor]:
        from botorch.fit import fit_gpytorch_mll
        from botorch.models import SingleTaskMultiFidelityGP
        from botorch.models.transforms.input import Normalize
        from botorch.models.transforms.outcome import Standardize
        from gpytorch.mlls import ExactMarginalLogLikelihood

        X = train_X.detach().double().clone()
        d = X.shape[-1] - 1
        top = float(X[:, -1].max().item())
        X[:, -1] = X[:, -1] / max(top, 1.0)
        bounds = torch.stack([X.min(0).values, X.max(0).values])
        bounds[1, -1], bounds[0, -1] = 1.0, 0.0
        Y = train_Y.detach().double()
        # Standardize divides train_Yvar by the outputs' variance: noise_var in standardised units
        Yvar = (
            torch.full_like(Y, self.noise_var * float(Y.var().clamp_min(1e-300)))
            if self.noise_free
            else None
        )
        with seeded(seed), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = SingleTaskMultiFidelityGP(
                X,
                Y,
                train_Yvar=Yvar,
                data_fidelities=[d],
                input_transform=Normalize(d + 1, bounds=bounds),
                outcome_transform=Standardize(1),
            )
            mll = ExactMarginalLogLikelihood(model.likelihood, model)
            fit_gpytorch_mll(mll, optimizer_kwargs={"options": {"maxiter": self.maxiter}})
            Xt = test_X.detach().double().clone()
            Xt[:, -1] = 1.0
            with torch.no_grad():
                post = model.posterior(Xt)
                return post.mean.squeeze(-1), post.variance.squeeze(-1)


class _Scaler:
    """Unit-cube inputs and outputs standardised with all levels' outputs pooled, for peers that
    do not scale (one affine map for every level, so the levels' relation is unchanged)."""

    def __init__(self, xs: list[np.ndarray], ys: list[np.ndarray], pooled: bool = True) -> None:
        allx = np.concatenate(xs)
        self.lo = allx.min(0)
        self.rng = np.where(allx.max(0) > self.lo, allx.max(0) - self.lo, 1.0)
        ally = np.concatenate(ys) if pooled else ys[0]  # pooled=False: level 0's statistics
        self.mu = float(ally.mean())
        self.sd = float(ally.std()) or 1.0

    def x(self, x: np.ndarray) -> np.ndarray:
        return (x - self.lo) / self.rng

    def y(self, y: np.ndarray) -> np.ndarray:
        return (y - self.mu) / self.sd


def _emukit_arrays(
    train_X: Tensor, train_Y: Tensor, test_X: Tensor, pooled: bool = True
) -> tuple[_Scaler, int, int, np.ndarray, np.ndarray, np.ndarray]:
    """Scaled Emukit stacked arrays: ``(scaler, levels, dim, X, Y, scaled test inputs)``."""
    from emukit.multi_fidelity.convert_lists_to_array import convert_xy_lists_to_arrays

    xs, ys = _split(train_X, train_Y)
    sc = _Scaler(xs, ys, pooled)
    X, Y = convert_xy_lists_to_arrays([sc.x(x) for x in xs], [sc.y(y) for y in ys])
    xt = sc.x(test_X.detach().cpu().double().numpy()[:, :-1])
    return sc, len(xs), xs[0].shape[1], X, Y, xt


class EmukitLinear(Peer):
    """Emukit's linear multi-fidelity (AR1) model, RBF ARD kernels, every level's Gaussian noise
    fixed at 0 (exact observations) as Emukit's multi-fidelity tutorial does.

    Args:
        restarts: ``GPyMultiOutputWrapper`` ``n_optimization_restarts`` (the tutorial: 5).
        noise_free: fix every level's likelihood noise at ``noise_var`` (False: learn it per
            level).
        noise_var: the fixed noise variance, in standardised units (the tutorial: 0).
        pooled: standardise the outputs with all levels' statistics (False: level 0's).

    >>> EmukitLinear().name
    'emukit_ar1'
    """

    name = "emukit_ar1"

    def __init__(
        self,
        *,
        restarts: int = 5,
        noise_free: bool = True,
        noise_var: float = 0.0,
        pooled: bool = True,
    ) -> None:
        self.restarts = restarts
        self.noise_free = noise_free
        self.noise_var = noise_var
        self.pooled = pooled

    def fit_predict(
        self, train_X: Tensor, train_Y: Tensor, test_X: Tensor, seed: int = 0
    ) -> tuple[Tensor, Tensor]:
        gpy = _require("GPy")
        _require("emukit")
        from emukit.model_wrappers.gpy_model_wrappers import GPyMultiOutputWrapper
        from emukit.multi_fidelity.convert_lists_to_array import convert_x_list_to_array
        from emukit.multi_fidelity.kernels import LinearMultiFidelityKernel
        from emukit.multi_fidelity.models import GPyLinearMultiFidelityModel

        sc, L, d, X, Y, xt = _emukit_arrays(train_X, train_Y, test_X, self.pooled)
        with _numpy_seeded(seed), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            kernels = [gpy.kern.RBF(d, ARD=True) for _ in range(L)]
            kernel = LinearMultiFidelityKernel(kernels)
            gp = GPyLinearMultiFidelityModel(X, Y, kernel, n_fidelities=L)
            if self.noise_free:  # the tutorial's mixed_noise.Gaussian_noise{,_1,...}.fix(0)
                for lik in gp.mixed_noise.likelihoods_list:
                    lik.variance.fix(self.noise_var)
            model = GPyMultiOutputWrapper(
                gp, L, n_optimization_restarts=self.restarts, verbose_optimization=False
            )
            model.optimize()
            Xt = convert_x_list_to_array([xt] * L)[len(xt) * (L - 1) :]
            mean, var = gp.predict(Xt, include_likelihood=False)  # latent, as the others
        return _back(mean, var, sc)


class EmukitNonLinear(Peer):
    """Emukit's NARGP (``NonLinearMultiFidelityModel``), RBF ARD kernels, every level's Gaussian
    noise fixed at 0 as Emukit's multi-fidelity tutorial does for exact observations.

    Args:
        restarts: GPy ``optimize_restarts`` per level (the tutorial and the class default: 5).
        n_samples: Monte Carlo samples per level (Emukit nests them: ``n_samples^(L-1)``; the
            class default, 100).
        noise_free: fix every level's noise at ``noise_var`` (False: Emukit's own default,
            intermediate levels at 1e-4 and the top level's learned).
        noise_var: the fixed noise variance, in standardised units (the tutorial: 0).
        pooled: standardise the outputs with all levels' statistics (False: level 0's).

    >>> EmukitNonLinear().name
    'emukit_nargp'
    """

    name = "emukit_nargp"

    def __init__(
        self,
        *,
        restarts: int = 5,
        n_samples: int = 100,
        noise_free: bool = True,
        noise_var: float = 0.0,
        pooled: bool = True,
    ) -> None:
        self.restarts = restarts
        self.n_samples = n_samples
        self.noise_free = noise_free
        self.noise_var = noise_var
        self.pooled = pooled

    def fit_predict(
        self, train_X: Tensor, train_Y: Tensor, test_X: Tensor, seed: int = 0
    ) -> tuple[Tensor, Tensor]:
        gpy = _require("GPy")
        _require("emukit")
        from emukit.multi_fidelity.models.non_linear_multi_fidelity_model import (
            NonLinearMultiFidelityModel,
            make_non_linear_kernels,
        )

        sc, L, d, X, Y, xt = _emukit_arrays(train_X, train_Y, test_X, self.pooled)
        with _numpy_seeded(seed), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            kernels = make_non_linear_kernels(gpy.kern.RBF, L, d, ARD=True)
            model = NonLinearMultiFidelityModel(
                X,
                Y,
                n_fidelities=L,
                kernels=kernels,
                n_samples=self.n_samples,
                optimization_restarts=self.restarts,
            )
            if self.noise_free:  # the tutorial's m.Gaussian_noise.variance.fix(0)
                for m in model.models:
                    m.Gaussian_noise.variance.fix(self.noise_var)
            model.optimize()
            Xt = np.concatenate([xt, np.full((len(xt), 1), L - 1.0)], axis=1)
            mean, var = model.predict(Xt)
        return _back(mean, var, sc)


class SMTMFK(Peer):
    """SMT's ``MFK`` multi-fidelity kriging (recursive co-kriging): the MFK documentation's
    example (``theta0=[1.0] * d``, squared-exponential correlation) with SMT's noise-free
    defaults spelled out (``eval_noise=False``, ``noise0=[0.0]``: interpolation with only the
    ``nugget`` jitter; ``propagate_uncertainty=True``).

    Args:
        n_start: hyperparameter optimisation starts per level (SMT's default, 10).

    >>> SMTMFK().name
    'smt_mfk'
    """

    name = "smt_mfk"

    def __init__(self, *, n_start: int = 10) -> None:
        self.n_start = n_start

    def fit_predict(
        self, train_X: Tensor, train_Y: Tensor, test_X: Tensor, seed: int = 0
    ) -> tuple[Tensor, Tensor]:
        _require("smt")
        from smt.applications.mfk import MFK

        xs, ys = _split(train_X, train_Y)
        d = xs[0].shape[1]
        xt = test_X.detach().cpu().double().numpy()[:, :-1]
        with _numpy_seeded(seed), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = MFK(
                theta0=[1.0] * d,
                corr="squar_exp",
                eval_noise=False,
                noise0=[0.0],
                propagate_uncertainty=True,
                print_global=False,
                n_start=self.n_start,
                seed=seed,
            )
            for k in range(len(xs) - 1):
                model.set_training_values(xs[k], ys[k], name=k)
            model.set_training_values(xs[-1], ys[-1])
            model.train()
            mean = model.predict_values(xt)
            var = model.predict_variances(xt)
        return (
            torch.as_tensor(np.asarray(mean).reshape(-1), dtype=torch.float64),
            torch.as_tensor(np.asarray(var).reshape(-1), dtype=torch.float64).clamp_min(0),
        )


def _back(mean: np.ndarray, var: np.ndarray, sc: _Scaler) -> tuple[Tensor, Tensor]:
    m = np.asarray(mean).reshape(-1) * sc.sd + sc.mu
    v = np.clip(np.asarray(var).reshape(-1), 0, None) * sc.sd**2
    return torch.as_tensor(m, dtype=torch.float64), torch.as_tensor(v, dtype=torch.float64)


#: name -> peer class (mfgp's own models are built with :class:`MFGPAdapter`).
PEERS: dict[str, type[Peer]] = {
    cls.name: cls for cls in (BoTorchMultiFidelity, EmukitLinear, EmukitNonLinear, SMTMFK)
}


def get_peer(name: str, **options: Any) -> Peer:
    """Instantiate a peer adapter by name.

    >>> get_peer("botorch_stmf").name
    'botorch_stmf'
    """
    try:
        return PEERS[name](**options)
    except KeyError:
        raise InputDataError(
            f"unknown peer {name!r}; choose one of: {', '.join(sorted(PEERS))}"
        ) from None
