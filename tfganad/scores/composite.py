"""Composite anomaly score with a latent term (Rafiee & Fevens, "On the effectiveness of generative
adversarial network on anomaly detection", arXiv:2112.15541, §3.2 eqs. 4–7).

The three terms compare a test sample x with its reconstruction G(E(x)) in three spaces: the critic's
intermediate features (L_D, eq. 4), pixels (L_R, eq. 5) and the encoder's latent space (L_L, eq. 6).
"""

from __future__ import annotations

import tensorflow as tf

from tfganad.errors import ConfigError

REDUCTIONS = ("sum", "mean")


def l1_distance_score(a, b, reduction: str = "sum"):
    """Per-sample L1 distance Σ|a − b| (or its mean over elements) between two batches of any shape.

    Args:
        a, b: tensors of equal shape (batch, ...).
        reduction: `sum` as printed in eqs. 4–6, or `mean` as computed by the authors' released code
            (`torch.mean(torch.abs(...))`), which keeps the three terms of eq. 7 on comparable scales.

    Returns:
        float32 tensor (batch,).
    """
    if reduction not in REDUCTIONS:
        raise ConfigError(f"unknown score reduction {reduction!r}; allowed: {', '.join(REDUCTIONS)}")
    a = tf.cast(a, tf.float32)
    b = tf.cast(b, tf.float32)
    diff = tf.abs(tf.reshape(a, [tf.shape(a)[0], -1]) - tf.reshape(b, [tf.shape(b)[0], -1]))
    if reduction == "sum":
        return tf.reduce_sum(diff, axis=1)
    return tf.reduce_mean(diff, axis=1)


def latent_augmented_score(discrimination, residual, latent, weight: float = 0.8, latent_weight: float = 0.5):
    """A(x) = λ·L_D(x) + (1 − λ)·L_R(x) + β·L_L(x) (Rafiee & Fevens eq. 7; β = 0 gives eq. 3).

    Args:
        discrimination: L_D per sample, critic-feature distance (eq. 4).
        residual: L_R per sample, pixel distance (eq. 5).
        latent: L_L per sample, ||E(x) − E(G(E(x)))|| (eq. 6).
        weight: λ (paper: 0.8 for every dataset).
        latent_weight: β (paper: 0.5 for MNIST, 1 for CIFAR-10, SVHN and ALL).

    Returns:
        float32 tensor (batch,).
    """
    return (weight * tf.cast(discrimination, tf.float32)
            + (1.0 - weight) * tf.cast(residual, tf.float32)
            + latent_weight * tf.cast(latent, tf.float32))
