"""Runs, end points (harvest) and forward-chaining validation over volumes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mfgp.data import ScaleUpData, endpoint_mask, forward_chaining, run_labels
from mfgp.exceptions import InputDataError


def _time_courses() -> pd.DataFrame:
    rows = []
    for v in (1.0, 10.0, 100.0, 1000.0):
        for rpm in (300.0, 400.0):
            for t in (0.0, 12.0, 24.0):
                rows.append({"V": v, "t": t, "rpm": rpm, "C": 1 + t / 10 + np.log10(v) / 5})
    return pd.DataFrame(rows)


def test_end_points_are_the_last_time_of_each_run():
    data = ScaleUpData(_time_courses(), target="C")
    ends = endpoint_mask(data)
    assert ends.sum() == 8  # 4 volumes x 2 operating points, without a run column
    assert (data.frame.loc[ends, "time_h"] == 24.0).all()
    with_ids = _time_courses().assign(run=lambda f: f["V"].astype(str) + f["rpm"].astype(str))
    assert (endpoint_mask(ScaleUpData(with_ids, target="C")) == ends).all()
    labels = run_labels(data)
    assert len(set(labels)) == 8 and "rpm=300" in labels[0]


def test_end_point_data_are_all_end_points():
    frame = _time_courses().query("t == 24").drop(columns="t")
    assert endpoint_mask(ScaleUpData(frame, target="C")).all()


def test_cheap_levels_are_not_end_points_of_the_measurements():
    frame = _time_courses().assign(fidelity="measured")
    cheap = frame.assign(fidelity="simulator", C=frame["C"] * 0.9)
    data = ScaleUpData(pd.concat([cheap, frame]), target="C")
    assert endpoint_mask(data).sum() == 8
    assert endpoint_mask(data, top_only=False).sum() == 16


def test_forward_chaining_trains_up_to_each_volume_and_tests_the_next():
    frame = _time_courses().assign(fidelity="measured")
    cheap = frame.assign(fidelity="simulator")
    data = ScaleUpData(pd.concat([cheap, frame]), target="C")
    folds = list(forward_chaining(data))
    assert [v for v, _, _ in folds] == [100.0, 1000.0]
    for v, train, test in folds:
        assert train.volumes().max() < v and set(test.volume_L) == {v}
        assert (test.fidelity == test.top_fidelity).all()
        assert set(train.volumes(0)) == {1.0, 10.0, 100.0, 1000.0}  # cheap rows everywhere
    assert [v for v, _, _ in forward_chaining(data, min_train_volumes=3)] == [1000.0]
    with pytest.raises(InputDataError, match="forward-chaining"):
        list(forward_chaining(data.subset(data.volume_L <= 10)))
