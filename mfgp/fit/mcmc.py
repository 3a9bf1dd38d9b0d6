"""Posterior draws of a GP level's kernel hyperparameters, by random-walk Metropolis.

Shared by :class:`~mfgp.models.ar1.AR1MultiFidelityGP` and :class:`~mfgp.models.nargp.NARGP`
(``hyperparameter_samples``). A *level* is any GPyTorch module whose parameters are sampled
(a kernel) together with a callable ``nlp()`` that returns the level's negative log posterior
(likelihood plus log priors) at the module's current parameter values.

The draws are in GPyTorch's raw, unconstrained parameters: the target density adds the log
Jacobian of the constraint transforms to ``-nlp``. The chain starts at the fitted values; its
Gaussian steps have the covariance of a Laplace approximation there (finite-difference Hessian
of ``nlp``, every direction's standard deviation capped at 1), scaled by ``2.38 / sqrt(P)``
(Roberts, Gelman & Gilks 1997) and adapted during burn-in towards 30 % acceptance. Written by
hand: GPyTorch and BoTorch sample kernel hyperparameters (NUTS, through Pyro) only for their own
single-output models.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence

import torch
from gpytorch.kernels import Kernel
from linear_operator.utils.errors import NotPSDError
from torch import Tensor, nn

__all__ = [
    "energy",
    "flat_params",
    "laplace_root",
    "metropolis",
    "mixture_moments",
    "sample_level",
    "set_batched_params",
    "set_params",
]

log = logging.getLogger(__name__)

NLP = Callable[[], Tensor]
_FAILURES = (NotPSDError, RuntimeError, ValueError)


def flat_params(module: nn.Module) -> Tensor:
    """``module``'s raw parameters as one flat vector (the layout of its draws)."""
    params = list(module.parameters())
    if not params:
        return torch.zeros(0)
    return torch.cat([p.detach().reshape(-1) for p in params])


def set_params(module: nn.Module, theta: Tensor) -> None:
    """Write the flat raw-parameter vector ``theta`` into ``module`` (in place)."""
    off = 0
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(theta[off : off + p.numel()].view_as(p))
            off += p.numel()


def set_batched_params(module: nn.Module, draws: Tensor) -> None:
    """Make ``module`` (a GPyTorch kernel) hold all ``S`` draws (``S x P``, the layout of
    :func:`flat_params`) at once: every raw parameter becomes ``S x shape`` and every kernel in
    it gets ``batch_shape = (S,)``, so that it evaluates as ``S`` kernels over a batch dimension
    (BoTorch's fully Bayesian models hold their MCMC samples the same way). In place; the
    parameters no longer require gradients."""
    S = draws.shape[0]
    off = 0
    for name, p in list(module.named_parameters()):
        value = draws[:, off : off + p.numel()].reshape(S, *p.shape).to(p)
        off += p.numel()
        owner, _, leaf = name.rpartition(".")
        sub = module.get_submodule(owner) if owner else module
        sub._parameters[leaf] = nn.Parameter(value, requires_grad=False)
    for sub in module.modules():
        if isinstance(sub, Kernel):
            sub.batch_shape = torch.Size([S])


def _log_jacobian(module: nn.Module) -> float:
    """Log Jacobian of ``module``'s constraint transforms (raw -> constrained) at its values."""
    total = 0.0
    for _, p, constraint in module.named_parameters_and_constraints():
        if constraint is None:
            continue
        with torch.enable_grad():
            raw = p.detach().clone().requires_grad_(True)
            (g,) = torch.autograd.grad(constraint.transform(raw).sum(), raw)
        total += float(g.abs().log().sum())
    return total


def energy(module: nn.Module, nlp: NLP, theta: Tensor) -> float:
    """Negative log posterior density of ``module``'s raw parameters at ``theta`` (which stay
    set): ``nlp()`` minus the log Jacobian of the constraint transforms; ``inf`` where the
    likelihood cannot be evaluated."""
    set_params(module, theta)
    try:
        with torch.no_grad():
            value = nlp()
    except _FAILURES:
        return math.inf
    if not bool(torch.isfinite(value)):
        return math.inf
    return float(value) - _log_jacobian(module)


def _grad(module: nn.Module, nlp: NLP, theta: Tensor) -> Tensor:
    """Gradient of ``nlp`` in ``module``'s raw parameters at ``theta``."""
    set_params(module, theta)
    params = list(module.parameters())
    with torch.enable_grad():
        g = torch.autograd.grad(nlp(), params, allow_unused=True)
    parts = [gi if gi is not None else torch.zeros_like(p) for gi, p in zip(g, params, strict=True)]
    return torch.cat([gi.reshape(-1) for gi in parts])


def laplace_root(module: nn.Module, nlp: NLP, theta0: Tensor, h: float = 1e-4) -> Tensor | None:
    """A square root ``R`` (``P x P``) of the Laplace covariance of ``module``'s raw parameters
    at ``theta0`` (``R R'`` is the inverse finite-difference Hessian of ``nlp``, every
    eigen-direction's standard deviation capped at 1); ``None`` when the Hessian cannot be
    evaluated or is not finite. Leaves ``theta0`` set."""
    P = theta0.numel()
    H = torch.zeros(P, P, dtype=theta0.dtype, device=theta0.device)
    try:
        for j in range(P):
            e = torch.zeros_like(theta0)
            e[j] = h
            H[j] = (_grad(module, nlp, theta0 + e) - _grad(module, nlp, theta0 - e)) / (2 * h)
    except _FAILURES as err:
        log.info("no Laplace approximation (%s)", err)
        return None
    finally:
        set_params(module, theta0)
    if not bool(torch.isfinite(H).all()):
        return None
    ev, V = torch.linalg.eigh(0.5 * (H + H.T))
    return V / ev.clamp_min(1.0).sqrt()  # covariance V diag(1/ev) V', sd <= 1


def metropolis(
    target: Callable[[Tensor], float],
    theta0: Tensor,
    root: Tensor,
    S: int,
    generator: torch.Generator,
    *,
    burn: int = 200,
    thin: int = 25,
) -> tuple[Tensor, float]:
    """``S x P`` draws from the density ``exp(-target(theta))`` by random-walk Metropolis,
    started at ``theta0``, with Gaussian steps of covariance ``c^2 root root'``, ``burn`` steps of
    burn-in and every ``thin``-th state after it; returns the draws and the acceptance rate.
    The scale ``c`` starts at ``2.38 / sqrt(P)`` and is adapted during burn-in only, towards
    30 % acceptance (a Robbins-Monro step), so that the chain can reach tails that the Laplace
    approximation underestimates. ``generator`` (CPU) draws every random number."""
    P = theta0.numel()
    log_scale = math.log(2.38 / math.sqrt(P))
    theta, value = theta0, target(theta0)
    kept, accepted = [], 0
    for t in range(burn + thin * S):
        z = torch.randn(P, generator=generator, dtype=theta0.dtype).to(theta0.device)
        prop = theta + math.exp(log_scale) * (root @ z)
        v_prop = target(prop)
        u = float(torch.rand((), generator=generator, dtype=torch.float64))
        accept = math.log(max(u, 1e-300)) < value - v_prop
        if accept:
            theta, value = prop, v_prop
            accepted += 1
        if t < burn:  # adapt the step size towards 30 % acceptance, then keep it fixed
            log_scale += (float(accept) - 0.3) / (1.0 + t) ** 0.6
        if t >= burn and (t - burn) % thin == thin - 1:
            kept.append(theta)
    return torch.stack(kept), accepted / (burn + thin * S)


def sample_level(
    module: nn.Module,
    nlp: NLP,
    S: int,
    generator: torch.Generator,
    *,
    burn: int = 200,
    thin: int = 25,
    name: str = "level",
) -> Tensor:
    """``S x P`` posterior draws of ``module``'s raw parameters (see the module docstring),
    started at their current (fitted) values, which are restored afterwards. When the
    likelihood or its Hessian cannot be evaluated at the fitted values, every draw is the
    fitted vector (plug-in values), with an INFO log message."""
    params = list(module.parameters())
    if not params:
        return torch.zeros(S, 0)
    theta0 = flat_params(module).to(params[0])
    try:
        root = laplace_root(module, nlp, theta0)
        start = energy(module, nlp, theta0)
        if root is None or not math.isfinite(start):
            log.info("%s: no hyperparameter draws; plug-in values", name)
            return theta0.expand(S, -1).clone()
        draws, rate = metropolis(
            lambda th: energy(module, nlp, th), theta0, root, S, generator, burn=burn, thin=thin
        )
    finally:
        set_params(module, theta0)
    log.debug("%s: %d Metropolis hyperparameter draws, acceptance %.2f", name, S, rate)
    return draws


def mixture_moments(
    parts: Sequence[tuple[Tensor, Tensor]], *, full: bool = True
) -> tuple[Tensor, Tensor]:
    """Mean and covariance (``full``) or variance of the equal-weight mixture of the Gaussians
    ``parts = [(mean_s, cov_s), ...]`` (the posteriors of the hyperparameter draws):
    ``m = E_s[m_s]`` and ``E_s[C_s + (m_s - m)(m_s - m)']``."""
    mean = torch.stack([m for m, _ in parts]).mean(0)
    second = torch.zeros_like(parts[0][1])
    for m, c in parts:
        dm = m - mean
        second = second + c + (dm.unsqueeze(-1) * dm.unsqueeze(-2) if full else dm.pow(2))
    return mean, second / len(parts)
