"""``auto``: forward-chaining validation over volumes chooses the model."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
import torch

from mfgp.data import ScaleUpData
from mfgp.exceptions import InputDataError
from mfgp.models import get_model, load_model
from mfgp.selection import candidate_options, select_model, validation_fold


def _end_points(n_volumes: int = 5, seed: int = 0) -> ScaleUpData:
    """End-point titer exactly linear in log10 V (and rpm), 3 runs per volume, small noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for v in 10.0 ** np.arange(n_volumes):
        for _ in range(3):
            rpm = float(rng.uniform(200, 400))
            y = 6.0 - 0.8 * np.log10(v) + 0.002 * rpm + rng.normal(0, 0.02)
            rows.append({"V": v, "rpm": rpm, "titer": y})
    return ScaleUpData(pd.DataFrame(rows), target="titer")


def test_a_model_that_extrapolates_beats_trees_that_cannot():
    options = {"gp": {"restarts": 1}}
    sel = select_model(_end_points(), candidates=["random_forest", "gp"], model_options=options)
    assert sel.chosen == "gp"  # its linear mean follows the law; the trees stay flat
    assert sel.scores["gp"] < 0.2 * sel.scores["random_forest"]
    assert [f["test_volume_L"] for f in sel.folds] == [100.0, 1000.0, 10000.0]
    assert set(sel.table["model"]) == {"gp", "random_forest"} and len(sel.table) == 6
    assert (sel.table["n"] == 3).all()


def test_parallel_and_serial_validation_agree():
    data = _end_points(4)
    a = select_model(
        data, candidates=["ridge", "gp"], model_options={"gp": {"restarts": 1}}, n_jobs=1
    )
    b = select_model(
        data, candidates=["ridge", "gp"], model_options={"gp": {"restarts": 1}}, n_jobs=2
    )
    assert a.chosen == b.chosen
    for name in a.scores:
        assert a.scores[name] == pytest.approx(b.scores[name], rel=1e-6)


def test_models_that_cannot_fit_are_left_out_with_the_reason(caplog):
    with caplog.at_level(logging.WARNING, logger="mfgp.selection"):
        sel = select_model(_end_points(4), candidates=["ridge", "classic"], n_jobs=1)
    assert sel.chosen == "ridge" and "classic" in sel.skipped
    assert "time" in sel.skipped["classic"]
    assert any("classic left out" in m for m in caplog.messages)


def test_too_few_volumes_fall_back_with_a_warning(caplog):
    data = _end_points(2)
    with caplog.at_level(logging.WARNING, logger="mfgp.selection"):
        sel = select_model(data, candidates=["ridge"], n_jobs=1)
    assert sel.chosen == "hybrid" and not sel.scores
    assert any("too few to validate" in m for m in caplog.messages)


def test_bad_arguments_are_one_line_errors():
    with pytest.raises(InputDataError, match="unknown candidate models \\['nope'\\]"):
        select_model(_end_points(), candidates=["nope"])
    with pytest.raises(InputDataError, match="metric must be"):
        select_model(_end_points(), candidates=["ridge"], metric="rmse")


def test_a_failed_fold_is_a_record_not_an_exception():
    data = _end_points(4)
    from mfgp.data import forward_chaining

    _, train, test = next(iter(forward_chaining(data)))
    record = validation_fold("classic", {}, train, test, 0)
    assert "error" in record and record["model"] == "classic"
    good = validation_fold("ridge", {}, train, test, 0)
    assert good["n"] == 3 and np.isfinite(good["crps"]) and len(good["pit_z"]) == 3
    assert good["decades"] == [1.0] * 3 and np.mean(good["crps_points"]) == pytest.approx(
        good["crps"]
    )


def test_options_for_every_model_reach_the_ones_that_have_them():
    given = {"*": {"restarts": 1}, "gp": {"mean": "constant"}}
    assert candidate_options("random_forest", given) == {}
    assert candidate_options("gp", given) == {"restarts": 1, "mean": "constant"}


def test_the_reference_is_kept_unless_another_model_is_clearly_better():
    from mfgp.selection import one_standard_error

    def recs(name, points):
        return {"model": name, "volume_L": 100.0, "crps_points": points}

    noisy = [recs("hybrid", [1.0, 0.2, 0.9]), recs("lasso", [0.2, 0.9, 0.8])]
    scores = {"hybrid": 0.7, "lasso": 0.633}
    assert one_standard_error(scores, noisy, "crps", "hybrid")[0] == "hybrid"
    clear = [recs("hybrid", [1.0, 1.1, 0.9]), recs("lasso", [0.2, 0.3, 0.25])]
    chosen, rule = one_standard_error({"hybrid": 1.0, "lasso": 0.25}, clear, "crps", "hybrid")
    assert chosen == "lasso" and rule["advantage"] == pytest.approx(0.75)
    assert one_standard_error(scores, noisy, "crps", None)[0] == "lasso"


def test_spread_calibration_widens_overconfident_bands_with_distance():
    import torch

    from mfgp.selection import fit_spread_calibration, spread_factor

    rng = np.random.default_rng(0)
    d = np.repeat([0.5, 1.0], 200)
    z = rng.normal(0, np.sqrt(1 + 3.0 * d))  # predicted too narrow, the more so the further
    cal = fit_spread_calibration([{"pit_z": z.tolist(), "decades": d.tolist()}])
    assert cal["c"] == pytest.approx(3.0, rel=0.25)
    honest = fit_spread_calibration(
        [{"pit_z": rng.normal(0, 0.8, 50).tolist(), "decades": [1.0] * 50}]
    )
    assert honest["c"] == 0.0  # too wide is left as it is, never narrowed
    f = spread_factor({**cal, "log10_volume_max": 3.0}, torch.tensor([2.0, 3.0, 4.0, 5.0]))
    assert f[0] == f[1] == 1.0 and 1.0 < f[2] < f[3]


def test_prefit_fits_on_all_the_data_beside_the_validation(tmp_path):
    data = _end_points(4)
    opts = {"gp": {"restarts": 1}}
    sel = select_model(
        data,
        candidates=["ridge", "gp"],
        model_options=opts,
        n_jobs=2,
        prefit={"gp": {"restarts": 1}},
        prefit_dir=tmp_path,
    )
    plain = select_model(data, candidates=["ridge", "gp"], model_options=opts, n_jobs=1)
    assert sel.scores == pytest.approx(plain.scores, rel=1e-6)  # the choice is unchanged
    loaded = load_model(sel.prefitted["gp"])
    direct = get_model("gp", restarts=1).fit(data, seed=0)
    X = data.X[:4]
    torch.testing.assert_close(loaded.predict(X).mean, direct.predict(X).mean, rtol=1e-5, atol=1e-6)
    with pytest.raises(InputDataError, match="prefit_dir"):
        select_model(data, candidates=["gp"], model_options=opts, prefit={"gp": {}})


def test_hybrid_chosen_by_name_gets_its_own_extrapolation_calibration():
    from mfgp.selection import CALIBRATED_MODELS, model_calibration

    data = _end_points(4)
    assert "hybrid" in CALIBRATED_MODELS
    assert model_calibration("ridge", data) is None  # only the calibrated models
    opts = {"hybrid": {"restarts": 1, "maxiter": 40}}
    own = model_calibration("hybrid", data, model_options=opts, n_jobs=1)
    assert own is not None and own["c"] >= 0.0 and own["n"] == 6  # 2 folds x 3 end points
    sel = select_model(data, candidates=["hybrid", "ridge"], model_options=opts, n_jobs=1)
    reused = model_calibration("hybrid", data, selection=sel, model_options=opts)
    assert reused == pytest.approx(own)  # auto's records of hybrid, not a second validation


def test_calibrated_bands_widen_with_the_distance_beyond_the_data():
    import torch

    from mfgp.selection import calibrate, predict_outcome

    data = _end_points(4)  # 1 L - 1000 L
    model = get_model("hybrid", restarts=1, maxiter=40).fit(data, seed=0)
    calibrate(model, {"c": 2.0}, data)
    X = data.X[:3].clone()
    widths = []
    for decades in (0.5, 2.0):
        X[:, 0] = 3.0 + decades
        pred = predict_outcome(model, X, positive=True)
        widths.append(float((pred.upper - pred.lower).mean()))
    assert widths[1] > widths[0]
    plain = model.predict(X, observation_noise=True)
    wide = predict_outcome(model, X, positive=True)
    assert bool((wide.upper - wide.lower > plain.upper - plain.lower).all())
    torch.testing.assert_close(wide.mean, plain.mean, rtol=0.05, atol=0.0)


def test_a_calibration_that_cannot_be_validated_is_skipped_not_fatal(seed_frame, caplog):
    from mfgp.selection import model_calibration

    data = ScaleUpData(seed_frame, target="C")
    opts = {"hybrid": {"cheap_level": "scaling_law", "surrogate": {"basis": "piecewise"}}}
    with caplog.at_level(logging.WARNING, logger="mfgp.selection"):
        assert model_calibration("hybrid", data, model_options=opts, n_jobs=1) is None
    assert "bands not calibrated for extrapolation" in caplog.text
