"""`Detector`: a scikit-learn / PyOD style facade over any registered tfganad model.

    >>> det = tfganad.Detector("egbad", contamination=0.1, epochs=5, latent_dim=16, random_state=0)
    >>> det.fit(x_train)                     # normal-only or contaminated data; labels are never used
    >>> det.decision_function(x_test)        # raw scores, higher = more anomalous
    >>> det.predict(x_test)                  # 1 = anomalous, 0 = normal
    >>> det.predict_proba(x_test)            # (n, 2): [P(normal), P(anomalous)]

The contract follows PyOD's `BaseDetector`: after `fit`, `decision_scores_` holds the training
scores, `threshold_` is their (1 − contamination) percentile and `labels_` the training labels.

Inputs:
* images, shape (N, H, W) or (N, H, W, C) with 1 or 3 channels, in any value range: a fitted affine
  map sends the training data's [min, max] (or a given `value_range`) to [-1, 1], the range of the
  generators' tanh outputs. Values of later inputs outside that range are not clipped: they are
  evidence of an anomaly. `image_size` resizes (bilinear) to what the convolutional networks accept.
* table rows, shape (N, F) (a NumPy array, a nested list or a pandas DataFrame): used as given, or
  standardised per feature with `standardize=True` (or put a scaler before the detector in a
  scikit-learn `Pipeline`). `n_features_in_` (and `feature_names_in_` for a DataFrame) are set by `fit`
  and checked by every later call, as in scikit-learn.

Inputs are validated as scikit-learn estimators validate theirs (`sklearn.utils.validation`), with the
Detector's own one-line messages: sparse matrices, complex numbers, NaN/inf, empty arrays, one sample
in `fit` and 1-D arrays are rejected with a `DataError` (a `ValueError`; `TypeError` too for values
that are not numbers). `sklearn.utils.estimator_checks.check_estimator` passes (tests/test_detector_sklearn.py).
"""

from __future__ import annotations

import inspect
import os
import tempfile

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from tfganad.errors import ConfigError, DataError
from tfganad.registry import did_you_mean, get_model_class
from tfganad.training.evaluate import calibrate, select_weights

#: Model constructor arguments the facade sets itself (from X and `random_state`).
_RESERVED = {"input_shape": "it is taken from X", "seed": "use random_state"}
_SCORE_BATCH = 256  # batch of the validation scores during fit
#: `decision_function` scores in blocks of exactly this many samples (the last one padded): float32
#: kernels may round differently for other batch shapes (Eigen's matrix-vector path for one row, GPU
#: algorithm choice), and a sample's score must not depend on the samples it came with.
_SCORE_BLOCK = 64
#: Smaller blocks for the latent-search models (AnoGAN, ADGAN): each padded sample costs a full search.
_SEARCH_SCORE_BLOCK = 16
_INPUT_SHAPES = "table rows (N, features) or images (N, H, W[, C])"


class DataTypeError(DataError, TypeError):
    """Input values that are not numbers (e.g. a dict in an object array): a `TypeError` as in NumPy and
    scikit-learn, and a `DataError` like every other bad input of the Detector."""


def model_param_names(model_cls) -> list:
    """Constructor argument names of a registered model class (and of its tfganad base classes).

    Keras models forward `**kwargs` to their base classes, so the names of every tfganad class in the
    MRO are collected; a baseline lists all of its arguments in its own signature.
    """
    names = []
    for klass in model_cls.__mro__:
        if not klass.__module__.startswith("tfganad.") or "__init__" not in vars(klass):
            continue
        for p in list(inspect.signature(klass.__init__).parameters.values())[1:]:
            if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL) and p.name not in names:
                names.append(p.name)
    return names


class Detector(BaseEstimator):
    """Scikit-learn / PyOD style anomaly detector backed by a registered tfganad model.

    Args:
        model: registered model name (`tfganad.available_models()`), e.g. "egbad", "ganomaly", or a
            scikit-learn baseline (`tfganad.registry.available_baselines()`: "iforest", "ocsvm",
            "pca_kde", "pca_gmm", "pca_recon"), fitted on the same preprocessed inputs; `epochs`,
            `batch_size`, `learning_rate`, `beta_1`, `validation_fraction` and `callbacks` concern
            GAN training and are ignored by baselines.
        contamination: expected share of anomalies in the training data, in (0, 0.5]; sets
            `threshold_` as the (1 − contamination) percentile of the training scores.
        epochs: training epochs; a GAN ensemble trains `epoch_multiplier` (max(I, J) for its random-pair
            schedule) times as many, as through a recipe.
        batch_size: training batch size (capped at the number of training samples).
        learning_rate: Adam learning rate of every player.
        beta_1: Adam β₁ of every player (0.5, as in the GAN papers).
        random_state: seed of Keras, NumPy and TensorFlow (`keras.utils.set_random_seed`) and of the
            model's noise stream; None leaves the global generators alone.
        image_size: resize images to this side (int) or (height, width) before training and scoring.
        value_range: (low, high) of raw image values mapped to [-1, 1], e.g. (0, 255); None fits
            it on the training data's min and max. Ignored for table rows.
        standardize: z-score table rows with the training rows' per-feature mean and std.
        validation_fraction: if set (in (0, 0.5]), hold out this share of X (drawn with random_state)
            and keep the epoch with the lowest mean anomaly score on it (`val_score`, the CLI's default
            model selection; GAN training is noisy from epoch to epoch); None trains on all of X and
            keeps the last epoch, as PyOD does.
        verbose: Keras progress output of `fit` (0 silent, 1 bar, 2 one line per epoch).
        **model_params: constructor arguments of the model class (e.g. latent_dim=16, case="case1");
            returned by `get_params` and settable with `set_params` like the named ones.

    Attributes (after `fit`):
        model_: the trained `keras.Model` (an `AdversarialDetector`), its calibration set to the
            training scores' min-max and to `threshold_`, and the fitted `preprocessor_`, so its SavedModel
            export (`tfganad.export.export_saved_model`) takes raw X in `serving_default` (and
            `preprocess(X)` in `serve_preprocessed`) and agrees with `predict`; for a baseline, the fitted `tfganad.baselines`
            estimator (no Keras model, no calibration weights).
        decision_scores_: raw anomaly scores of the training data (higher = more anomalous).
        threshold_: decision threshold on raw scores; `labels_`: training labels (1 = anomalous).
        preprocessor_: the fitted `tfganad.preprocessing.Preprocessor` (raw X → model inputs, Keras
            preprocessing layers: Rescaling + Resizing for images, Normalization with `standardize`).
        input_shape_: sample shape the model sees (after resizing); history_: Keras training history;
        selected_epoch_: the epoch whose weights `model_` holds (1-based).
        n_features_in_: number of features of the table rows seen by `fit` (not set for images, whose
            size may change with `image_size`); later calls with another count raise.
        feature_names_in_: column names of a pandas DataFrame given to `fit` (only then); later
            DataFrames must have the same columns in the same order.
    """

    def __init__(self, model: str = "egbad", contamination: float = 0.1, epochs: int = 10,
                 batch_size: int = 64, learning_rate: float = 2e-4, beta_1: float = 0.5, random_state=None,
                 image_size=None, value_range=None, standardize: bool = False, validation_fraction=None,
                 verbose: int = 0, **model_params):
        self.model = model
        self.contamination = contamination
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.beta_1 = beta_1
        self.random_state = random_state
        self.image_size = image_size
        self.value_range = value_range
        self.standardize = standardize
        self.validation_fraction = validation_fraction
        self.verbose = verbose
        # scikit-learn's rule: __init__ stores the arguments and nothing else; they are validated by fit.
        # The model's own arguments live in a private dict (a public attribute per name would not be a
        # constructor parameter); get_params/set_params/clone treat them like the named ones.
        self._model_params = dict(model_params)

    # ------------------------------------------------------------------ sklearn parameters --------
    @property
    def model_params(self) -> dict:
        """The model's constructor arguments given as keywords (a copy; change them with `set_params`)."""
        return dict(self._model_params)

    def get_params(self, deep: bool = True) -> dict:
        """Named parameters plus the model's constructor arguments (`**model_params`)."""
        params = super().get_params(deep=deep)
        params.update(self._model_params)
        return params

    def set_params(self, **params):
        """Sets named parameters and model constructor arguments.

        Like scikit-learn's `set_params`, a parameter name the model does not take raises (a
        `ConfigError` with a did-you-mean); values are not validated here but by `fit`, and names are
        checked against the model only when its name is a registered one (else `fit` reports it).
        """
        own = set(self._get_param_names())
        model = params.get("model", self.model)
        extra = [k for k in params if k not in own]
        if extra:
            allowed = self._known_model_params(model, {**self._model_params, **params})
            for key in extra:
                self._check_model_param(key, allowed, model)
        for key, value in params.items():
            if key in own:
                setattr(self, key, value)
            else:
                self._model_params[key] = value
        return self

    def __setstate__(self, state):
        if "model_params" in state and "_model_params" not in state:  # pickled before model_params was private
            state = {**state, "_model_params": state["model_params"]}
            del state["model_params"]
        super().__setstate__(state)

    def __sklearn_tags__(self):
        """scikit-learn tags: dense real-valued input only (sparse and NaN/inf are rejected), images too."""
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.input_tags.allow_nan = False
        tags.input_tags.three_d_array = True  # images (N, H, W); (N, H, W, C) as well
        tags.target_tags.required = False  # unsupervised: y is ignored
        return tags

    @staticmethod
    def _allowed_model_params(model, params=None) -> list:
        """Argument names of `model`; a GAN ensemble also takes those of its `base` model (`params["base"]`),
        as in a recipe."""
        cls = get_model_class(model)
        names = list(cls.recipe_arguments(dict(params or {}))) if hasattr(cls, "recipe_arguments") else \
            model_param_names(cls)
        return [n for n in names if n not in _RESERVED]

    @classmethod
    def _known_model_params(cls, model, params=None):
        """Argument names of `model`, or None when `model` is not a registered name (yet)."""
        try:
            return cls._allowed_model_params(model, params)
        except (ConfigError, TypeError):
            return None

    def _check_model_param(self, key, allowed, model):
        if key in _RESERVED:
            raise ConfigError(f"do not pass {key!r} to Detector: {_RESERVED[key]}")
        if allowed is not None and key not in allowed:
            own = self._get_param_names()
            raise ConfigError(
                f"unknown parameter {key!r} for Detector({model!r}){did_you_mean(key, [*own, *allowed])}; "
                f"Detector parameters: {', '.join(own)}; {model} parameters: {', '.join(allowed)}")

    # ------------------------------------------------------------------ validation ----------------
    def _validate_params(self):
        if not isinstance(self.model, str):
            from tfganad.registry import available_models

            raise ConfigError(f"model must be a registered model name (str), got {self.model!r}; available: "
                              f"{', '.join(available_models())}")
        cls = get_model_class(self.model)  # ConfigError with did-you-mean for unknown names
        c = self.contamination
        if isinstance(c, bool) or not isinstance(c, (int, float, np.number)) or not 0.0 < float(c) <= 0.5:
            raise ConfigError(f"contamination must be a number in (0, 0.5], got {c!r}")
        for name in ("epochs", "batch_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ConfigError(f"{name} must be a positive integer, got {v!r}")
        for name in ("learning_rate", "beta_1"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float, np.number)) or not np.isfinite(v) or v < 0:
                raise ConfigError(f"{name} must be a non-negative number, got {v!r}")
        if not float(self.learning_rate) > 0:
            raise ConfigError(f"learning_rate must be positive, got {self.learning_rate!r}")
        if self.random_state is not None and (isinstance(self.random_state, bool)
                                              or not isinstance(self.random_state, (int, np.integer))):
            raise ConfigError(f"random_state must be an integer or None, got {self.random_state!r}")
        v = self.validation_fraction
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float, np.number))
                              or not 0.0 < float(v) <= 0.5):
            raise ConfigError(f"validation_fraction must be None or a number in (0, 0.5], got {v!r}")
        if self.value_range is not None:
            try:
                low, high = (float(v) for v in self.value_range)
            except (TypeError, ValueError):
                raise ConfigError(f"value_range must be (low, high), got {self.value_range!r}") from None
            if not (np.isfinite(low) and np.isfinite(high) and high > low):
                raise ConfigError(f"value_range must be finite (low, high) with high > low, got {self.value_range!r}")
        allowed = self._allowed_model_params(self.model, self._model_params)
        for key in self._model_params:
            self._check_model_param(key, allowed, self.model)
        return cls

    def _image_size(self):
        size = self.image_size
        if size is None:
            return None
        if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
            size = (int(size), int(size))
        try:
            h, w = (int(v) for v in size)
        except (TypeError, ValueError):
            raise ConfigError(f"image_size must be an int or (height, width), got {self.image_size!r}") from None
        if h < 1 or w < 1:
            raise ConfigError(f"image_size must be positive, got {self.image_size!r}")
        return h, w

    def _validate_X(self, X, *, reset: bool) -> np.ndarray:
        """X as a dense numeric array (N, F) or (N, H, W, C), validated as scikit-learn validates inputs.

        Table rows go through `sklearn.utils.validation.validate_data`, which sets (`reset=True`, in
        `fit`) or checks `n_features_in_` and `feature_names_in_`; images through `check_array`. The
        Detector's own checks come first so that every message is one line naming the bad input and
        also carries the phrase scikit-learn's messages have (e.g. "n_samples=1", "Reshape your data").
        """
        if sp.issparse(X) or type(X).__module__.startswith("scipy.sparse"):
            raise DataError(f"sparse input is not supported: X is a {type(X).__name__}; the Detector needs a "
                            f"dense array of {_INPUT_SHAPES}, e.g. X.toarray()")
        try:
            shape = tuple(np.shape(X))
        except (TypeError, ValueError) as err:  # ragged nested lists
            raise DataError(f"X cannot be converted to an array of {_INPUT_SHAPES}: {err}") from None
        if len(shape) < 2:
            raise DataError(f"X must be {_INPUT_SHAPES}, got a {len(shape)}D array of shape {shape} (Expected 2D "
                            f"array; Reshape your data with X.reshape(-1, 1) if it has a single feature or "
                            f"X.reshape(1, -1) if it holds a single sample)")
        if len(shape) > 4:
            raise DataError(f"X must be {_INPUT_SHAPES}, got a {len(shape)}D array of shape {shape}")
        min_samples = 2 if reset else 1
        if shape[0] < min_samples:
            need = "X is empty" if shape[0] == 0 else "fit needs at least 2 samples"
            raise DataError(f"{need}: found array with {shape[0]} sample(s) (shape={shape}, n_samples={shape[0]}) "
                            f"while a minimum of {min_samples} is required")
        if len(shape) == 2 and shape[1] == 0:
            raise DataError(f"X is empty: found array with 0 feature(s) (shape={shape}) while a minimum of 1 is "
                            f"required.")
        if 0 in shape:
            raise DataError(f"X is empty (shape {shape})")
        if np.iscomplexobj(X):
            raise DataError(f"X must be real-valued: Complex data not supported (dtype {np.asarray(X).dtype})")
        if not hasattr(X, "dtypes"):  # not a DataFrame (whose column names validate_data keeps)
            X = np.asarray(X)
            if X.dtype.kind in "USb":  # numeric strings and booleans: converted (check_array rejects strings)
                try:
                    X = X.astype(np.float64)
                except (TypeError, ValueError) as err:
                    raise DataError(f"X must be numeric, got dtype {X.dtype}: {err}") from None
        try:
            if len(shape) == 2:
                x = validate_data(self, X, reset=reset, accept_sparse=False, dtype="numeric",
                                  ensure_all_finite=False, ensure_min_samples=min_samples)
            else:
                x = check_array(X, accept_sparse=False, dtype="numeric", ensure_all_finite=False, allow_nd=True,
                                ensure_min_samples=min_samples, estimator=self)
        except TypeError as err:  # e.g. a dict in an object array: NumPy's "float() argument must be ..."
            raise DataTypeError(f"X must be numeric, got a value that is not a number: {err}") from None
        except ValueError as err:  # feature count or names differ from fit's; values not numbers
            raise DataError(str(err)) from None
        if len(shape) > 2 and reset:  # images: no feature count or names (sizes may change with image_size)
            for name in ("n_features_in_", "feature_names_in_"):
                if hasattr(self, name):
                    delattr(self, name)
        if not np.issubdtype(x.dtype, np.number):
            x = x.astype(np.float64)
        if np.issubdtype(x.dtype, np.floating):
            bad = ~np.isfinite(x)
            if bad.any():  # scikit-learn's phrase first ("Input X contains NaN"), then what to do
                what = "NaN" if np.isnan(x).any() else "infinity"
                rows = int(bad.any(axis=tuple(range(1, x.ndim))).sum())
                raise DataError(f"Input X contains {what}: {int(bad.sum())} NaN/inf value(s) in {rows} sample(s); "
                                f"the Detector needs finite values: drop or impute them first (e.g. "
                                f"sklearn.impute.SimpleImputer in a Pipeline)")
        if x.ndim == 3:
            x = x[..., None]
        return x

    # ------------------------------------------------------------------ preprocessing -------------
    def _fit_preprocessing(self, x: np.ndarray):
        """Fits `preprocessor_` (a `tfganad.preprocessing.Preprocessor`) on the training inputs."""
        from tfganad.preprocessing import Preprocessor

        self.kind_ = "image" if x.ndim == 4 else "tabular"
        self.raw_sample_shape_ = tuple(x.shape[1:])
        if self.kind_ == "image":
            channels = x.shape[-1]
            if channels not in (1, 3):
                raise DataError(f"images must have 1 (grayscale) or 3 (RGB) channels, got {channels} "
                                f"(shape {x.shape}); convert them first")
            if self.value_range is not None:
                low, high = (float(v) for v in self.value_range)
            else:
                low, high = float(np.min(x)), float(np.max(x))
            self.input_offset_ = low
            self.input_scale_ = (high - low) or 1.0
            size = self._image_size() or tuple(x.shape[1:3])
            self.preprocessor_ = Preprocessor.for_images((*size, channels), (low, high), channels)
        else:
            mean = variance = None
            if self.standardize:
                self.input_offset_ = x.mean(0).astype(np.float32)
                std = x.std(0).astype(np.float32)
                self.input_scale_ = np.where(std > 0, std, 1.0).astype(np.float32)
                mean, variance = self.input_offset_, np.square(self.input_scale_.astype(np.float64))
            else:
                self.input_offset_, self.input_scale_ = 0.0, 1.0
            self.preprocessor_ = Preprocessor("tabular", x.shape[1:], mean=mean, variance=variance)

    def preprocess(self, X) -> np.ndarray:
        """Inputs as the model sees them (scaled, resized, float32): what `model_` and its export take."""
        check_is_fitted(self, "model_")
        return self._transform(self._validate_X(X, reset=False))

    def _transform(self, x: np.ndarray) -> np.ndarray:
        kind = "image" if x.ndim == 4 else "tabular"
        size = self._image_size()
        if kind != self.kind_ or (kind == "tabular" and x.shape[1:] != self.raw_sample_shape_):
            raise DataError(f"X has samples of shape {x.shape[1:]} but the detector was fitted on "
                            f"{self.raw_sample_shape_} ({self.kind_})")
        if kind == "image":
            if x.shape[-1] != self.raw_sample_shape_[-1] or (size is None and x.shape[1:] != self.raw_sample_shape_):
                raise DataError(f"X has images of shape {x.shape[1:]} but the detector was fitted on "
                                f"{self.raw_sample_shape_}" + ("" if size else "; set image_size to resize"))
        return self.preprocessor_.transform(x.astype(np.float32))

    # ------------------------------------------------------------------ fit / score ---------------
    def fit(self, X, y=None, callbacks=None):
        """Trains the model on X (labels are ignored) and fits the contamination threshold.

        Args:
            X: images (N, H, W[, C]) or table rows (N, F); normal-only or contaminated.
            y: ignored (unsupervised), accepted for scikit-learn compatibility.
            callbacks: optional Keras callbacks passed to `Model.fit`.
        Returns:
            self.
        """
        import keras

        from tfganad.training.fit import as_scorer

        cls = self._validate_params()
        x = self._validate_X(X, reset=True)
        kinds = getattr(cls, "input_kinds", ("image", "tabular"))
        kind = "image" if x.ndim == 4 else "tabular"
        if kind not in kinds:
            from tfganad.registry import available_models

            fits = [n for n in available_models() if kind in getattr(get_model_class(n), "input_kinds",
                                                                       ("image", "tabular"))]
            raise ConfigError(f"model {self.model!r} supports {' and '.join(kinds)} inputs only, got {kind} data "
                              f"of shape {x.shape}; models for {kind} data: {', '.join(fits)}")
        if issubclass(cls, keras.Model):
            from tfganad.training.performance import configure_threads

            # As tfganad-train does; a no-op once TensorFlow has run an op in this process.
            configure_threads("auto", "auto", rows=kind == "tabular")
        self._fit_preprocessing(x)
        xp = self._transform(x)
        params = dict(self._model_params)
        params["seed"] = int(self.random_state) if self.random_state is not None else 0
        if kind == "image" and issubclass(cls, keras.Model):  # the convolutional networks' size rule
            self._check_image_shape(xp.shape[1:])
        if self.random_state is not None:
            keras.utils.set_random_seed(int(self.random_state))
        try:
            scorer = as_scorer(cls(input_shape=list(xp.shape[1:]), **params), _SCORE_BATCH)
        except ConfigError as err:
            if kind == "image":
                raise ConfigError(f"{err}; Detector(image_size=...) resizes the images") from err
            raise
        scorer.compile(xp, learning_rate=float(self.learning_rate), beta_1=float(self.beta_1))
        seed = int(self.random_state) if self.random_state is not None else None
        x_fit, x_val = xp, None
        # Held-out data only where there are epochs to select from (a baseline fits on all of X).
        if self.validation_fraction is not None and scorer.selects_epochs:
            order = np.random.default_rng(seed).permutation(len(xp))
            n_val = max(1, int(round(float(self.validation_fraction) * len(xp))))
            if len(xp) - n_val < 2:
                raise DataError(f"validation_fraction={self.validation_fraction} leaves fewer than 2 of "
                                f"{len(xp)} samples for training")
            x_fit, x_val = xp[order[n_val:]], xp[order[:n_val]]
        batch = min(int(self.batch_size), len(x_fit))
        callbacks = list(callbacks or [])
        with tempfile.TemporaryDirectory(prefix="tfganad-detector-") as tmp:
            checkpoint = os.path.join(tmp, "best.weights.h5")
            if x_val is not None:
                from tfganad.training.callbacks import BestCheckpoint  # a NaN epoch is never "best"

                callbacks.insert(0, BestCheckpoint(
                    checkpoint, monitor="val_score", mode="min", save_best_only=True, save_weights_only=True))
            # `epochs` × the model's epoch_multiplier (a GAN ensemble: max(I, J)), as through a recipe.
            self.history_ = scorer.fit(x_fit, x_val, epochs=int(self.epochs), batch_size=batch, seed=seed,
                                       callbacks=callbacks, verbose=self.verbose)
            self.selected_epoch_ = len(next(iter(self.history_.values()), [])) or 1
            selected = select_weights(scorer.model, self.history_, "val_score" if x_val is not None else None,
                                      "min", checkpoint)
            if selected is not None:
                self.selected_epoch_ = selected
        if hasattr(scorer.model, "attach_preprocessor"):  # a Keras model: its SavedModel takes raw X
            scorer.model.attach_preprocessor(self.preprocessor_)
        self.model_ = scorer.model
        self.input_shape_ = tuple(xp.shape[1:])
        self.decision_scores_ = self._score(xp)
        if not np.all(np.isfinite(self.decision_scores_)):
            raise DataError(f"{self.model} gives {int(np.sum(~np.isfinite(self.decision_scores_)))} NaN/inf "
                            f"training scores: {scorer.diverged_hint}")
        self._process_decision_scores(scorer)
        return self

    @staticmethod
    def _check_image_shape(shape):
        from tfganad.networks.conv import resolve_stages

        try:
            resolve_stages(shape)
        except ConfigError:
            h, w = shape[:2]
            ok = max(16, 4 * int(np.ceil(max(h, w) / 4)))
            raise ConfigError(
                f"image size {h}x{w} cannot work with the convolutional networks: height and width must be "
                f"divisible by 4 and at least 16 (e.g. 16, 28, 32, 64); pass image_size={ok} to resize") from None

    def _process_decision_scores(self, scorer):
        """PyOD's rule: threshold at the (1 − contamination) percentile of the training scores; the model's
        calibration (`evaluate.calibrate`, min-max) is fitted on the same scores."""
        scores = self.decision_scores_
        cal = calibrate(scores, "minmax", 1.0 - float(self.contamination))
        self.threshold_ = cal.threshold
        self.labels_ = (scores > self.threshold_).astype(int)
        self._mu, self._sigma = float(np.mean(scores)), float(np.std(scores))
        scorer.set_calibration(cal)

    def _score(self, xp: np.ndarray) -> np.ndarray:
        n, block = len(xp), self._score_block()
        padded = -(-n // block) * block
        if padded > n:  # zeros are finite and each sample is scored on its own, so they change nothing else
            xp = np.concatenate([xp, np.zeros((padded - n, *xp.shape[1:]), xp.dtype)])
        # predict_on_batch: one traced function for the fixed block shape, without predict's per-call
        # set-up (about 0.2 s, which dominated scoring a few samples).
        scores = [np.asarray(self.model_.predict_on_batch(xp[start:start + block]), np.float64).reshape(block)
                  for start in range(0, padded, block)]
        return np.concatenate(scores)[:n]

    def _score_block(self) -> int:
        """Rows per scoring batch, the same for every call (see `_SCORE_BLOCK`)."""
        search = getattr(self.model_, "search_batch_size", None)
        if search is None:
            return _SCORE_BLOCK
        return max(1, min(_SEARCH_SCORE_BLOCK, int(search)))  # full search chunks: no ragged last chunk

    def decision_function(self, X) -> np.ndarray:
        """Raw anomaly scores of X, shape (n,); higher = more anomalous."""
        check_is_fitted(self, "model_")
        return self._score(self._transform(self._validate_X(X, reset=False)))

    def predict(self, X) -> np.ndarray:
        """Labels of X, shape (n,): 1 = anomalous (score > threshold_), 0 = normal."""
        return (self.decision_function(X) > self.threshold_).astype(int)

    def fit_predict(self, X, y=None) -> np.ndarray:
        """Fits on X and returns the training labels `labels_`."""
        return self.fit(X, y).labels_

    def predict_proba(self, X, method: str = "linear") -> np.ndarray:
        """Probability of each class, shape (n, 2): [:, 0] normal, [:, 1] anomalous.

        Args:
            method: `linear` (PyOD default): min-max of the training scores, clipped to [0, 1];
                `unify`: erf of the z-score against the training scores (Kriegel et al., 2011), clipped.
        """
        scores = self.decision_function(X)
        train = self.decision_scores_
        if method == "linear":
            span = float(train.max() - train.min()) or 1.0
            p = (scores - train.min()) / span
        elif method == "unify":
            from scipy.special import erf

            p = erf((scores - self._mu) / ((self._sigma or 1.0) * np.sqrt(2.0)))
        else:
            raise ConfigError(f"unknown predict_proba method {method!r}; allowed: linear, unify")
        p = np.clip(p, 0.0, 1.0)
        return np.stack([1.0 - p, p], axis=1)
