"""End to end through the CLI on a tiny recipe: train → run dir contents → export → score; bad input → exit 2."""

import json
import pathlib

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from tfganad.cli.main import export, score, train

TINY = {
    "name": "tiny",
    "seed": 0,
    "model": {"name": "egbad", "latent_dim": 8, "filters": 4, "dense_units": 16, "adversarial_loss": "bce",
              "residual": True, "score": "bce"},
    "data": {"source": "digits", "anomalous_class": 0, "image_size": 16, "max_test_samples": 120},
    "train": {"epochs": 2, "steps_per_epoch": 2, "batch_size": 16, "verbose": 0},
    "evaluation": {"image_grid": 4},
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    recipe = root / "tiny.yaml"
    recipe.write_text(yaml.safe_dump(TINY))
    result = CliRunner().invoke(train, [str(recipe), "--output-dir", str(root / "runs"),
                                        "--set", "train.epochs=2"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    run_dir = pathlib.Path(result.output.split("run directory: ")[1].splitlines()[0])
    return root, recipe, run_dir, result.output


def test_run_directory_holds_everything(trained):
    _, _, run_dir, output = trained
    assert "AUROC" in output and "tensorboard --logdir" in output
    for rel in ("recipe.yaml", "metrics.json", "checkpoints/best.weights.h5", "model.keras",
                "report/report.md", "report/roc.png", "report/pr.png", "report/scores.png",
                "report/reconstructions.png", "saved_model/egbad/1/saved_model.pb",
                "saved_model/egbad/1/assets.extra/preprocessing.json", "results.csv"):
        assert (run_dir / rel).exists(), rel
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["selection"] == "val_score" and metrics["selected_on_test"] is False
    assert 0.0 <= metrics["metrics"]["auroc"] <= 1.0
    assert set(metrics["metrics_by_score"]) == {"residual", "bce", "fm"}
    assert metrics["versions"]["tensorflow"]
    assert yaml.safe_load((run_dir / "recipe.yaml").read_text())["train"]["epochs"] == 2


def test_tensorboard_has_losses_validation_images_histograms(trained):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _, _, run_dir, _ = trained

    def tags(sub):
        acc = EventAccumulator(str(run_dir / "logs" / sub), size_guidance={"tensors": 0})
        acc.Reload()
        return set(acc.Tags()["tensors"])

    assert {"epoch_d_loss", "epoch_g_loss", "epoch_e_loss", "learning_rate/d", "iterations/e"} <= tags("train")
    assert {"epoch_score", "epoch_g_loss"} <= tags("validation")
    assert {"x", "reconstruction", "generated", "scores/test_normal", "scores/test_anomalous"} <= tags("images")
    assert "epoch_test_auroc" in tags("test")
    # NaN placeholders of epochs without validation / evaluation are not plotted.
    import tensorflow as tf

    acc = EventAccumulator(str(run_dir / "logs" / "train"), size_guidance={"tensors": 0})
    acc.Reload()
    values = [float(tf.make_ndarray(e.tensor_proto)) for tag in acc.Tags()["tensors"] for e in acc.Tensors(tag)]
    assert values and all(np.isfinite(values)) and "epoch_val_score" not in tags("train")


def test_existing_run_dir_is_never_overwritten(trained):
    root, recipe, run_dir, _ = trained
    before = (run_dir / "metrics.json").read_text()
    result = CliRunner().invoke(train, [str(recipe), "--run-dir", str(run_dir)])
    assert result.exit_code == 2 and "already exists" in result.output
    assert (run_dir / "metrics.json").read_text() == before


def test_export_writes_a_new_version_and_score_writes_csv(trained, tmp_path):
    _, _, run_dir, _ = trained
    result = CliRunner().invoke(export, [str(run_dir)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert (run_dir / "saved_model/egbad/2/saved_model.pb").is_file()
    import tensorflow as tf

    # The re-export from model.keras keeps the fitted Preprocessor: raw images of any size in.
    sigs = tf.saved_model.load(str(run_dir / "saved_model/egbad/2")).signatures
    assert "serve_preprocessed" in sigs
    assert sigs["serving_default"].structured_input_signature[1]["x"].shape.as_list() == [None, None, None, 1]
    x = np.random.default_rng(0).uniform(-1, 1, (5, 16, 16, 1)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "scores.csv"
    result = CliRunner().invoke(score, [str(run_dir / "saved_model/egbad"), str(tmp_path / "x.npy"), "-o", str(out)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = out.read_text().splitlines()
    assert rows[0] == "index,anomaly_score,normalized_score,is_anomaly" and len(rows) == 6
    again = CliRunner().invoke(score, [str(run_dir / "saved_model/egbad"), str(tmp_path / "x.npy"), "-o", str(out)])
    assert again.exit_code == 2 and "already exists" in again.output


@pytest.mark.parametrize("args,message", [
    (["--set", "train.epoch=3"], "unknown key train.epoch (did you mean 'epochs'?)"),
    (["--set", "train.epochs=three"], "train.epochs: 'three' is not an integer"),
    (["--set", "model.name=egbd"], "unknown model 'egbd'"),
    (["--set", "data.source=mnsit"], "unknown data.source 'mnsit'"),
    (["--set", "data.anomalous_class=42"], "anomalous_class=42 is not a class"),
    (["--set", "model.case=case9"], "unknown model.case 'case9'"),
    (["--set", "data.image_size=18"], "image size 18x18 cannot work"),
    (["--set", "train.precision=fp8"], "unknown train.precision 'fp8'"),
    (["--set", "train.selection=best"], "unknown train.selection 'best'"),
    (["--case", "case1"], "--case 'case1' is not a case"),
])
def test_bad_input_exits_2_with_one_line(trained, args, message):
    root, recipe, _, _ = trained
    result = CliRunner().invoke(train, [str(recipe), "--output-dir", str(root / "bad")] + args)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines[-1].startswith("error: ") and message in lines[-1]
    assert "Traceback" not in result.output
    bad_dir = root / "bad"
    assert not bad_dir.exists() or not any(bad_dir.iterdir()), "a failed run left a run directory behind"


def test_saved_model_cli_lists_the_serving_signature(trained):
    import shutil
    import subprocess
    import sys

    _, _, run_dir, _ = trained
    cli = shutil.which("saved_model_cli") or str(pathlib.Path(sys.executable).parent / "saved_model_cli")
    out = subprocess.run([cli, "show", "--dir", str(run_dir / "saved_model/egbad/1"), "--tag_set", "serve",
                          "--signature_def", "serving_default"], capture_output=True, text=True, check=True).stdout
    assert "inputs['x']" in out and "outputs['anomaly_score']" in out and "outputs['is_anomaly']" in out
    assert "tensorflow/serving/predict" in out


def test_bad_paths_for_export_and_score(tmp_path):
    result = CliRunner().invoke(export, [str(tmp_path)])
    assert result.exit_code == 2 and "not a tfganad run directory" in result.output
    result = CliRunner().invoke(score, [str(tmp_path), str(tmp_path / "x.npy")])
    assert result.exit_code == 2 and "is not a SavedModel" in result.output


def test_dry_run_prints_resolved_recipe(trained):
    _, recipe, _, _ = trained
    result = CliRunner().invoke(train, [str(recipe), "--dry-run", "--set", "model.score=fm"])
    assert result.exit_code == 0 and "score: fm" in result.output


def test_egbad_mnist_recipe_trains_on_local_idx_files(shared_data, tmp_path):
    recipe = pathlib.Path(__file__).resolve().parents[2] / "recipes" / "egbad_mnist.yaml"
    args = [str(recipe), "--output-dir", str(tmp_path), "--set", f"data.path={shared_data / 'mnist'}",
            "--set", "data.max_train_samples=256", "--set", "data.max_test_samples=300",
            "--set", "train.epochs=1", "--set", "train.steps_per_epoch=2", "--set", "train.verbose=0",
            "--set", "model.filters=4", "--set", "model.dense_units=16", "--set", "model.latent_dim=8",
            "--set", "export.enabled=false"]
    result = CliRunner().invoke(train, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "input shape (28, 28, 1)" in result.output
    metrics = json.loads(next(tmp_path.glob("*/metrics.json")).read_text())
    assert metrics["data"] == "mnist/one_anomalous_class"
