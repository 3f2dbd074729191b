"""Pure loss functions, each named for what it computes and citing its paper."""

from tfganad.losses.adversarial import (
    bce_discriminator_loss,
    bce_encoder_loss,
    bce_generator_loss,
    feature_matching_loss,
    get_adversarial_loss,
)
from tfganad.losses.reconstruction import (
    RESIDUAL_REDUCTIONS,
    l1_reconstruction_loss,
    l1_residual_loss,
    l2_reconstruction_loss,
)
from tfganad.losses.relativistic import (
    GAN_OBJECTIVES,
    get_gan_objective,
    rasgan_discriminator_loss,
    rasgan_generator_loss,
    rsgan_discriminator_loss,
    rsgan_generator_loss,
    sgan_discriminator_loss,
    sgan_generator_loss,
)

__all__ = [
    "GAN_OBJECTIVES",
    "bce_discriminator_loss",
    "bce_encoder_loss",
    "bce_generator_loss",
    "feature_matching_loss",
    "get_adversarial_loss",
    "get_gan_objective",
    "RESIDUAL_REDUCTIONS",
    "l1_reconstruction_loss",
    "l1_residual_loss",
    "l2_reconstruction_loss",
    "rasgan_discriminator_loss",
    "rasgan_generator_loss",
    "rsgan_discriminator_loss",
    "rsgan_generator_loss",
    "sgan_discriminator_loss",
    "sgan_generator_loss",
]

from tfganad.losses.feature_matching import paired_feature_matching_loss  # noqa: E402

__all__ += ["paired_feature_matching_loss"]

from tfganad.losses.cycle_consistency import bce_cycle_consistency_loss  # noqa: E402

__all__ += ["bce_cycle_consistency_loss"]

from tfganad.losses.wasserstein import (  # noqa: E402
    GAN_LOSSES,
    get_gan_loss,
    gradient_penalty,
    wgan_critic_loss,
    wgan_generator_loss,
)

__all__ += ["GAN_LOSSES", "get_gan_loss", "gradient_penalty", "wgan_critic_loss", "wgan_generator_loss"]
