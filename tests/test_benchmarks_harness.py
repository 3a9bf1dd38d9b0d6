"""Tests of the benchmark harness: schema, splits, backends, resume, quiet mode, peers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mfbench import harness as H
from mfbench.problems import load_problem

from mfgp import datasets
from mfgp.metrics import METRIC_NAMES
from mfgp.models.base import MODEL_REGISTRY

from .conftest import load_benchmark_script

ROOT = Path(__file__).resolve().parents[1]
TIMING = ["fit_seconds", "predict_seconds"]


def tiny_frame() -> pd.DataFrame:
    """30 rows: two levels x 5 volumes (1 L to 10 m3) x 3 times; one run per level and volume."""
    rng = np.random.default_rng(0)
    rows = []
    for level, bias in (("scaling_law", 1.2), ("measured", 1.0)):
        for v in (1.0, 10.0, 100.0, 1000.0, 10000.0):
            for t in (0.0, 12.0, 24.0):
                c = bias * (5 + 2 * np.log10(v)) * (1 - np.exp(-t / 10)) + 0.5
                if level == "measured":
                    c *= float(np.exp(rng.normal(0, 0.02)))
                rows.append((f"{level}-{v:g}", level, v, t, c))
    return pd.DataFrame(rows, columns=["run_id", "fidelity", "volume_L", "time_h", "C"])


@pytest.fixture
def tiny(tmp_path: Path) -> str:
    path = tmp_path / "tiny.csv"
    tiny_frame().to_csv(path, index=False)
    return f"csv:{path}:C"


def _ridge_cells(problem: str, seeds: tuple[int, ...] = (0,)) -> list[H.Cell]:
    return H.make_cells([problem], ["ridge"], list(seeds), kind="extrapolation")


def _stable(df: pd.DataFrame) -> pd.DataFrame:
    return (
        df.drop(columns=TIMING)
        .sort_values(["problem", "model", "seed", "split", "volume", "metric"])
        .reset_index(drop=True)
    )


def test_schema_and_outputs(tiny: str, tmp_path: Path) -> None:
    cells = H.make_cells(
        [tiny],
        ["gp"],
        [0],
        kind="extrapolation",
        model_options={"gp": {"restarts": 1, "maxiter": 20}},
        splits={tiny: ["extrap:1000"]},
    )
    out = tmp_path / "res.csv"
    df = H.run_sweep(cells, out, quiet=True)
    assert list(df.columns) == list(H.SCHEMA)
    assert list(pd.read_csv(out).columns) == list(H.SCHEMA)
    assert set(METRIC_NAMES) <= set(df["metric"])
    assert not df["metric"].str.startswith("failed").any()
    by_metric = df.set_index(["volume", "metric"])["value"]
    assert by_metric[("10000", "ratio")] == pytest.approx(10.0)
    assert by_metric[("all", "v_train_max")] == pytest.approx(1000.0)
    assert by_metric[("all", "n_train_top")] == 12  # 4 measured volumes x 3 times
    assert by_metric[("all", H.SENTINEL)] == len(df)
    assert (df["fit_seconds"] > 0).all() and (df["device"] == "cpu").all()
    assert df["versions"].str.contains("torch=").all()
    summary = H.summarize(df[df["volume"] != "all"])
    assert {"nrmse", "coverage95", "fit_s", "n_seeds"} <= set(summary.columns)
    paths = H.write_outputs(
        tmp_path / "res", rows=df, markdown="# t\n", meta={"x": 1}, tables={"s": summary}
    )
    payload = json.loads(paths[0].read_text())
    assert payload["schema"] == list(H.SCHEMA) and len(payload["rows"]["data"]) == len(df)
    assert payload["tables"]["s"][0]["model"] == "gp"


@pytest.mark.parametrize("problem", ["tiny", "default"])
def test_extrapolation_splits_hold_out_every_larger_measurement(problem: str, tiny: str) -> None:
    spec = tiny if problem == "tiny" else "default"
    if spec == "default" and not datasets.file("bioreactor_multifidelity").is_file():
        pytest.skip("the default data set is not generated")
    data = load_problem(spec).data
    vols = data.volumes()
    splits = H.extrapolation_splits(spec)
    assert splits == [f"extrap:{v:g}" for v in vols[:-1]]
    key = ["fidelity", "volume_L", "time_h", *data.operating_names]
    for split in splits:
        vmax = float(split.split(":")[1])
        train, test = H.make_split(spec, split)
        top_train = train.frame[train.fidelity == train.top_fidelity]
        assert top_train["volume_L"].max() == vmax
        assert (test.fidelity == test.top_fidelity).all()
        assert np.allclose(test.volumes(), vols[vols > vmax])
        # no test measurement reaches training ...
        merged = test.frame[key].merge(train.frame[key], how="inner")
        assert merged.empty
        # ... but the cheap levels at the test volumes do
        low = train.frame[train.fidelity < train.top_fidelity]
        assert set(vols[vols > vmax]) <= set(low["volume_L"])
        assert len(train) + len(test) == len(data)
    for split in H.loso_splits(spec):
        train, test = H.make_split(spec, split)
        v = float(split.split(":")[1])
        assert test.volumes().tolist() == [v]
        assert v not in train.volumes().tolist()


def test_learning_curve_splits_are_nested_and_seeded() -> None:
    if not datasets.file("bioreactor_multifidelity").is_file():
        pytest.skip("the default data set is not generated")
    p = load_problem("default")
    splits = H.learning_curve_splits(p)
    assert splits[-1] == "runs:14"

    def runs(split: str, seed: int) -> set[str]:
        train, test = H.make_split(p, split, seed)
        assert set(test.volumes()) == set(p.production_volumes())
        top = train.frame[train.fidelity == train.top_fidelity]
        assert not set(top["volume_L"]) & set(p.production_volumes())
        return set(top["run_id"])

    small, big = runs("runs:2", 0), runs("runs:8", 0)
    assert len(small) == 2 and len(big) == 8 and small <= big
    assert runs("runs:4", 1) == runs("runs:4", 1)
    assert any(runs("runs:4", s) != runs("runs:4", 0) for s in (1, 2, 3))


def test_joblib_and_dask_give_the_same_rows(tiny: str, tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    cells = _ridge_cells(tiny, seeds=(0, 1))
    a = H.run_sweep(cells, tmp_path / "joblib.csv", backend="joblib", n_jobs=1, quiet=True)
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as cluster:
        b = H.run_sweep(
            cells, tmp_path / "dask.csv", backend="dask", scheduler=cluster.scheduler_address,
            quiet=True,
        )  # fmt: skip
    assert len(a) > 0
    pd.testing.assert_frame_equal(_stable(a), _stable(b))


def test_interrupted_sweep_resumes_without_redoing_cells(
    tiny: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cls = MODEL_REGISTRY["ridge"]
    calls: list[int] = []
    original = cls.fit

    def counting_fit(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(cls, "fit", counting_fit)
    cells = _ridge_cells(tiny)
    out = tmp_path / "res.csv"
    half = len(cells) // 2
    H.run_sweep(cells[:half], out, quiet=True)
    assert len(calls) == half
    # an interrupted write: a cell without its closing row, and a torn last line
    df = pd.read_csv(out, dtype={"volume": str})
    last = cells[half - 1].key
    mask = (
        (df["split"] == last[3]) & (df["seed"] == last[2]) & (df["metric"] == H.SENTINEL)
    )  # fmt: skip
    df[~mask].to_csv(out, index=False)
    with open(out, "a") as fh:
        fh.write(f"{tiny},ridge,0,extrap:1,all,rmse")
    assert H.completed_keys(out) == {c.key for c in cells[: half - 1]}
    calls.clear()
    full = H.run_sweep(cells, out, quiet=True)
    assert len(calls) == len(cells) - (half - 1)
    assert H.completed_keys(out) == {c.key for c in cells}
    closing = full[full["metric"] == H.SENTINEL]
    assert len(closing) == len(cells)  # every cell once
    calls.clear()
    H.run_sweep(cells, out, quiet=True)
    assert calls == []


def test_quiet_mode_prints_nothing(tiny: str, tmp_path: Path, capfd: pytest.CaptureFixture) -> None:
    module = load_benchmark_script("extrapolation")
    capfd.readouterr()
    prefix = tmp_path / "ext"
    rc = module.main(
        ["--problems", tiny, "--models", "ridge", "--seeds", "1", "--no-loso", "--quiet"]
        + ["--out", str(prefix)]
    )
    out, err = capfd.readouterr()
    assert rc == 0
    assert out == "" and err == ""
    for suffix in (".csv", ".json", ".md", ".png"):
        assert prefix.with_suffix(suffix).stat().st_size > 0
    md = prefix.with_suffix(".md").read_text()
    assert "Extrapolation" in md and "| ridge " in md


def test_peer_status_and_ratio_to_best_peer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(H._PEER_MODULES, "smt_mfk", ("surely_not_an_installed_module_xyz",))
    ok, skipped = H.peer_status(["botorch_stmf", "smt_mfk", "nope"])
    assert ok == ["botorch_stmf"]
    assert "mfgp[peers]" in skipped["smt_mfk"] and "unknown" in skipped["nope"]
    rows = [
        ("p", model, seed, "extrap:10", "100", "nrmse", value)
        for model, values in (
            ("ar1", (0.2, 0.4)),
            ("botorch_stmf", (0.6, 0.6)),
            ("smt_mfk", (1, 1)),
        )
        for seed, value in enumerate(values)
    ]
    df = pd.DataFrame(rows, columns=list(H.SCHEMA[:7]))
    df["fit_seconds"], df["predict_seconds"] = 1.0, 0.1
    table = H.summarize(df, metrics=("nrmse",)).set_index("model")
    assert table.loc["ar1", "ratio_to_best_peer"] == pytest.approx(0.5)
    assert (table["best_peer"] == "botorch_stmf").all()


def test_speed_cells_warm_up_once_per_model_untimed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A speed cell fits its model once, untimed, on a small design before the timed fit (the
    first time per process and model only), so one-off costs stay out of the timings."""
    monkeypatch.setattr(H, "_WARMED", set())
    seen: list[int] = []
    real = H._fit_predict

    def counting(cell, train_X, *args):  # noqa: ANN001, ANN202 - a spy on the real function
        seen.append(len(train_X))
        return real(cell, train_X, *args)

    monkeypatch.setattr(H, "_fit_predict", counting)
    cells = [H.Cell("forrester", "ridge", seed, "speed:20x5", options=()) for seed in (0, 1)]
    first, second = (H.run_cell(c) for c in cells)
    assert seen == [8 + 6, 25, 25]  # warm-up on 8/6 rows, then the two timed fits
    for rows in (first, second):
        metrics = {r["metric"]: r for r in rows}
        assert {"nrmse", "n_train", "cell_rows"} <= set(metrics)
        assert metrics["n_train"]["value"] == 25 and metrics["nrmse"]["fit_seconds"] >= 0
