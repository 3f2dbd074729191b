"""GANomaly's DCGAN encoder, decoder and discriminator (Akçay et al. 2018, reference `lib/networks.py`).

Encoder: Conv(filters, 4, s2) + LeakyReLU(0.2), then stride-2 pyramid stages [Conv(2×, 4, s2), BN,
LeakyReLU(0.2)] down to an s×s map (4 ≤ s ≤ 8), then a bias-free Conv(latent_dim, s×s, valid) → z.
Decoder mirrors it: ConvT(top, s×s, valid) from 1×1×z, BN, ReLU, stride-2 ConvT stages [BN, ReLU] and
a final stride-2 ConvT + tanh. The reference asserts `isize % 16 == 0` (4×4 bottom map); here the
bottom map may be 4 to 8 pixels wide, so 28×28 MNIST works without padding (28 → 14 → 7, 7×7 kernel).

Weights follow the reference `weights_init`: conv kernels N(0, 0.02), BN γ N(1, 0.02), β 0, no conv
biases; BatchNorm uses PyTorch's momentum (0.1 → Keras 0.9) and ε = 1e-5.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import layers

from tfganad.errors import ConfigError
from tfganad.networks.layers import FullWindowConv2D, SubpixelConv2DTranspose


def _conv_init():
    return keras.initializers.RandomNormal(0.0, 0.02)


def _bn(name):
    return layers.BatchNormalization(
        momentum=0.9, epsilon=1e-5, gamma_initializer=keras.initializers.RandomNormal(1.0, 0.02), name=name
    )


def dcgan_stages(input_shape) -> int:
    """Number of stride-2 convolutions for an (H, W, C) image; ConfigError when the size cannot work.

    The stack halves both sides while they stay even and at least 4 pixels (at most 8 at the bottom).

    Returns:
        k ≥ 2 such that H = h0·2^k and W = w0·2^k with 4 ≤ h0, w0 ≤ 8.
    """
    if len(tuple(input_shape)) != 3:
        raise ConfigError(f"DCGAN networks need images of shape (height, width, channels), got {tuple(input_shape)}")
    h, w = int(input_shape[0]), int(input_shape[1])
    stages = 0
    while h % 2 == 0 and w % 2 == 0 and h // 2 >= 4 and w // 2 >= 4:
        h, w, stages = h // 2, w // 2, stages + 1
    if stages < 2 or h > 8 or w > 8:
        raise ConfigError(
            f"image size {input_shape[0]}x{input_shape[1]} cannot work with the DCGAN stack: height and width "
            f"must be s·2^k with k >= 2 and 4 <= s <= 8 (e.g. 16, 28, 32, 64); set data.image_size accordingly"
        )
    return stages


def _pyramid(x_in, filters: int, stages: int, prefix: str = ""):
    """Shared conv pyramid of the encoder and the discriminator: returns the bottom feature map."""
    h = layers.Conv2D(filters, 4, strides=2, padding="same", use_bias=False, kernel_initializer=_conv_init(),
                      name=f"{prefix}conv0")(x_in)
    h = layers.LeakyReLU(0.2)(h)
    for i in range(1, stages):
        h = layers.Conv2D(filters * 2 ** i, 4, strides=2, padding="same", use_bias=False,
                          kernel_initializer=_conv_init(), name=f"{prefix}conv{i}")(h)
        h = _bn(f"{prefix}bn{i}")(h)
        h = layers.LeakyReLU(0.2)(h)
    return h


def dcgan_encoder(input_shape, latent_dim: int, filters: int = 64, name: str = "encoder"):
    """x → z (batch, latent_dim): GANomaly's G_E and E (reference `Encoder`, `add_final_conv=True`).

    Args:
        input_shape: (H, W, C); any channel count, sizes as in `dcgan_stages`.
        latent_dim: size of z (nz).
        filters: width of the first conv (ndf); doubles at every stage.
    """
    stages = dcgan_stages(input_shape)
    x_in = keras.Input(shape=tuple(input_shape), name="x")
    h = _pyramid(x_in, filters, stages)
    h = FullWindowConv2D(latent_dim, tuple(h.shape[1:3]), padding="valid", use_bias=False,
                         kernel_initializer=_conv_init(), name="conv_z")(h)
    z = layers.Flatten(dtype="float32", name="z")(h)
    return keras.Model(x_in, z, name=name)


def dcgan_decoder(output_shape, latent_dim: int, filters: int = 64, name: str = "decoder"):
    """z → x̂ in [−1, 1]: GANomaly's G_D (reference `Decoder`), mirror of `dcgan_encoder`.

    Args:
        output_shape: (H, W, C) of the images it produces.
        latent_dim: size of z.
        filters: width of the last hidden ConvT (ngf); the first one has ngf·2^(k−1).
    """
    stages = dcgan_stages(output_shape)
    h0, w0 = output_shape[0] // 2 ** stages, output_shape[1] // 2 ** stages
    top = filters * 2 ** (stages - 1)
    z_in = keras.Input(shape=(latent_dim,), name="z")
    h = layers.Reshape((1, 1, latent_dim))(z_in)
    h = SubpixelConv2DTranspose(top, (h0, w0), padding="valid", use_bias=False, kernel_initializer=_conv_init(),
                               name="deconv_in")(h)
    h = _bn("bn_in")(h)
    h = layers.ReLU()(h)
    for i in range(1, stages):
        h = SubpixelConv2DTranspose(top // 2 ** i, 4, strides=2, padding="same", use_bias=False,
                                   kernel_initializer=_conv_init(), name=f"deconv{i}")(h)
        h = _bn(f"bn{i}")(h)
        h = layers.ReLU()(h)
    h = SubpixelConv2DTranspose(output_shape[2], 4, strides=2, padding="same", use_bias=False,
                               kernel_initializer=_conv_init(), name="deconv_out")(h)
    x = layers.Activation("tanh", dtype="float32", name="x_hat")(h)
    return keras.Model(z_in, x, name=name)


def dcgan_discriminator(input_shape, filters: int = 64, feature_dim=None, name: str = "discriminator"):
    """x → (logit (batch, 1), features): DCGAN discriminator with an intermediate feature layer.

    Args:
        input_shape: (H, W, C) images.
        filters: width of the first conv (ndf).
        feature_dim: None for GANomaly's `NetD` (features = the bottom s×s pyramid map, logit from a
            bias-free s×s valid conv); an int for Skip-GANomaly's discriminator (features = a bias-free
            s×s valid conv to `feature_dim` channels, flattened; logit = a linear layer on them; the
            reference's 3×3 "same" conv on that 1×1 map reduces to its centre tap, i.e. a linear map).

    Returns:
        A model whose logit is pre-sigmoid (losses use `sigmoid_cross_entropy_with_logits`).
    """
    stages = dcgan_stages(input_shape)
    x_in = keras.Input(shape=tuple(input_shape), name="x")
    h = _pyramid(x_in, filters, stages)
    if feature_dim is None:
        features = layers.Activation("linear", dtype="float32", name="features")(h)
        logit = FullWindowConv2D(1, tuple(h.shape[1:3]), padding="valid", use_bias=False,
                                 kernel_initializer=_conv_init(), name="classifier")(h)
        logit = layers.Flatten(dtype="float32", name="logit")(logit)
    else:
        h = FullWindowConv2D(int(feature_dim), tuple(h.shape[1:3]), padding="valid", use_bias=False,
                             kernel_initializer=_conv_init(), name="conv_features")(h)
        features = layers.Flatten(dtype="float32", name="features")(h)
        logit = layers.Dense(1, use_bias=False, kernel_initializer=_conv_init(), dtype="float32",
                             name="logit")(features)
    return keras.Model(x_in, [logit, features], name=name)


def initializer_assignments(network) -> list:
    """(variable, initializer) for every trainable variable of a network, for in-graph re-initialisation.

    Raises:
        ValueError: if a trainable variable has no known initializer (re-initialisation would be partial).
    """
    pairs = []
    for layer in network._flatten_layers(include_self=False):
        for attr in ("kernel", "bias", "gamma", "beta"):
            var = getattr(layer, attr, None)
            init = getattr(layer, f"{attr}_initializer", None)
            if var is not None and init is not None and getattr(var, "trainable", False):
                pairs.append((var, init))
    covered = {id(v) for v, _ in pairs}
    missing = [v.path for v in network.trainable_variables if id(v) not in covered]
    if missing:
        raise ValueError(f"cannot re-initialise {network.name}: no initializer known for {missing[:3]}")
    return pairs


def reinitialize(pairs) -> None:
    """Assigns each variable a fresh draw of its initializer (callable inside `tf.cond`).

    Keras initializers without an explicit seed draw the same values on every call, so this restores
    the network's initial weights (the reference draws new ones; either way D restarts from scratch).
    """
    for var, init in pairs:
        var.assign(init(var.shape, dtype=var.dtype))


def reinitialize_if(condition, network) -> None:
    """Re-initialises `network`'s trainable variables when the scalar boolean `condition` holds.

    Works in graph mode (`tf.cond`) and eagerly; optimizer state and BN moving statistics are kept, as
    in the reference (`netd.apply(weights_init)` touches only weights).
    """
    pairs = initializer_assignments(network)

    def reset():
        reinitialize(pairs)
        return tf.constant(True)

    tf.cond(condition, reset, lambda: tf.constant(False))
