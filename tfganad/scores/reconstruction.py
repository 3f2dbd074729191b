"""Residual scores between an input and its reconstruction, one value per sample."""

from __future__ import annotations

import tensorflow as tf


def _flat(x):
    x = tf.cast(x, tf.float32)
    return tf.reshape(x, [tf.shape(x)[0], -1])


def l1_residual_score(x, x_hat):
    """||x − x̂||₁ per sample, the L1 norm of the flattened residual (EGBAD score, Zenati et al. 2018, §3)."""
    return tf.reduce_sum(tf.abs(_flat(x) - _flat(x_hat)), axis=1)


def l2_residual_score(x, x_hat):
    """||x − x̂||₂² per sample, the squared L2 norm (GANomaly's score on latents, survey eq. 12)."""
    return tf.reduce_sum(tf.square(_flat(x) - _flat(x_hat)), axis=1)


def weighted_score(residual, discriminator, weight: float):
    """(1 − λ)·residual + λ·discriminator (EGBAD's A(x) = (1−α)L_G + αL_D; AnoGAN, survey eq. 6)."""
    return (1.0 - weight) * tf.cast(residual, tf.float32) + weight * tf.cast(discriminator, tf.float32)
