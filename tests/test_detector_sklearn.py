"""`tfganad.Detector` against scikit-learn's own estimator checks and conventions (issue #20).

`parametrize_with_checks` runs every check of `sklearn.utils.estimator_checks.check_estimator` as one
test, for a baseline (iforest, fast) and a tiny GAN (EGBAD, 1 epoch, latent_dim=4; about a minute on
2 cores, most of it tracing a new graph per fit). No check is declared expected-to-fail; scikit-learn
itself skips `check_array_api_input` unless SCIPY_ARRAY_API=1 is set before SciPy is imported.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import tfganad
from tfganad.detector import DataTypeError
from tfganad.errors import ConfigError, DataError


@parametrize_with_checks([tfganad.Detector("iforest", n_estimators=20),
                          tfganad.Detector("egbad", epochs=1, latent_dim=4)])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def _rows(n=40, features=5, seed=0):
    return np.random.default_rng(seed).normal(size=(n, features))


@pytest.fixture(scope="module")
def forest():
    return tfganad.Detector("iforest", n_estimators=10, random_state=0).fit(_rows())


def test_init_and_set_params_store_arguments_and_fit_validates_them():
    # __init__ and set_params store what they are given (scikit-learn's rule); fit reports it.
    det = tfganad.Detector("egbda", contamination="lots", latnet_dim=[1])
    assert vars(det)["_model_params"] == {"latnet_dim": [1]} and det.model_params == {"latnet_dim": [1]}
    det.set_params(model=-1, epochs="x")
    with pytest.raises(ConfigError, match="model must be a registered model name \\(str\\), got -1; available: "):
        det.fit(_rows())
    with pytest.raises(ConfigError, match="unknown model 'egbda'.*did you mean 'egbad'"):
        det.set_params(model="egbda", epochs=1).fit(_rows())
    # With a registered model, a misspelt argument name raises at once, as scikit-learn's set_params does.
    with pytest.raises(ConfigError, match="did you mean 'latent_dim'"):
        tfganad.Detector("egbad").set_params(latnet_dim=3)
    # The model_params property is a copy: changes go through set_params.
    det = tfganad.Detector("egbad", latent_dim=4)
    det.model_params["latent_dim"] = 99
    assert det.get_params()["latent_dim"] == 4


def test_n_features_in_and_feature_names_in_follow_scikit_learn(forest):
    pd = pytest.importorskip("pandas")
    assert forest.n_features_in_ == 5 and not hasattr(forest, "feature_names_in_")
    with pytest.raises(DataError, match="X has 4 features, but Detector is expecting 5 features as input"):
        forest.predict(_rows(features=4))
    frame = pd.DataFrame(_rows(), columns=[f"f{i}" for i in range(5)])
    det = clone(forest).fit(frame)
    assert det.n_features_in_ == 5 and det.feature_names_in_.tolist() == list(frame.columns)
    with pytest.warns(UserWarning, match="X does not have valid feature names, but Detector was fitted with"):
        plain = det.decision_function(frame.to_numpy())
    np.testing.assert_array_equal(det.decision_function(frame), plain)
    with pytest.raises(DataError, match="Feature names must be in the same order as they were in fit"):
        det.decision_function(frame[frame.columns[::-1]])
    # Refitting on a plain array forgets the names; on images, the feature count too (sizes may vary).
    assert not hasattr(det.fit(frame.to_numpy()), "feature_names_in_")
    det.fit(np.random.default_rng(1).uniform(size=(12, 4, 4)))
    assert not hasattr(det, "n_features_in_") and det.input_shape_ == (4, 4, 1)


@pytest.mark.parametrize("X, error, match", [
    (sp.csr_matrix(np.eye(4)), DataError, "sparse input is not supported: X is a csr_matrix.*X.toarray\\(\\)"),
    (sp.csr_array(np.eye(4)), DataError, "sparse input is not supported"),
    (np.ones(6), DataError, "got a 1D array of shape \\(6,\\).*Reshape your data"),
    (np.ones((1, 5)), DataError, "fit needs at least 2 samples: found array with 1 sample\\(s\\).*n_samples=1"),
    (np.ones((0, 5)), DataError, "X is empty: found array with 0 sample"),
    (np.ones((6, 0)), DataError, "0 feature\\(s\\) \\(shape=\\(6, 0\\)\\) while a minimum of 1 is required"),
    (np.ones((4, 2), complex), DataError, "X must be real-valued: Complex data not supported"),
    (np.array([[1.0, np.nan], [0.0, 1.0]]), DataError, "Input X contains NaN: 1 NaN/inf value\\(s\\) in 1 sample"),
    (np.array([[1.0, {"a": 1}], [0.0, 1.0]], object), DataTypeError, "X must be numeric.*must be a string or"),
])
def test_bad_input_gets_one_line_messages_with_scikit_learns_phrases(X, error, match):
    with pytest.raises(error, match=match) as info:
        tfganad.Detector("iforest").fit(X)
    assert isinstance(info.value, ValueError) and "\n" not in str(info.value)


def test_object_arrays_of_numbers_are_accepted(forest):
    x = _rows(8).astype(object)
    np.testing.assert_array_equal(forest.decision_function(x), forest.decision_function(x.astype(float)))


def test_grid_search_over_detector_and_model_parameters_in_a_pipeline():
    rng = np.random.default_rng(2)
    x = np.r_[rng.normal(size=(60, 4)), rng.normal(size=(12, 4)) + 5.0] * [1, 10, 100, 1000]
    y = np.r_[np.zeros(60), np.ones(12)]

    def auroc(est, X, y):
        return roc_auc_score(y, est.decision_function(X))

    pipe = make_pipeline(StandardScaler(), tfganad.Detector("iforest", random_state=0))
    grid = GridSearchCV(pipe, {"detector__n_estimators": [3, 30], "detector__contamination": [0.1, 0.2]},
                        scoring=auroc, cv=StratifiedKFold(2, shuffle=True, random_state=0)).fit(x, y)
    assert set(grid.best_params_) == {"detector__n_estimators", "detector__contamination"}
    best = grid.best_estimator_[-1]
    assert best.model_.n_estimators == grid.best_params_["detector__n_estimators"]
    assert best.n_features_in_ == 4 and grid.best_score_ > 0.9
    assert clone(grid.best_estimator_).get_params()["detector__n_estimators"] == best.get_params()["n_estimators"]


def test_scores_do_not_depend_on_the_batch_a_sample_comes_with(monkeypatch):
    """Every scoring batch has exactly `_SCORE_BLOCK` rows, so single samples, subsets and permutations
    score bit-identically (with Eigen's float32 kernels, TF_ENABLE_ONEDNN_OPTS=0, one row alone differed
    from the same row in a batch of 256 by 2e-7 relative before the blocks)."""
    from tfganad import detector as detector_module

    x = np.random.default_rng(3).uniform(size=(70, 3))
    det = tfganad.Detector("egbad", epochs=1, latent_dim=4, random_state=0).fit(x)
    full = det.decision_function(x)
    order = np.random.default_rng(4).permutation(len(x))
    np.testing.assert_array_equal(det.decision_function(x[order]), full[order])
    np.testing.assert_array_equal(np.concatenate([det.decision_function(x[i:i + 1]) for i in (0, 33, 69)]),
                                  full[[0, 33, 69]])
    calls = []
    predict = det.model_.predict_on_batch
    monkeypatch.setattr(det.model_, "predict_on_batch", lambda xp: calls.append(len(xp)) or predict(xp))
    det.decision_function(x[:5])
    det.decision_function(x)
    assert calls == [64, 64, 64] and detector_module._SCORE_BLOCK == 64


def test_pickles_from_before_model_params_was_private_still_load():
    import pickle

    old = tfganad.Detector("egbad", epochs=2)
    state = {k: v for k, v in old.__getstate__().items() if k != "_model_params"}
    restored = tfganad.Detector.__new__(tfganad.Detector)
    restored.__setstate__({**state, "model_params": {"latent_dim": 4}})
    assert restored.get_params()["latent_dim"] == 4 and restored.epochs == 2
    assert pickle.loads(pickle.dumps(restored)).get_params() == restored.get_params()
