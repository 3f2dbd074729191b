"""`anomaly_map(x)` of every image model: shape, definition per paper, and the SavedModel endpoint."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import tfganad
from tfganad.export import export_saved_model
from tfganad.scores.maps import feature_map, residual_map
from tfganad.search import initial_latents

IMAGE_MODELS = [n for n in tfganad.available_models()
                if not getattr(tfganad.get_model_class(n), "is_baseline", False)
                and "image" in getattr(tfganad.get_model_class(n), "input_kinds", ("image", "tabular"))]


def _small(name, x, **extra):
    cls = tfganad.get_model_class(name)
    return cls(**{**cls.small_config(x.shape[1:]), **extra})


def test_residual_map_and_feature_map_by_hand():
    x = np.zeros((1, 2, 2, 2), np.float32)
    x_hat = np.array([[[[1, 3], [0, 0]], [[-2, 0], [0.5, 0.5]]]], np.float32)
    np.testing.assert_allclose(residual_map(x, x_hat).numpy(), [[[2.0, 0.0], [1.0, 0.5]]])
    real = np.zeros((1, 1, 1, 2), np.float32)
    fake = np.array([[[[1.0, 3.0]]]], np.float32)
    # mean over channels of (0-1)², (0-3)² = 5, resized from 1×1 to 3×3: 5 everywhere.
    np.testing.assert_allclose(feature_map(real, fake, (3, 3)).numpy(), np.full((1, 3, 3), 5.0))


@pytest.mark.parametrize("name", IMAGE_MODELS)
def test_every_image_model_has_a_map(name, tiny_images):
    model = _small(name, tiny_images)
    maps = model.anomaly_maps(tiny_images[:3])
    assert "residual" in maps
    for m in maps.values():
        m = np.asarray(m)
        assert m.shape == (3, 16, 16) and np.all(np.isfinite(m)) and np.all(m >= 0)
    np.testing.assert_allclose(np.asarray(model.anomaly_map(tiny_images[:3])), np.asarray(maps[model.map_name]))
    # One sample's map does not depend on its batch.
    np.testing.assert_allclose(np.asarray(model.anomaly_map(tiny_images[1:2]))[0], np.asarray(maps["residual"])[1],
                               rtol=1e-4, atol=1e-5)


def test_tabular_model_has_no_map(tiny_rows):
    model = _small("egbad", tiny_rows)
    assert model.anomaly_maps(tiny_rows[:2]) == {} and model.anomaly_map(tiny_rows[:2]) is None


def test_egbad_map_sums_to_its_l1_residual_score(tiny_images):
    model = _small("egbad", tiny_images)
    x = tiny_images[:4]
    amap = np.asarray(model.anomaly_map(x))
    rec = np.asarray(model.reconstruct(x))
    np.testing.assert_allclose(amap, np.abs(x - rec).mean(-1), rtol=1e-6, atol=1e-6)
    residual = np.asarray(model.score_components(x)["residual"])
    np.testing.assert_allclose(amap.sum((1, 2)) * x.shape[-1], residual, rtol=1e-5)


def test_anogan_map_is_the_search_residual(tiny_images):
    model = _small("anogan", tiny_images)
    x = tiny_images[:3]
    x_hat = np.asarray(model.search(x)["x_hat"])
    np.testing.assert_allclose(np.asarray(model.anomaly_map(x)), np.abs(x - x_hat).mean(-1), rtol=1e-5, atol=1e-6)


def test_adgan_map_is_the_mean_search_residual_over_seeds(tiny_images):
    # With no search step the generators are the trained one and z_j the seeded starting points.
    model = _small("adgan", tiny_images, search_steps=0)
    x = tiny_images[:2]
    z = initial_latents(model.seed, (model.n_seed, model.latent_dim))
    g = np.asarray(model.generator(z, training=False))  # (n_seed, H, W, C)
    expected = np.mean([np.abs(x - g[j][None]).mean(-1) for j in range(model.n_seed)], axis=0)
    np.testing.assert_allclose(np.asarray(model.anomaly_map(x)), expected, rtol=1e-5, atol=1e-6)


def test_ganomaly_feature_map_uses_the_spatial_discriminator_features(tiny_images):
    model = _small("ganomaly", tiny_images)
    x = tiny_images[:2]
    x_hat = model.reconstruct(x)
    _, f_real = model.discriminator(x)
    _, f_fake = model.discriminator(x_hat)
    assert len(f_real.shape) == 4
    coarse = np.mean((np.asarray(f_real) - np.asarray(f_fake)) ** 2, axis=-1, keepdims=True)
    expected = tf.image.resize(coarse, (16, 16), method="bilinear").numpy()[..., 0]
    np.testing.assert_allclose(np.asarray(model.anomaly_maps(x)["feature"]), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["egbad", "ganomaly", "anogan"])  # default, override, latent search
def test_saved_model_anomaly_map_equals_model(name, tiny_images, tmp_path):
    model = _small(name, tiny_images)
    path = export_saved_model(model, tmp_path / "export", name=name)
    loaded = tf.saved_model.load(str(path))
    x = tiny_images[:5]
    served = loaded.signatures["anomaly_map"](x=tf.constant(x))["anomaly_map"].numpy()
    np.testing.assert_allclose(served, np.asarray(model.anomaly_map(x)), rtol=1e-5, atol=1e-5)
