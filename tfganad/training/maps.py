"""Anomaly maps in a run: batched maps, heat-map overlays (report PNG, TensorBoard) and pixel metrics."""

from __future__ import annotations

import pathlib

import numpy as np
import tensorflow as tf

from tfganad.training.pixel_metrics import pixel_metrics


def map_batches(model, x, batch_size: int = 256):
    """`model.anomaly_map` over x in batches (one traced function per model) → (N, H, W) numpy, or None."""
    if not model.is_image or not len(x):
        return None
    fn = getattr(model, "_tfganad_map_fn", None)
    if fn is None:
        fn = tf.function(lambda b: model.anomaly_map(b, training=False), reduce_retracing=True, autograph=False)
        model._tfganad_map_fn = fn
    out = []
    for start in range(0, len(x), batch_size):
        part = fn(tf.convert_to_tensor(np.asarray(x[start:start + batch_size], np.float32)))
        if part is None:
            return None
        out.append(np.asarray(part))
    return np.concatenate(out)


def heatmap_overlay(x, maps, vmax=None, alpha: float = 0.5) -> np.ndarray:
    """Images in [-1, 1] with their maps as a jet heat map on top → (N, H, W, 3) in [0, 1].

    One colour scale for the whole batch (`vmax`, default the batch's largest value), so normal and
    anomalous images compare.
    """
    import matplotlib

    x = np.clip((np.asarray(x, np.float32) + 1.0) / 2.0, 0.0, 1.0)
    base = np.repeat(x, 3, axis=-1) if x.shape[-1] == 1 else x[..., :3]
    maps = np.asarray(maps, np.float32)
    vmax = float(np.max(maps)) if vmax is None else float(vmax)
    heat = matplotlib.colormaps["jet"](np.clip(maps / (vmax or 1.0), 0.0, 1.0))[..., :3]
    return ((1.0 - alpha) * base + alpha * heat).astype(np.float32)


def plot_anomaly_maps(x, maps, y, out_dir, masks=None, name: str = "anomaly_maps.png") -> str:
    """Figure: inputs (top) and heat-map overlays (bottom; ground-truth outline in white) → `name`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    overlay = heatmap_overlay(x, maps)
    n = len(x)
    fig, axes = plt.subplots(2, n, figsize=(1.3 * n, 2.9), squeeze=False)
    for col in range(n):
        img = np.clip((np.asarray(x[col]) + 1) / 2, 0, 1)
        axes[0, col].imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap="gray", vmin=0, vmax=1)
        axes[0, col].set_title("anomalous" if y[col] else "normal", fontsize=7)
        axes[1, col].imshow(overlay[col])
        if masks is not None and np.all(np.isfinite(masks[col])) and np.any(masks[col] > 0.5):
            axes[1, col].contour(masks[col], levels=[0.5], colors="white", linewidths=0.8)
        for row in (0, 1):
            axes[row, col].set_xticks([])
            axes[row, col].set_yticks([])
    axes[0, 0].set_ylabel("x", fontsize=8)
    axes[1, 0].set_ylabel("anomaly map", fontsize=8)
    fig.tight_layout()
    fig.savefig(pathlib.Path(out_dir) / name, dpi=100)
    plt.close(fig)
    return name


def evaluate_maps(model, data, out_dir, batch_size: int = 256, n: int = 8) -> dict:
    """Maps of the test split: overlay figure of n/2 normal and n/2 anomalous images, and pixel AUROC/PRO
    over every test image when ground-truth masks exist → {"map", "image", "metrics"}; {} without maps."""
    if not model.is_image:
        return {}
    y = np.asarray(data.y_test)
    masks = getattr(data, "masks_test", None)
    anomalous = np.flatnonzero(y == 1)
    if masks is not None:
        # Show anomalies whose masks are known: their outlines make the figure readable.
        known = np.isfinite(masks[anomalous]).reshape(len(anomalous), -1).all(1)
        if known.any():
            anomalous = anomalous[known]
    # Evenly spread over the (sorted) anomalies, so that several defect types show.
    k = min(n - n // 2, len(anomalous))
    anomalous = anomalous[np.linspace(0, len(anomalous) - 1, k).astype(int)] if k else anomalous[:0]
    pick = np.concatenate([np.flatnonzero(y == 0)[: n // 2], anomalous])
    metrics = {}
    if masks is not None:
        maps_all = map_batches(model, data.x_test, batch_size)
        if maps_all is None:
            return {}
        metrics = pixel_metrics(masks, maps_all)
        maps = maps_all[pick]
    else:
        maps = map_batches(model, data.x_test[pick], batch_size)
        if maps is None:
            return {}
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    image = plot_anomaly_maps(data.x_test[pick], maps, y[pick], out_dir,
                              None if masks is None else masks[pick])
    return {"map": model.map_name, "image": image, "metrics": metrics}
