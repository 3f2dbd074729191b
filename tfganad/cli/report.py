"""`tfganad-report RESULTS`: parsing only; the work is in `tfganad.reporting`.

Bad input exits with code 2 and one line `error: ...` on stderr, without a traceback.
"""

from __future__ import annotations

import click

from tfganad.cli.main import OneLineCommand, user_errors


@click.command(cls=OneLineCommand, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("results", type=click.Path())
@click.option("--output", "-o", default=None, type=click.Path(file_okay=False),
              help="Report folder (default: SWEEP_DIR/report; its report files are regenerated).")
@click.option("--html", "html_too", is_flag=True, help="Also write report.html next to report.md.")
@click.option("--metric", "metrics", multiple=True, default=("auprc", "auroc"), show_default=True,
              help="Results column charted per class (repeatable); the survey's Figure 5 shows AUPRC.")
@click.option("--published", default=None, type=click.Path(dir_okay=False),
              help="Published-numbers YAML (default: tfganad/data/published.yaml).")
@user_errors
def report(results, output, html_too, metrics, published):
    """Render a sweep's results (a sweep directory, results.jsonl or results.csv) as a report.

    Per dataset: per-class bar charts with mean ± std over seeds (like the survey's Figure 5), the same
    numbers as a table, ROC/PR overlays for cells that saved test scores, and wall times; then a
    paper-vs-ours table for every cell that has a published number (with its source and whether it
    was verified against the paper text).
    """
    from tfganad.reporting import write_sweep_report

    path = write_sweep_report(results, output, html_too=html_too, metrics=tuple(metrics), published_path=published)
    click.echo(f"report: {path}")
    if html_too:
        click.echo(f"html:   {path.with_suffix('.html')}")
