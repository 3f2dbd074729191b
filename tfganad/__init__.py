"""tfganad: GAN-based anomaly detection on Keras 3 / TensorFlow 2.

Higher scores mean more anomalous; label 1 means anomalous, everywhere. `import tfganad` registers
every model with Keras (so `keras.models.load_model("m.keras")` works) and every model and classical
baseline with `tfganad.registry` (Python runs this file before any `tfganad.<module>`, so the registry,
which imports none of its clients, is full before any lookup); other sub-modules load on first use.
"""

import importlib

from tfganad._tf import import_tensorflow_quietly

import_tensorflow_quietly()

from tfganad import models  # noqa: E402  (registers models with tfganad and Keras)
from tfganad import baselines  # noqa: E402, F401  (registers the scikit-learn baselines; sklearn loads on use)
from tfganad.errors import ConfigError, DataError, ExportError, TfganadError  # noqa: E402
from tfganad.version import __version__  # noqa: E402

_LAZY = {
    "data": ("tfganad.data", None),
    "losses": ("tfganad.losses", None),
    "scores": ("tfganad.scores", None),
    "networks": ("tfganad.networks", None),
    "training": ("tfganad.training", None),
    "export": ("tfganad.export", None),
    "Recipe": ("tfganad.config", "Recipe"),
    "load_recipe": ("tfganad.config", "load_recipe"),
    "available_models": ("tfganad.registry", "available_models"),
    "get_model_class": ("tfganad.registry", "get_model_class"),
    "register_model": ("tfganad.registry", "register_model"),
    "run": ("tfganad.training.runner", "run"),
    "load_data": ("tfganad.data", "load_data"),
    "Detector": ("tfganad.detector", "Detector"),
}


def __getattr__(name):
    if name in _LAZY:
        module, attr = _LAZY[name]
        mod = importlib.import_module(module)
        value = getattr(mod, attr) if attr else mod
        globals()[name] = value
        return value
    raise AttributeError(f"module 'tfganad' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))


__all__ = ["ConfigError", "DataError", "ExportError", "TfganadError", "__version__", "models", *_LAZY]
