"""Sweep reports: per-class bar charts (mean ± std over seeds), paper vs ours, ROC/PR overlays, times.

`write_sweep_report(results, out_dir)` reads a results table written by `tfganad.sweep` (a sweep
directory, its results*.jsonl or results.csv) and renders `report.md` with PNG figures (and optionally
`report.html`). Published numbers come from `tfganad/data/published.yaml` (source, table, verified
flag per entry), never from this code.
"""

from __future__ import annotations

import csv
import html
import math
import pathlib
import re
from typing import Optional

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import yaml  # noqa: E402

from tfganad.errors import ConfigError  # noqa: E402

PUBLISHED = pathlib.Path(__file__).parent / "data" / "published.yaml"
CLASS_AXES = ("data.anomalous_class", "data.normal_class")
# Axes that are replicates (averaged over) or the x axis of the charts, not series.
NOT_SERIES = ("seed", "data.split_seed", *CLASS_AXES)
DEFAULT_METRICS = ("auprc", "auroc")


# === Loading ===

def _number(text):
    if text is None or text == "":
        return None
    if isinstance(text, (int, float, bool)):
        return text
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    try:
        value = float(text)
    except ValueError:
        return text
    return int(value) if re.fullmatch(r"-?\d+", text.strip()) else value


def load_results(source) -> tuple:
    """Rows of a results table → (rows, sweep directory or None).

    Args:
        source: a sweep directory, a results*.jsonl file or a results.csv file.
    """
    from tfganad.sweep import read_jsonl, read_results

    path = pathlib.Path(source)
    if path.is_dir():
        if not list(path.glob("results*.jsonl")) and (path / "results.csv").is_file():
            path = path / "results.csv"
        else:
            rows = read_results(path)
            if not rows:
                raise ConfigError(f"{str(source)!r} holds no results rows (results*.jsonl); run tfganad-sweep first")
            return rows, path
    if not path.is_file():
        raise ConfigError(f"results {str(source)!r} do not exist (give a sweep directory, results.jsonl or "
                          f"results.csv)")
    if path.suffix == ".jsonl":
        rows = read_jsonl(path)
    elif path.suffix == ".csv":
        with open(path, newline="") as fh:
            rows = [{k: _number(v) for k, v in row.items()} for row in csv.DictReader(fh)]
    else:
        raise ConfigError(f"{str(source)!r}: expected a sweep directory, a .jsonl or a .csv results file")
    if not rows:
        raise ConfigError(f"{str(source)!r} holds no results rows")
    return rows, path.parent


def load_published(path=None) -> list:
    """Entries of the published-numbers file (default: the package's data/published.yaml)."""
    path = pathlib.Path(path or PUBLISHED)
    if not path.is_file():
        raise ConfigError(f"published numbers file {str(path)!r} does not exist")
    data = yaml.safe_load(path.read_text()) or {}
    entries = data.get("entries") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise ConfigError(f"{str(path)!r} must hold a mapping with a list under 'entries'")
    for i, e in enumerate(entries):
        missing = [k for k in ("model", "dataset", "source", "verified") if k not in e]
        if missing:
            raise ConfigError(f"{str(path)!r} entry {i} lacks {', '.join(missing)}")
        if not any(k in e for k in ("values", "mean", "metrics")):
            raise ConfigError(f"{str(path)!r} entry {i} has none of values, mean, metrics")
    return entries


# === Grouping ===

def _axes(row) -> list:
    axes = row.get("axes")
    if isinstance(axes, str):
        return [a for a in axes.split(",") if a]
    return list(axes or [])


def class_key(row) -> Optional[str]:
    """'anomalous_class' or 'normal_class' when the row belongs to a per-class task, else None."""
    axes = _axes(row)
    for axis in CLASS_AXES:
        if axis in axes:
            return axis.split(".")[1]
    if row.get("protocol") in ("one_anomalous_class",) and row.get("anomalous_class") not in (None, ""):
        return "anomalous_class"
    if row.get("protocol") in ("one_normal_class",) and row.get("normal_class") not in (None, ""):
        return "normal_class"
    return None


def class_of(row):
    """The row's class value (int) or 'all'."""
    key = class_key(row)
    value = row.get(key) if key else None
    return "all" if value in (None, "") else value


def series_of(row) -> str:
    """Label of what is compared: the non-replicate, non-class axes (`model` when none names it)."""
    axes = [a for a in _axes(row) if a not in NOT_SERIES]
    parts = [f"{row.get(a)}" if a in ("variant", "recipe") else f"{a.split('.')[-1]}={row.get(a)}" for a in axes]
    if not any(a in ("variant", "recipe", "model.name") for a in axes):
        parts.insert(0, str(row.get("model")))
    if row.get("case") not in (None, "", "-"):
        parts.append(str(row["case"]))
    return " ".join(parts)


def aggregate(rows, metrics=DEFAULT_METRICS) -> list:
    """Rows grouped by (dataset, protocol, series, class) → mean, std (ddof 1) and n per metric."""
    groups: dict = {}
    for row in rows:
        key = (str(row.get("dataset")), str(row.get("protocol")), series_of(row), class_of(row))
        groups.setdefault(key, []).append(row)
    out = []
    for (dataset, protocol, series, cls), members in groups.items():
        item = {"dataset": dataset, "protocol": protocol, "series": series, "class": cls,
                "class_key": class_key(members[0]), "model": members[0].get("model"), "rows": members,
                "n": len(members), "seeds": sorted({m.get("seed") for m in members}, key=str)}
        for metric in metrics:
            values = [float(m[metric]) for m in members if isinstance(m.get(metric), (int, float))
                      and math.isfinite(float(m[metric]))]
            item[metric] = (float(np.mean(values)) if values else float("nan"),
                            float(np.std(values, ddof=1)) if len(values) > 1 else 0.0, len(values))
        out.append(item)
    return sorted(out, key=lambda a: (a["dataset"], a["protocol"], a["series"], str(a["class"]).zfill(4)))


def _fmt(mean, std=None, n=None) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "–"
    text = f"{mean:.3f}"
    if std is not None and n and n > 1:
        text += f" ± {std:.3f}"
    return text


# === Figures ===

def plot_per_class(items, metric: str, path, title: str) -> str:
    """Grouped bars: classes on x, one bar per series, height = mean, error bar = std over seeds."""
    classes = sorted({a["class"] for a in items}, key=lambda c: (isinstance(c, str), c))
    series = sorted({a["series"] for a in items})
    lookup = {(a["series"], a["class"]): a[metric] for a in items}
    width = 0.8 / max(1, len(series))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(classes) + 2), 4))
    cmap = plt.get_cmap("tab10" if len(series) <= 10 else "tab20")
    x = np.arange(len(classes))
    for i, s in enumerate(series):
        means = [lookup.get((s, c), (np.nan, 0.0, 0))[0] for c in classes]
        stds = [lookup.get((s, c), (np.nan, 0.0, 0))[1] for c in classes]
        seeds = max(lookup.get((s, c), (np.nan, 0.0, 0))[2] for c in classes)
        ax.bar(x - 0.4 + width * (i + 0.5), means, width, yerr=stds if seeds > 1 else None, capsize=2, label=s,
               color=cmap(i % cmap.N), error_kw={"elinewidth": 0.8})
    ax.set_xticks(x, [str(c) for c in classes])
    key = items[0].get("class_key") or "class"
    ax.set(xlabel=key.replace("_", " "), ylabel=metric.upper(), ylim=(0, 1.02), title=title)
    ax.legend(fontsize=7, ncol=min(4, len(series)), loc="upper center", bbox_to_anchor=(0.5, -0.15))
    fig.tight_layout()
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return pathlib.Path(path).name


def _scores_for(row, base: pathlib.Path):
    """(y_true, scores) from the cell's test_scores.npz, or None when the run did not save them."""
    run_dir = row.get("run_dir")
    if not run_dir or base is None:
        return None
    path = base / str(run_dir) / "test_scores.npz"
    if not path.is_file():
        return None
    with np.load(path) as data:
        name = row.get("score")
        if name not in data.files:
            return None
        return np.asarray(data["y_true"]), np.asarray(data[name])


def plot_overlays(items, base, path_roc, path_pr, title: str) -> tuple:
    """ROC and PR curves of every series, one panel per class (first seed with saved scores).

    Returns (files written, series without saved test scores).
    """
    from sklearn import metrics as skm

    classes = sorted({a["class"] for a in items}, key=lambda c: (isinstance(c, str), c))
    series = sorted({a["series"] for a in items})
    missing = set()
    curves: dict = {}
    for a in items:
        for row in a["rows"]:
            got = _scores_for(row, base)
            if got is not None:
                curves[(a["series"], a["class"])] = got
                break
        else:
            missing.add(a["series"])
    if not curves:
        return [], sorted(missing)
    cols = min(5, len(classes))
    nrows = math.ceil(len(classes) / cols)
    cmap = plt.get_cmap("tab10" if len(series) <= 10 else "tab20")
    files = []
    for kind, path in (("roc", path_roc), ("pr", path_pr)):
        fig, axes = plt.subplots(nrows, cols, figsize=(3 * cols, 2.8 * nrows + 0.6), squeeze=False)
        for k, cls in enumerate(classes):
            ax = axes[k // cols][k % cols]
            for i, s in enumerate(series):
                if (s, cls) not in curves:
                    continue
                y, sc = curves[(s, cls)]
                if kind == "roc":
                    fpr, tpr, _ = skm.roc_curve(y, sc)
                    ax.plot(fpr, tpr, color=cmap(i % cmap.N), lw=1, label=s)
                else:
                    prec, rec, _ = skm.precision_recall_curve(y, sc)
                    ax.plot(rec, prec, color=cmap(i % cmap.N), lw=1, label=s)
            if kind == "roc":
                ax.plot([0, 1], [0, 1], "k--", lw=0.6)
            ax.set_title(f"class {cls}", fontsize=8)
            ax.tick_params(labelsize=6)
        for k in range(len(classes), nrows * cols):
            axes[k // cols][k % cols].axis("off")
        handles, labels = [], []
        for ax in axes.ravel():
            for h, lab in zip(*ax.get_legend_handles_labels()):
                if lab not in labels:
                    handles.append(h)
                    labels.append(lab)
        fig.legend(handles, labels, loc="lower center", ncol=min(4, len(labels)), fontsize=7)
        fig.suptitle(f"{title}: {'ROC (FPR → TPR)' if kind == 'roc' else 'precision-recall (recall → precision)'}",
                     fontsize=9)
        fig.tight_layout(rect=(0, 0.08, 1, 0.95))
        fig.savefig(path, dpi=90)
        plt.close(fig)
        files.append(pathlib.Path(path).name)
    return files, sorted(missing)


# === Paper vs ours ===

def _entry_matches(entry, item) -> bool:
    if entry["model"] != item["model"] or entry["dataset"] != item["dataset"]:
        return False
    protocols = entry.get("protocols")
    if protocols and item["protocol"] not in protocols:
        return False
    for key, value in (entry.get("match") or {}).items():
        if any(str(r.get(key)) != str(value) for r in item["rows"]):
            return False
    return True


def paper_vs_ours(items, published) -> list:
    """One row per (aggregated cell, published number): paper value, ours (mean ± std, n), difference."""
    out = []
    by_series: dict = {}
    for a in items:
        by_series.setdefault((a["dataset"], a["protocol"], a["series"]), []).append(a)
    for entry in published:
        for a in items:
            if not _entry_matches(entry, a):
                continue
            checks = []
            values = entry.get("values") or {}
            if values and entry.get("per_class") == a["class_key"] and a["class"] in values:
                checks.append((entry["metric"], values[a["class"]], a["class"]))
            for metric, value in (entry.get("metrics") or {}).items():
                checks.append((metric, value, a["class"]))
            for metric, paper, cls in checks:
                ours = _ours(a, metric)
                out.append(_pv_row(entry, a["dataset"], a["model"], a["series"], cls, metric, paper, *ours))
        if entry.get("mean") is not None and entry.get("metric"):
            for (dataset, protocol, series), members in by_series.items():
                members = [m for m in members if _entry_matches(entry, m)
                           and m["class_key"] == entry.get("per_class")]
                if not members:
                    continue
                means = [_ours(m, entry["metric"])[0] for m in members]
                means = [v for v in means if math.isfinite(v)]
                if not means:
                    continue
                label = f"mean of {len(means)} class{'es' if len(means) > 1 else ''}"
                out.append(_pv_row(entry, dataset, members[0]["model"], series, label, entry["metric"], entry["mean"],
                                   float(np.mean(means)), float(np.std(means, ddof=1)) if len(means) > 1 else 0.0,
                                   len(means)))
    return out


def _ours(item, metric) -> tuple:
    if metric in item and isinstance(item[metric], tuple):
        return item[metric]
    values = [float(r[metric]) for r in item["rows"] if isinstance(r.get(metric), (int, float))]
    values = [v for v in values if math.isfinite(v)]
    if not values:
        return float("nan"), 0.0, 0
    return float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0, len(values)


def _pv_row(entry, dataset, model, series, cls, metric, paper, mean, std, n) -> dict:
    return {"dataset": dataset, "model": model, "series": series, "class": cls, "metric": metric,
            "paper": float(paper), "ours": mean, "ours_std": std, "n": n,
            "difference": mean - float(paper) if math.isfinite(mean) else float("nan"),
            "verified": bool(entry.get("verified")), "source": entry.get("source", ""),
            "table": entry.get("table", ""), "note": entry.get("note", "")}


# === Report ===

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
                texts = [_fmt(*c[metric]) if c else "–" for c in cells_]
                means = [c[metric][0] for c in cells_ if c and math.isfinite(c[metric][0])]
                overall = _fmt(float(np.mean(means))) if means else "–"
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
                         f"{p['paper']:.4f} | {_fmt(p['ours'], p['ours_std'], p['n'])} | {p['n']} | "
                         f"{p['difference']:+.4f} | {'yes' if p['verified'] else 'no'} | {p['source']}, {p['table']} |")
        notes = sorted({f"{p['model']} ({p['source']}, {p['table']}): {p['note']}" for p in pv if p["note"]})
        if notes:
            lines += ["", "Notes:", ""] + [f"- {n}" for n in notes]
    else:
        lines.append("No cell of these results has a published number (see tfganad/data/published.yaml).")
    lines.append("")
    path = out / "report.md"
    path.write_text("\n".join(lines))
    if html_too:
        (out / "report.html").write_text(markdown_to_html(path.read_text(), title=f"Sweep report: "
                                                                                  f"{', '.join(sweep_names)}"))
    return path


def markdown_to_html(text: str, title: str = "report") -> str:
    """Minimal converter for the markdown this module writes (headers, tables, images, lists, paragraphs)."""
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
           "<style>body{font-family:sans-serif;max-width:1200px;margin:auto}table{border-collapse:collapse;"
           "font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px}img{max-width:100%}</style></head><body>"]
    lines = text.splitlines()
    i = 0

    def inline(s):
        s = html.escape(s)
        s = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", s)
        return re.sub(r"`(.+?)`", r"<code>\1</code>", s)

    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            out.append(f"<h{level}>{inline(line[level:].strip())}</h{level}>")
        elif line.startswith("!["):
            m = re.match(r"!\[(.*?)\]\((.*?)\)", line)
            if m:
                out.append(f"<p><img alt='{html.escape(m.group(1))}' src='{html.escape(m.group(2))}'></p>")
        elif line.startswith("|"):
            table = []
            while i < len(lines) and lines[i].startswith("|"):
                table.append([c.strip() for c in lines[i].strip().strip("|").split("|")])
                i += 1
            out.append("<table><tr>" + "".join(f"<th>{inline(c)}</th>" for c in table[0]) + "</tr>")
            for row in table[2:]:
                out.append("<tr>" + "".join(f"<td>{inline(c)}</td>" for c in row) + "</tr>")
            out.append("</table>")
            continue
        elif line.startswith("- "):
            out.append("<ul>")
            while i < len(lines) and lines[i].startswith("- "):
                out.append(f"<li>{inline(lines[i][2:])}</li>")
                i += 1
            out.append("</ul>")
            continue
        elif line.strip():
            out.append(f"<p>{inline(line)}</p>")
        i += 1
    out.append("</body></html>")
    return "\n".join(out) + "\n"


__all__ = ["aggregate", "load_published", "load_results", "markdown_to_html", "paper_vs_ours", "plot_overlays",
           "plot_per_class", "series_of", "write_sweep_report"]
