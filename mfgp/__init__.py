"""mfgp: multi-fidelity Gaussian-process co-kriging for bioreactor scale-up.

Many cheap, approximate predictions (scaling-law correlations, mechanistic models) and a few
expensive measurements at lab and pilot scale are fused by an autoregressive multi-fidelity GP to
predict production-scale performance with calibrated uncertainty.
"""

from __future__ import annotations

from mfgp._version import __version__
from mfgp.data import ScaleUpData
from mfgp.exceptions import (
    DataWarning,
    InputDataError,
    MFGPError,
    MFGPWarning,
    ModelFittingError,
    NotFittedError,
    NumericalWarning,
)
from mfgp.models import Prediction, ScaleUpModel, available_models, get_model, load_model

__all__ = [
    "__version__",
    "DataWarning",
    "InputDataError",
    "MFGPError",
    "MFGPWarning",
    "ModelFittingError",
    "NotFittedError",
    "NumericalWarning",
    "Prediction",
    "ScaleUpData",
    "ScaleUpModel",
    "available_models",
    "get_model",
    "load_model",
]
