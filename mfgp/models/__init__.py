"""Models behind one interface (:class:`~mfgp.models.base.ScaleUpModel`).

Importing this package registers the built-in models, selectable by name with
:func:`get_model` or ``mfgp run --model NAME``.
"""

from __future__ import annotations

from mfgp.models.ar1 import AR1MultiFidelityGP
from mfgp.models.base import MODEL_REGISTRY, Prediction, ScaleUpModel, register_model
from mfgp.models.baselines import DiscrepancyGP, LassoBaseline, RidgeBaseline, ScalingLawOnly
from mfgp.models.classic import ClassicScaling
from mfgp.models.ensembles import (
    GradientBoostedTrees,
    LightGBMQuantile,
    MLPEnsemble,
    RandomForest,
    XGBoostQuantile,
)
from mfgp.models.hybrid import HybridGP
from mfgp.models.nargp import NARGP
from mfgp.models.registry import available_models, get_model, load_model, model_option_names
from mfgp.models.single_gp import SingleFidelityGP

__all__ = [
    "AR1MultiFidelityGP",
    "ClassicScaling",
    "DiscrepancyGP",
    "GradientBoostedTrees",
    "HybridGP",
    "LassoBaseline",
    "LightGBMQuantile",
    "MLPEnsemble",
    "MODEL_REGISTRY",
    "NARGP",
    "Prediction",
    "RandomForest",
    "RidgeBaseline",
    "ScalingLawOnly",
    "ScaleUpModel",
    "SingleFidelityGP",
    "XGBoostQuantile",
    "available_models",
    "get_model",
    "load_model",
    "model_option_names",
    "register_model",
]
