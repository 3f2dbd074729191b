"""`GANDetector`: shared training of an unconditional GAN (G: z → x, critic D: x → (logit, f)).

The base of the latent-search detectors AnoGAN and ADGAN and of f-AnoGAN. It trains G and D in the
base class's one loop with a selectable objective (`adversarial_loss`):

* `bce`: the original GAN (Goodfellow et al. 2014; DCGAN, Radford et al. 2016), non-saturating G loss;
* `wgan`: WGAN (Arjovsky et al. 2017, Algorithm 1): critic loss E[D(G(z))] − E[D(x)], generator loss
  −E[D(G(z))], weights clipped to [−c, c] after every critic update (a Keras constraint, applied by the
  optimizer right after its update), n_critic = 5 critic steps per generator step, RMSProp lr 5e-5;
* `wgan_gp`: WGAN-GP (Gulrajani et al. 2017, Algorithm 1): the critic loss plus λ_GP·E[(‖∇D(x̂)‖₂ − 1)²]
  on uniform interpolates, λ_GP = 10, n_critic = 5, Adam lr 1e-4 with β = (0, 0.9), per-sample
  normalisation (LayerNorm) in the critic instead of BatchNorm.

Subclasses add scoring (`score_components`) and, for f-AnoGAN, a third player.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfganad.errors import ConfigError
from tfganad.losses.adversarial import bce_discriminator_loss, bce_generator_loss
from tfganad.losses.wasserstein import get_gan_loss, gradient_penalty, wgan_critic_loss, wgan_generator_loss
from tfganad.models.base import AdversarialDetector
from tfganad.networks.dcgan_gan import check_critic_norm, dcgan_critic, dcgan_generator, mlp_critic
from tfganad.networks.mlp import mlp_decoder

#: The papers' optimizers per objective (used when `paper_optimizers=True`): WGAN's RMSProp 5e-5
#: (Arjovsky et al. 2017, Algorithm 1), WGAN-GP's Adam 1e-4, β = (0, 0.9) (Gulrajani et al. 2017).
PAPER_OPTIMIZERS = {
    "wgan": {"class": "rmsprop", "learning_rate": 5e-5},
    "wgan_gp": {"class": "adam", "learning_rate": 1e-4, "beta_1": 0.0, "beta_2": 0.9},
}


class GANDetector(AdversarialDetector):
    """Unconditional GAN trained with BCE, WGAN or WGAN-GP; base of AnoGAN, ADGAN and f-AnoGAN.

    Args:
        input_shape: (H, W, C) images (DCGAN networks) or (features,) rows (MLP networks).
        latent_dim: size of z; z ~ N(0, I) during training.
        adversarial_loss: `bce`, `wgan` (weight clipping) or `wgan_gp` (gradient penalty).
        n_critic: critic steps per generator step; None = 1 for `bce`, 5 for the WGANs.
        clip_value: WGAN weight-clipping bound c (used with `wgan` only).
        gp_weight: λ_GP of WGAN-GP (used with `wgan_gp` only).
        filters: base width of the conv networks.
        critic_norm: `auto` (BatchNorm for bce/wgan images, LayerNorm for wgan_gp; none for rows),
            `batch`, `layer` or `none`.
        paper_optimizers: True = each objective's paper optimizer for D and G (RMSProp 5e-5 for WGAN,
            Adam 1e-4 β=(0, 0.9) for WGAN-GP), ignoring compile's learning rate and betas; False = the
            optimizer `compile` builds from its arguments. BCE always uses compile's Adam.
        seed: noise seed.
    """

    players = ("d", "g")
    adversary_attributes = ("discriminator",)
    #: allowed values of constructor arguments, checked when a recipe is loaded (`tfganad.config`)
    recipe_checks = {"adversarial_loss": ("bce", "wgan", "wgan_gp"), "critic_norm": ("auto", "batch", "layer", "none"),
                     "n_critic": ">=1", "clip_value": ">0", "gp_weight": ">=0"}

    def __init__(self, input_shape=(28, 28, 1), latent_dim: int = 100, adversarial_loss: str = "bce",
                 n_critic=None, clip_value: float = 0.01, gp_weight: float = 10.0, filters: int = 64,
                 critic_norm: str = "auto", paper_optimizers: bool = True, seed: int = 0, **kwargs):
        super().__init__(input_shape=input_shape, latent_dim=latent_dim, seed=seed, **kwargs)
        # === Config ===
        self.adversarial_loss = get_gan_loss(adversarial_loss)
        if n_critic is not None and int(n_critic) < 1:
            raise ConfigError(f"n_critic must be >= 1, got {n_critic!r}")
        self.n_critic = None if n_critic is None else int(n_critic)
        if clip_value is None or float(clip_value) <= 0:
            raise ConfigError(f"clip_value must be > 0, got {clip_value!r}")
        self.clip_value = float(clip_value)
        if float(gp_weight) < 0:
            raise ConfigError(f"gp_weight must be >= 0, got {gp_weight!r}")
        self.gp_weight = float(gp_weight)
        # The objective resolves to functions once, here: the traced step branches on no string.
        bce = self.adversarial_loss == "bce"
        self._generator_loss = bce_generator_loss if bce else wgan_generator_loss
        self._discriminator_loss = bce_discriminator_loss if bce else wgan_critic_loss
        self._gradient_penalty = self.adversarial_loss == "wgan_gp" and self.gp_weight > 0
        self.filters = int(filters)
        self.critic_norm = critic_norm
        if critic_norm == "auto":
            if not self.is_image:
                norm = "none"
            else:
                norm = "layer" if self.adversarial_loss == "wgan_gp" else "batch"
        else:
            norm = check_critic_norm(critic_norm)
        if norm == "batch" and self.adversarial_loss == "wgan_gp":
            raise ConfigError("critic_norm='batch' with wgan_gp: batch statistics make the gradient penalty "
                              "couple samples (Gulrajani et al. §4); use 'layer' or 'none'")
        self.paper_optimizers = bool(paper_optimizers)
        # === Layers ===
        clip = self.clip_value if self.adversarial_loss == "wgan" else None
        bias = self.adversarial_loss == "bce"  # a Wasserstein critic's output offset gets zero gradient
        if self.is_image:
            self.generator = dcgan_generator(self.input_shape_, self.latent_dim, filters=self.filters)
            self.discriminator = dcgan_critic(self.input_shape_, filters=self.filters, norm=norm, clip_value=clip,
                                              logit_bias=bias)
        else:
            dim = self.input_shape_[0]
            self.generator = mlp_decoder(dim, self.latent_dim)
            self.discriminator = mlp_critic(dim, norm=norm, clip_value=clip, logit_bias=bias)

    def get_config(self):
        config = super().get_config()
        config.update(adversarial_loss=self.adversarial_loss, n_critic=self.n_critic, clip_value=self.clip_value,
                      gp_weight=self.gp_weight, filters=self.filters, critic_norm=self.critic_norm,
                      paper_optimizers=self.paper_optimizers)
        return config

    # ------------------------------------------------------------------ training hooks ------------
    @property
    def critic_steps(self) -> int:
        """Critic updates per generator update (n_critic)."""
        if self.n_critic is not None:
            return self.n_critic
        return 1 if self.adversarial_loss == "bce" else 5

    def player_networks(self):
        return {"d": [self.discriminator], "g": [self.generator]}

    def update_schedule(self):
        return [(("d",), self.critic_steps), (("g",), 1)]

    def default_optimizer(self, player, learning_rate=2e-4, beta_1=0.5, beta_2=0.999, ema_momentum=None):
        preset = PAPER_OPTIMIZERS.get(self.adversarial_loss) if self.paper_optimizers else None
        if preset is None or player not in ("d", "g"):
            return super().default_optimizer(player, learning_rate, beta_1, beta_2, ema_momentum)
        ema = {"use_ema": ema_momentum is not None, "ema_momentum": ema_momentum or 0.99}
        if preset["class"] == "rmsprop":
            return keras.optimizers.RMSprop(learning_rate=preset["learning_rate"], **ema)
        return keras.optimizers.Adam(learning_rate=preset["learning_rate"], beta_1=preset["beta_1"],
                                     beta_2=preset["beta_2"], **ema)

    def _sample_uniform(self, shape):
        """U[0, 1) noise of `shape` from the model's seed stream, distinct per replica (like sample_latent)."""
        seed = self.seed_generator.next()
        ctx = tf.distribute.get_replica_context()
        if ctx is not None:
            rid = tf.cast(ctx.replica_id_in_sync_group, seed.dtype)
            seed = seed + tf.stack([rid * 1000003, tf.zeros_like(rid)])
        return tf.random.stateless_uniform(shape, seed=seed)

    def gan_losses(self, x, training: bool) -> dict:
        """{'d_loss', 'g_loss'} of one forward pass (only those whose player steps now, when stepping)."""
        out = {}
        need_d, need_g = self.stepping("d"), self.stepping("g")
        if not (need_d or need_g):
            return out
        x = tf.cast(x, tf.float32)
        batch = tf.shape(x)[0]
        x_fake = self.generator(self.sample_latent(batch), training=training)
        if not need_g:
            x_fake = tf.stop_gradient(x_fake)
        fake_logit, _ = self.discriminator(x_fake, training=training)
        if need_g:
            out["g_loss"] = self._generator_loss(fake_logit)
        if need_d:
            real_logit, _ = self.discriminator(x, training=training)
            d_loss = self._discriminator_loss(real_logit, fake_logit)
            if self._gradient_penalty:
                eps = self._sample_uniform(tf.reshape(batch, [1]))
                gp = gradient_penalty(lambda v: self.discriminator(v, training=training), x,
                                      tf.stop_gradient(x_fake), eps)
                d_loss = d_loss + self.gp_weight * gp
            out["d_loss"] = d_loss
        return out

    def compute_losses(self, x, training):
        return self.gan_losses(x, training)

    def generate(self, z, training=False):
        return self.generator(z, training=training)
