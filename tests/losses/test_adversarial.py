"""Adversarial and reconstruction losses against hand-computed values."""

import math

import numpy as np
import pytest

from tfganad.errors import ConfigError
from tfganad.losses import (
    bce_discriminator_loss,
    bce_encoder_loss,
    bce_generator_loss,
    feature_matching_loss,
    get_adversarial_loss,
    l1_reconstruction_loss,
    l1_residual_loss,
    l2_reconstruction_loss,
)

LN3 = math.log(3.0)


def test_bce_discriminator_loss_at_zero_logits_is_two_ln2():
    assert float(bce_discriminator_loss(np.zeros((4, 1), np.float32), np.zeros((4, 1), np.float32))) == pytest.approx(
        2 * math.log(2), abs=1e-6)


def test_bce_discriminator_loss_hand_computed():
    # real logit ln3 -> sigmoid 3/4 -> -log(3/4); fake logit ln3 -> -log(1/4)
    real = np.array([[LN3]], np.float32)
    fake = np.array([[LN3]], np.float32)
    assert float(bce_discriminator_loss(real, fake)) == pytest.approx(-math.log(0.75) - math.log(0.25), abs=1e-5)


def test_bce_generator_loss_hand_computed():
    fake = np.array([[0.0], [LN3]], np.float32)
    assert float(bce_generator_loss(fake)) == pytest.approx((math.log(2) - math.log(0.75)) / 2, abs=1e-6)


def test_bce_encoder_loss_targets_zero():
    assert float(bce_encoder_loss(np.array([[LN3]], np.float32))) == pytest.approx(math.log(4), abs=1e-5)


def test_feature_matching_is_squared_distance_of_batch_means():
    real = np.array([[1, 2], [3, 4]], np.float32)
    fake = np.array([[0, 0], [2, 2]], np.float32)
    # means [2, 3] and [1, 1] -> (1^2 + 2^2)
    assert float(feature_matching_loss(real, fake)) == pytest.approx(5.0)


def test_reconstruction_losses():
    x = np.array([[1.0, 2.0], [0.0, -1.0]], np.float32)
    zero = np.zeros_like(x)
    assert float(l1_reconstruction_loss(x, zero)) == pytest.approx(1.0)
    assert float(l2_reconstruction_loss(x, zero)) == pytest.approx(1.5)
    # Survey eq. 4: per-sample L1 norm (3 and 1), then the batch mean; images are flattened first.
    assert float(l1_residual_loss(x, zero)) == pytest.approx(2.0)
    images = np.arange(8, dtype=np.float32).reshape(2, 2, 2, 1)
    assert float(l1_residual_loss(images, np.zeros_like(images))) == pytest.approx((6 + 22) / 2)


def test_unknown_adversarial_loss_lists_allowed():
    with pytest.raises(ConfigError, match="allowed: bce, fm"):
        get_adversarial_loss("wgan-ish")
