"""f-AnoGAN: a WGAN-GP, then an izi_f encoder trained against the frozen generator and critic.

Paper: Schlegl, Seeböck, Waldstein, Langs, Schmidt-Erfurth, "f-AnoGAN: Fast unsupervised anomaly
detection with generative adversarial networks", Medical Image Analysis 54, 2019; as summarised in
Han et al., "GAN Ensemble for Anomaly Detection" (AAAI 2021), Background (eq. 9: "it first trains the
decoder and the discriminator ... then it trains the encoder with the decoder and the discriminator
fixed") and Table 5 (MNIST: WGAN, encoding/hidden size 32, lr 1e-4, batch 64, β = 1); settings of the
reference code in PROTOCOLS.md §3.7.

Stage 1 (`gan_steps` generator updates): WGAN-GP, λ_GP = 10, n_critic = 5, Adam lr 1e-4 with
β = (0, 0.9), LayerNorm in the critic. Stage 2 (from generator update `encoder_start_step`): the izi_f
encoder E is trained with G and D frozen on
    L(x) = MSE(x, G(E(x))) + κ·MSE(f(x), f(G(E(x))))          (κ = `feature_weight` = 1)
with RMSProp lr 5e-5; f is the critic's feature layer. E is the f-AnoGAN encoder (reference
`z_encoding_izif.py`, `Encoder`): the critic's conv stages with batch norm (the reference normalises
only the critic by layer norm), then a linear layer to z and tanh (`tanh_fc`;
`networks.dcgan_gan.critic_encoder`); table rows use an MLP encoder with tanh.
The anomaly score is the same two terms per
sample (the reference's `dual_iloss`): a single forward pass, no latent search.

One `fit` runs both stages: the base loop's schedule is d × n_critic, g, e, and each update runs only
when its stage is active, decided in the graph from the generator optimizer's iteration count (so a
resumed `.keras` model continues in the right stage). A frozen player logs a loss of 0 in that stage.

Example:
    >>> model = tfganad.models.FAnoGAN(input_shape=(28, 28, 1), latent_dim=128, gan_steps=5000)
    >>> model.compile()               # paper optimizers: Adam(1e-4, 0, 0.9) for D/G, RMSProp(5e-5) for E
    >>> model.fit(x_train, epochs=30, batch_size=64)
    >>> scores = model.predict(x_test)
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfganad.errors import ConfigError
from tfganad.models.gan_detector import GANDetector
from tfganad.networks.dcgan_gan import critic_encoder, tanh_encoder
from tfganad.networks.mlp import mlp_encoder
from tfganad.registry import register_model

LATENT_PRIORS = ("normal", "uniform")


def _per_sample_mse(a, b):
    a = tf.cast(a, tf.float32)
    b = tf.cast(b, tf.float32)
    diff = tf.reshape(a - b, [tf.shape(a)[0], -1])
    return tf.reduce_mean(tf.square(diff), axis=1)


@keras.saving.register_keras_serializable(package="tfganad")
@register_model("fanogan")
class FAnoGAN(GANDetector):
    """f-AnoGAN detector (Schlegl et al. 2019): WGAN-GP, then an izi_f encoder; score = izi_f loss.

    Args:
        input_shape, latent_dim, adversarial_loss, n_critic, clip_value, gp_weight, filters, critic_norm,
            paper_optimizers, seed: stage-1 GAN training, see `GANDetector` (default WGAN-GP).
        feature_weight: κ, weight of the critic-feature term (paper: 1.0).
        gan_steps: generator updates of stage 1; after that D and G are frozen. None = never frozen.
        encoder_start_step: generator updates after which E trains; None = `gan_steps` (the paper's
            two stages). 0 trains E from the first step (used by the tiny test configuration).
        encoder_learning_rate: RMSProp rate of E when `paper_optimizers` (paper: 5e-5).
        latent_prior: `normal` or `uniform` (on [−1, 1]) noise for stage 1.
    """

    #: allowed values of constructor arguments, checked when a recipe is loaded (`tfganad.config`)
    recipe_checks = {"latent_prior": ("normal", "uniform"), "feature_weight": ">=0", "gan_steps": ">=0"}

    players = ("d", "g", "e")
    adversary_free_scores = ("residual",)

    def __init__(self, input_shape=(28, 28, 1), latent_dim: int = 128, adversarial_loss: str = "wgan_gp",
                 n_critic=None, clip_value: float = 0.01, gp_weight: float = 10.0, filters: int = 64,
                 critic_norm: str = "auto", paper_optimizers: bool = True, feature_weight: float = 1.0,
                 gan_steps=10000, encoder_start_step=None, encoder_learning_rate: float = 5e-5,
                 latent_prior: str = "normal", seed: int = 0, **kwargs):
        super().__init__(input_shape=input_shape, latent_dim=latent_dim, adversarial_loss=adversarial_loss,
                         n_critic=n_critic, clip_value=clip_value, gp_weight=gp_weight, filters=filters,
                         critic_norm=critic_norm, paper_optimizers=paper_optimizers, seed=seed, **kwargs)
        # === Config ===
        if float(feature_weight) < 0:
            raise ConfigError(f"feature_weight must be >= 0, got {feature_weight!r}")
        if gan_steps is not None and int(gan_steps) < 0:
            raise ConfigError(f"gan_steps must be >= 0 or null, got {gan_steps!r}")
        if encoder_start_step is None and gan_steps is None:
            raise ConfigError("set gan_steps or encoder_start_step: with both null the encoder never trains")
        start = int(gan_steps) if encoder_start_step is None else int(encoder_start_step)
        if start < 0 or (gan_steps is not None and start > int(gan_steps)):
            raise ConfigError(f"encoder_start_step must be in [0, gan_steps] (the generator's update count "
                              f"stops at gan_steps), got {encoder_start_step!r} with gan_steps={gan_steps!r}")
        if float(encoder_learning_rate) <= 0:
            raise ConfigError(f"encoder_learning_rate must be > 0, got {encoder_learning_rate!r}")
        if latent_prior not in LATENT_PRIORS:
            raise ConfigError(f"unknown latent_prior {latent_prior!r}; allowed: {', '.join(LATENT_PRIORS)}")
        self.feature_weight = float(feature_weight)
        self.gan_steps = None if gan_steps is None else int(gan_steps)
        self.encoder_start_step = None if encoder_start_step is None else int(encoder_start_step)
        self.encoder_learning_rate = float(encoder_learning_rate)
        self.latent_prior = latent_prior
        self._normal_prior = latent_prior == "normal"  # resolved once: sampling branches on no string
        # === Layers ===
        if self.is_image:
            self.encoder = critic_encoder(self.input_shape_, self.latent_dim, filters=self.filters, norm="batch")
        else:
            self.encoder = tanh_encoder(mlp_encoder(self.input_shape_[0], self.latent_dim, name="encoder_base"))

    def get_config(self):
        config = super().get_config()
        config.update(feature_weight=self.feature_weight, gan_steps=self.gan_steps,
                      encoder_start_step=self.encoder_start_step, encoder_learning_rate=self.encoder_learning_rate,
                      latent_prior=self.latent_prior)
        return config

    @classmethod
    def small_config(cls, input_shape):
        # encoder_start_step=0 runs both stages in the same step, so one train_step updates d, g and e.
        return {"input_shape": list(input_shape), "latent_dim": 8, "filters": 4, "n_critic": 1,
                "gan_steps": None, "encoder_start_step": 0}

    # ------------------------------------------------------------------ training hooks ------------
    def player_networks(self):
        return {"d": [self.discriminator], "g": [self.generator], "e": [self.encoder]}

    def update_schedule(self):
        return [(("d",), self.critic_steps), (("g",), 1), (("e",), 1)]

    def default_optimizer(self, player, learning_rate=2e-4, beta_1=0.5, beta_2=0.999, ema_momentum=None):
        if player == "e" and self.paper_optimizers:
            return keras.optimizers.RMSprop(learning_rate=self.encoder_learning_rate,
                                            use_ema=ema_momentum is not None, ema_momentum=ema_momentum or 0.99)
        return super().default_optimizer(player, learning_rate, beta_1, beta_2, ema_momentum)

    @property
    def _encoder_start(self) -> int:
        return self.gan_steps if self.encoder_start_step is None else self.encoder_start_step

    def phase_active(self, players):
        """True (Python) when `players` always train, else a boolean tensor: is their stage running now?"""
        generator_updates = self.player_optimizers["g"].iterations
        if "e" in players:
            if self._encoder_start == 0:
                return True
            return generator_updates >= self._encoder_start
        if self.gan_steps is None:
            return True
        return generator_updates < self.gan_steps

    def sample_latent(self, batch_size):
        if self._normal_prior:
            return super().sample_latent(batch_size)
        return 2.0 * self._sample_uniform(tf.stack([batch_size, self.latent_dim])) - 1.0

    def izif_terms(self, x, training: bool = False) -> dict:
        """Per-sample izi_f terms: `residual` = MSE(x, G(E(x))), `feature` = MSE(f(x), f(G(E(x)))),
        `score` = residual + κ·feature. G and D always run in inference mode (frozen)."""
        x = tf.cast(x, tf.float32)
        x_rec = self.generator(self.encoder(x, training=training), training=False)
        _, real_features = self.discriminator(x, training=False)
        _, rec_features = self.discriminator(x_rec, training=False)
        residual = _per_sample_mse(x, x_rec)
        feature = _per_sample_mse(real_features, rec_features)
        return {"score": residual + self.feature_weight * feature, "residual": residual, "feature": feature}

    def compute_losses(self, x, training):
        out = self.gan_losses(x, training)
        if self.stepping("e"):
            out["e_loss"] = tf.reduce_mean(self.izif_terms(x, training=training)["score"])
        return out

    def score_components(self, x, training=False):
        return self.izif_terms(tf.convert_to_tensor(x), training=training)

    def reconstruct(self, x, training=False):
        return self.generator(self.encoder(x, training=training), training=False)
