"""Name → class registry for models: `register_model`, `get_model_class`, `available_models`.

A leaf: it imports nothing of tfganad but its errors, so every module may import it. The entries are
filled by `import tfganad` (tfganad/__init__.py imports `tfganad.models` and `tfganad.baselines`), which
Python runs before any `tfganad.<module>`, so a lookup from any entry point sees every model.
"""

from __future__ import annotations

import difflib

from tfganad.errors import ConfigError

_MODELS: dict[str, type] = {}
# Classical baselines (tfganad/baselines.py): named in recipes like models, kept out of available_models().
_BASELINES: dict[str, type] = {}


def register_model(name: str):
    """Class decorator that registers a model under a lower-snake `name`."""

    def wrap(cls):
        if name in _MODELS and _MODELS[name] is not cls:
            raise ValueError(f"model name {name!r} is already registered by {_MODELS[name].__name__}")
        _MODELS[name] = cls
        cls.registry_name = name
        return cls

    return wrap


def register_baseline(name: str):
    """Class decorator that registers a classical (scikit-learn) baseline under `name`."""

    def wrap(cls):
        _BASELINES[name] = cls
        cls.registry_name = name
        return cls

    return wrap


def did_you_mean(value: str, allowed) -> str:
    """Returns ' (did you mean X?)' when `value` is close to one of `allowed`, else ''."""
    close = difflib.get_close_matches(str(value), [str(a) for a in allowed], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def get_model_class(name: str) -> type:
    """Returns the model class registered as `name`; raises ConfigError listing the valid names."""
    if name not in _MODELS and name not in _BASELINES:
        names = [*_MODELS, *_BASELINES]
        raise ConfigError(
            f"unknown model {name!r}{did_you_mean(name, names)}; available: {', '.join(sorted(names))}"
        )
    return _MODELS.get(name) or _BASELINES[name]


def available_models() -> list[str]:
    """Names of every registered model, sorted."""
    return sorted(_MODELS)


def available_baselines() -> list[str]:
    """Names of every registered classical baseline (`iforest`, `ocsvm`, ...), sorted."""
    return sorted(_BASELINES)
