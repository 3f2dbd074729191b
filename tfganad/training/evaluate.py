"""One evaluation path for every front end: weight selection, calibration, exact test metrics, results.

The runner (`tfganad-train`, `runner.run`, sweeps), the scikit-learn baselines and the `Detector` all
call these functions, so a model trained the same way on the same split gets the same numbers from
each of them:

* `select_weights`: the epoch a selection rule picks from the per-epoch history, its checkpoint loaded.
* `calibrate`: score normaliser and decision threshold fitted on normal scores only (no test labels).
* `evaluate_components`: exact metrics of the main score and of every other score component.
* `CaseResult`: the `metrics.json` schema of one trained case, which is also where the results rows
  of `runner.run` (`results.csv`/`results.json`) and of a sweep (`results.jsonl`) come from.
* `as_scorer`: Keras models and scikit-learn baselines behind one small interface (`Scorer`: fit,
  score components, calibrate, save), so no caller branches on the kind of model.
"""

from __future__ import annotations

import dataclasses
import pathlib
import time
from typing import Optional, Protocol

import numpy as np

from tfganad.scores.normalizers import ScoreNormalizer
from tfganad.training import metrics as M


# ---------------------------------------------------------------------- selection / calibration ------
def select_weights(model, history: dict, monitor: Optional[str], mode: Optional[str], checkpoint) -> Optional[int]:
    """Loads the best checkpoint of a selection rule → the epoch it selects (1-based), or None.

    The checkpoint is loaded when there is a rule (`monitor`, `mode` "min" or "max"), its file exists
    and `history` logs `monitor`; otherwise the model keeps its weights. The epoch is None when nothing
    was loaded or no epoch has a finite value: epochs without a value (not validated) and NaN epochs
    are never selected.
    """
    if not monitor or checkpoint is None or not pathlib.Path(checkpoint).exists() or monitor not in history:
        return None
    model.load_weights(str(checkpoint))
    values = np.asarray(history[monitor], np.float64)
    if not np.any(np.isfinite(values)):
        return None
    values = np.where(np.isfinite(values), values, np.inf if mode == "min" else -np.inf)
    return int(np.argmin(values) if mode == "min" else np.argmax(values)) + 1


@dataclasses.dataclass
class Calibration:
    """Fitted score normaliser (s' = (s − offset) / scale) and decision threshold on raw scores."""

    kind: str
    offset: float
    scale: float
    threshold: float

    def to_json(self) -> dict:
        """The `normalizer` entry of metrics.json."""
        return {"kind": self.kind, "offset": self.offset, "scale": self.scale}


def calibrate(scores, normalizer: str = "minmax", quantile: float = 0.95) -> Calibration:
    """Normaliser and threshold (the `quantile` of `scores`) fitted on normal scores only.

    Args:
        scores: raw scores of normal samples (validation split; the Detector's training data).
        normalizer: `minmax` | `zscore` | `none` (`tfganad.scores.normalizers`).
        quantile: share of `scores` at or below the threshold.
    Returns:
        A `Calibration`; with no scores, an identity normaliser and a NaN threshold.
    """
    scores = np.asarray(scores, np.float64).ravel()
    norm = ScoreNormalizer(normalizer)
    threshold = float("nan")
    if scores.size:
        norm.fit(scores)
        threshold = float(np.quantile(scores, quantile))
    return Calibration(norm.kind, float(norm.offset), float(norm.scale), threshold)


# ---------------------------------------------------------------------- metrics ----------------------
def evaluate_components(y_true, components: dict, main: str, contamination=None, threshold=None) -> tuple:
    """Exact test metrics → (metrics of the `main` component, {component: metrics}).

    The main metrics are `metrics.evaluate_scores` (ranking metrics, P/R/F1 at the contamination
    percentile and at the validation threshold). Every finite component gets its ranking metrics and,
    when `contamination` is given, P/R/F1 at its own contamination percentile (ALAD Table VII reports
    each score variant this way, all from one trained model).
    """
    metrics = M.evaluate_scores(y_true, components[main], contamination, threshold)
    by_score = {}
    for name, s in components.items():
        if not np.all(np.isfinite(s)):
            continue
        entry = M.ranking_metrics(y_true, s)
        if contamination is not None:
            prf = M.prf_at_threshold(y_true, s, M.percentile_threshold(s, contamination))
            entry.update({f"{k}_at_contamination": v for k, v in prf.items()})
        by_score[name] = entry
    return metrics, by_score


# ---------------------------------------------------------------------- results schema ---------------
#: Keys of a `runner.run` results row taken from `CaseResult.metrics` (None when absent).
_ROW_METRICS = ("auroc", "auprc", "auprc_trapz", "f1_at_contamination", "f1_at_val_threshold")


@dataclasses.dataclass
class CaseResult:
    """One trained and evaluated case: the `metrics.json` schema.

    Fields after `train_images_per_second` are written only when set (each belongs to one kind of
    model), so metrics.json files keep the keys they always had.
    """

    recipe: str
    case: str
    model: str
    score: str
    data: str
    selection: str
    selected_on_test: bool
    selected_epoch: int
    epochs_run: int
    train_seconds: float
    precision: str
    threshold: float
    normalizer: dict
    metrics: dict
    metrics_by_score: dict
    history: dict
    test_monitor: dict
    stopped: Optional[str]
    seed: int
    data_summary: str
    versions: dict
    epochs_before_resume: int
    train_images_per_second: float
    epoch_multiplier: Optional[int] = None
    steps_per_execution: Optional[int] = None
    #: TensorFlow's CPU thread pools during training, [intra_op, inter_op] (0 = TensorFlow's default)
    cpu_threads: Optional[list] = None
    score_seconds: Optional[float] = None
    baseline: Optional[bool] = None
    n_fit: Optional[int] = None
    model_params: Optional[dict] = None
    anomaly_maps: Optional[dict] = None
    saved_model: Optional[str] = None

    _OPTIONAL = ("epoch_multiplier", "steps_per_execution", "cpu_threads", "score_seconds", "baseline", "n_fit", "model_params",
                 "anomaly_maps", "saved_model")

    def to_json(self) -> dict:
        """The metrics.json mapping (optional fields only when set)."""
        out = dataclasses.asdict(self)
        for key in self._OPTIONAL:
            if out[key] is None:
                del out[key]
        return out

    @classmethod
    def from_json(cls, summary: dict) -> "CaseResult":
        """A metrics.json mapping (also one written by an older version: missing keys default) → result."""
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in summary.items() if k in names}
        for f in dataclasses.fields(cls):
            if f.name not in values and f.default is dataclasses.MISSING:
                values[f.name] = {} if f.type in ("dict",) else None
        return cls(**values)

    def results_row(self) -> dict:
        """The row of `runner.run`'s results.csv / results.json."""
        m = self.metrics
        return {"case": self.case or "-", "model": self.model, "score": self.score, "selection": self.selection,
                "selected_on_test": self.selected_on_test, "selected_epoch": self.selected_epoch,
                **{k: m.get(k) for k in _ROW_METRICS},
                "train_seconds": round(self.train_seconds, 2), "seed": self.seed}

    def flat_metrics(self) -> dict:
        """Scalar metrics plus `by_score.<component>.<metric>`: the metric columns of a sweep row."""
        out = {k: v for k, v in (self.metrics or {}).items()
               if isinstance(v, (int, float, str, bool)) or v is None}
        for name, mm in (self.metrics_by_score or {}).items():
            for k, v in mm.items():
                out[f"by_score.{name}.{k}"] = v
        return out


# ---------------------------------------------------------------------- one interface ----------------
class Scorer(Protocol):
    """What the evaluation needs from a model, Keras or scikit-learn."""

    score_name: str
    is_image: bool
    selects_epochs: bool  # whether `fit` trains in epochs that held-out data can select from
    diverged_hint: str  # what to try when scores are not finite

    def compile(self, sample, **options) -> None:
        """Builds and compiles a Keras model on a sample of inputs (nothing for a baseline)."""

    def fit(self, x_train, x_val=None, **options) -> dict:
        """Trains on normal samples → the per-epoch history ({} without epochs)."""

    def fit_case(self, recipe, data, case_dir, strategy, precision: str) -> "FitInfo":
        """Trains for a recipe in a run's case directory → how it was trained."""

    def score_components(self, x) -> dict:
        """{component: float64 scores (N,)}, higher = more anomalous."""

    def set_calibration(self, calibration: Calibration) -> None:
        """Stores the fitted normaliser and threshold with the model."""

    def reconstruct(self, x):
        """Reconstruction of `x` in input space, or None."""

    def save(self, case_dir, recipe, data) -> dict:
        """Writes the model files of a run → metrics.json entries (e.g. {"saved_model": path})."""


class BaselineScorer:
    """A `tfganad.baselines` estimator behind the `Scorer` interface (no epochs, no Keras weights)."""

    selects_epochs = False
    diverged_hint = "try standardize=True or scaling='standard'"

    def __init__(self, model):
        self.model = model
        self.score_name = model.score_name
        self.is_image = False
        self.epoch_multiplier = 1

    def compile(self, sample=None, **options) -> None:
        """Nothing to build or compile."""

    def fit(self, x_train, x_val=None, **options) -> dict:
        """Fits on `x_train`; the options of GAN training do not apply."""
        self.model.fit(x_train)
        return {}

    def fit_case(self, recipe, data, case_dir, strategy=None, precision: str = "") -> "FitInfo":
        """Fits on the training split for a recipe; a baseline has no epochs, selection or resume."""
        start = time.perf_counter()
        self.fit(data.x_train)
        seconds = time.perf_counter() - start
        return FitInfo(selection="none", selected_on_test=False, selected_epoch=1, epochs_run=1,
                       train_seconds=seconds, precision="float64", history={},
                       train_images_per_second=self.model.n_fit_ / max(seconds, 1e-9),
                       extra={"baseline": True, "n_fit": self.model.n_fit_, "model_params": self.model.get_config()},
                       who=recipe.model_name, hint="; try model.scaling: standard")

    def score_components(self, x) -> dict:
        if not len(x):
            return {self.score_name: np.zeros(0)}
        return self.model.score_components(x)

    def set_calibration(self, calibration: Calibration) -> None:
        # Kept on the estimator (pickled with it in model.pkl).
        self.model.calibration_ = calibration

    def reconstruct(self, x):
        return self.model.reconstruct(x)

    def save(self, case_dir, recipe, data) -> dict:
        """model.pkl (`export.keras_file`; no SavedModel for scikit-learn models)."""
        import pickle

        from tfganad.baselines import _atomic_bytes

        if recipe.export.keras_file:
            _atomic_bytes(pathlib.Path(case_dir) / "model.pkl", lambda fh: pickle.dump(self.model, fh))
        return {}


def versions() -> dict:
    """Package versions recorded with every result."""
    import platform

    import keras
    import sklearn
    import tensorflow as tf

    from tfganad.version import __version__

    return {"tfganad": __version__, "tensorflow": tf.__version__, "keras": keras.__version__,
            "numpy": np.__version__, "scikit-learn": sklearn.__version__, "python": platform.python_version()}


# ---------------------------------------------------------------------- the case ---------------------
@dataclasses.dataclass
class FitInfo:
    """How a case was trained (the training-specific fields of `CaseResult`)."""

    selection: str
    selected_on_test: bool
    selected_epoch: int
    epochs_run: int
    train_seconds: float
    precision: str
    history: dict
    test_monitor: dict = dataclasses.field(default_factory=dict)
    stopped: Optional[str] = None
    epochs_before_resume: int = 0
    train_images_per_second: float = 0.0
    extra: dict = dataclasses.field(default_factory=dict)  # optional CaseResult fields
    #: The error when validation scores are not finite: "<who> gives N non-finite validation scores<hint>".
    who: str = "the trained model"
    hint: str = ""


def evaluate_case(scorer, recipe, data, case_dir, case: str, fit: FitInfo) -> CaseResult:
    """Calibrates on normal validation scores, scores the test split, computes the metrics and writes
    test_scores.npz, the report, the model files and metrics.json (last: it marks the case finished).

    Args:
        scorer: the trained model (`as_scorer`).
    Returns:
        The `CaseResult` written to metrics.json.
    """
    from tfganad.training.io import save_test_scores
    from tfganad.errors import TrainingError
    from tfganad.training.io import atomic_write_json, fault_point
    from tfganad.training.report import write_report

    case_dir = pathlib.Path(case_dir)
    # Calibration from normal validation scores only: no test information.
    val = scorer.score_components(data.x_val)[scorer.score_name] if len(data.x_val) else np.zeros(0)
    bad = int(np.sum(~np.isfinite(val)))
    if bad:
        raise TrainingError(f"{fit.who} gives {bad} non-finite validation scores{fit.hint}")
    cal = calibrate(val, recipe.evaluation.normalizer, recipe.evaluation.threshold_quantile)
    scorer.set_calibration(cal)
    start = time.perf_counter()
    test_scores = scorer.score_components(data.x_test)
    score_seconds = time.perf_counter() - start
    save_test_scores(case_dir / "test_scores.npz", data.y_test, test_scores)
    contamination = recipe.evaluation.contamination
    if contamination is None:
        contamination = data.contamination
    main = test_scores[scorer.score_name]
    metrics, by_score = evaluate_components(data.y_test, test_scores, scorer.score_name, contamination, cal.threshold)
    extra = dict(fit.extra)
    if extra.get("baseline"):
        extra["score_seconds"] = score_seconds
    result = CaseResult(
        recipe=recipe.name, case=case, model=recipe.model_name, score=scorer.score_name,
        data=f"{recipe.data.source}/{data.info.get('protocol')}", selection=fit.selection,
        selected_on_test=fit.selected_on_test, selected_epoch=fit.selected_epoch, epochs_run=fit.epochs_run,
        train_seconds=fit.train_seconds, precision=fit.precision, threshold=cal.threshold,
        normalizer=cal.to_json(), metrics=metrics, metrics_by_score=by_score, history=fit.history,
        test_monitor=fit.test_monitor, stopped=fit.stopped, seed=recipe.seed, data_summary=data.summary(),
        versions=versions(), epochs_before_resume=fit.epochs_before_resume,
        train_images_per_second=fit.train_images_per_second, **extra)
    grid = None
    if len(data.x_test) and np.asarray(data.x_test).ndim == 4:
        order = np.argsort(data.y_test, kind="stable")
        pick = np.concatenate([order[:4], order[-4:]])
        rec = scorer.reconstruct(data.x_test[pick])
        if rec is not None:
            grid = (data.x_test[pick], np.asarray(rec), data.y_test[pick])
    if scorer.is_image:
        from tfganad.training.maps import evaluate_maps

        maps = evaluate_maps(scorer.model, data, case_dir / "report", recipe.evaluation.batch_size)
        metrics.update(maps.pop("metrics", {}))  # pixel_auroc, pixel_pro (with ground-truth masks)
        if maps:
            result.anomaly_maps = maps
    write_report(case_dir / "report", result.to_json(), data.y_test, main, grid)
    fault_point("report")
    saved = scorer.save(case_dir, recipe, data)
    if "saved_model" in saved:
        result.saved_model = saved["saved_model"]
    atomic_write_json(case_dir / "metrics.json", result.to_json())
    return result


__all__ = ["BaselineScorer", "Calibration", "CaseResult", "FitInfo", "Scorer", "calibrate", "evaluate_case",
           "evaluate_components", "select_weights", "versions"]
