"""Tests of the scikit-learn / PyOD style facade `tfganad.Detector` (modelled on PyOD's detector tests)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import tfganad
from tfganad.errors import ConfigError, DataError

CONTAMINATION = 0.05
TINY_EGBAD = {"latent_dim": 4}


def _blobs(rng, n, shift=0.0, features=12):
    return (rng.normal(size=(n, features)) + shift).astype("float32")


@pytest.fixture(scope="module")
def toy():
    """190 Gaussian rows plus 10 rows 6σ away, shuffled; fresh inliers and outliers to score."""
    rng = np.random.default_rng(0)
    x = np.concatenate([_blobs(rng, 190), _blobs(rng, 10, shift=6.0)])
    y = np.r_[np.zeros(190), np.ones(10)].astype(int)
    order = rng.permutation(len(x))
    return {"x_train": x[order], "y_train": y[order], "x_in": _blobs(rng, 60), "x_out": _blobs(rng, 20, shift=6.0)}


@pytest.fixture(scope="module")
def fitted(toy):
    det = tfganad.Detector("egbad", contamination=CONTAMINATION, epochs=2, batch_size=32, random_state=0,
                           **TINY_EGBAD)
    assert det.fit(toy["x_train"]) is det
    return det


def test_fitted_attributes_and_shapes(fitted, toy):
    n = len(toy["x_train"])
    assert fitted.decision_scores_.shape == (n,)
    assert fitted.labels_.shape == (n,)
    assert set(np.unique(fitted.labels_)) <= {0, 1}
    assert isinstance(fitted.threshold_, float)
    assert fitted.n_features_in_ == 12 and fitted.input_shape_ == (12,)
    assert set(fitted.history_) >= {"d_loss", "g_loss", "e_loss"}
    assert fitted.selected_epoch_ == 2  # no validation_fraction: the last epoch
    x = toy["x_in"][:7]
    assert fitted.decision_function(x).shape == (7,)
    pred = fitted.predict(x)
    assert pred.shape == (7,) and set(np.unique(pred)) <= {0, 1}
    proba = fitted.predict_proba(x)
    assert proba.shape == (7, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert np.all((proba >= 0) & (proba <= 1))


def test_threshold_is_contamination_percentile_of_training_scores(fitted, toy):
    scores = fitted.decision_scores_
    assert fitted.threshold_ == pytest.approx(np.percentile(scores, 100 * (1 - CONTAMINATION)))
    np.testing.assert_array_equal(fitted.labels_, (scores > fitted.threshold_).astype(int))
    # The share of flagged training samples is the contamination (up to one sample).
    assert abs(fitted.labels_.mean() - CONTAMINATION) <= 1.0 / len(scores)
    # Scoring is deterministic and batch-invariant: re-scoring the training data gives the same labels.
    np.testing.assert_allclose(fitted.decision_function(toy["x_train"]), scores, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(fitted.predict(toy["x_train"]), fitted.labels_)
    # The threshold is stored in the Keras model too, so its SavedModel labels agree with predict().
    assert float(fitted.model_.threshold.numpy()) == pytest.approx(fitted.threshold_, rel=1e-6)


def test_obvious_outliers_score_higher_label_one(fitted, toy):
    # Contaminated training data: the injected far-away rows are the ones flagged (label 1 = anomalous).
    assert roc_auc_score(toy["y_train"], fitted.decision_scores_) > 0.99
    assert fitted.labels_[toy["y_train"] == 1].mean() >= 0.9
    s_in, s_out = fitted.decision_function(toy["x_in"]), fitted.decision_function(toy["x_out"])
    assert s_out.min() > s_in.max()
    assert fitted.predict(toy["x_out"]).tolist() == [1] * len(toy["x_out"])
    assert fitted.predict(toy["x_in"]).mean() <= 0.2
    assert np.all(fitted.predict_proba(toy["x_out"])[:, 1] > fitted.predict_proba(toy["x_in"])[:, 1].max() - 1e-9)


def test_predict_proba_linear_is_clipped_min_max_of_training_scores(fitted, toy):
    x = np.concatenate([toy["x_in"][:5], toy["x_out"][:2]])
    scores = fitted.decision_function(x)
    train = fitted.decision_scores_
    expected = np.clip((scores - train.min()) / (train.max() - train.min()), 0, 1)
    proba = fitted.predict_proba(x)
    np.testing.assert_allclose(proba[:, 1], expected, rtol=1e-6)
    np.testing.assert_allclose(proba[:, 0], 1 - expected, rtol=1e-6)
    assert proba[-1, 1] == 1.0  # far beyond the largest training score → clipped
    unify = fitted.predict_proba(x, method="unify")
    assert unify.shape == (7, 2) and np.all((unify >= 0) & (unify <= 1))
    assert unify[-1, 1] > unify[0, 1]
    with pytest.raises(ConfigError, match="linear, unify"):
        fitted.predict_proba(x, method="softmax")


def test_scoring_errors_after_fit(fitted):
    # scikit-learn's feature-count check against n_features_in_, raised as a DataError (a ValueError).
    with pytest.raises(DataError, match="X has 5 features, but Detector is expecting 12 features as input"):
        fitted.decision_function(np.zeros((3, 5), "float32"))
    with pytest.raises(DataError, match="Input X contains NaN: 24 NaN/inf value\\(s\\) in 2 sample"):
        fitted.predict(np.full((2, 12), np.nan, "float32"))
    with pytest.raises(DataError, match="Input X contains infinity"):
        fitted.predict_proba(np.r_[np.zeros((1, 12)), np.full((1, 12), np.inf)])
    with pytest.raises(DataError, match="fitted on"):  # images to a detector fitted on table rows
        fitted.decision_function(np.zeros((2, 4, 3), "float32"))


def test_get_params_set_params_and_clone_include_model_params():
    det = tfganad.Detector("ganomaly", contamination=0.2, epochs=3, latent_dim=8, filters=4)
    params = det.get_params()
    assert params["model"] == "ganomaly" and params["contamination"] == 0.2 and params["epochs"] == 3
    assert params["latent_dim"] == 8 and params["filters"] == 4
    twin = clone(det)
    assert twin is not det and twin.get_params() == params
    assert tfganad.Detector(**params).get_params() == params
    assert det.set_params(latent_dim=16, epochs=5, case="case5") is det
    assert det.get_params()["latent_dim"] == 16 and det.epochs == 5 and det.model_params["case"] == "case5"
    assert twin.get_params()["latent_dim"] == 8  # the clone does not share the model-parameter dict
    assert "latent_dim=16" in repr(det)
    with pytest.raises(ConfigError, match="did you mean 'latent_dim'"):
        det.set_params(latnet_dim=3)
    with pytest.raises(ConfigError, match="random_state"):
        det.set_params(seed=1)
    with pytest.raises(ConfigError, match="taken from X"):
        det.set_params(input_shape=(16, 16, 1))
    # Switching the model validates the new model's parameters in the same call.
    det2 = tfganad.Detector("egbad").set_params(model="alad", spectral_norm=False)
    assert det2.get_params()["spectral_norm"] is False


def test_clone_of_fitted_detector_is_unfitted(fitted, toy):
    twin = clone(fitted)
    assert twin.get_params() == fitted.get_params()
    assert not hasattr(twin, "model_")
    with pytest.raises(NotFittedError):
        twin.decision_function(toy["x_in"])


def test_pipeline_with_scaler():
    rng = np.random.default_rng(3)
    # Features on very different scales: the StandardScaler step makes them comparable for the MLPs.
    x = _blobs(rng, 96) * np.linspace(1, 100, 12, dtype="float32")
    pipe = make_pipeline(StandardScaler(), tfganad.Detector("egbad", epochs=3, batch_size=32, random_state=0,
                                                            validation_fraction=0.25, **TINY_EGBAD))
    pipe.set_params(detector__contamination=0.25, detector__latent_dim=3)
    assert pipe.get_params()["detector__latent_dim"] == 3
    pipe.fit(x)
    det = pipe[-1]
    assert det.model_.latent_dim == 3
    # validation_fraction: the epoch with the lowest mean score on the held-out quarter is kept,
    # while the threshold still comes from the scores of all training rows.
    assert len(det.history_["val_score"]) == 3
    assert det.selected_epoch_ == int(np.argmin(det.history_["val_score"])) + 1
    assert det.decision_scores_.shape == (len(x),)
    assert pipe.decision_function(x[:5]).shape == (5,)
    assert abs(pipe.predict(x).mean() - 0.25) <= 1.0 / len(x)
    assert pipe.predict_proba(x[:4]).shape == (4, 2)
    assert clone(pipe).get_params()["detector__latent_dim"] == 3


def test_images_are_scaled_to_minus_one_one_and_resized():
    rng = np.random.default_rng(4)
    x = rng.integers(0, 256, (24, 12, 12), dtype=np.uint8)
    x[0, 0, 0], x[1, 0, 0] = 0, 255
    det = tfganad.Detector("egbad", epochs=1, batch_size=8, random_state=0, latent_dim=4, filters=4,
                           dense_units=16)
    with pytest.raises(ConfigError, match="image_size=16"):
        det.fit(x)
    det.set_params(image_size=16).fit(x)
    assert det.input_shape_ == (16, 16, 1)
    assert (det.input_offset_, det.input_scale_) == (0.0, 255.0)
    # Scaling before resizing: the rows of a resized constant image keep the mapped value.
    const = np.full((1, 12, 12), 255, np.uint8)
    np.testing.assert_allclose(det.preprocess(const), 1.0, atol=1e-6)
    assert det.preprocess(x).min() >= -1.0 and det.preprocess(x).max() <= 1.0
    # Other sizes are resized too; channel counts must match.
    assert det.decision_function(rng.integers(0, 256, (3, 20, 20, 1))).shape == (3,)
    with pytest.raises(DataError, match="fitted on"):
        det.decision_function(rng.integers(0, 256, (2, 12, 12, 3)))
    # A given value_range replaces the fitted min/max (checked on the scaler alone: a second fit is slow).
    fixed = clone(det).set_params(value_range=(0, 510))
    fixed._fit_preprocessing(x[:, :, :, None])
    np.testing.assert_allclose(fixed._transform(const[..., None]), 0.0, atol=1e-6)


@pytest.mark.parametrize("kwargs, match", [
    ({"contamination": 0.0}, "contamination"),
    ({"contamination": 0.6}, "contamination"),
    ({"contamination": "0.1"}, "contamination"),
    ({"epochs": 0}, "epochs"),
    ({"batch_size": 2.5}, "batch_size"),
    ({"learning_rate": 0.0}, "learning_rate"),
    ({"random_state": 1.5}, "random_state"),
    ({"value_range": (1, 1)}, "value_range"),
    ({"validation_fraction": 0.6}, "validation_fraction"),
    ({"image_size": "big"}, "image_size"),
    ({"model": "egbda"}, "did you mean 'egbad'"),
    ({"latnet_dim": 4}, "did you mean 'latent_dim'"),
])
def test_invalid_configuration_raises_config_error(kwargs, match):
    x = np.random.default_rng(0).normal(size=(8, 12)).astype("float32")
    if "image_size" in kwargs:
        x = x.reshape(8, 4, 3)
    with pytest.raises(ConfigError, match=match):
        tfganad.Detector(**kwargs).fit(x)


def test_image_only_model_rejects_table_rows():
    from tfganad.registry import get_model_class

    image_only = [n for n in tfganad.available_models()
                  if "tabular" not in getattr(get_model_class(n), "input_kinds", ("image", "tabular"))]
    if not image_only:
        pytest.skip("every registered model accepts table rows")
    with pytest.raises(ConfigError, match="image inputs only.*models for tabular data: .*egbad"):
        tfganad.Detector(image_only[0]).fit(np.zeros((8, 12), "float32"))


@pytest.mark.parametrize("x, match", [
    (np.zeros((4,), "float32"), "got a 1D array of shape \\(4,\\).*Reshape your data"),
    (np.zeros((2, 4, 4, 1, 1), "float32"), "got a 5D array of shape"),
    (np.zeros((0, 12), "float32"), "X is empty: found array with 0 sample"),
    (np.zeros((12, 0), "float32"), "X is empty: found array with 0 feature\\(s\\)"),
    (np.array([[1.0, np.inf], [0.0, 1.0]], "float32"), "Input X contains infinity: 1 NaN/inf"),
    (np.array([["a", "b"], ["c", "d"]]), "X must be numeric, got dtype <U1: could not convert string"),
    (np.zeros((1, 12), "float32"), "fit needs at least 2 samples.*n_samples=1"),
    (np.zeros((3, 16, 16, 4), "float32"), "channels"),
    (np.ones((3, 4), complex), "X must be real-valued: Complex data not supported"),
    ([[1.0, 2.0], [3.0]], "cannot be converted to an array"),
])
def test_invalid_data_raises_data_error(x, match):
    with pytest.raises(DataError, match=match):
        tfganad.Detector(epochs=1).fit(x)


def test_unfitted_detector_raises_not_fitted():
    with pytest.raises(NotFittedError):
        tfganad.Detector().predict(np.zeros((2, 12), "float32"))
