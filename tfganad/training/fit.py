"""Keras training for a recipe: callbacks (TensorBoard, test monitor, NaN guard, backups, checkpoints),
resume from the last backup, the selection rule's epoch restored; and `KerasScorer`, a Keras model behind
the evaluation's `Scorer` interface (`tfganad.training.evaluate`).
"""

from __future__ import annotations

import os
import pathlib
import shutil
import time

import keras
import numpy as np
import tensorflow as tf

from tfganad.config import Recipe
from tfganad.data import AnomalyData
from tfganad.data.pipeline import eval_dataset, train_dataset
from tfganad.errors import ConfigError, TrainingError
from tfganad.training.callbacks import (
    BestCheckpoint,
    EMAValidation,
    EpochScalars,
    GuardedBackup,
    ImageSummaries,
    NaNGuard,
    PreserveNoise,
    TestMonitor,
    ValidationPlaceholders,
    backed_up_epoch,
    score_batches,
    validation_epochs,
)
from tfganad.training.evaluate import BaselineScorer, Calibration, FitInfo, select_weights
from tfganad.training.io import KILL_ENV, atomic_path, fault_point, remove_partials
from tfganad.training.performance import resolve_steps_per_execution


def selection_rule(criterion: str) -> tuple:
    """(logs key, mode, uses test labels) for a `train.selection` value."""
    if criterion == "last":
        return None, None, False
    if criterion in ("test_auroc", "test_auprc"):
        return criterion, "max", True
    if criterion.startswith("val_"):
        return criterion, "min", False
    raise ConfigError(f"unknown train.selection {criterion!r}; allowed: val_score, val_<loss> (e.g. val_g_loss), "
                      f"last, test_auroc, test_auprc (the last two use test labels and are marked so)")



def check_free_space(case_dir: pathlib.Path, model) -> None:
    """TrainingError naming the folder and the space needed when the disk cannot hold the run's files.

    Estimate: the weights with their optimizer state in two backup generations, the best checkpoint,
    model.keras and the SavedModel (about 12 copies of the float32 weights), plus 4 MB of logs,
    report figures and results.
    """
    need = 12 * 4 * int(model.count_params()) + 4 * 2**20
    free = shutil.disk_usage(case_dir).free
    if free < need:
        raise TrainingError(f"not enough free space in {str(case_dir)!r}: this run needs about {need / 2**20:.1f} MB, "
                            f"{free / 2**20:.1f} MB are free; free some (then tfganad-train --resume "
                            f"{str(case_dir)!r}) or choose another --output-dir")


class FaultInjection(keras.callbacks.Callback):
    """Test hook: the `epoch` phase of `TFGANAD_TEST_KILL_AT` (SIGKILL after a training step mid-epoch)."""

    def __init__(self):
        super().__init__()
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        fault_point("epoch", self.epoch)


def _read_history(path: pathlib.Path) -> dict:
    """Per-epoch logs written by CSVLogger (complete across resumed runs) → {key: [values]}."""
    import csv

    if not path.is_file():
        return {}
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    out: dict = {}
    for row in rows:
        for key, value in row.items():
            if key == "epoch":
                continue
            try:
                out.setdefault(key, []).append(float(value))
            except (TypeError, ValueError):
                out.setdefault(key, []).append(float("nan"))
    return out


def set_aside_unbacked_epochs(history_path: pathlib.Path, backed_up: int) -> None:
    """Moves the history rows of epochs after the last backup to `history.unbacked.csv`.

    A resumed run restarts after its last backup (`train.backup_every`), so those epochs run again
    and get new rows; the old rows are kept aside, not deleted. Both files are rewritten atomically
    (the rows aside first), so a second kill here loses no row; a row torn by the kill that
    interrupted the run is kept aside whole-line (newline-terminated), never joined to the next one.
    """
    from tfganad.training.io import atomic_write_text

    if not history_path.is_file():
        return
    lines = history_path.read_text().splitlines(keepends=True)
    if len(lines) <= 1 + backed_up:
        if lines and not lines[-1].endswith("\n"):  # CSVLogger appends the next row to this file
            atomic_write_text(history_path, "".join(lines) + "\n")
        return
    aside = history_path.with_name("history.unbacked.csv")
    extra = [ln if ln.endswith("\n") else ln + "\n" for ln in lines[1 + backed_up:]]
    before = aside.read_text() if aside.is_file() else lines[0]
    if before and not before.endswith("\n"):
        before += "\n"
    atomic_write_text(aside, before + "".join(extra))
    atomic_write_text(history_path, "".join(lines[:1 + backed_up]))


def fit_keras_case(scorer, recipe: Recipe, data: AnomalyData, case_dir: pathlib.Path, strategy,
                   precision: str) -> FitInfo:
    """Trains a Keras model for a recipe: callbacks (TensorBoard, test monitor, NaN guard, backups),
    the selected epoch's weights restored (or the EMA weights) → how it was trained."""
    model = scorer.model
    t = recipe.train
    monitor, mode, on_test = selection_rule(t.selection)
    with strategy.scope():
        model.build_from_sample(data.x_val)  # fit never calls __call__; checkpoints need a built model
        global_batch = t.batch_size * strategy.num_replicas_in_sync
        spe = resolve_steps_per_execution(
            t.steps_per_execution, model, global_batch,
            t.steps_per_epoch or max(1, len(data.x_train) // min(global_batch, len(data.x_train))),
            t.steps_per_epoch is not None)
        model.compile(learning_rate=t.learning_rate, beta_1=t.beta_1, beta_2=t.beta_2,
                      ema_momentum=t.ema_momentum, jit_compile=t.jit_compile, run_eagerly=t.run_eagerly,
                      steps_per_execution=spe)
    check_free_space(case_dir, model)
    logs_dir = case_dir / "logs"
    ckpt = case_dir / "checkpoints" / "best.weights.h5"
    ckpt.parent.mkdir(parents=True, exist_ok=True)
    guard = NaNGuard()
    test_monitor = TestMonitor(data.x_test, data.y_test, logs_dir / "test", every=t.eval_every,
                               batch_size=recipe.evaluation.batch_size)
    # A GAN ensemble's random-pair schedule steps each member once in max(I, J) steps: it trains
    # that many times the recipe's epochs, the ensemble paper's rule (Table 5, "(*3)").
    epoch_multiplier = scorer.epoch_multiplier
    total_epochs = t.epochs * epoch_multiplier

    def reads_weights(epoch, logs):
        """Whether an epoch-end callback reads the weights: evaluation, backup, a possible checkpoint."""
        done = epoch + 1
        return (done % t.eval_every == 0 or done % t.backup_every == 0 or done == total_epochs
                or any(k.startswith("val_") for k in logs))

    ema_enter = EMAValidation(enter=True, when=reads_weights)
    callbacks = [PreserveNoise(), ema_enter, guard, test_monitor,
                 ImageSummaries(logs_dir / "images", data.x_test[np.argsort(data.y_test, kind="stable")][
                     np.linspace(0, len(data.x_test) - 1, recipe.evaluation.image_grid).astype(int)],
                     data.x_val, data.x_test, data.y_test, every=t.eval_every,
                     batch_size=recipe.evaluation.batch_size),
                 EpochScalars(logs_dir),
                 ValidationPlaceholders()]
    if os.environ.get(KILL_ENV):
        callbacks.append(FaultInjection())
    history_path = case_dir / "history.csv"
    backup_dir = case_dir / "backup"
    set_aside_unbacked_epochs(history_path, backed_up_epoch(backup_dir))
    epochs_before = len(next(iter(_read_history(history_path).values()), []))
    previous = _read_history(history_path).get(monitor or "", [])
    previous = [v for v in previous if np.isfinite(v)]
    if monitor:
        # On resume, only an improvement over the epochs before the interruption replaces best.weights.h5.
        best = (min(previous) if mode == "min" else max(previous)) if previous and ckpt.exists() else None
        callbacks.append(BestCheckpoint(str(ckpt), monitor=monitor, mode=mode,
                                        save_best_only=True, save_weights_only=True,
                                        initial_value_threshold=best))
    callbacks += [keras.callbacks.CSVLogger(str(history_path), append=True), ema_enter.exit_twin(),
                  GuardedBackup(guard, str(backup_dir), every=t.backup_every, last_epoch=total_epochs),
                  ValidationPlaceholders(enter=False)]
    start = time.perf_counter()
    scorer.fit(data.x_train, data.x_val, epochs=t.epochs, batch_size=t.batch_size * strategy.num_replicas_in_sync,
               seed=recipe.seed, shuffle_buffer=t.shuffle_buffer, callbacks=callbacks, verbose=t.verbose,
               steps_per_epoch=t.steps_per_epoch, validation_freq=validation_epochs(total_epochs, t.validation_every))
    train_seconds = time.perf_counter() - start
    history = _read_history(history_path)
    epochs_run = len(next(iter(history.values()), []))
    if guard.message and not (monitor and ckpt.exists()):
        raise TrainingError(f"{guard.message.split(';')[0]}; no checkpoint was saved before it. Lower "
                            f"train.learning_rate or check the data")
    # Checkpoints are saved with the EMA weights in place (EMAValidation order).
    selected = select_weights(model, history, monitor, mode, ckpt)
    if not (monitor and ckpt.exists() and monitor in history) and model.has_ema():
        model.finalize_ema()
    model.build_from_sample(data.x_val)
    return FitInfo(
        selection=t.selection, selected_on_test=on_test, selected_epoch=selected or epochs_run,
        epochs_run=epochs_run, train_seconds=train_seconds, precision=precision, history=history,
        test_monitor=test_monitor.history, stopped=guard.message, epochs_before_resume=epochs_before,
        train_images_per_second=((epochs_run - epochs_before) * (t.steps_per_epoch or len(data.x_train) // min(
            t.batch_size, len(data.x_train))) * t.batch_size) / max(train_seconds, 1e-9),
        extra={"epoch_multiplier": epoch_multiplier, "steps_per_execution": spe,
               "cpu_threads": [tf.config.threading.get_intra_op_parallelism_threads(),
                               tf.config.threading.get_inter_op_parallelism_threads()]},
        hint=f": training diverged (train.learning_rate={t.learning_rate} may be too high)")


class KerasScorer:
    """An `AdversarialDetector` (keras.Model) behind the `Scorer` interface."""

    selects_epochs = True  # held-out data can pick the best epoch
    diverged_hint = "training diverged; lower learning_rate or scale the inputs"

    def __init__(self, model, batch_size: int = 256):
        self.model = model
        self.batch_size = batch_size
        self.score_name = model.score_name
        self.is_image = model.is_image

    def compile(self, sample, learning_rate: float = 2e-4, beta_1: float = 0.5, **options) -> None:
        """Builds the model on `sample` and compiles it (one Adam per player)."""
        self.model.build_from_sample(sample)
        self.model.compile(learning_rate=learning_rate, beta_1=beta_1, run_eagerly=False, **options)

    def fit(self, x_train, x_val=None, *, epochs: int = 1, batch_size: int = 64, seed=None, shuffle_buffer=None,
            callbacks=(), verbose=0, steps_per_epoch=None, validation_freq=1) -> dict:
        """Keras `Model.fit` on the tfganad input pipelines, `epochs` × the model's `epoch_multiplier`
        (a GAN ensemble steps each member once in max(I, J) steps: the ensemble paper's rule)."""
        total = int(epochs) * self.epoch_multiplier
        kwargs = {} if shuffle_buffer is None else {"shuffle_buffer": shuffle_buffer}
        history = self.model.fit(train_dataset(x_train, batch_size, seed, **kwargs), epochs=total,
                                 steps_per_epoch=steps_per_epoch,
                                 validation_data=None if x_val is None else eval_dataset(x_val, self.batch_size),
                                 validation_freq=validation_freq, callbacks=list(callbacks), verbose=verbose,
                                 shuffle=False)
        return {k: [float(v) for v in vals] for k, vals in history.history.items()}

    def fit_case(self, recipe, data, case_dir, strategy, precision: str) -> "FitInfo":
        """Trains for a recipe as `tfganad-train` does (callbacks, checkpoints, resume: `fit_keras_case`)."""
        return fit_keras_case(self, recipe, data, case_dir, strategy, precision)

    @property
    def epoch_multiplier(self) -> int:
        return int(getattr(self.model, "epoch_multiplier", 1))

    def score_components(self, x) -> dict:
        return score_batches(self.model, x, self.batch_size)

    def set_calibration(self, calibration: Calibration) -> None:
        self.model.set_calibration(calibration.offset, calibration.scale, calibration.threshold)

    def reconstruct(self, x):
        rec = self.model.reconstruct(x)
        return None if rec is None else np.asarray(rec)

    def save(self, case_dir, recipe, data) -> dict:
        """model.keras (`export.keras_file`) and the SavedModel with its preprocessing (`export.enabled`)."""
        case_dir = pathlib.Path(case_dir)
        out = {}
        # The fitted raw → model-input preprocessing travels with the model (.keras and SavedModel); data
        # not made by load_data (a hand-built AnomalyData) records none: that export takes model inputs.
        if "preprocessing" in data.info:
            from tfganad.preprocessing import preprocessor_for

            self.model.attach_preprocessor(preprocessor_for(data))
        if recipe.export.keras_file:
            atomic_path(case_dir / "model.keras", lambda tmp: self.model.save(tmp), suffix=".keras")
        if recipe.export.enabled:
            from tfganad.export import export_saved_model
            from tfganad.export.saved_model import write_preprocessing

            name = recipe.export.name or recipe.model_name
            # This case has no metrics.json yet, so an export already here is this run's own, left
            # unfinished by an earlier version's kill: replace it (new exports appear only complete).
            remove_partials(case_dir / "saved_model" / name)
            if (case_dir / "saved_model" / name / "1").exists():
                shutil.rmtree(case_dir / "saved_model" / name / "1")

            def publish(tmp):
                write_preprocessing(tmp, recipe.data, data)
                fault_point("export")

            out["saved_model"] = str(export_saved_model(self.model, case_dir / "saved_model", name=name,
                                                        before_publish=publish))
        return out


def as_scorer(model, batch_size: int = 256):
    """The `Scorer` of a built model: a Keras model or a scikit-learn baseline (already a scorer: kept)."""
    if isinstance(model, (KerasScorer, BaselineScorer)):
        return model
    if isinstance(model, keras.Model):
        return KerasScorer(model, batch_size)
    return BaselineScorer(model)


__all__ = ["FaultInjection", "KerasScorer", "as_scorer", "check_free_space", "fit_keras_case", "selection_rule",
           "set_aside_unbacked_epochs"]
