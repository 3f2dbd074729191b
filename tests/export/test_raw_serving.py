"""Acceptance: a trained run's SavedModel scores RAW inputs, in a fresh process with plain TensorFlow,
equal to the run's own test scores (issue #17): digits images, PNGs of another size, CSV rows with
string categoricals."""

import pathlib
import subprocess
import sys

import numpy as np
import pytest

from tfganad.config import load_recipe, recipe_from_dict
from tfganad.data import get_source
from tfganad.training.runner import run

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLIENT = pathlib.Path(__file__).with_name("client.py")
FAST = ["train.epochs=1", "train.steps_per_epoch=2", "train.verbose=0", "train.batch_size=32",
        "data.max_test_samples=120"]


def _train(recipe, tmp_path):
    out = run(recipe, run_dir=tmp_path / "run", echo=lambda *_: None)
    run_dir = pathlib.Path(out["run_dir"])
    version = next(run_dir.glob("saved_model/*/1"))
    return run_dir, version, out["summaries"][0]


def _serve_fresh(version, raw, tmp_path) -> dict:
    """Scores `raw` with `version` in a new Python process that never imports tfganad."""
    np.save(tmp_path / "raw.npy", raw)
    subprocess.run([sys.executable, str(CLIENT), str(version), str(tmp_path / "raw.npy"), str(tmp_path / "o.npz")],
                   check=True, capture_output=True, cwd=tmp_path)
    out = dict(np.load(tmp_path / "o.npz"))
    assert not out.pop("tfganad_imported")
    return out


def _readme_client(marker, replace, tmp_path) -> dict:
    """Runs the README's client block that loads `marker` (paths replaced) in a fresh process → its outputs."""
    text = (ROOT / "README.md").read_text()
    blocks = [b.split("```")[0] for b in text.split("```python\n")[1:]]
    code = next(b for b in blocks if marker in b and "serving_default" in b)
    for old, new in replace.items():
        assert old in code
        code = code.replace(old, new)
    code += ("import sys, numpy\nnumpy.savez('o.npz', tfganad_imported=any(m.split('.')[0] == 'tfganad' "
             "for m in sys.modules), **{k: v.numpy() for k, v in out.items()})\n")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, cwd=tmp_path)
    out = dict(np.load(tmp_path / "o.npz"))
    assert not out.pop("tfganad_imported")
    return out


def _score_cli(version, inputs, tmp_path) -> dict:
    """tfganad-score on a raw file or folder → its CSV columns as arrays."""
    import csv

    from click.testing import CliRunner

    from tfganad.cli.main import score

    out = tmp_path / "cli_scores.csv"
    result = CliRunner().invoke(score, [str(version.parent), str(inputs), "-o", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(open(out)))
    return {"anomaly_score": np.array([float(r["anomaly_score"]) for r in rows]),
            "is_anomaly": np.array([int(r["is_anomaly"]) for r in rows]),
            "normalized_score": np.array([float(r["normalized_score"]) for r in rows])}


def _check(run_dir, summary, served):
    stored = np.load(run_dir / "test_scores.npz")
    want = stored[summary["score"]]
    np.testing.assert_allclose(served["anomaly_score"], want, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(served["is_anomaly"], (want > summary["threshold"]).astype(np.int32))
    assert np.all(np.isfinite(served["normalized_score"]))


def test_digits_raw_pixels_at_the_source_size(tmp_path):
    recipe = load_recipe(ROOT / "recipes" / "egbad_digits.yaml",
                         FAST + ["model.filters=4", "model.dense_units=16", "model.latent_dim=8"])
    run_dir, version, summary = _train(recipe, tmp_path)
    data = get_source("digits")(recipe.data)
    from tfganad.data import load_data

    raw = data.x[load_data(recipe.data, recipe.seed).info["test_indices"]]  # raw 8x8 digits, values 0..16
    assert raw.shape[1:] == (8, 8, 1) and summary["data_summary"].endswith("(16, 16, 1)")
    _check(run_dir, summary, _serve_fresh(version, raw, tmp_path))


def test_png_folder_at_another_size_than_the_model(tmp_path):
    from tfganad.data.industrial import write_digits_folder

    folder = write_digits_folder(tmp_path / "pngs", size=32, n_train=40, n_test_good=10, n_per_defect=5)
    recipe = recipe_from_dict({
        "name": "folder_raw", "model": {"name": "ganomaly", "latent_dim": 8, "filters": 4},
        "data": {"source": "mvtec", "path": str(folder), "image_size": 16},
        "train": {"epochs": 1, "steps_per_epoch": 2, "batch_size": 16, "verbose": 0, "selection": "last"}})
    run_dir, version, summary = _train(recipe, tmp_path)
    import tensorflow as tf

    # Raw 32x32 uint8 PNGs of test/, in the order the source reads them; the model is 16x16.
    files = sorted(p for d in sorted((folder / "test").iterdir()) for p in d.iterdir())
    raw = np.stack([tf.io.decode_png(tf.io.read_file(str(f)), channels=1).numpy() for f in files])
    assert raw.dtype == np.uint8 and raw.shape[1:] == (32, 32, 1)
    _check(run_dir, summary, _readme_client("saved_model/ganomaly/1", {
        "RUN_DIR/saved_model/ganomaly/1": str(version), '"pngs"': repr(str(folder / "test"))}, tmp_path))
    # tfganad-score reads the same PNGs (class folders good/, scratch/, spot/ in that order) and sends them raw.
    _check(run_dir, summary, _score_cli(version, folder / "test", tmp_path))


def _write_csv(path, n=200, seed=0):
    rng = np.random.default_rng(seed)
    label = (rng.random(n) < 0.2).astype(int)
    proto = np.where(label == 1, rng.choice(["udp", "icmp"], n), rng.choice(["tcp", "udp"], n, p=[0.8, 0.2]))
    service = rng.choice(["http", "smtp", "ftp_data", "domain u"], n)
    size = np.where(label == 1, rng.exponential(5000, n), rng.exponential(500, n)).round(1)
    rate = rng.random(n).round(3)
    lines = ["duration,protocol_type,service,src_bytes,rate,label"]
    lines += [f"{i % 7},{p},{s},{b},{r},{lab}" for i, (p, s, b, r, lab) in enumerate(zip(proto, service, size, rate, label))]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_csv_rows_with_string_categoricals(tmp_path, scaling="standard"):
    csv_path = _write_csv(tmp_path / "rows.csv")
    recipe = recipe_from_dict({
        "name": "csv_raw", "model": {"name": "egbad", "latent_dim": 4},
        "data": {"source": "csv", "path": str(csv_path), "label_column": "label", "anomalous_class": 1,
                 "categorical_columns": ["protocol_type", "service"], "scaling": scaling},
        "train": {"epochs": 1, "steps_per_epoch": 2, "batch_size": 32, "verbose": 0}})
    run_dir, version, summary = _train(recipe, tmp_path)
    from tfganad.data import load_data

    test_idx = load_data(recipe.data, recipe.seed).info["test_indices"]
    # The README's client and tfganad-score on the raw CSV of the test rows, label column included.
    lines = csv_path.read_text().splitlines()
    (tmp_path / "test_rows.csv").write_text("\n".join([lines[0]] + [lines[1 + i] for i in test_idx]) + "\n")
    _check(run_dir, summary, _readme_client("rows.csv", {
        "RUN_DIR/saved_model/egbad/1": str(version), '"rows.csv"': repr(str(tmp_path / "test_rows.csv"))}, tmp_path))
    _check(run_dir, summary, _score_cli(version, tmp_path / "test_rows.csv", tmp_path))
