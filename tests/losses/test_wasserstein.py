"""Wasserstein losses and the gradient penalty against hand-computed values."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfganad.errors import ConfigError
from tfganad.losses.wasserstein import (
    get_gan_loss,
    gradient_penalty,
    interpolate,
    wgan_critic_loss,
    wgan_generator_loss,
)


def test_wgan_critic_loss_is_fake_mean_minus_real_mean():
    real = tf.constant([[1.0], [3.0]])          # mean 2
    fake = tf.constant([[-1.0], [0.0], [4.0]])  # mean 1
    assert float(wgan_critic_loss(real, fake)) == pytest.approx(1.0 - 2.0)


def test_wgan_generator_loss_is_minus_fake_mean():
    assert float(wgan_generator_loss(tf.constant([0.5, 1.5, -5.0]))) == pytest.approx(1.0)


def test_interpolate_uses_one_epsilon_per_sample():
    real = tf.constant([[2.0, 2.0], [4.0, 0.0]])
    fake = tf.constant([[0.0, 0.0], [0.0, 8.0]])
    out = interpolate(real, fake, tf.constant([0.25, 0.5]))
    np.testing.assert_allclose(out.numpy(), [[0.5, 0.5], [2.0, 4.0]])


def test_gradient_penalty_of_linear_critic_is_norm_of_weights_minus_one_squared():
    # D(x) = w·x has ∇D = w everywhere: ||w|| = 5, so the penalty is (5 − 1)² = 16 for any interpolate.
    w = tf.constant([[3.0], [4.0]])
    real = tf.constant([[1.0, 2.0], [0.0, -1.0], [5.0, 5.0]])
    fake = tf.constant([[0.0, 0.0], [3.0, 3.0], [-2.0, 1.0]])
    gp = gradient_penalty(lambda x: x @ w, real, fake, tf.constant([0.1, 0.5, 0.9]))
    assert float(gp) == pytest.approx(16.0, rel=1e-6)


def test_gradient_penalty_evaluates_the_gradient_at_the_interpolate():
    # D(x) = ½||x||² has ∇D(x̂) = x̂; real (2, 0), fake (0, 0): ε = 0.5 → x̂ = (1, 0), norm 1, penalty 0;
    # ε = 1 → x̂ = (2, 0), norm 2, penalty 1. Mean over the two samples = 0.5.
    real = tf.constant([[2.0, 0.0], [2.0, 0.0]])
    fake = tf.zeros((2, 2))
    gp = gradient_penalty(lambda x: 0.5 * tf.reduce_sum(x * x, axis=1), real, fake, tf.constant([0.5, 1.0]))
    assert float(gp) == pytest.approx(0.5, rel=1e-5)


def test_gradient_penalty_gradient_flows_to_the_critic_weights():
    # Dense(1) critic with kernel w: penalty (||w|| − 1)², gradient 2(||w|| − 1)·w/||w|| (double backprop).
    critic = keras.layers.Dense(1, use_bias=False)
    critic.build((None, 2))
    critic.kernel.assign([[3.0], [4.0]])
    real = tf.constant([[1.0, 1.0], [2.0, -1.0]])
    fake = tf.constant([[0.0, 0.0], [1.0, 1.0]])
    with tf.GradientTape() as tape:
        gp = gradient_penalty(critic, real, fake, tf.constant([0.3, 0.7]))
    grad = tape.gradient(gp, critic.kernel)
    np.testing.assert_allclose(grad.numpy().ravel(), [2 * 4 * 3 / 5, 2 * 4 * 4 / 5], rtol=1e-5)


def test_gradient_penalty_takes_the_logit_of_a_tuple_output():
    gp = gradient_penalty(lambda x: (2.0 * tf.reduce_sum(x, axis=1), x), tf.ones((2, 1)), tf.zeros((2, 1)),
                          tf.constant([0.2, 0.8]))
    assert float(gp) == pytest.approx(1.0, rel=1e-6)  # ∇ = 2 → (2 − 1)²


def test_get_gan_loss_validates_names():
    assert get_gan_loss("wgan_gp") == "wgan_gp"
    with pytest.raises(ConfigError, match="allowed: bce, wgan, wgan_gp"):
        get_gan_loss("wgangp")
