"""ALAD: adversarially learned anomaly detection (BiGAN + ALICE cycle-consistency discriminators).

Paper: Zenati, Romain, Foo, Lecouat, Chandrasekhar, "Adversarially Learned Anomaly Detection", ICDM 2018
(arXiv:1812.02288). Reference code: github.com/houssamzenati/Adversarially-Learned-Anomaly-Detection.

Training (§IV-A/B, the saddle point min_{G,E} max_{Dxz,Dxx,Dzz} V(Dxz,E,G) + V(Dxx,E,G) + V(Dzz,E,G)):

* D_xz tells (x, E(x)) from (G(z), z) (BiGAN); D_xx tells (x, x) from (x, G(E(x))) (ALICE data-space
  cycle consistency); D_zz tells (z, z) from (z, E(G(z))) (latent cycle consistency, "DL").
  Player `d` owns all three and minimises the sum of their BCE losses.
* G minimises BCE(1, D_xz(G(z), z)) + the label-swapped D_xx (and D_zz) losses; E minimises
  BCE(0, D_xz(x, E(x))) + the same cycle terms (reference `loss_generator` / `loss_encoder`).
* Order per batch as in the reference: first the discriminators, then G and E together on fresh z.
* Spectral normalisation on the encoder and the discriminators ("SN"); EMA weights for scoring come
  from the runner (`train.ema_momentum`, 0.999 in the reference).

Scores (Algorithm 1 and §V-F), all from one pass (`score_components`):
`features` = ||f_xx(x, x) − f_xx(x, G(E(x)))||₁ (the paper's A(x), default), `l1` = ||x − x̂||₁,
`l2` = ||x − x̂||₂, `logits` = BCE(1, D_xx(x, x̂)) = −log D_xx(x, x̂) (the reference's `score_ch`; the
paper writes log D_xx, the sign here makes higher = more anomalous).

Ablation cases (Table V): `baseline` (ALICE: D_xz + D_xx), `baseline_dl` (+ D_zz), `baseline_sn`
(+ spectral norm), `baseline_sn_dl` (full ALAD, the default).

Example:
    >>> model = tfganad.models.ALAD(input_shape=(121,), latent_dim=32, architecture="kdd")
    >>> model.compile(learning_rate=1e-5, ema_momentum=0.999)
    >>> model.fit(x_train, epochs=10, batch_size=50)
    >>> components = model.score_components(x_test)   # features, l1, l2, logits
"""

from __future__ import annotations

import keras

from tfganad.errors import ConfigError
from tfganad.losses import (
    bce_cycle_consistency_loss,
    bce_discriminator_loss,
    bce_encoder_loss,
    bce_generator_loss,
)
from tfganad.models.base import AdversarialDetector
from tfganad.networks.alad import (
    ALAD_MLP_PRESETS,
    alad_conv_encoder,
    alad_conv_generator,
    alad_conv_xx_discriminator,
    alad_conv_xz_discriminator,
    alad_mlp_encoder,
    alad_mlp_generator,
    alad_mlp_xz_discriminator,
    alad_pair_discriminator,
)
from tfganad.registry import register_model
from tfganad.scores import bce_discriminator_score, feature_distance_score, l1_residual_score, l2_norm_residual_score

#: The paper's ablation (Table V): spectral normalisation (SN) and the latent discriminator D_zz (DL).
ALAD_CASES = {
    "baseline": {"spectral_norm": False, "use_dzz": False},
    "baseline_dl": {"spectral_norm": False, "use_dzz": True},
    "baseline_sn": {"spectral_norm": True, "use_dzz": False},
    "baseline_sn_dl": {"spectral_norm": True, "use_dzz": True},
}
SCORES = ("features", "l1", "l2", "logits")
ARCHITECTURES = ("auto", "kdd", "arrhythmia", "conv")
#: `architecture="auto"` gives rows wider than this the (wider) Arrhythmia networks, others KDD99's.
WIDE_ROWS = 200


def resolve_architecture(architecture: str, input_shape) -> str:
    """`auto` → `conv` for images, `arrhythmia` for rows wider than 200 features, `kdd` otherwise."""
    if architecture not in ARCHITECTURES:
        raise ConfigError(f"unknown ALAD architecture {architecture!r}; allowed: {', '.join(ARCHITECTURES)}")
    is_image = len(tuple(input_shape)) == 3
    if architecture == "auto":
        if is_image:
            return "conv"
        return "arrhythmia" if int(input_shape[0]) > WIDE_ROWS else "kdd"
    if (architecture == "conv") != is_image:
        kind = "images" if is_image else "rows"
        raise ConfigError(f"ALAD architecture {architecture!r} does not fit {kind} of shape {tuple(input_shape)}; "
                          f"use 'conv' for images, 'kdd' or 'arrhythmia' for rows (or 'auto')")
    return architecture


@keras.saving.register_keras_serializable(package="tfganad")
@register_model("alad")
class ALAD(AdversarialDetector):
    """ALAD anomaly detector: encoder E, generator G, discriminators D_xz, D_xx and (optionally) D_zz.

    Args:
        input_shape: (H, W, C) images or (features,) rows.
        latent_dim: size of z (paper: 32 KDD99, 64 Arrhythmia, 100 images).
        case: one of `baseline`, `baseline_dl`, `baseline_sn`, `baseline_sn_dl` (Table V); sets the two
            switches below. Default (no case): full ALAD, both switches on.
        spectral_norm: spectral normalisation on E and the discriminators' hidden layers.
        use_dzz: train the latent cycle-consistency discriminator D_zz; off → no D_zz at all.
        score: default score component: `features` (paper), `l1`, `l2` or `logits`.
        architecture: `auto`, `kdd` (Table X), `arrhythmia` (Table XII) or `conv` (images).
        filters: base width of the conv networks (reference CIFAR-10: 128).
        dropout: discriminator dropout for the conv networks (reference: 0.2); the MLPs use the
            paper's values (0.5 in D_xz, 0.2 in D_xx/D_zz) unless this is set.
        seed: noise seed.
    """

    players = ("d", "g", "e")
    #: allowed values of constructor arguments, checked when a recipe is loaded (`tfganad.config`)
    recipe_checks = {"case": lambda: tuple(ALAD_CASES), "score": SCORES, "architecture": ARCHITECTURES,
                     "spectral_norm": (True, False), "use_dzz": (True, False), "dropout": "[0,1)"}
    adversary_attributes = ("d_xz", "d_xx", "d_zz")
    adversary_free_scores = ("l1", "l2")
    extra_metrics = ("d_xz_loss", "d_xx_loss", "d_zz_loss")

    def __init__(self, input_shape=(121,), latent_dim: int = 32, case=None, spectral_norm=None, use_dzz=None,
                 score: str = "features", architecture: str = "auto", filters: int = 64, dropout=None,
                 seed: int = 0, **kwargs):
        super().__init__(input_shape=input_shape, latent_dim=latent_dim, seed=seed, **kwargs)
        # === Config ===
        preset = dict(ALAD_CASES["baseline_sn_dl"])
        if case is not None:
            if case not in ALAD_CASES:
                raise ConfigError(f"unknown ALAD case {case!r}; allowed: {', '.join(ALAD_CASES)}")
            preset = dict(ALAD_CASES[case])
        for key, value in (("spectral_norm", spectral_norm), ("use_dzz", use_dzz)):
            if value is not None:
                if case is not None and bool(value) != preset[key]:
                    raise ConfigError(
                        f"{key}={value!r} contradicts case {case!r} ({key}={preset[key]!r}); drop one of them")
                preset[key] = bool(value)
        if score not in SCORES:
            raise ConfigError(f"unknown ALAD score {score!r}; allowed: {', '.join(SCORES)}")
        if dropout is not None and not 0.0 <= float(dropout) < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {dropout!r}")
        self.case = case
        self.spectral_norm = preset["spectral_norm"]
        self.use_dzz = preset["use_dzz"]
        self.score = score
        self.score_name = score
        self.architecture = architecture
        self.resolved_architecture = resolve_architecture(architecture, self.input_shape_)
        self.filters = int(filters)
        self.dropout = None if dropout is None else float(dropout)
        # === Layers ===
        sn = self.spectral_norm
        if self.resolved_architecture == "conv":
            drop = 0.2 if self.dropout is None else self.dropout
            self.encoder = alad_conv_encoder(self.input_shape_, self.latent_dim, self.filters, spectral_norm=sn)
            self.generator = alad_conv_generator(self.input_shape_, self.latent_dim, self.filters)
            self.d_xz = alad_conv_xz_discriminator(self.input_shape_, self.latent_dim, self.filters, drop,
                                                   spectral_norm=sn)
            self.d_xx = alad_conv_xx_discriminator(self.input_shape_, self.filters, drop, spectral_norm=sn)
            zz_units, zz_drop = (64, 32), drop
        else:
            p = ALAD_MLP_PRESETS[self.resolved_architecture]
            dim = self.input_shape_[0]
            xz_drop = p["xz_dropout"] if self.dropout is None else self.dropout
            zz_drop = p["pair_dropout"] if self.dropout is None else self.dropout
            self.encoder = alad_mlp_encoder(dim, self.latent_dim, p["encoder_units"], spectral_norm=sn)
            self.generator = alad_mlp_generator(dim, self.latent_dim, p["generator_units"])
            self.d_xz = alad_mlp_xz_discriminator(dim, self.latent_dim, p["xz_x_units"], p["xz_z_units"],
                                                  p["xz_joint_units"], xz_drop, spectral_norm=sn)
            self.d_xx = alad_pair_discriminator(dim, p["xx_units"], zz_drop, spectral_norm=sn, name="d_xx")
            zz_units = p["zz_units"]
        self.d_zz = None
        if self.use_dzz:
            self.d_zz = alad_pair_discriminator(self.latent_dim, zz_units, zz_drop, spectral_norm=sn, name="d_zz")

    def get_config(self):
        config = super().get_config()
        config.update(case=self.case, spectral_norm=self.spectral_norm, use_dzz=self.use_dzz, score=self.score,
                      architecture=self.architecture, filters=self.filters, dropout=self.dropout)
        if self.case is not None:
            # The case implies both switches; keeping them too would be redundant, not contradictory.
            config["spectral_norm"] = None
            config["use_dzz"] = None
        return config

    @classmethod
    def small_config(cls, input_shape):
        # Full ALAD (spectral norm and D_zz on), so the generic contract tests cover both switches.
        return {"input_shape": list(input_shape), "latent_dim": 8, "filters": 4}

    def discriminators(self) -> list:
        """The discriminators player `d` trains: D_xz, D_xx and, when enabled, D_zz."""
        return [self.d_xz, self.d_xx] + ([self.d_zz] if self.d_zz is not None else [])

    def player_networks(self):
        return {"d": self.discriminators(), "g": [self.generator], "e": [self.encoder]}

    def update_schedule(self):
        # Reference `alad/run.py`: the three discriminator steps first, then G and E on a fresh z.
        return [(("d",), 1), (("g", "e"), 1)]

    def compute_losses(self, x, training):
        x = keras.ops.cast(x, "float32")
        z = self.sample_latent(keras.ops.shape(x)[0])
        z_enc = self.encoder(x, training=training)
        x_gen = self.generator(z, training=training)
        x_rec = self.generator(z_enc, training=training)
        xz_real, _ = self.d_xz([x, z_enc], training=training)
        xz_fake, _ = self.d_xz([x_gen, z], training=training)
        xx_real, _ = self.d_xx([x, x], training=training)
        xx_fake, _ = self.d_xx([x, x_rec], training=training)
        d_xz_loss = bce_discriminator_loss(xz_real, xz_fake)
        d_xx_loss = bce_discriminator_loss(xx_real, xx_fake)
        cycle = bce_cycle_consistency_loss(xx_real, xx_fake)
        d_loss = d_xz_loss + d_xx_loss
        out = {"d_xz_loss": d_xz_loss, "d_xx_loss": d_xx_loss}
        if self.d_zz is not None:
            z_rec = self.encoder(x_gen, training=training)
            zz_real, _ = self.d_zz([z, z], training=training)
            zz_fake, _ = self.d_zz([z, z_rec], training=training)
            d_zz_loss = bce_discriminator_loss(zz_real, zz_fake)
            d_loss = d_loss + d_zz_loss
            cycle = cycle + bce_cycle_consistency_loss(zz_real, zz_fake)
            out["d_zz_loss"] = d_zz_loss
        out.update(d_loss=d_loss, g_loss=bce_generator_loss(xz_fake) + cycle,
                   e_loss=bce_encoder_loss(xz_real) + cycle)
        return out

    def score_components(self, x, training=False):
        x = keras.ops.cast(keras.ops.convert_to_tensor(x), "float32")
        x_rec = self.generator(self.encoder(x, training=training), training=training)
        _, feat_real = self.d_xx([x, x], training=training)
        logit_rec, feat_rec = self.d_xx([x, x_rec], training=training)
        return {
            "features": feature_distance_score(feat_real, feat_rec, ord=1),
            "l1": l1_residual_score(x, x_rec),
            "l2": l2_norm_residual_score(x, x_rec),
            "logits": bce_discriminator_score(logit_rec),
        }

    def reconstruct(self, x, training=False):
        return self.generator(self.encoder(x, training=training), training=training)

    def generate(self, z, training=False):
        return self.generator(z, training=training)
