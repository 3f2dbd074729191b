"""Per-sample mean squared distances (GANomaly's latent score, Skip-GANomaly's residual and feature terms)."""

from __future__ import annotations

import tensorflow as tf


def mean_squared_score(a, b):
    """mean((a − b)²) over all non-batch axes, one value per sample, float32.

    * GANomaly's anomaly score A(x) = ||G_E(x) − E(G(x))||² (Akçay et al. 2018, eq. 12 as in the survey)
      is computed by the reference code as `torch.mean(torch.pow(latent_i - latent_o, 2), dim=1)`: the
      squared L2 norm divided by the latent size, which ranks samples identically.
    * Skip-GANomaly's score terms (Akçay et al. 2019, reference code): the residual MSE(x, x̂) and the
      feature distance MSE(f(x), f(x̂)) on the discriminator's features.

    Args:
        a, b: tensors of equal shape (batch, ...).

    Returns:
        Shape (batch,).
    """
    a = tf.cast(a, tf.float32)
    b = tf.cast(b, tf.float32)
    diff = tf.reshape(a - b, [tf.shape(a)[0], -1])
    return tf.reduce_mean(tf.square(diff), axis=1)
