"""Per-pixel anomaly maps of image batches, (batch, H, W), higher = more anomalous.

* `residual_map`: |x − x̂| averaged over channels. x̂ is G(E(x)) for the encoder models (EGBAD §3,
  GANomaly's contextual term, Skip-GANomaly's and f-AnoGAN's residual, ALAD's L1 score, GAN+AE), the
  search reconstruction G(z_Γ) for AnoGAN (Schlegl et al. 2017, §2.2: "the residual image ... can be
  used for the identification of anomalous regions") and G_j(z_j) per seed for ADGAN. Summed over
  pixels and multiplied by the channel count it is the L1 residual score.
* `feature_map`: (f(x) − f(x̂))² averaged over channels on a spatial discriminator feature map,
  upsampled bilinearly to the image size (GANomaly's `fm` score before its spatial mean).
"""

from __future__ import annotations

import tensorflow as tf


def residual_map(x, x_hat):
    """mean over channels of |x − x̂|, shape (batch, H, W), float32."""
    x = tf.cast(x, tf.float32)
    return tf.reduce_mean(tf.abs(x - tf.cast(x_hat, tf.float32)), axis=-1)


def feature_map(real_features, fake_features, size):
    """mean over channels of (f(x) − f(x̂))² on (batch, h, w, C) features, resized to `size` = (H, W).

    Returns:
        Shape (batch, H, W), float32.
    """
    diff = tf.square(tf.cast(real_features, tf.float32) - tf.cast(fake_features, tf.float32))
    coarse = tf.reduce_mean(diff, axis=-1, keepdims=True)
    return tf.image.resize(coarse, tuple(int(s) for s in size), method="bilinear")[..., 0]
