"""`run(recipe)`: data → model → fit with callbacks → best model → calibration → metrics → report → export.

The CLI is a thin layer over this function; notebooks can call it too.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import pathlib
import platform
import shutil
import time

import keras
import numpy as np
import tensorflow as tf

from tfganad.config import PRECISIONS, STRATEGIES, Recipe, dump_recipe
from tfganad.data import AnomalyData, load_data
from tfganad.errors import ConfigError, TrainingError
from tfganad.registry import get_model_class
from tfganad.training.callbacks import (
    BestCheckpoint,
    EMAValidation,
    GuardedBackup,
    ImageSummaries,
    NaNGuard,
    PreserveNoise,
    TestMonitor,
    ValidationPlaceholders,
    backed_up_epoch,
    validation_epochs,
)
from tfganad.training.io import (
    KILL_ENV,
    atomic_write_json,
    fault_point,
    new_run_dir,
    remove_partials,
    write_table,
)
from tfganad.training.evaluate import CaseResult, FitInfo, as_scorer, evaluate_case, select_weights
from tfganad.training.performance import check_bf16, resolve_steps_per_execution


def resolve_precision(name: str, warn: bool = False) -> str:
    """`auto` → mixed_float16 with a GPU, float32 otherwise (never mixed_bfloat16: it pays off only on
    CPUs with bf16 instructions, and changes results). With `warn`, an explicit mixed_bfloat16 on a CPU
    without bf16 instructions logs one warning (`performance.check_bf16`)."""
    if name not in PRECISIONS:
        raise ConfigError(f"unknown train.precision {name!r}; allowed: {', '.join(PRECISIONS)}")
    has_gpu = bool(tf.config.list_physical_devices("GPU"))
    if name == "auto":
        return "mixed_float16" if has_gpu else "float32"
    if warn:
        check_bf16(name, has_gpu)
    return name


def resolve_strategy_name(name: str) -> str:
    """Validates a `train.strategy` value."""
    if name not in STRATEGIES:
        raise ConfigError(f"unknown train.strategy {name!r}; allowed: {', '.join(STRATEGIES)}")
    return name


def resolve_strategy(name: str):
    """`default` (one device), `mirrored` (all local GPUs, or the CPU) or `multiworker` (TF_CONFIG)."""
    if resolve_strategy_name(name) == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        from tfganad.distributed import multiworker_strategy  # one per process, see tfganad/distributed.py
        return multiworker_strategy()
    return tf.distribute.get_strategy()


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


@contextlib.contextmanager
def precision_policy(name: str):
    """Sets the global Keras dtype policy for the duration of a run."""
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def versions() -> dict:
    """Package versions recorded with every result."""
    import sklearn

    from tfganad.version import __version__

    return {"tfganad": __version__, "tensorflow": tf.__version__, "keras": keras.__version__,
            "numpy": np.__version__, "scikit-learn": sklearn.__version__, "python": platform.python_version()}


def build_model(recipe: Recipe, input_shape):
    """Instantiates the recipe's model for `input_shape` (a recipe's own input_shape must agree)."""
    cls = get_model_class(recipe.model_name)
    params = dict(recipe.model_params)
    given = params.pop("input_shape", None)
    if given is not None and tuple(given) != tuple(input_shape):
        raise ConfigError(f"model.input_shape {tuple(given)} does not match the data's {tuple(input_shape)}; "
                          f"drop model.input_shape or change data.image_size")
    params.setdefault("seed", recipe.seed)
    return cls(input_shape=list(input_shape), **params)


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
    and get new rows; the old rows are kept aside, not deleted.
    """
    if not history_path.is_file():
        return
    lines = history_path.read_text().splitlines(keepends=True)
    if len(lines) <= 1 + backed_up:
        return
    aside = history_path.with_name("history.unbacked.csv")
    extra = lines[1 + backed_up:]
    aside.write_text((aside.read_text() if aside.is_file() else lines[0]) + "".join(extra))
    history_path.write_text("".join(lines[:1 + backed_up]))


def train_case(recipe: Recipe, data: AnomalyData, case_dir: pathlib.Path, case: str = "") -> dict:
    """Trains, selects, calibrates, evaluates, reports and exports one configuration → summary dict.

    The model (a Keras model or a scikit-learn baseline, behind `evaluate.as_scorer`) trains through
    its `fit_case`; calibration, metrics, report, files and metrics.json come from
    `evaluate.evaluate_case`, the evaluation every front end shares. An interrupted case resumes from
    its last backed-up epoch (`case_dir/backup`, written every `train.backup_every` epochs with the
    optimizer state); the per-epoch history in `history.csv` spans all attempts.
    """
    t = recipe.train
    case_dir.mkdir(parents=True, exist_ok=True)
    for folder in (case_dir, case_dir / "checkpoints", case_dir / "backup"):
        remove_partials(folder)  # leftovers of an interrupted attempt: never read, never kept
    dump_recipe(recipe, case_dir / "recipe.yaml")
    keras.utils.set_random_seed(recipe.seed)
    precision = resolve_precision(t.precision, warn=True)
    with precision_policy(precision):
        strategy = resolve_strategy(t.strategy)
        with strategy.scope():
            scorer = as_scorer(build_model(recipe, data.input_shape), recipe.evaluation.batch_size)
        fit = scorer.fit_case(recipe, data, case_dir, strategy, precision)
        result = evaluate_case(scorer, recipe, data, case_dir, case, fit)
    # The case is complete: its resume state is no longer needed.
    shutil.rmtree(case_dir / "backup", ignore_errors=True)
    return result.to_json()


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
    callbacks = [PreserveNoise(), EMAValidation(enter=True), guard, test_monitor,
                 ImageSummaries(logs_dir / "images", data.x_test[np.argsort(data.y_test, kind="stable")][
                     np.linspace(0, len(data.x_test) - 1, recipe.evaluation.image_grid).astype(int)],
                     data.x_val, data.x_test, data.y_test, every=t.eval_every,
                     batch_size=recipe.evaluation.batch_size),
                 keras.callbacks.TensorBoard(str(logs_dir), update_freq="epoch", write_graph=False),
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
    # A GAN ensemble's random-pair schedule steps each member once in max(I, J) steps: it trains
    # that many times the recipe's epochs, the ensemble paper's rule (Table 5, "(*3)").
    epoch_multiplier = scorer.epoch_multiplier
    total_epochs = t.epochs * epoch_multiplier
    callbacks += [keras.callbacks.CSVLogger(str(history_path), append=True), EMAValidation(enter=False),
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
        extra={"epoch_multiplier": epoch_multiplier, "steps_per_execution": spe},
        hint=f": training diverged (train.learning_rate={t.learning_rate} may be too high)")


def resume(run_dir, echo=print, hparams=None) -> dict:
    """Continues an interrupted run: finished cases are kept, the others resume from their last epoch."""
    from tfganad.config import load_recipe

    run_dir = pathlib.Path(run_dir)
    if not (run_dir / "recipe.yaml").is_file():
        raise ConfigError(f"{str(run_dir)!r} is not a tfganad run directory (no recipe.yaml)")
    return run(load_recipe(run_dir / "recipe.yaml"), run_dir=run_dir, echo=echo, resume=True, hparams=hparams)


def run(recipe: Recipe, run_dir=None, echo=print, resume: bool = False, hparams=None) -> dict:
    """Runs every case of `recipe` in a new run directory; returns {"run_dir", "results"}.

    Each case is its own sub-directory (its own TensorBoard run); `results.csv`/`results.json` hold one
    row per finished case. Nothing existing is overwritten. With `resume=True`, `run_dir` is an
    interrupted run of the same recipe: finished cases are reused, unfinished ones continue.
    Every case is a TensorBoard HParams session; the experiment (`<run dir>/hparams/`) lists the keys
    that vary between cases. `hparams`: a sweep's experiment spec (`tfganad.training.hparams`), which
    then replaces the run's own.
    """
    cases = list(recipe.cases) or [""]
    if recipe.train.strategy == "multiworker":  # before any TF op; only the chief writes run_dir
        from tfganad.distributed import worker_run_dir
        run_dir, resume = worker_run_dir(run_dir, resume)
    data_cache: dict = {}

    def data_for(sub):
        key = repr(dataclasses.astuple(sub.data)) + str(sub.seed)
        if key not in data_cache:
            data_cache[key] = load_data(sub.data, sub.seed)
            echo(f"data: {data_cache[key].summary()}")
        return data_cache[key]

    # Load the data and check every case builds before anything is written, so a bad recipe or a
    # missing data set leaves no half-made run directory behind.
    for case in cases:
        sub = recipe.for_case(case) if case else recipe
        resolve_precision(sub.train.precision)
        resolve_strategy_name(sub.train.strategy)
        selection_rule(sub.train.selection)
        build_model(sub, data_for(sub).input_shape)
    if resume:
        run_dir = pathlib.Path(run_dir)
    elif run_dir:
        run_dir = pathlib.Path(run_dir)
        if run_dir.exists() and any(run_dir.iterdir()):
            raise ConfigError(f"run directory {str(run_dir)!r} already exists and is not empty; choose another")
        run_dir.mkdir(parents=True, exist_ok=True)
    else:
        run_dir = new_run_dir(recipe.output_dir, recipe.name)
    if not resume:
        dump_recipe(recipe, run_dir / "recipe.yaml")
    from tfganad.training import hparams as H

    subs = [recipe.for_case(case) if case else recipe for case in cases]
    hp_spec = H.spec_from_json(hparams) if hparams is not None else H.hparam_spec(subs)
    rows, summaries = [], []
    for case in cases:
        sub = recipe.for_case(case) if case else recipe
        data = data_for(sub)
        case_dir = run_dir / case if case else run_dir
        if case:
            echo(f"=== case {case} ===")
        done = case_dir / "metrics.json"
        if resume and done.is_file():
            echo(f"{case or 'run'}: already finished, kept")
            summary = json.loads(done.read_text())
        else:
            summary = train_case(sub, data, case_dir, case)
        if hparams is None:  # after a case trained: a run refused before training leaves no logs (disk full)
            H.write_experiment(run_dir / "hparams", hp_spec, H.metric_keys(subs))
        H.write_session(case_dir, sub, summary, hp_spec)
        summaries.append(summary)
        row = CaseResult.from_json(summary).results_row()
        rows.append(row)
        write_table(run_dir / "results.csv", rows)
        atomic_write_json(run_dir / "results.json", rows)
    return {"run_dir": str(run_dir), "results": rows, "summaries": summaries}
