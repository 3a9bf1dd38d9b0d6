"""The model contract's persistence: weights-only loading refuses code in a model folder."""

from __future__ import annotations

import json
import os

import pytest
import torch

import mfgp
from mfgp.exceptions import InputDataError
from mfgp.models import get_model


class _Payload:
    """Unpickling this runs ``os.makedirs(path)``: a stand-in for any code a file could run."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (os.makedirs, (self.path,))


def _fitted_gp():
    X = torch.rand(12, 2, dtype=torch.float64)
    X[:, -1] = 0
    return get_model("gp", restarts=1, maxiter=20).fit((X, torch.sin(3 * X[:, :1])), seed=0)


def test_crafted_pickle_in_state_is_refused_without_running_it(tmp_path):
    folder = _fitted_gp().save(tmp_path / "model")
    marker = tmp_path / "code_ran"
    state = torch.load(folder / "state.pt", weights_only=True)
    state["extra"] = {"payload": _Payload(str(marker))}
    torch.save(state, folder / "state.pt")
    with pytest.raises(InputDataError, match="refuses to load because unpickling"):
        mfgp.load_model(folder)
    assert not marker.exists()


def test_saved_state_loads_weights_only_and_predicts_the_same(tmp_path):
    model = _fitted_gp()
    folder = model.save(tmp_path / "model")
    torch.load(folder / "state.pt", weights_only=True)  # no pickled objects inside
    X = torch.rand(5, 2, dtype=torch.float64)
    X[:, -1] = 0
    again = mfgp.load_model(folder)
    torch.testing.assert_close(again.predict(X).mean, model.predict(X).mean)


@pytest.mark.parametrize(
    "damage, words",
    [
        (lambda f: (f / "state.pt").write_bytes(b"not a torch file"), "not a readable"),
        (lambda f: (f / "model.json").write_text("{"), "not an mfgp model description"),
        (lambda f: (f / "model.json").write_text(json.dumps({"x": 1})), "description"),
        (lambda f: (f / "state.pt").unlink(), "expected model.json and state.pt"),
        (lambda f: torch.save([1, 2], f / "state.pt"), "not an mfgp model state"),
    ],
)
def test_damaged_model_folder_gives_one_clear_error(tmp_path, damage, words):
    folder = _fitted_gp().save(tmp_path / "model")
    damage(folder)
    with pytest.raises(InputDataError, match=words):
        mfgp.load_model(folder)


def test_every_model_declares_its_options_exactly():
    """Constructor options: model_option_names lists each one, get_model refuses any other
    (also for models whose __init__ forwards **options); fit options likewise."""
    from mfgp.models import available_models, get_model, model_option_names

    assert set(model_option_names("ar1")) < set(model_option_names("hybrid"))
    assert {"surrogate", "rho", "restarts", "hyperparameter_samples"} <= set(
        model_option_names("hybrid")
    )
    assert model_option_names("ridge") == ["volume_degree", "degree", "interactions", "alphas"]
    assert "max_iter" in model_option_names("lasso")
    for name in available_models():
        with pytest.raises(InputDataError, match=f"model '{name}' has no option 'typo'"):
            get_model(name, typo=1)
    with pytest.raises(InputDataError, match="has no option 'restarts'"):
        get_model("ridge", restarts=1)


@pytest.mark.parametrize(
    "name, fit_options",
    [("gp", ("restarts", "maxiter")), ("ridge", ()), ("lasso", ("max_iter",))],
)
def test_unknown_fit_options_are_refused_before_fitting(name, fit_options):
    from mfgp.models import get_model

    model = get_model(name)
    assert type(model).fit_options == fit_options
    X = torch.rand(6, 2, dtype=torch.float64)
    X[:, -1] = 0
    with pytest.raises(InputDataError, match=r"\.fit has no option 'maxitr'"):
        model.fit((X, X[:, :1]), maxitr=5)
    assert not model.fitted_
