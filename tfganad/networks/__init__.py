"""Encoders, decoders and discriminators assembled from Keras layers (conv for images, MLP for rows)."""

from tfganad.networks.conv import (
    conv_decoder,
    conv_encoder,
    conv_joint_discriminator,
    resolve_stages,
)
from tfganad.networks.ganae import (
    ganae_conv_critic,
    ganae_conv_encoder,
    ganae_conv_generator,
    ganae_mlp_critic,
    ganae_mlp_encoder,
)
from tfganad.networks.mlp import mlp_decoder, mlp_encoder, mlp_joint_discriminator

__all__ = [
    "conv_decoder",
    "conv_encoder",
    "conv_joint_discriminator",
    "ganae_conv_critic",
    "ganae_conv_encoder",
    "ganae_conv_generator",
    "ganae_mlp_critic",
    "ganae_mlp_encoder",
    "mlp_decoder",
    "mlp_encoder",
    "mlp_joint_discriminator",
    "resolve_stages",
]

from tfganad.networks.batched import BatchedNetwork, batched_apply, tile_weights  # noqa: E402
from tfganad.networks.dcgan_gan import ClipConstraint, dcgan_critic, dcgan_generator, mlp_critic  # noqa: E402

__all__ += ["BatchedNetwork", "ClipConstraint", "batched_apply", "dcgan_critic", "dcgan_generator", "mlp_critic",
            "tile_weights"]
