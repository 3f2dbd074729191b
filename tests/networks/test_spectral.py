"""SpectralNorm: W/σ in the forward pass, gradient through σ (Miyato et al. 2018), u updated in training only."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfganad.errors import ConfigError
from tfganad.networks.spectral import SpectralNorm


def _dense_sn(units=3, fan_in=4, iterations=1):
    layer = SpectralNorm(keras.layers.Dense(units, name="fc"), power_iterations=iterations)
    layer.build((None, fan_in))
    return layer


def test_forward_pass_divides_the_kernel_by_v_w_u_and_updates_u_in_training_only():
    layer = _dense_sn()
    x = np.random.default_rng(0).normal(size=(5, 4)).astype("float32")
    w, b, u0 = layer.layer.kernel.numpy(), layer.layer.bias.numpy(), layer.vector_u.numpy()
    v = u0 @ w.T
    v /= np.linalg.norm(v)
    u = v @ w
    u /= np.linalg.norm(u)
    sigma = (v @ w @ u.T).item()
    np.testing.assert_allclose(layer(x, training=False).numpy(), x @ (w / sigma) + b, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(layer.vector_u.numpy(), u0)  # inference leaves u alone
    layer(x, training=True)
    np.testing.assert_allclose(layer.vector_u.numpy(), u, rtol=1e-5)
    assert not layer.vector_u.trainable and [v.path for v in layer.trainable_variables] == [
        layer.layer.kernel.path, layer.layer.bias.path]


def test_gradient_flows_through_sigma_as_the_analytic_expression():
    """∂L/∂W = (G − ⟨G, W/σ⟩·vuᵀ)/σ with G = ∂L/∂(W/σ) = xᵀc for L = Σ c ⊙ (x W/σ) (u, v constants)."""
    layer = _dense_sn()
    rng = np.random.default_rng(1)
    x = rng.normal(size=(5, 4)).astype("float32")
    c = rng.normal(size=(5, 3)).astype("float32")
    w, u0 = layer.layer.kernel.numpy().astype(np.float64), layer.vector_u.numpy().astype(np.float64)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(c * layer(x, training=False))
    grad = tape.gradient(loss, layer.layer.kernel).numpy()
    v = u0 @ w.T
    v /= np.linalg.norm(v)
    u = v @ w
    u /= np.linalg.norm(u)
    sigma = (v @ w @ u.T).item()
    g = x.T.astype(np.float64) @ c
    expected = (g - np.sum(g * w / sigma) * (v.T @ u)) / sigma
    np.testing.assert_allclose(grad, expected, rtol=1e-4, atol=1e-6)
    # keras.layers.SpectralNormalization would give g / σ here (no term through σ): they differ.
    assert not np.allclose(grad, g / sigma, rtol=1e-3)


def test_gradient_matches_finite_differences_of_w_over_its_largest_singular_value():
    """With converged power iteration σ = σ_max(W); the gradient equals the numerical derivative of
    L(W) = Σ c ⊙ (x W / σ_max(W)), σ_max from numpy's SVD."""
    layer = _dense_sn(iterations=200)
    rng = np.random.default_rng(2)
    x = rng.normal(size=(5, 4))
    c = rng.normal(size=(5, 3))
    w = layer.layer.kernel.numpy().astype(np.float64)

    def loss(m):
        return float(np.sum(c * (x @ (m / np.linalg.svd(m, compute_uv=False)[0]))))

    eps = 1e-6
    numeric = np.zeros_like(w)
    for idx in np.ndindex(*w.shape):
        step = np.zeros_like(w)
        step[idx] = eps
        numeric[idx] = (loss(w + step) - loss(w - step)) / (2 * eps)
    with tf.GradientTape() as tape:
        out = tf.reduce_sum(tf.constant(c, tf.float32) * layer(x.astype("float32"), training=False))
    np.testing.assert_allclose(tape.gradient(out, layer.layer.kernel).numpy(), numeric, rtol=2e-3, atol=1e-4)


def test_conv_kernel_is_reshaped_to_fan_in_by_filters():
    layer = SpectralNorm(keras.layers.Conv2D(3, 3, strides=2, padding="same"))
    x = np.random.default_rng(3).normal(size=(2, 6, 6, 2)).astype("float32")
    out = layer(x, training=False).numpy()
    k = layer.layer.kernel.numpy()
    w = k.reshape(-1, 3)
    v = layer.vector_u.numpy() @ w.T
    v /= np.linalg.norm(v)
    u = v @ w
    u /= np.linalg.norm(u)
    ref = keras.ops.conv(x, k / (v @ w @ u.T).item(), strides=2, padding="same").numpy() + layer.layer.bias.numpy()
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)


def test_keras_file_round_trip_keeps_u_and_outputs(tmp_path):
    inputs = keras.Input((4,))
    model = keras.Model(inputs, SpectralNorm(keras.layers.Dense(3, activation="relu"), name="sn")(inputs))
    x = np.random.default_rng(4).normal(size=(6, 4)).astype("float32")
    model(x, training=True)  # moves u away from its initial value
    path = tmp_path / "sn.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded(x).numpy(), model(x).numpy(), rtol=1e-6)
    np.testing.assert_array_equal(loaded.get_layer("sn").vector_u.numpy(), model.get_layer("sn").vector_u.numpy())
    assert loaded.get_layer("sn").get_config()["power_iterations"] == 1


def test_rejects_unsupported_layers():
    with pytest.raises(ConfigError, match="wraps Dense or Conv1D/2D/3D layers, got Conv2DTranspose"):
        SpectralNorm(keras.layers.Conv2DTranspose(3, 3))
    with pytest.raises(ConfigError, match="power_iterations must be >= 1"):
        SpectralNorm(keras.layers.Dense(3), power_iterations=0)
