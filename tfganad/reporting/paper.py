"""Paper vs ours: each published number next to our mean ± std over seeds, and their difference."""

from __future__ import annotations

import math

import numpy as np


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
