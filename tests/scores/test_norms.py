"""Unsquared L2 residual score (ALAD's "L2") against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from tfganad.scores import l2_norm_residual_score, l2_residual_score


def test_l2_norm_residual_score_hand_computed():
    x = np.array([[3.0, 4.0], [1.0, 1.0]], np.float32)
    x_hat = np.array([[0.0, 0.0], [1.0, 1.0]], np.float32)
    np.testing.assert_allclose(l2_norm_residual_score(x, x_hat).numpy(), [5.0, 0.0], atol=1e-6)


def test_l2_norm_residual_score_flattens_images():
    x = np.array([[[[1.0], [2.0]], [[2.0], [4.0]]]], np.float32)  # (1, 2, 2, 1): sqrt(1 + 4 + 4 + 16) = 5
    out = l2_norm_residual_score(x, np.zeros_like(x))
    assert out.shape == (1,) and float(out[0]) == pytest.approx(5.0)


def test_l2_norm_is_the_root_of_the_squared_score():
    rng = np.random.default_rng(0)
    x, x_hat = rng.normal(size=(4, 3)).astype("float32"), rng.normal(size=(4, 3)).astype("float32")
    np.testing.assert_allclose(l2_norm_residual_score(x, x_hat).numpy() ** 2, l2_residual_score(x, x_hat).numpy(),
                               rtol=1e-5)
