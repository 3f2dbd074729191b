"""Classical anomaly detectors from scikit-learn, run on the same splits as the GAN models.

Recipes name them like models (`model.name: iforest`); their constructor arguments are recipe keys and
unknown keys are rejected by `tfganad.config` exactly as for models. Images are flattened to vectors.
Every baseline follows the project's convention: `score_samples(x)` returns one score per sample,
**higher = more anomalous**.

| name | what | score |
|---|---|---|
| `iforest` | Isolation forest (Liu et al. 2008) | −`IsolationForest.score_samples` (the paper's s(x, n)) |
| `ocsvm` | One-class SVM, RBF kernel (Schölkopf et al. 2001) | −`decision_function` |
| `pca_kde` | PCA, then a Gaussian kernel density | −log density |
| `pca_gmm` | PCA, then a Gaussian mixture | −log likelihood |
| `pca_recon` | PCA reconstruction error | squared L2 distance to the principal subspace |

These are the baselines of ALAD (Zenati et al. 2018, Table II: OC-SVM, IF) and ADGAN (Deecke et al.
2018, Table 1: KDE and OC-SVM on PCA features, IF, GMM). The runner, the sweeps and the `Detector` train
and evaluate them through `tfganad.training.evaluate` exactly as the GAN models: fit on the normal
training split, threshold from normal validation scores, the same metrics.json keys, a report, the
test scores and `model.pkl` (the fitted estimator; no SavedModel for scikit-learn models).
"""

from __future__ import annotations

import pathlib
from typing import Optional

import numpy as np

from tfganad.errors import ConfigError, TrainingError
from tfganad.registry import register_baseline
from tfganad.training.io import save_test_scores  # lives in io: the runner imports it without importing baselines

SCALINGS = ("none", "standard", "minmax")


def flatten(x) -> np.ndarray:
    """(N, ...) samples → (N, features) float32 rows."""
    x = np.asarray(x, dtype=np.float32)
    return x.reshape(len(x), -1)


class Baseline:
    """Common part of the baselines: flattening, optional feature scaling and training subsample.

    Subclasses set `score_name`, implement `_fit(rows)` and `_score(rows)` (higher = more anomalous),
    and list every constructor argument explicitly (the recipe validator reads the signature).
    """

    is_baseline = True
    is_image = False
    score_name = "score"
    input_kinds = ("image", "tabular")

    def _init_common(self, input_shape, seed, scaling, max_train_samples):
        # === Config ===
        if scaling not in SCALINGS:
            raise ConfigError(f"unknown model.scaling {scaling!r}; allowed: {', '.join(SCALINGS)}")
        if max_train_samples is not None and max_train_samples < 2:
            raise ConfigError(f"model.max_train_samples must be at least 2, got {max_train_samples}")
        self.input_shape = None if input_shape is None else tuple(input_shape)
        self.seed = int(seed)
        self.scaling = scaling
        self.max_train_samples = max_train_samples
        self.scaler_ = None
        self.n_fit_ = 0

    def get_config(self) -> dict:
        """Every constructor argument (the recipe's model section, without `name`)."""
        import inspect

        names = [n for n in inspect.signature(type(self).__init__).parameters if n != "self"]
        config = {n: getattr(self, n) for n in names}
        if config.get("input_shape") is not None:
            config["input_shape"] = list(config["input_shape"])
        return config

    def _rows(self, x, fit: bool = False) -> np.ndarray:
        rows = flatten(x)
        if self.scaling == "none":
            return rows
        if fit:
            from sklearn.preprocessing import MinMaxScaler, StandardScaler

            self.scaler_ = (StandardScaler() if self.scaling == "standard" else MinMaxScaler()).fit(rows)
        return self.scaler_.transform(rows).astype(np.float32)

    def fit(self, x) -> "Baseline":
        """Fits on normal training samples (a random subsample when `max_train_samples` is set)."""
        x = np.asarray(x)
        if len(x) < 2:
            raise ConfigError(f"{self.registry_name} needs at least 2 training samples, got {len(x)}")
        if self.max_train_samples and len(x) > self.max_train_samples:
            keep = np.random.default_rng(self.seed).permutation(len(x))[: self.max_train_samples]
            x = x[np.sort(keep)]
        self.n_fit_ = len(x)
        self._fit(self._rows(x, fit=True))
        return self

    def score_samples(self, x) -> np.ndarray:
        """Anomaly score per sample, shape (N,), float64; higher = more anomalous."""
        return np.asarray(self._score(self._rows(x)), dtype=np.float64).ravel()

    def predict_on_batch(self, x) -> np.ndarray:
        """`score_samples` under Keras' name, so the Detector scores every model in the same blocks."""
        return self.score_samples(x)

    def score_components(self, x) -> dict:
        """{score_name: scores}, the same shape of result as a GAN model's score variants."""
        return {self.score_name: self.score_samples(x)}

    def reconstruct(self, x):
        """Reconstruction of `x` (PCA baselines) in input space, or None."""
        return None

    def _fit(self, rows):
        raise NotImplementedError

    def _score(self, rows):
        raise NotImplementedError


class _PCABaseline(Baseline):
    """Baselines working on PCA features (fitted on the training rows)."""

    def _fit_pca(self, rows):
        from sklearn.decomposition import PCA

        k = min(self.pca_components, rows.shape[0], rows.shape[1])
        self.pca_ = PCA(n_components=k, whiten=getattr(self, "whiten", False), random_state=self.seed).fit(rows)
        return self.pca_.transform(rows)

    def reconstruct(self, x):
        rows = self._rows(x)
        back = self.pca_.inverse_transform(self.pca_.transform(rows))
        if self.scaler_ is not None:
            back = self.scaler_.inverse_transform(back)
        return back.reshape(np.asarray(x).shape).astype(np.float32)


def _check_pca(pca_components, required: bool = True):
    if pca_components is None and not required:
        return
    if not isinstance(pca_components, int) or isinstance(pca_components, bool) or pca_components < 1:
        raise ConfigError(f"model.pca_components must be a positive integer, got {pca_components!r}")


@register_baseline("iforest")
class IForest(Baseline):
    """Isolation forest (Liu, Ting & Zhou, ICDM 2008) on flattened inputs.

    Args:
        n_estimators: number of trees (scikit-learn default 100; ALAD uses the defaults).
        max_samples: samples per tree (int, or a fraction in (0, 1]); None = min(256, n).
        max_features: fraction of features per tree.
        scaling: `none` | `standard` | `minmax`, fitted on the training split.
        max_train_samples: fit on a random subsample of this size (None = all).
        n_jobs: scikit-learn parallelism (1 keeps shared machines usable).
    """

    score_name = "iforest"

    def __init__(self, input_shape=None, seed: int = 0, n_estimators: int = 100, max_samples=None,
                 max_features: float = 1.0, scaling: str = "none", max_train_samples: Optional[int] = None,
                 n_jobs: int = 1):
        self._init_common(input_shape, seed, scaling, max_train_samples)
        if n_estimators < 1:
            raise ConfigError(f"model.n_estimators must be at least 1, got {n_estimators}")
        if max_samples is not None and not (isinstance(max_samples, (int, float)) and max_samples > 0):
            raise ConfigError(f"model.max_samples must be a positive integer, a fraction in (0, 1] or null, "
                              f"got {max_samples!r}")
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.max_features = max_features
        self.n_jobs = n_jobs

    def _fit(self, rows):
        from sklearn.ensemble import IsolationForest

        self.estimator_ = IsolationForest(n_estimators=self.n_estimators,
                                          max_samples="auto" if self.max_samples is None else self.max_samples,
                                          max_features=self.max_features, random_state=self.seed,
                                          n_jobs=self.n_jobs).fit(rows)

    def _score(self, rows):
        # score_samples is the negated anomaly score of the paper: negate back.
        return -self.estimator_.score_samples(rows)


@register_baseline("ocsvm")
class OCSVM(Baseline):
    """One-class SVM (Schölkopf et al. 2001), optionally on PCA features.

    Args:
        kernel: scikit-learn kernel (`rbf` as in ALAD and ADGAN).
        nu: upper bound on the training outlier share (ADGAN: 0.1; ALAD: the expected anomaly share).
        gamma: RBF inverse length scale: a number, `scale` (None, scikit-learn's default) or `auto`
            (1 / n_features, ALAD's choice).
        pca_components: project onto this many principal components first (None = raw features).
        scaling, max_train_samples: as for every baseline; fitting is O(n²), hence the 10,000 default.
    """

    score_name = "ocsvm"

    def __init__(self, input_shape=None, seed: int = 0, kernel: str = "rbf", nu: float = 0.1, gamma=None,
                 pca_components: Optional[int] = None, scaling: str = "none",
                 max_train_samples: Optional[int] = 10000):
        self._init_common(input_shape, seed, scaling, max_train_samples)
        if not 0.0 < nu <= 1.0:
            raise ConfigError(f"model.nu must be in (0, 1], got {nu}")
        if gamma is not None and gamma not in ("scale", "auto") and not (
                isinstance(gamma, (int, float)) and not isinstance(gamma, bool) and gamma > 0):
            raise ConfigError(f"model.gamma must be a positive number, 'scale', 'auto' or null, got {gamma!r}")
        _check_pca(pca_components, required=False)
        self.kernel = kernel
        self.nu = nu
        self.gamma = gamma
        self.pca_components = pca_components

    def _fit(self, rows):
        from sklearn.svm import OneClassSVM

        if self.pca_components:
            from sklearn.decomposition import PCA

            k = min(self.pca_components, rows.shape[0], rows.shape[1])
            self.pca_ = PCA(n_components=k, random_state=self.seed).fit(rows)
            rows = self.pca_.transform(rows)
        self.estimator_ = OneClassSVM(kernel=self.kernel, nu=self.nu,
                                      gamma="scale" if self.gamma is None else self.gamma).fit(rows)

    def _score(self, rows):
        if self.pca_components:
            rows = self.pca_.transform(rows)
        return -self.estimator_.decision_function(rows)


@register_baseline("pca_kde")
class PCAKDE(_PCABaseline):
    """Kernel density on PCA features (ADGAN's "KDE PCA" baseline); score = −log density.

    Args:
        pca_components: principal components kept (ADGAN searches 20…100).
        bandwidth: kernel bandwidth: a number, `scott` (None) or `silverman`.
        kernel: scikit-learn KernelDensity kernel.
        whiten: whiten the PCA features (unit variance per component) before the density.
        scaling, max_train_samples: as for every baseline; scoring costs O(n_train) per sample.
    """

    score_name = "kde"

    def __init__(self, input_shape=None, seed: int = 0, pca_components: int = 32, bandwidth=None,
                 kernel: str = "gaussian", whiten: bool = False, scaling: str = "none",
                 max_train_samples: Optional[int] = 10000):
        self._init_common(input_shape, seed, scaling, max_train_samples)
        _check_pca(pca_components)
        if bandwidth is not None and bandwidth not in ("scott", "silverman") and not (
                isinstance(bandwidth, (int, float)) and not isinstance(bandwidth, bool) and bandwidth > 0):
            raise ConfigError(f"model.bandwidth must be a positive number, 'scott', 'silverman' or null, "
                              f"got {bandwidth!r}")
        self.pca_components = pca_components
        self.bandwidth = bandwidth
        self.kernel = kernel
        self.whiten = whiten

    def _fit(self, rows):
        from sklearn.neighbors import KernelDensity

        feats = self._fit_pca(rows)
        self.estimator_ = KernelDensity(kernel=self.kernel,
                                        bandwidth="scott" if self.bandwidth is None else self.bandwidth).fit(feats)

    def _score(self, rows):
        return -self.estimator_.score_samples(self.pca_.transform(rows))


@register_baseline("pca_gmm")
class PCAGMM(_PCABaseline):
    """Gaussian mixture on PCA features (ADGAN's "GMM" baseline); score = −log likelihood.

    Args:
        pca_components: principal components kept.
        mixture_components: Gaussians in the mixture (ADGAN selects 2…20 by BIC).
        covariance_type: `full` | `tied` | `diag` | `spherical`.
        reg_covar: added to the covariance diagonals for stability.
        whiten: whiten the PCA features first.
        scaling, max_train_samples: as for every baseline.
    """

    score_name = "gmm"

    def __init__(self, input_shape=None, seed: int = 0, pca_components: int = 32, mixture_components: int = 10,
                 covariance_type: str = "full", reg_covar: float = 1e-6, whiten: bool = False,
                 scaling: str = "none", max_train_samples: Optional[int] = None):
        self._init_common(input_shape, seed, scaling, max_train_samples)
        _check_pca(pca_components)
        if mixture_components < 1:
            raise ConfigError(f"model.mixture_components must be at least 1, got {mixture_components}")
        if covariance_type not in ("full", "tied", "diag", "spherical"):
            raise ConfigError(f"unknown model.covariance_type {covariance_type!r}; allowed: full, tied, diag, "
                              f"spherical")
        self.pca_components = pca_components
        self.mixture_components = mixture_components
        self.covariance_type = covariance_type
        self.reg_covar = reg_covar
        self.whiten = whiten

    def _fit(self, rows):
        from sklearn.mixture import GaussianMixture

        # float64: tabular data with many duplicate rows (KDD99) makes float32 covariances singular.
        feats = self._fit_pca(rows).astype(np.float64)
        try:
            self.estimator_ = GaussianMixture(n_components=min(self.mixture_components, len(feats)),
                                              covariance_type=self.covariance_type, reg_covar=self.reg_covar,
                                              random_state=self.seed).fit(feats)
        except ValueError as exc:
            raise TrainingError(f"pca_gmm: the mixture fit failed ({str(exc).split('.')[0]}); raise "
                                f"model.reg_covar (now {self.reg_covar}) or lower model.mixture_components") from None

    def _score(self, rows):
        return -self.estimator_.score_samples(self.pca_.transform(rows).astype(np.float64))


@register_baseline("pca_recon")
class PCARecon(_PCABaseline):
    """PCA reconstruction error: ‖x − W Wᵀ(x − μ) − μ‖², the linear cousin of an autoencoder score.

    Args:
        pca_components: principal components kept.
        scaling, max_train_samples: as for every baseline.
    """

    score_name = "reconstruction"

    def __init__(self, input_shape=None, seed: int = 0, pca_components: int = 32, scaling: str = "none",
                 max_train_samples: Optional[int] = None):
        self._init_common(input_shape, seed, scaling, max_train_samples)
        _check_pca(pca_components)
        self.pca_components = pca_components

    def _fit(self, rows):
        self._fit_pca(rows)

    def _score(self, rows):
        back = self.pca_.inverse_transform(self.pca_.transform(rows))
        return np.sum(np.square(rows.astype(np.float64) - back), axis=1)


def _atomic_bytes(path: pathlib.Path, write):
    """Writes through `write(fh)` into a temporary file, then renames it over `path`."""
    import os
    import tempfile

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.replace(tmp, path)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise


__all__ = ["Baseline", "IForest", "OCSVM", "PCAGMM", "PCAKDE", "PCARecon", "flatten", "save_test_scores"]
