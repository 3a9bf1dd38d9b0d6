"""Models by name: the registry of the built-in models and the functions that use it.

Importing this module imports every built-in model module, which registers each class with
:func:`~mfgp.models.base.register_model`; :func:`get_model`, :func:`available_models`,
:func:`model_option_names` and :func:`load_model` then see all of them. (The registry itself
lives in :mod:`mfgp.models.base`, which the model modules import, so that this module can
import them without a cycle.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from mfgp.exceptions import InputDataError

# every built-in model module, imported for its registration
from mfgp.models import (  # noqa: F401
    ar1,
    baselines,  # noqa: F401
    classic,
    ensembles,
    hybrid,
    nargp,
    single_gp,
)
from mfgp.models.base import MODEL_REGISTRY, ScaleUpModel, init_option_names, read_model

__all__ = ["available_models", "get_model", "load_model", "model_option_names"]


def available_models() -> list[str]:
    """Names accepted by :func:`get_model` and ``mfgp run --model``."""
    return sorted(MODEL_REGISTRY)


def model_option_names(name: str) -> list[str]:
    """The constructor options of the registered model ``name``, exactly: the keyword
    arguments of its class's ``__init__`` and, where that ``__init__`` forwards ``**options``
    to its parent class (as ``HybridGP`` does to ``AR1MultiFidelityGP``), the parent's, up to
    :class:`ScaleUpModel`. For ``mfgp run --model-option``; :func:`get_model` refuses any other.

    >>> "restarts" in model_option_names("gp")
    True
    >>> len(model_option_names("hybrid")) > len(model_option_names("ar1"))
    True
    """
    return init_option_names(_model_class(name))


def _model_class(name: str) -> type[ScaleUpModel]:
    try:
        return MODEL_REGISTRY[name]
    except KeyError:
        raise InputDataError(
            f"unknown model {name!r}; choose one of: {', '.join(sorted(MODEL_REGISTRY))}"
        ) from None


def get_model(name: str, **config: Any) -> ScaleUpModel:
    """Instantiate a registered model by name, with constructor options ``config``.

    Raises:
        InputDataError: unknown model, or an option the model does not have (the message
            lists the options it has).

    >>> get_model("gp").name
    'gp'
    >>> get_model("gp", restarts=1).config["restarts"]
    1
    """
    cls = _model_class(name)
    known = model_option_names(name)
    unknown = sorted(set(config) - set(known))
    if unknown:
        raise InputDataError(
            f"model {name!r} has no option {', '.join(map(repr, unknown))}; "
            f"its options: {', '.join(known)}"
        )
    try:
        return cls(**config)
    except (TypeError, ValueError) as err:  # e.g. a string where a number is needed
        if not config:
            raise
        raise InputDataError(f"model {name!r}: bad option value in {config} ({err})") from err


def load_model(
    path: str | Path,
    *,
    device: torch.device | str | None = None,
    expected: type[ScaleUpModel] | None = None,
    **overrides: Any,
) -> ScaleUpModel:
    """Load a model saved with :meth:`ScaleUpModel.save`, whichever built-in model it is (see
    :func:`mfgp.models.base.read_model`, which this calls once every model is registered).

    Args:
        path: the directory written by ``save``.
        device: where to put the model (default CPU).
        expected: if given, raise unless the saved model is of this class.
        **overrides: constructor arguments that replace the saved configuration.
    """
    return read_model(path, device=device, expected=expected, **overrides)
