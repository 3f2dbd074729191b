"""Data sources (digits, IDX, npz, CSV, image folder, tfds offline) and protocols."""

import gzip
import struct
import time

import numpy as np
import pytest

from tfganad.config import DataSpec
from tfganad.data import load_data, train_dataset
from tfganad.data import sources as S
from tfganad.data.base import LabeledData
from tfganad.data.protocols import one_anomalous_class, one_normal_class
from tfganad.errors import DataError


def _write_idx(path, array):
    array = np.asarray(array, np.uint8)
    header = bytes([0, 0, 8, array.ndim]) + struct.pack(">" + "I" * array.ndim, *array.shape)
    with gzip.open(path, "wb") as fh:
        fh.write(header + array.tobytes())


@pytest.fixture
def idx_dir(tmp_path):
    rng = np.random.default_rng(0)
    for split, n in (("train", 40), ("t10k", 20)):
        _write_idx(tmp_path / f"{split}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        _write_idx(tmp_path / f"{split}-labels-idx1-ubyte.gz", np.arange(n) % 10)
    return tmp_path


def test_digits_default_is_offline_and_scaled():
    data = load_data(DataSpec(image_size=16), seed=0)
    assert data.x_train.shape[1:] == (16, 16, 1)
    assert data.x_train.min() >= -1.0 and data.x_train.max() <= 1.0
    assert set(np.unique(data.y_test)) == {0, 1}


def test_one_anomalous_class_splits_are_disjoint_and_normal_only():
    labels = np.repeat(np.arange(10), 20)
    data = LabeledData(x=np.arange(200, dtype=np.float32)[:, None], labels=labels, kind="tabular")
    split = one_anomalous_class(data, DataSpec(anomalous_class=3), seed=1)
    train_ids, val_ids, test_ids = (set(a.ravel().tolist()) for a in (split.x_train, split.x_val, split.x_test))
    assert not (train_ids & test_ids) and not (val_ids & test_ids) and not (train_ids & val_ids)
    anomalous_ids = set(np.flatnonzero(labels == 3).tolist())
    assert not (anomalous_ids & (train_ids | val_ids))
    assert anomalous_ids <= test_ids  # all anomalies go to test
    assert len(train_ids) + len(val_ids) == round(180 * 0.8)
    assert split.y_test.sum() == 20


def test_one_normal_class_keeps_all_classes_in_test():
    labels = np.repeat(np.arange(10), 20)
    data = LabeledData(x=np.arange(200, dtype=np.float32)[:, None], labels=labels, kind="tabular")
    split = one_normal_class(data, DataSpec(normal_class=2, anomalous_class=None), seed=0)
    assert len(split.x_test) == 40
    kept = labels[split.x_train.ravel().astype(int)]
    assert np.all(kept == 2) and np.all(labels[split.x_val.ravel().astype(int)] == 2)


def test_bad_class_and_protocol_names():
    with pytest.raises(DataError, match="anomalous_class=12 is not a class.*classes present: 0, 1"):
        load_data(DataSpec(anomalous_class=12), 0)
    with pytest.raises(DataError, match="unknown protocol 'one_anomalus_class' \\(did you mean"):
        load_data(DataSpec(protocol="one_anomalus_class"), 0)
    with pytest.raises(DataError, match="unknown data source 'mnsit' \\(did you mean 'mnist'"):
        load_data(DataSpec(source="mnsit"), 0)


def test_idx_source_reads_gzip_and_pools_splits(idx_dir):
    data = load_data(DataSpec(source="mnist", path=str(idx_dir), anomalous_class=1), 0)
    assert data.input_shape == (28, 28, 1)
    assert len(data.x_train) + len(data.x_val) + len(data.x_test) == 60


def test_corrupt_idx_file_is_a_clear_error(idx_dir):
    (idx_dir / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x03" + b"\x00" * 20))
    with pytest.raises(DataError, match="corrupt|truncated"):
        load_data(DataSpec(source="idx", path=str(idx_dir)), 0)
    (idx_dir / "train-images-idx3-ubyte.gz").write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match="cannot read IDX"):
        load_data(DataSpec(source="idx", path=str(idx_dir)), 0)


def test_missing_idx_dir_names_the_files(tmp_path):
    with pytest.raises(DataError, match="train-images-idx3-ubyte"):
        load_data(DataSpec(source="mnist", path=str(tmp_path)), 0)


def test_npz_source_and_nan_rejection(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x_train=rng.integers(0, 255, (30, 16, 16), dtype=np.uint8),
             y_train=np.arange(30) % 3, x_test=rng.integers(0, 255, (9, 16, 16), dtype=np.uint8),
             y_test=np.arange(9) % 3)
    data = load_data(DataSpec(source="npz", path=str(tmp_path / "d.npz"), anomalous_class=2), 0)
    assert data.input_shape == (16, 16, 1)
    x = rng.normal(size=(20, 4)).astype(np.float32)
    x[3, 1] = np.nan
    np.savez(tmp_path / "nan.npz", x=x, y=np.arange(20) % 2)
    with pytest.raises(DataError, match="NaN/inf"):
        load_data(DataSpec(source="npz", path=str(tmp_path / "nan.npz"), anomalous_class=1), 0)


def test_csv_source_one_hot_and_label(tmp_path):
    path = tmp_path / "rows.csv"
    lines = ["a,proto,b,label"] + [f"{i},{'tcp' if i % 2 else 'udp'},{i * 0.5},{int(i % 5 == 0)}" for i in range(30)]
    path.write_text("\n".join(lines) + "\n")
    data = S.load_csv(path, label_column="label", categorical_columns=["proto"])
    assert data.x.shape == (30, 4)  # a, proto=tcp, proto=udp, b
    split = load_data(DataSpec(source="csv", path=str(path), label_column="label", categorical_columns=["proto"],
                               anomalous_class=1, scaling="minmax"), 0)
    assert split.x_train.min() >= 0.0 and split.x_train.max() <= 1.0
    path.write_text("a,b\n1,x\n")
    with pytest.raises(DataError, match="non-numeric value 'x'"):
        S.load_csv(path)


def test_image_folder_source(tmp_path):
    import tensorflow as tf

    rng = np.random.default_rng(0)
    for sub, n in (("normal", 12), ("anomalous", 4)):
        (tmp_path / sub).mkdir()
        for i in range(n):
            img = rng.integers(0, 255, (16, 16, 1), dtype=np.uint8)
            tf.io.write_file(str(tmp_path / sub / f"{i}.png"), tf.io.encode_png(img))
    data = load_data(DataSpec(source="folder", path=str(tmp_path), anomalous_class=1, channels=1), 0)
    assert data.input_shape == (16, 16, 1) and data.y_test.sum() == 4


def test_tfds_offline_fails_in_seconds_with_local_hint(tmp_path, monkeypatch):
    monkeypatch.setattr(S, "network_available", lambda *a, **k: False)
    start = time.perf_counter()
    with pytest.raises(DataError, match="--set data.path=DIR with the four MNIST IDX files"):
        load_data(DataSpec(source="mnist", data_dir=str(tmp_path)), 0)
    assert time.perf_counter() - start < 30  # the tfds downloader alone would retry for ~205 s


def test_train_dataset_reshuffles_every_epoch():
    ds = train_dataset(np.arange(64, dtype=np.float32), batch_size=64, seed=0)
    first, second = (next(iter(ds)).numpy() for _ in range(2))
    assert sorted(first) == sorted(second) and not np.array_equal(first, second)


def test_real_mnist_idx_when_present(shared_data):
    data = S.load_idx_dir(shared_data / "mnist")
    assert data.x.shape == (70000, 28, 28, 1)
    assert np.bincount(data.labels)[0] == 5923 + 980
