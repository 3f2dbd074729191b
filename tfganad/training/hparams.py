"""TensorBoard HParams: one session per trained case (its hyperparameters and final metrics), and the
experiment (columns, typed domains, metrics) of a run with cases or of a sweep.

Written with TensorBoard's HParams plugin API (`tensorboard.plugins.hparams.api`). A session lives in
`<case dir>/logs/hparams/`: the hyperparameters that vary (typed: bool, int, float or str; unset = "none")
and the final metrics as scalars `hparams/<metric>`. The experiment is written once, in `<run dir>/hparams/`
or `<sweep dir>/hparams/`, so `tensorboard --logdir` on either shows one sortable table and the parallel
coordinates of the grid.
"""

from __future__ import annotations

import json
import pathlib

#: (summary metric key, display name); pixel metrics only where ground-truth masks exist
METRICS = (("auroc", "AUROC"), ("auprc", "AUPRC"), ("f1_at_contamination", "F1"), ("selected_epoch", "selected epoch"))
PIXEL_METRICS = (("pixel_auroc", "pixel AUROC"), ("pixel_pro", "PRO"))
#: keys that never change a result (where data lives, verbosity) or name the run
IGNORED = ("name", "output_dir", "data.path", "data.data_dir", "data.download", "train.verbose")
#: what a single run without cases or sweep shows: its model arguments plus these
DEFAULT_KEYS = ("model.name", "data.source", "data.anomalous_class", "data.normal_class", "train.epochs",
                "train.batch_size", "train.learning_rate", "seed")
SESSION_DIR = ("logs", "hparams")


def _model_defaults(model_name: str) -> dict:
    import inspect

    from tfganad.config import model_arguments
    from tfganad.registry import get_model_class

    return {f"model.{k}": p.default for k, p in model_arguments(get_model_class(model_name)).items()
            if p.default is not inspect.Parameter.empty and k not in ("input_shape", "seed")}


def flat_recipe(recipe) -> dict:
    """`model.*` (constructor defaults filled in), `data.*`, `train.*` and `seed` as {dotted key: value}."""
    raw = recipe.to_dict()
    out = {"seed": raw["seed"], **_model_defaults(recipe.model_name)}
    for section in ("model", "data", "train"):
        for key, value in (raw.get(section) or {}).items():
            out[f"{section}.{key}"] = value
    return out


def varying_keys(recipes) -> list:
    """Sorted keys whose values differ between the recipes (a key missing from one counts as None)."""
    flats = [flat_recipe(r) for r in recipes]
    keys = sorted({k for f in flats for k in f} - set(IGNORED))
    return [k for k in keys if len({json.dumps(f.get(k), sort_keys=True, default=str) for f in flats}) > 1]


def _kind(values) -> str:
    """The HParams type that holds every value: bool, int, float, else str (None → "none")."""
    if all(isinstance(v, bool) for v in values):
        return "bool"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "int"
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return "float"
    return "str"


def _typed(value, kind: str):
    if kind == "bool":
        return bool(value)
    if kind == "int":
        return int(value)
    if kind == "float":
        return float(value)
    if value is None:
        return "none"
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


def hparam_spec(recipes, keys=None) -> dict:
    """{key: (kind, sorted typed values)} over the recipes; `keys` default: those that vary, or, when
    nothing varies (a single run), the model's arguments and `DEFAULT_KEYS`."""
    recipes = list(recipes)
    flats = [flat_recipe(r) for r in recipes]
    if keys is None:
        keys = varying_keys(recipes)
        if not keys:
            given = {f"model.{k}" for k in recipes[0].model_params}
            keys = [k for k in flats[0] if (k in given or k in DEFAULT_KEYS)
                    and (flats[0].get(k) is not None or k == "model.name")]
    spec = {}
    for key in keys:
        values = [f.get(key) for f in flats]
        kind = _kind(values)
        spec[key] = (kind, sorted({_typed(v, kind) for v in values}, key=lambda v: (str(type(v)), v)))
    return spec


def metric_keys(recipes) -> tuple:
    """The metrics of the experiment: pixel metrics too when a recipe reads a source with masks."""
    return METRICS + (PIXEL_METRICS if any(r.data.source == "mvtec" for r in recipes) else ())


def write_experiment(log_dir, spec: dict, metrics=METRICS) -> pathlib.Path:
    """Writes the experiment (hyperparameters with their domains, metrics) into `log_dir` once."""
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp

    log_dir = pathlib.Path(log_dir)
    if log_dir.is_dir() and any(log_dir.iterdir()):
        return log_dir  # already written (a resumed run, another shard of the sweep)
    hparams = []
    for key, (kind, values) in spec.items():
        domain = hp.Discrete(values) if values else None
        hparams.append(hp.HParam(key, domain, display_name=key))
    metric_objs = [hp.Metric(f"hparams/{k}", display_name=name) for k, name in metrics]
    with tf.summary.create_file_writer(str(log_dir)).as_default() as writer:
        hp.hparams_config(hparams=hparams, metrics=metric_objs)
        writer.flush()
    return log_dir


def write_session(case_dir, recipe, summary: dict, spec: dict) -> pathlib.Path:
    """Writes one session: the case's values of the `spec` keys and its final metrics as scalars."""
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp

    log_dir = pathlib.Path(case_dir).joinpath(*SESSION_DIR)
    if log_dir.is_dir() and any(log_dir.iterdir()):
        return log_dir  # a finished case kept by a resumed run
    flat = flat_recipe(recipe)
    values = {key: _typed(flat.get(key), kind) for key, (kind, _) in spec.items()}
    metrics = dict(summary.get("metrics") or {}, selected_epoch=summary.get("selected_epoch"))
    step = int(summary.get("epochs_run") or 0)
    with tf.summary.create_file_writer(str(log_dir)).as_default() as writer:
        # The trial id names the table row and must be unique: <run or cell>/<case>, or <parent>/<run>.
        hp.hparams(values, trial_id="/".join(pathlib.Path(case_dir).resolve().parts[-2:]))
        for key, _ in METRICS + PIXEL_METRICS:
            value = metrics.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                tf.summary.scalar(f"hparams/{key}", float(value), step=step)
        writer.flush()
    return log_dir


def spec_to_json(spec: dict) -> dict:
    """A spec as plain JSON (passed to sweep worker processes)."""
    return {k: [kind, list(values)] for k, (kind, values) in spec.items()}


def spec_from_json(raw: dict) -> dict:
    """The inverse of `spec_to_json`."""
    return {k: (kind, list(values)) for k, (kind, values) in raw.items()}
