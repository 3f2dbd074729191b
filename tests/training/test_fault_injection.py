"""A run SIGKILLed at every phase (mid-epoch, during a backup, during the report, during the export)
finishes with `--resume`: every epoch once in history.csv, a complete export, no partial file kept.

The kills are deterministic: the runner's test hook `TFGANAD_TEST_KILL_AT=PHASE[:EPOCH]`
(tfganad/training/io.py) SIGKILLs the process at that phase. One run is killed four times in a row.
"""

from __future__ import annotations

import csv
import json
import os
import pathlib
import signal
import subprocess
import sys

import numpy as np
import yaml

TINY = {
    "name": "tiny", "seed": 0,
    "model": {"name": "egbad", "latent_dim": 8, "filters": 4, "dense_units": 16, "adversarial_loss": "bce",
              "residual": True, "score": "bce"},
    "data": {"source": "digits", "anomalous_class": 0, "image_size": 16, "max_test_samples": 120},
    "train": {"epochs": 3, "steps_per_epoch": 2, "batch_size": 16, "verbose": 0},
    "evaluation": {"image_grid": 4},
}
CLI = [sys.executable, "-c", "from tfganad.cli.main import train; train()"]


def tfganad_train(args, kill_at=None):
    env = {k: v for k, v in os.environ.items() if k != "TFGANAD_TEST_KILL_AT"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    if kill_at:
        env["TFGANAD_TEST_KILL_AT"] = kill_at
    return subprocess.run(CLI + args, env=env, capture_output=True, text=True, timeout=600)


def epochs_in(history: pathlib.Path) -> list:
    with open(history, newline="") as fh:
        return [int(row["epoch"]) for row in csv.DictReader(fh)]


def test_kill_at_every_phase_then_resume_finishes(tmp_path):
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(yaml.safe_dump(TINY))
    runs = tmp_path / "runs"

    # 1. mid-epoch: killed during epoch 2, after epoch 1 was backed up
    first = tfganad_train([str(recipe), "--output-dir", str(runs)], kill_at="epoch:2")
    assert first.returncode == -signal.SIGKILL, first.stderr[-2000:]
    (run_dir,) = runs.iterdir()
    assert epochs_in(run_dir / "history.csv") == [0]

    # 2. during the backup of epoch 3: its weights are written, not yet committed
    second = tfganad_train(["--resume", str(run_dir)], kill_at="backup:3")
    assert second.returncode == -signal.SIGKILL, second.stderr[-2000:]
    meta = json.loads((run_dir / "backup" / "training_metadata.json").read_text())
    assert meta["epoch"] == 2 and (run_dir / "backup" / meta["weights"]).is_file()

    # 3. during the report (training finished and backed up)
    third = tfganad_train(["--resume", str(run_dir)], kill_at="report")
    assert third.returncode == -signal.SIGKILL, third.stderr[-2000:]
    assert not (run_dir / "metrics.json").exists()
    # A partial version folder as an earlier release's kill left it: resume must replace it.
    (run_dir / "saved_model" / "egbad" / "1" / "variables").mkdir(parents=True)

    # 4. during the export: the SavedModel is written aside, never published half-made
    fourth = tfganad_train(["--resume", str(run_dir)], kill_at="export")
    assert fourth.returncode == -signal.SIGKILL, fourth.stderr[-2000:]
    assert not (run_dir / "saved_model" / "egbad" / "1").exists()
    assert not (run_dir / "metrics.json").exists()

    from click.testing import CliRunner

    from tfganad.cli.main import train

    last = CliRunner().invoke(train, ["--resume", str(run_dir)])  # in-process: no fifth TensorFlow start-up
    assert last.exit_code == 0, last.output[-3000:]
    assert epochs_in(run_dir / "history.csv") == [0, 1, 2]  # every epoch once
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["epochs_run"] == 3
    version = run_dir / "saved_model" / "egbad" / "1"
    assert (version / "saved_model.pb").is_file() and (version / "assets.extra" / "preprocessing.json").is_file()
    assert not list(run_dir.rglob(".*.partial*")) and not list(run_dir.rglob(".*.tmp"))
    assert not (run_dir / "backup").exists()

    import tensorflow as tf

    scores = np.load(run_dir / "test_scores.npz")
    # The export scores exactly what the run scored: compare on the run's own test split.
    from tfganad.config import load_recipe
    from tfganad.data import load_data

    rec = load_recipe(run_dir / "recipe.yaml")
    data_x = load_data(rec.data, rec.seed).x_test
    # serving_default takes raw inputs (issue #17); the preprocessed split goes to serve_preprocessed.
    served = tf.saved_model.load(str(version)).signatures["serve_preprocessed"](x=tf.constant(data_x))
    np.testing.assert_allclose(served["anomaly_score"].numpy(), scores["bce"], rtol=1e-4, atol=1e-5)
