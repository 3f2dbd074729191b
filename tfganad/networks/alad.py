"""ALAD's networks: encoder, generator and the three discriminators D_xz, D_xx, D_zz.

Paper: Zenati et al., "Adversarially Learned Anomaly Detection", ICDM 2018 (arXiv:1812.02288), appendix
tables (KDD99: Table X; Arrhythmia: Table XII; CIFAR-10/SVHN: the DCGAN-style tables) and the reference
code `alad/{kdd,arrhythmia,cifar10}_utilities.py`.

* MLPs for rows (`ALAD_MLP_PRESETS`): LeakyReLU 0.2, Xavier (glorot-uniform) kernels, zero biases;
  D_xz has BatchNorm on its x path and dropout 0.5, D_xx / D_zz dropout 0.2.
* Convolutions for images: DCGAN pyramid of stride-2 4×4 convs (sizes as in `dcgan_stages`: 16, 28, 32,
  64 ...), kernels N(0, 0.01), dropout 0.2 in every discriminator; D_zz is the MLP pair discriminator.
  For 32×32 images and `filters=128` this is the reference CIFAR-10 network (E 128-256-512 → z,
  G 512-256-128 → 3, D_xz x path 128-256-512, z path 512-512, joint 1024, D_xx 64-128 with 5×5 kernels).

Spectral normalisation (`spectral_norm=True`) wraps every hidden Dense/Conv of the encoder and the
discriminators (`tfganad.networks.spectral.SpectralNorm`: W/σ inside the forward pass, gradient through
σ, as the reference's `utils/sn.py`); output layers stay plain, as in the reference.
The reference applies it only to the image networks (its tabular builders ignore the flag); here it
applies to the MLPs too, as the paper's ablation (Table V) describes.

Every discriminator returns (logit, features), features being the layer before the logit (the
feature layer f of ALAD's score). Pair discriminators D_xx(a, b) / D_zz(a, b) concatenate their two
inputs (along channels for images; the reference concatenates CIFAR images along height).
"""

from __future__ import annotations

import keras
from keras import layers

from tfganad.networks.dcgan import dcgan_stages
from tfganad.networks.layers import FullWindowConv2D, SubpixelConv2DTranspose
from tfganad.networks.spectral import SpectralNorm

#: The paper's tabular networks (appendix Tables X and XII; reference `alad/*_utilities.py`).
ALAD_MLP_PRESETS = {
    "kdd": {"encoder_units": (64,), "generator_units": (64, 128), "xz_x_units": 128, "xz_z_units": 128,
            "xz_joint_units": 128, "xz_dropout": 0.5, "xx_units": (128,), "zz_units": (32,),
            "pair_dropout": 0.2},
    "arrhythmia": {"encoder_units": (256, 128), "generator_units": (128, 256), "xz_x_units": 128,
                   "xz_z_units": 128, "xz_joint_units": 256, "xz_dropout": 0.5, "xx_units": (256, 128),
                   "zz_units": (64, 32), "pair_dropout": 0.2},
}
LEAKY_SLOPE = 0.2


def _maybe_sn(layer, spectral_norm: bool):
    return SpectralNorm(layer, name=f"sn_{layer.name}") if spectral_norm else layer


def _conv_init():
    return keras.initializers.RandomNormal(0.0, 0.01)


# ---------------------------------------------------------------------------------------------- MLP
def alad_mlp_encoder(input_dim: int, latent_dim: int, units=(64,), spectral_norm: bool = False,
                     name: str = "encoder"):
    """x → z: [Dense(u), LeakyReLU(0.2)] per hidden width, then a linear Dense(latent_dim).

    Args:
        input_dim: number of features.
        latent_dim: size of z.
        units: hidden widths (KDD99: (64,); Arrhythmia: (256, 128)).
        spectral_norm: wrap the hidden layers in spectral normalisation.
    """
    x_in = keras.Input(shape=(input_dim,), name="x")
    h = x_in
    for i, u in enumerate(units):
        h = _maybe_sn(layers.Dense(u, name=f"fc{i}"), spectral_norm)(h)
        h = layers.LeakyReLU(LEAKY_SLOPE)(h)
    z = layers.Dense(latent_dim, dtype="float32", name="z")(h)
    return keras.Model(x_in, z, name=name)


def alad_mlp_generator(output_dim: int, latent_dim: int, units=(64, 128), name: str = "generator"):
    """z → x̂: [Dense(u), ReLU] per hidden width, then a linear Dense(output_dim) (raw features)."""
    z_in = keras.Input(shape=(latent_dim,), name="z")
    h = z_in
    for i, u in enumerate(units):
        h = layers.Dense(u, activation="relu", name=f"fc{i}")(h)
    x = layers.Dense(output_dim, dtype="float32", name="x_hat")(h)
    return keras.Model(z_in, x, name=name)


def alad_mlp_xz_discriminator(input_dim: int, latent_dim: int, x_units: int = 128, z_units: int = 128,
                              joint_units: int = 128, dropout: float = 0.5, spectral_norm: bool = False,
                              name: str = "d_xz"):
    """(x, z) → (logit, features): the BiGAN joint discriminator D_xz of ALAD's tabular models.

    x path Dense(x_units) + BatchNorm + LeakyReLU; z path Dense(z_units) + LeakyReLU + dropout; joint
    Dense(joint_units) + LeakyReLU (the features), dropout, Dense(1).
    """
    x_in = keras.Input(shape=(input_dim,), name="x")
    z_in = keras.Input(shape=(latent_dim,), name="z")
    hx = _maybe_sn(layers.Dense(x_units, name="x_fc"), spectral_norm)(x_in)
    hx = layers.LeakyReLU(LEAKY_SLOPE)(layers.BatchNormalization(name="x_bn")(hx))
    hz = _maybe_sn(layers.Dense(z_units, name="z_fc"), spectral_norm)(z_in)
    hz = layers.Dropout(dropout)(layers.LeakyReLU(LEAKY_SLOPE)(hz))
    joint = _maybe_sn(layers.Dense(joint_units, name="joint_fc"), spectral_norm)(layers.Concatenate()([hx, hz]))
    features = layers.LeakyReLU(LEAKY_SLOPE, dtype="float32", name="features")(joint)
    logit = layers.Dense(1, dtype="float32", name="logit")(layers.Dropout(dropout)(features))
    return keras.Model([x_in, z_in], [logit, features], name=name)


def alad_pair_discriminator(dim: int, units=(128,), dropout: float = 0.2, spectral_norm: bool = False,
                            name: str = "d_xx"):
    """(a, b) → (logit, features) on concatenated vector pairs: D_xx for rows, D_zz for latents.

    [Dense(u), LeakyReLU(0.2), dropout] per hidden width; the last hidden activation is the feature
    layer f (ALAD's score uses it for D_xx), then Dense(1).
    """
    a_in = keras.Input(shape=(dim,), name="a")
    b_in = keras.Input(shape=(dim,), name="b")
    h = layers.Concatenate()([a_in, b_in])
    features = None
    for i, u in enumerate(units):
        h = _maybe_sn(layers.Dense(u, name=f"fc{i}"), spectral_norm)(h)
        last = i == len(units) - 1
        h = layers.LeakyReLU(LEAKY_SLOPE, dtype="float32" if last else None,
                             name="features" if last else None)(h)
        if last:
            features = h
        h = layers.Dropout(dropout)(h)
    logit = layers.Dense(1, dtype="float32", name="logit")(h)
    return keras.Model([a_in, b_in], [logit, features], name=name)


# ---------------------------------------------------------------------------------------------- conv
def alad_conv_encoder(input_shape, latent_dim: int, filters: int = 128, spectral_norm: bool = False,
                      name: str = "encoder"):
    """x → z: k × [Conv(filters·2^i, 4, s2), BN, LeakyReLU(0.2)], then a valid conv over the bottom map.

    The last conv (the reference's 4×4 valid conv to `latent_dim` on CIFAR-10) stays plain.
    """
    stages = dcgan_stages(input_shape)
    x_in = keras.Input(shape=tuple(input_shape), name="x")
    h = x_in
    for i in range(stages):
        conv = layers.Conv2D(filters * 2 ** i, 4, strides=2, padding="same", kernel_initializer=_conv_init(),
                             name=f"conv{i}")
        h = _maybe_sn(conv, spectral_norm)(h)
        h = layers.LeakyReLU(LEAKY_SLOPE)(layers.BatchNormalization(name=f"bn{i}")(h))
    h = FullWindowConv2D(latent_dim, tuple(h.shape[1:3]), padding="valid", kernel_initializer=_conv_init(),
                         name="conv_z")(h)
    z = layers.Flatten(dtype="float32", name="z")(h)
    return keras.Model(x_in, z, name=name)


def alad_conv_generator(output_shape, latent_dim: int, filters: int = 128, name: str = "generator"):
    """z → x̂ in [−1, 1]: ConvT from 1×1 to the bottom map, k − 1 stride-2 ConvT [BN, ReLU], ConvT + tanh.

    32×32 with filters=128: 512 (4×4) → 256 (8×8) → 128 (16×16) → C (32×32), as the reference.
    """
    stages = dcgan_stages(output_shape)
    h0, w0 = output_shape[0] // 2 ** stages, output_shape[1] // 2 ** stages
    top = filters * 2 ** (stages - 1)
    z_in = keras.Input(shape=(latent_dim,), name="z")
    h = layers.Reshape((1, 1, latent_dim))(z_in)
    h = SubpixelConv2DTranspose(top, (h0, w0), padding="valid", kernel_initializer=_conv_init(),
                               name="deconv_in")(h)
    h = layers.ReLU()(layers.BatchNormalization(name="bn_in")(h))
    for i in range(1, stages):
        h = SubpixelConv2DTranspose(top // 2 ** i, 4, strides=2, padding="same", kernel_initializer=_conv_init(),
                                   name=f"deconv{i}")(h)
        h = layers.ReLU()(layers.BatchNormalization(name=f"bn{i}")(h))
    h = SubpixelConv2DTranspose(output_shape[2], 4, strides=2, padding="same", kernel_initializer=_conv_init(),
                               name="deconv_out")(h)
    x = layers.Activation("tanh", dtype="float32", name="x_hat")(h)
    return keras.Model(z_in, x, name=name)


def alad_conv_xz_discriminator(input_shape, latent_dim: int, filters: int = 128, dropout: float = 0.2,
                               spectral_norm: bool = False, name: str = "d_xz"):
    """(x, z) → (logit, features): conv x path, two-layer z path, joint layer (the features), logit.

    x path: Conv(filters, 4, s2) + LeakyReLU, then [Conv(filters·2^i, 4, s2), BN, LeakyReLU]; z path:
    2 × [Dense(filters·2^(k−1)), LeakyReLU, dropout] (the reference's 1×1 convs on a 1×1 map); joint
    Dense(filters·2^k), LeakyReLU, dropout; logit Dense(1).
    """
    stages = dcgan_stages(input_shape)
    x_in = keras.Input(shape=tuple(input_shape), name="x")
    z_in = keras.Input(shape=(latent_dim,), name="z")
    h = x_in
    for i in range(stages):
        conv = layers.Conv2D(filters * 2 ** i, 4, strides=2, padding="same", kernel_initializer=_conv_init(),
                             name=f"x_conv{i}")
        h = _maybe_sn(conv, spectral_norm)(h)
        if i > 0:
            h = layers.BatchNormalization(name=f"x_bn{i}")(h)
        h = layers.LeakyReLU(LEAKY_SLOPE)(h)
    h = layers.Flatten()(h)
    hz = z_in
    for i in range(2):
        dense = layers.Dense(filters * 2 ** (stages - 1), kernel_initializer=_conv_init(), name=f"z_fc{i}")
        hz = layers.Dropout(dropout)(layers.LeakyReLU(LEAKY_SLOPE)(_maybe_sn(dense, spectral_norm)(hz)))
    joint = layers.Dense(filters * 2 ** stages, kernel_initializer=_conv_init(), name="joint_fc")
    joint = _maybe_sn(joint, spectral_norm)(layers.Concatenate()([h, hz]))
    features = layers.LeakyReLU(LEAKY_SLOPE, dtype="float32", name="features")(joint)
    logit = layers.Dense(1, kernel_initializer=_conv_init(), dtype="float32", name="logit")(
        layers.Dropout(dropout)(features))
    return keras.Model([x_in, z_in], [logit, features], name=name)


def alad_conv_xx_discriminator(input_shape, filters: int = 128, dropout: float = 0.2, spectral_norm: bool = False,
                               name: str = "d_xx"):
    """(x, x') → (logit, features): channel-concatenated pair, Conv(filters/2, 5, s2) and Conv(filters, 5,
    s2), each LeakyReLU + dropout, flattened (the features), Dense(1)."""
    a_in = keras.Input(shape=tuple(input_shape), name="a")
    b_in = keras.Input(shape=tuple(input_shape), name="b")
    h = layers.Concatenate(axis=-1)([a_in, b_in])
    for i, f in enumerate((max(filters // 2, 1), filters)):
        conv = layers.Conv2D(f, 5, strides=2, padding="same", kernel_initializer=_conv_init(), name=f"conv{i}")
        h = layers.Dropout(dropout)(layers.LeakyReLU(LEAKY_SLOPE)(_maybe_sn(conv, spectral_norm)(h)))
    features = layers.Flatten(dtype="float32", name="features")(h)
    logit = layers.Dense(1, kernel_initializer=_conv_init(), dtype="float32", name="logit")(features)
    return keras.Model([a_in, b_in], [logit, features], name=name)
