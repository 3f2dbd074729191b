"""Skip-GANomaly: a U-Net generator with skip connections and a feature-based latent loss.

Paper: Akçay, Atapour-Abarghouei and Breckon, "Skip-GANomaly: Skip Connected and Adversarially Trained
Encoder-Decoder Anomaly Detection", IJCNN 2019 (arXiv:1901.08954), as summarised in Han et al., "GAN
Ensemble for Anomaly Detection" (AAAI 2021): "Skip-GANomaly uses U-Net with skip connections as the
encoder-decoder, which does not compute z explicitly" (Background, eqs. 1–10; Table 5). Reference code:
github.com/samet-akcay/skip-ganomaly (`lib/models/skipganomaly.py`).

Generator G: U-Net x → x̂ (`tfganad.networks.unet`). Discriminator D: DCGAN pyramid whose last conv
gives the feature vector f(x) of size `latent_dim` (the "hidden" dimension of the ensemble paper's
Table 5), followed by a linear logit.

Losses: G minimises w_adv·BCE(1, D(x̂)) + w_con·mean|x − x̂| + w_lat·mean (f(x) − f(x̂))² (defaults 1, 50, 1);
D minimises BCE(1, D(x)) + BCE(0, D(x̂)) on logits, the paper's objective. (The reference code also adds
the generator's w_lat·L_lat to D's loss, so its D shrinks the very feature distance the score uses;
that term is not reproduced. Its optional input noise, off by default there, is not offered.)

Score (reference `test()`): A(x) = λ·mean (x − x̂)² + (1 − λ)·mean (f(x) − f(x̂))², λ = 0.9, per sample
(`weighted`); the two terms are also available as `residual` and `feature`. Normalisation is fitted
by the base class on normal data (the reference min-maxes over the test set).

Example:
    >>> model = tfganad.models.SkipGANomaly(input_shape=(32, 32, 3))
    >>> model.compile(learning_rate=2e-4, beta_1=0.5)
    >>> model.fit(x_train, epochs=15, batch_size=64)
    >>> scores = model.predict(x_test)     # higher = more anomalous
"""

from __future__ import annotations

import keras

from tfganad.errors import ConfigError
from tfganad.losses import (
    bce_discriminator_loss,
    bce_generator_loss,
    l1_reconstruction_loss,
    paired_feature_matching_loss,
)
from tfganad.models.base import AdversarialDetector
from tfganad.models.ganomaly import UPDATE_SCHEDULES, resolve_update_order
from tfganad.networks.dcgan import dcgan_discriminator, reinitialize_if
from tfganad.networks.unet import unet_depth, unet_generator
from tfganad.registry import register_model
from tfganad.scores import mean_squared_score, weighted_score

SCORES = ("weighted", "residual", "feature")


@keras.saving.register_keras_serializable(package="tfganad")
@register_model("skip_ganomaly")
class SkipGANomaly(AdversarialDetector):
    """Skip-GANomaly anomaly detector (U-Net generator G, DCGAN discriminator D with a feature layer).

    Args:
        input_shape: (H, W, C) images; H and W divisible by 2^depth (and usable by the DCGAN stack of D:
            16, 28, 32, 64, ...).
        latent_dim: size of D's feature vector f (nz, 100).
        adversarial_weight: w_adv (1), weight of BCE(1, D(x̂)).
        contextual_weight: w_con (50), weight of the L1 reconstruction loss.
        latent_weight: w_lat (1), weight of the feature loss mean (f(x) − f(x̂))².
        residual_score_weight: λ in λ·residual + (1 − λ)·feature (0.9).
        filters: ngf = ndf (64).
        depth: U-Net levels; None = as deep as the image size allows (5 for 32×32, as the reference).
        update_order: `reference` (default): G and D step from one forward pass; the reference's
            `optimize_params` steps G, then D on the detached x̂ of the same pass, which is the same
            update. `g_then_d` / `d_then_g`: the second player steps on a fresh forward pass.
        simultaneous_updates: legacy alias; True = `reference`, False = `g_then_d` (the old default).
        reinit_discriminator: re-initialise D's weights when its loss (BCE_real + BCE_fake) falls below
            `reinit_threshold` after its step (reference code; on by default).
        reinit_threshold: that threshold (1e-5).
        seed: noise seed (unused by training; kept for the common interface).
    """

    players = ("d", "g")
    adversary_attributes = ("discriminator",)
    adversary_free_scores = ("residual",)
    extra_metrics = ("adv_loss", "con_loss", "lat_loss")
    input_kinds = ("image",)
    score_name = "weighted"

    def __init__(self, input_shape=(32, 32, 3), latent_dim: int = 100, adversarial_weight: float = 1.0,
                 contextual_weight: float = 50.0, latent_weight: float = 1.0, residual_score_weight: float = 0.9,
                 filters: int = 64, depth=None, update_order: str = "reference",
                 simultaneous_updates=None, reinit_discriminator: bool = True, reinit_threshold: float = 1e-5,
                 seed: int = 0, **kwargs):
        super().__init__(input_shape=input_shape, latent_dim=latent_dim, seed=seed, **kwargs)
        # === Config ===
        if not self.is_image:
            raise ConfigError(
                f"Skip-GANomaly needs images of shape (height, width, channels), got {self.input_shape_}")
        for key, value in (("adversarial_weight", adversarial_weight), ("contextual_weight", contextual_weight),
                           ("latent_weight", latent_weight)):
            if float(value) < 0:
                raise ConfigError(f"{key} must be >= 0, got {value!r}")
        if not 0.0 <= float(residual_score_weight) <= 1.0:
            raise ConfigError(f"residual_score_weight must be in [0, 1], got {residual_score_weight!r}")
        self.adversarial_weight = float(adversarial_weight)
        self.contextual_weight = float(contextual_weight)
        self.latent_weight = float(latent_weight)
        self.residual_score_weight = float(residual_score_weight)
        self.filters = int(filters)
        self.depth = unet_depth(self.input_shape_, depth) if depth is not None else None
        self.update_order = resolve_update_order(update_order, simultaneous_updates, "g_then_d")
        self.reinit_discriminator = bool(reinit_discriminator)
        self.reinit_threshold = float(reinit_threshold)
        # === Layers ===
        self.generator = unet_generator(self.input_shape_, self.filters, self.depth, name="generator")
        self.discriminator = dcgan_discriminator(self.input_shape_, self.filters, feature_dim=self.latent_dim,
                                                 name="discriminator")

    def get_config(self):
        config = super().get_config()
        config.update(adversarial_weight=self.adversarial_weight, contextual_weight=self.contextual_weight,
                      latent_weight=self.latent_weight, residual_score_weight=self.residual_score_weight,
                      filters=self.filters, depth=self.depth, update_order=self.update_order,
                      reinit_discriminator=self.reinit_discriminator, reinit_threshold=self.reinit_threshold)
        return config

    @classmethod
    def small_config(cls, input_shape):
        return {"input_shape": list(input_shape), "latent_dim": 8, "filters": 4}

    def player_networks(self):
        return {"d": [self.discriminator], "g": [self.generator]}

    def update_schedule(self):
        return UPDATE_SCHEDULES[self.update_order]

    def compute_losses(self, x, training):
        x = keras.ops.cast(x, "float32")
        x_hat = self.generator(x, training=training)
        real_logit, real_feat = self.discriminator(x, training=training)
        fake_logit, fake_feat = self.discriminator(x_hat, training=training)
        adv = bce_generator_loss(fake_logit)
        con = l1_reconstruction_loss(x, x_hat)
        lat = paired_feature_matching_loss(real_feat, fake_feat)
        g_loss = self.adversarial_weight * adv + self.contextual_weight * con + self.latent_weight * lat
        return {"d_loss": bce_discriminator_loss(real_logit, fake_logit), "g_loss": g_loss,
                "adv_loss": adv, "con_loss": con, "lat_loss": lat}

    def after_update(self, players, losses):
        if self.reinit_discriminator and "d" in players:
            reinitialize_if(losses["d_loss"] < self.reinit_threshold, self.discriminator)

    def score_components(self, x, training=False):
        x = keras.ops.cast(keras.ops.convert_to_tensor(x), "float32")
        x_hat = self.generator(x, training=training)
        _, real_feat = self.discriminator(x, training=training)
        _, fake_feat = self.discriminator(x_hat, training=training)
        residual = mean_squared_score(x, x_hat)
        feature = mean_squared_score(real_feat, fake_feat)
        # weighted_score computes (1 − w)·residual + w·feature, so w = 1 − λ.
        return {"weighted": weighted_score(residual, feature, 1.0 - self.residual_score_weight),
                "residual": residual, "feature": feature}

    def reconstruct(self, x, training=False):
        return self.generator(x, training=training)
