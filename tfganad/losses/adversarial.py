"""Adversarial losses on discriminator logits and features.

All functions take float32 tensors and return a scalar (mean over the batch). Discriminator outputs
are logits, never probabilities: the sigmoid is folded into the cross-entropy for stability (computing
losses on probabilities is one of the bugs found in reference implementations, PROTOCOLS.md).
"""

from __future__ import annotations

import tensorflow as tf

from tfganad.errors import ConfigError

ADVERSARIAL_LOSSES = ("bce", "fm")


def _bce_with_logits(labels_value: float, logits):
    logits = tf.cast(logits, tf.float32)
    labels = tf.fill(tf.shape(logits), tf.constant(labels_value, tf.float32))
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits))


def bce_discriminator_loss(real_logits, fake_logits):
    """GAN discriminator loss: BCE(1, D(real)) + BCE(0, D(fake)) (Goodfellow et al. 2014, eq. 1).

    For BiGAN/EGBAD (survey §1.3, eq. 3) "real" is the pair (x, E(x)) and "fake" is (G(z), z).
    """
    return _bce_with_logits(1.0, real_logits) + _bce_with_logits(0.0, fake_logits)


def bce_generator_loss(fake_logits):
    """Non-saturating generator loss BCE(1, D(G(z))) (Goodfellow et al. 2014, §3)."""
    return _bce_with_logits(1.0, fake_logits)


def bce_encoder_loss(real_logits):
    """BiGAN encoder loss BCE(0, D(x, E(x))): E tries to make real pairs look generated (survey §1.3)."""
    return _bce_with_logits(0.0, real_logits)


def feature_matching_loss(real_features, fake_features):
    """Feature matching ||E f(real) − E f(fake)||² on a discriminator layer f (Salimans et al. 2016, §3.1).

    The expectation is the batch mean of the features, as in the survey's eq. 8 and the EGBAD code.
    """
    real = tf.reduce_mean(tf.cast(tf.reshape(real_features, [tf.shape(real_features)[0], -1]), tf.float32), 0)
    fake = tf.reduce_mean(tf.cast(tf.reshape(fake_features, [tf.shape(fake_features)[0], -1]), tf.float32), 0)
    return tf.reduce_sum(tf.square(real - fake))


def get_adversarial_loss(name: str) -> str:
    """Validates an adversarial loss name (`bce` or `fm`) and returns it."""
    if name not in ADVERSARIAL_LOSSES:
        raise ConfigError(f"unknown adversarial loss {name!r}; allowed: {', '.join(ADVERSARIAL_LOSSES)}")
    return name
