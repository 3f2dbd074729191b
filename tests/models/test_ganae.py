"""GANAE (Rafiee & Fevens): shared generator/decoder, relativistic critic loss, eq. 7 score, options."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from tfganad.errors import ConfigError
from tfganad.models.ganae import GANAE, GANAE_CASES
from tfganad.networks.ganae import ganae_conv_critic, ganae_conv_encoder, ganae_conv_generator
from tfganad.networks.spectral import SpectralNorm


def _sgd():
    # Plain SGD: a zero gradient leaves a variable exactly where it was (AdamW's decay would not).
    return {p: keras.optimizers.SGD(learning_rate=0.1) for p in GANAE.players}


def _model(x, **kwargs):
    config = GANAE.small_config(x.shape[1:])
    config.update(kwargs)
    return GANAE(**config)


def _logit_dense(critic):
    layer = critic.get_layer("logit") if any(l.name == "logit" for l in critic.layers) else critic.get_layer("logit_fc")
    return getattr(layer, "layer", layer)


def _one_step(model, x):
    model.fit(x[:8], epochs=1, batch_size=8, shuffle=False, verbose=0)


def _values(variables):
    return [v.numpy().copy() for v in variables]


def _changed(before, variables):
    return [not np.array_equal(b, v.numpy()) for b, v in zip(before, variables)]


# ---------------------------------------------------------------- weight sharing ------------------
def test_generator_belongs_to_the_gan_and_the_autoencoder_players(tiny_images):
    model = _model(tiny_images)
    ids = lambda p: {id(v) for v in model.player_variables(p)}  # noqa: E731
    g, ae, c = ids("g"), ids("ae"), ids("c")
    assert g and g <= ae and {id(v) for v in model.encoder.trainable_variables} <= ae
    assert ae - g == {id(v) for v in model.encoder.trainable_variables} and not c & (g | ae)


def test_one_generator_serves_gan_and_autoencoder(tiny_images):
    model = _model(tiny_images)
    model.compile(run_eagerly=True)
    x = tiny_images[:4]
    z = np.random.default_rng(0).normal(size=(4, model.latent_dim)).astype("float32")
    gen_before, rec_before = model.generate(z).numpy(), model.reconstruct(x).numpy()
    # Exactly one decoder-like network: the sub-networks are E, G, C and nothing else.
    assert {layer.name for layer in model.layers} == {"encoder", "generator", "critic"}
    out_bias = model.generator.get_layer("deconv_out").bias
    out_bias.assign(out_bias.numpy() + 0.5)
    # One edit of G's weights moves both the GAN samples G(z) and the reconstructions G(E(x)).
    assert not np.allclose(model.generate(z).numpy(), gen_before)
    assert not np.allclose(model.reconstruct(x).numpy(), rec_before)
    np.testing.assert_allclose(model.reconstruct(x).numpy(), model.generate(model.encoder(x)).numpy(), atol=1e-6)


def test_ema_swap_restores_the_shared_generator_exactly(tiny_images):
    model = _model(tiny_images)
    model.compile(run_eagerly=True, ema_momentum=0.5)
    _one_step(model, tiny_images)
    _one_step(model, tiny_images)
    trained = _values(model.generator.trainable_variables)
    # One EMA copy per variable, although G has two optimizers (g and ae) keeping one each.
    pairs = list(model._ema_pairs())
    assert len({id(v) for v, _ in pairs}) == len(pairs)
    with model.ema_weights():
        assert any(_changed(trained, model.generator.trainable_variables))
    assert not any(_changed(trained, model.generator.trainable_variables))


def test_generator_is_updated_by_the_autoencoder_loss_alone(tiny_images):
    model = _model(tiny_images, adversarial_weight=0.0)
    model.compile(optimizers=_sgd(), run_eagerly=True)
    g_before, e_before = _values(model.generator.trainable_variables), _values(model.encoder.trainable_variables)
    _one_step(model, tiny_images)
    assert all(_changed(g_before, model.generator.trainable_variables))
    assert all(_changed(e_before, model.encoder.trainable_variables))


def test_generator_is_updated_by_the_gan_loss_alone(tiny_images):
    model = _model(tiny_images, reconstruction_weight=0.0)
    model.compile(optimizers=_sgd(), run_eagerly=True)
    g_before, e_before = _values(model.generator.trainable_variables), _values(model.encoder.trainable_variables)
    _one_step(model, tiny_images)
    assert all(_changed(g_before, model.generator.trainable_variables))
    # E only learns from the autoencoder loss, so it must stand still here.
    assert not any(_changed(e_before, model.encoder.trainable_variables))


def test_generator_step_is_the_sum_of_its_gan_and_autoencoder_steps(tiny_images):
    """With SGD, G's update under both losses equals the GAN-only plus the AE-only update."""
    deltas = {}
    for label, kwargs in (("both", {}), ("gan", {"reconstruction_weight": 0.0}), ("ae", {"adversarial_weight": 0.0})):
        keras.utils.set_random_seed(3)  # same initial weights, noise and dropout masks in each run
        model = _model(tiny_images, **kwargs)
        model.compile(optimizers=_sgd(), run_eagerly=True)
        before = _values(model.generator.trainable_variables)
        _one_step(model, tiny_images)
        deltas[label] = [v.numpy() - b for b, v in zip(before, model.generator.trainable_variables)]
    for both, gan, ae in zip(deltas["both"], deltas["gan"], deltas["ae"]):
        np.testing.assert_allclose(both, gan + ae, rtol=1e-3, atol=1e-6)
    assert any(np.abs(g).max() > 1e-4 for g in deltas["gan"]) and any(np.abs(a).max() > 1e-4 for a in deltas["ae"])


@pytest.mark.parametrize("kind", ["image", "tabular"])
def test_train_step_changes_only_players_bn_statistics_and_sn_power_iteration(tiny_images, tiny_rows, kind):
    """The generic contract with spectral norm on: the one extra state SN updates is its power-iteration u."""
    model = _model(tiny_images if kind == "image" else tiny_rows, spectral_norm=True)
    model.compile(run_eagerly=True, learning_rate=1e-3)
    before = {p: _values(model.player_variables(p)) for p in model.players}
    state = [v for v in model.non_trainable_variables
             if not any(k in v.path for k in ("seed", "moving", "iteration"))]
    state_before = _values(state)
    _one_step(model, tiny_images if kind == "image" else tiny_rows)
    for p in model.players:
        assert all(_changed(before[p], model.player_variables(p))), p
    moved = {v.path for v, c in zip(state, _changed(state_before, state)) if c}
    sn_u = {v.path for v in state if v.path.endswith("vector_u")}
    assert sn_u and moved == sn_u  # every SN layer ran its power iteration; nothing else moved


# ---------------------------------------------------------------- losses in the model -------------
@pytest.mark.parametrize("objective", ["rsgan", "rasgan", "sgan"])
def test_critic_and_generator_losses_use_real_and_fake_logits(tiny_images, objective):
    model = _model(tiny_images, adversarial_loss=objective, dropout=0.0, spectral_norm=True)
    x = tiny_images[:4]
    z = np.random.default_rng(1).normal(size=(4, model.latent_dim)).astype("float32")
    model.sample_latent = lambda n: keras.ops.convert_to_tensor(z)  # fixed z, so the fakes are known
    losses = model.compute_losses(x, training=False)
    r = model.critic(x)[0].numpy().ravel().astype(np.float64)
    f = model.critic(model.generator(z))[0].numpy().ravel().astype(np.float64)
    sp = lambda d: np.logaddexp(0.0, d)  # softplus = −log σ(−d)
    if objective == "rsgan":  # eq. 2
        c_expected, g_expected = sp(-(r - f)).mean(), sp(-(f - r)).mean()
    elif objective == "rasgan":
        c_expected = sp(-(r - f.mean())).mean() + sp(f - r.mean()).mean()
        g_expected = sp(-(f - r.mean())).mean() + sp(r - f.mean()).mean()
    else:
        c_expected, g_expected = sp(-r).mean() + sp(f).mean(), sp(-f).mean()
    rec = model.reconstruct(x).numpy()
    ae_expected = np.mean((x - rec) ** 2)
    assert set(losses) == {"c_loss", "g_loss", "ae_loss"}
    assert float(losses["c_loss"]) == pytest.approx(c_expected, rel=1e-5)
    assert float(losses["g_loss"]) == pytest.approx(g_expected, rel=1e-5)
    assert float(losses["ae_loss"]) == pytest.approx(ae_expected, rel=1e-5)


@pytest.mark.parametrize("spectral_norm", [True, False])
def test_relativistic_critic_has_no_logit_bias_but_sgan_has(tiny_images, spectral_norm):
    assert _logit_dense(_model(tiny_images, spectral_norm=spectral_norm).critic).bias is None
    sgan = _model(tiny_images, adversarial_loss="sgan", spectral_norm=spectral_norm)
    assert _logit_dense(sgan.critic).bias is not None


def test_spectral_norm_switch_wraps_every_critic_weight_layer(tiny_images):
    def wrapped(model):
        return [isinstance(layer, SpectralNorm) for layer in model.critic.layers
                if isinstance(layer, (SpectralNorm, keras.layers.Conv2D, keras.layers.Dense))]

    assert GANAE(input_shape=(16, 16, 1), latent_dim=8, filters=4, dense_units=16).spectral_norm  # paper default
    on, off = wrapped(_model(tiny_images, spectral_norm=True)), wrapped(_model(tiny_images, spectral_norm=False))
    assert len(on) == len(off) == 5 and all(on) and not any(off)


def test_default_optimizers_are_adamw_with_the_given_rates(tiny_images):
    model = _model(tiny_images, weight_decay=0.05)
    model.compile(learning_rate=1e-4, beta_1=0.5, run_eagerly=True)
    for p in model.players:
        opt = model.player_optimizers[p]
        assert isinstance(opt, keras.optimizers.AdamW)
        assert float(opt.learning_rate) == pytest.approx(1e-4) and float(opt.beta_1) == 0.5
        assert float(opt.weight_decay) == pytest.approx(0.05)
    _one_step(model, tiny_images)
    assert set(model.get_metrics_result()) >= {"c_loss", "g_loss", "ae_loss"}


# ---------------------------------------------------------------- score (eq. 7) -------------------
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_score_is_lambda_beta_combination_of_its_three_terms(tiny_images, reduction):
    model = _model(tiny_images, score_lambda=0.7, score_beta=2.0, score_reduction=reduction)
    x = tiny_images[:5]
    parts = {k: v.numpy() for k, v in model.score_components(x).items()}
    assert set(parts) == {"score", "discrimination", "residual", "latent"}
    assert all(v.shape == (5,) and np.all(np.isfinite(v)) for v in parts.values())
    np.testing.assert_allclose(
        parts["score"], 0.7 * parts["discrimination"] + 0.3 * parts["residual"] + 2.0 * parts["latent"], rtol=1e-5)
    # Each term recomputed in numpy from the networks (eqs. 4–6).
    agg = (lambda d: d.reshape(len(d), -1).mean(1)) if reduction == "mean" else (lambda d: d.reshape(len(d), -1).sum(1))
    rec = model.reconstruct(x).numpy()
    z, z_rec = model.encoder(x).numpy(), model.encoder(rec).numpy()
    f, f_rec = model.critic(x)[1].numpy(), model.critic(rec)[1].numpy()
    np.testing.assert_allclose(parts["residual"], agg(np.abs(x - rec)), rtol=1e-5)
    np.testing.assert_allclose(parts["latent"], agg(np.abs(z - z_rec)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(parts["discrimination"], agg(np.abs(f - f_rec)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.anomaly_score(x).numpy(), parts["score"], rtol=1e-6)


def test_no_latent_case_drops_the_latent_term(tiny_images):
    model = _model(tiny_images, case="no_latent", score_lambda=0.8)
    parts = {k: v.numpy() for k, v in model.score_components(tiny_images[:3]).items()}
    assert model.score_beta == 0.0
    np.testing.assert_allclose(parts["score"], 0.8 * parts["discrimination"] + 0.2 * parts["residual"], rtol=1e-5)


# ---------------------------------------------------------------- options and cases ---------------
def test_defaults_follow_the_paper():
    model = GANAE(input_shape=(16, 16, 1), latent_dim=8, filters=4, dense_units=16)
    assert (model.adversarial_loss, model.score_lambda, model.score_beta, model.dropout) == ("rsgan", 0.8, 0.5, 0.2)
    assert model.score_reduction == "mean"


@pytest.mark.parametrize("kwargs,match", [
    ({"case": "wgan"}, "unknown GANAE case"),
    ({"adversarial_loss": "wgan"}, "rsgan, rasgan, sgan"),
    ({"case": "sgan", "adversarial_loss": "rsgan"}, "contradicts case 'sgan'"),
    ({"case": "no_latent", "score_beta": 0.5}, "contradicts case 'no_latent'"),
    ({"score_lambda": 1.5}, "score_lambda"),
    ({"score_beta": -1.0}, "score_beta"),
    ({"score_reduction": "max"}, "score_reduction"),
    ({"adversarial_weight": -1.0}, "adversarial_weight"),
    ({"dropout": 1.0}, "dropout"),
])
def test_invalid_options_raise(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        GANAE(input_shape=(16, 16, 1), latent_dim=8, filters=4, dense_units=16, **kwargs)


@pytest.mark.parametrize("case", sorted(GANAE_CASES))
def test_cases_round_trip_through_get_config(case):
    model = GANAE(input_shape=(16, 16, 1), latent_dim=8, filters=4, dense_units=16, case=case, score_lambda=0.6)
    for key, value in GANAE_CASES[case].items():
        assert getattr(model, key) == value
    config = model.get_config()
    assert all(config[key] is None for key in GANAE_CASES[case])
    again = GANAE.from_config(config)
    assert again.get_config() == config and again.score_lambda == 0.6
    # A matching explicit value is accepted alongside its case.
    GANAE(input_shape=(16, 16, 1), latent_dim=8, filters=4, dense_units=16, case=case, **GANAE_CASES[case])


# ---------------------------------------------------------------- networks (Table 1) --------------
@pytest.mark.parametrize("shape", [(28, 28, 1), (32, 32, 3)])
def test_table1_networks_shapes_and_layer_counts(shape):
    enc = ganae_conv_encoder(shape, 10, filters=4, conv_layers=3)
    gen = ganae_conv_generator(shape, 10, filters=4, dense_units=16, deconv_layers=3)
    critic = ganae_conv_critic(shape, filters=4, conv_layers=3, dense_units=16)
    x = np.zeros((2, *shape), np.float32)
    assert enc(x).shape == (2, 10)
    assert gen(np.zeros((2, 10), np.float32)).shape == (2, *shape)
    logit, features = critic(x)
    assert logit.shape == (2, 1) and features.shape[0] == 2 and len(features.shape) == 4

    def count(net, cls):
        return sum(isinstance(layer, cls) for layer in net.layers)

    assert count(enc, keras.layers.Conv2D) == 3 and count(enc, keras.layers.Dense) == 1
    assert count(gen, keras.layers.Conv2DTranspose) == 3 and count(gen, keras.layers.Dense) == 2
    # Every weight layer of the critic is spectrally normalised (§5.1.2); dropout 0.2 after each block.
    sn = [layer for layer in critic.layers if isinstance(layer, SpectralNorm)]
    assert len(sn) == 5 and not any(isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense))
                                    for layer in critic.layers)
    assert {layer.rate for layer in critic.layers if isinstance(layer, keras.layers.Dropout)} == {0.2}


def test_mixed_bfloat16_keeps_losses_and_scores_float32(tiny_images):
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = _model(tiny_images, spectral_norm=True)
        model.compile(run_eagerly=True)
        _one_step(model, tiny_images)
        losses = model.compute_losses(tiny_images[:4], training=True)
        parts = model.score_components(tiny_images[:4])
    finally:
        keras.mixed_precision.set_global_policy(previous)
    for value in list(losses.values()) + list(parts.values()):
        assert value.dtype == "float32" and np.all(np.isfinite(value.numpy()))
