"""Anomaly-detection protocols: name → function(LabeledData, spec, seed) → AnomalyData.

Every protocol returns normal-only training and validation splits (unless it says otherwise) and a
labelled test split (1 = anomalous), all disjoint. Splits are drawn from one permutation per seed.
"""

from __future__ import annotations

import numpy as np

from tfganad.data.base import AnomalyData, LabeledData
from tfganad.errors import DataError
from tfganad.registry import did_you_mean

PROTOCOLS: dict = {}


def register_protocol(name: str):
    """Decorator registering `fn(data, spec, seed) -> AnomalyData` as protocol `name`."""

    def wrap(fn):
        PROTOCOLS[name] = fn
        return fn

    return wrap


def get_protocol(name: str):
    """The protocol function called `name`; DataError listing valid names otherwise."""
    if name not in PROTOCOLS:
        raise DataError(f"unknown protocol {name!r}{did_you_mean(name, PROTOCOLS)}; "
                        f"available: {', '.join(sorted(PROTOCOLS))}")
    return PROTOCOLS[name]


def _check_class(data: LabeledData, value, key: str):
    classes = np.unique(data.labels)
    if value is None:
        raise DataError(f"data.{key} must be set for this protocol; classes present: "
                        f"{', '.join(map(str, classes))}")
    if value not in classes:
        raise DataError(f"data.{key}={value!r} is not a class of {data.name or 'the data'}; "
                        f"classes present: {', '.join(map(str, classes))}")


def _fraction(value, default, key):
    value = default if value is None else value
    if not 0.0 < value < 1.0:
        raise DataError(f"data.{key}={value!r} must be strictly between 0 and 1")
    return value


def carve_validation(x_train, fraction, rng):
    """Splits a normal-only validation set off the (already shuffled) training data."""
    n_val = int(round(len(x_train) * fraction))
    if n_val < 1 or len(x_train) - n_val < 1:
        raise DataError(f"training split of {len(x_train)} samples is too small to carve a validation "
                        f"split of {fraction:.0%}; use more data or change data.validation_fraction")
    order = rng.permutation(len(x_train))
    return x_train[order[n_val:]], x_train[order[:n_val]]


@register_protocol("one_anomalous_class")
def one_anomalous_class(data: LabeledData, spec, seed: int) -> AnomalyData:
    """Survey/EGBAD protocol (PROTOCOLS §3.3): pool everything, one class anomalous, the rest normal;
    shuffle; 80 % of normals train, test = remaining normals + all anomalies; validation (10 % by
    default) is carved from the training normals. One permutation per seed: the EGBAD code's
    overlapping train/test permutations are not reproduced."""
    _check_class(data, spec.anomalous_class, "anomalous_class")
    rng = np.random.default_rng(seed)
    is_anom = data.labels == spec.anomalous_class
    normal_idx = rng.permutation(np.flatnonzero(~is_anom))
    anom_idx = np.flatnonzero(is_anom)
    n_train = int(round(len(normal_idx) * _fraction(spec.train_fraction, 0.8, "train_fraction")))
    train_idx, test_norm_idx = normal_idx[:n_train], normal_idx[n_train:]
    test_idx = np.concatenate([test_norm_idx, anom_idx])
    x_train, x_val = carve_validation(data.x[train_idx], _fraction(spec.validation_fraction, 0.1,
                                                                   "validation_fraction"), rng)
    return AnomalyData(x_train=x_train, x_val=x_val, x_test=data.x[test_idx],
                       y_test=is_anom[test_idx].astype(np.int64),
                       info={"protocol": "one_anomalous_class", "anomalous_class": spec.anomalous_class,
                             "test_indices": test_idx, "train_indices": train_idx})


@register_protocol("one_normal_class")
def one_normal_class(data: LabeledData, spec, seed: int) -> AnomalyData:
    """ALAD protocol (PROTOCOLS §3.5): pool, 80/20 split, 25 % of train as validation; anomalies
    (every class but `normal_class`) dropped from train and validation; test keeps all classes."""
    _check_class(data, spec.normal_class, "normal_class")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(data.x))
    n_train = int(round(len(order) * _fraction(spec.train_fraction, 0.8, "train_fraction")))
    n_val = int(round(n_train * _fraction(spec.validation_fraction, 0.25, "validation_fraction")))
    val_idx, train_idx, test_idx = order[:n_val], order[n_val:n_train], order[n_train:]
    train_idx = train_idx[data.labels[train_idx] == spec.normal_class]
    val_idx = val_idx[data.labels[val_idx] == spec.normal_class]
    if len(train_idx) == 0 or len(val_idx) == 0:
        raise DataError(f"normal class {spec.normal_class!r} leaves an empty training or validation split")
    return AnomalyData(x_train=data.x[train_idx], x_val=data.x[val_idx], x_test=data.x[test_idx],
                       y_test=(data.labels[test_idx] != spec.normal_class).astype(np.int64),
                       info={"protocol": "one_normal_class", "normal_class": spec.normal_class,
                             "test_indices": test_idx, "train_indices": train_idx})
