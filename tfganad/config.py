"""Recipes: YAML files whose sections map 1:1 onto constructor arguments.

A recipe has the sections `model` (the model class's constructor arguments plus `name`), `data`
(`DataSpec`), `train` (`TrainSpec`), `evaluation` (`EvalSpec`), `export` (`ExportSpec`), plus
top-level `name`, `seed`, `output_dir` and `cases`. Unknown keys and values of the wrong type raise
`ConfigError` with the list of valid keys.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import math
import pathlib
import typing
from typing import Any, Optional, Union

import yaml

from tfganad.errors import ConfigError
from tfganad.registry import did_you_mean, get_model_class


@dataclasses.dataclass(frozen=True)
class DataSpec:
    """Where the data comes from and how it is split (see `tfganad.data.load_data`)."""

    source: str = "digits"
    path: Optional[str] = None
    protocol: str = "one_anomalous_class"
    anomalous_class: Optional[int] = 0
    normal_class: Optional[int] = None
    image_size: Optional[int] = None
    channels: Optional[int] = None
    train_fraction: Optional[float] = None
    validation_fraction: Optional[float] = None
    max_test_samples: Optional[int] = None
    max_train_samples: Optional[int] = None
    data_dir: Optional[str] = None
    download: bool = True
    split_seed: Optional[int] = None
    scaling: Optional[str] = None
    label_column: Optional[str] = None
    categorical_columns: Optional[list] = None


@dataclasses.dataclass(frozen=True)
class TrainSpec:
    """How `Model.fit` is driven: optimisation, precision, strategy and model selection."""

    epochs: int = 10
    batch_size: int = 64
    steps_per_epoch: Optional[int] = None
    learning_rate: float = 2e-4
    beta_1: float = 0.5
    beta_2: float = 0.999
    ema_momentum: Optional[float] = None
    precision: str = "auto"
    jit_compile: Union[bool, str] = False
    strategy: str = "default"
    run_eagerly: bool = False
    selection: str = "val_score"
    eval_every: int = 1
    #: validate (and so select on val_* keys) every N epochs and at the last one: latent-search
    #: models (AnoGAN, ADGAN) search every validation sample, which dominates their run time
    validation_every: int = 1
    #: write the resume state every N epochs (and at the last and at every new best checkpoint):
    #: saving weights and optimizer state costs ~0.3 s, which dominates epochs of a few steps
    backup_every: int = 1
    #: steps per compiled call (Keras `steps_per_execution`); `auto` groups the sub-millisecond steps
    #: of small MLPs (tfganad.training.performance) and keeps 1 for conv models; results are the same
    steps_per_execution: Union[int, str] = 1
    #: TensorFlow's CPU thread pools (`tf.config.threading`; 0 = TensorFlow's default); `auto` gives row
    #: models (MLPs) one thread per op and all cores to run ops side by side, and image models the
    #: defaults (tfganad.training.performance.auto_threads); results are the same
    intra_op_threads: Union[int, str] = "auto"
    inter_op_threads: Union[int, str] = "auto"
    verbose: int = 1
    shuffle_buffer: int = 10000

    def __post_init__(self):
        if self.validation_every < 1:
            raise ConfigError(f"train.validation_every must be at least 1, got {self.validation_every}")
        if self.backup_every < 1:
            raise ConfigError(f"train.backup_every must be at least 1, got {self.backup_every}")
        from tfganad.training.performance import validate_steps_per_execution, validate_threads
        validate_steps_per_execution(self.steps_per_execution)
        validate_threads("intra_op_threads", self.intra_op_threads)
        validate_threads("inter_op_threads", self.inter_op_threads)


@dataclasses.dataclass(frozen=True)
class EvalSpec:
    """Evaluation: percentile rule for P/R/F1, validation threshold quantile, test-time scoring."""

    contamination: Optional[float] = None
    threshold_quantile: float = 0.95
    batch_size: int = 256
    normalizer: str = "minmax"
    image_grid: int = 16


@dataclasses.dataclass(frozen=True)
class ExportSpec:
    """SavedModel export after training."""

    enabled: bool = True
    name: Optional[str] = None
    keras_file: bool = True


PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")
STRATEGIES = ("default", "mirrored", "multiworker")
NORMALIZERS = ("minmax", "zscore", "none")  # tfganad.scores.normalizers (kept import-free here)
SCALINGS = ("none", "minmax", "standard")

#: Value checks of the spec sections, applied when a recipe is loaded: a tuple lists the allowed
#: values, a string is a range (see `check_range`). Keys missing here take any value of their type.
#: `data.source` and `data.protocol` are checked against the registered names in `_check_data_names`.
SPEC_CHECKS = {
    "data": {"scaling": SCALINGS, "image_size": ">=1", "channels": (1, 3), "train_fraction": "(0,1)",
             "validation_fraction": "(0,1)", "max_test_samples": ">=1", "max_train_samples": ">=1",
             "anomalous_class": ">=0", "normal_class": ">=0"},
    "train": {"epochs": ">=1", "batch_size": ">=1", "steps_per_epoch": ">=1", "learning_rate": ">0",
              "beta_1": "[0,1)", "beta_2": "[0,1)", "ema_momentum": "[0,1)", "precision": PRECISIONS,
              "strategy": STRATEGIES, "jit_compile": (True, False, "auto"), "eval_every": ">=1",
              "validation_every": ">=1", "backup_every": ">=1", "verbose": (0, 1, 2), "shuffle_buffer": ">=1"},
    "evaluation": {"contamination": "(0,1)", "threshold_quantile": "(0,1)", "batch_size": ">=1",
                   "normalizer": NORMALIZERS, "image_grid": ">=1"},
}

#: Range checks of the constructor arguments every model shares (models add theirs in `recipe_checks`).
MODEL_CHECKS = {"latent_dim": ">=1", "filters": ">=1", "dense_units": ">=1"}


def check_range(value, rule: str, where: str):
    """Raises ConfigError unless the number `value` is finite and within `rule`.

    Args:
        value: the number (None passes: unset optional value).
        rule: `>=N`, `>N` or an interval `(a,b)`, `[a,b]`, `(a,b]`, `[a,b)`.
        where: the recipe key, for the message.
    """
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    if not math.isfinite(value):
        raise ConfigError(f"{where} must be {_describe(rule)}, got {value!r} (not a finite number)")
    if rule.startswith(">="):
        ok = value >= float(rule[2:])
    elif rule.startswith(">"):
        ok = value > float(rule[1:])
    else:
        low, high = (float(v) for v in rule[1:-1].split(","))
        ok = (value >= low if rule[0] == "[" else value > low) and (value <= high if rule[-1] == "]" else value < high)
    if not ok:
        raise ConfigError(f"{where} must be {_describe(rule)}, got {value!r}")
    return value


def _describe(rule: str) -> str:
    if rule.startswith(">="):
        return f"at least {rule[2:]}"
    if rule.startswith(">"):
        return f"greater than {rule[1:]}"
    return f"in {rule}"


def check_choice(value, allowed, where: str):
    """Raises ConfigError (with a did-you-mean) unless `value` is one of `allowed` (None passes)."""
    if value is None or any(value == a and type(value) is type(a) for a in allowed):
        return value
    shown = ", ".join("true" if a is True else "false" if a is False else str(a) for a in allowed)
    raise ConfigError(f"unknown {where} {value!r}{did_you_mean(value, allowed)}; allowed: {shown}")


def check_value(value, rule, where: str):
    """Applies one `SPEC_CHECKS`/`recipe_checks` rule (a tuple of choices or a range string)."""
    if callable(rule):
        rule = rule()
    if isinstance(rule, str):
        return check_range(value, rule, where)
    if isinstance(value, (list, tuple)):
        return value
    return check_choice(value, tuple(rule), where)


SECTIONS = {"data": DataSpec, "train": TrainSpec, "evaluation": EvalSpec, "export": ExportSpec}
TOP_LEVEL = ("name", "seed", "output_dir", "model", "cases", *SECTIONS)


@dataclasses.dataclass(frozen=True)
class Recipe:
    """A fully resolved recipe: validated sections plus the model's constructor arguments."""

    name: str
    seed: int
    output_dir: str
    model_name: str
    model_params: dict
    data: DataSpec
    train: TrainSpec
    evaluation: EvalSpec
    export: ExportSpec
    cases: dict  # case name -> flat overrides {"model.x": v}; {} means a single run

    def to_dict(self) -> dict:
        """Plain-dict form, suitable for YAML and for `recipe_from_dict` (round trip)."""
        out = {
            "name": self.name,
            "seed": self.seed,
            "output_dir": self.output_dir,
            "model": {"name": self.model_name, **self.model_params},
        }
        for key in SECTIONS:
            out[key] = dataclasses.asdict(getattr(self, key))
        if self.cases:
            out["cases"] = copy.deepcopy(self.cases)
        return out

    def for_case(self, case: str) -> "Recipe":
        """The single-run recipe of one named case (its overrides applied, `cases` removed)."""
        raw = self.to_dict()
        overrides = raw.pop("cases", {})[case]
        for dotted, value in overrides.items():
            _set_dotted(raw, dotted, value)
        raw["name"] = f"{self.name}/{case}"
        return recipe_from_dict(raw)


def _check_type(value, hint, where: str):
    """Raises ConfigError unless `value` fits the (simple) type hint."""
    origin = typing.get_origin(hint)
    if origin is Union:
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return value
        for option in options:
            if option is type(None):
                continue
            try:
                return _check_type(value, option, where)
            except ConfigError:
                continue
        names = " or ".join("null" if o is type(None) else getattr(o, "__name__", str(o)) for o in options)
        raise ConfigError(f"{where}: {value!r} has type {type(value).__name__}; expected {names}")
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: {value!r} is not a boolean; expected true or false")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: {value!r} is not an integer")
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            # PyYAML reads 1e-4 (no dot) as a string; accept what float() accepts.
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{where}: {value!r} is not a number")
    if hint is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{where}: {value!r} is not a string")
    return value


def _build_section(cls, raw, section: str):
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"section {section!r} must be a mapping, got {type(raw).__name__}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in raw.items():
        if key not in names:
            raise ConfigError(
                f"unknown key {section}.{key}{did_you_mean(key, names)}; valid keys: {', '.join(names)}"
            )
        kwargs[key] = _check_type(value, hints[key], f"{section}.{key}")
        if key in SPEC_CHECKS.get(section, {}):
            check_value(kwargs[key], SPEC_CHECKS[section][key], f"{section}.{key}")
    return cls(**kwargs)


def model_arguments(model_cls) -> dict:
    """Constructor parameters of a model class: name → inspect.Parameter (excluding **kwargs)."""
    params = inspect.signature(model_cls.__init__).parameters
    return {
        n: p
        for n, p in params.items()
        if n != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    }


def validate_model_params(model_name: str, params: dict) -> dict:
    """Checks that every key is a constructor argument of the model (and simple types match defaults)."""
    cls = get_model_class(model_name)
    # A wrapper model (the GAN ensemble) also accepts its base model's arguments.
    allowed = cls.recipe_arguments(params) if hasattr(cls, "recipe_arguments") else model_arguments(cls)
    for key, value in params.items():
        if key not in allowed:
            raise ConfigError(
                f"unknown key model.{key} for model {model_name!r}{did_you_mean(key, allowed)}; "
                f"valid keys: {', '.join(['name', *allowed])}"
            )
        default = allowed[key].default
        if value is None or default is inspect.Parameter.empty or default is None:
            continue
        # Types are checked against the default's type, the one thing a signature reliably says.
        if isinstance(default, bool):
            _check_type(value, bool, f"model.{key}")
        elif isinstance(default, int):
            params[key] = _check_type(value, int, f"model.{key}")
        elif isinstance(default, float):
            params[key] = _check_type(value, float, f"model.{key}")
        elif isinstance(default, str):
            _check_type(value, str, f"model.{key}")
    checks = model_checks(cls, params)
    for key, value in params.items():
        if key in checks:
            if isinstance(value, float) and not math.isfinite(value) and isinstance(checks[key], tuple):
                raise ConfigError(f"unknown model.{key} {value!r}; allowed: {', '.join(map(str, checks[key]))}")
            check_value(value, checks[key], f"model.{key}")
        elif isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"model.{key}={value!r} is not a finite number")
    return params


def model_checks(cls, params: dict | None = None) -> dict:
    """The value rules of a model's constructor arguments: `MODEL_CHECKS` plus every `recipe_checks`
    declared along the class's MRO (and, for a wrapper such as the GAN ensemble, its base model's)."""
    checks = dict(MODEL_CHECKS)
    classes = list(reversed(cls.__mro__))
    base = getattr(cls, "recipe_base_class", None)
    if base is not None:
        base_cls = base(params or {})
        if base_cls is not None:
            classes = list(reversed(base_cls.__mro__)) + classes
    for klass in classes:
        checks.update(vars(klass).get("recipe_checks", {}))
    return checks


def logged_metrics(model_name: str, params: dict) -> Optional[list]:
    """Names of the metrics a model logs each epoch (`val_` + name in validation); None if unknown."""
    cls = get_model_class(model_name)
    if getattr(cls, "is_baseline", False):
        return None
    base = getattr(cls, "recipe_base_class", None)
    template = base(params) if base is not None else cls
    if template is None:
        return None
    return [f"{p}_loss" for p in template.players] + list(template.extra_metrics) + ["score"]


def check_selection(recipe: "Recipe") -> None:
    """`train.selection` must name a metric the model logs: val_<metric>, last, test_auroc or test_auprc."""
    sel = recipe.train.selection
    metrics = logged_metrics(recipe.model_name, recipe.model_params)
    allowed = ["last", "test_auroc", "test_auprc"] + ([f"val_{m}" for m in metrics] if metrics is not None else [])
    if sel in allowed or (metrics is None and sel.startswith("val_")):
        return
    raise ConfigError(f"unknown train.selection {sel!r}: not a metric model {recipe.model_name!r} logs"
                      f"{did_you_mean(sel, allowed)}; allowed: {', '.join(allowed)} (test_* select on test "
                      f"labels and are marked so)")


def _check_data_names(data: DataSpec) -> None:
    """`data.source`/`data.protocol` against the registered names; `data.path` only where it is used."""
    from tfganad.data import PROTOCOLS, SOURCES

    check_choice(data.source, tuple(sorted(SOURCES)), "data.source")
    check_choice(data.protocol, tuple(sorted(PROTOCOLS)), "data.protocol")
    if data.path is not None and not getattr(SOURCES[data.source], "uses_path", True):
        raise ConfigError(f"data.path={data.path!r} is not used by data.source={data.source!r}; drop data.path "
                          f"or choose a source that reads it (idx, npz, csv, folder, kdd99, arrhythmia, mnist, ...)")


def check_data(recipe: "Recipe") -> None:
    """The data-dependent checks (`--dry-run` runs them too): loads each case's data (not its model),
    so a missing file, a class the data set lacks or an empty split fails before any training."""
    from tfganad.data import load_data

    seen = set()
    for case in list(recipe.cases) or [""]:
        sub = recipe.for_case(case) if case else recipe
        key = repr(dataclasses.astuple(sub.data)) + str(sub.seed)
        if key not in seen:
            seen.add(key)
            load_data(sub.data, sub.seed)


def _normalise_cases(raw) -> dict:
    if raw is None:
        return {}
    if isinstance(raw, str):
        raw = [raw]
    if isinstance(raw, list):
        out = {}
        for item in raw:
            if not isinstance(item, str):
                raise ConfigError(f"cases: list items must be case names, got {item!r}")
            out[item] = {"model.case": item}
        return out
    if isinstance(raw, dict):
        out = {}
        for name, overrides in raw.items():
            if overrides is None:
                overrides = {"model.case": name}
            if not isinstance(overrides, dict):
                raise ConfigError(f"cases.{name}: expected a mapping of 'section.key: value' overrides")
            out[str(name)] = dict(overrides)
        return out
    raise ConfigError(f"cases: expected a list of case names or a mapping, got {type(raw).__name__}")


def recipe_from_dict(raw: dict) -> Recipe:
    """Validates a raw recipe mapping and returns a `Recipe`."""
    if not isinstance(raw, dict):
        raise ConfigError(f"a recipe must be a mapping of sections, got {type(raw).__name__}")
    for key in raw:
        if key not in TOP_LEVEL:
            raise ConfigError(
                f"unknown recipe key {key!r}{did_you_mean(key, TOP_LEVEL)}; valid keys: {', '.join(TOP_LEVEL)}"
            )
    model = dict(raw.get("model") or {})
    if "name" not in model:
        raise ConfigError("model.name is missing; set it to one of the registered models")
    model_name = model.pop("name")
    validate_model_params(model_name, model)
    sections = {k: _build_section(cls, raw.get(k), k) for k, cls in SECTIONS.items()}
    seed = _check_type(raw.get("seed", 0), int, "seed")
    recipe = Recipe(
        name=_check_type(raw.get("name", model_name), str, "name"),
        seed=seed,
        output_dir=_check_type(raw.get("output_dir", "runs"), str, "output_dir"),
        model_name=model_name,
        model_params=model,
        cases=_normalise_cases(raw.get("cases")),
        **sections,
    )
    _check_data_names(recipe.data)
    check_selection(recipe)
    for case, overrides in recipe.cases.items():
        for dotted in overrides:
            if dotted.split(".")[0] not in TOP_LEVEL or dotted.split(".")[0] == "cases":
                raise ConfigError(f"cases.{case}: {dotted!r} is not a 'section.key' override")
        recipe.for_case(case)  # validates each case's overrides now, not mid-run
    return recipe


def _set_dotted(raw: dict, dotted: str, value):
    parts = dotted.split(".")
    node = raw
    for part in parts[:-1]:
        if node.get(part) is None:
            node[part] = {}
        if not isinstance(node[part], dict):
            raise ConfigError(f"cannot set {dotted!r}: {part!r} is not a section")
        node = node[part]
    node[parts[-1]] = value


def parse_override(text: str) -> tuple[str, Any]:
    """Parses one `section.key=value` override; the value is read as YAML (numbers, lists, null...)."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like section.key=value (e.g. train.epochs=3)")
    key, value = text.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(f"override {text!r} has an empty key")
    try:
        parsed = yaml.safe_load(value) if value.strip() else None
    except yaml.YAMLError:
        parsed = value
    return key, parsed


def load_recipe(path, overrides=()) -> Recipe:
    """Reads a YAML recipe, applies `section.key=value` overrides and validates it."""
    path = pathlib.Path(path)
    if path.is_dir():
        raise ConfigError(f"recipe {str(path)!r} is a directory; give a recipe YAML file (e.g. recipes/egbad_digits.yaml)")
    if not path.is_file():
        raise ConfigError(f"recipe file {str(path)!r} does not exist")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (UnicodeDecodeError, OSError) as exc:
        reason = "is not a UTF-8 text file" if isinstance(exc, UnicodeDecodeError) else f"cannot be read ({exc.strerror})"
        raise ConfigError(f"recipe file {str(path)!r} {reason}; a recipe is a YAML text file") from None
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        where = f" at line {line + 1}" if line is not None else ""
        raise ConfigError(f"recipe file {str(path)!r} is not valid YAML{where}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"recipe file {str(path)!r} must hold a mapping of sections")
    for item in overrides:
        key, value = parse_override(item) if isinstance(item, str) else item
        _set_dotted(raw, key, value)
    return recipe_from_dict(raw)


def dump_recipe(recipe: Recipe, path) -> None:
    """Writes the resolved recipe as YAML."""
    pathlib.Path(path).write_text(yaml.safe_dump(recipe.to_dict(), sort_keys=False))
