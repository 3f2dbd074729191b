"""Throughput settings: steps_per_execution (same training as one step per call) and the bf16 guard."""

import logging

import numpy as np
import pytest

from tfganad.config import recipe_from_dict
from tfganad.errors import ConfigError
from tfganad.models import ALAD, EGBAD
from tfganad.training import performance as P
from tfganad.training import runner


def _trained_weights(x, spe, ema=None):
    import keras

    keras.utils.set_random_seed(0)
    model = EGBAD(**EGBAD.small_config(x.shape[1:]))
    model.compile(learning_rate=1e-3, steps_per_execution=spe, ema_momentum=ema)
    # 5 batches of 6: with spe=2 the last call of the epoch holds a single step.
    model.fit(x[:30], epochs=2, batch_size=6, shuffle=False, verbose=0)
    return model


def test_steps_per_execution_trains_the_same_weights_as_one_step_per_call(tiny_rows):
    one = _trained_weights(tiny_rows, 1, ema=0.9)
    two = _trained_weights(tiny_rows, 2, ema=0.9)
    assert int(two.d_optimizer.iterations.numpy()) == int(one.d_optimizer.iterations.numpy()) == 10
    for a, b in zip(one.weights, two.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-6, err_msg=a.path)
    # The compiled EMA swap exchanges exactly the same values both ways.
    before = [v.numpy().copy() for v in two.trainable_variables]
    two.swap_ema_weights()
    one.swap_ema_weights()
    for a, b in zip(one.weights, two.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-6)
    two.swap_ema_weights()
    for v, b in zip(two.trainable_variables, before):
        np.testing.assert_array_equal(v.numpy(), b)


def test_auto_steps_per_execution_groups_small_mlps_and_keeps_one_for_conv():
    mlp = ALAD(input_shape=(12,), latent_dim=4, architecture="kdd")
    conv = EGBAD(**EGBAD.small_config((16, 16, 1)))
    assert P.auto_steps_per_execution(conv, 64, 500) == 1
    assert P.auto_steps_per_execution(mlp, 50, 3569) == P.MAX_STEPS_PER_EXECUTION
    assert P.auto_steps_per_execution(mlp, 50, 6) == 6  # never more than an epoch
    # A given steps_per_epoch is split into whole calls (Keras would run extra steps otherwise).
    assert P.resolve_steps_per_execution("auto", mlp, 50, 250, steps_per_epoch_given=True) == 50
    assert P.resolve_steps_per_execution("auto", mlp, 50, 101, steps_per_epoch_given=True) == 1
    assert P.resolve_steps_per_execution(4, mlp, 50, 10, steps_per_epoch_given=False) == 4
    with pytest.raises(ConfigError, match="does not divide"):
        P.resolve_steps_per_execution(4, mlp, 50, 10, steps_per_epoch_given=True)


@pytest.mark.parametrize("bad", [0, -2, "fast", 1.5, True])
def test_recipe_rejects_bad_steps_per_execution(bad):
    raw = {"model": {"name": "egbad"}, "train": {"steps_per_execution": bad}}
    with pytest.raises(ConfigError, match="steps_per_execution"):
        recipe_from_dict(raw)
    assert recipe_from_dict({"model": {"name": "egbad"}, "train": {"steps_per_execution": "auto"}}) \
        .train.steps_per_execution == "auto"


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    x86 = tmp_path / "x86"
    x86.write_text("processor\t: 0\nflags\t\t: fpu avx2 fma avx512f avx512_bf16\n\nprocessor\t: 1\n")
    arm = tmp_path / "arm"
    arm.write_text("processor\t: 0\nFeatures\t: fp asimd sve bf16\n")
    zen3 = tmp_path / "zen3"
    zen3.write_text("flags\t\t: fpu sse avx avx2 fma\n")
    assert P.cpu_has_bf16(P.cpu_flags(str(x86)))
    assert P.cpu_has_bf16(P.cpu_flags(str(arm)))
    assert not P.cpu_has_bf16(P.cpu_flags(str(zen3)))
    assert P.cpu_flags(str(tmp_path / "missing")) == set()


def test_bf16_guard_warns_once_on_a_cpu_without_bf16(monkeypatch, caplog):
    monkeypatch.setattr(P, "_warned", set())
    monkeypatch.setattr(P, "cpu_flags", lambda cpuinfo="/proc/cpuinfo": {"avx2", "fma"})
    monkeypatch.setattr(runner.tf.config, "list_physical_devices", lambda kind=None: [])
    # auto never picks bf16, whatever the CPU.
    assert runner.resolve_precision("auto", warn=True) == "float32"
    with caplog.at_level(logging.WARNING, logger="tfganad"):
        assert runner.resolve_precision("mixed_bfloat16", warn=True) == "mixed_bfloat16"
        runner.resolve_precision("mixed_bfloat16", warn=True)
    warnings = [r for r in caplog.records if "bf16" in r.getMessage()]
    assert len(warnings) == 1 and "6.6x slower" in warnings[0].getMessage()
    # No warning with bf16 instructions, with a GPU, or for other policies.
    assert P.check_bf16("mixed_bfloat16", False, {"avx512_bf16"}) is None
    assert P.check_bf16("mixed_bfloat16", True, {"avx2"}) is None
    assert P.check_bf16("float32", False, {"avx2"}) is None
    monkeypatch.setattr(P, "cpu_flags", lambda cpuinfo="/proc/cpuinfo": {"avx512_bf16", "amx_bf16"})
    monkeypatch.setattr(P, "_warned", set())
    assert runner.resolve_precision("auto") == "float32"
    assert P.check_bf16("mixed_bfloat16", False) is None


def test_runner_auto_steps_per_execution_gives_the_same_scores(tmp_path):
    """Through the runner (EMA swaps, validation, NaN guard, backups): auto (> 1 here) scores like 1."""
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "rows.npz", x=rng.normal(size=(120, 6)).astype(np.float32), y=np.arange(120) % 4)
    raw = {"model": {"name": "egbad", "latent_dim": 4, "case": "case1"},
           "data": {"source": "npz", "path": str(tmp_path / "rows.npz"), "anomalous_class": 3},
           "train": {"epochs": 2, "batch_size": 8, "ema_momentum": 0.9, "verbose": 0, "backup_every": 1},
           "export": {"enabled": False, "keras_file": False}}
    from tfganad.data import load_data

    scores = {}
    for spe in (1, "auto"):
        recipe = recipe_from_dict(dict(raw, train=dict(raw["train"], steps_per_execution=spe)))
        data = load_data(recipe.data, recipe.seed)
        summary = runner.train_case(recipe, data, tmp_path / str(spe))
        scores[spe] = (summary["steps_per_execution"], np.load(tmp_path / str(spe) / "test_scores.npz"))
    assert scores[1][0] == 1 and scores["auto"][0] > 1
    for key in scores[1][1].files:
        np.testing.assert_allclose(scores["auto"][1][key], scores[1][1][key], rtol=1e-5, atol=1e-6, err_msg=key)


def test_auto_threads_give_row_models_one_thread_per_op_and_images_the_defaults():
    assert P.auto_threads(rows=True, cores=2) == (1, 2)
    assert P.auto_threads(rows=True, cores=16) == (1, 16)
    assert P.auto_threads(rows=False, cores=2) == (0, 0)
    assert P.auto_threads(rows=True, cores=2, has_gpu=True) == (0, 0)


@pytest.mark.parametrize("key,bad", [("intra_op_threads", -1), ("inter_op_threads", "many"),
                                     ("intra_op_threads", 1.5), ("inter_op_threads", True)])
def test_recipe_rejects_bad_thread_counts(key, bad):
    with pytest.raises(ConfigError, match=f"train.{key}"):
        recipe_from_dict({"model": {"name": "egbad"}, "data": {"source": "digits"}, "train": {key: bad}})


_THREADS_CHILD = r"""
import logging, sys
logging.basicConfig(level=logging.WARNING, stream=sys.stdout, format="%(levelname)s %(message)s")
from tfganad.training.performance import configure_threads
import tensorflow as tf
print("rows", configure_threads("auto", "auto", rows=True))
print("applied", tf.config.threading.get_intra_op_parallelism_threads(),
      tf.config.threading.get_inter_op_parallelism_threads())
tf.constant(1.0) + 1.0  # TensorFlow now runs: the pools are fixed
print("later", configure_threads(2, 2, rows=False))
print("again", configure_threads(2, 2, rows=False))
"""


def test_configure_threads_sets_the_pools_before_tensorflow_runs_and_warns_once_after(tmp_path):
    import os
    import subprocess
    import sys

    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run([sys.executable, "-c", _THREADS_CHILD], capture_output=True, text=True, env=env,
                         timeout=120, check=True).stdout
    cores = os.cpu_count()
    assert f"rows (1, {cores})" in out
    assert f"applied 1 {cores}" in out
    assert f"later (1, {cores})" in out and f"again (1, {cores})" in out
    assert out.count("WARNING train.intra_op_threads/inter_op_threads") == 1, out
    assert "stay (1, 2) instead of (2, 2)" in out or cores != 2


_RUNNER_CHILD = r"""
import json, pathlib, sys
import numpy as np
from tfganad.config import recipe_from_dict
from tfganad.training import runner
tmp = pathlib.Path(sys.argv[1])
rng = np.random.default_rng(0)
np.savez(tmp / "rows.npz", x=rng.normal(size=(60, 5)).astype(np.float32), y=np.arange(60) % 4)
raw = {"model": {"name": "egbad", "latent_dim": 2, "case": "case1"},
       "data": {"source": "npz", "path": str(tmp / "rows.npz"), "anomalous_class": 3},
       "train": {"epochs": 1, "batch_size": 8, "verbose": 0}, "export": {"enabled": False, "keras_file": False}}
out = runner.run(recipe_from_dict(raw), run_dir=tmp / "run", echo=lambda *a: None)
print("THREADS", json.dumps(out["summaries"][0]["cpu_threads"]))
"""


def test_runner_sets_auto_threads_for_rows_before_tensorflow_runs(tmp_path):
    """In a fresh process the runner applies `auto` before its first op, so a row model trains with
    one thread per op (the pools cannot change once an op ran: a wrong order would silently keep them)."""
    import json
    import os
    import subprocess
    import sys

    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run([sys.executable, "-c", _RUNNER_CHILD, str(tmp_path)], capture_output=True, text=True,
                         env=env, timeout=300, check=True).stdout
    line = [x for x in out.splitlines() if x.startswith("THREADS ")][0]
    assert json.loads(line[len("THREADS "):]) == [1, os.cpu_count()]
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["cpu_threads"] == [1, os.cpu_count()]
