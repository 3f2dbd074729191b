"""SubpixelConv2DTranspose and FullWindowConv2D compute exactly Keras's Conv2DTranspose / Conv2D on every
route (matmul, overlap-add, sub-pixel phases, fallback): outputs, gradients, config."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfganad.networks import layers as fast_layers
from tfganad.networks.layers import FullWindowConv2D, SubpixelConv2DTranspose

# filters <= OVERLAP_ADD_MAX_FILTERS take the overlap-add route, wider layers the sub-pixel phases.
CONFIGS = [
    dict(filters=3, kernel_size=4, strides=2, padding="same"),
    dict(filters=1, kernel_size=4, strides=2, padding="same", use_bias=True),
    dict(filters=6, kernel_size=4, strides=2, padding="same"),
    dict(filters=6, kernel_size=4, strides=2, padding="valid", use_bias=True),
    dict(filters=5, kernel_size=(5, 3), strides=(3, 2), padding="same"),
    dict(filters=2, kernel_size=3, strides=2, padding="same", use_bias=True, activation="tanh"),
    dict(filters=2, kernel_size=4, strides=2, padding="valid"),
    dict(filters=2, kernel_size=(5, 3), strides=(3, 2), padding="same"),
    dict(filters=2, kernel_size=3, strides=1, padding="same"),  # falls back to the parent's call
]


def _pair(config, shape, ref_cls=keras.layers.Conv2DTranspose, fast_cls=SubpixelConv2DTranspose):
    ref = ref_cls(**config)
    fast = fast_cls(**config)
    x = tf.constant(np.random.default_rng(0).normal(size=shape).astype("float32"))
    ref(x), fast(x)
    fast.set_weights([w + np.random.default_rng(1).normal(size=w.shape).astype("float32") for w in ref.get_weights()])
    ref.set_weights(fast.get_weights())
    return ref, fast, x


def _assert_same_function(ref, fast, x):
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


@pytest.mark.parametrize("route", ["native", "subpixel"])
@pytest.mark.parametrize("config", CONFIGS)
def test_outputs_and_gradients_equal_conv2d_transpose(config, route, monkeypatch):
    # Both routes of the wider layers, whichever this machine's CPU picks.
    monkeypatch.setattr(fast_layers, "wide_route", lambda: route)
    _assert_same_function(*_pair(config, (2, 5, 6, 4)))


def test_wide_route_follows_the_cpu(monkeypatch):
    fast_layers.wide_route.cache_clear()
    try:
        monkeypatch.setattr(fast_layers, "cpu_flags", lambda: {"avx2", "avx512f"})
        assert fast_layers.wide_route() == "native"
        fast_layers.wide_route.cache_clear()
        monkeypatch.setattr(fast_layers, "cpu_flags", lambda: {"avx2", "fma"})
        assert fast_layers.wide_route() == "subpixel"
    finally:
        fast_layers.wide_route.cache_clear()


def test_routes_by_output_channels():
    # The overlap-add and the sub-pixel routes both run in the configs above (guards the threshold).
    assert any(c["filters"] <= fast_layers.OVERLAP_ADD_MAX_FILTERS and c["strides"] != 1 for c in CONFIGS)
    assert any(c["filters"] > fast_layers.OVERLAP_ADD_MAX_FILTERS for c in CONFIGS)


@pytest.mark.parametrize("config", [
    dict(filters=6, kernel_size=4, padding="valid"),  # a DCGAN decoder's z -> 4x4 layer
    dict(filters=3, kernel_size=(4, 3), strides=2, padding="valid", use_bias=True),
    dict(filters=2, kernel_size=4, strides=2, padding="same"),  # keeps the 2 centre taps
    dict(filters=2, kernel_size=3, strides=(2, 3), padding="same"),  # kernel < stride: parent's call
])
def test_one_pixel_input_equals_conv2d_transpose(config):
    _assert_same_function(*_pair(config, (3, 1, 1, 5)))


@pytest.mark.parametrize("config, shape", [
    (dict(filters=4, kernel_size=4, padding="valid"), (3, 4, 4, 5)),  # full window: one matmul
    (dict(filters=2, kernel_size=(3, 2), padding="valid", use_bias=True, activation="tanh"), (2, 3, 2, 3)),
    (dict(filters=2, kernel_size=3, padding="valid"), (2, 5, 5, 3)),  # not the full window: parent's call
    (dict(filters=2, kernel_size=4, padding="same"), (2, 4, 4, 3)),
])
def test_full_window_conv2d_equals_conv2d(config, shape):
    _assert_same_function(*_pair(config, shape, keras.layers.Conv2D, FullWindowConv2D))


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


def test_full_window_conv2d_saved_functional_model(tmp_path):
    inputs = keras.Input((4, 4, 2))
    model = keras.Model(inputs, FullWindowConv2D(3, 4, name="head")(inputs))
    x = np.random.default_rng(0).normal(size=(2, 4, 4, 2)).astype("float32")
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.get_layer("head"), FullWindowConv2D)
    np.testing.assert_allclose(loaded(x).numpy(), model(x).numpy(), rtol=1e-6)
