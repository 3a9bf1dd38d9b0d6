"""Every plotting function draws on an Agg axis (or fills a figure) and the figure saves to a
non-empty PNG; what was drawn is checked: lines and bands per run, log volume axes with
readable ticks, legends outside the data, one colour per model, no overlapping text, and the
many-model comparisons with 1 and 11 models."""

from __future__ import annotations

import itertools

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402

from mfgp import plotting  # noqa: E402
from mfgp.plotting import style  # noqa: E402

rng = np.random.default_rng(0)
T = np.tile(np.linspace(0, 40, 9), 2)
V = np.repeat([1e4, 5e4], 9)
OBS = 30 / (1 + np.exp(-0.3 * (T - 15))) + rng.normal(0, 0.5, T.size)
PRED = pd.DataFrame(
    {
        "model": "ar1",
        "volume_L": V,
        "time_h": T,
        "observed": OBS,
        "mean": OBS + rng.normal(0, 0.5, T.size),
        "sd": 0.7,
    }
)
PRED["lower95"] = PRED["mean"] - 1.96 * PRED["sd"]
PRED["upper95"] = PRED["mean"] + 1.96 * PRED["sd"]
TABLE = pd.DataFrame(
    {
        "model": ["ar1", "ar1", "ar1", "gp", "gp", "gp"],
        "volume_L": [1e4, 5e4, "all", 1e4, 5e4, "all"],
        "nrmse": [0.1, 0.2, 0.15, 0.3, 0.5, 0.4],
    }
)
MODELS11 = [
    "ar1",
    "hybrid",
    "nargp",
    "gp",
    "discrepancy",
    "scaling_law",
    "classic",
    "ridge",
    "lasso",
    "mlp_ensemble",
    "random_forest",
]


def _predictions(models, *, runs=((1e4, "A", 300), (1e4, "B", 400), (5e4, "C", 300))):
    """A ``predictions.csv`` frame: every model at every run, 7 times per run."""
    t = np.linspace(0, 60, 7)
    rows = []
    for k, m in enumerate(models):
        for v, rid, rpm in runs:
            truth = (10 + rpm / 100) / (1 + np.exp(-0.15 * (t - 30)))
            mean = truth + 0.2 * k * t / 60
            sd = 0.4 + 0.05 * k
            rows.append(
                pd.DataFrame(
                    {
                        "model": m,
                        "run_id": rid,
                        "fidelity": "measured",
                        "volume_L": v,
                        "time_h": t,
                        "rpm": float(rpm),
                        "observed": truth + rng.normal(0, 0.4, t.size),
                        "mean": mean,
                        "sd": sd,
                        "lower95": mean - 1.96 * sd,
                        "upper95": mean + 1.96 * sd,
                    }
                )
            )
    return pd.concat(rows, ignore_index=True)


def _scale_up_frames():
    vol = np.array([1.0, 1.0, 10.0, 10.0, 100.0, 1000.0, 1e4, 5e4])
    measured = pd.DataFrame(
        {
            "volume_L": vol,
            "titer": 14 - 0.6 * np.log10(vol),
            "run_id": [f"R{i}" for i in range(vol.size)],
            "set": ["train"] * 6 + ["held-out"] * 2,
        }
    )
    grid = np.logspace(0, np.log10(5e4), 30)
    mean = 14 - 0.6 * np.log10(grid)
    curve = pd.DataFrame(
        {"volume_L": grid, "mean": mean, "lower95": mean - 1.0, "upper95": mean + 1.0}
    )
    cheap = pd.concat(
        [
            pd.DataFrame({"fidelity": "scaling_law", "volume_L": grid, "value": mean + 0.5}),
            pd.DataFrame({"fidelity": "simplified_model", "volume_L": grid, "value": mean - 0.5}),
        ]
    )
    asked = pd.DataFrame(
        {
            "volume_L": [1e4, 5e4],
            "mean": [11.6, 11.2],
            "lower95": [10.4, 9.6],
            "upper95": [12.8] * 2,
        }
    )
    return measured, curve, cheap, asked


def _draw(name):
    fig, ax = plt.subplots()
    if name == "parity":
        out = plotting.parity(ax, OBS, PRED["mean"], PRED["lower95"], PRED["upper95"], label="m")
    elif name == "time_courses":
        train = pd.DataFrame({"volume_L": 10.0, "time_h": T, "C": OBS})
        out = plotting.time_courses(ax, PRED, model="ar1", train=train, target="C")
    elif name == "error_vs_volume":
        out = plotting.error_vs_volume(ax, TABLE)
    elif name == "calibration":
        out = plotting.calibration(ax, OBS, PRED["mean"], PRED["sd"], label="ar1")
    elif name == "residuals":
        out = plotting.residuals(ax, V, OBS, PRED["mean"], label="ar1")
    elif name == "learning_curve":
        n = np.arange(1, 6)
        out = plotting.learning_curve(ax, n, 1 / n, spread=(0.8 / n, 1.2 / n), label="ar1")
    elif name == "fidelity_correlation":
        out = plotting.fidelity_correlation(ax, OBS, 1.5 * OBS + 1)
    elif name == "acquisition_proposals":
        cand = pd.DataFrame({"rpm": rng.uniform(100, 500, 30), "vvm": rng.uniform(0.5, 2, 30)})
        cand["value"] = cand["rpm"] / 500
        out = plotting.acquisition_proposals(
            ax, cand, "rpm", "vvm", proposals=cand.head(3), value="value"
        )
    elif name == "scale_up":
        measured, curve, cheap, asked = _scale_up_frames()
        out = plotting.scale_up(
            ax, measured=measured, curve=curve, cheap=cheap, target="titer", asked=asked
        )
    elif name == "calibration_comparison":
        out = plotting.calibration_comparison(ax, _predictions(MODELS11[:4]))
    return fig, ax, out


AX_FUNCTIONS = [
    "acquisition_proposals",
    "calibration",
    "calibration_comparison",
    "error_vs_volume",
    "fidelity_correlation",
    "learning_curve",
    "parity",
    "residuals",
    "scale_up",
    "time_courses",
]


@pytest.mark.parametrize("name", AX_FUNCTIONS)
def test_plot_function_writes_png(tmp_path, name):
    fig, ax, out = _draw(name)
    assert out is ax
    assert ax.has_data()
    path = tmp_path / f"{name}.png"
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    assert path.stat().st_size > 5_000


def test_every_public_name_is_exported_and_documented():
    for name in plotting.__all__:
        obj = getattr(plotting, name)
        assert not callable(obj) or obj.__doc__, name


def test_fidelity_correlation_slope_label():
    fig, ax = plt.subplots()
    plotting.fidelity_correlation(ax, OBS, 1.5 * OBS + 1)
    assert "slope 1.5" in ax.get_legend().get_texts()[0].get_text()
    plt.close(fig)


# ------------------------------------------------------------------------------ helpers
def _tick_texts(ax, axis="x"):
    ax.figure.canvas.draw()
    lo, hi = sorted(ax.get_xlim() if axis == "x" else ax.get_ylim())
    labels = ax.get_xticklabels() if axis == "x" else ax.get_yticklabels()
    pos = 0 if axis == "x" else 1
    return [
        t.get_text()
        for t in labels
        if t.get_visible() and t.get_text() and lo * 0.999 <= t.get_position()[pos] <= hi * 1.001
    ]


def _texts(fig):
    """Every visible, non-empty text of the figure with its window extent (titles, axis
    labels, tick labels inside the view, annotations, legends)."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    out = []
    if fig._suptitle is not None:
        out.append(fig._suptitle)
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        out += [ax.title, ax.xaxis.label, ax.yaxis.label, *ax.texts]
        for axis, labels in (("x", ax.get_xticklabels()), ("y", ax.get_yticklabels())):
            lo, hi = sorted(ax.get_xlim() if axis == "x" else ax.get_ylim())
            pos = 0 if axis == "x" else 1
            tol = 1e-3 * (hi - lo)
            out += [t for t in labels if lo - tol <= t.get_position()[pos] <= hi + tol]
        if ax.get_legend() is not None:
            out += list(ax.get_legend().get_texts())
    texts = [t for t in out if t.get_visible() and t.get_text().strip()]
    return [(t.get_text(), t.get_window_extent(renderer)) for t in texts]


def _assert_no_overlapping_text(fig):
    boxes = _texts(fig)
    for (a, ba), (b, bb) in itertools.combinations(boxes, 2):
        shrunk = ba.expanded(0.98, 0.9)
        assert not shrunk.overlaps(bb.expanded(0.98, 0.9)), f"{a!r} overlaps {b!r}"


def _assert_legend_outside(ax):
    renderer = ax.figure.canvas.get_renderer()
    ax.figure.canvas.draw()
    legend = ax.get_legend()
    assert legend is not None
    assert legend.get_window_extent(renderer).x0 >= ax.get_window_extent(renderer).x1


def _legend_texts(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


# ----------------------------------------------------------------------------- style
def test_model_colors_are_fixed_distinct_and_stable():
    c11 = plotting.model_colors(MODELS11)
    assert len(set(c11.values())) == 11
    assert c11["hybrid"] == plotting.model_colors(["hybrid"])["hybrid"]  # any subset
    assert plotting.model_colors(["gp", "ar1"]) == {"gp": c11["gp"], "ar1": c11["ar1"]}
    other = plotting.model_colors(["my_model"])["my_model"]
    assert plotting.model_colors(["my_model", "ar1"])["my_model"] == other  # stable
    many = plotting.model_colors([f"m{i}" for i in range(20)])
    assert len(set(many.values())) == 20
    assert style.GREY not in set(many.values())


@pytest.mark.parametrize(
    ("v", "text"),
    [
        (0.05, "50 mL"),
        (1.0, "1 L"),
        (10.0, "10 L"),
        (100.0, "100 L"),
        (1e3, "1 m³"),
        (1e4, "10 m³"),
        (5e4, "50 m³"),
        (1e5, "100 m³"),
        (2.5, "2.5 L"),
    ],
)
def test_format_volume(v, text):
    assert plotting.format_volume(v) == text


def test_volume_axis_ticks_read_in_litres_and_cubic_metres():
    fig, ax = plt.subplots()
    ax.plot([1.0, 5e4], [0, 1])
    plotting.volume_axis(ax, limits=(0.6, 1.1e5))
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "working volume"
    ticks = _tick_texts(ax)
    assert ticks == ["1 L", "10 L", "100 L", "1 m³", "10 m³", "100 m³"]
    plotting.volume_axis(ax, limits=(8e3, 6e4))  # less than a decade: 2 and 5 too
    assert {"10 m³", "20 m³", "50 m³"} <= set(_tick_texts(ax))
    plt.close(fig)


def test_model_grid_has_one_panel_per_model_and_hides_the_rest():
    fig, axes = plotting.model_grid(MODELS11)
    assert len(axes) == 11
    assert sum(ax.get_visible() for ax in fig.axes) == 11 and len(fig.axes) == 12
    assert [ax.get_title() for ax in axes[:2]] == ["1. ar1", "2. hybrid"]
    # the panel above the hidden cell keeps its x tick labels
    fig.canvas.draw()
    assert any(t.get_visible() and t.get_text() for t in axes[7].get_xticklabels())
    plt.close(fig)
    fig, axes = plotting.model_grid(["gp"])
    assert len(axes) == 1 and axes[0].get_title() == "gp"
    plt.close(fig)


def test_ranked_and_highlighted():
    assert plotting.ranked(["a", "b", "c"], ["c", "x"]) == ["c", "a", "b"]
    assert plotting.highlighted(list("abcd")) == list("abcd")
    assert plotting.highlighted(list("abcdefgh")) == list("abc")
    assert plotting.highlighted(list("abcdefgh"), ["h", "z"]) == ["h"]


# ---------------------------------------------------------------------------- scale-up
def test_scale_up_draws_every_layer_on_a_log_volume_axis():
    measured, curve, cheap, asked = _scale_up_frames()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    plotting.scale_up(
        ax,
        measured=measured,
        curve=curve,
        cheap=cheap,
        target="titer",
        units="g/L",
        asked=asked,
        volume_range=(1.0, 1000.0),
    )
    assert ax.get_xscale() == "log"
    lo, hi = ax.get_xlim()
    assert lo < 1.0 and hi > 5e4  # smallest vessel to the largest asked volume
    assert {"1 L", "10 L", "100 L", "1 m³", "10 m³"} <= set(_tick_texts(ax))
    assert ax.get_ylabel() == "end-point titer (g/L)" and "titer" in ax.get_title()
    # the curve, two cheap levels (dashed), training and held-out points, the scale line
    dashed = [ln for ln in ax.get_lines() if ln.get_linestyle() not in ("-", "None", ":")]
    assert len(dashed) == 2
    open_markers = [ln for ln in ax.get_lines() if ln.get_markerfacecolor() in ("white", "w")]
    assert len(open_markers) == 1 and len(open_markers[0].get_xdata()) == 2
    assert any(ln.get_linestyle() == ":" and ln.get_xdata()[0] == 1000.0 for ln in ax.get_lines())
    assert len(ax.collections) >= 2  # the 95 % band and the asked error bars
    assert [t.get_text() for t in ax.texts] == ["11.6", "11.2"]
    texts = _legend_texts(ax)
    for expected in (
        "largest measured scale (1 m³)",
        "measured runs (held out)",
        "measured runs (training)",
        "scaling_law (cheap level)",
        "simplified_model (cheap level)",
        "asked volumes (95 % interval)",
        "95 % band",
    ):
        assert expected in texts
    _assert_legend_outside(ax)
    _assert_no_overlapping_text(fig)
    plt.close(fig)


def test_scale_up_minimal_and_bad_target():
    measured, curve, _, _ = _scale_up_frames()
    fig, ax = plt.subplots()
    plotting.scale_up(
        ax, measured=measured.drop(columns=["set", "run_id"]), curve=curve, target="titer"
    )
    texts = _legend_texts(ax)
    assert "measured runs" in texts and "prediction at the set point" in texts
    assert "largest measured scale (50 m³)" in texts  # default: the measured range
    assert ax.get_ylim()[0] >= 0  # a positive target
    with pytest.raises(ValueError, match="no column 'C'"):
        plotting.scale_up(ax, measured=measured, curve=curve, target="C")
    plt.close(fig)


def test_scale_up_spreads_runs_of_one_volume():
    measured, curve, _, _ = _scale_up_frames()
    fig, ax = plt.subplots()
    plotting.scale_up(ax, measured=measured, curve=curve, target="titer")
    filled = [ln for ln in ax.get_lines() if ln.get_marker() == "o" and ln.get_mfc() == "k"][0]
    x = np.asarray(filled.get_xdata())
    assert len(np.unique(x)) == len(x)  # the two 1 L and the two 10 L runs side by side
    np.testing.assert_allclose(np.sort(x)[:2], [1.0, 1.0], rtol=0.1)
    plt.close(fig)


# ------------------------------------------------------------------------ time courses
def test_time_courses_one_line_per_run_never_averaged():
    pred = _predictions(["hybrid"])
    fig, ax = plt.subplots()
    plotting.time_courses(ax, pred, model="hybrid", target="titer", units="g/L")
    lines = [ln for ln in ax.get_lines() if ln.get_linestyle() == "-"]
    points = [ln for ln in ax.get_lines() if ln.get_linestyle() == "None"]
    assert len(lines) == 3 and len(points) == 3 and len(ax.collections) == 3
    for line, pts in zip(lines, points, strict=True):
        assert line.get_color() == pts.get_color()  # a run's points in its colour
    means = sorted(tuple(np.round(ln.get_ydata(), 9)) for ln in lines)
    runs = sorted(tuple(np.round(g["mean"].to_numpy(), 9)) for _, g in pred.groupby("run_id"))
    assert means == runs
    texts = _legend_texts(ax)
    assert "10 m³: run A" in texts and "50 m³: run C" in texts
    assert ax.get_ylabel() == "titer (g/L)"
    _assert_legend_outside(ax)
    _assert_no_overlapping_text(fig)
    plt.close(fig)


def test_time_courses_without_run_id_group_by_operating_point():
    pred = _predictions(["gp"]).drop(columns="run_id")
    fig, ax = plt.subplots()
    plotting.time_courses(ax, pred)
    assert len([ln for ln in ax.get_lines() if ln.get_linestyle() == "-"]) == 3
    assert "10 m³: rpm=300" in _legend_texts(ax)
    plt.close(fig)


def test_time_courses_many_runs_legend_by_volume_and_several_models_need_model():
    runs = [(1e4, f"r{i}", 300 + i) for i in range(10)] + [(5e4, f"s{i}", 300) for i in range(5)]
    pred = _predictions(["gp", "ar1"], runs=runs)
    fig, ax = plt.subplots()
    plotting.time_courses(ax, pred, model="gp")
    assert len([ln for ln in ax.get_lines() if ln.get_linestyle() == "-"]) == 15
    assert "10 m³: 10 runs" in _legend_texts(ax) and "50 m³: 5 runs" in _legend_texts(ax)
    with pytest.raises(ValueError, match="pass model="):
        plotting.time_courses(ax, pred)
    plt.close(fig)


def test_time_course_grid_one_panel_per_volume():
    pred = _predictions(["gp"])
    fig = plotting.time_course_grid(pred, target="titer", units="g/L")
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in axes] == ["10 m³ (2 runs)", "50 m³ (1 run)"]
    assert len([ln for ln in axes[0].get_lines() if ln.get_linestyle() == "-"]) == 2
    assert axes[0].get_ylabel() == "titer (g/L)"
    _assert_no_overlapping_text(fig)
    plt.close(fig)


# ----------------------------------------------------------------- many-model comparisons
@pytest.mark.parametrize("n", [1, 11])
def test_comparison_figures_with_one_and_eleven_models(tmp_path, n):
    models = MODELS11[:n]
    pred = _predictions(models)
    ranking = list(reversed(models))
    figs = plotting.comparison_figures(pred, ranking, target="titer", units="g/L")
    assert list(figs) == ["parity", "calibration", "residuals", "error_vs_volume"]
    colors = plotting.model_colors(models)

    parity_axes = [ax for ax in figs["parity"].axes if ax.get_visible()]
    assert len(parity_axes) == n
    assert len({ax.get_xlim() for ax in parity_axes}) == 1  # shared axes
    expected_title = f"1. {ranking[0]}" if n > 1 else ranking[0]
    assert parity_axes[0].get_title() == expected_title
    assert "RMSE" in parity_axes[0].texts[0].get_text()

    resid_axes = [ax for ax in figs["residuals"].axes if ax.get_visible()]
    assert len(resid_axes) == n and all(ax.get_xscale() == "log" for ax in resid_axes)

    (cal,) = figs["calibration"].axes
    coloured = [ln for ln in cal.get_lines() if to_hex(ln.get_color()) != to_hex(style.GREY)]
    top = ranking[: min(3, n)] if n > 6 else ranking
    assert len(coloured) == len(top) + 1  # + the diagonal
    legend = _legend_texts(cal)
    assert legend[: len(top)] == top
    if n == 11:
        assert legend[-1] == "8 other models"
        assert to_hex(coloured[0].get_color()) == colors[top[0]]

    (err,) = figs["error_vs_volume"].axes
    assert err.get_xscale() == "log"
    assert {ln.get_label() for ln in err.get_lines()} == set(models)  # recolourable by label
    assert _legend_texts(err)[: len(top)] == top
    for name, fig in figs.items():
        _assert_no_overlapping_text(fig)
        fig.savefig(tmp_path / f"{name}.png", dpi=120, bbox_inches="tight")
        plt.close(fig)
        assert (tmp_path / f"{name}.png").stat().st_size > 5_000


def test_error_vs_volume_highlight_and_default_ranking():
    pred = _predictions(MODELS11)
    table = plotting.volume_errors(pred)
    assert set(table.columns) >= {"model", "volume_L", "n", "rmse", "nrmse", "coverage95"}
    fig, ax = plt.subplots()
    plotting.error_vs_volume(ax, table, metric="rmse", highlight=["lasso", "gp"], units="g/L")
    assert _legend_texts(ax) == ["lasso", "gp", "9 other models"]
    by_label = {ln.get_label(): ln for ln in ax.get_lines()}
    assert to_hex(by_label["lasso"].get_color()) == plotting.model_colors(["lasso"])["lasso"]
    assert to_hex(by_label["ar1"].get_color()) == to_hex(style.GREY)
    assert ax.get_ylabel() == "RMSE (g/L)"
    _assert_legend_outside(ax)
    plt.close(fig)
    # without a ranking: the best by the table's "all" rows first
    fig, ax = plt.subplots()
    plotting.error_vs_volume(ax, TABLE)
    assert _legend_texts(ax) == ["ar1", "gp"]
    plt.close(fig)


def test_calibration_grid_and_single_model_colours():
    pred = _predictions(MODELS11)
    fig = plotting.calibration_grid(pred, ranking=MODELS11[::-1])
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(axes) == 11 and axes[0].get_title() == "1. random_forest"
    _assert_no_overlapping_text(fig)
    plt.close(fig)
    fig, ax = plt.subplots()
    for m in MODELS11:  # the report's loop: each model in its own colour, legend outside
        g = pred[pred["model"] == m]
        plotting.calibration(ax, g["observed"], g["mean"], g["sd"], label=m)
    colors = plotting.model_colors(MODELS11)
    assert [to_hex(ln.get_color()) for ln in ax.get_lines()[::2]] == [colors[m] for m in MODELS11]
    _assert_legend_outside(ax)
    plt.close(fig)


def test_parity_and_residuals_labels_with_units():
    fig, ax = plt.subplots()
    plotting.parity(ax, OBS, PRED["mean"], target="titer", units="g/L")
    assert ax.get_xlabel() == "observed titer (g/L)" and ax.get_ylabel() == "predicted titer (g/L)"
    plotting.residuals(ax, V, OBS, PRED["mean"], units="g/L")
    assert ax.get_xlabel() == "working volume" and ax.get_xscale() == "log"
    assert ax.get_ylabel().startswith("residual (g/L)")
    plt.close(fig)
