"""Unconditional GAN networks for latent-search detectors: DCGAN generator z → x and critic x → (logit, f).

Generator (Radford et al. 2016, as used by AnoGAN, ADGAN and f-AnoGAN): `conv_decoder` without the
extra dense layer, i.e. Dense(h0·w0·2^(s−1)·filters) → BN → ReLU → reshape → stride-2 ConvT stages → tanh
(28×28: z → 7·7·128 → 64 → 1). Critic: `stages` × [Conv(2^i·filters, 4, s2), norm (not on the first),
LeakyReLU(0.2)] → flatten = the feature layer f used by AnoGAN's feature-matching loss and f-AnoGAN's
score → Dense(1) logit. The critic's normalisation is BatchNorm for BCE/WGAN (DCGAN) and per-sample
layer normalisation for WGAN-GP (Gulrajani et al. §4: batch statistics break the per-sample gradient
penalty; f-AnoGAN uses LayerNorm). WGAN's weight clipping is a kernel/bias/γ/β constraint, which Keras
optimizers apply right after each update (Arjovsky et al., Algorithm 1, line 7).
"""

from __future__ import annotations

import keras
from keras import layers

from tfganad.errors import ConfigError
from tfganad.networks.conv import conv_decoder, resolve_stages

CRITIC_NORMS = ("batch", "layer", "none")


@keras.saving.register_keras_serializable(package="tfganad")
class ClipConstraint(keras.constraints.Constraint):
    """Clips every weight to [−clip_value, clip_value] (WGAN weight clipping, Arjovsky et al. 2017)."""

    def __init__(self, clip_value: float = 0.01):
        self.clip_value = float(clip_value)

    def __call__(self, w):
        return keras.ops.clip(w, -self.clip_value, self.clip_value)

    def get_config(self):
        return {"clip_value": self.clip_value}


def _clip_kwargs(clip_value, names=("kernel", "bias")):
    if clip_value is None:
        return {}
    return {f"{n}_constraint": ClipConstraint(clip_value) for n in names}


def _norm_layer(norm: str, clip_value, name: str):
    if norm == "batch":
        return layers.BatchNormalization(name=name, **_clip_kwargs(clip_value, ("gamma", "beta")))
    if norm == "layer":
        # One group = statistics over (H, W, C) of each sample with per-channel γ, β: f-AnoGAN's
        # tflib Layernorm over axes [1, 2, 3]; no batch statistics, so the gradient penalty stays per-sample.
        return layers.GroupNormalization(groups=1, name=name, **_clip_kwargs(clip_value, ("gamma", "beta")))
    return None


def check_critic_norm(norm: str) -> str:
    """Validates a critic normalisation name (`batch`, `layer` or `none`)."""
    if norm not in CRITIC_NORMS:
        raise ConfigError(f"unknown critic_norm {norm!r}; allowed: auto, {', '.join(CRITIC_NORMS)}")
    return norm


def dcgan_generator(output_shape, latent_dim: int, filters: int = 64, name: str = "generator"):
    """z → x in [−1, 1]: DCGAN generator (project + reshape, stride-2 ConvT, BN, ReLU, tanh).

    Args:
        output_shape: (H, W, C) with H, W divisible by 4 (see `resolve_stages`).
        latent_dim: size of z.
        filters: width of the last hidden ConvT; the projection has filters·2^(stages−1) channels.
    """
    return conv_decoder(output_shape, latent_dim, filters=filters, dense_units=0, name=name)


def dcgan_critic(input_shape, filters: int = 64, norm: str = "batch", clip_value=None, logit_bias: bool = True,
                 name: str = "critic"):
    """x → (logit (batch, 1), features (batch, F)): DCGAN discriminator / WGAN critic.

    Args:
        input_shape: (H, W, C) images.
        filters: width of the first conv; doubles at every stride-2 stage.
        norm: `batch`, `layer` (per-sample, for WGAN-GP) or `none`.
        clip_value: if set, every weight is clipped to [−clip_value, clip_value] after each update.
        logit_bias: False for Wasserstein critics, whose losses do not depend on a constant offset
            (its gradient is exactly zero, so it would never train).
    """
    check_critic_norm(norm)
    stages = resolve_stages(input_shape)
    x_in = keras.Input(shape=tuple(input_shape), name="x")
    h = x_in
    for i in range(stages):
        h = layers.Conv2D(filters * 2 ** i, 4, strides=2, padding="same", name=f"conv{i}",
                          **_clip_kwargs(clip_value))(h)
        norm_layer = _norm_layer(norm, clip_value, f"norm{i}") if i > 0 else None
        if norm_layer is not None:
            h = norm_layer(h)
        h = layers.LeakyReLU(0.2)(h)
    features = layers.Flatten(dtype="float32", name="features")(h)
    logit = layers.Dense(1, use_bias=logit_bias, dtype="float32", name="logit", **_clip_kwargs(clip_value))(features)
    return keras.Model(x_in, [logit, features], name=name)


def mlp_critic(input_dim: int, units=(128, 128), norm: str = "none", clip_value=None, logit_bias: bool = True,
               name: str = "critic"):
    """x → (logit, features) for table rows: Dense(units) + LeakyReLU(0.2); features = the last hidden layer.

    Args:
        norm: `layer` adds per-sample LayerNormalization after each hidden Dense; `batch` BatchNorm.
        clip_value: WGAN weight clipping bound, or None.
    """
    check_critic_norm(norm)
    x_in = keras.Input(shape=(input_dim,), name="x")
    h = x_in
    for i, u in enumerate(units):
        h = layers.Dense(u, name=f"fc{i}", **_clip_kwargs(clip_value))(h)
        if norm == "batch":
            h = layers.BatchNormalization(name=f"norm{i}", **_clip_kwargs(clip_value, ("gamma", "beta")))(h)
        elif norm == "layer":
            h = layers.LayerNormalization(name=f"norm{i}", **_clip_kwargs(clip_value, ("gamma", "beta")))(h)
        h = layers.LeakyReLU(0.2)(h)
    features = layers.Activation("linear", dtype="float32", name="features")(h)
    logit = layers.Dense(1, use_bias=logit_bias, dtype="float32", name="logit", **_clip_kwargs(clip_value))(features)
    return keras.Model(x_in, [logit, features], name=name)


def tanh_encoder(base, name: str = "encoder"):
    """Wraps an x → z network so that z = tanh(·) lies in (−1, 1) (f-AnoGAN's izi_f `tanh_fc` encoder)."""
    z = layers.Activation("tanh", dtype="float32", name="z_tanh")(base.output)
    return keras.Model(base.input, z, name=name)


def critic_encoder(input_shape, latent_dim: int, filters: int = 64, norm: str = "batch", name: str = "encoder"):
    """x → z ∈ (−1, 1)^latent_dim: f-AnoGAN's izi_f encoder, the critic's conv stack with a linear
    latent output and tanh (Schlegl et al. 2019; reference `z_encoding_izif.py`: `Encoder` repeats the
    discriminator's layers, with batch norm where the WGAN-GP critic has layer norm, then a linear layer
    to z and, for `Z_REG_TYPE='tanh_fc'`, tanh).

    The conv stages are those of `dcgan_critic` with the same `filters`, normalised by `norm` (`batch`,
    the reference encoder's), then Flatten → Dense(latent_dim) → tanh.
    """
    check_critic_norm(norm)
    stages = resolve_stages(input_shape)
    x_in = keras.Input(shape=tuple(input_shape), name="x")
    h = x_in
    for i in range(stages):
        h = layers.Conv2D(filters * 2 ** i, 4, strides=2, padding="same", name=f"conv{i}")(h)
        norm_layer = _norm_layer(norm, None, f"norm{i}") if i > 0 else None
        if norm_layer is not None:
            h = norm_layer(h)
        h = layers.LeakyReLU(0.2)(h)
    h = layers.Flatten()(h)
    z = layers.Dense(latent_dim, dtype="float32", name="z_linear")(h)
    z = layers.Activation("tanh", dtype="float32", name="z_tanh")(z)
    return keras.Model(x_in, z, name=name)
