"""Networks of the GAN + autoencoder detector (Rafiee & Fevens, arXiv:2112.15541, Table 1 and Fig. 1).

Table 1 gives layer counts per dataset, e.g. for MNIST: G = 3 transposed convs + 2 linear layers (ReLU),
critic = 3 convs + 2 linear layers (LeakyReLU, dropout 0.2), E = 3 convs + 1 linear layer (LeakyReLU,
dropout 0.2). The builders take those counts as arguments; the number of stride-2 stages follows the
image size (`resolve_stages`: 28 → 2 stages, 32 → 3), and extra layers beyond the stride-2 ones run at
stride 1. Details Table 1 leaves open follow the authors' released code: LeakyReLU slope 0.1, batch norm
in E and G, a LayerNorm on E's output (so E(x) has the per-sample scale of z ~ N(0, I), the generator's
other input), and critic features taken at the conv block before the last one. The critic uses spectral
normalisation instead of batch norm (§5.1.2). Output layers are float32 for mixed precision.
"""

from __future__ import annotations

import keras
from keras import layers

from tfganad.networks.conv import resolve_stages
from tfganad.networks.layers import SubpixelConv2DTranspose
from tfganad.networks.spectral import SpectralNorm

LEAKY_SLOPE = 0.1


def _weight_layer(layer, spectral_norm: bool, name: str):
    """`layer` wrapped in spectral normalisation (the wrapper takes `name`), or `layer` itself."""
    if spectral_norm:
        # Miyato et al.'s form (W/σ in the forward pass, gradient through σ), as the paper's §5.1.2 cites.
        return SpectralNorm(layer, dtype=layer.dtype_policy, name=name)
    return layer


def ganae_conv_encoder(input_shape, latent_dim: int, filters: int = 64, conv_layers: int = 3,
                       dropout: float = 0.2, name: str = "encoder", stages=None):
    """x → E(x): `conv_layers` × [Conv(2^i·filters), BN, LeakyReLU, Dropout], Dense(latent_dim), LayerNorm.

    The first `conv_layers − stages` convolutions keep the resolution, the rest halve it (MNIST, 28×28:
    64 s1 → 128 s2 → 256 s2 → 7×7, as in the released code).
    """
    stages = stages or resolve_stages(input_shape)
    conv_layers = max(int(conv_layers), stages)
    x_in = keras.Input(shape=tuple(input_shape), name="x")
    h = x_in
    for i in range(conv_layers):
        stride = 2 if i >= conv_layers - stages else 1
        h = layers.Conv2D(filters * 2 ** i, 3, strides=stride, padding="same", name=f"conv{i}")(h)
        if i > 0:
            h = layers.BatchNormalization(name=f"bn{i}")(h)
        h = layers.LeakyReLU(LEAKY_SLOPE)(h)
        h = layers.Dropout(dropout)(h)
    h = layers.Flatten()(h)
    h = layers.Dense(latent_dim, name="fc")(h)
    z = layers.LayerNormalization(dtype="float32", name="z")(h)
    return keras.Model(x_in, z, name=name)


def ganae_conv_generator(output_shape, latent_dim: int, filters: int = 64, dense_units: int = 1024,
                         deconv_layers: int = 3, name: str = "generator", stages=None):
    """z → x: [Dense(dense_units)], Dense(h0·w0·top), then `deconv_layers` transposed convs up to tanh.

    Shared by the GAN (input z ~ N(0, I)) and the autoencoder (input E(x)). The transposed convs beyond
    the `stages` stride-2 ones run first, at stride 1 (MNIST: 7×7×128 → 128 s1 → 64 s2 → 1 s2, 28×28).
    """
    stages = stages or resolve_stages(output_shape)
    deconv_layers = max(int(deconv_layers), stages)
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
    width = top
    for i in range(deconv_layers):
        upsample = i >= deconv_layers - stages
        last = i == deconv_layers - 1
        if upsample:
            width = max(width // 2, 1)
        h = SubpixelConv2DTranspose(channels if last else width, 4, strides=2 if upsample else 1,
                                   padding="same", name="deconv_out" if last else f"deconv{i}")(h)
        if not last:
            h = layers.BatchNormalization(name=f"bn{i}")(h)
            h = layers.ReLU()(h)
    x = layers.Activation("tanh", dtype="float32", name="x_hat")(h)
    return keras.Model(z_in, x, name=name)


def ganae_conv_critic(input_shape, filters: int = 64, conv_layers: int = 3, dense_units: int = 1024,
                      dropout: float = 0.2, logit_bias: bool = True, spectral_norm: bool = True,
                      name: str = "critic", stages=None):
    """x → (logit, features): spectrally normalised convs and linear layers, LeakyReLU, dropout 0.2.

    `conv_layers` × [SN(Conv(2^i·filters)), LeakyReLU, Dropout] (the first `stages` at stride 2), then
    [SN(Dense(dense_units)), LeakyReLU, Dropout] when `dense_units` > 0, then SN(Dense(1)). The features
    f(x) of L_D (eq. 4) are the activations of the conv block before the last one (the released code's
    `output_pre`), taken before dropout. Relativistic losses depend on logit differences only, so their
    critics need no `logit_bias` (its gradient would be exactly zero). `spectral_norm=False` drops the
    SN wrappers (the released code has none).
    """
    stages = stages or resolve_stages(input_shape)
    conv_layers = max(int(conv_layers), stages, 2)
    x_in = keras.Input(shape=tuple(input_shape), name="x")
    h = x_in
    features = None
    for i in range(conv_layers):
        conv = layers.Conv2D(filters * 2 ** i, 4, strides=2 if i < stages else 1, padding="same", name=f"conv{i}")
        h = _weight_layer(conv, spectral_norm, f"sn_conv{i}")(h)
        h = layers.LeakyReLU(LEAKY_SLOPE)(h)
        if i == conv_layers - 2:
            features = layers.Activation("linear", dtype="float32", name="features")(h)
        h = layers.Dropout(dropout)(h)
    h = layers.Flatten()(h)
    if dense_units:
        h = _weight_layer(layers.Dense(dense_units, name="fc"), spectral_norm, "sn_fc")(h)
        h = layers.LeakyReLU(LEAKY_SLOPE)(h)
        h = layers.Dropout(dropout)(h)
    logit_fc = layers.Dense(1, use_bias=logit_bias, dtype="float32", name="logit_fc")
    logit = _weight_layer(logit_fc, spectral_norm, "logit")(h)
    return keras.Model(x_in, [logit, features], name=name)


def ganae_mlp_encoder(input_dim: int, latent_dim: int, units=(64,), dropout: float = 0.2, name: str = "encoder"):
    """Row → E(row): Dense(units) with LeakyReLU and dropout, Dense(latent_dim), LayerNorm."""
    x_in = keras.Input(shape=(input_dim,), name="x")
    h = x_in
    for i, u in enumerate(units):
        h = layers.Dense(u, name=f"fc{i}")(h)
        h = layers.LeakyReLU(LEAKY_SLOPE)(h)
        h = layers.Dropout(dropout)(h)
    h = layers.Dense(latent_dim, name="fc_z")(h)
    z = layers.LayerNormalization(dtype="float32", name="z")(h)
    return keras.Model(x_in, z, name=name)


def ganae_mlp_critic(input_dim: int, units=(128, 128), dropout: float = 0.2, logit_bias: bool = True,
                     spectral_norm: bool = True, name: str = "critic"):
    """Row → (logit, features): SN(Dense) layers with LeakyReLU and dropout; features = last hidden layer."""
    x_in = keras.Input(shape=(input_dim,), name="x")
    h = x_in
    for i, u in enumerate(units):
        h = _weight_layer(layers.Dense(u, name=f"fc{i}"), spectral_norm, f"sn_fc{i}")(h)
        h = layers.LeakyReLU(LEAKY_SLOPE)(h)
    features = layers.Activation("linear", dtype="float32", name="features")(h)
    h = layers.Dropout(dropout)(h)
    logit_fc = layers.Dense(1, use_bias=logit_bias, dtype="float32", name="logit_fc")
    logit = _weight_layer(logit_fc, spectral_norm, "logit")(h)
    return keras.Model(x_in, [logit, features], name=name)
