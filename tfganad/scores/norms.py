"""Norm-based residual scores (unsquared norms, as the papers write them), one value per sample."""

from __future__ import annotations

import tensorflow as tf


def l2_norm_residual_score(x, x_hat):
    """||x − x̂||₂ per sample, the (unsquared) Euclidean norm of the flattened residual.

    ALAD's "L2" score (Zenati et al. 2018, §V-F; reference `score_l2 = tf.norm(rec, ord=2, axis=1)`).
    It ranks samples exactly as the squared norm `l2_residual_score` does; the value differs.
    """
    x = tf.cast(x, tf.float32)
    diff = tf.reshape(x - tf.cast(x_hat, tf.float32), [tf.shape(x)[0], -1])
    return tf.norm(diff, ord="euclidean", axis=1)
