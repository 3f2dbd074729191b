"""train.strategy multiworker: two local worker processes on loopback train one model in sync."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from tfganad.distributed import is_chief, tf_config
from tfganad.errors import ConfigError

RECIPE = {
    "name": "mw", "seed": 0,
    "model": {"name": "egbad", "latent_dim": 8, "filters": 4, "dense_units": 16, "case": "case1"},
    "data": {"source": "digits", "anomalous_class": 0, "image_size": 16, "max_test_samples": 60},
    "train": {"epochs": 2, "steps_per_epoch": 2, "batch_size": 8, "verbose": 0, "selection": "last",
              "strategy": "multiworker", "run_eagerly": True, "eval_every": 2},
    "evaluation": {"image_grid": 4},
    "export": {"enabled": False, "keras_file": True},
}

WORKER = """
import json, sys
from tfganad.config import recipe_from_dict
from tfganad.training.runner import run
out = run(recipe_from_dict(json.loads(sys.argv[1])), run_dir=sys.argv[2], echo=lambda *a: None)
from tfganad.distributed import multiworker_strategy
print("REPLICAS=%d" % multiworker_strategy().num_replicas_in_sync)
print("RUN_DIR=" + out["run_dir"])
"""


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def test_chief_is_worker_zero(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert is_chief() and tf_config() == {}
    cluster = {"worker": ["a:1", "b:1"]}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 1}}))
    assert not is_chief()
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 0}}))
    assert is_chief()
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"chief": ["c:1"], **cluster},
                                                "task": {"type": "worker", "index": 0}}))
    assert not is_chief()
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ConfigError, match="TF_CONFIG"):
        tf_config()


def test_two_workers_on_loopback_finish_with_identical_weights(tmp_path):
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    chief_dir = tmp_path / "run"
    procs = []
    for index in range(2):
        (tmp_path / f"tmp{index}").mkdir()
        env = dict(os.environ, TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
                   TF_CPP_MIN_LOG_LEVEL="2", TMPDIR=str(tmp_path / f"tmp{index}"), CUDA_VISIBLE_DEVICES="")
        procs.append(subprocess.Popen([sys.executable, "-c", WORKER, json.dumps(RECIPE), str(chief_dir)], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outputs = []
    try:
        for p in procs:
            outputs.append(p.communicate(timeout=300)[0])
    except subprocess.TimeoutExpired:
        for p in procs:
            p.kill()
        pytest.fail("the two workers did not finish within 300 s (collective ops hung?)")
    text = "\n".join(outputs)
    if any(p.returncode for p in procs) and ("Collective" in text or "UNIMPLEMENTED" in text):
        pytest.skip(f"collective ops are unavailable on this TensorFlow build: {text.strip().splitlines()[-1]}")
    assert all(p.returncode == 0 for p in procs), text[-3000:]
    assert all("REPLICAS=2" in out for out in outputs), text[-3000:]
    run_dirs = [out.split("RUN_DIR=")[1].split()[0] for out in outputs]
    # Only the chief (worker 0) writes the shared run directory; worker 1 wrote to its private temp dir.
    assert run_dirs[0] == str(chief_dir)
    assert run_dirs[1].startswith(str(tmp_path / "tmp1"))
    import keras

    import tfganad  # noqa: F401  (registers the model classes)

    models = [keras.models.load_model(os.path.join(d, "model.keras")) for d in run_dirs]
    assert len(models[0].weights) == len(models[1].weights) > 0
    # Every trainable weight is identical: gradients are all-reduced and both workers apply the same update.
    pairs = list(zip(models[0].trainable_weights, models[1].trainable_weights))
    assert len(pairs) > 10
    differ = [a.path for a, b in pairs if not np.array_equal(a, b)]
    assert not differ, differ
    # Keras 3 keeps BatchNormalization moving statistics per replica (synchronized=False), so they and
    # the calibration fitted with them may differ slightly; only the chief's copy is kept.
    others = [a.path for a, b in zip(models[0].non_trainable_weights, models[1].non_trainable_weights)
              if not np.array_equal(a, b)]
    calibration = ("score_offset", "score_scale", "threshold")
    assert all("moving_" in p or p.split("/")[-1] in calibration for p in others), others
    summary = json.loads((chief_dir / "metrics.json").read_text())
    assert summary["epochs_run"] == 2 and np.isfinite(summary["metrics"]["auroc"])
