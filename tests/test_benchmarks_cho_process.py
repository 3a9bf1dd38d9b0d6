"""The independent CHO process of ``benchmarks/processes``: its seed-format time courses."""

from __future__ import annotations

import numpy as np
from processes.cho_fedbatch import timecourse_dataset


def test_timecourse_dataset_is_a_seed_format_file_whose_production_scale_falls_short():
    frame = timecourse_dataset(seed=3)
    assert list(frame.columns) == ["scale", "V", "t", "C"]
    assert sorted(frame["V"].unique()) == [10.0, 100.0, 4000.0, 100000.0]
    assert len(frame) == 4 * 2 * 15  # two runs per scale, daily over 14 days
    assert (frame.groupby("V")["scale"].nunique() == 1).all()
    harvest = frame[frame["t"] == frame["t"].max()].groupby("V")["C"].mean()
    assert harvest[100000.0] < 0.8 * harvest[4000.0] < 0.8 * harvest[10.0]
    again = timecourse_dataset(seed=3)
    np.testing.assert_allclose(again["C"], frame["C"], rtol=1e-6)
    assert not np.allclose(timecourse_dataset(seed=4)["C"], frame["C"])
