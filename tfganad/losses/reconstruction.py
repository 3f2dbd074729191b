"""Reconstruction (residual / contextual) losses: batch means of per-sample distances."""

from __future__ import annotations

import tensorflow as tf


def _flat(x):
    x = tf.cast(x, tf.float32)
    return tf.reshape(x, [tf.shape(x)[0], -1])


def l1_reconstruction_loss(x, x_hat):
    """Mean absolute error E|x − x̂| (GANomaly's contextual loss, survey eq. 9; AnoGAN residual, eq. 4)."""
    return tf.reduce_mean(tf.abs(_flat(x) - _flat(x_hat)))


def l2_reconstruction_loss(x, x_hat):
    """Mean squared error E(x − x̂)² (GANomaly's encoder loss, survey eq. 10, when applied to latents)."""
    return tf.reduce_mean(tf.square(_flat(x) - _flat(x_hat)))
