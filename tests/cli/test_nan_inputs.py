"""NaN/inf inputs are flagged, never scored as normal: SavedModel (plain TensorFlow) and tfganad-score."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner

from tfganad.cli.main import score


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from tfganad.export import export_saved_model
    from tfganad.models import EGBAD

    model = EGBAD(input_shape=(16, 16, 1), latent_dim=4, filters=4, dense_units=8, residual=True, score="bce")
    model.build_from_sample()
    model.set_calibration(0.0, 1.0, 1e9)  # no finite score reaches the threshold: every flag is a NaN flag
    return export_saved_model(model, tmp_path_factory.mktemp("nan") / "sm", name="egbad"), model


def batch():
    x = np.random.default_rng(0).uniform(-1, 1, (4, 16, 16, 1)).astype(np.float32)
    x[1, 3, 4, 0] = np.nan
    x[2, 0, 0, 0] = np.inf
    x[3, 5, 5, 0] = -np.inf
    return x


def test_saved_model_flags_non_finite_samples(exported):
    path, model = exported
    out = tf.saved_model.load(str(path)).signatures["serving_default"](x=tf.constant(batch()))
    raw, norm, flag = (out[k].numpy() for k in ("anomaly_score", "normalized_score", "is_anomaly"))
    assert np.all(np.isposinf(raw[1:])) and np.all(norm[1:] == 1.0) and np.all(flag[1:] == 1)
    assert np.isfinite(raw[0]) and flag[0] == 0
    # The clean sample's score does not depend on the corrupt samples in its batch.
    alone = tf.saved_model.load(str(path)).signatures["serving_default"](x=tf.constant(batch()[:1]))
    np.testing.assert_allclose(alone["anomaly_score"].numpy()[0], raw[0], rtol=1e-5)


def test_score_cli_flags_and_warns_once(exported, tmp_path):
    path, _ = exported
    np.save(tmp_path / "x.npy", batch())
    out = tmp_path / "scores.csv"
    result = CliRunner().invoke(score, [str(path), str(tmp_path / "x.npy"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "3 of 4 samples hold NaN or inf" in warnings[0]
    rows = list(csv.DictReader(open(out)))
    assert [r["is_anomaly"] for r in rows] == ["0", "1", "1", "1"]
    assert [r["anomaly_score"] for r in rows[1:]] == ["inf"] * 3
    assert [r["normalized_score"] for r in rows[1:]] == ["1"] * 3
