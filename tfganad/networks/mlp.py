"""Multi-layer perceptrons for tabular rows (EGBAD/ALAD KDD99 networks, PROTOCOLS §3.1)."""

from __future__ import annotations

import keras
from keras import layers


def mlp_encoder(input_dim: int, latent_dim: int, units=(64,), name: str = "encoder"):
    """x → z: Dense(units) with LeakyReLU(0.1), then Dense(latent_dim) (EGBAD KDD: 64 → 32)."""
    x_in = keras.Input(shape=(input_dim,), name="x")
    h = x_in
    for i, u in enumerate(units):
        h = layers.Dense(u, name=f"fc{i}")(h)
        h = layers.LeakyReLU(0.1)(h)
    z = layers.Dense(latent_dim, dtype="float32", name="z")(h)
    return keras.Model(x_in, z, name=name)


def mlp_decoder(output_dim: int, latent_dim: int, units=(64, 128), name: str = "generator"):
    """z → x: Dense(units) with ReLU, linear output (EGBAD KDD: 64 → 128 → 121; raw features)."""
    z_in = keras.Input(shape=(latent_dim,), name="z")
    h = z_in
    for i, u in enumerate(units):
        h = layers.Dense(u, activation="relu", name=f"fc{i}")(h)
    x = layers.Dense(output_dim, dtype="float32", name="x_hat")(h)
    return keras.Model(z_in, x, name=name)


def mlp_joint_discriminator(input_dim: int, latent_dim: int, units: int = 128, dropout: float = 0.2,
                            name: str = "discriminator"):
    """(x, z) → (logit, features): x path 128, z path 128, joint 128 with dropout (EGBAD KDD)."""
    x_in = keras.Input(shape=(input_dim,), name="x")
    z_in = keras.Input(shape=(latent_dim,), name="z")
    hx = layers.LeakyReLU(0.1)(layers.Dense(units, name="x_fc")(x_in))
    hz = layers.LeakyReLU(0.1)(layers.Dense(units, name="z_fc")(z_in))
    joint = layers.Dense(units, name="joint_fc")(layers.Concatenate()([hx, hz]))
    features = layers.LeakyReLU(0.1, dtype="float32", name="features")(joint)
    logit = layers.Dense(1, dtype="float32", name="logit")(layers.Dropout(dropout)(features))
    return keras.Model([x_in, z_in], [logit, features], name=name)
