"""KDD Cup 99 and Arrhythmia sources and their protocols (kdd99_dagmm, arrhythmia_alad).

Small generated files in the real formats; the real files only when ../shared/data is present.
"""

from __future__ import annotations

import functools
import gzip

import numpy as np
import pytest
import tensorflow as tf

from tfganad.config import DataSpec
from tfganad.data import eval_dataset, get_protocol, get_source, load_data, train_dataset, without_autotuning
from tfganad.data import tabular as T
from tfganad.data.base import LabeledData
from tfganad.errors import DataError

SERVICES = ("http", "smtp", "ftp", "private")
FLAGS = ("SF", "S0", "REJ")


def _kdd_line(rng, label: str) -> str:
    """One line in the UCI format: 41 comma-separated features and the label (with its trailing dot)."""
    fields = [str(int(rng.integers(0, 100)))]                       # duration
    fields += [str(rng.choice(["tcp", "udp", "icmp"])), str(rng.choice(SERVICES)), str(rng.choice(FLAGS))]
    fields += [str(int(rng.integers(0, 5000))), str(int(rng.integers(0, 5000)))]  # src_bytes, dst_bytes
    fields += [str(int(rng.integers(0, 2)))]                         # land
    fields += [str(int(rng.integers(0, 3))) for _ in range(4)]       # wrong_fragment .. num_failed_logins
    fields += [str(int(rng.integers(0, 2)))]                         # logged_in
    fields += [str(int(rng.integers(0, 3))) for _ in range(8)]       # num_compromised .. num_outbound_cmds
    fields += ["0", str(int(rng.integers(0, 2)))]                    # is_host_login, is_guest_login
    fields += [str(int(rng.integers(0, 500))), str(int(rng.integers(0, 500)))]  # count, srv_count
    fields += [f"{rng.uniform():.2f}" for _ in range(7)]             # serror_rate .. srv_diff_host_rate
    fields += [str(int(rng.integers(0, 256))), str(int(rng.integers(0, 256)))]  # dst_host_count, srv_count
    fields += [f"{rng.uniform():.2f}" for _ in range(8)]
    fields.append(label)
    assert len(fields) == 42
    return ",".join(fields)


@pytest.fixture
def kdd_file(tmp_path):
    """40 rows: 10 `normal.` (label 1), 30 attacks, gzip-compressed like the UCI download."""
    rng = np.random.default_rng(0)
    labels = ["normal."] * 10 + ["smurf."] * 20 + ["neptune."] * 10
    lines = [_kdd_line(rng, lab) for lab in labels]
    path = tmp_path / "kddcup.data_10_percent.gz"
    with gzip.open(path, "wt") as fh:
        fh.write("\n".join(lines) + "\n")
    return path


def _categories(path):
    with gzip.open(path, "rt") as fh:
        rows = [line.strip().split(",") for line in fh]
    return sum(len({r[T.KDD99_COLUMNS.index(c)] for r in rows}) for c in T.KDD99_CATEGORICAL)


# ---------------------------------------------------------------- KDD99 source ---------------------
def test_kdd99_file_one_hot_and_labels(kdd_file):
    data = T.read_kdd99(kdd_file)
    n_cat = _categories(kdd_file)
    assert data.x.shape == (40, 34 + n_cat) and data.x.dtype == np.float32
    assert data.kind == "tabular" and data.binary
    np.testing.assert_array_equal(data.labels, [1] * 10 + [0] * 30)  # normal. is the anomaly class
    onehot = data.x[:, 34:]
    assert set(np.unique(onehot).tolist()) <= {0.0, 1.0}
    np.testing.assert_array_equal(onehot.sum(1), np.full(40, len(T.KDD99_CATEGORICAL)))  # one 1 per column
    # The numeric block keeps file order: duration first, then src_bytes.
    with gzip.open(kdd_file, "rt") as fh:
        first = fh.readline().split(",")
    assert data.x[0, 0] == float(first[0]) and data.x[0, 1] == float(first[4])


def test_kdd99_reads_plain_file_and_folder(kdd_file, tmp_path):
    plain = tmp_path / "sub" / "kddcup.data_10_percent_corrected"
    plain.parent.mkdir()
    with gzip.open(kdd_file, "rb") as fh:
        plain.write_bytes(fh.read())
    a, b = T.read_kdd99(kdd_file), T.read_kdd99(plain.parent)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.labels, b.labels)


def test_kdd99_rejects_wrong_width_and_missing_files(tmp_path):
    bad = tmp_path / "kddcup.data_10_percent"
    bad.write_text("1,2,3,normal.\n")
    with pytest.raises(DataError, match="42"):
        T.read_kdd99(bad)
    with pytest.raises(DataError, match="data.path"):
        T.read_kdd99(tmp_path / "nope.gz")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="kddcup.data_10_percent"):
        T.read_kdd99(empty)


def test_kdd99_ragged_line_is_a_data_error(kdd_file, tmp_path):
    with gzip.open(kdd_file, "rt") as fh:
        lines = fh.read().splitlines()
    lines[5] = lines[5].rsplit(",", 2)[0]
    ragged = tmp_path / "kddcup.data_10_percent"
    ragged.write_text("\n".join(lines))
    with pytest.raises(DataError, match="malformed"):
        T.read_kdd99(ragged)


def test_kdd99_offline_without_path_says_how_to_fix(monkeypatch):
    import sklearn.datasets

    def not_cached(**kwargs):
        raise OSError("Data not found and `download_if_missing` is False")

    monkeypatch.setattr(sklearn.datasets, "fetch_kddcup99", not_cached)
    monkeypatch.setattr(T, "network_available", lambda *a, **k: False)
    with pytest.raises(DataError, match=r"--set data.path="):
        get_source("kdd99")(DataSpec(source="kdd99", protocol="kdd99_dagmm"))


def test_kdd99_scikit_learn_arrays_match_the_file(kdd_file):
    # fetch_kddcup99 returns an object array: bytes for symbols, numbers for the rest, bytes labels.
    with gzip.open(kdd_file, "rt") as fh:
        rows = [line.strip().split(",") for line in fh]
    symbolic = {T.KDD99_COLUMNS.index(c) for c in ("protocol_type", "service", "flag")}
    data = np.array([[v.encode() if j in symbolic else float(v) for j, v in enumerate(r[:-1])] for r in rows],
                    dtype=object)
    target = np.array([r[-1].encode() for r in rows], dtype=object)
    got, expected = T.kdd99_from_bunch(data, target), T.read_kdd99(kdd_file)
    np.testing.assert_array_equal(got.x, expected.x)
    np.testing.assert_array_equal(got.labels, expected.labels)


@functools.lru_cache(maxsize=1)
def _real_kdd(folder):
    """The real file, parsed once per session (about 7 s)."""
    return T.read_kdd99(folder)


def test_kdd99_real_file_has_121_features(shared_data):
    data = _real_kdd(shared_data / "kddcup99")
    assert data.x.shape == (494021, 121)
    assert int(data.labels.sum()) == 97278  # normal. rows, 19.69 %


# ---------------------------------------------------------------- kdd99_dagmm protocol --------------
def _indexed(labels):
    labels = np.asarray(labels)
    return LabeledData(x=np.arange(len(labels), dtype=np.float32)[:, None], labels=labels, kind="tabular",
                       value_range=None, binary=True)


def _ids(a):
    return a.ravel().astype(int)


def test_kdd99_dagmm_splits_are_disjoint_train_on_attacks_and_test_at_20_percent():
    labels = np.r_[np.ones(400), np.zeros(600)].astype(int)  # plenty of anomalies: the 20 % rule binds
    split = get_protocol("kdd99_dagmm")(_indexed(labels), DataSpec(), 0)
    train, val, test = _ids(split.x_train), _ids(split.x_val), _ids(split.x_test)
    assert not (set(train) & set(val)) and not (set(train) & set(test)) and not (set(val) & set(test))
    assert np.all(labels[train] == 0) and np.all(labels[val] == 0)
    assert len(train) + len(val) == int(np.sum(labels[np.r_[train, val]] == 0))
    np.testing.assert_array_equal(split.y_test, labels[test])
    n_normal = int(np.sum(split.y_test == 0))
    assert int(np.sum(split.y_test)) == int(n_normal * 0.25)  # anomalies = 20 % of the test set
    assert split.y_test.mean() == pytest.approx(0.2, abs=0.01)
    assert split.contamination == 0.2 and not split.info["uses_whole_test_half"]
    # 50/50: the test half's label-0 rows are all in the test set.
    assert len(train) + len(val) + n_normal == 600


def test_kdd99_dagmm_uses_whole_test_half_when_anomalies_are_scarce():
    labels = np.r_[np.ones(150), np.zeros(850)].astype(int)  # ~15 % anomalies < 20 %
    split = get_protocol("kdd99_dagmm")(_indexed(labels), DataSpec(), 3)
    assert split.info["uses_whole_test_half"]
    assert len(split.x_test) == 500  # the whole test half
    assert split.y_test.mean() < 0.2 and split.contamination == 0.2


def test_kdd99_dagmm_is_seeded():
    labels = np.r_[np.ones(300), np.zeros(700)].astype(int)
    protocol = get_protocol("kdd99_dagmm")
    a, b, c = (protocol(_indexed(labels), DataSpec(), s) for s in (1, 1, 2))
    np.testing.assert_array_equal(a.x_test, b.x_test)
    assert not np.array_equal(np.sort(_ids(a.x_train)), np.sort(_ids(c.x_train)))


def test_kdd99_dagmm_needs_binary_labels():
    with pytest.raises(DataError, match="0/1 labels"):
        get_protocol("kdd99_dagmm")(_indexed(np.arange(10) % 3), DataSpec(), 0)


def test_load_data_on_a_kdd_file_scales_on_train_only(kdd_file):
    spec = DataSpec(source="kdd99", path=str(kdd_file), protocol="kdd99_dagmm", scaling="minmax",
                    validation_fraction=0.2)
    data = load_data(spec, seed=0)
    assert data.x_train.min() >= 0.0 and data.x_train.max() <= 1.0
    assert data.contamination == 0.2 and set(np.unique(data.y_test)) == {0, 1}


def test_kdd99_real_protocol_uses_the_whole_test_half(shared_data):
    data = get_protocol("kdd99_dagmm")(_real_kdd(shared_data / "kddcup99"), DataSpec(), 0)
    assert data.info["uses_whole_test_half"] and len(data.x_test) == 247011
    assert data.y_test.mean() == pytest.approx(0.1969, abs=0.003)
    # Training rows = every label-0 row of the train half (the label-1 ones there are dropped).
    assert data.x_train.shape[1] == 121
    assert len(data.x_train) + len(data.x_val) == 247010 - (97278 - int(data.y_test.sum()))


# ---------------------------------------------------------------- Arrhythmia ------------------------
def _arrhythmia_rows(n=40, width=9, seed=0):
    """Rows of `width` features + class; columns 2 and 5 hold '?' somewhere, like the UCI file."""
    rng = np.random.default_rng(seed)
    classes = np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 14, 15, 16] * 4)[:n]
    table = rng.normal(size=(n, width)).round(2).astype(object)
    table[3, 2] = "?"
    table[7, 5] = "?"
    lines = [",".join(str(v) for v in row) + f",{c}" for row, c in zip(table, classes)]
    return lines, classes, table


def test_arrhythmia_data_drops_gappy_columns_and_maps_odds_classes(tmp_path):
    lines, classes, table = _arrhythmia_rows()
    path = tmp_path / "arrhythmia.data"
    path.write_text("\n".join(lines) + "\n")
    data = T.read_arrhythmia(path)
    assert data.x.shape == (40, 7)  # 9 features minus the 2 with '?'
    expected = np.delete(table, [2, 5], axis=1).astype(float)
    np.testing.assert_allclose(data.x, expected, rtol=1e-6)
    np.testing.assert_array_equal(data.labels, np.isin(classes, [3, 4, 5, 7, 8, 9, 14, 15]).astype(int))


def test_arrhythmia_mat_and_folder_preference(tmp_path):
    import scipy.io

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(20, 6)), (np.arange(20) % 5 == 0).astype(np.uint8)[:, None]
    scipy.io.savemat(tmp_path / "arrhythmia.mat", {"X": x, "y": y})
    (tmp_path / "arrhythmia.data").write_text("garbage that must not be read\n")
    data = get_source("arrhythmia")(DataSpec(source="arrhythmia", path=str(tmp_path)))
    np.testing.assert_allclose(data.x, x.astype(np.float32))
    np.testing.assert_array_equal(data.labels, y.ravel())


def test_arrhythmia_errors(tmp_path):
    with pytest.raises(DataError, match="data.path"):
        get_source("arrhythmia")(DataSpec(source="arrhythmia"))
    bad = tmp_path / "arrhythmia.data"
    bad.write_text("1,2,3\n4,5\n")
    with pytest.raises(DataError, match="line 2"):
        T.read_arrhythmia(bad)
    bad.write_text("1,x,3\n")
    with pytest.raises(DataError, match="neither a number"):
        T.read_arrhythmia(bad)


def test_arrhythmia_real_files_agree(shared_data):
    mat = T.read_arrhythmia(shared_data / "arrhythmia" / "arrhythmia.mat")
    uci = T.read_arrhythmia(shared_data / "arrhythmia" / "arrhythmia.data")
    assert mat.x.shape == (452, 274) and int(mat.labels.sum()) == 66
    np.testing.assert_allclose(uci.x, mat.x)
    np.testing.assert_array_equal(uci.labels, mat.labels)


def test_arrhythmia_alad_keeps_training_data_contaminated():
    labels = (np.arange(200) % 7 == 0).astype(int)
    split = get_protocol("arrhythmia_alad")(_indexed(labels), DataSpec(), 0)
    train, val, test = _ids(split.x_train), _ids(split.x_val), _ids(split.x_test)
    assert not (set(train) & set(val)) and not (set(train) & set(test)) and not (set(val) & set(test))
    assert len(train) + len(val) == 100 and len(test) == 100  # 50/50, nothing filtered out
    np.testing.assert_array_equal(split.y_train, labels[train])
    np.testing.assert_array_equal(split.y_val, labels[val])
    assert split.y_train.sum() > 0  # contaminated on purpose
    assert split.contamination == 0.15
    np.testing.assert_array_equal(split.y_test, labels[test])


def test_kdd99_han_trains_on_75_percent_of_label0_and_tests_on_the_rest_plus_all_label1():
    """Han et al. 2021 appendix: a random 75 % of the majority ("normal" there) rows train; the rest test."""
    labels = np.r_[np.ones(200), np.zeros(800)].astype(int)
    split = get_protocol("kdd99_han")(_indexed(labels), DataSpec(), 0)
    train, val, test = _ids(split.x_train), _ids(split.x_val), _ids(split.x_test)
    assert not (set(train) & set(val)) and not ((set(train) | set(val)) & set(test))
    assert len(train) + len(val) == 600 and len(val) == 60 and np.all(labels[np.r_[train, val]] == 0)
    assert sorted(test) == sorted(set(range(1000)) - set(train) - set(val))  # every label-1 row is tested
    assert split.contamination == pytest.approx(200 / 400) == split.y_test.mean()



def test_in_memory_pipelines_run_without_tf_data_autotuning():
    # Autotuning pinned scoring passes at ~973 img/s on 2 cores (tfganad.data.pipeline.without_autotuning).
    x = np.arange(40, dtype=np.float32).reshape(10, 4)
    for ds in (train_dataset(x, 4, seed=0), eval_dataset(x, 4)):
        assert ds.options().autotune.enabled is False
    assert [b.shape[0] for b in eval_dataset(x, 4)] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate(list(eval_dataset(x, 4).as_numpy_iterator())), x)
    assert without_autotuning(tf.data.Dataset.range(3)).options().autotune.enabled is False
