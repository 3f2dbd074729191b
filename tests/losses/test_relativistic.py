"""Relativistic (RSGAN, RaSGAN) and standard GAN objectives against hand-computed values.

Shared example: critic logits real = [2, 1], fake = [0, 1]; softplus(d) = log(1 + e^d) = −log σ(−d).
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tfganad.errors import ConfigError
from tfganad.losses import (
    get_gan_objective,
    rasgan_discriminator_loss,
    rasgan_generator_loss,
    rsgan_discriminator_loss,
    rsgan_generator_loss,
    sgan_discriminator_loss,
    sgan_generator_loss,
)

REAL = np.array([[2.0], [1.0]], np.float32)  # (batch, 1) as the critic returns them
FAKE = np.array([[0.0], [1.0]], np.float32)


def test_rsgan_discriminator_loss_hand_computed():
    # pairs: C_r − C_f = [2, 0] → (log(1 + e^−2) + log 2) / 2 = (0.126928 + 0.693147) / 2
    assert float(rsgan_discriminator_loss(REAL, FAKE)) == pytest.approx(0.4100376, abs=1e-6)


def test_rsgan_generator_loss_hand_computed():
    # pairs: C_f − C_r = [−2, 0] → (log(1 + e^2) + log 2) / 2 = (2.126928 + 0.693147) / 2
    assert float(rsgan_generator_loss(REAL, FAKE)) == pytest.approx(1.4100376, abs=1e-6)


def test_rsgan_pairs_samples_element_wise():
    # Reversed fakes: C_r − C_f = [1, 1] → log(1 + e^−1) = 0.313262 (RaSGAN would not change).
    assert float(rsgan_discriminator_loss(REAL, FAKE[::-1])) == pytest.approx(0.3132617, abs=1e-6)
    assert float(rasgan_discriminator_loss(REAL, FAKE[::-1])) == pytest.approx(
        float(rasgan_discriminator_loss(REAL, FAKE)), abs=1e-6)


def test_rasgan_losses_hand_computed():
    # mean real 1.5, mean fake 0.5: real − mean fake = [1.5, 0.5], fake − mean real = [−1.5, −0.5]
    # L_D = mean(sp(−1.5), sp(−0.5)) + mean(sp(−1.5), sp(−0.5)) = 0.2014133 + 0.4740770
    assert float(rasgan_discriminator_loss(REAL, FAKE)) == pytest.approx(0.6754903, abs=1e-6)
    # L_G = mean(sp(1.5), sp(0.5)) · 2 = 1.7014133 + 0.9740770
    assert float(rasgan_generator_loss(REAL, FAKE)) == pytest.approx(2.6754903, abs=1e-6)


def test_sgan_losses_hand_computed():
    # BCE(1, [2, 1]) + BCE(0, [0, 1]) = mean(sp(−2), sp(−1)) + mean(sp(0), sp(1)) = 0.220095 + 1.003205
    assert float(sgan_discriminator_loss(REAL, FAKE)) == pytest.approx(1.2232993, abs=1e-6)
    # BCE(1, [0, 1]) = mean(log 2, sp(−1)); the real logits do not enter
    assert float(sgan_generator_loss(REAL, FAKE)) == pytest.approx(0.5032044, abs=1e-6)
    assert float(sgan_generator_loss(REAL + 5.0, FAKE)) == pytest.approx(0.5032044, abs=1e-6)


@pytest.mark.parametrize("name", ["rsgan", "rasgan"])
def test_relativistic_losses_ignore_a_common_logit_shift(name):
    critic_loss, generator_loss = get_gan_objective(name)
    for fn in (critic_loss, generator_loss):
        assert float(fn(REAL + 3.0, FAKE + 3.0)) == pytest.approx(float(fn(REAL, FAKE)), abs=1e-6)


@pytest.mark.parametrize("name", ["rsgan", "rasgan", "sgan"])
def test_losses_stay_finite_for_large_logit_gaps(name):
    critic_loss, generator_loss = get_gan_objective(name)
    real, fake = np.array([500.0, 400.0], np.float32), np.array([-500.0, -400.0], np.float32)
    assert np.isfinite(float(critic_loss(real, fake))) and np.isfinite(float(generator_loss(real, fake)))
    # A critic that separates perfectly has (almost) zero loss; its generator has a large one.
    assert float(critic_loss(real, fake)) == pytest.approx(0.0, abs=1e-6)
    assert float(generator_loss(real, fake)) > 100.0


def test_critic_gradient_pushes_real_up_and_fake_down():
    real, fake = tf.Variable([0.5, -0.5]), tf.Variable([0.0, 0.3])
    with tf.GradientTape() as tape:
        loss = rsgan_discriminator_loss(real, fake)
    g_real, g_fake = tape.gradient(loss, [real, fake])
    # d/dr softplus(−(r − f)) = −σ(f − r) < 0 and d/df = σ(f − r) > 0, each divided by the batch size 2
    sig = 1.0 / (1.0 + np.exp(-(np.array([0.0, 0.3]) - np.array([0.5, -0.5]))))
    np.testing.assert_allclose(g_real.numpy(), -sig / 2, atol=1e-6)
    np.testing.assert_allclose(g_fake.numpy(), sig / 2, atol=1e-6)


def test_get_gan_objective_lists_valid_names():
    assert get_gan_objective("rsgan") == (rsgan_discriminator_loss, rsgan_generator_loss)
    with pytest.raises(ConfigError, match="rsgan, rasgan, sgan"):
        get_gan_objective("wgan")
