"""Reliability: a SIGKILLed training resumes to the same number of epochs; NaN losses stop clearly."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml
from click.testing import CliRunner

from tfganad.cli.main import train

TINY = {
    "name": "resume",
    "model": {"name": "egbad", "latent_dim": 8, "filters": 4, "dense_units": 16},
    "data": {"source": "digits", "anomalous_class": 1, "image_size": 16, "max_test_samples": 100},
    "train": {"epochs": 30, "steps_per_epoch": 2, "batch_size": 16, "verbose": 0, "eval_every": 1000},
    "export": {"enabled": False},
}


def test_sigkilled_run_resumes_to_all_epochs(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump(TINY))
    run_dir = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-c", "from tfganad.cli.main import train; train()", str(recipe),
                             "--run-dir", str(run_dir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    meta = run_dir / "backup" / "training_metadata.json"
    deadline = time.time() + 240
    try:
        while time.time() < deadline:
            try:
                if json.loads(meta.read_text())["epoch"] >= 3:
                    break
            except (OSError, ValueError, KeyError):
                pass
            assert proc.poll() is None, "training finished before it could be interrupted"
            time.sleep(0.05)
        else:
            pytest.fail("no epoch was checkpointed in time")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not (run_dir / "metrics.json").exists()
    result = CliRunner().invoke(train, ["--resume", str(run_dir)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    summary = json.loads((run_dir / "metrics.json").read_text())
    assert summary["epochs_run"] == 30
    assert summary["epochs_before_resume"] >= 3
    assert not (run_dir / "backup").exists()
    # A finished run resumes to nothing new.
    again = CliRunner().invoke(train, ["--resume", str(run_dir)], catch_exceptions=False)
    assert again.exit_code == 0 and "already finished" in again.output


def test_resume_rejects_a_non_run_directory(tmp_path):
    result = CliRunner().invoke(train, ["--resume", str(tmp_path)])
    assert result.exit_code == 2 and "not a tfganad run directory" in result.output


def test_diverging_training_stops_with_the_loss_and_step_named(tmp_path):
    raw = dict(TINY, train=dict(TINY["train"], epochs=2, steps_per_epoch=3, learning_rate=1e30))
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump(raw))
    result = CliRunner().invoke(train, [str(recipe), "--output-dir", str(tmp_path / "runs")])
    if result.exit_code == 2:
        assert "non-finite" in result.output and ("at step" in result.output or "diverged" in result.output)
        assert "Traceback" not in result.output
    else:  # a finite first epoch was checkpointed: the run keeps it and says it stopped
        summaries = list((tmp_path / "runs").glob("*/metrics.json"))
        assert json.loads(summaries[0].read_text())["stopped"].startswith("non-finite")


def test_resume_sets_aside_the_history_of_epochs_it_repeats(tmp_path):
    from tfganad.training.runner import set_aside_unbacked_epochs

    history = tmp_path / "history.csv"
    history.write_text("epoch,loss\n0,5\n1,4\n2,3\n3,2\n")
    set_aside_unbacked_epochs(history, 2)
    assert history.read_text() == "epoch,loss\n0,5\n1,4\n"
    assert (tmp_path / "history.unbacked.csv").read_text() == "epoch,loss\n2,3\n3,2\n"
    history.write_text("epoch,loss\n0,5\n1,4\n2,7\n")
    set_aside_unbacked_epochs(history, 2)  # a second interruption adds to the rows kept aside
    assert (tmp_path / "history.unbacked.csv").read_text() == "epoch,loss\n2,3\n3,2\n2,7\n"
    set_aside_unbacked_epochs(history, 2)  # nothing to set aside
    assert history.read_text() == "epoch,loss\n0,5\n1,4\n"


def test_resume_keeps_a_torn_history_row_aside_on_its_own_line(tmp_path):
    from tfganad.training.runner import set_aside_unbacked_epochs

    history = tmp_path / "history.csv"
    history.write_text("epoch,loss\n0,5\n1,4\n2,3")  # killed while CSVLogger wrote epoch 2's row
    set_aside_unbacked_epochs(history, 2)
    assert history.read_text() == "epoch,loss\n0,5\n1,4\n"
    assert (tmp_path / "history.unbacked.csv").read_text() == "epoch,loss\n2,3\n"
    history.write_text("epoch,loss\n0,5\n1,4")  # torn after the last backed-up row: completed, kept
    set_aside_unbacked_epochs(history, 2)
    assert history.read_text() == "epoch,loss\n0,5\n1,4\n"
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary file left behind


def test_backup_every_must_be_positive():
    from tfganad.config import recipe_from_dict
    from tfganad.errors import ConfigError

    with pytest.raises(ConfigError, match="train.backup_every must be at least 1, got 0"):
        recipe_from_dict(dict(TINY, train={"backup_every": 0}))
