"""Reports and figures of the jobs: Markdown pages for a bioprocess engineer, the scale-up
figure first. Plotting stays at the edge: these modules turn a job's typed result into PNG
figures (through :mod:`mfgp.plotting`) and a page of text."""

from __future__ import annotations

from mfgp.report.common import save_figure
from mfgp.report.predict_report import write_predict_report
from mfgp.report.run_report import write_figures, write_report

__all__ = ["save_figure", "write_figures", "write_predict_report", "write_report"]
