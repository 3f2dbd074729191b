"""GANomaly: each sub-network trained, losses and scores against their definitions, cases, sizes, D reset."""

from __future__ import annotations

import numpy as np
import pytest

from tfganad.errors import ConfigError
from tfganad.models.ganomaly import GANOMALY_CASES, GANomaly


def _softplus(v):
    return np.log1p(np.exp(-np.abs(v))) + np.maximum(v, 0)


def _blobs(n, seed, size=16):
    """Gaussian blobs at random positions in [-1, 1]: smooth 'normal' training images."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    cx, cy = rng.uniform(4, size - 4, n), rng.uniform(4, size - 4, n)
    imgs = np.exp(-((xx[None] - cx[:, None, None]) ** 2 + (yy[None] - cy[:, None, None]) ** 2) / 8.0)
    return (2 * imgs - 1)[..., None].astype("float32")


def _model(**kwargs):
    model = GANomaly(**{**GANomaly.small_config((16, 16, 1)), **kwargs})
    model.compile(run_eagerly=True, learning_rate=1e-3)
    return model


def _snapshot(net):
    return [v.numpy().copy() for v in net.trainable_variables]


def _changed(before, net):
    return [not np.array_equal(a, v.numpy()) for a, v in zip(before, net.trainable_variables)]


@pytest.mark.parametrize("options", [{}, {"case": "case5"}, {"update_order": "d_then_g"}, {"update_order": "g_then_d"}])
def test_one_train_step_updates_each_network(tiny_images, options):
    model = _model(**options)
    nets = {"G_E": model.encoder, "G_D": model.decoder, "E": model.second_encoder, "D": model.discriminator}
    before = {name: _snapshot(net) for name, net in nets.items()}
    model.fit(tiny_images[:8], epochs=1, batch_size=8, verbose=0)
    for name, net in nets.items():
        changed = _changed(before[name], net)
        assert changed and all(changed), f"{name}: {changed.count(False)} of {len(changed)} variables unchanged"


def test_player_variable_groups_are_separate_and_complete():
    model = _model()
    d_ids = {id(v) for v in model.player_variables("d")}
    g_ids = {id(v) for v in model.player_variables("g")}
    assert not d_ids & g_ids
    assert d_ids == {id(v) for v in model.discriminator.trainable_variables}
    expected_g = model.encoder.trainable_variables + model.decoder.trainable_variables \
        + model.second_encoder.trainable_variables
    assert g_ids == {id(v) for v in expected_g}
    # The second encoder has its own weights (ensemble paper eq. 7: φ ≠ φ̃).
    assert not {id(v) for v in model.encoder.weights} & {id(v) for v in model.second_encoder.weights}
    assert d_ids | g_ids == {id(v) for v in model.trainable_variables}


@pytest.mark.parametrize("adversarial_loss", ["fm", "bce"])
def test_losses_match_their_definitions(tiny_images, adversarial_loss):
    model = _model(adversarial_loss=adversarial_loss, adversarial_weight=2.0, contextual_weight=3.0,
                   encoder_weight=5.0)
    model.fit(tiny_images[:8], epochs=1, batch_size=8, verbose=0)  # move away from the symmetric init
    x = tiny_images[:4]
    z = model.encoder(x).numpy()
    x_hat = model.decoder(z).numpy()
    z_hat = model.second_encoder(x_hat).numpy()
    real_logit, real_feat = (t.numpy() for t in model.discriminator(x))
    fake_logit, fake_feat = (t.numpy() for t in model.discriminator(x_hat))
    losses = {k: float(v) for k, v in model.compute_losses(x, training=False).items()}
    adv = np.mean((real_feat - fake_feat) ** 2) if adversarial_loss == "fm" else np.mean(_softplus(-fake_logit))
    con = np.mean(np.abs(x - x_hat))
    enc = np.mean((z - z_hat) ** 2)
    d_loss = np.mean(_softplus(-real_logit)) + np.mean(_softplus(fake_logit))
    np.testing.assert_allclose(losses["adv_loss"], adv, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(losses["con_loss"], con, rtol=1e-5)
    np.testing.assert_allclose(losses["enc_loss"], enc, rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(losses["g_loss"], 2 * adv + 3 * con + 5 * enc, rtol=1e-5)
    np.testing.assert_allclose(losses["d_loss"], d_loss, rtol=1e-5)


def test_scores_match_their_definitions(tiny_images):
    model = _model()
    model.fit(tiny_images[:8], epochs=1, batch_size=8, verbose=0)
    x = tiny_images[:5]
    z = model.encoder(x).numpy()
    x_hat = model.decoder(z).numpy()
    z_hat = model.second_encoder(x_hat).numpy()
    real_logit, real_feat = (t.numpy() for t in model.discriminator(x))
    _, fake_feat = (t.numpy() for t in model.discriminator(x_hat))
    comps = {k: v.numpy() for k, v in model.score_components(x).items()}
    np.testing.assert_allclose(comps["latent"], np.mean((z - z_hat) ** 2, axis=1), rtol=1e-5, atol=1e-10)
    np.testing.assert_allclose(comps["bce"], _softplus(-real_logit[:, 0]), rtol=1e-5)
    np.testing.assert_allclose(comps["fm"], np.mean((real_feat - fake_feat).reshape(5, -1) ** 2, axis=1),
                               rtol=1e-5, atol=1e-10)
    np.testing.assert_allclose(comps["contextual"], np.abs(x - x_hat).reshape(5, -1).sum(1), rtol=1e-5)
    for comp in comps.values():
        assert comp.shape == (5,) and np.all(np.isfinite(comp)) and np.all(comp >= 0)
    np.testing.assert_allclose(model.predict(x, verbose=0), comps["latent"], rtol=1e-5, atol=1e-10)


def test_constant_image_scores_higher_than_training_like_images():
    x = _blobs(64, seed=0)
    model = GANomaly(**GANomaly.small_config(x.shape[1:]))
    model.compile(learning_rate=2e-3)
    # 20 epochs: under the reference one-pass schedule the latent gap opens later than under the former
    # D-then-G default (10 epochs were enough there).
    model.fit(x, epochs=20, batch_size=16, verbose=0)
    normal = model.score_components(_blobs(32, seed=100))
    constant = model.score_components(np.ones((2, 16, 16, 1), "float32"))
    for name in ("latent", "contextual", "bce"):
        assert float(np.min(constant[name])) > float(np.max(normal[name])), name
    assert float(np.min(constant["latent"])) > 5 * float(np.mean(normal["latent"]))


@pytest.mark.parametrize("case", sorted(GANOMALY_CASES))
def test_case_presets_set_training_loss_and_score(case):
    model = GANomaly(input_shape=(16, 16, 1), latent_dim=4, filters=2, case=case)
    assert model.adversarial_loss == GANOMALY_CASES[case]["adversarial_loss"]
    assert model.score_name == GANOMALY_CASES[case]["score"]
    again = GANomaly.from_config(model.get_config())
    assert (again.case, again.adversarial_loss, again.score) == (case, model.adversarial_loss, model.score)


@pytest.mark.parametrize("kwargs, message", [
    ({"case": "case5", "score": "fm"}, "contradicts case 'case5'"),
    ({"case": "case8", "adversarial_loss": "bce"}, "contradicts case 'case8'"),
    ({"case": "case1"}, "unknown GANomaly case"),
    ({"score": "l2"}, "unknown GANomaly score"),
    ({"adversarial_loss": "wasserstein"}, "unknown adversarial loss"),
    ({"contextual_weight": -1.0}, "contextual_weight must be >= 0"),
])
def test_invalid_options_raise_config_error(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        GANomaly(input_shape=(16, 16, 1), latent_dim=4, filters=2, **kwargs)


def test_agreeing_case_and_option_is_accepted():
    assert GANomaly(input_shape=(16, 16, 1), latent_dim=4, filters=2, case="case6", score="fm").score == "fm"


@pytest.mark.parametrize("shape", [(30, 30, 1), (12, 12, 1), (17, 17, 3), (72, 72, 1), (4, 4)])
def test_unusable_input_shapes_raise_one_line_config_error(shape):
    with pytest.raises(ConfigError) as info:
        GANomaly(input_shape=shape, latent_dim=4, filters=2)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("shape", [(28, 28, 1), (32, 32, 3), (24, 32, 1)])
def test_supported_sizes_reconstruct_their_input_shape(shape):
    model = GANomaly(input_shape=shape, latent_dim=4, filters=2)
    x = np.zeros((2, *shape), "float32")
    assert tuple(model.reconstruct(x).shape) == (2, *shape)
    assert tuple(model.encoder(x).shape) == (2, 4)


def test_table_rows_use_mlp_networks_and_train_every_network(tiny_rows):
    model = GANomaly(**GANomaly.small_config(tiny_rows.shape[1:]))
    model.compile(run_eagerly=True, learning_rate=1e-3)
    nets = {"G_E": model.encoder, "G_D": model.decoder, "E": model.second_encoder, "D": model.discriminator}
    before = {name: _snapshot(net) for name, net in nets.items()}
    model.fit(tiny_rows[:8], epochs=1, batch_size=8, verbose=0)
    for name, net in nets.items():
        assert all(_changed(before[name], net)), name
    assert tuple(model.reconstruct(tiny_rows[:3]).shape) == (3, 12)
    assert model.predict(tiny_rows[:3], verbose=0).shape == (3,)


def test_discriminator_reinitialisation_restores_initial_weights(tiny_images):
    model = _model(reinit_discriminator=True, reinit_threshold=1e9)  # always below: D resets every step
    initial = _snapshot(model.discriminator)
    g_before = _snapshot(model.decoder)
    model.fit(tiny_images[:8], epochs=1, batch_size=8, verbose=0)
    for a, v in zip(initial, model.discriminator.trainable_variables):
        np.testing.assert_array_equal(a, v.numpy())
    assert all(_changed(g_before, model.decoder))
    # The default threshold (1e-5) is far below a fresh D's loss: no reset, D trains.
    model = _model(reinit_discriminator=True)
    before = _snapshot(model.discriminator)
    model.fit(tiny_images[:8], epochs=1, batch_size=8, verbose=0)
    assert all(_changed(before, model.discriminator))


@pytest.mark.parametrize("cls", ["ganomaly", "skip_ganomaly"])
def test_reference_update_is_one_forward_pass_for_both_players(tiny_images, cls):
    """Reference `optimize_params`: one generator forward pass, G steps, then D steps on the detached x̂
    of that pass (D's weights unchanged by G's step). With SGD that is w − lr·∂L/∂w for both players,
    all gradients taken at the pre-step weights; checked against that hand-made update."""
    import keras
    import tensorflow as tf

    from tfganad.models.skip_ganomaly import SkipGANomaly

    klass = GANomaly if cls == "ganomaly" else SkipGANomaly
    model = klass(**klass.small_config((16, 16, 1)))
    assert model.update_order == "reference" and model.reinit_discriminator  # the reference's defaults
    lr = 0.05
    model.compile(d_optimizer=keras.optimizers.SGD(lr), g_optimizer=keras.optimizers.SGD(lr), run_eagerly=True)
    x = tf.constant(tiny_images[:4])
    before = {id(v): v.numpy().copy() for v in model.trainable_variables}
    moving = [(v, v.numpy().copy()) for v in model.non_trainable_variables]
    with tf.GradientTape(persistent=True) as tape:
        losses = model.compute_losses(x, training=True)
    expected = {}
    for p in ("d", "g"):
        variables = model.player_variables(p)
        for v, g in zip(variables, tape.gradient(losses[f"{p}_loss"], variables)):
            expected[id(v)] = before[id(v)] - lr * g.numpy()
    for v, value in moving:  # undo the BatchNorm statistics of the probe pass
        v.assign(value)
    model.train_step(x)
    for v in model.trainable_variables:
        np.testing.assert_allclose(v.numpy(), expected[id(v)], rtol=1e-4, atol=1e-6, err_msg=v.path)


def test_update_order_values_and_legacy_flag():
    assert GANomaly(**GANomaly.small_config((16, 16, 1)), simultaneous_updates=False).update_order == "d_then_g"
    assert GANomaly(**GANomaly.small_config((16, 16, 1)), simultaneous_updates=True).update_order == "reference"
    assert GANomaly(**GANomaly.small_config((16, 16, 1)), update_order="g_then_d").update_schedule() == [
        (("g",), 1), (("d",), 1)]
    with pytest.raises(ConfigError, match="unknown update_order 'x'; allowed: reference, d_then_g, g_then_d"):
        GANomaly(**GANomaly.small_config((16, 16, 1)), update_order="x")
    with pytest.raises(ConfigError, match="contradicts update_order"):
        GANomaly(**GANomaly.small_config((16, 16, 1)), update_order="g_then_d", simultaneous_updates=True)
