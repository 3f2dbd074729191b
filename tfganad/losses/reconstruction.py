"""Reconstruction (residual / contextual) losses: batch means of per-sample distances.

Two reductions over a sample's elements exist in the papers: the L1 *norm* (a sum over pixels or
features, survey eq. 4, EGBAD's residual) and the per-element *mean* (GANomaly's contextual loss, whose
reference code uses `nn.L1Loss()`, the mean, with w_con = 50). They differ by the factor
"elements per sample" (784 on 28×28 images), so each model uses the one its paper's weights assume.
"""

from __future__ import annotations

import tensorflow as tf


def _flat(x):
    x = tf.cast(x, tf.float32)
    return tf.reshape(x, [tf.shape(x)[0], -1])


def l1_reconstruction_loss(x, x_hat):
    """Mean absolute error E|x − x̂| over batch and elements (GANomaly's contextual loss, survey eq. 9, as
    the reference code computes it)."""
    return tf.reduce_mean(tf.abs(_flat(x) - _flat(x_hat)))


def l2_reconstruction_loss(x, x_hat):
    """Mean squared error E(x − x̂)² (GANomaly's encoder loss, survey eq. 10, when applied to latents)."""
    return tf.reduce_mean(tf.square(_flat(x) - _flat(x_hat)))


def l1_residual_loss(x, x_hat):
    """Batch mean of the per-sample L1 norm, E_x ||x − x̂||₁ (survey eq. 4; EGBAD's residual loss).

    The norm sums |x − x̂| over all pixels/features of a sample (not their mean, which would weight the
    residual d× less for d elements per sample)."""
    return tf.reduce_mean(tf.reduce_sum(tf.abs(_flat(x) - _flat(x_hat)), axis=1))


#: `residual_reduction` recipe values: the paper's per-sample sum (L1 norm) or the per-element mean.
RESIDUAL_REDUCTIONS = {"sum": l1_residual_loss, "mean": l1_reconstruction_loss}
