"""The batched latent-search engine: per-sample Adam, schedules, independence, chunking."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfganad.errors import ConfigError
from tfganad.search import adam_update, initial_latents, latent_search, map_chunks, piecewise_learning_rate


def test_adam_update_hand_computed():
    # t = 1, g = 0.5: m = 0.05, v = 0.00025, m̂ = 0.5, v̂ = 0.25, step = α·0.5/0.5 = α.
    p, m, v = adam_update(tf.constant([1.0]), tf.constant([0.5]), tf.zeros(1), tf.zeros(1), 1, 0.1)
    np.testing.assert_allclose([p.numpy()[0], m.numpy()[0], v.numpy()[0]], [0.9, 0.05, 0.00025], rtol=1e-6)
    # t = 2, g = −1: m = 0.045 − 0.1 = −0.055, v = 0.00025·0.999 + 0.001 = 0.00124975.
    p, m, v = adam_update(p, tf.constant([-1.0]), m, v, 2, 0.1)
    m_hat, v_hat = -0.055 / (1 - 0.9 ** 2), 0.00124975 / (1 - 0.999 ** 2)
    np.testing.assert_allclose(p.numpy()[0], 0.9 - 0.1 * m_hat / (np.sqrt(v_hat) + 1e-8), rtol=1e-6)


def test_adam_update_matches_keras_adam_per_element():
    rng = np.random.default_rng(0)
    grads = rng.normal(size=(6, 3, 4)).astype("float32")
    var = keras.Variable(np.ones((3, 4), "float32"))
    opt = keras.optimizers.Adam(learning_rate=0.05, beta_1=0.5, beta_2=0.99, epsilon=1e-12)
    p, m, v = tf.ones((3, 4)), tf.zeros((3, 4)), tf.zeros((3, 4))
    for t, g in enumerate(grads, start=1):
        opt.apply_gradients([(tf.constant(g), var)])
        p, m, v = adam_update(p, tf.constant(g), m, v, t, 0.05, 0.5, 0.99, 1e-12)
    np.testing.assert_allclose(p.numpy(), var.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("step,expected", [(0, 0.01), (299, 0.01), (300, 0.001), (399, 0.001), (400, 0.0005),
                                           (499, 0.0005)])
def test_piecewise_learning_rate_matches_the_egbad_anogan_schedule(step, expected):
    lr = piecewise_learning_rate(tf.constant(step), [300, 400], [0.01, 0.001, 0.0005])
    assert float(lr) == pytest.approx(expected)


def test_piecewise_learning_rate_rejects_bad_schedules():
    with pytest.raises(ConfigError, match="len\\(values\\)"):
        piecewise_learning_rate(0, [300], [0.1])
    with pytest.raises(ConfigError, match="increasing"):
        piecewise_learning_rate(0, [400, 300], [0.1, 0.2, 0.3])


def _quadratic(targets):
    return lambda p: tf.reduce_sum(tf.square(p[0] - targets), axis=1)


def test_latent_search_converges_per_sample():
    targets = tf.constant([[1.0, -2.0], [0.5, 3.0], [-4.0, 0.0]])
    (z,), loss = latent_search(_quadratic(targets), [tf.zeros((3, 2))], 400, [0.05])
    np.testing.assert_allclose(z.numpy(), targets.numpy(), atol=0.05)
    assert loss.shape == (3,) and float(tf.reduce_max(loss)) < 1e-2


def test_latent_search_with_zero_steps_returns_the_loss_at_the_start():
    targets = tf.constant([[1.0, 2.0]])
    (z,), loss = latent_search(_quadratic(targets), [tf.zeros((1, 2))], 0, [0.1])
    np.testing.assert_array_equal(z.numpy(), [[0.0, 0.0]])
    assert float(loss[0]) == pytest.approx(5.0)


def test_each_sample_has_its_own_optimizer_state():
    # Sample 0 alone vs next to a sample whose gradients are 10⁶ times larger: a shared z, a shared
    # second moment or a global gradient norm would change sample 0's trajectory; per-sample Adam does not.
    targets = tf.constant([[1.0, -1.0], [1e6, -1e6]])
    (alone,), loss_alone = latent_search(_quadratic(targets[:1]), [tf.zeros((1, 2))], 25, [0.1])
    (both,), loss_both = latent_search(_quadratic(targets), [tf.zeros((2, 2))], 25, [0.1])
    np.testing.assert_array_equal(both.numpy()[0], alone.numpy()[0])
    assert float(loss_both[0]) == float(loss_alone[0])
    # Adam's first steps have size ≈ α whatever the gradient scale: sample 1 moved by about 25·0.1.
    assert 2.0 < float(both[1, 0]) < 2.6


def test_latent_search_takes_a_schedule_and_several_params():
    seen = []

    def schedule(step):
        seen.append(True)
        return tf.where(step < 2, 0.1, 0.0)

    targets = tf.constant([[3.0]])
    (a, b), _ = latent_search(lambda p: tf.reduce_sum(tf.square(p[0] + p[1] - targets), axis=1),
                              [tf.zeros((1, 1)), tf.zeros((1, 1))], 5, [schedule, 0.0])
    # Two Adam steps of size ≈ 0.1 on a (then rate 0), none on b.
    assert float(a[0, 0]) == pytest.approx(0.2, rel=1e-3) and float(b[0, 0]) == 0.0
    assert seen


def test_latent_search_runs_in_one_graph():
    targets = tf.constant(np.random.default_rng(0).normal(size=(4, 3)).astype("float32"))

    @tf.function
    def run(z0):
        return latent_search(_quadratic(targets), [z0], 50, [0.1])[1]

    eager = latent_search(_quadratic(targets), [tf.zeros((4, 3))], 50, [0.1])[1]
    np.testing.assert_allclose(run(tf.zeros((4, 3))).numpy(), eager.numpy(), rtol=1e-6)
    graph = run.get_concrete_function(tf.zeros((4, 3))).graph.as_graph_def()
    ops = [node.op for node in graph.node] + [n.op for f in graph.library.function for n in f.node_def]
    assert any(op.endswith("While") for op in ops)  # the Γ steps are one loop op, not 50 unrolled copies


@pytest.mark.parametrize("chunk", [1, 3, 7, 100])
def test_map_chunks_equals_one_pass(chunk):
    x = tf.constant(np.arange(14, dtype="float32").reshape(7, 2))
    out = map_chunks(lambda c: {"s": tf.reduce_sum(c, axis=1), "c": 2 * c}, x, chunk,
                     {"s": tf.float32, "c": tf.float32})
    np.testing.assert_array_equal(out["s"].numpy(), x.numpy().sum(1))
    np.testing.assert_array_equal(out["c"].numpy(), 2 * x.numpy())


def test_map_chunks_with_a_dynamic_batch_in_a_graph():
    fn = tf.function(lambda x: map_chunks(lambda c: {"s": tf.reduce_sum(c, axis=1)}, x, 3, {"s": tf.float32}),
                     input_signature=[tf.TensorSpec((None, 2), tf.float32)])
    for n in (1, 3, 5):
        x = np.arange(2 * n, dtype="float32").reshape(n, 2)
        np.testing.assert_array_equal(fn(x)["s"].numpy(), x.sum(1))


def test_initial_latents_are_seeded_and_truncated():
    a = initial_latents(3, (500, 4), truncated=True)
    assert a.dtype == np.float32 and np.abs(a).max() <= 2.0
    np.testing.assert_array_equal(a, initial_latents(3, (500, 4), truncated=True))
    assert not np.array_equal(a, initial_latents(4, (500, 4), truncated=True))
    assert np.abs(initial_latents(3, (500, 4))).max() > 2.0
