"""`run(recipe)`: data → model → fit with callbacks → best model → calibration → metrics → report → export.

The CLI is a thin layer over this function; notebooks can call it too.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import pathlib
import shutil

import keras
import tensorflow as tf

from tfganad.config import PRECISIONS, STRATEGIES, Recipe, dump_recipe
from tfganad.data import AnomalyData, load_data
from tfganad.errors import ConfigError
from tfganad.registry import get_model_class
from tfganad.training.evaluate import CaseResult, evaluate_case, versions  # noqa: F401  (runner.versions)
from tfganad.training.fit import (  # noqa: F401  (re-exported: runner.selection_rule, ...)
    FaultInjection,
    as_scorer,
    check_free_space,
    fit_keras_case,
    selection_rule,
    set_aside_unbacked_epochs,
)
from tfganad.training.io import atomic_write_json, new_run_dir, remove_partials, write_table
from tfganad.training.performance import check_bf16, configure_threads


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


@contextlib.contextmanager
def precision_policy(name: str):
    """Sets the global Keras dtype policy for the duration of a run."""
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


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


def train_case(recipe: Recipe, data: AnomalyData, case_dir: pathlib.Path, case: str = "") -> dict:
    """Trains, selects, calibrates, evaluates, reports and exports one configuration → summary dict.

    The model (a Keras model or a scikit-learn baseline, behind `fit.as_scorer`) trains through
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
    for i, case in enumerate(cases):
        sub = recipe.for_case(case) if case else recipe
        resolve_precision(sub.train.precision)
        resolve_strategy_name(sub.train.strategy)
        selection_rule(sub.train.selection)
        input_shape = data_for(sub).input_shape
        if i == 0:
            # Before the first model is built: TensorFlow's thread pools are fixed once an op has run.
            configure_threads(sub.train.intra_op_threads, sub.train.inter_op_threads, rows=len(input_shape) == 1)
        build_model(sub, input_shape)
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


__all__ = ["FaultInjection", "build_model", "check_free_space", "fit_keras_case", "precision_policy", "resolve_precision",
           "resolve_strategy", "resolve_strategy_name", "resume", "run", "selection_rule", "set_aside_unbacked_epochs",
           "train_case", "versions"]
