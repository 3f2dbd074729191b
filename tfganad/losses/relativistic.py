"""Relativistic GAN losses on critic logits (Jolicoeur-Martineau, "The relativistic discriminator", ICLR 2019).

The relativistic critic C scores how much more realistic a real sample is than a fake one, instead of
the probability that one input is real. All functions take the raw critic outputs (logits, shape
(batch,) or (batch, 1)) of a batch of real samples and of an equally large batch of fake samples, and
return a float32 scalar. `−log σ(d)` is computed as `softplus(−d)` so that large logit gaps stay finite.
"""

from __future__ import annotations

import tensorflow as tf

from tfganad.errors import ConfigError
from tfganad.losses.adversarial import bce_discriminator_loss, bce_generator_loss

GAN_OBJECTIVES = ("rsgan", "rasgan", "sgan")


def _flat_logits(logits):
    return tf.reshape(tf.cast(logits, tf.float32), [-1])


def rsgan_discriminator_loss(real_logits, fake_logits):
    """RSGAN critic loss −E log σ(C(x_r) − C(x_f)) over pairs (x_r, x_f) (Rafiee & Fevens eq. 2, top).

    Real and fake logits are paired element by element, so both batches must have the same size.
    """
    return tf.reduce_mean(tf.nn.softplus(-(_flat_logits(real_logits) - _flat_logits(fake_logits))))


def rsgan_generator_loss(real_logits, fake_logits):
    """RSGAN generator loss −E log σ(C(x_f) − C(x_r)) over pairs (x_r, x_f) (Rafiee & Fevens eq. 2, bottom)."""
    return tf.reduce_mean(tf.nn.softplus(-(_flat_logits(fake_logits) - _flat_logits(real_logits))))


def rasgan_discriminator_loss(real_logits, fake_logits):
    """RaSGAN critic loss −E_r log σ(C_r − E_f C_f) − E_f log(1 − σ(C_f − E_r C_r)).

    The relativistic *average* variant (Jolicoeur-Martineau 2019, §4.3, eq. for L_D^RaSGAN): each sample is
    compared with the mean logit of the other batch, so the pairing of real and fake samples is irrelevant.
    """
    real, fake = _flat_logits(real_logits), _flat_logits(fake_logits)
    real_rel = real - tf.reduce_mean(fake)
    fake_rel = fake - tf.reduce_mean(real)
    # −log(1 − σ(d)) = softplus(d)
    return tf.reduce_mean(tf.nn.softplus(-real_rel)) + tf.reduce_mean(tf.nn.softplus(fake_rel))


def rasgan_generator_loss(real_logits, fake_logits):
    """RaSGAN generator loss −E_f log σ(C_f − E_r C_r) − E_r log(1 − σ(C_r − E_f C_f)) (same paper §4.3)."""
    real, fake = _flat_logits(real_logits), _flat_logits(fake_logits)
    real_rel = real - tf.reduce_mean(fake)
    fake_rel = fake - tf.reduce_mean(real)
    return tf.reduce_mean(tf.nn.softplus(-fake_rel)) + tf.reduce_mean(tf.nn.softplus(real_rel))


def sgan_discriminator_loss(real_logits, fake_logits):
    """Standard GAN critic loss BCE(1, C(x_r)) + BCE(0, C(x_f)) (Goodfellow et al. 2014; Rafiee & Fevens Table 7)."""
    return bce_discriminator_loss(_flat_logits(real_logits), _flat_logits(fake_logits))


def sgan_generator_loss(real_logits, fake_logits):
    """Non-saturating standard GAN generator loss BCE(1, C(x_f)); `real_logits` is unused (same signature)."""
    del real_logits
    return bce_generator_loss(_flat_logits(fake_logits))


_OBJECTIVES = {
    "rsgan": (rsgan_discriminator_loss, rsgan_generator_loss),
    "rasgan": (rasgan_discriminator_loss, rasgan_generator_loss),
    "sgan": (sgan_discriminator_loss, sgan_generator_loss),
}


def get_gan_objective(name: str):
    """(critic_loss, generator_loss) functions of a GAN objective: `rsgan`, `rasgan` or `sgan`.

    Both functions take `(real_logits, fake_logits)` and return a scalar.
    """
    if name not in _OBJECTIVES:
        raise ConfigError(f"unknown GAN objective {name!r}; allowed: {', '.join(GAN_OBJECTIVES)}")
    return _OBJECTIVES[name]
