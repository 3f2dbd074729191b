"""tfganad: GAN-based anomaly detection on Keras 3 / TensorFlow 2.

Higher scores mean more anomalous; label 1 means anomalous, everywhere.
"""

from tfganad.version import __version__
from tfganad import models
from tfganad.config import Recipe, load_recipe
from tfganad.errors import ConfigError, DataError, ExportError, TfganadError
from tfganad.registry import available_models, get_model_class, register_model

__all__ = [
    "ConfigError",
    "DataError",
    "ExportError",
    "Recipe",
    "TfganadError",
    "__version__",
    "available_models",
    "get_model_class",
    "load_recipe",
    "models",
    "register_model",
]
