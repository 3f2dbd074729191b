"""Paired feature matching: distance between discriminator features of each input and its reconstruction."""

from __future__ import annotations

import tensorflow as tf


def paired_feature_matching_loss(real_features, fake_features):
    """Mean squared distance E (f(x) − f(x̂))² between D's features of x and of its reconstruction x̂.

    GANomaly's adversarial loss L_adv (Akçay et al. 2018; survey eq. 8) and
    Skip-GANomaly's latent loss L_lat, as the reference code computes them (`l2_loss(feat_real,
    feat_fake)`): each sample is compared with its own reconstruction (not with the batch mean, as in
    `feature_matching_loss`), averaged over the batch and the feature elements.

    Args:
        real_features: f(x), shape (batch, ...).
        fake_features: f(x̂), same shape.

    Returns:
        Scalar float32.
    """
    real = tf.cast(real_features, tf.float32)
    fake = tf.cast(fake_features, tf.float32)
    return tf.reduce_mean(tf.square(real - fake))
