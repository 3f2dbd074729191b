"""Imports every model module of this package so that each `@register_model` runs.

Adding a model = adding `tfganad/models/<name>.py`; no list to edit here.
"""

import importlib
import pkgutil

from tfganad.models.base import AdversarialDetector
from tfganad.models.egbad import EGBAD, EGBAD_CASES

for _info in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_info.name}")

__all__ = ["AdversarialDetector", "EGBAD", "EGBAD_CASES"]


def __getattr__(name):
    # Model classes registered by modules added later are reachable as tfganad.models.<ClassName>.
    from tfganad.registry import _MODELS

    for cls in _MODELS.values():
        if cls.__name__ == name:
            return cls
    raise AttributeError(f"module 'tfganad.models' has no attribute {name!r}")
