"""Per-sample scores and the fitted normaliser against hand-computed values."""

import math

import numpy as np
import pytest

from tfganad.errors import ConfigError
from tfganad.scores import (
    ScoreNormalizer,
    bce_discriminator_score,
    feature_distance_score,
    l1_residual_score,
    l2_residual_score,
    weighted_score,
)


def test_residual_scores_per_sample():
    x = np.array([[[1.0, -2.0]], [[0.0, 0.0]]], np.float32)
    np.testing.assert_allclose(l1_residual_score(x, np.zeros_like(x)).numpy(), [3.0, 0.0])
    np.testing.assert_allclose(l2_residual_score(x, np.zeros_like(x)).numpy(), [5.0, 0.0])


def test_bce_score_is_low_for_confidently_real():
    s = bce_discriminator_score(np.array([[0.0], [math.log(3)]], np.float32)).numpy()
    np.testing.assert_allclose(s, [math.log(2), -math.log(0.75)], rtol=1e-5)
    assert s[1] < s[0]


def test_feature_distance_l1_and_squared_l2():
    a = np.array([[1.0, 2.0], [0.0, 0.0]], np.float32)
    b = np.zeros_like(a)
    np.testing.assert_allclose(feature_distance_score(a, b, ord=1).numpy(), [3.0, 0.0])
    np.testing.assert_allclose(feature_distance_score(a, b, ord=2).numpy(), [5.0, 0.0])


def test_weighted_score_is_convex_combination():
    assert float(weighted_score(np.float32(10.0), np.float32(20.0), 0.1)) == pytest.approx(11.0)


def test_minmax_normalizer_fitted_once_and_applied_elementwise():
    norm = ScoreNormalizer("minmax").fit([2.0, 4.0, 6.0])
    np.testing.assert_allclose(norm.transform([2.0, 6.0, 10.0]), [0.0, 1.0, 2.0])
    # transforming another batch does not refit: a sample's value is independent of its batch-mates
    np.testing.assert_allclose(norm.transform([10.0]), [2.0])


def test_zscore_normalizer_and_bad_kind():
    norm = ScoreNormalizer("zscore").fit([1.0, 3.0])
    np.testing.assert_allclose(norm.transform([2.0, 3.0]), [0.0, 1.0])
    with pytest.raises(ConfigError, match="allowed: minmax, zscore, none"):
        ScoreNormalizer("rank")
