"""f-AnoGAN: WGAN-GP stage, izi_f encoder stage against the frozen G and D, izi_f score."""

from __future__ import annotations

import numpy as np
import pytest

from tfganad.errors import ConfigError
from tfganad.models.fanogan import FAnoGAN


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).uniform(-1, 1, (8, 16, 16, 1)).astype("float32")


def _model(run_eagerly=True, **kw):
    args = dict(input_shape=(16, 16, 1), latent_dim=6, filters=4, n_critic=1, gan_steps=2)
    args.update(kw)
    model = FAnoGAN(**args)
    model.compile(run_eagerly=run_eagerly)
    return model


def test_stages_switch_inside_one_fit_graph(images):
    model = _model(run_eagerly=False)  # the stage test must hold in graph mode, where the switch is a tf.cond
    history = []
    for _ in range(3):
        before = {p: [v.numpy().copy() for v in model.player_variables(p)] for p in model.players}
        logs = model.fit(images, epochs=1, batch_size=8, verbose=0).history
        history.append({p: any(not np.array_equal(b, v.numpy()) for b, v in zip(before[p], model.player_variables(p)))
                        for p in model.players} | {"e_loss": logs["e_loss"][0], "d_loss": logs["d_loss"][0]})
    # Step 1: stage 1 only. Step 2: the 2nd generator update ends stage 1, so E starts in that step.
    # Step 3: D and G frozen, E trains.
    assert [(h["d"], h["g"], h["e"]) for h in history] == [(True, True, False), (True, True, True),
                                                           (False, False, True)]
    assert history[0]["e_loss"] == 0.0 and history[2]["d_loss"] == 0.0 and history[2]["e_loss"] > 0
    assert int(model.g_optimizer.iterations.numpy()) == 2


def test_score_is_the_izif_loss_per_sample(images):
    model = _model(feature_weight=0.5)
    out = model.score_components(images)
    x_rec = model.generator(model.encoder(images, training=False), training=False).numpy()
    f_x = model.discriminator(images, training=False)[1].numpy()
    f_rec = model.discriminator(x_rec, training=False)[1].numpy()
    residual = ((images - x_rec) ** 2).reshape(8, -1).mean(1)
    feature = ((f_x - f_rec) ** 2).mean(1)
    np.testing.assert_allclose(out["residual"].numpy(), residual, rtol=1e-5)
    np.testing.assert_allclose(out["score"].numpy(), residual + 0.5 * feature, rtol=1e-5)
    np.testing.assert_allclose(model.predict(images, verbose=0), out["score"].numpy(), rtol=1e-5)


def test_encoder_codes_lie_in_the_tanh_range(images):
    z = _model().encoder(10.0 * images, training=False).numpy()
    assert z.shape == (8, 6) and np.all(np.abs(z) <= 1.0)


def test_paper_optimizers_and_their_opt_out():
    model = _model()
    d, e = model.d_optimizer, model.e_optimizer
    assert (type(d).__name__, float(d.learning_rate), float(d.beta_1), float(d.beta_2)) == (
        "Adam", pytest.approx(1e-4), 0.0, pytest.approx(0.9))
    assert type(e).__name__ == "RMSprop" and float(e.learning_rate) == pytest.approx(5e-5)
    assert model.critic_steps == 1 and FAnoGAN(input_shape=(16, 16, 1), filters=4).critic_steps == 5
    plain = FAnoGAN(input_shape=(16, 16, 1), latent_dim=4, filters=4, paper_optimizers=False)
    plain.compile(learning_rate=3e-4)
    assert all(float(plain.player_optimizers[p].learning_rate) == pytest.approx(3e-4) for p in plain.players)


def test_uniform_prior_draws_in_the_unit_box():
    z = _model(latent_prior="uniform").sample_latent(64).numpy()
    assert z.min() >= -1.0 and z.max() <= 1.0 and z.min() < -0.5 and z.max() > 0.5


@pytest.mark.parametrize("kwargs,match", [
    ({"gan_steps": 3, "encoder_start_step": 4}, "encoder_start_step"),
    ({"gan_steps": None, "encoder_start_step": None}, "never trains"),
    ({"latent_prior": "cauchy"}, "latent_prior"),
    ({"feature_weight": -1.0}, "feature_weight"),
])
def test_invalid_arguments_raise_config_error(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        FAnoGAN(input_shape=(16, 16, 1), latent_dim=4, filters=4, **kwargs)


def test_encoder_mirrors_the_critic_with_a_tanh_latent_output(images):
    """Schlegl et al. 2019 (reference `Encoder`): the izi_f encoder repeats the critic's convs, with batch
    norm where the WGAN-GP critic has layer norm, then a linear layer to z and tanh."""
    import keras

    model = _model()

    def convs(net):
        return [(layer.filters, layer.kernel_size, layer.strides) for layer in net.layers
                if isinstance(layer, keras.layers.Conv2D)]

    def norms(net):
        return [type(layer).__name__ for layer in net.layers
                if isinstance(layer, (keras.layers.GroupNormalization, keras.layers.BatchNormalization))]

    assert convs(model.encoder) == convs(model.discriminator) and convs(model.encoder)
    assert norms(model.discriminator) == ["GroupNormalization"] and norms(model.encoder) == ["BatchNormalization"]
    z_linear = model.encoder.get_layer("z_linear")
    pre = keras.Model(model.encoder.input, z_linear.output)(images).numpy()
    np.testing.assert_allclose(model.encoder(images).numpy(), np.tanh(pre), rtol=1e-5, atol=1e-6)
