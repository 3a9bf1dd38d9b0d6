"""Fitting GP hyperparameters, separate from the models: one restart-and-optimise path
(:mod:`~mfgp.fit.restarts`), leave-one-out variance calibration (:mod:`~mfgp.fit.loo`) and
posterior draws of kernel hyperparameters by Metropolis (:mod:`~mfgp.fit.mcmc`)."""

from __future__ import annotations

from mfgp.fit.loo import loo_rescale, loo_variance_scale
from mfgp.fit.restarts import fit_with_restarts, mll_scipy, seeded, stream, torch_lbfgs

__all__ = [
    "fit_with_restarts",
    "loo_rescale",
    "loo_variance_scale",
    "mll_scipy",
    "seeded",
    "stream",
    "torch_lbfgs",
]
