"""AnoGAN: anomaly score by searching the generator's latent space for each test sample.

Paper: Schlegl et al., "Unsupervised Anomaly Detection with Generative Adversarial Networks to Guide
Marker Discovery", IPMI 2017, as described in Di Mattia et al., "A Survey on GANs for Anomaly
Detection" (arXiv:1906.11632) §2.1, eqs. 4–7; test-time settings of the EGBAD/ALAD AnoGAN baseline
(PROTOCOLS.md §3.6).

Training: a DCGAN (G: z → x, D: x → (logit, f)) on normal data only, with BCE (the paper), or WGAN /
WGAN-GP (`adversarial_loss`, see `GANDetector`).

Scoring: for each test sample x, z_0 is drawn from a truncated normal and Γ Adam steps minimise
    L(z) = (1 − λ)·‖x − G(z)‖₁ + λ·L_D(z)                                          (eq. 6)
with L_D = ‖f(x) − f(G(z))‖₁ on D's feature layer (`discriminator_term="fm"`, eq. 5, the paper's
choice) or BCE(1, D(G(z))) (`"bce"`, Yeh et al.'s variant). The anomaly score is A(x) = L(z_Γ) (eq. 7).
Every sample gets its own z and its own Adam moments (never one z or one optimizer for a batch, the
PyOD / survey-toolbox pitfall), and all samples of a batch are searched together in one graph
(`tfganad.search`), so N samples × Γ steps cost Γ batched steps. The search runs inside `predict`,
`serve` and the exported SavedModel signature.

Deviation: every sample starts from the same seeded draw z_0 (its own copy of it). The EGBAD baseline
draws a fresh z_0 per test batch, which makes a sample's score depend on its batch and position.

Example:
    >>> model = tfganad.models.AnoGAN(input_shape=(28, 28, 1), latent_dim=100)
    >>> model.compile(learning_rate=2e-4, beta_1=0.5)
    >>> model.fit(x_train, epochs=20, batch_size=64)
    >>> scores = model.predict(x_test, batch_size=500)   # Γ = 500 Adam steps per sample, batched
    >>> out = model.search(x_test[:16])                  # z_Γ, G(z_Γ) and the score terms
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfganad.errors import ConfigError
from tfganad.models.gan_detector import GANDetector
from tfganad.registry import register_model
from tfganad.scores import bce_discriminator_score, feature_distance_score, l1_residual_score, weighted_score
from tfganad.search import initial_latents, latent_search, map_chunks, piecewise_learning_rate

DISCRIMINATOR_TERMS = ("fm", "bce")


@keras.saving.register_keras_serializable(package="tfganad")
@register_model("anogan")
class AnoGAN(GANDetector):
    """AnoGAN detector: DCGAN + per-sample latent search at test time (survey §2.1).

    Args:
        input_shape, latent_dim, adversarial_loss, n_critic, clip_value, gp_weight, filters, critic_norm,
            paper_optimizers, seed: GAN training, see `GANDetector` (default: BCE, as in the paper).
        discriminator_term: L_D of the search loss and score: `fm` (feature matching, eq. 5) or `bce`.
        score_weight: λ in (1 − λ)·L_R + λ·L_D (paper: 0.1).
        search_steps: Γ, Adam steps per sample (paper: 500).
        search_learning_rate: one rate, or a list of piecewise-constant rates (default 0.01 → 0.001 →
            0.0005, the EGBAD baseline's schedule).
        search_lr_boundaries: update indices where the piecewise rate changes (default 300, 400).
        search_beta_1, search_beta_2, search_epsilon: Adam hyper-parameters of the search.
        search_batch_size: samples searched together (memory bound); larger batches are chunked.
    """

    #: allowed values of constructor arguments, checked when a recipe is loaded (`tfganad.config`)
    recipe_checks = {"discriminator_term": ("fm", "bce"), "score_weight": "[0,1]", "search_steps": ">=0",
                     "search_batch_size": ">=1"}

    def __init__(self, input_shape=(28, 28, 1), latent_dim: int = 100, adversarial_loss: str = "bce",
                 n_critic=None, clip_value: float = 0.01, gp_weight: float = 10.0, filters: int = 64,
                 critic_norm: str = "auto", paper_optimizers: bool = True, discriminator_term: str = "fm",
                 score_weight: float = 0.1, search_steps: int = 500, search_learning_rate=(0.01, 0.001, 0.0005),
                 search_lr_boundaries=(300, 400), search_beta_1: float = 0.9, search_beta_2: float = 0.999,
                 search_epsilon: float = 1e-8, search_batch_size: int = 256, seed: int = 0, **kwargs):
        super().__init__(input_shape=input_shape, latent_dim=latent_dim, adversarial_loss=adversarial_loss,
                         n_critic=n_critic, clip_value=clip_value, gp_weight=gp_weight, filters=filters,
                         critic_norm=critic_norm, paper_optimizers=paper_optimizers, seed=seed, **kwargs)
        # === Config ===
        if discriminator_term not in DISCRIMINATOR_TERMS:
            raise ConfigError(f"unknown discriminator_term {discriminator_term!r}; allowed: "
                              f"{', '.join(DISCRIMINATOR_TERMS)}")
        if not 0.0 <= float(score_weight) <= 1.0:
            raise ConfigError(f"score_weight must be in [0, 1], got {score_weight!r}")
        if int(search_steps) < 0:
            raise ConfigError(f"search_steps must be >= 0, got {search_steps!r}")
        if int(search_batch_size) < 1:
            raise ConfigError(f"search_batch_size must be >= 1, got {search_batch_size!r}")
        self.discriminator_term = discriminator_term
        self._feature_term = discriminator_term == "fm"  # resolved once: the search branches on no string
        self.score_weight = float(score_weight)
        self.search_steps = int(search_steps)
        rates = search_learning_rate if isinstance(search_learning_rate, (list, tuple)) else [search_learning_rate]
        self.search_learning_rate = [float(r) for r in rates]
        self.search_lr_boundaries = [int(b) for b in (search_lr_boundaries or [])]
        if len(self.search_learning_rate) == 1:
            self.search_lr_boundaries = []
        piecewise_learning_rate(0, self.search_lr_boundaries, self.search_learning_rate)  # validates
        self.search_beta_1 = float(search_beta_1)
        self.search_beta_2 = float(search_beta_2)
        self.search_epsilon = float(search_epsilon)
        self.search_batch_size = int(search_batch_size)

    def get_config(self):
        config = super().get_config()
        config.update(discriminator_term=self.discriminator_term, score_weight=self.score_weight,
                      search_steps=self.search_steps, search_learning_rate=list(self.search_learning_rate),
                      search_lr_boundaries=list(self.search_lr_boundaries), search_beta_1=self.search_beta_1,
                      search_beta_2=self.search_beta_2, search_epsilon=self.search_epsilon,
                      search_batch_size=self.search_batch_size)
        return config

    @classmethod
    def small_config(cls, input_shape):
        return {"input_shape": list(input_shape), "latent_dim": 8, "filters": 4, "search_steps": 3,
                "search_batch_size": 8}

    # ------------------------------------------------------------------ search --------------------
    def _learning_rate(self, step):
        return piecewise_learning_rate(step, self.search_lr_boundaries, self.search_learning_rate)

    def _search_loss(self, x, real_features, z):
        x_hat = self.generator(z, training=False)
        logit, features = self.discriminator(x_hat, training=False)
        residual = l1_residual_score(x, x_hat)
        if self._feature_term:
            disc = feature_distance_score(real_features, features, ord=1)
        else:
            disc = bce_discriminator_score(logit)
        loss = weighted_score(residual, disc, self.score_weight)
        return {"loss": loss, "residual": residual, "discriminator": disc, "x_hat": x_hat}

    def _search_chunk(self, x):
        batch = tf.shape(x)[0]
        z0 = tf.constant(initial_latents(self.seed, (self.latent_dim,), truncated=True))
        z0 = tf.broadcast_to(z0[None], [batch, self.latent_dim])
        real_features = None
        if self._feature_term:
            real_features = self.discriminator(x, training=False)[1]
        (z,), out = latent_search(lambda p: self._search_loss(x, real_features, p[0]), [z0], self.search_steps,
                                  [self._learning_rate], self.search_beta_1, self.search_beta_2,
                                  self.search_epsilon)
        return {"score": out["loss"], "residual": out["residual"], "discriminator": out["discriminator"],
                "z": z, "x_hat": out["x_hat"]}

    def search(self, x):
        """Runs the latent search on a batch: dict with per-sample `score` (= L(z_Γ)), `residual` (L_R),
        `discriminator` (L_D), the final codes `z` (z_Γ) and reconstructions `x_hat` (G(z_Γ))."""
        x = tf.cast(tf.convert_to_tensor(x), tf.float32)
        dtypes = {"score": tf.float32, "residual": tf.float32, "discriminator": tf.float32, "z": tf.float32,
                  "x_hat": tf.float32}
        return map_chunks(self._search_chunk, x, self.search_batch_size, dtypes)

    def score_components(self, x, training=False):
        out = self.search(x)
        return {"score": out["score"], "residual": out["residual"], "discriminator": out["discriminator"]}

    def reconstruct(self, x, training=False):
        return self.search(x)["x_hat"]
