"""Sweep figures: per-class bar charts (mean ± std over seeds) and ROC/PR overlays of every series."""

from __future__ import annotations

import math
import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


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
