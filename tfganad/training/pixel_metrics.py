"""Pixel-level localisation metrics against ground-truth masks: pixel AUROC and PRO.

PRO (per-region overlap; Bergmann et al., "The MVTec Anomaly Detection Dataset", IJCV 2021, §5.2, and
"Uninformed Students", CVPR 2020): for a threshold t, each connected component C of the ground truth
(8-connectivity, every image) scores |{p ∈ C: map(p) > t}| / |C|; PRO(t) is their mean over all
components, FPR(t) the share of normal pixels (of all images) above t. The PRO score is the area
under PRO(FPR) from FPR 0 to `fpr_limit` (0.3 in the paper), divided by `fpr_limit`: 1 is perfect.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from sklearn import metrics as skm

from tfganad.errors import DataError


def _check(masks, maps):
    masks = np.asarray(masks)
    maps = np.asarray(maps, np.float64)
    if masks.shape != maps.shape or masks.ndim != 3:
        raise DataError(f"masks {masks.shape} and anomaly maps {maps.shape} must both be (N, H, W)")
    if not np.all(np.isfinite(maps)):
        raise DataError(f"{int(np.sum(~np.isfinite(maps)))} anomaly-map values are NaN/inf; the model diverged")
    return masks > 0.5, maps


def pixel_auroc(masks, maps) -> float:
    """ROC AUC over all pixels of all images (scikit-learn, exact), anomalous pixel = positive."""
    masks, maps = _check(masks, maps)
    return float(skm.roc_auc_score(masks.ravel(), maps.ravel()))


def pro_curve(masks, maps) -> tuple:
    """(fpr, pro) at every distinct map value used as threshold (descending), starting at (0, 0)."""
    masks, maps = _check(masks, maps)
    regions = np.zeros(masks.shape, np.int64)
    count = 0
    for i, mask in enumerate(masks):
        labels, k = ndimage.label(mask, structure=np.ones((3, 3), bool))
        regions[i] = np.where(labels > 0, labels + count, 0)
        count += k
    if count == 0:
        raise DataError("PRO needs at least one anomalous region in the ground-truth masks")
    region = regions.ravel()
    normal = region == 0
    if not normal.any():
        raise DataError("PRO needs normal pixels in the ground-truth masks")
    sizes = np.bincount(region, minlength=count + 1).astype(np.float64)
    order = np.argsort(-maps.ravel(), kind="stable")
    values, region, normal = maps.ravel()[order], region[order], normal[order]
    fpr = np.cumsum(normal) / normal.sum()
    # A pixel of component C adds 1 / (|C| · number of components) to the mean overlap.
    pro = np.cumsum(np.where(normal, 0.0, 1.0 / (sizes[region] * count)))
    last = np.r_[np.flatnonzero(np.diff(values)), len(values) - 1]  # last pixel of each distinct value
    return np.r_[0.0, fpr[last]], np.r_[0.0, pro[last]]


def pro_score(masks, maps, fpr_limit: float = 0.3) -> float:
    """Normalised area under the PRO curve up to FPR `fpr_limit` (trapezoids, interpolated at the limit)."""
    if not 0.0 < fpr_limit <= 1.0:
        raise DataError(f"fpr_limit must be in (0, 1], got {fpr_limit!r}")
    fpr, pro = pro_curve(masks, maps)
    inside = int(np.searchsorted(fpr, fpr_limit, side="right"))
    x, y = fpr[:inside], pro[:inside]
    if x[-1] < fpr_limit and inside < len(fpr):
        x0, x1, y0, y1 = fpr[inside - 1], fpr[inside], pro[inside - 1], pro[inside]
        x = np.r_[x, fpr_limit]
        y = np.r_[y, y0 + (y1 - y0) * (fpr_limit - x0) / (x1 - x0)]
    return float(np.trapezoid(y, x) / fpr_limit)


def pixel_metrics(masks, maps, fpr_limit: float = 0.3) -> dict:
    """`pixel_auroc` and `pixel_pro` over the images whose mask is known (a NaN mask = unknown).

    Returns {} when the known masks hold no anomalous pixel (nothing to localise).
    """
    masks = np.asarray(masks, np.float32)
    maps = np.asarray(maps)
    known = ~np.isnan(masks).reshape(len(masks), -1).any(axis=1)
    masks, maps = masks[known], maps[known]
    if not len(masks) or not np.any(masks > 0.5) or np.all(masks > 0.5):
        return {}
    return {"pixel_auroc": pixel_auroc(masks, maps), "pixel_pro": pro_score(masks, maps, fpr_limit),
            "pixel_pro_fpr_limit": float(fpr_limit), "pixel_images": int(len(masks))}
