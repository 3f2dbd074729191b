"""Per-copy weights: batched_apply equals the Keras network, copy by copy, values and gradients."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers

from tfganad.errors import ConfigError
from tfganad.networks.batched import BatchedNetwork, batched_apply, chain_layers, tile_weights
from tfganad.networks.dcgan import dcgan_decoder
from tfganad.networks.dcgan_gan import dcgan_generator
from tfganad.networks.mlp import mlp_decoder


def _conv_chain():
    x_in = keras.Input((7, 6, 2))
    h = layers.Conv2D(3, 3, strides=2, padding="same")(x_in)
    h = layers.Conv2D(4, (2, 3), padding="valid", activation="relu")(h)
    h = layers.Conv2DTranspose(3, 3, strides=1, padding="same")(h)
    h = layers.Conv2DTranspose(2, 5, strides=2, padding="valid")(h)
    h = layers.Conv2DTranspose(2, 4, strides=2, padding="same", use_bias=False)(h)
    return keras.Model(x_in, h)


def _transpose_chain():
    x_in = keras.Input((3, 5, 2))
    h = layers.Conv2DTranspose(3, 3, strides=2, padding="same")(x_in)
    h = layers.Conv2DTranspose(2, 2, strides=2, padding="valid")(h)
    h = layers.Conv2DTranspose(2, (3, 4), strides=(3, 2), padding="same")(h)
    return keras.Model(x_in, h)


NETWORKS = {
    "dcgan_generator": (lambda: dcgan_generator((16, 16, 1), 5, filters=4), (5,)),
    "ganomaly_decoder": (lambda: dcgan_decoder((28, 28, 1), 5, filters=4), (5,)),
    "mlp_decoder": (lambda: mlp_decoder(7, 5), (5,)),
    "conv_chain": (_conv_chain, (7, 6, 2)),
    "transpose_chain": (_transpose_chain, (3, 5, 2)),
}


def _randomised(make):
    net = make()
    rng = np.random.default_rng(1)
    for v in net.weights:  # moving statistics too, so inference-mode BatchNorm is not the identity
        v.assign(rng.uniform(0.5, 1.5, v.shape) if not v.trainable else 0.3 * rng.normal(size=v.shape))
    return net


@pytest.mark.parametrize("name", list(NETWORKS))
def test_batched_apply_equals_each_copy_of_the_network(name):
    make, in_shape = NETWORKS[name]
    net = _randomised(make)
    inputs = tf.constant(np.random.default_rng(2).normal(size=(3, *in_shape)).astype("float32"))
    np.testing.assert_allclose(batched_apply(net, tile_weights(net, 3), inputs).numpy(),
                               net(inputs, training=False).numpy(), rtol=1e-4, atol=1e-5)
    copies = [w + 0.1 * tf.random.stateless_normal(w.shape, seed=[i, 0]) for i, w in
              enumerate(tile_weights(net, 3))]
    with tf.GradientTape() as tape:
        tape.watch(copies)
        out = batched_apply(net, copies, inputs)
        total = tf.reduce_sum(tf.sin(out))
    grads = tape.gradient(total, copies)
    for b in range(3):
        for v, w in zip(net.trainable_weights, copies):
            v.assign(w[b])
        with tf.GradientTape() as tape:
            ref = net(inputs[b:b + 1], training=False)
            ref_total = tf.reduce_sum(tf.sin(ref))
        ref_grads = tape.gradient(ref_total, net.trainable_weights)
        np.testing.assert_allclose(out[b].numpy(), ref[0].numpy(), rtol=1e-4, atol=1e-5)
        for g, r in zip(grads, ref_grads):
            np.testing.assert_allclose(g[b].numpy(), r.numpy(), rtol=1e-3, atol=1e-5)


def test_batched_apply_rejects_what_it_cannot_copy():
    x_in = keras.Input((4,))
    a = layers.Dense(3)(x_in)
    branch = keras.Model(x_in, layers.Add()([a, layers.Dense(3)(x_in)]))
    with pytest.raises(ConfigError, match="chain"):
        chain_layers(branch)
    normed = keras.Sequential([keras.Input((4,)), layers.LayerNormalization()])
    with pytest.raises(ConfigError, match="not supported"):
        batched_apply(normed, tile_weights(normed, 2), tf.zeros((2, 4)))
    dense = keras.Sequential([keras.Input((4,)), layers.Dense(2)])
    with pytest.raises(ConfigError, match="weight tensors"):
        batched_apply(dense, [], tf.zeros((2, 4)))


def test_search_layout_is_a_regrouping_of_the_same_weights():
    net = _randomised(NETWORKS["dcgan_generator"][0])
    batched = BatchedNetwork(net)
    params = batched.tile(2)
    assert sum(int(tf.size(p)) for p in params) == 2 * net.count_params() - 2 * sum(
        int(tf.size(v)) for v in net.non_trainable_weights)
    native = sorted(np.concatenate([v.numpy().ravel() for v in net.trainable_weights]))
    np.testing.assert_array_equal(sorted(np.concatenate([p[1].numpy().ravel() for p in params])), native)
    z = tf.constant(np.random.default_rng(3).normal(size=(2, 5)).astype("float32"))
    np.testing.assert_allclose(batched(params, z).numpy(), net(z, training=False).numpy(), rtol=1e-4, atol=1e-5)
