"""ADGAN (Deecke et al. 2018, Algorithm 1): multi-seed search with private, reset generator copies."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tfganad.errors import ConfigError
from tfganad.models.adgan import ADGAN
from tfganad.search import initial_latents


def _model(**kw):
    args = dict(input_shape=(16, 16, 1), latent_dim=5, filters=4, n_seed=3, search_steps=3,
                generator_learning_rate=0.01, search_batch_size=4)
    args.update(kw)
    model = ADGAN(**args)
    model.compile(run_eagerly=True)
    return model


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).uniform(-1, 1, (5, 16, 16, 1)).astype("float32")


def _reference_score(model, x):
    """Algorithm 1 written out: a loop over seeds, the real Keras generator holding copy θ_j, Adam by hand."""
    trained = [v.numpy() for v in model.generator.trainable_variables]
    seeds = initial_latents(model.seed, (model.n_seed, model.latent_dim))
    b1, b2, eps = model.search_beta_1, model.search_beta_2, model.search_epsilon
    finals = []
    for j in range(model.n_seed):
        for v, w in zip(model.generator.trainable_variables, trained):
            v.assign(w)  # θ_{j,0} = θ
        z = tf.Variable(seeds[j:j + 1])
        params = [z] + list(model.generator.trainable_variables)
        rates = [model.search_learning_rate] + [model.generator_learning_rate] * (len(params) - 1)
        m = [np.zeros(p.shape, np.float32) for p in params]
        v2 = [np.zeros(p.shape, np.float32) for p in params]
        for t in range(1, model.search_steps + 1):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(tf.square(x[None] - model.generator(z, training=False)))
            grads = tape.gradient(loss, params)
            for i, (p, g) in enumerate(zip(params, grads)):
                g = g.numpy()
                m[i] = b1 * m[i] + (1 - b1) * g
                v2[i] = b2 * v2[i] + (1 - b2) * g * g
                step = rates[i] * (m[i] / (1 - b1 ** t)) / (np.sqrt(v2[i] / (1 - b2 ** t)) + eps)
                p.assign(p.numpy() - step)
        finals.append(float(tf.reduce_sum(tf.square(x[None] - model.generator(z, training=False)))))
    for v, w in zip(model.generator.trainable_variables, trained):
        v.assign(w)
    return float(np.mean(finals))


def test_batched_search_equals_algorithm_1_written_as_a_loop(images):
    model = _model()
    scores = model.anomaly_score(images[:2]).numpy()
    for i in range(2):
        assert scores[i] == pytest.approx(_reference_score(model, images[i]), rel=1e-4)


def test_generator_copies_are_reset_for_every_test_point(images):
    model = _model()
    before = [v.numpy().copy() for v in model.generator.weights]
    first = model.anomaly_score(images[:1]).numpy()
    second = model.anomaly_score(images[:1]).numpy()
    assert first[0] == second[0]  # scoring the same point twice: the copies restart from θ
    for b, v in zip(before, model.generator.weights):
        np.testing.assert_array_equal(b, v.numpy())  # the trained generator is never modified


def test_a_score_does_not_depend_on_batch_mates_or_chunking(images):
    model = _model()
    alone = model.anomaly_score(images[1:2]).numpy()
    batch = model.anomaly_score(np.concatenate([images[:1], images[1:2], 20 * images[2:3]])).numpy()
    np.testing.assert_allclose(batch[1], alone[0], rtol=1e-5)
    model.search_batch_size = 2  # 3 points → chunks of 2 and 1 (zero-padded)
    np.testing.assert_allclose(model.anomaly_score(np.concatenate([images[:1], images[1:2], 20 * images[2:3]])).numpy(),
                               batch, rtol=1e-5)


def test_adapting_the_generator_changes_the_score_and_zero_rate_searches_z_only(images):
    adapted = _model(generator_learning_rate=0.05)
    fixed = _model(generator_learning_rate=0.0)
    for a, b in zip(adapted.weights, fixed.weights):
        b.assign(a)
    s_adapted = adapted.anomaly_score(images[:2]).numpy()
    s_fixed = fixed.anomaly_score(images[:2]).numpy()
    assert np.all(s_adapted < s_fixed)  # the private copies add representational capacity (§3.1)
    adapted.generator_learning_rate = 0.0
    np.testing.assert_allclose(adapted.anomaly_score(images[:2]).numpy(), s_fixed, rtol=1e-4)


def test_score_components_and_paper_defaults(images):
    model = _model()
    out = model.score_components(images[:2])
    assert np.all(out["best_seed"].numpy() <= out["score"].numpy())
    paper = ADGAN(input_shape=(16, 16, 1), filters=4)
    assert (paper.latent_dim, paper.n_seed, paper.search_steps, paper.search_learning_rate,
            paper.generator_learning_rate, paper.search_beta_1, paper.adversarial_loss, paper.critic_steps) == (
        256, 64, 5, 0.25, 5e-5, 0.5, "wgan", 5)


def test_exported_style_graph_scoring_equals_eager(images):
    model = _model()
    fn = tf.function(model.anomaly_score, input_signature=[tf.TensorSpec((None, 16, 16, 1), tf.float32)])
    np.testing.assert_allclose(fn(images).numpy(), model.anomaly_score(images).numpy(), rtol=1e-4)


@pytest.mark.parametrize("kwargs", [{"n_seed": 0}, {"search_steps": -1}, {"search_learning_rate": 0.0},
                                    {"generator_learning_rate": -1e-5}, {"search_batch_size": 0}])
def test_invalid_arguments_raise_config_error(kwargs):
    with pytest.raises(ConfigError):
        ADGAN(input_shape=(16, 16, 1), latent_dim=4, filters=4, **kwargs)
