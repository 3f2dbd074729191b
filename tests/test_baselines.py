"""Classical baselines: score direction, hand-computed values, recipe validation, runner integration."""

import json

import numpy as np
import pytest

from tfganad.baselines import IForest, PCARecon, flatten
from tfganad.config import recipe_from_dict
from tfganad.errors import ConfigError
from tfganad.registry import available_baselines, available_models, get_model_class

BASELINES = ["iforest", "ocsvm", "pca_gmm", "pca_kde", "pca_recon"]
SMALL = {"iforest": {"n_estimators": 50}, "ocsvm": {"gamma": "auto", "pca_components": 4},
         "pca_kde": {"pca_components": 4}, "pca_gmm": {"pca_components": 4, "mixture_components": 2},
         "pca_recon": {"pca_components": 2}}


@pytest.fixture(scope="module")
def toy_split():
    """Normal rows near a 2-D plane in 12-D; anomalies far off it (clearly separable)."""
    rng = np.random.default_rng(0)
    basis = rng.normal(size=(2, 12))

    def normal(n):
        return (rng.normal(size=(n, 2)) @ basis + 0.05 * rng.normal(size=(n, 12))).astype("float32")

    x_train, x_val = normal(200), normal(40)
    x_test = np.concatenate([normal(60), (normal(20) + rng.normal(0, 3, size=(20, 12)))]).astype("float32")
    y_test = np.r_[np.zeros(60), np.ones(20)].astype(int)
    return x_train, x_val, x_test, y_test


def test_registry_lists_baselines_apart_from_gan_models():
    assert available_baselines() == BASELINES
    assert not set(BASELINES) & set(available_models())  # the generic GAN contract tests skip them
    with pytest.raises(ConfigError, match="available: .*iforest.*ocsvm"):
        get_model_class("iforrest")


@pytest.mark.parametrize("name", BASELINES)
def test_higher_score_means_more_anomalous(name, toy_split):
    x_train, _, x_test, y_test = toy_split
    model = get_model_class(name)(seed=0, **SMALL[name]).fit(x_train)
    scores = model.score_samples(x_test)
    assert scores.shape == (len(x_test),) and scores.dtype == np.float64
    assert scores[y_test == 1].mean() > scores[y_test == 0].mean()
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(y_test, scores) > 0.9
    assert model.score_components(x_test)[model.score_name].shape == (len(x_test),)


def test_images_are_flattened(tiny_images):
    model = PCARecon(input_shape=(16, 16, 1), pca_components=3).fit(tiny_images)
    assert model.score_samples(tiny_images[:5]).shape == (5,)
    assert model.reconstruct(tiny_images[:5]).shape == (5, 16, 16, 1)
    assert flatten(tiny_images).shape == (32, 256)


def test_pca_recon_is_squared_distance_to_the_principal_line():
    # Training points on the x axis (mean 0): the principal line is y = 0.
    x = np.array([[-2, 0], [-1, 0], [0, 0], [1, 0], [2, 0]], "float32")
    model = PCARecon(pca_components=1).fit(x)
    np.testing.assert_allclose(model.score_samples(np.array([[0, 3], [5, 0], [1, -2]], "float32")), [9, 0, 4],
                               atol=1e-5)


def test_iforest_score_is_negated_sklearn_score_samples(toy_split):
    from sklearn.ensemble import IsolationForest

    x_train, _, x_test, _ = toy_split
    ours = IForest(seed=3, n_estimators=20).fit(x_train).score_samples(x_test)
    ref = IsolationForest(n_estimators=20, random_state=3).fit(x_train).score_samples(x_test)
    np.testing.assert_allclose(ours, -ref)
    assert np.all((ours > 0) & (ours <= 1))  # Liu et al.'s s(x, n) lies in (0, 1]


def test_max_train_samples_subsamples_deterministically(toy_split):
    x_train = toy_split[0]
    a = PCARecon(pca_components=2, max_train_samples=50, seed=1).fit(x_train)
    b = PCARecon(pca_components=2, max_train_samples=50, seed=1).fit(x_train)
    assert a.n_fit_ == 50
    np.testing.assert_allclose(a.pca_.components_, b.pca_.components_)


def test_unknown_baseline_key_rejected_with_the_valid_keys():
    with pytest.raises(ConfigError) as err:
        recipe_from_dict({"model": {"name": "iforest", "n_estimatorz": 10}})
    msg = str(err.value)
    assert "model.n_estimatorz" in msg and "did you mean 'n_estimators'" in msg
    assert "valid keys: name, input_shape, seed, n_estimators, max_samples" in msg


def test_bad_baseline_values_rejected():
    with pytest.raises(ConfigError, match="n_estimators.*integer"):
        recipe_from_dict({"model": {"name": "iforest", "n_estimators": "many"}})
    for name, params, pattern in [("ocsvm", {"nu": 2.0}, "nu"), ("ocsvm", {"gamma": "wide"}, "gamma"),
                                  ("pca_kde", {"pca_components": 0}, "pca_components"),
                                  ("pca_gmm", {"covariance_type": "round"}, "covariance_type"),
                                  ("iforest", {"scaling": "log"}, "scaling")]:
        with pytest.raises(ConfigError, match=pattern):
            get_model_class(name)(**params)


def test_runner_trains_a_baseline_with_the_gan_metrics_keys(tmp_path):
    from tfganad.training.runner import run

    recipe = recipe_from_dict({
        "name": "iforest_digits", "seed": 0,
        "model": {"name": "iforest", "n_estimators": 30},
        "data": {"source": "digits", "anomalous_class": 0, "image_size": 16},
        "train": {"verbose": 0}})
    out = run(recipe, run_dir=tmp_path / "run", echo=lambda *_: None)
    run_dir = tmp_path / "run"
    summary = json.loads((run_dir / "metrics.json").read_text())
    for key in ("metrics", "metrics_by_score", "selected_on_test", "threshold", "train_seconds", "versions",
                "seed", "data_summary", "selected_epoch", "normalizer"):
        assert key in summary, key
    assert summary["selected_on_test"] is False and summary["model"] == "iforest"
    assert 0.5 < summary["metrics"]["auroc"] <= 1.0
    assert {"f1_at_contamination", "f1_at_val_threshold", "auprc"} <= set(summary["metrics"])
    scores = np.load(run_dir / "test_scores.npz")
    assert len(scores["y_true"]) == len(scores["iforest"]) == summary["metrics"]["n_test"]
    for rel in ("recipe.yaml", "report/report.md", "report/roc.png", "model.pkl", "results.csv"):
        assert (run_dir / rel).exists(), rel
    assert out["results"][0]["model"] == "iforest"
    # The threshold comes from normal validation scores only: recompute it.
    from tfganad.data import load_data

    data = load_data(recipe.data, recipe.seed)
    val = IForest(n_estimators=30, seed=0).fit(data.x_train).score_samples(data.x_val)
    assert summary["threshold"] == pytest.approx(float(np.quantile(val, 0.95)))


def test_failed_mixture_fit_is_a_training_error_with_advice():
    from tfganad.baselines import PCAGMM
    from tfganad.errors import TrainingError

    x = np.repeat(np.eye(4, dtype="float32")[:3], 20, axis=0)  # three points, each repeated: collapsed components
    with pytest.raises(TrainingError, match="raise model.reg_covar"):
        PCAGMM(pca_components=2, mixture_components=3, reg_covar=0.0).fit(x)
