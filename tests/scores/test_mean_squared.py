"""mean_squared_score against hand-computed values."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfganad.scores import mean_squared_score, weighted_score


def test_mean_squared_score_per_sample_hand_computed():
    a = tf.constant([[1.0, 2.0, 3.0, 4.0], [0.0, 0.0, 0.0, 0.0]])
    b = tf.constant([[1.0, 0.0, 3.0, 5.0], [1.0, -1.0, 2.0, 0.0]])
    # sample 0: (0 + 4 + 0 + 1) / 4; sample 1: (1 + 1 + 4 + 0) / 4
    np.testing.assert_allclose(mean_squared_score(a, b).numpy(), [1.25, 1.5])


def test_mean_squared_score_flattens_images():
    a = tf.zeros((2, 2, 2, 1))
    b = tf.reshape(tf.constant([2.0, 0, 0, 0, 1, 1, 1, 1]), (2, 2, 2, 1))
    np.testing.assert_allclose(mean_squared_score(a, b).numpy(), [1.0, 1.0])


def test_skip_ganomaly_combination_hand_computed():
    # λ = 0.9 on the residual: 0.9·2 + 0.1·10 = 2.8, via weighted_score(residual, feature, 1 − λ).
    out = weighted_score(tf.constant([2.0]), tf.constant([10.0]), 1.0 - 0.9)
    np.testing.assert_allclose(out.numpy(), [2.8], rtol=1e-6)


def test_mean_squared_score_is_float32_for_bfloat16_inputs():
    out = mean_squared_score(tf.constant([[1.0, 3.0]], tf.bfloat16), tf.constant([[0.0, 0.0]], tf.bfloat16))
    assert out.dtype == tf.float32 and out.shape == (1,)
    np.testing.assert_allclose(out.numpy(), [5.0])
