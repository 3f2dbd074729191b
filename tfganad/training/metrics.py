"""Exact evaluation metrics on the full score vector (scikit-learn); label 1 = anomalous."""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm

from tfganad.errors import DataError


def _check(y_true, scores):
    y_true = np.asarray(y_true).astype(np.int64).ravel()
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if y_true.shape != scores.shape:
        raise DataError(f"{len(y_true)} labels but {len(scores)} scores")
    if not np.all(np.isfinite(scores)):
        raise DataError(f"{int(np.sum(~np.isfinite(scores)))} scores are NaN/inf; the model diverged")
    classes = set(np.unique(y_true).tolist())
    if classes != {0, 1}:
        raise DataError(f"the test split has only class {sorted(classes)}; AUROC/AUPRC need normal (0) and "
                        f"anomalous (1) samples")
    return y_true, scores


def auroc(y_true, scores) -> float:
    """Area under the ROC curve, exact (no bucketing)."""
    y_true, scores = _check(y_true, scores)
    return float(skm.roc_auc_score(y_true, scores))


def auprc(y_true, scores) -> float:
    """Area under the precision-recall curve as average precision (sklearn `average_precision_score`):
    Σ_n (R_n − R_{n−1})·P_n, a step function, exact. Reported as `auprc`."""
    y_true, scores = _check(y_true, scores)
    return float(skm.average_precision_score(y_true, scores))


def auprc_trapz(y_true, scores) -> float:
    """Area under the precision-recall curve by the trapezoidal rule, `auc(recall, precision)` over
    sklearn's `precision_recall_curve`: what the survey's toolbox and the EGBAD code report as AUPRC.
    Linear interpolation between PR points is optimistic (Davis & Goadrich 2006), so it is usually a bit
    above `auprc`; reported as `auprc_trapz`."""
    y_true, scores = _check(y_true, scores)
    precision, recall, _ = skm.precision_recall_curve(y_true, scores)
    return float(skm.auc(recall, precision))


def ranking_metrics(y_true, scores) -> dict:
    """AUROC and both AUPRC forms of one score vector: {'auroc', 'auprc', 'auprc_trapz'}."""
    return {"auroc": auroc(y_true, scores), "auprc": auprc(y_true, scores),
            "auprc_trapz": auprc_trapz(y_true, scores)}


def prf_at_threshold(y_true, scores, threshold: float) -> dict:
    """Precision, recall and F1 of the anomaly class for the rule score > threshold."""
    y_true, scores = _check(y_true, scores)
    pred = (scores > threshold).astype(np.int64)
    p, r, f, _ = skm.precision_recall_fscore_support(y_true, pred, average="binary", zero_division=0)
    return {"precision": float(p), "recall": float(r), "f1": float(f), "threshold": float(threshold)}


def percentile_threshold(scores, contamination: float) -> float:
    """Score above which the top `contamination` share of `scores` lies (the papers' percentile rule)."""
    if not 0.0 < contamination < 1.0:
        raise DataError(f"contamination must be strictly between 0 and 1, got {contamination!r}")
    return float(np.percentile(np.asarray(scores, np.float64), 100.0 * (1.0 - contamination)))


def evaluate_scores(y_true, scores, contamination=None, threshold=None) -> dict:
    """All test metrics: AUROC, AUPRC (`auprc` = average precision, `auprc_trapz` = trapezoidal), P/R/F1
    at the contamination percentile and at `threshold`.

    Args:
        contamination: share of test samples flagged by the percentile rule (e.g. 0.2 for KDD99).
        threshold: a threshold fitted on validation data (no test information).
    """
    y_true, scores = _check(y_true, scores)
    out = {**ranking_metrics(y_true, scores), "n_test": int(len(y_true)), "anomaly_share": float(np.mean(y_true))}
    if contamination is not None:
        prf = prf_at_threshold(y_true, scores, percentile_threshold(scores, contamination))
        out.update({f"{k}_at_contamination": v for k, v in prf.items()}, contamination=float(contamination))
    if threshold is not None and np.isfinite(threshold):
        prf = prf_at_threshold(y_true, scores, threshold)
        out.update({f"{k}_at_val_threshold": v for k, v in prf.items()})
    return out
