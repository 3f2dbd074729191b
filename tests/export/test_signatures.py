"""Signatures of an export that carries a Preprocessor: raw serving_default (any image size, NaN/inf
flagged), serve_preprocessed and preprocess agree; tfganad-score reads headerless rows (KDD99 files)."""

import numpy as np
import pytest
import tensorflow as tf

from tfganad.export import export_saved_model
from tfganad.models import EGBAD
from tfganad.preprocessing import Preprocessor


@pytest.fixture(scope="module")
def raw_export(tmp_path_factory):
    model = EGBAD(input_shape=(16, 16, 1), latent_dim=4, filters=4, dense_units=8, residual=True, score="bce")
    model.build_from_sample()
    model.set_calibration(0.0, 1.0, 1e9)  # no finite score reaches the threshold: every flag is a NaN flag
    model.attach_preprocessor(Preprocessor.for_images((16, 16, 1), (0.0, 255.0), 1))
    path = export_saved_model(model, tmp_path_factory.mktemp("raw") / "sm", name="egbad")
    return tf.saved_model.load(str(path)).signatures, model


def test_raw_images_of_any_size_equal_preprocessed_scores_and_nan_is_flagged(raw_export):
    sigs, model = raw_export
    raw = np.random.default_rng(0).integers(0, 256, (4, 20, 24, 1)).astype(np.float32)
    raw[2, 5, 5, 0] = np.nan
    raw[3, 0, 0, 0] = np.inf
    served = sigs["serving_default"](x=tf.constant(raw))
    pre = sigs["preprocess"](x=tf.constant(raw))["x"].numpy()
    assert pre.shape == (4, 16, 16, 1)
    np.testing.assert_allclose(pre[:2], model.preprocessor.transform(raw[:2]), atol=1e-6)
    direct = sigs["serve_preprocessed"](x=tf.constant(pre[:2]))
    np.testing.assert_allclose(served["anomaly_score"].numpy()[:2], direct["anomaly_score"].numpy(), rtol=1e-6)
    assert np.all(np.isposinf(served["anomaly_score"].numpy()[2:]))
    assert served["is_anomaly"].numpy().tolist() == [0, 0, 1, 1]
    assert served["normalized_score"].numpy()[2:].tolist() == [1.0, 1.0]


def test_score_reads_headerless_csv_rows_by_the_export_columns(tmp_path):
    from tfganad.scoring import _read_csv

    spec = tf.TensorSpec((None, 3), tf.string)
    (tmp_path / "rows.csv").write_text("1,tcp,2,normal.\n3,udp,4,smurf.\n")
    fields, labels = _read_csv(tmp_path / "rows.csv", spec, {"columns": ["a", "proto", "b"]})
    assert fields.tolist() == [["1", "tcp", "2"], ["3", "udp", "4"]] and labels is None
