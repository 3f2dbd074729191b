"""tfganad.models.base.AdversarialDetector: build, calibration and serving, compile, EMA weights, training modes.

Every registered model's contract (scores, save/load, export) is tests/models/test_all_models.py; these
are the base class's own features, on a tiny EGBAD.
"""

import keras
import numpy as np
import pytest

from tfganad.models import EGBAD
from tfganad.training.runner import precision_policy


def _fit_tiny(x, **compile_kw):
    model = EGBAD(**EGBAD.small_config(x.shape[1:]))
    model.compile(learning_rate=1e-3, **compile_kw)
    model.fit(x, epochs=1, batch_size=8, verbose=0)
    return model


def test_build_from_sample_builds_once_without_training(tiny_rows):
    model = EGBAD(**EGBAD.small_config(tiny_rows.shape[1:]))
    assert not model.built
    assert model.build_from_sample() is model  # no sample: zeros of the input shape
    assert model.built and model.weights
    before = [v.numpy().copy() for v in model.weights]
    assert model.build_from_sample(tiny_rows) is model  # built already: nothing changes
    assert all(np.array_equal(a, v.numpy()) for a, v in zip(before, model.weights))
    assert model.predict(tiny_rows[:5], verbose=0).shape == (5,)


def test_set_calibration_drives_serve_and_a_non_finite_row_is_flagged(tiny_rows):
    model = EGBAD(**EGBAD.small_config(tiny_rows.shape[1:])).build_from_sample()
    raw = model.anomaly_score(tiny_rows).numpy()
    threshold = float(np.median(raw))
    model.set_calibration(offset=1.5, scale=4.0, threshold=threshold)
    assert [float(w.numpy()) for w in (model.score_offset, model.score_scale, model.threshold)] == [
        1.5, 4.0, pytest.approx(threshold)]
    out = {k: v.numpy() for k, v in model.serve(tiny_rows).items()}
    np.testing.assert_allclose(out["anomaly_score"], raw, rtol=1e-6)
    np.testing.assert_allclose(out["normalized_score"], (raw - 1.5) / 4.0, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(out["is_anomaly"], (raw > np.float32(threshold)).astype(np.int32))
    assert 0 < out["is_anomaly"].sum() < len(raw)
    # A row with a NaN is anomalous (never scored as normal) and leaves the other rows' scores alone.
    bad = tiny_rows.copy()
    bad[3, 0] = np.nan
    got = {k: v.numpy() for k, v in model.serve(bad).items()}
    assert got["anomaly_score"][3] == np.inf and got["normalized_score"][3] == 1 and got["is_anomaly"][3] == 1
    keep = np.arange(len(raw)) != 3
    np.testing.assert_allclose(got["anomaly_score"][keep], raw[keep], rtol=1e-6)


def test_has_ema_only_with_an_ema_optimizer(tiny_rows):
    model = EGBAD(**EGBAD.small_config(tiny_rows.shape[1:]))
    model.compile(learning_rate=1e-3)
    model.fit(tiny_rows[:16], epochs=1, batch_size=8, verbose=0)
    assert not model.has_ema()
    before = [v.numpy().copy() for v in model.trainable_variables]
    model.finalize_ema()  # no averages: a no-op
    with model.ema_weights():
        assert all(np.array_equal(a, v.numpy()) for a, v in zip(before, model.trainable_variables))


def test_ema_weights_swap_is_an_involution_and_finalize_uses_averages(tiny_images):
    model = _fit_tiny(tiny_images[:16], run_eagerly=True, ema_momentum=0.9)
    assert model.has_ema()
    before = [v.numpy().copy() for v in model.generator.trainable_variables]
    with model.ema_weights():
        ema = [v.numpy().copy() for v in model.generator.trainable_variables]
    after = [v.numpy() for v in model.generator.trainable_variables]
    assert all(np.array_equal(a, b) for a, b in zip(before, after))
    assert any(not np.array_equal(a, b) for a, b in zip(before, ema))
    model.finalize_ema()
    assert all(np.array_equal(a, v.numpy()) for a, v in zip(ema, model.generator.trainable_variables))


def test_compile_rejects_unknown_players_and_fit_needs_compile(tiny_images):
    from tfganad.errors import ConfigError

    model = EGBAD(**EGBAD.small_config(tiny_images.shape[1:]))
    with pytest.raises(ConfigError, match="valid: d_optimizer, g_optimizer, e_optimizer"):
        model.compile(q_optimizer="adam")
    model.compile(d_optimizer=keras.optimizers.SGD(0.1), g_optimizer="adam")
    assert isinstance(model.d_optimizer, keras.optimizers.SGD)
    assert isinstance(model.e_optimizer, keras.optimizers.Adam)


def test_same_seed_same_scores(tiny_images):
    def once():
        keras.utils.set_random_seed(3)
        return _fit_tiny(tiny_images[:16], run_eagerly=True).predict(tiny_images, verbose=0)

    np.testing.assert_array_equal(once(), once())


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_trains_with_float32_losses_and_scores(tiny_images, policy):
    with precision_policy(policy):
        model = _fit_tiny(tiny_images[:16], run_eagerly=True)
        if policy == "mixed_float16":
            assert all(isinstance(o, keras.optimizers.LossScaleOptimizer) for o in model.player_optimizers.values())
        assert model.generator.layers[-1].compute_dtype == "float32"
        scores = model.predict(tiny_images[:4], verbose=0)
    assert scores.dtype == np.float32 and np.all(np.isfinite(scores))
    assert all(np.all(np.isfinite(v.numpy())) for v in model.trainable_variables)


def test_mirrored_strategy_on_one_cpu_replica(tiny_images):
    import tensorflow as tf

    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    with strategy.scope():
        model = EGBAD(**EGBAD.small_config(tiny_images.shape[1:]))
        model.compile(learning_rate=1e-3)
    model.fit(tiny_images[:16], epochs=1, batch_size=8, verbose=0)
    assert np.all(np.isfinite(model.predict(tiny_images[:4], verbose=0)))


def test_xla_graph_step_smoke(tiny_images):
    model = _fit_tiny(tiny_images[:16], jit_compile=True)
    assert np.all(np.isfinite(model.predict(tiny_images[:4], verbose=0)))
