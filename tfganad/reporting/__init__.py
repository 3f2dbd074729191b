"""Sweep reports: per-class bar charts (mean ± std over seeds), paper vs ours, ROC/PR overlays, times.

`write_sweep_report(results, out_dir)` reads a results table written by `tfganad.sweep` (a sweep
directory, its results*.jsonl or results.csv) and renders `report.md` with PNG figures (and optionally
`report.html`). Published numbers come from `tfganad/data/published.yaml` (source, table, verified
flag per entry), never from this code.

One module per concern: `results` (loading), `aggregate` (series, classes, mean ± std over seeds),
`figures`, `paper` (paper vs ours), `html_page` (markdown → HTML) and `sweep_report` (the document).
The report of one run (report.md next to its metrics.json) is `tfganad.training.report`, written by
the runner while it trains.
"""

from tfganad.reporting.aggregate import CLASS_AXES, DEFAULT_METRICS, aggregate, class_key, class_of, series_of
from tfganad.reporting.figures import plot_overlays, plot_per_class
from tfganad.reporting.html_page import markdown_to_html
from tfganad.reporting.paper import paper_vs_ours
from tfganad.reporting.results import PUBLISHED, load_published, load_results
from tfganad.reporting.sweep_report import write_sweep_report

__all__ = ["CLASS_AXES", "DEFAULT_METRICS", "PUBLISHED", "aggregate", "class_key", "class_of", "load_published",
           "load_results", "markdown_to_html", "paper_vs_ours", "plot_overlays", "plot_per_class", "series_of",
           "write_sweep_report"]
