"""Grouping result rows into series and classes, and mean ± std over seeds."""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

CLASS_AXES = ("data.anomalous_class", "data.normal_class")
# Axes that are replicates (averaged over) or the x axis of the charts, not series.
NOT_SERIES = ("seed", "data.split_seed", *CLASS_AXES)
DEFAULT_METRICS = ("auprc", "auroc")


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


def format_mean_std(mean, std=None, n=None) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "–"
    text = f"{mean:.3f}"
    if std is not None and n and n > 1:
        text += f" ± {std:.3f}"
    return text


__all__ = ["CLASS_AXES", "DEFAULT_METRICS", "NOT_SERIES", "aggregate", "class_key", "class_of", "format_mean_std",
           "series_of"]
