"""train.validation_every: validation every N epochs and at the last, selection only among validated epochs."""

import csv
import pathlib

import numpy as np
import pytest

from tfganad.config import recipe_from_dict
from tfganad.errors import ConfigError
from tfganad.training.runner import run

TINY = {
    "name": "val_every",
    "model": {"name": "egbad", "latent_dim": 8, "filters": 4, "dense_units": 16},
    "data": {"source": "digits", "anomalous_class": 1, "image_size": 16, "max_test_samples": 60},
    "train": {"epochs": 3, "steps_per_epoch": 2, "batch_size": 16, "verbose": 0, "eval_every": 1},
    "export": {"enabled": False, "keras_file": False},
}


def _run(tmp_path, name, **train):
    raw = dict(TINY, output_dir=str(tmp_path / name), train=dict(TINY["train"], **train))
    out = run(recipe_from_dict(raw), echo=lambda *_: None)
    return out["summaries"][0], pathlib.Path(out["run_dir"])


def test_validation_every_must_be_positive():
    with pytest.raises(ConfigError, match="train.validation_every must be at least 1, got 0"):
        recipe_from_dict(dict(TINY, train={"validation_every": 0}))


def test_selection_sees_only_validated_epochs_and_history_keeps_fixed_columns(tmp_path):
    summary, run_dir = _run(tmp_path, "every2", validation_every=2, selection="val_score")
    with open(run_dir / "history.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 3 and {"val_score", "val_d_loss", "val_g_loss", "val_e_loss"} <= set(rows[0])
    val = summary["history"]["val_score"]
    assert np.isnan(val[0]) and np.all(np.isfinite(val[1:]))  # epochs 2 and 3 validated, epoch 1 not
    assert summary["selected_epoch"] == int(np.argmin(val[1:])) + 2
    # The checkpoint holds the selected epoch: its final scores are that epoch's monitored ones.
    monitor = {m["epoch"]: m["test_auroc"] for m in summary["test_monitor"]}
    assert summary["metrics"]["auroc"] == pytest.approx(monitor[summary["selected_epoch"]])


def test_validating_less_often_trains_the_same_model(tmp_path):
    every, every_dir = _run(tmp_path, "every1", validation_every=1, selection="last", eval_every=1000)
    rarely, rarely_dir = _run(tmp_path, "every3", validation_every=3, selection="last", eval_every=1000)
    assert np.isfinite(every["history"]["val_score"]).tolist() == [True, True, True]
    assert np.isfinite(rarely["history"]["val_score"]).tolist() == [False, False, True]
    # Validation draws latent codes for its losses; the noise stream is restored after it, so the
    # number of validations does not change the training noise, the weights or the scores.
    # Equal up to float round-off: after some other in-process runs (test order) the oneDNN kernels
    # can differ in the last bits; a different noise stream would change the scores by far more.
    assert rarely["history"]["val_score"][-1] == pytest.approx(every["history"]["val_score"][-1], rel=1e-5)
    with np.load(every_dir / "test_scores.npz") as a, np.load(rarely_dir / "test_scores.npz") as b:
        for name in a.files:
            np.testing.assert_allclose(a[name], b[name], rtol=1e-5)
