"""Composite score of Rafiee & Fevens (eq. 7) and its per-sample L1 terms, against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from tfganad.errors import ConfigError
from tfganad.scores import l1_distance_score, latent_augmented_score


def test_l1_distance_score_sum_and_mean():
    a = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    b = np.array([[0.0, 0.0], [3.0, 6.0]], np.float32)
    np.testing.assert_allclose(l1_distance_score(a, b, "sum").numpy(), [3.0, 2.0])
    np.testing.assert_allclose(l1_distance_score(a, b, "mean").numpy(), [1.5, 1.0])


def test_l1_distance_score_flattens_images_per_sample():
    a = np.zeros((2, 2, 2, 1), np.float32)
    b = np.zeros((2, 2, 2, 1), np.float32)
    b[0, 0, 0, 0], b[1] = -2.0, 1.0  # sample 0 differs in one pixel by 2, sample 1 in all 4 by 1
    np.testing.assert_allclose(l1_distance_score(a, b, "sum").numpy(), [2.0, 4.0])
    np.testing.assert_allclose(l1_distance_score(a, b, "mean").numpy(), [0.5, 1.0])


def test_l1_distance_score_rejects_unknown_reduction():
    with pytest.raises(ConfigError, match="sum, mean"):
        l1_distance_score(np.zeros((1, 2)), np.zeros((1, 2)), "max")


def test_latent_augmented_score_hand_computed():
    disc, res, lat = np.array([1.0, 2.0]), np.array([10.0, 20.0]), np.array([4.0, 0.0])
    # 0.8·1 + 0.2·10 + 0.5·4 = 4.8 ; 0.8·2 + 0.2·20 + 0.5·0 = 5.6
    np.testing.assert_allclose(latent_augmented_score(disc, res, lat, 0.8, 0.5).numpy(), [4.8, 5.6], rtol=1e-6)
    # β = 0 gives the two-term score of eq. 3: 0.8 + 2 ; 1.6 + 4
    np.testing.assert_allclose(latent_augmented_score(disc, res, lat, 0.8, 0.0).numpy(), [2.8, 5.6], rtol=1e-6)
    # λ = 1 keeps only the discrimination term (plus the latent one)
    np.testing.assert_allclose(latent_augmented_score(disc, res, lat, 1.0, 1.0).numpy(), [5.0, 2.0], rtol=1e-6)
