"""One restart-and-optimise path for mfgp's GP models, seeded one way.

Every GP model (:class:`~mfgp.models.single_gp.SingleFidelityGP`,
:class:`~mfgp.models.ar1.AR1MultiFidelityGP` level by level and jointly,
:class:`~mfgp.models.nargp.NARGP` level by level) fits its hyperparameters with
:func:`fit_with_restarts`: restart ``r`` sets its start (``start(r)``: the model's data-driven
or warm start for ``r = 0``, a random one after), an optimiser minimises the loss, the best
finite loss wins and its state is loaded; a restart that fails numerically is skipped with a
warning, and :class:`~mfgp.exceptions.ModelFittingError` says what to do when all fail.

Seeding: :meth:`~mfgp.models.base.ScaleUpModel.fit` runs the whole fit inside :func:`seeded`
(torch's global generator forked and seeded from ``fit(seed=)``), because GPyTorch's prior
sampling (BoTorch's ``sample_all_priors``) draws from the global generator only; draws that mfgp
makes itself use a :func:`stream` generator derived from the same seed.

Optimisers: :func:`torch_lbfgs` (torch's L-BFGS with a strong-Wolfe line search, for a loss
written as a closure, e.g. AR1's hand-differentiated Gaussian likelihood) and
:func:`mll_scipy` (BoTorch's ``fit_gpytorch_mll``, scipy L-BFGS-B, for a GPyTorch marginal
likelihood). The restart loop is written here because BoTorch's ``fit_gpytorch_mll`` retries
only after failures and only with prior samples (compare ``botorch.fit._fit_fallback``).
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from botorch.exceptions.errors import ModelFittingError as BoTorchFittingError
from botorch.fit import fit_gpytorch_mll
from gpytorch.mlls import MarginalLogLikelihood
from linear_operator.utils.errors import NotPSDError
from torch import Tensor, nn

from mfgp import progress
from mfgp.exceptions import ModelFittingError, NumericalWarning

__all__ = ["Optimiser", "fit_with_restarts", "mll_scipy", "seeded", "stream", "torch_lbfgs"]

log = logging.getLogger(__name__)

#: ``optimise(params, loss, maxiter)``: minimise ``loss()`` over ``params`` in place
Optimiser = Callable[[list[nn.Parameter], Callable[[], Tensor], int], None]

#: what a restart may raise when the covariance or the optimiser fails numerically
FAILURES = (NotPSDError, BoTorchFittingError, RuntimeError, ValueError)


@contextmanager
def seeded(seed: int | None, device: torch.device | None = None) -> Iterator[None]:
    """Run a block with torch's global RNG seeded, restoring the caller's RNG state afterwards.

    Library code that calls third-party routines drawing from the global RNG (for example
    GPyTorch prior sampling for restarts) uses this instead of seeding globally.
    """
    devices = [device] if device is not None and device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        if seed is not None:
            torch.manual_seed(seed)
        yield


def stream(seed: int | None, multiplier: int, offset: int) -> torch.Generator:
    """A CPU ``torch.Generator`` for one named stream of draws of a fit seeded with ``seed``
    (``None`` counts as 0): seeded with ``multiplier * seed + offset``, so that streams of
    different purposes (restart starts, hyperparameter draws) do not share values."""
    return torch.Generator().manual_seed(multiplier * (0 if seed is None else seed) + offset)


def torch_lbfgs(params: list[nn.Parameter], loss: Callable[[], Tensor], maxiter: int) -> None:
    """torch's L-BFGS (strong Wolfe line search, ``max_iter=maxiter``) on ``loss``; a
    non-finite loss raises ``ValueError``."""
    opt = torch.optim.LBFGS(params, lr=1.0, max_iter=maxiter, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        opt.zero_grad()
        value = loss()
        if not bool(torch.isfinite(value)):
            raise ValueError("the marginal likelihood is not finite")
        value.backward()
        return value

    opt.step(closure)


def mll_scipy(
    mll: MarginalLogLikelihood, *, max_attempts: int = 3, quiet: type[Warning] = Warning
) -> Optimiser:
    """An :data:`Optimiser` that runs BoTorch's ``fit_gpytorch_mll`` (scipy L-BFGS-B with
    ``maxiter``) on ``mll``, up to ``max_attempts`` attempts, warnings of class ``quiet``
    silenced (its own restart warnings duplicate the loop's)."""

    def optimise(params: list[nn.Parameter], loss: Callable[[], Tensor], maxiter: int) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=quiet)
            fit_gpytorch_mll(
                mll, optimizer_kwargs={"options": {"maxiter": maxiter}}, max_attempts=max_attempts
            )

    return optimise


def fit_with_restarts(
    module: nn.Module,
    loss: Callable[[], Tensor],
    *,
    restarts: int,
    maxiter: int,
    start: Callable[[int], None],
    optimise: Optimiser = torch_lbfgs,
    what: str,
    hint: str,
    reset: bool = True,
) -> float:
    """Minimise ``loss`` over ``module``'s trainable parameters from ``restarts`` starts and
    keep the best.

    Args:
        module: the parameters' owner (put in training mode; its best state is loaded).
        loss: the objective (negative log marginal likelihood plus priors), a scalar tensor.
        restarts: number of starts (at least 1).
        maxiter: optimiser iterations per start (0: evaluate the start only).
        start: ``start(r)`` sets restart ``r``'s starting values.
        optimise: the :data:`Optimiser` (default :func:`torch_lbfgs`).
        what: what is fitted, for progress, warnings and errors (``"ar1 level 1"``).
        hint: what the user can do when every restart fails.
        reset: reload the module's state before each restart (``False``: a restart starts
            from the previous one's optimum wherever ``start`` sets nothing).

    Returns:
        The best loss.

    Raises:
        ModelFittingError: every restart failed.
    """
    initial = {k: v.detach().clone() for k, v in module.state_dict().items()}
    params = [p for p in module.parameters() if p.requires_grad]
    best_loss, best_state, last_err = math.inf, None, None
    for r in progress.steps(range(restarts), desc=f"{what}: restarts", leave=False):
        if reset:
            module.load_state_dict(initial)
        module.train()
        start(r)
        try:
            if maxiter > 0 and params:
                optimise(params, loss, maxiter)
            module.train()
            with torch.no_grad():
                value = float(loss())
        except FAILURES as err:
            last_err = err
            warnings.warn(f"{what}: restart {r} failed: {err}", NumericalWarning, stacklevel=3)
            continue
        log.debug("%s: restart %d: loss %.5f", what, r, value)
        if math.isfinite(value) and value < best_loss:
            best_loss = value
            best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
    if best_state is None:
        raise ModelFittingError(
            f"the fit of {what} failed in all {restarts} restarts (last error: {last_err}); " + hint
        ) from last_err
    module.load_state_dict(best_state)
    return best_loss
