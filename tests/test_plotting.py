"""Every plotting function draws on an Agg axis and the figure saves to a non-empty PNG."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from mfgp import plotting  # noqa: E402

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
    return fig, ax, out


@pytest.mark.parametrize("name", plotting.__all__)
def test_plot_function_writes_png(tmp_path, name):
    fig, ax, out = _draw(name)
    assert out is ax
    assert ax.has_data()
    path = tmp_path / f"{name}.png"
    fig.savefig(path)
    plt.close(fig)
    assert path.stat().st_size > 5_000


def test_fidelity_correlation_slope_label():
    fig, ax = plt.subplots()
    plotting.fidelity_correlation(ax, OBS, 1.5 * OBS + 1)
    assert "slope 1.5" in ax.get_legend().get_texts()[0].get_text()
    plt.close(fig)
