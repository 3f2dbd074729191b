"""Skip-GANomaly: both networks trained, losses and scores against their definitions, U-Net, sizes, D reset."""

from __future__ import annotations

import numpy as np
import pytest

from tfganad.errors import ConfigError
from tfganad.models.skip_ganomaly import SkipGANomaly
from tfganad.networks.unet import unet_generator


def _softplus(v):
    return np.log1p(np.exp(-np.abs(v))) + np.maximum(v, 0)


def _blobs(n, seed, size=16):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    cx, cy = rng.uniform(4, size - 4, n), rng.uniform(4, size - 4, n)
    imgs = np.exp(-((xx[None] - cx[:, None, None]) ** 2 + (yy[None] - cy[:, None, None]) ** 2) / 8.0)
    return (2 * imgs - 1)[..., None].astype("float32")


def _model(**kwargs):
    model = SkipGANomaly(**{**SkipGANomaly.small_config((16, 16, 1)), **kwargs})
    model.compile(run_eagerly=True, learning_rate=1e-3)
    return model


def _snapshot(net):
    return [v.numpy().copy() for v in net.trainable_variables]


def _changed(before, net):
    return [not np.array_equal(a, v.numpy()) for a, v in zip(before, net.trainable_variables)]


@pytest.mark.parametrize("options", [{}, {"update_order": "g_then_d"}])
def test_one_train_step_updates_generator_and_discriminator(tiny_images, options):
    model = _model(**options)
    nets = {"G": model.generator, "D": model.discriminator}
    before = {name: _snapshot(net) for name, net in nets.items()}
    model.fit(tiny_images[:8], epochs=1, batch_size=8, verbose=0)
    for name, net in nets.items():
        changed = _changed(before[name], net)
        assert changed and all(changed), f"{name}: {changed.count(False)} of {len(changed)} variables unchanged"
    d_ids = {id(v) for v in model.player_variables("d")}
    g_ids = {id(v) for v in model.player_variables("g")}
    assert not d_ids & g_ids and d_ids | g_ids == {id(v) for v in model.trainable_variables}


def test_losses_match_their_definitions(tiny_images):
    model = _model(adversarial_weight=2.0, contextual_weight=3.0, latent_weight=5.0)
    model.fit(tiny_images[:8], epochs=1, batch_size=8, verbose=0)
    x = tiny_images[:4]
    x_hat = model.generator(x).numpy()
    real_logit, real_feat = (t.numpy() for t in model.discriminator(x))
    fake_logit, fake_feat = (t.numpy() for t in model.discriminator(x_hat))
    losses = {k: float(v) for k, v in model.compute_losses(x, training=False).items()}
    adv = np.mean(_softplus(-fake_logit))
    con = np.mean(np.abs(x - x_hat))
    lat = np.mean((real_feat - fake_feat) ** 2)
    np.testing.assert_allclose(losses["adv_loss"], adv, rtol=1e-5)
    np.testing.assert_allclose(losses["con_loss"], con, rtol=1e-5)
    np.testing.assert_allclose(losses["lat_loss"], lat, rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(losses["g_loss"], 2 * adv + 3 * con + 5 * lat, rtol=1e-5)
    np.testing.assert_allclose(losses["d_loss"], np.mean(_softplus(-real_logit)) + np.mean(_softplus(fake_logit)),
                               rtol=1e-5)


@pytest.mark.parametrize("lam", [0.9, 0.25])
def test_score_is_lambda_residual_plus_feature_distance(tiny_images, lam):
    model = _model(residual_score_weight=lam)
    model.fit(tiny_images[:8], epochs=1, batch_size=8, verbose=0)
    x = tiny_images[:5]
    x_hat = model.generator(x).numpy()
    _, real_feat = (t.numpy() for t in model.discriminator(x))
    _, fake_feat = (t.numpy() for t in model.discriminator(x_hat))
    residual = np.mean((x - x_hat).reshape(5, -1) ** 2, axis=1)
    feature = np.mean((real_feat - fake_feat) ** 2, axis=1)
    comps = {k: v.numpy() for k, v in model.score_components(x).items()}
    np.testing.assert_allclose(comps["residual"], residual, rtol=1e-5)
    np.testing.assert_allclose(comps["feature"], feature, rtol=1e-5, atol=1e-10)
    np.testing.assert_allclose(comps["weighted"], lam * residual + (1 - lam) * feature, rtol=1e-5)
    np.testing.assert_allclose(model.predict(x, verbose=0), comps["weighted"], rtol=1e-5)
    assert np.all(comps["weighted"] > 0) and np.all(np.isfinite(comps["weighted"]))


def test_constant_image_scores_higher_than_training_like_images():
    x = _blobs(64, seed=0)
    model = SkipGANomaly(**SkipGANomaly.small_config(x.shape[1:]))
    model.compile(learning_rate=2e-3)
    model.fit(x, epochs=5, batch_size=16, verbose=0)
    normal = model.predict(_blobs(32, seed=100), verbose=0)
    constant = model.predict(np.ones((2, 16, 16, 1), "float32"), verbose=0)
    assert float(np.min(constant)) > 2 * float(np.max(normal))


def test_unet_has_skip_connections_and_reference_widths():
    net = unet_generator((32, 32, 3), filters=64)
    downs = [net.get_layer(f"down{i}").output.shape for i in range(5)]
    assert [tuple(s[1:]) for s in downs] == [(16, 16, 64), (8, 8, 128), (4, 4, 256), (2, 2, 512), (1, 1, 512)]
    skips = [layer for layer in net.layers if layer.name.startswith("skip")]
    assert len(skips) == 4
    # Each skip doubles the channels of the matching up level: up feature + down activation.
    assert tuple(net.get_layer("skip1").output.shape[1:]) == (16, 16, 128)


@pytest.mark.parametrize("kwargs, message", [
    ({"input_shape": (30, 30, 1)}, "cannot work"),
    ({"input_shape": (12, 12, 1)}, "cannot work"),
    ({"input_shape": (16, 16, 1), "depth": 5}, "cannot work with a U-Net of depth 5"),
    ({"input_shape": (12,)}, "needs images"),
    ({"input_shape": (16, 16, 1), "residual_score_weight": 1.5}, "residual_score_weight must be in"),
    ({"input_shape": (16, 16, 1), "latent_weight": -1.0}, "latent_weight must be >= 0"),
])
def test_invalid_options_raise_one_line_config_error(kwargs, message):
    with pytest.raises(ConfigError, match=message) as info:
        SkipGANomaly(**{"latent_dim": 4, "filters": 2, **kwargs})
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("shape, depth", [((28, 28, 1), None), ((32, 32, 3), 3), ((64, 64, 1), None)])
def test_supported_sizes_reconstruct_their_input_shape(shape, depth):
    model = SkipGANomaly(input_shape=shape, latent_dim=4, filters=2, depth=depth)
    assert tuple(model.reconstruct(np.zeros((2, *shape), "float32")).shape) == (2, *shape)
    assert SkipGANomaly.from_config(model.get_config()).get_config() == model.get_config()


def test_discriminator_reinitialisation_restores_initial_weights(tiny_images):
    model = _model(reinit_discriminator=True, reinit_threshold=1e9)
    initial = _snapshot(model.discriminator)
    g_before = _snapshot(model.generator)
    model.fit(tiny_images[:8], epochs=1, batch_size=8, verbose=0)
    for a, v in zip(initial, model.discriminator.trainable_variables):
        np.testing.assert_array_equal(a, v.numpy())
    assert all(_changed(g_before, model.generator))
