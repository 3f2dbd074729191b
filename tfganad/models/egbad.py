"""EGBAD / BiGAN: efficient GAN-based anomaly detection with a jointly trained encoder.

Paper: Zenati et al., "Efficient GAN-Based Anomaly Detection", ICLR-W 2018 (arXiv:1802.06222), as
described in Di Mattia et al., "A Survey on GANs for Anomaly Detection" (arXiv:1906.11632) §1.3, §2.2,
§3 and Appendix A. Reference code: github.com/houssamzenati/Efficient-GAN-Anomaly-Detection.

Training (survey Table 1 / Table 4): D learns to tell (x, E(x)) from (G(z), z) with BCE. The generator
side is either BCE (G: BCE(1, D(G(z), z)); E: BCE(0, D(x, E(x)))) or feature matching (`fm`: G
minimises ||E f(x, E(x)) − E f(G(z), z)||² on D's joint layer f; feature matching "influences only the
generator loss", survey §3.2, so E keeps its BCE loss). The optional residual loss E_x ||x − G(E(x))||₁
(survey eq. 4: the L1 norm per sample, a sum over pixels/features, averaged over the batch;
`residual_reduction="mean"` divides it by the number of elements instead) is added to the encoder's
loss (survey §3.2, "added as an additional term to the BCE loss of the encoder"), so it trains E only.

Score (EGBAD eq. for A(x)): (1 − λ)·||x − G(E(x))||₁ + λ·L_D(x) with λ = `score_weight` (0.1 in the
paper; `score_form="convex"`), or Han et al.'s eq. 10 (GAN ensembles, AAAI 2021) A(x) = L_r(x) + β·L_D(x)
with β = `score_weight` (`score_form="sum"`, β ≥ 0; their Table 5 uses β = 0.1 on KDD99, 9 on OCT);
the residual is the L1 norm of the flattened residual, and L_D either `bce` = BCE(1, D(x, E(x))) or
`fm` = ||f(x, E(x)) − f(G(E(x)), E(x))||₁.

Example:
    >>> model = tfganad.models.EGBAD(input_shape=(28, 28, 1), latent_dim=64, case="case1")
    >>> model.compile(learning_rate=1e-4)
    >>> model.fit(x_train, epochs=5, batch_size=64)
    >>> scores = model.predict(x_test)     # higher = more anomalous
"""

from __future__ import annotations

import keras

from tfganad.errors import ConfigError
from tfganad.losses import (
    bce_discriminator_loss,
    bce_encoder_loss,
    bce_generator_loss,
    feature_matching_loss,
    get_adversarial_loss,
    RESIDUAL_REDUCTIONS,
)
from tfganad.models.base import AdversarialDetector
from tfganad.networks import (
    conv_decoder,
    conv_encoder,
    conv_joint_discriminator,
    mlp_decoder,
    mlp_encoder,
    mlp_joint_discriminator,
)
from tfganad.registry import register_model
from tfganad.scores import bce_discriminator_score, feature_distance_score, l1_residual_score, weighted_score

#: The survey's configuration cases (Appendix A, Table 4): train loss, residual on/off, test score.
EGBAD_CASES = {
    "case1": {"adversarial_loss": "bce", "residual": True, "score": "bce"},
    "case2": {"adversarial_loss": "bce", "residual": True, "score": "fm"},
    "case3": {"adversarial_loss": "fm", "residual": True, "score": "bce"},
    "case4": {"adversarial_loss": "fm", "residual": True, "score": "fm"},
    "case5": {"adversarial_loss": "bce", "residual": False, "score": "bce"},
    "case6": {"adversarial_loss": "bce", "residual": False, "score": "fm"},
    "case7": {"adversarial_loss": "fm", "residual": False, "score": "bce"},
    "case8": {"adversarial_loss": "fm", "residual": False, "score": "fm"},
}
SCORES = ("bce", "fm")
SCORE_FORMS = ("convex", "sum")


def _bce_generator_term(fake_logit, real_feat, fake_feat):
    return bce_generator_loss(fake_logit)


def _fm_generator_term(fake_logit, real_feat, fake_feat):
    return feature_matching_loss(real_feat, fake_feat)


def _sum_score(residual, discriminator, weight):
    """Han et al. (AAAI 2021) eq. 10: L_r + β·L_D."""
    return residual + weight * discriminator


#: Generator-side training loss per `adversarial_loss` (feature matching replaces BCE for G only).
_GENERATOR_LOSSES = {"bce": _bce_generator_term, "fm": _fm_generator_term}
#: Residual/discriminator combination per `score_form`.
_SCORE_COMBINES = {"convex": weighted_score, "sum": _sum_score}


@keras.saving.register_keras_serializable(package="tfganad")
@register_model("egbad")
class EGBAD(AdversarialDetector):
    """EGBAD/BiGAN anomaly detector (encoder E, generator G, joint discriminator D(x, z)).

    Args:
        input_shape: (H, W, C) images (conv networks) or (features,) rows (MLP networks).
        latent_dim: size of z.
        case: one of the survey's case1 … case8 (Table 4); sets the three options below.
        adversarial_loss: generator-side training loss, `bce` or `fm`.
        residual: add ||x − G(E(x))||₁ to the encoder's loss.
        residual_weight: weight of that residual term.
        residual_reduction: `sum` (default, survey eq. 4: the per-sample L1 norm) or `mean` (per-element
            mean, the pre-0.x tfganad form; 1/d of the paper's value for d elements per sample).
        score: discriminator term of the anomaly score, `bce` or `fm`.
        score_weight: λ in (1 − λ)·residual + λ·discriminator term (paper: 0.1), or β in
            residual + β·discriminator term with `score_form="sum"`.
        score_form: `convex` (default, EGBAD) or `sum` (Han et al. eq. 10).
        filters: base width of the conv networks.
        dense_units: width of the generator's first dense layer and D's joint layer.
        dropout: dropout in D.
        seed: noise seed.
    """

    players = ("d", "g", "e")
    adversary_attributes = ("discriminator",)
    #: allowed values of constructor arguments, checked when a recipe is loaded (`tfganad.config`)
    recipe_checks = {"case": tuple(EGBAD_CASES), "adversarial_loss": ("bce", "fm"), "residual": (True, False),
                     "score": SCORES, "score_weight": "[0,1]", "residual_weight": ">=0", "dropout": "[0,1)"}
    adversary_free_scores = ("residual",)

    def __init__(self, input_shape=(28, 28, 1), latent_dim: int = 100, case=None, adversarial_loss=None,
                 residual=None, residual_weight: float = 1.0, residual_reduction: str = "sum", score=None,
                 score_weight: float = 0.1, score_form: str = "convex",
                 filters: int = 32, dense_units: int = 1024, dropout: float = 0.5, seed: int = 0, **kwargs):
        super().__init__(input_shape=input_shape, latent_dim=latent_dim, seed=seed, **kwargs)
        # === Config ===
        preset = {"adversarial_loss": "bce", "residual": False, "score": "fm"}
        if case is not None:
            if case not in EGBAD_CASES:
                raise ConfigError(f"unknown EGBAD case {case!r}; allowed: {', '.join(EGBAD_CASES)}")
            preset = dict(EGBAD_CASES[case])
        for key, value in (("adversarial_loss", adversarial_loss), ("residual", residual), ("score", score)):
            if value is not None:
                if case is not None and value != preset[key]:
                    raise ConfigError(
                        f"{key}={value!r} contradicts case {case!r} ({key}={preset[key]!r}); drop one of them"
                    )
                preset[key] = value
        if preset["score"] not in SCORES:
            raise ConfigError(f"unknown EGBAD score {preset['score']!r}; allowed: {', '.join(SCORES)}")
        if score_form not in SCORE_FORMS:
            raise ConfigError(f"unknown score_form {score_form!r}; allowed: {', '.join(SCORE_FORMS)}")
        if score_form == "convex" and not 0.0 <= score_weight <= 1.0:
            raise ConfigError(f"score_weight must be in [0, 1] with score_form 'convex', got {score_weight!r}")
        if score_form == "sum" and not score_weight >= 0.0:
            raise ConfigError(f"score_weight must be >= 0 with score_form 'sum', got {score_weight!r}")
        self.score_form = score_form
        self.case = case
        self.adversarial_loss = get_adversarial_loss(preset["adversarial_loss"])
        self.residual = bool(preset["residual"])
        self.residual_weight = float(residual_weight)
        if residual_reduction not in RESIDUAL_REDUCTIONS:
            raise ConfigError(f"unknown residual_reduction {residual_reduction!r}; allowed: "
                              f"{', '.join(RESIDUAL_REDUCTIONS)}")
        self.residual_reduction = residual_reduction
        self.score = preset["score"]
        self.score_weight = float(score_weight)
        # Names resolve to functions once, here: the traced step and the scores branch on no string.
        self._generator_loss = _GENERATOR_LOSSES[self.adversarial_loss]
        self._score_combine = _SCORE_COMBINES[score_form]
        self.filters = int(filters)
        self.dense_units = int(dense_units)
        self.dropout = float(dropout)
        self.score_name = self.score
        # === Layers ===
        if self.is_image:
            self.encoder = conv_encoder(self.input_shape_, self.latent_dim, filters=self.filters)
            self.generator = conv_decoder(self.input_shape_, self.latent_dim, filters=2 * self.filters,
                                          dense_units=self.dense_units)
            self.discriminator = conv_joint_discriminator(
                self.input_shape_, self.latent_dim, filters=2 * self.filters, dense_units=self.dense_units,
                z_units=self.dense_units // 2, dropout=self.dropout)
        else:
            dim = self.input_shape_[0]
            self.encoder = mlp_encoder(dim, self.latent_dim)
            self.generator = mlp_decoder(dim, self.latent_dim)
            self.discriminator = mlp_joint_discriminator(dim, self.latent_dim, dropout=self.dropout)

    def get_config(self):
        config = super().get_config()
        config.update(case=self.case, adversarial_loss=self.adversarial_loss, residual=self.residual,
                      residual_weight=self.residual_weight, residual_reduction=self.residual_reduction,
                      score=self.score, score_weight=self.score_weight, score_form=self.score_form,
                      filters=self.filters, dense_units=self.dense_units, dropout=self.dropout)
        if self.case is not None:
            # The case implies these three; keeping both would be redundant, not contradictory.
            for key in ("adversarial_loss", "residual", "score"):
                config[key] = None
        return config

    @classmethod
    def small_config(cls, input_shape):
        return {"input_shape": list(input_shape), "latent_dim": 8, "filters": 4, "dense_units": 16,
                "case": "case1"}

    def player_networks(self):
        return {"d": [self.discriminator], "g": [self.generator], "e": [self.encoder]}

    def compute_losses(self, x, training):
        x = keras.ops.cast(x, "float32")
        z = self.sample_latent(keras.ops.shape(x)[0])
        z_enc = self.encoder(x, training=training)
        x_gen = self.generator(z, training=training)
        real_logit, real_feat = self.discriminator([x, z_enc], training=training)
        fake_logit, fake_feat = self.discriminator([x_gen, z], training=training)
        d_loss = bce_discriminator_loss(real_logit, fake_logit)
        g_loss = self._generator_loss(fake_logit, real_feat, fake_feat)
        # Feature matching replaces the generator's loss only; the encoder keeps BCE (survey §3.2).
        e_loss = bce_encoder_loss(real_logit)
        out = {"d_loss": d_loss, "g_loss": g_loss}
        if self.residual:
            rec = RESIDUAL_REDUCTIONS[self.residual_reduction](x, self.generator(z_enc, training=training))
            e_loss = e_loss + self.residual_weight * rec
        out["e_loss"] = e_loss
        return out

    def score_components(self, x, training=False):
        x = keras.ops.cast(keras.ops.convert_to_tensor(x), "float32")
        z_enc = self.encoder(x, training=training)
        x_rec = self.generator(z_enc, training=training)
        real_logit, real_feat = self.discriminator([x, z_enc], training=training)
        _, rec_feat = self.discriminator([x_rec, z_enc], training=training)
        residual = l1_residual_score(x, x_rec)
        return {
            "residual": residual,
            "bce": self._combine(residual, bce_discriminator_score(real_logit)),
            "fm": self._combine(residual, feature_distance_score(real_feat, rec_feat, ord=1)),
        }

    def _combine(self, residual, discriminator):
        return self._score_combine(residual, discriminator, self.score_weight)

    def reconstruct(self, x, training=False):
        return self.generator(self.encoder(x, training=training), training=training)

    def generate(self, z, training=False):
        return self.generator(z, training=training)
