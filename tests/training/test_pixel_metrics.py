"""Pixel AUROC and PRO (MVTec AD definition) against hand-computed values and a brute-force reference."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from sklearn.metrics import roc_auc_score

from tfganad.errors import DataError
from tfganad.training.pixel_metrics import pixel_auroc, pixel_metrics, pro_curve, pro_score


def test_pro_by_hand():
    # One image, 10 pixels: a 2-pixel defect (scores 0.9, 0.5), 8 normal pixels (0.8, then 0.1).
    mask = np.array([[1, 1, 0, 0, 0, 0, 0, 0, 0, 0]], np.float32)[None]
    amap = np.array([[0.9, 0.5, 0.8, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]])[None]
    fpr, pro = pro_curve(mask, amap)
    np.testing.assert_allclose(fpr, [0, 0, 1 / 8, 1 / 8, 1])
    np.testing.assert_allclose(pro, [0, 0.5, 0.5, 1, 1])
    # Area to FPR 0.3: 0.125·0.5 + (0.3 − 0.125)·1 = 0.2375, normalised by 0.3.
    assert pro_score(mask, amap, 0.3) == pytest.approx(0.2375 / 0.3)
    assert pro_score(mask, amap, 1.0) == pytest.approx(0.125 * 0.5 + 0.875)


def test_pro_averages_regions_not_pixels():
    # A big region found entirely and a small one missed: PRO counts each region once.
    mask = np.zeros((1, 6, 6), np.float32)
    mask[0, :3, :3] = 1          # 9 pixels
    mask[0, 5, 5] = 1            # 1 pixel, separate component
    amap = np.zeros((1, 6, 6))
    amap[0, :3, :3] = 1.0
    fpr, pro = pro_curve(mask, amap)
    assert pro[1] == pytest.approx(0.5) and fpr[1] == 0.0


def _brute_force_pro(masks, maps, limit):
    labels = [ndimage.label(m, structure=np.ones((3, 3)))[0] for m in masks]
    regions = [(i, labels[i] == k) for i in range(len(masks)) for k in range(1, labels[i].max() + 1)]
    normal = masks == 0
    points = [(0.0, 0.0)]
    for t in np.unique(maps)[::-1]:
        pred = maps >= t
        points.append((float(np.sum(pred & normal) / np.sum(normal)),
                       float(np.mean([np.sum(pred[i] & r) / np.sum(r) for i, r in regions]))))
    fpr, pro = map(np.array, zip(*points))
    grid = np.linspace(0, limit, 20001)  # a fine trapezoid of the same piecewise-linear curve
    return np.trapezoid(np.interp(grid, fpr, pro), grid) / limit


def test_pro_matches_brute_force_on_random_maps():
    rng = np.random.default_rng(0)
    masks = np.zeros((3, 8, 8), np.float32)
    masks[0, 1:3, 1:4] = 1
    masks[0, 6:8, 6:8] = 1
    masks[2, 4:7, 2:5] = 1
    maps = np.round(rng.uniform(size=masks.shape) + masks * 0.4, 2)  # rounded: many ties
    assert pro_score(masks, maps, 0.3) == pytest.approx(_brute_force_pro(masks, maps, 0.3), abs=2e-3)


def test_pixel_auroc_is_sklearn_over_all_pixels():
    rng = np.random.default_rng(1)
    masks = (rng.uniform(size=(4, 5, 5)) > 0.8).astype(np.float32)
    maps = rng.uniform(size=masks.shape) + masks
    assert pixel_auroc(masks, maps) == pytest.approx(roc_auc_score(masks.ravel(), maps.ravel()))


def test_pixel_metrics_skip_unknown_masks_and_need_anomalous_pixels():
    masks = np.zeros((3, 4, 4), np.float32)
    masks[1, :2, :2] = 1
    masks[2] = np.nan            # an anomalous image without a mask file
    maps = np.zeros_like(masks)
    maps[1, :2, :2] = 1.0
    out = pixel_metrics(masks, maps)
    assert out["pixel_auroc"] == 1.0 and out["pixel_pro"] == pytest.approx(1.0) and out["pixel_images"] == 2
    assert pixel_metrics(np.zeros((2, 4, 4)), maps[:2]) == {}
    with pytest.raises(DataError, match="NaN"):
        pixel_auroc(masks[:2], np.full((2, 4, 4), np.nan))
