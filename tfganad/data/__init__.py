"""Data sources, anomaly protocols and input pipelines. Label 1 = anomalous everywhere."""

from __future__ import annotations

import importlib
import pkgutil

import numpy as np

from tfganad.data.base import AnomalyData, LabeledData
from tfganad.data.pipeline import (eval_dataset, image_value_range, prepare_images, prepare_rows, scale_rows,
                                   train_dataset, without_autotuning)
from tfganad.data.protocols import PROTOCOLS, get_protocol, register_protocol
from tfganad.data.sources import SOURCES, get_source, register_source
from tfganad.errors import DataError

# Modules added later (e.g. tabular sources, extra protocols) register themselves on import.
for _info in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_info.name}")


def load_data(spec, seed: int = 0) -> AnomalyData:
    """Loads `spec.source`, preprocesses it and applies `spec.protocol`.

    Args:
        spec: a `tfganad.config.DataSpec`.
        seed: split seed (`spec.split_seed` wins when set).
    Returns:
        AnomalyData with float32 arrays (images in [-1, 1]).
    """
    raw = get_source(spec.source)(spec)
    if raw.kind == "image" and spec.scaling not in (None, "none"):
        raise DataError(f"data.scaling={spec.scaling!r} applies to table rows only; {spec.source!r} yields images "
                        f"(always scaled to [-1, 1]); allowed here: none (or leave it unset)")
    if raw.kind == "image":
        data = prepare_images(raw, spec.image_size, spec.channels)
        preprocessing = {"kind": "image", "value_range": image_value_range(raw),
                         "raw_channels": int(raw.x.shape[-1]) if raw.x.ndim == 4 else 1}
    else:
        preprocessing = {"kind": "tabular", "layout": raw.layout}
        data = prepare_rows(raw)
    if len(data.x) == 0:
        raise DataError(f"data source {spec.source!r} yielded no samples")
    split_seed = spec.split_seed if spec.split_seed is not None else seed
    protocol = spec.protocol
    if raw.protocol and protocol != raw.protocol:
        # A source with its own split (the industrial folder layout) replaces only the default protocol.
        if protocol != "one_anomalous_class":
            raise DataError(f"data.source {spec.source!r} has its own train/test split; data.protocol "
                            f"{protocol!r} cannot apply: leave data.protocol unset or set it to {raw.protocol!r}")
        protocol = raw.protocol
    data.masks, data.protocol = raw.masks, raw.protocol
    split = get_protocol(protocol)(data, spec, split_seed)
    if data.kind == "tabular":
        split = scale_rows(split, spec.scaling)
    rng = np.random.default_rng(split_seed + 1)
    if spec.max_train_samples and len(split.x_train) > spec.max_train_samples:
        split.x_train = split.x_train[rng.permutation(len(split.x_train))[: spec.max_train_samples]]
    if spec.max_test_samples and len(split.x_test) > spec.max_test_samples:
        keep = np.sort(rng.permutation(len(split.x_test))[: spec.max_test_samples])
        split.x_test, split.y_test = split.x_test[keep], split.y_test[keep]
        if split.masks_test is not None:
            split.masks_test = split.masks_test[keep]
        if "test_indices" in split.info:  # which raw samples the test split holds (raw-input checks)
            split.info["test_indices"] = np.asarray(split.info["test_indices"])[keep]
    if len(split.x_train) == 0:
        raise DataError(f"protocol {spec.protocol!r} left an empty training split")
    if len(split.x_test) == 0:
        raise DataError(f"protocol {spec.protocol!r} left an empty test split")
    if split.contamination is None:
        split.contamination = float(np.mean(split.y_test))
    preprocessing["scaling_stats"] = split.info.pop("scaling_stats", None)
    split.info.update(source=spec.source, split_seed=split_seed, preprocessing=preprocessing)
    return split


__all__ = [
    "AnomalyData",
    "LabeledData",
    "PROTOCOLS",
    "SOURCES",
    "eval_dataset",
    "get_protocol",
    "get_source",
    "load_data",
    "prepare_images",
    "prepare_rows",
    "register_protocol",
    "register_source",
    "scale_rows",
    "train_dataset",
    "without_autotuning",
]
