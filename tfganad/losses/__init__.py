"""Pure loss functions, each named for what it computes and citing its paper."""

from tfganad.losses.adversarial import (
    bce_discriminator_loss,
    bce_encoder_loss,
    bce_generator_loss,
    feature_matching_loss,
    get_adversarial_loss,
)
from tfganad.losses.reconstruction import l1_reconstruction_loss, l2_reconstruction_loss

__all__ = [
    "bce_discriminator_loss",
    "bce_encoder_loss",
    "bce_generator_loss",
    "feature_matching_loss",
    "get_adversarial_loss",
    "l1_reconstruction_loss",
    "l2_reconstruction_loss",
]
