"""The "1 versus 9" and "9 versus 1" protocols of Rafiee & Fevens (arXiv:2112.15541, §4).

§4: "1) 1 versus 9 where one out of 10 classes is chosen to be anomalous while the rest form normal
class, and 2) 9 versus 1 where nine classes form the anomalous class and the remaining one form the
normal class ... only normal images are considered for the training, while anomalous images and test
data are used for the inference ... a small proportion of samples is used as the validation sets."

The authors' released code makes that concrete for MNIST/CIFAR-10: training = the normal images of the
source's own training split; test = the normal images of its test split plus *every* anomalous image,
from both splits. Here the validation set (10 % by default, `data.validation_fraction`) is carved from
the training normals. Sources without an own train/test split (e.g. `digits`) get one from a seeded
permutation of the normals (`data.train_fraction`, 80 % by default). Train, validation and test are
disjoint in every case.
"""

from __future__ import annotations

import numpy as np

from tfganad.data.base import AnomalyData, LabeledData
from tfganad.data.protocols import _check_class, _fraction, carve_validation, register_protocol
from tfganad.errors import DataError


def _split_by_origin(data: LabeledData, is_anom: np.ndarray, spec, rng):
    """Indices of training normals and of test normals: the source's own split, else a permutation."""
    normal = np.flatnonzero(~is_anom)
    if data.origin is not None and {"train", "test"} <= set(np.unique(data.origin)):
        return normal[data.origin[normal] == "train"], normal[data.origin[normal] == "test"]
    normal = rng.permutation(normal)
    n_train = int(round(len(normal) * _fraction(spec.train_fraction, 0.8, "train_fraction")))
    return normal[:n_train], normal[n_train:]


def _versus(data: LabeledData, spec, seed: int, is_anom: np.ndarray, name: str, info: dict) -> AnomalyData:
    rng = np.random.default_rng(seed)
    train_idx, test_norm_idx = _split_by_origin(data, is_anom, spec, rng)
    if len(train_idx) == 0 or len(test_norm_idx) == 0:
        raise DataError(f"protocol {name!r} leaves no normal training or test images; check the class choice")
    test_idx = np.concatenate([test_norm_idx, np.flatnonzero(is_anom)])
    x_train, x_val = carve_validation(data.x[train_idx], _fraction(spec.validation_fraction, 0.1,
                                                                   "validation_fraction"), rng)
    return AnomalyData(x_train=x_train, x_val=x_val, x_test=data.x[test_idx],
                       y_test=is_anom[test_idx].astype(np.int64),
                       info={"protocol": name, **info, "test_indices": test_idx, "train_indices": train_idx})


@register_protocol("one_vs_nine")
def one_vs_nine(data: LabeledData, spec, seed: int) -> AnomalyData:
    """1 versus 9: `data.anomalous_class` is anomalous, the nine others are normal (Rafiee & Fevens §4)."""
    _check_class(data, spec.anomalous_class, "anomalous_class")
    is_anom = data.labels == spec.anomalous_class
    return _versus(data, spec, seed, is_anom, "one_vs_nine", {"anomalous_class": spec.anomalous_class})


@register_protocol("nine_vs_one")
def nine_vs_one(data: LabeledData, spec, seed: int) -> AnomalyData:
    """9 versus 1: `data.normal_class` is normal, the nine others are anomalous (Rafiee & Fevens §4)."""
    _check_class(data, spec.normal_class, "normal_class")
    is_anom = data.labels != spec.normal_class
    return _versus(data, spec, seed, is_anom, "nine_vs_one", {"normal_class": spec.normal_class})
