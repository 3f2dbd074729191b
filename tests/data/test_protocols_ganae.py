"""The 1-versus-9 and 9-versus-1 protocols of Rafiee & Fevens (§4; split rule of their released code)."""

from __future__ import annotations

import numpy as np
import pytest

from tfganad.config import DataSpec
from tfganad.data import get_protocol, load_data
from tfganad.data.base import LabeledData
from tfganad.errors import DataError


def _data(with_origin=True):
    """100 'images' whose value is their own index; labels cycle 0..4; first 60 from 'train'."""
    n = 100
    x = np.arange(n, dtype=np.float32).reshape(n, 1, 1, 1)
    labels = np.arange(n) % 5
    origin = np.where(np.arange(n) < 60, "train", "test") if with_origin else None
    return LabeledData(x=x, labels=labels, origin=origin, value_range=(0.0, 99.0))


def _ids(a):
    return set(a.reshape(len(a)).astype(int).tolist())


def test_one_vs_nine_uses_the_source_split_and_all_anomalies():
    data = _data()
    out = get_protocol("one_vs_nine")(data, DataSpec(anomalous_class=2, validation_fraction=0.25), 0)
    train, val, test = _ids(out.x_train), _ids(out.x_val), _ids(out.x_test)
    normal_train = {i for i in range(60) if i % 5 != 2}  # 48 normals of the 'train' split
    assert train | val == normal_train and not train & val and len(val) == 12
    # Test: the 'test' split's normals plus every anomaly, also those of the 'train' split.
    assert test == {i for i in range(60, 100) if i % 5 != 2} | {i for i in range(100) if i % 5 == 2}
    y = dict(zip(out.x_test.reshape(-1).astype(int), out.y_test))
    assert all(y[i] == (i % 5 == 2) for i in test)
    assert out.info["protocol"] == "one_vs_nine" and out.info["anomalous_class"] == 2


def test_nine_vs_one_keeps_one_normal_class():
    data = _data()
    out = get_protocol("nine_vs_one")(data, DataSpec(normal_class=3), 0)
    train, val, test = _ids(out.x_train), _ids(out.x_val), _ids(out.x_test)
    assert train | val == {i for i in range(60) if i % 5 == 3} and not train & val
    assert len(val) == 1  # 10 % of 12 by default ("a small proportion")
    assert test == {i for i in range(60, 100) if i % 5 == 3} | {i for i in range(100) if i % 5 != 3}
    assert out.y_test.sum() == 80 and len(out.y_test) == 88


def test_sources_without_their_own_split_get_a_seeded_disjoint_one():
    data = _data(with_origin=False)
    a = get_protocol("one_vs_nine")(data, DataSpec(anomalous_class=0), 7)
    b = get_protocol("one_vs_nine")(data, DataSpec(anomalous_class=0), 7)
    np.testing.assert_array_equal(a.x_test, b.x_test)
    train, val, test = _ids(a.x_train), _ids(a.x_val), _ids(a.x_test)
    assert not (train & test or val & test or train & val)
    assert len(train | val) == 64 and train | val | test == set(range(100))  # 80 % of the 80 normals


@pytest.mark.parametrize("protocol,key", [("one_vs_nine", "anomalous_class"), ("nine_vs_one", "normal_class")])
def test_missing_or_unknown_class_is_a_data_error(protocol, key):
    with pytest.raises(DataError, match=key):
        get_protocol(protocol)(_data(), DataSpec(anomalous_class=None, normal_class=None), 0)
    with pytest.raises(DataError, match=key):
        get_protocol(protocol)(_data(), DataSpec(**{key: 9}), 0)


def test_protocols_are_reachable_through_load_data():
    out = load_data(DataSpec(source="digits", protocol="nine_vs_one", normal_class=1, image_size=16), seed=0)
    # digits: 182 ones → 146 train + validation, 36 test normals; all 1,615 other digits are anomalies
    assert out.input_shape == (16, 16, 1) and len(out.x_train) + len(out.x_val) == 146
    assert len(out.y_test) == 36 + 1615 and int(out.y_test.sum()) == 1615
