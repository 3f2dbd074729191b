"""`write_sweep_report`: report.md (+ report.html) with the figures, tables and paper-vs-ours of a sweep."""

from __future__ import annotations

import math
import pathlib
import re

import numpy as np

from tfganad.errors import ConfigError
from tfganad.reporting.aggregate import DEFAULT_METRICS, aggregate, format_mean_std
from tfganad.reporting.figures import plot_overlays, plot_per_class
from tfganad.reporting.html_page import markdown_to_html
from tfganad.reporting.paper import paper_vs_ours
from tfganad.reporting.results import load_published, load_results


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(text)).strip("_") or "x"


def write_sweep_report(results, out_dir=None, html_too: bool = False, metrics=DEFAULT_METRICS,
                       published_path=None) -> pathlib.Path:
    """Renders report.md (+ PNGs, + report.html with `html_too`) from a results table → report.md path.

    Args:
        results: sweep directory, results*.jsonl or results.csv.
        out_dir: where to write (default: `<sweep directory>/report`); its report files are replaced.
        metrics: results columns charted per class (the survey's Figure 5 uses AUPRC).
        published_path: published-numbers YAML (default: the package's data/published.yaml).
    """
    rows, base = load_results(results)
    out = pathlib.Path(out_dir) if out_dir else base / "report"
    if out.exists() and any(out.iterdir()) and not (out / "report.md").exists():
        raise ConfigError(f"output folder {str(out)!r} exists and is not a report folder; choose another")
    out.mkdir(parents=True, exist_ok=True)
    for metric in metrics:
        if not any(isinstance(r.get(metric), (int, float)) for r in rows):
            known = sorted({k for r in rows for k, v in r.items() if isinstance(v, float)})
            raise ConfigError(f"metric {metric!r} is not a numeric results column; columns: {', '.join(known)}")
    published = load_published(published_path)
    items = aggregate(rows, metrics)
    sweep_names = sorted({str(r.get("sweep")) for r in rows if r.get("sweep")})
    cells = {r.get("cell") for r in rows}
    lines = [f"# Sweep report: {', '.join(sweep_names) or pathlib.Path(str(results)).name}", "",
             f"{len(rows)} result rows from {len(cells)} cells (`{results}`). Bars and table entries are the "
             f"mean ± standard deviation over seeds (n = number of seeds); model selection never used test "
             f"labels unless a row says so.", ""]
    on_test = [r for r in rows if r.get("selected_on_test") in (True, "True")]
    if on_test:
        lines += [f"**{len(on_test)} rows selected their epoch on test labels** (train.selection test_*).", ""]
    groups: dict = {}
    for a in items:
        groups.setdefault((a["dataset"], a["protocol"]), []).append(a)
    missing_scores: dict = {}
    for (dataset, protocol), group in groups.items():
        lines += [f"## {dataset} / {protocol}", ""]
        classes = sorted({a["class"] for a in group}, key=lambda c: (isinstance(c, str), c))
        series = sorted({a["series"] for a in group})
        for metric in metrics:
            name = f"{_slug(dataset)}_{_slug(protocol)}_{metric}.png"
            plot_per_class(group, metric, out / name, f"{dataset} ({protocol}): {metric.upper()} per class")
            lines += [f"### {metric.upper()} per class", "", f"![{metric} per class]({name})", ""]
            head = "| series | " + " | ".join(str(c) for c in classes) + " | mean over classes |"
            lines += [head, "|" + "---|" * (len(classes) + 2)]
            lookup = {(a["series"], a["class"]): a for a in group}
            for s in series:
                cells_ = [lookup.get((s, c)) for c in classes]
                texts = [format_mean_std(*c[metric]) if c else "–" for c in cells_]
                means = [c[metric][0] for c in cells_ if c and math.isfinite(c[metric][0])]
                overall = format_mean_std(float(np.mean(means))) if means else "–"
                lines.append(f"| {s} | " + " | ".join(texts) + f" | {overall} |")
            lines.append("")
        roc = f"{_slug(dataset)}_{_slug(protocol)}_roc.png"
        pr = f"{_slug(dataset)}_{_slug(protocol)}_pr.png"
        files, missing = plot_overlays(group, base, out / roc, out / pr, f"{dataset} ({protocol})")
        if files:
            lines += ["### ROC and PR overlays (first seed of each cell)", ""] + [f"![{f}]({f})" for f in files] + [""]
        if missing:
            missing_scores[(dataset, protocol)] = missing
            lines += [f"No ROC/PR curves for {', '.join(missing)}: those runs saved no `test_scores.npz` "
                      f"(runs made before tfganad wrote it, or runs that stopped before evaluation).", ""]
        times = {}
        for a in group:
            for r in a["rows"]:
                times.setdefault(a["series"], []).append(float(r.get("wall_seconds") or 0.0))
        lines += ["### Wall time per cell", "", "| series | cells | mean (s) | total (s) |", "|---|---|---|---|"]
        for s in series:
            t = times.get(s, [])
            lines.append(f"| {s} | {len(t)} | {np.mean(t):.1f} | {np.sum(t):.1f} |")
        lines.append("")
    pv = paper_vs_ours(items, published)
    lines += ["## Paper vs ours", ""]
    if pv:
        lines += ["Published numbers from `tfganad/data/published.yaml` (source and verified flag per entry); "
                  "difference = ours − paper. Per-class rows: ours = mean ± std over seeds (n seeds); "
                  "'mean of k classes' rows: the mean over classes of those means, ± their spread over classes.",
                  "",
                  "| data | model | series | class | metric | paper | ours | n | difference | verified | source |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for p in pv:
            lines.append(f"| {p['dataset']} | {p['model']} | {p['series']} | {p['class']} | {p['metric']} | "
                         f"{p['paper']:.4f} | {format_mean_std(p['ours'], p['ours_std'], p['n'])} | {p['n']} | "
                         f"{p['difference']:+.4f} | {'yes' if p['verified'] else 'no'} | {p['source']}, {p['table']} |")
        notes = sorted({f"{p['model']} ({p['source']}, {p['table']}): {p['note']}" for p in pv if p["note"]})
        if notes:
            lines += ["", "Notes:", ""] + [f"- {n}" for n in notes]
    else:
        lines.append("No cell of these results has a published number (see tfganad/data/published.yaml).")
    lines.append("")
    from tfganad.training.io import atomic_write_text

    # Written aside and renamed: a report being regenerated is never left half-written.
    path = out / "report.md"
    text = "\n".join(lines)
    atomic_write_text(path, text)
    if html_too:
        atomic_write_text(out / "report.html", markdown_to_html(text, title=f"Sweep report: {', '.join(sweep_names)}"))
    return path
