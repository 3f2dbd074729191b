"""Adversarial cycle-consistency loss of ALICE/ALAD (conditional-entropy regularisers).

Paper: Zenati et al., "Adversarially Learned Anomaly Detection", ICDM 2018 (arXiv:1812.02288), §IV-A/B,
after Li et al., "ALICE: Towards Understanding Adversarial Learning for Joint Distribution Matching",
NIPS 2017. Reference code: github.com/houssamzenati/Adversarially-Learned-Anomaly-Detection `alad/run.py`.
"""

from __future__ import annotations

import tensorflow as tf


def _bce_with_logits(labels_value: float, logits):
    logits = tf.cast(logits, tf.float32)
    labels = tf.fill(tf.shape(logits), tf.constant(labels_value, tf.float32))
    return tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)


def bce_cycle_consistency_loss(real_logits, fake_logits):
    """Generator/encoder side of a pair discriminator: E[BCE(0, D(a, a)) + BCE(1, D(a, â))].

    D_xx (x, x) vs (x, G(E(x))) and D_zz (z, z) vs (z, E(G(z))) are trained with the ordinary
    `bce_discriminator_loss`; G and E minimise this label-swapped loss, i.e. they try to make the
    reconstruction pair look like the identity pair and vice versa (ALAD §IV-A V(D_xx, E, G) and
    §IV-B V(D_zz, E, G); the reference code's `cost_x` / `cost_z`).

    Args:
        real_logits: D's logits on identity pairs (a, a), shape (batch, 1) or (batch,).
        fake_logits: D's logits on reconstruction pairs (a, â), same shape.
    Returns:
        Scalar float32, mean over the batch of the per-sample sum.
    """
    return tf.reduce_mean(_bce_with_logits(0.0, real_logits) + _bce_with_logits(1.0, fake_logits))
