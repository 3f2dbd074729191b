"""`tfganad.Detector` with the scikit-learn baselines (iforest, ocsvm, pca_*): the same facade contract."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

import tfganad
from tfganad.baselines import IForest
from tfganad.errors import ConfigError
from tfganad.registry import available_baselines

CONTAMINATION = 0.05


@pytest.fixture(scope="module")
def toy():
    """190 Gaussian rows plus 10 rows 6σ away, shuffled; fresh inliers and outliers to score."""
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(size=(190, 12)), rng.normal(size=(10, 12)) + 6.0]).astype("float32")
    y = np.r_[np.zeros(190), np.ones(10)].astype(int)
    order = rng.permutation(len(x))
    return {"x_train": x[order], "y_train": y[order], "x_in": rng.normal(size=(30, 12)).astype("float32"),
            "x_out": (rng.normal(size=(10, 12)) + 6.0).astype("float32")}


@pytest.mark.parametrize("name, params", [
    ("iforest", {"n_estimators": 50}),
    ("ocsvm", {}),
    ("pca_kde", {"pca_components": 4}),
    ("pca_gmm", {"pca_components": 4, "mixture_components": 2}),
    ("pca_recon", {"pca_components": 4}),
])
def test_every_baseline_fits_scores_and_thresholds_like_a_gan_detector(toy, name, params):
    det = tfganad.Detector(name, contamination=CONTAMINATION, random_state=0, **params)
    assert det.fit(toy["x_train"]) is det
    scores = det.decision_scores_
    assert scores.shape == (200,) and det.labels_.shape == (200,) and det.selected_epoch_ == 1
    assert det.threshold_ == pytest.approx(np.percentile(scores, 100 * (1 - CONTAMINATION)))
    np.testing.assert_array_equal(det.labels_, (scores > det.threshold_).astype(int))
    # The facade scores exactly what the fitted estimator scores (higher = more anomalous).
    np.testing.assert_allclose(det.decision_function(toy["x_train"]), det.model_.score_samples(toy["x_train"]))
    # Fitted on normal rows only, every baseline ranks the far-away rows above fresh normal ones.
    clean = clone(det).fit(toy["x_train"][toy["y_train"] == 0])
    s_in, s_out = clean.decision_function(toy["x_in"]), clean.decision_function(toy["x_out"])
    assert roc_auc_score(np.r_[np.zeros(len(s_in)), np.ones(len(s_out))], np.r_[s_in, s_out]) > 0.95
    assert clean.predict(toy["x_out"]).mean() >= 0.9
    proba = det.predict_proba(toy["x_in"][:5])
    assert proba.shape == (5, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_baseline_parameters_are_validated_and_cloned(toy):
    det = tfganad.Detector("iforest", n_estimators=20, random_state=1)
    assert det.get_params()["n_estimators"] == 20
    twin = clone(det)
    assert twin.get_params() == det.get_params()
    det.fit(toy["x_train"])
    assert isinstance(det.model_, IForest) and det.model_.n_estimators == 20 and det.model_.seed == 1
    # Same data and random_state: the same forest.
    np.testing.assert_array_equal(twin.fit(toy["x_train"]).decision_scores_, det.decision_scores_)
    with pytest.raises(ConfigError, match="unknown parameter 'latent_dim' for Detector\\('iforest'\\).*n_estimators"):
        tfganad.Detector("iforest", latent_dim=4).fit(toy["x_train"])
    with pytest.raises(ConfigError, match="n_estimators must be at least 1"):
        tfganad.Detector("iforest", n_estimators=0).fit(toy["x_train"])
    with pytest.raises(ConfigError, match="did you mean 'iforest'"):
        tfganad.Detector("iforrest").fit(toy["x_train"])


def test_baselines_take_images_through_the_same_preprocessing():
    rng = np.random.default_rng(2)
    x = rng.integers(0, 256, (30, 12, 12), dtype=np.uint8)
    det = tfganad.Detector("pca_recon", pca_components=3, image_size=16, random_state=0).fit(x)
    assert det.input_shape_ == (16, 16, 1)
    np.testing.assert_allclose(det.decision_function(x[:4]), det.model_.score_samples(det.preprocess(x[:4])))


def test_every_registered_baseline_is_accepted():
    for name in available_baselines():
        tfganad.Detector(name)._validate_params()
