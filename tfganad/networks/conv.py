"""DCGAN-style convolutional networks for images of any size divisible by 4.

The number of stride-2 stages follows the image size: halve while the side stays even and ≥ 4,
at most `max_stages` times (28 → 14 → 7: two stages, as in the EGBAD MNIST networks; 32 → 16 → 8 → 4:
three stages). Output layers are float32 so mixed precision never reaches losses or scores.
"""

from __future__ import annotations

import keras
from keras import layers

from tfganad.errors import ConfigError
from tfganad.networks.layers import SubpixelConv2DTranspose


def resolve_stages(input_shape, max_stages: int = 4, min_stages: int = 2) -> int:
    """Number of stride-2 stages for an (H, W, C) image; ConfigError when the size cannot work."""
    if len(input_shape) != 3:
        raise ConfigError(f"image networks need inputs of shape (height, width, channels), got {tuple(input_shape)}")
    h, w, c = (int(v) for v in input_shape)
    if c not in (1, 3):
        raise ConfigError(f"images must have 1 (grayscale) or 3 (RGB) channels, got {c}")
    stages = 0
    while stages < max_stages and h % 2 == 0 and w % 2 == 0 and h // 2 >= 4 and w // 2 >= 4:
        h, w, stages = h // 2, w // 2, stages + 1
    if stages < min_stages:
        raise ConfigError(
            f"image size {input_shape[0]}x{input_shape[1]} cannot work: height and width must be divisible "
            f"by {2 ** min_stages} and at least {4 * 2 ** (min_stages - 1)}; set data.image_size to e.g. 28, 32 or 64"
        )
    return stages


def conv_encoder(input_shape, latent_dim: int, filters: int = 32, name: str = "encoder", stages=None):
    """x → z: Conv(filters, s1) then `stages` × [Conv(2^i·filters, s2), BN, LeakyReLU], Dense(latent_dim).

    EGBAD's MNIST encoder (PROTOCOLS §3.3) for 28×28: 32 → 64(s2) → 128(s2) → dense.
    """
    stages = stages or resolve_stages(input_shape)
    x_in = keras.Input(shape=tuple(input_shape), name="x")
    h = layers.Conv2D(filters, 3, padding="same", name="conv0")(x_in)
    h = layers.LeakyReLU(0.1)(h)
    for i in range(stages):
        h = layers.Conv2D(filters * 2 ** (i + 1), 3, strides=2, padding="same", name=f"conv{i + 1}")(h)
        h = layers.BatchNormalization(name=f"bn{i + 1}")(h)
        h = layers.LeakyReLU(0.1)(h)
    h = layers.Flatten()(h)
    z = layers.Dense(latent_dim, dtype="float32", name="z")(h)
    return keras.Model(x_in, z, name=name)


def conv_decoder(output_shape, latent_dim: int, filters: int = 64, dense_units: int = 1024,
                 name: str = "generator", stages=None):
    """z → x: Dense(dense_units), Dense(h0·w0·2^(s-1)·filters), then stride-2 ConvTranspose up to tanh.

    EGBAD's MNIST generator (PROTOCOLS §3.3) for 28×28: 1024 → 7·7·128 → deconv 64 → deconv 1, tanh.
    """
    stages = stages or resolve_stages(output_shape)
    h0, w0, channels = output_shape[0] // 2 ** stages, output_shape[1] // 2 ** stages, output_shape[2]
    top = filters * 2 ** (stages - 1)
    z_in = keras.Input(shape=(latent_dim,), name="z")
    h = z_in
    if dense_units:
        h = layers.Dense(dense_units, name="fc0")(h)
        h = layers.BatchNormalization(name="bn_fc0")(h)
        h = layers.ReLU()(h)
    h = layers.Dense(h0 * w0 * top, name="fc1")(h)
    h = layers.BatchNormalization(name="bn_fc1")(h)
    h = layers.ReLU()(h)
    h = layers.Reshape((h0, w0, top))(h)
    for i in range(stages - 1):
        h = SubpixelConv2DTranspose(top // 2 ** (i + 1), 4, strides=2, padding="same", name=f"deconv{i}")(h)
        h = layers.BatchNormalization(name=f"bn{i}")(h)
        h = layers.ReLU()(h)
    h = SubpixelConv2DTranspose(channels, 4, strides=2, padding="same", name="deconv_out")(h)
    x = layers.Activation("tanh", dtype="float32", name="x_hat")(h)
    return keras.Model(z_in, x, name=name)


def conv_joint_discriminator(input_shape, latent_dim: int, filters: int = 64, dense_units: int = 1024,
                             z_units: int = 512, dropout: float = 0.5, name: str = "discriminator",
                             stages=None):
    """(x, z) → (logit, features): BiGAN joint discriminator (EGBAD MNIST, PROTOCOLS §3.3).

    x path: `stages` × Conv(filters, s2) + LeakyReLU (BN after the first), dropout; z path: Dense(z_units);
    joint: Dense(dense_units) whose activations are the feature-matching layer f, dropout, Dense(1) logit.
    """
    stages = stages or resolve_stages(input_shape)
    x_in = keras.Input(shape=tuple(input_shape), name="x")
    z_in = keras.Input(shape=(latent_dim,), name="z")
    h = x_in
    for i in range(stages):
        h = layers.Conv2D(filters, 4, strides=2, padding="same", name=f"x_conv{i}")(h)
        if i > 0:
            h = layers.BatchNormalization(name=f"x_bn{i}")(h)
        h = layers.LeakyReLU(0.1)(h)
    h = layers.Dropout(dropout)(h)
    h = layers.Flatten()(h)
    hz = layers.Dense(z_units, name="z_fc")(z_in)
    hz = layers.LeakyReLU(0.1)(hz)
    hz = layers.Dropout(dropout)(hz)
    joint = layers.Concatenate()([h, hz])
    joint = layers.Dense(dense_units, name="joint_fc")(joint)
    features = layers.LeakyReLU(0.1, dtype="float32", name="features")(joint)
    out = layers.Dropout(dropout)(features)
    logit = layers.Dense(1, dtype="float32", name="logit")(out)
    return keras.Model([x_in, z_in], [logit, features], name=name)
