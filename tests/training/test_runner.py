"""Runner features: several cases → one run each + one table; selection on test labels; test scores saved.

The base model's training features (precision, strategy, XLA, EMA, determinism) are tests/models/test_base.py.
"""

import json

import numpy as np
import pytest

from tfganad.config import recipe_from_dict
from tfganad.training.runner import run

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
