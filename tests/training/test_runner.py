"""Runner features: several cases → one run each + one table; precision, strategy, XLA, EMA, determinism."""

import json

import keras
import numpy as np
import pytest

from tfganad.config import recipe_from_dict
from tfganad.models import EGBAD
from tfganad.training.runner import precision_policy, run

TINY = {
    "name": "tiny_cases",
    "model": {"name": "egbad", "latent_dim": 8, "filters": 4, "dense_units": 16},
    "data": {"source": "digits", "anomalous_class": 1, "image_size": 16, "max_test_samples": 100},
    "train": {"epochs": 1, "steps_per_epoch": 2, "batch_size": 16, "verbose": 0},
    "export": {"enabled": False, "keras_file": False},
}


def test_each_case_is_its_own_run_with_one_results_table(tmp_path):
    raw = dict(TINY, cases=["case1", "case8"], output_dir=str(tmp_path))
    out = run(recipe_from_dict(raw), echo=lambda *_: None)
    run_dir = tmp_path / out["run_dir"].split("/")[-1]
    assert [r["case"] for r in out["results"]] == ["case1", "case8"]
    for case in ("case1", "case8"):
        assert (run_dir / case / "logs" / "train").is_dir()
        summary = json.loads((run_dir / case / "metrics.json").read_text())
        assert summary["case"] == case
    assert json.loads((run_dir / "case8" / "metrics.json").read_text())["score"] == "fm"
    # Both AUPRC forms, named: average precision and the survey's trapezoidal auc(recall, precision).
    assert {"auprc", "auprc_trapz"} <= set(summary["metrics"]) and {"auprc", "auprc_trapz"} <= set(out["results"][0])
    assert {"auprc", "auprc_trapz"} <= set(summary["metrics_by_score"]["bce"])
    assert len((run_dir / "results.csv").read_text().splitlines()) == 3


def test_selection_on_test_labels_is_marked(tmp_path):
    raw = dict(TINY, output_dir=str(tmp_path), train=dict(TINY["train"], selection="test_auroc", epochs=2))
    out = run(recipe_from_dict(raw), echo=lambda *_: None)
    assert out["results"][0]["selected_on_test"] is True


def _fit_tiny(x, **compile_kw):
    model = EGBAD(**EGBAD.small_config(x.shape[1:]))
    model.compile(learning_rate=1e-3, **compile_kw)
    model.fit(x, epochs=1, batch_size=8, verbose=0)
    return model


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


def test_same_seed_same_scores(tiny_images):
    def once():
        keras.utils.set_random_seed(3)
        return _fit_tiny(tiny_images[:16], run_eagerly=True).predict(tiny_images, verbose=0)

    np.testing.assert_array_equal(once(), once())


def test_compile_rejects_unknown_players_and_fit_needs_compile(tiny_images):
    from tfganad.errors import ConfigError

    model = EGBAD(**EGBAD.small_config(tiny_images.shape[1:]))
    with pytest.raises(ConfigError, match="valid: d_optimizer, g_optimizer, e_optimizer"):
        model.compile(q_optimizer="adam")
    model.compile(d_optimizer=keras.optimizers.SGD(0.1), g_optimizer="adam")
    assert isinstance(model.d_optimizer, keras.optimizers.SGD)
    assert isinstance(model.e_optimizer, keras.optimizers.Adam)


def test_gan_run_writes_test_scores_for_the_report(tmp_path):
    import pathlib

    from tfganad.reporting.figures import _scores_for
    from tfganad.training import metrics as M

    out = run(recipe_from_dict(dict(TINY, output_dir=str(tmp_path))), echo=lambda *_: None)
    run_dir, summary = pathlib.Path(out["run_dir"]), out["summaries"][0]
    with np.load(run_dir / "test_scores.npz") as saved:
        assert set(saved.files) == {"y_true", "residual", "bce", "fm"}  # labels + every EGBAD component
        assert saved["y_true"].shape == (100,) and set(np.unique(saved["y_true"])) == {0, 1}
        for name, m in summary["metrics_by_score"].items():
            assert M.auroc(saved["y_true"], saved[name]) == pytest.approx(m["auroc"])
    # What tfganad-report reads for its ROC/PR overlays.
    y, scores = _scores_for({"run_dir": run_dir.name, "score": summary["score"]}, run_dir.parent)
    assert M.auroc(y, scores) == pytest.approx(summary["metrics"]["auroc"])
