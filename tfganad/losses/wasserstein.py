"""Wasserstein GAN losses: critic and generator objectives, and the WGAN-GP gradient penalty.

Papers: Arjovsky et al., "Wasserstein GAN", ICML 2017 (eq. 2 and Algorithm 1; also ADGAN eq. 2);
Gulrajani et al., "Improved Training of Wasserstein GANs", NeurIPS 2017 (eq. 3, Algorithm 1), used by
f-AnoGAN (Schlegl et al. 2019) with λ_GP = 10. All inputs are critic outputs (unbounded scores, no
sigmoid); every function returns a float32 scalar, a mean over the batch.
"""

from __future__ import annotations

import tensorflow as tf

from tfganad.errors import ConfigError

#: Generator/critic objectives a GAN detector can be trained with (`adversarial_loss`).
GAN_LOSSES = ("bce", "wgan", "wgan_gp")


def wgan_critic_loss(real_scores, fake_scores):
    """Critic loss E[D(G(z))] − E[D(x)]: minimising it maximises WGAN's W(θ, ω) (Arjovsky et al., eq. 2)."""
    real = tf.cast(real_scores, tf.float32)
    fake = tf.cast(fake_scores, tf.float32)
    return tf.reduce_mean(fake) - tf.reduce_mean(real)


def wgan_generator_loss(fake_scores):
    """Generator loss −E[D(G(z))] (Arjovsky et al., Algorithm 1, generator update)."""
    return -tf.reduce_mean(tf.cast(fake_scores, tf.float32))


def interpolate(real, fake, epsilon):
    """x̂ = ε·x + (1 − ε)·x̃ with one ε per sample (Gulrajani et al., Algorithm 1, line 6).

    Args:
        real, fake: tensors of the same shape (batch, ...).
        epsilon: shape (batch,), values in [0, 1] (U[0, 1] in the paper).
    """
    real = tf.cast(real, tf.float32)
    fake = tf.cast(fake, tf.float32)
    eps = tf.reshape(tf.cast(epsilon, tf.float32), [-1] + [1] * (len(real.shape) - 1))
    return eps * real + (1.0 - eps) * fake


def gradient_penalty(critic, real, fake, epsilon):
    """E[(||∇_x̂ D(x̂)||₂ − 1)²] on random interpolates x̂ (Gulrajani et al., eq. 3, without the λ factor).

    Args:
        critic: callable x → scores (batch,) or (batch, 1), or a (scores, features) tuple/list.
        real, fake: real and generated batches of the same shape.
        epsilon: per-sample interpolation weights, shape (batch,).

    Returns:
        The penalty as a float32 scalar; differentiable w.r.t. the critic's variables (double backprop).
    """
    x_hat = interpolate(real, fake, epsilon)
    with tf.GradientTape() as tape:
        tape.watch(x_hat)
        out = critic(x_hat)
        if isinstance(out, (tuple, list)):
            out = out[0]
        total = tf.reduce_sum(tf.cast(out, tf.float32))
    grads = tape.gradient(total, x_hat)
    flat = tf.reshape(grads, [tf.shape(grads)[0], -1])
    # The small constant keeps the gradient of the norm finite where ∇D vanishes.
    norms = tf.sqrt(tf.reduce_sum(tf.square(flat), axis=1) + 1e-12)
    return tf.reduce_mean(tf.square(norms - 1.0))


def get_gan_loss(name: str) -> str:
    """Validates a GAN training objective name (`bce`, `wgan` or `wgan_gp`) and returns it."""
    if name not in GAN_LOSSES:
        raise ConfigError(f"unknown adversarial_loss {name!r}; allowed: {', '.join(GAN_LOSSES)}")
    return name
