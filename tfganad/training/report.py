"""Run report: markdown plus PNG plots (ROC, PR, score histograms, inputs vs reconstructions)."""

from __future__ import annotations

import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn import metrics as skm  # noqa: E402


def plot_roc_pr(y_true, scores, out_dir) -> list:
    """ROC and PR curves of one score vector → [roc.png, pr.png]."""
    out_dir = pathlib.Path(out_dir)
    fpr, tpr, _ = skm.roc_curve(y_true, scores)
    prec, rec, _ = skm.precision_recall_curve(y_true, scores)
    files = []
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.plot(fpr, tpr, label=f"AUROC {skm.roc_auc_score(y_true, scores):.3f}")
    ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(out_dir / "roc.png", dpi=100)
    plt.close(fig)
    files.append("roc.png")
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.plot(rec, prec, label=f"AUPRC {skm.average_precision_score(y_true, scores):.3f}")
    ax.axhline(np.mean(y_true), color="k", ls="--", lw=0.8, label="chance")
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall (anomaly = positive)")
    ax.legend(loc="lower left")
    fig.tight_layout()
    fig.savefig(out_dir / "pr.png", dpi=100)
    plt.close(fig)
    files.append("pr.png")
    return files


def plot_histogram(y_true, scores, out_dir, threshold=None) -> str:
    """Histogram of normal vs anomalous test scores (with the validation threshold) → scores.png."""
    fig, ax = plt.subplots(figsize=(5, 3.5))
    bins = np.histogram_bin_edges(scores, bins=40)
    ax.hist(scores[y_true == 0], bins=bins, alpha=0.6, label="normal", density=True)
    ax.hist(scores[y_true == 1], bins=bins, alpha=0.6, label="anomalous", density=True)
    if threshold is not None and np.isfinite(threshold):
        ax.axvline(threshold, color="k", ls="--", lw=1, label="validation threshold")
    ax.set(xlabel="anomaly score", ylabel="density", title="Test scores")
    ax.legend()
    fig.tight_layout()
    fig.savefig(pathlib.Path(out_dir) / "scores.png", dpi=100)
    plt.close(fig)
    return "scores.png"


def plot_reconstructions(x, x_rec, y, out_dir, n: int = 8) -> str:
    """Grid: inputs (top) and reconstructions (bottom), normal then anomalous samples → reconstructions.png."""
    idx = np.concatenate([np.flatnonzero(y == 0)[: n // 2], np.flatnonzero(y == 1)[: n - n // 2]])
    fig, axes = plt.subplots(2, len(idx), figsize=(1.3 * len(idx), 2.8), squeeze=False)
    for col, i in enumerate(idx):
        for row, img in enumerate((x[i], x_rec[i])):
            img = np.clip((np.asarray(img) + 1) / 2, 0, 1)
            ax = axes[row, col]
            ax.imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap="gray" if img.shape[-1] == 1 else None)
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title("anomalous" if y[i] else "normal", fontsize=7)
    axes[0, 0].set_ylabel("x", fontsize=8)
    axes[1, 0].set_ylabel("G(E(x))", fontsize=8)
    fig.tight_layout()
    fig.savefig(pathlib.Path(out_dir) / "reconstructions.png", dpi=100)
    plt.close(fig)
    return "reconstructions.png"


def write_report(out_dir, summary: dict, y_true, scores, grid=None) -> pathlib.Path:
    """Writes report.md with plots into `out_dir`; returns the markdown path.

    Args:
        grid: optional (inputs, reconstructions, labels) for the reconstruction figure.
    """
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    y_true = np.asarray(y_true)
    scores = np.asarray(scores)
    images = plot_roc_pr(y_true, scores, out_dir)
    images.append(plot_histogram(y_true, scores, out_dir, summary.get("threshold")))
    if grid is not None:
        images.append(plot_reconstructions(grid[0], grid[1], np.asarray(grid[2]), out_dir))
    if summary.get("anomaly_maps", {}).get("image"):
        images.append(summary["anomaly_maps"]["image"])  # drawn by tfganad.training.maps.evaluate_maps
    m = summary["metrics"]
    lines = [
        f"# {summary['recipe']}",
        "",
        f"Model `{summary['model']}`, score `{summary['score']}`, data `{summary['data']}`.",
        f"Selection: `{summary['selection']}` → epoch {summary.get('selected_epoch')} of "
        f"{summary.get('epochs_run')}" + (" (**selected on test labels**)" if summary.get("selected_on_test") else
                                          " (no test labels used)") + ".",
        f"Training time {summary['train_seconds']:.1f} s.",
        "",
        "| metric | value |",
        "|---|---|",
    ]
    for key in ("auroc", "auprc", "auprc_trapz", "precision_at_contamination", "recall_at_contamination",
                "f1_at_contamination",
                "precision_at_val_threshold", "recall_at_val_threshold", "f1_at_val_threshold",
                "pixel_auroc", "pixel_pro"):
        if key in m:
            lines.append(f"| {key} | {m[key]:.4f} |")
    if len(summary.get("metrics_by_score", {})) > 1:
        lines += ["", "All score variants (same trained weights; AUPRC = average precision, AUPRC trapz = "
                  "auc(recall, precision) as the survey/EGBAD code):", "",
                  "| score | AUROC | AUPRC | AUPRC trapz | F1 at contamination |", "|---|---|---|---|---|"]
        for name, mm in summary["metrics_by_score"].items():
            # Results written before auprc_trapz (or the per-score F1) existed lack them.
            trapz = f"{mm['auprc_trapz']:.4f}" if "auprc_trapz" in mm else "–"
            f1 = f"{mm['f1_at_contamination']:.4f}" if "f1_at_contamination" in mm else "–"
            lines.append(f"| {name} | {mm['auroc']:.4f} | {mm['auprc']:.4f} | {trapz} | {f1} |")
    lines.append("")
    lines += [f"![{img}]({img})" for img in images]
    from tfganad.training.io import atomic_write_text

    path = out_dir / "report.md"
    atomic_write_text(path, "\n".join(lines) + "\n")  # never half-written
    return path
