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
FAST = ["train.epochs=1", "train.verbose=0", "train.batch_size=64"]


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

    folder = write_digits_folder(tmp_path / "pngs", size=32, n_train=120, n_test_good=30, n_per_defect=15)
    recipe = recipe_from_dict({
        "name": "folder_raw", "model": {"name": "ganomaly", "latent_dim": 8, "filters": 4},
        "data": {"source": "mvtec", "path": str(folder), "image_size": 16},
        "train": {"epochs": 1, "batch_size": 32, "verbose": 0, "selection": "last"}})
    run_dir, version, summary = _train(recipe, tmp_path)
    import tensorflow as tf

    # Raw 32x32 uint8 PNGs of test/, in the order the source reads them; the model is 16x16.
    files = sorted(p for d in sorted((folder / "test").iterdir()) for p in d.iterdir())
    raw = np.stack([tf.io.decode_png(tf.io.read_file(str(f)), channels=1).numpy() for f in files])
    assert raw.dtype == np.uint8 and raw.shape[1:] == (32, 32, 1)
    _check(run_dir, summary, _serve_fresh(version, raw, tmp_path))


def _write_csv(path, n=400, seed=0):
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


@pytest.mark.parametrize("scaling", ["standard"])
def test_csv_rows_with_string_categoricals(tmp_path, scaling):
    csv_path = _write_csv(tmp_path / "rows.csv")
    recipe = recipe_from_dict({
        "name": "csv_raw", "model": {"name": "egbad", "latent_dim": 4},
        "data": {"source": "csv", "path": str(csv_path), "label_column": "label", "anomalous_class": 1,
                 "categorical_columns": ["protocol_type", "service"], "scaling": scaling},
        "train": {"epochs": 1, "batch_size": 32, "verbose": 0}})
    run_dir, version, summary = _train(recipe, tmp_path)
    from tfganad.data import load_data

    import csv

    with open(csv_path, newline="") as fh:
        rows = np.array([r[:-1] for r in list(csv.reader(fh))[1:]])  # every field as text, label dropped
    raw = rows[load_data(recipe.data, recipe.seed).info["test_indices"]]
    _check(run_dir, summary, _serve_fresh(version, raw, tmp_path))
