"""AnoGAN: the per-sample latent search (survey §2.1, eqs. 4–7) and the three GAN objectives."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tfganad.errors import ConfigError
from tfganad.models.anogan import AnoGAN
from tfganad.search import initial_latents


def _model(**kw):
    args = dict(input_shape=(16, 16, 1), latent_dim=6, filters=4, search_steps=10, search_learning_rate=0.05,
                search_batch_size=16)
    args.update(kw)
    model = AnoGAN(**args)
    model.compile(run_eagerly=True)
    return model


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).uniform(-1, 1, (6, 16, 16, 1)).astype("float32")


@pytest.mark.parametrize("term", ["fm", "bce"])
def test_score_is_the_search_loss_at_the_final_latent(images, term):
    model = _model(discriminator_term=term, score_weight=0.3)
    out = model.search(images)
    x_hat = model.generator(out["z"], training=False)
    np.testing.assert_allclose(out["x_hat"].numpy(), x_hat.numpy(), atol=1e-6)
    residual = np.abs(images - x_hat.numpy()).reshape(6, -1).sum(1)
    logit, feat = model.discriminator(x_hat, training=False)
    if term == "fm":
        disc = np.abs(model.discriminator(images, training=False)[1].numpy() - feat.numpy()).sum(1)
    else:
        disc = np.log1p(np.exp(-logit.numpy().ravel()))  # BCE(1, D(G(z)))
    np.testing.assert_allclose(out["residual"].numpy(), residual, rtol=1e-5)
    np.testing.assert_allclose(out["discriminator"].numpy(), disc, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(out["score"].numpy(), 0.7 * residual + 0.3 * disc, rtol=1e-5)
    np.testing.assert_allclose(model.predict(images, verbose=0), out["score"].numpy(), rtol=1e-4)


def test_search_starts_from_the_seeded_truncated_normal_and_lowers_the_loss(images):
    start = _model(search_steps=0).search(images)
    z0 = initial_latents(0, (6,), truncated=True)
    np.testing.assert_array_equal(start["z"].numpy(), np.broadcast_to(z0, (6, 6)))
    searched = _model(search_steps=40).search(images)
    assert np.all(searched["score"].numpy() < start["score"].numpy())


def test_a_score_does_not_depend_on_batch_mates_or_chunking(images):
    model = _model(search_batch_size=4)
    alone = model.anomaly_score(images[:2]).numpy()
    outliers = np.concatenate([images[:2], 30.0 * images[2:]])  # huge gradients next to samples 0 and 1
    together = model.anomaly_score(outliers).numpy()[:2]
    np.testing.assert_allclose(together, alone, rtol=1e-5)
    model.search_batch_size = 1
    chunked = model.anomaly_score(images[:2]).numpy()
    np.testing.assert_allclose(chunked, alone, rtol=1e-5)


def test_graph_mode_scoring_equals_eager(images):
    model = _model()
    eager = model.anomaly_score(images).numpy()
    graph = tf.function(model.anomaly_score)(tf.constant(images)).numpy()
    np.testing.assert_allclose(graph, eager, rtol=1e-4)


def test_reconstruct_returns_the_final_generated_images(images):
    model = _model()
    np.testing.assert_allclose(model.reconstruct(images).numpy(), model.search(images)["x_hat"].numpy(), atol=1e-6)


def test_wgan_clips_every_critic_weight_after_its_update(images):
    model = _model(adversarial_loss="wgan", clip_value=0.02)
    assert model.critic_steps == 5 and model.update_schedule() == [(("d",), 5), (("g",), 1)]
    assert max(float(np.abs(v.numpy()).max()) for v in model.discriminator.trainable_variables) > 0.02
    model.fit(images, epochs=1, batch_size=6, verbose=0)
    for v in model.discriminator.trainable_variables:
        assert float(np.abs(v.numpy()).max()) <= 0.02 + 1e-7, v.path
    assert int(model.d_optimizer.iterations.numpy()) == 5 and int(model.g_optimizer.iterations.numpy()) == 1
    assert type(model.d_optimizer).__name__ == "RMSprop"  # WGAN paper, Algorithm 1


def test_wgan_gp_critic_has_no_batch_statistics_and_trains(images):
    model = _model(adversarial_loss="wgan_gp", n_critic=2)
    kinds = {type(layer).__name__ for layer in model.discriminator.layers}
    assert "BatchNormalization" not in kinds and "GroupNormalization" in kinds
    opt = model.d_optimizer
    assert (type(opt).__name__, float(opt.learning_rate), float(opt.beta_1), float(opt.beta_2)) == (
        "Adam", pytest.approx(1e-4), 0.0, pytest.approx(0.9))
    history = model.fit(images, epochs=1, batch_size=6, verbose=0).history
    assert np.isfinite(history["d_loss"][0]) and int(model.d_optimizer.iterations.numpy()) == 2


def test_bce_uses_compile_settings_and_one_critic_step():
    model = AnoGAN(input_shape=(8,), latent_dim=4, search_steps=2)
    model.compile(learning_rate=1e-3, beta_1=0.3)
    assert model.critic_steps == 1
    assert float(model.d_optimizer.learning_rate) == pytest.approx(1e-3)
    assert float(model.d_optimizer.beta_1) == pytest.approx(0.3)


@pytest.mark.parametrize("kwargs,match", [
    ({"discriminator_term": "l2"}, "discriminator_term"),
    ({"score_weight": 1.5}, "score_weight"),
    ({"search_learning_rate": [0.1, 0.01], "search_lr_boundaries": [5, 6]}, "len\\(values\\)"),
    ({"adversarial_loss": "wgan_gp", "critic_norm": "batch"}, "gradient penalty"),
    ({"adversarial_loss": "lsgan"}, "adversarial_loss"),
])
def test_invalid_arguments_raise_config_error(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        AnoGAN(input_shape=(16, 16, 1), latent_dim=4, filters=4, **kwargs)
