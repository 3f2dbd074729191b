"""Discriminator-based scores: cross-entropy of the logit, or a feature distance."""

from __future__ import annotations

import tensorflow as tf


def bce_discriminator_score(real_logits):
    """BCE(1, D(x, ·)) per sample: low when D finds the input real (EGBAD "cross-e" L_D, survey §2.1)."""
    logits = tf.reshape(tf.cast(real_logits, tf.float32), [-1])
    return tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.ones_like(logits), logits=logits)


def feature_distance_score(features_a, features_b, ord: int = 1):
    """||f(a) − f(b)|| per sample on a discriminator layer (feature-matching L_D, survey eq. 5).

    Args:
        ord: 1 for the L1 norm (EGBAD/AnoGAN), 2 for the squared L2 norm.
    """
    a = tf.reshape(tf.cast(features_a, tf.float32), [tf.shape(features_a)[0], -1])
    b = tf.reshape(tf.cast(features_b, tf.float32), [tf.shape(features_b)[0], -1])
    if ord == 1:
        return tf.reduce_sum(tf.abs(a - b), axis=1)
    return tf.reduce_sum(tf.square(a - b), axis=1)
