"""One evaluation path: `tfganad-train` on a recipe (the runner) and the Detector give identical scores and
metrics on the same split, for a GAN, a GAN ensemble (epoch_multiplier) and a baseline; the results schema;
per-score F1."""

import json

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from tfganad import Detector
from tfganad.cli.main import train
from tfganad.config import recipe_from_dict
from tfganad.data import load_data
from tfganad.training import metrics as M
from tfganad.training.evaluate import CaseResult, calibrate, evaluate_components


def _csv(path, n_normal=160, n_anomalous=40, features=6, seed=0):
    """Synthetic table: normal rows N(0, 1), anomalous rows shifted by 2 in every feature; label column y."""
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.normal(size=(n_normal, features)), rng.normal(2.0, 1.0, size=(n_anomalous, features))])
    y = np.r_[np.zeros(n_normal, int), np.ones(n_anomalous, int)]
    lines = [",".join([f"f{i}" for i in range(features)] + ["y"])]
    lines += [",".join([f"{v:.6f}" for v in row] + [str(label)]) for row, label in zip(x, y)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _recipe(tmp_path, model: dict) -> dict:
    return {
        "name": "same_split", "seed": 3, "model": model,
        "data": {"source": "csv", "path": str(_csv(tmp_path / "rows.csv")), "label_column": "y",
                 "anomalous_class": 1, "scaling": "none"},
        "train": {"epochs": 1, "batch_size": 16, "selection": "last", "verbose": 0, "steps_per_execution": 1},
        "evaluation": {"contamination": 0.2},
        "export": {"enabled": False, "keras_file": False}}


@pytest.mark.parametrize("model", [
    {"name": "egbad", "latent_dim": 4, "dense_units": 8},
    # random_pair schedule: epoch_multiplier max(I, J) = 2 through the recipe and through the Detector
    {"name": "ensemble", "base": "egbad", "generators": 2, "discriminators": 1, "schedule": "random_pair",
     "latent_dim": 4, "dense_units": 8},
    {"name": "iforest", "n_estimators": 20},
])
def test_cli_and_detector_give_identical_scores_and_metrics(tmp_path, model):
    raw = _recipe(tmp_path, model)
    (tmp_path / "recipe.yaml").write_text(yaml.safe_dump(raw))
    run_dir = tmp_path / "run"
    result = CliRunner().invoke(train, [str(tmp_path / "recipe.yaml"), "--run-dir", str(run_dir)])
    assert result.exit_code == 0, result.output
    summary = json.loads((run_dir / "metrics.json").read_text())
    row = json.loads((run_dir / "results.json").read_text())[0]
    saved = np.load(run_dir / "test_scores.npz")
    recipe = recipe_from_dict(raw)
    data = load_data(recipe.data, recipe.seed)  # the run's split and preprocessing, again

    params = {k: v for k, v in model.items() if k != "name"}
    det = Detector(model["name"], contamination=0.2, epochs=1, batch_size=16, random_state=recipe.seed,
                   **params).fit(data.x_train)
    scores = det.decision_function(data.x_test)
    np.testing.assert_allclose(scores, saved[summary["score"]], rtol=0, atol=1e-6)
    np.testing.assert_array_equal(saved["y_true"], data.y_test)
    metrics, _ = evaluate_components(data.y_test, {summary["score"]: scores}, summary["score"], 0.2)
    for key in ("auroc", "auprc", "auprc_trapz", "f1_at_contamination", "precision_at_contamination",
                "recall_at_contamination"):
        assert metrics[key] == pytest.approx(summary["metrics"][key], abs=1e-6), key
        assert row.get(key, metrics[key]) == pytest.approx(metrics[key], abs=1e-6), key
    assert summary["metrics"]["auroc"] > 0.5  # the shifted rows are found at all
    # Every score component carries F1 at its own contamination percentile (the main one: the same F1).
    main_by_score = summary["metrics_by_score"][summary["score"]]
    assert main_by_score["f1_at_contamination"] == summary["metrics"]["f1_at_contamination"]
    assert all("f1_at_contamination" in mm for mm in summary["metrics_by_score"].values())
    if model["name"] == "iforest":
        assert summary["baseline"] is True and summary["selection"] == "none" and det.selected_epoch_ == 1
    else:
        multiplier = 2 if model["name"] == "ensemble" else 1
        assert summary["epoch_multiplier"] == multiplier
        assert summary["epochs_run"] == summary["selected_epoch"] == det.selected_epoch_ == multiplier
        assert "F1 at contamination" in (run_dir / "report" / "report.md").read_text()


def test_every_score_component_gets_f1_at_its_own_contamination_percentile():
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(80, int), np.ones(20, int)]
    comps = {"a": rng.normal(size=100) + 2 * y, "b": rng.normal(size=100) + y, "nan": np.full(100, np.nan)}
    metrics, by_score = evaluate_components(y, comps, "a", contamination=0.2, threshold=0.5)
    assert set(by_score) == {"a", "b"}  # non-finite components are left out
    for name in ("a", "b"):
        expected = M.prf_at_threshold(y, comps[name], np.percentile(comps[name], 80))
        assert by_score[name]["f1_at_contamination"] == expected["f1"]
        assert by_score[name]["precision_at_contamination"] == expected["precision"]
        assert by_score[name]["auroc"] == M.auroc(y, comps[name])
    assert by_score["a"]["f1_at_contamination"] == metrics["f1_at_contamination"]
    assert metrics["f1_at_val_threshold"] == M.prf_at_threshold(y, comps["a"], 0.5)["f1"]


def test_calibration_is_fitted_on_the_given_normal_scores_only():
    cal = calibrate([1.0, 2.0, 3.0, 5.0], "minmax", 0.5)
    assert (cal.offset, cal.scale, cal.threshold) == (1.0, 4.0, 2.5)
    assert cal.to_json() == {"kind": "minmax", "offset": 1.0, "scale": 4.0}
    empty = calibrate([], "zscore", 0.9)  # a baseline without a validation split
    assert np.isnan(empty.threshold) and (empty.offset, empty.scale) == (0.0, 1.0)


def test_results_schema_reads_old_metrics_json_and_writes_the_runner_row():
    old = {"recipe": "r", "case": "", "model": "egbad", "score": "bce", "data": "digits/x", "selection": "val_score",
           "selected_on_test": False, "selected_epoch": 2, "epochs_run": 3, "train_seconds": 1.234,
           "precision": "float32", "threshold": 0.1, "normalizer": {"kind": "minmax", "offset": 0, "scale": 1},
           "metrics": {"auroc": 0.9, "auprc": 0.8, "n_test": 10}, "metrics_by_score": {"bce": {"auroc": 0.9}},
           "history": {}, "test_monitor": {}, "stopped": None, "seed": 0, "data_summary": "",
           "versions": {}, "epochs_before_resume": 0, "train_images_per_second": 5.0, "epoch_multiplier": 1}
    result = CaseResult.from_json(old)
    assert result.to_json() == old  # nothing renamed, nothing added that was not set
    row = result.results_row()
    assert row["case"] == "-" and row["auroc"] == 0.9 and row["auprc_trapz"] is None and row["train_seconds"] == 1.23
    assert result.flat_metrics() == {"auroc": 0.9, "auprc": 0.8, "n_test": 10, "by_score.bce.auroc": 0.9}
