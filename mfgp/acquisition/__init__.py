r"""Next-experiment design: a cost-aware acquisition layer on BoTorch.

Given a fitted model (any :class:`~mfgp.models.base.ScaleUpModel`; the AR1 co-kriging GP is the
intended one) and a :class:`SearchSpace`, :func:`suggest` proposes the next ``q`` runs. A run is a
**scale option** (a named ``(fidelity, volume)`` pair the user can actually run, with its cost:
``lab`` = 2 L measured at cost 1, ``pilot`` = 200 L measured at cost 20, ...) plus a setting of the
operating variables inside their bounds, with fixed values (for example ``time_h`` = the end of
the run) and engineering feasibility constraints from the scaling layer.

Two goals:

``learn``
    Reduce the posterior variance of the top-fidelity response at the target (production)
    volume, integrated over the operating region (``mc_points``: a scrambled Sobol set at the
    target volume and top fidelity, feasible points only), per unit cost. The variance after the
    candidate run is computed by BoTorch's :class:`~botorch.acquisition.active_learning.
    qNegIntegratedPosteriorVariance`, which fantasises the run (``model.fantasize``, exact for a
    GP: the posterior variance does not depend on the fantasised values, so one fantasy
    suffices). The gain ``IPV(now) - IPV(after)`` is divided by the run's cost with
    :class:`~botorch.acquisition.cost_aware.InverseCostWeightedUtility`
    (:class:`CostWeightedIntegratedVarianceReduction`). For models without ``fantasize`` the
    same reduction is computed in closed form from the joint posterior covariance,
    ``K_MA (K_AA + N_A)^{-1} K_AM`` (:class:`ClosedFormVarianceReduction`). The closed form is
    the default for every model (``closed_form=True``): it equals the fantasy version for GPs
    (tested) and costs one posterior per batch of candidates rather than one conditioned model
    per candidate, which on the default data set (~1000 training rows) is the difference
    between seconds and tens of minutes.

``optimise``
    Find the operating point that maximises the predicted top-fidelity response at the target
    volume: cost-aware multi-fidelity max-value entropy search,
    :class:`~botorch.acquisition.max_value_entropy_search.qMultiFidelityMaxValueEntropy`
    (Takeno et al. 2020), with ``project`` mapping any run to the target volume and top
    fidelity, the max-value samples drawn on the feasible target-scale set and the information
    gain weighted by :class:`~botorch.acquisition.cost_aware.InverseCostWeightedUtility`.

``ei`` (single-fidelity baseline)
    :class:`~botorch.acquisition.logei.qLogExpectedImprovement` at the options' own scale, with
    the incumbent from **top-fidelity data only** (:func:`incumbent_best`; mixing lower levels'
    values into the incumbent stalls optimisation, DESIGN.md).

**Optimisation over a feasible candidate set.** The option is discrete and the engineering
constraints (tip speed, P/V, heat removal: :class:`EngineeringConstraints`) are nonlinear
functions of the stirrer speed, aeration and volume. Rather than passing nonlinear constraints
through ``optimize_acqf`` per option, each option gets a seeded scrambled Sobol set of operating
points inside the bounds, infeasible points are removed, and the acquisition is maximised over
the union with BoTorch's :func:`~botorch.optim.optimize.optimize_acqf_discrete`. Batches
(``q > 1``) are sequential greedy: each chosen run becomes ``X_pending`` (a fantasy for ``learn``
and ``optimise``, BoTorch's pending-point handling for ``ei``), and the next run maximises the
marginal gain per marginal cost. Every random draw is seeded (Sobol seeds, samplers, and a forked
torch RNG for BoTorch's max-value sampling); tensors follow the model's device and dtype.

Costs are a BoTorch :class:`~botorch.models.deterministic.DeterministicModel`
(:class:`OptionCostModel`) that maps a run's ``(log10 volume, fidelity)`` to its option's cost.

References:
    Takeno, S. et al. (2020). Multi-fidelity Bayesian optimization with max-value entropy
    search and its parallelization. ICML 2020.
    Wu, J., Toscano-Palmerin, S., Frazier, P. I. & Wilson, A. G. (2019). Practical
    multi-fidelity Bayesian optimization for hyperparameter tuning. UAI 2019 (cost-aware
    utility).
    Seo, S., Wallat, M., Graepel, T. & Obermayer, K. (2000). Gaussian process regression:
    active data selection and test point rejection. IJCNN (integrated variance reduction).
    Ament, S. et al. (2023). Unexpected improvements to expected improvement for Bayesian
    optimization. NeurIPS 2023 (LogEI).

Example:
    >>> import pandas as pd, torch
    >>> from mfgp.data import ScaleUpData
    >>> from mfgp.models import SingleFidelityGP
    >>> df = pd.DataFrame({"V": [2, 2, 2, 200, 200], "feed": [3.0, 6, 9, 4, 8],
    ...                    "titer": [3.0, 4.5, 5.0, 3.5, 5.2]})
    >>> data = ScaleUpData(df, target="titer")
    >>> space = SearchSpace.from_data(data, costs="lab=1,pilot=20", target_volume_L=1e5)
    >>> model = SingleFidelityGP(restarts=1, maxiter=30).fit(data)
    >>> s = suggest(model, space, goal="ei", q=2, seed=0, n_candidates=64)
    >>> len(s.frame)
    2
"""

from __future__ import annotations

from mfgp.acquisition.config import load_config, parse_assignments
from mfgp.acquisition.constraints import VOLUME, EngineeringConstraints
from mfgp.acquisition.design import Suggestions, format_suggestions, sequential_greedy, suggest
from mfgp.acquisition.functions import (
    GOALS,
    ClosedFormVarianceReduction,
    CostWeightedIntegratedVarianceReduction,
    OptionCostModel,
    build_acquisition,
    incumbent_best,
)
from mfgp.acquisition.job import SUGGEST_CANDIDATES, SuggestResult, run_suggest
from mfgp.acquisition.space import DEFAULT_SCALE_RANGES, ScaleOption, SearchSpace

__all__ = [
    "DEFAULT_SCALE_RANGES",
    "GOALS",
    "SUGGEST_CANDIDATES",
    "VOLUME",
    "ClosedFormVarianceReduction",
    "CostWeightedIntegratedVarianceReduction",
    "EngineeringConstraints",
    "OptionCostModel",
    "ScaleOption",
    "SearchSpace",
    "SuggestResult",
    "Suggestions",
    "build_acquisition",
    "format_suggestions",
    "incumbent_best",
    "sequential_greedy",
    "load_config",
    "parse_assignments",
    "run_suggest",
    "suggest",
]
