"""SubpixelConv2DTranspose computes exactly Keras's Conv2DTranspose: outputs, gradients, config."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfganad.networks.layers import SubpixelConv2DTranspose

CONFIGS = [
    dict(filters=3, kernel_size=4, strides=2, padding="same"),
    dict(filters=2, kernel_size=3, strides=2, padding="same", use_bias=True, activation="tanh"),
    dict(filters=2, kernel_size=4, strides=2, padding="valid"),
    dict(filters=2, kernel_size=(5, 3), strides=(3, 2), padding="same"),
    dict(filters=2, kernel_size=3, strides=1, padding="same"),  # falls back to the parent's call
]


def _pair(config, shape):
    ref = keras.layers.Conv2DTranspose(**config)
    fast = SubpixelConv2DTranspose(**config)
    x = tf.constant(np.random.default_rng(0).normal(size=shape).astype("float32"))
    ref(x), fast(x)
    fast.set_weights([w + np.random.default_rng(1).normal(size=w.shape).astype("float32") for w in ref.get_weights()])
    ref.set_weights(fast.get_weights())
    return ref, fast, x


@pytest.mark.parametrize("config", CONFIGS)
def test_outputs_and_gradients_equal_conv2d_transpose(config):
    ref, fast, x = _pair(config, (2, 5, 6, 4))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y_ref, y_fast = ref(x), fast(x)
        # A non-linear read-out, so gradients see every output element with a different weight.
        l_ref, l_fast = tf.reduce_sum(tf.sin(y_ref)), tf.reduce_sum(tf.sin(y_fast))
    assert y_fast.shape == y_ref.shape
    np.testing.assert_allclose(y_fast.numpy(), y_ref.numpy(), rtol=1e-5, atol=1e-5)
    for a, b in zip(tape.gradient(l_ref, [x, *ref.trainable_variables]),
                    tape.gradient(l_fast, [x, *fast.trainable_variables])):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-4, atol=1e-4)


def test_inside_tf_function_and_with_unknown_batch():
    ref, fast, x = _pair(CONFIGS[0], (3, 4, 4, 2))
    fn = tf.function(lambda t: fast(t), input_signature=[tf.TensorSpec([None, 4, 4, 2], tf.float32)])
    np.testing.assert_allclose(fn(x).numpy(), ref(x).numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_forward_and_backward(policy):
    keras.mixed_precision.set_global_policy(policy)
    try:
        layer = SubpixelConv2DTranspose(2, 4, strides=2, padding="same")
        x = tf.constant(np.random.default_rng(0).normal(size=(2, 4, 4, 3)).astype("float32"))
        with tf.GradientTape() as tape:
            y = layer(x)
            loss = tf.reduce_sum(tf.cast(y, tf.float32))
        grads = tape.gradient(loss, layer.trainable_variables)
        assert y.dtype == layer.compute_dtype and y.shape == (2, 8, 8, 2)
        assert all(g is not None and np.all(np.isfinite(g.numpy())) for g in grads)
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_config_round_trip_and_saved_functional_model(tmp_path):
    inputs = keras.Input((4, 4, 2))
    model = keras.Model(inputs, SubpixelConv2DTranspose(3, 4, strides=2, padding="same", name="up")(inputs))
    x = np.random.default_rng(0).normal(size=(2, 4, 4, 2)).astype("float32")
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.get_layer("up"), SubpixelConv2DTranspose)
    np.testing.assert_allclose(loaded(x).numpy(), model(x).numpy(), rtol=1e-6)
