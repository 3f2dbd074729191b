"""paired_feature_matching_loss against hand-computed values."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfganad.losses import feature_matching_loss, paired_feature_matching_loss


def test_paired_feature_matching_hand_computed():
    real = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    fake = tf.constant([[0.0, 2.0], [5.0, 1.0]])
    # squared differences: [[1, 0], [4, 9]] → mean over 4 elements = 14 / 4
    np.testing.assert_allclose(float(paired_feature_matching_loss(real, fake)), 3.5)


def test_paired_feature_matching_averages_over_feature_maps():
    real = tf.ones((2, 2, 2, 1))
    fake = tf.reshape(tf.constant([0.0, 1.0, 1.0, 1.0, 3.0, 1.0, 1.0, 1.0]), (2, 2, 2, 1))
    # squared differences: 1 and 4, the rest 0 → 5 / 8
    np.testing.assert_allclose(float(paired_feature_matching_loss(real, fake)), 0.625)


def test_paired_differs_from_batch_mean_feature_matching():
    # Swapping the fakes between samples leaves the batch means equal (batch FM = 0) but not the pairs.
    real = tf.constant([[1.0], [-1.0]])
    fake = tf.constant([[-1.0], [1.0]])
    assert float(feature_matching_loss(real, fake)) == 0.0
    np.testing.assert_allclose(float(paired_feature_matching_loss(real, fake)), 4.0)


def test_paired_feature_matching_is_float32_for_bfloat16_inputs():
    real = tf.constant([[1.0, 2.0]], tf.bfloat16)
    fake = tf.constant([[2.0, 4.0]], tf.bfloat16)
    out = paired_feature_matching_loss(real, fake)
    assert out.dtype == tf.float32
    np.testing.assert_allclose(float(out), 2.5)
