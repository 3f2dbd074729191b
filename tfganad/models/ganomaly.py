"""GANomaly: semi-supervised anomaly detection via adversarial training (encoder-decoder-encoder generator).

Paper: Akçay, Atapour-Abarghouei and Breckon, "GANomaly: Semi-Supervised Anomaly Detection via
Adversarial Training", ACCV 2018 (arXiv:1805.06725), as described in Di Mattia et al., "A Survey on GANs
for Anomaly Detection" (arXiv:1906.11632) §2.3 and Appendix A (Table 5), and in Han et al., "GAN
Ensemble for Anomaly Detection" (AAAI 2021) eqs. 1–10 and Table 5. Reference code:
github.com/samet-akcay/ganomaly.

Generator G = G_E → G_D → E: z = G_E(x), x̂ = G_D(z), ẑ = E(x̂); E has its own weights (ensemble paper
eq. 7: φ ≠ φ̃). Discriminator D: DCGAN classifier returning a logit and its last conv feature map f.
Table rows (not in the paper, which is image-only; the survey reports GANomaly on KDD99 in Table 3
without its networks) use MLPs of the EGBAD KDD99 size: G_E and E 64 → z, G_D 64 → 128 → x (linear
output), D 128 → 128 (LeakyReLU 0.2, the last hidden layer is f) → logit.

Losses (survey eqs. 8–11): the generator player (G_E, G_D and E, one optimizer as in the paper) minimises
w_adv·L_adv + w_con·L_con + w_enc·L_enc with
    L_adv = mean (f(x) − f(x̂))²  (`adversarial_loss="fm"`, the paper's choice, per-sample pairs as in the
            reference code) or BCE(1, D(x̂)) on logits (`"bce"`, non-saturating),
    L_con = mean |x − x̂|,  L_enc = mean (z − ẑ)²;
D minimises BCE(1, D(x)) + BCE(0, D(x̂)) on logits (never on probabilities, cf. anomalib #2137).

Update order (`update_order`): the reference code's `optimize_params` runs one generator forward pass,
steps G, then steps D on the detached x̂ of that same pass, and re-initialises D when its loss falls
below 1e-5. Because G's step changes no weight of D and D sees the pre-step x̂, this equals both players
stepping from one forward pass, which is what `"reference"` (default) does, and it is also the cheapest
schedule. `"d_then_g"` (the order of the original release's `optimize()`) and `"g_then_d"` run a fresh
forward pass for the second player, which then sees the first player's update.

Scores (higher = more anomalous; calibration/normalisation is fitted by the base class, never per batch):
    latent: mean_k (z_k − ẑ_k)² (eq. 12; the reference's mean over the latent size),
    bce:    BCE(1, D(x)) = softplus(−logit(x)): D's disbelief that x is real (survey Table 5 "test bce"),
    fm:     mean (f(x) − f(x̂))² on D's features (survey Table 5 "test fm"),
    contextual: ||x − x̂||₁ (for analysis).

Example:
    >>> model = tfganad.models.GANomaly(input_shape=(32, 32, 1))
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
    get_adversarial_loss,
    l1_reconstruction_loss,
    l2_reconstruction_loss,
    paired_feature_matching_loss,
)
from tfganad.models.base import AdversarialDetector
from tfganad.networks.dcgan import dcgan_decoder, dcgan_discriminator, dcgan_encoder, reinitialize_if
from tfganad.networks.dcgan_gan import mlp_critic
from tfganad.networks.mlp import mlp_decoder, mlp_encoder
from tfganad.registry import register_model
from tfganad.scores import bce_discriminator_score, l1_residual_score, mean_squared_score
from tfganad.scores.maps import feature_map, residual_map

#: The survey's GANomaly configuration cases (Appendix A, Table 5): training loss and test score.
GANOMALY_CASES = {
    "case5": {"adversarial_loss": "bce", "score": "bce"},
    "case6": {"adversarial_loss": "bce", "score": "fm"},
    "case7": {"adversarial_loss": "fm", "score": "bce"},
    "case8": {"adversarial_loss": "fm", "score": "fm"},
}
SCORES = ("latent", "bce", "fm", "contextual")


#: `update_order` → base-class schedule; "reference" = both players from one forward pass (see above).
UPDATE_SCHEDULES = {
    "reference": [(("d", "g"), 1)],
    "d_then_g": [(("d",), 1), (("g",), 1)],
    "g_then_d": [(("g",), 1), (("d",), 1)],
}


def resolve_update_order(update_order: str, simultaneous_updates, legacy_sequential: str) -> str:
    """Validates `update_order`; maps the legacy `simultaneous_updates` flag (True → reference, False →
    `legacy_sequential`, the model's former two-pass default) when it is given."""
    if simultaneous_updates is not None:
        mapped = "reference" if simultaneous_updates else legacy_sequential
        if update_order not in ("reference", mapped):
            raise ConfigError(f"simultaneous_updates={simultaneous_updates!r} contradicts "
                              f"update_order={update_order!r}; use update_order only")
        update_order = mapped
    if update_order not in UPDATE_SCHEDULES:
        raise ConfigError(f"unknown update_order {update_order!r}; allowed: {', '.join(UPDATE_SCHEDULES)}")
    return update_order


def resolve_case(case, options: dict, defaults: dict, cases: dict, model: str) -> dict:
    """Merges a case preset with explicit options; ConfigError on an unknown case or a contradiction."""
    preset = dict(defaults)
    if case is not None:
        if case not in cases:
            raise ConfigError(f"unknown {model} case {case!r}; allowed: {', '.join(cases)}")
        preset.update(cases[case])
    for key, value in options.items():
        if value is None:
            continue
        if case is not None and key in cases[case] and value != preset[key]:
            raise ConfigError(f"{key}={value!r} contradicts case {case!r} ({key}={preset[key]!r}); drop one of them")
        preset[key] = value
    return preset


def _bce_adversarial_term(fake_logit, real_feat, fake_feat):
    return bce_generator_loss(fake_logit)


def _fm_adversarial_term(fake_logit, real_feat, fake_feat):
    """The paper's L_adv: per-sample paired feature matching."""
    return paired_feature_matching_loss(real_feat, fake_feat)


@keras.saving.register_keras_serializable(package="tfganad")
@register_model("ganomaly")
class GANomaly(AdversarialDetector):
    """GANomaly anomaly detector (G_E, G_D, second encoder E, discriminator D).

    Args:
        input_shape: (H, W, C) images, H and W = s·2^k with k ≥ 2 and 4 ≤ s ≤ 8 (16, 28, 32, 64, ...),
            or (features,) table rows (MLP networks).
        latent_dim: size of z (nz, 100 in the paper).
        case: one of the survey's case5 … case8 (Table 5); sets `adversarial_loss` and `score`.
        adversarial_loss: `fm` (default, paper) or `bce`.
        score: default anomaly score: `latent` (default, paper eq. 12), `bce`, `fm` or `contextual`.
        adversarial_weight: w_adv (1).
        contextual_weight: w_con (50).
        encoder_weight: w_enc (1).
        filters: ngf = ndf, width of the first conv of every network (64; images only).
        update_order: `reference` (default): G and D step from one forward pass, as the reference's
            G-then-D step on the detached x̂; `d_then_g` / `g_then_d`: the second player steps on a
            fresh forward pass (see the module docstring).
        simultaneous_updates: legacy alias; True = `reference`, False = `d_then_g` (this model's old
            default). Leave None and use `update_order`.
        reinit_discriminator: re-initialise D's weights when (BCE_real + BCE_fake)/2 < `reinit_threshold`
            after its step, as the reference code does (on by default).
        reinit_threshold: that threshold (1e-5).
        seed: noise seed (GANomaly draws no noise; kept for the common interface).
    """

    players = ("d", "g")
    #: allowed values of constructor arguments, checked when a recipe is loaded (`tfganad.config`)
    recipe_checks = {"case": lambda: tuple(GANOMALY_CASES), "adversarial_loss": ("bce", "fm"), "score": SCORES,
                     "adversarial_weight": ">=0", "contextual_weight": ">=0", "encoder_weight": ">=0"}
    adversary_attributes = ("discriminator",)
    adversary_free_scores = ("latent", "contextual")
    extra_metrics = ("adv_loss", "con_loss", "enc_loss")
    def __init__(self, input_shape=(32, 32, 1), latent_dim: int = 100, case=None, adversarial_loss=None,
                 score=None, adversarial_weight: float = 1.0, contextual_weight: float = 50.0,
                 encoder_weight: float = 1.0, filters: int = 64, update_order: str = "reference",
                 simultaneous_updates=None, reinit_discriminator: bool = True, reinit_threshold: float = 1e-5,
                 seed: int = 0, **kwargs):
        super().__init__(input_shape=input_shape, latent_dim=latent_dim, seed=seed, **kwargs)
        # === Config ===
        preset = resolve_case(case, {"adversarial_loss": adversarial_loss, "score": score},
                              {"adversarial_loss": "fm", "score": "latent"}, GANOMALY_CASES, "GANomaly")
        if preset["score"] not in SCORES:
            raise ConfigError(f"unknown GANomaly score {preset['score']!r}; allowed: {', '.join(SCORES)}")
        for key, value in (("adversarial_weight", adversarial_weight), ("contextual_weight", contextual_weight),
                           ("encoder_weight", encoder_weight)):
            if float(value) < 0:
                raise ConfigError(f"{key} must be >= 0, got {value!r}")
        self.case = case
        self.adversarial_loss = get_adversarial_loss(preset["adversarial_loss"])
        # Resolved once, here: the traced step branches on no string.
        self._adversarial_term = (_bce_adversarial_term if self.adversarial_loss == "bce"
                                  else _fm_adversarial_term)
        self.score = preset["score"]
        self.score_name = self.score
        self.adversarial_weight = float(adversarial_weight)
        self.contextual_weight = float(contextual_weight)
        self.encoder_weight = float(encoder_weight)
        self.filters = int(filters)
        self.update_order = resolve_update_order(update_order, simultaneous_updates, "d_then_g")
        self.reinit_discriminator = bool(reinit_discriminator)
        self.reinit_threshold = float(reinit_threshold)
        # === Layers ===
        shape = self.input_shape_
        if self.is_image:
            self.encoder = dcgan_encoder(shape, self.latent_dim, self.filters, name="g_encoder")
            self.decoder = dcgan_decoder(shape, self.latent_dim, self.filters, name="g_decoder")
            self.second_encoder = dcgan_encoder(shape, self.latent_dim, self.filters, name="encoder_e")
            self.discriminator = dcgan_discriminator(shape, self.filters, name="discriminator")
        else:
            self.encoder = mlp_encoder(shape[0], self.latent_dim, name="g_encoder")
            self.decoder = mlp_decoder(shape[0], self.latent_dim, name="g_decoder")
            self.second_encoder = mlp_encoder(shape[0], self.latent_dim, name="encoder_e")
            self.discriminator = mlp_critic(shape[0], name="discriminator")

    def get_config(self):
        config = super().get_config()
        config.update(case=self.case, adversarial_loss=self.adversarial_loss, score=self.score,
                      adversarial_weight=self.adversarial_weight, contextual_weight=self.contextual_weight,
                      encoder_weight=self.encoder_weight, filters=self.filters,
                      update_order=self.update_order,
                      reinit_discriminator=self.reinit_discriminator, reinit_threshold=self.reinit_threshold)
        if self.case is not None:
            # The case implies these; keeping both would be redundant, not contradictory.
            for key in GANOMALY_CASES[self.case]:
                config[key] = None
        return config

    @classmethod
    def small_config(cls, input_shape):
        return {"input_shape": list(input_shape), "latent_dim": 8, "filters": 4}

    def player_networks(self):
        return {"d": [self.discriminator], "g": [self.encoder, self.decoder, self.second_encoder]}

    def update_schedule(self):
        return UPDATE_SCHEDULES[self.update_order]

    def compute_losses(self, x, training):
        x = keras.ops.cast(x, "float32")
        z = self.encoder(x, training=training)
        x_hat = self.decoder(z, training=training)
        z_hat = self.second_encoder(x_hat, training=training)
        real_logit, real_feat = self.discriminator(x, training=training)
        fake_logit, fake_feat = self.discriminator(x_hat, training=training)
        adv = self._adversarial_term(fake_logit, real_feat, fake_feat)
        con = l1_reconstruction_loss(x, x_hat)
        enc = l2_reconstruction_loss(z, z_hat)
        g_loss = self.adversarial_weight * adv + self.contextual_weight * con + self.encoder_weight * enc
        return {"d_loss": bce_discriminator_loss(real_logit, fake_logit), "g_loss": g_loss,
                "adv_loss": adv, "con_loss": con, "enc_loss": enc}

    def after_update(self, players, losses):
        if self.reinit_discriminator and "d" in players:
            # The reference compares (BCE_real + BCE_fake) / 2 with 1e-5 after D's step.
            reinitialize_if(0.5 * losses["d_loss"] < self.reinit_threshold, self.discriminator)

    def _scores(self, x, training, names):
        x = keras.ops.cast(keras.ops.convert_to_tensor(x), "float32")
        z = self.encoder(x, training=training)
        x_hat = self.decoder(z, training=training)
        out = {}
        if "latent" in names:
            out["latent"] = mean_squared_score(z, self.second_encoder(x_hat, training=training))
        if "contextual" in names:
            out["contextual"] = l1_residual_score(x, x_hat)
        if "bce" in names or "fm" in names:
            real_logit, real_feat = self.discriminator(x, training=training)
            if "bce" in names:
                out["bce"] = bce_discriminator_score(real_logit)
            if "fm" in names:
                _, fake_feat = self.discriminator(x_hat, training=training)
                out["fm"] = mean_squared_score(real_feat, fake_feat)
        return out

    def score_components(self, x, training=False):
        return self._scores(x, training, SCORES)

    def anomaly_score(self, x, training=False):
        # Only the configured score's networks run (the latent score needs no D pass).
        return self._scores(x, training, (self.score_name,))[self.score_name]

    def reconstruct(self, x, training=False):
        return self.decoder(self.encoder(x, training=training), training=training)

    def anomaly_maps(self, x, training=False):
        """`residual` |x − x̂| and, on images, `feature`: (f(x) − f(x̂))² on D's spatial feature map (the
        `fm` score before its mean), upsampled to the image size."""
        if not self.is_image:
            return {}
        x = keras.ops.cast(keras.ops.convert_to_tensor(x), "float32")
        x_hat = self.reconstruct(x, training=training)
        _, real_feat = self.discriminator(x, training=training)
        _, fake_feat = self.discriminator(x_hat, training=training)
        return {"residual": residual_map(x, x_hat), "feature": feature_map(real_feat, fake_feat, self.input_shape_[:2])}
