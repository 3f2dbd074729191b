"""Shared helpers for benchmark scripts: FLOP counting, matmul peak, machine description, MNIST path."""

from __future__ import annotations

import os
import pathlib
import platform
import time

import numpy as np

SHARED_MNIST = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


def machine() -> str:
    """One line describing the machine and its current load."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    cpu = platform.processor() or platform.machine()
    return f"{os.cpu_count()} CPU cores ({cpu}), load average {load:.2f} at start"


def forward_macs(network, batch: int = 1) -> int:
    """Multiply-accumulates of one forward pass of a functional Keras model (conv, deconv, dense)."""
    import keras

    total = 0
    for layer in network.layers:
        inner = getattr(layer, "layer", layer)  # SpectralNormalization and other wrappers
        if isinstance(inner, keras.Model):
            total += forward_macs(inner, 1)
            continue
        if isinstance(inner, keras.layers.Conv2DTranspose):
            _, h, w, cin = layer.input.shape
            kh, kw = inner.kernel_size
            total += h * w * kh * kw * cin * inner.filters
        elif isinstance(inner, keras.layers.Conv2D):
            _, h, w, cout = layer.output.shape
            kh, kw = inner.kernel_size
            cin = layer.input.shape[-1]
            total += h * w * kh * kw * (cin // getattr(inner, "groups", 1)) * cout
        elif isinstance(inner, keras.layers.Dense):
            shape = layer.input.shape
            total += int(np.prod(shape[1:-1] or [1])) * shape[-1] * inner.units
    return int(total) * batch


def matmul_peak(n: int = 2048, repeats: int = 20) -> float:
    """float32 n×n matmul throughput in GFLOP/s inside a tf.function (same-run peak reference)."""
    import tensorflow as tf

    a = tf.random.normal((n, n))
    b = tf.random.normal((n, n))
    f = tf.function(lambda a, b: tf.matmul(a, b))
    f(a, b).numpy()
    best = 0.0
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(repeats):
            out = f(a, b)
        out.numpy()
        best = max(best, 2 * n ** 3 * repeats / (time.perf_counter() - start) / 1e9)
    return best


def mnist_test_images():
    """The 10,000 MNIST test images in [-1, 1] from ../shared/data when present, else None."""
    if not SHARED_MNIST.is_dir():
        return None
    from tfganad.data.sources import read_idx

    x = read_idx(SHARED_MNIST / "t10k-images-idx3-ubyte.gz").astype(np.float32)
    return (x[..., None] / 127.5 - 1.0).astype(np.float32)
