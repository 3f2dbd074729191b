"""Tabular benchmarks of the GAN anomaly-detection papers: KDD Cup 99 (10 %) and Arrhythmia.

Sources (`data.source`):

* `kdd99`: `kddcup.data_10_percent[.gz]` (UCI; also read as `kddcup.data_10_percent_corrected`) from
  `data.path` (the file or its folder), else scikit-learn's `fetch_kddcup99(percent10=True)` (its cache,
  or a download when the network answers). The 7 symbolic columns are one-hot encoded over the whole
  file, categories in sorted order, appended after the 34 numeric columns (the layout of the reference
  code's `pd.get_dummies`): 121 features on the real file. Label 1 = `normal.` traffic: the ~20 %
  minority is the anomaly class in the DAGMM/EGBAD/ALAD protocol.
* `arrhythmia`: ODDS `arrhythmia.mat` (X 452 × 274, y) or UCI `arrhythmia.data` (279 features + class,
  `?` for missing values). From the UCI file the columns holding any `?` are dropped (5 on the real
  file: 274 features remain) and classes 3, 4, 5, 7, 8, 9, 14, 15 are anomalous: the ODDS convention,
  under which both files give identical arrays (the smallest classes, 66 rows = 14.6 %; class 1 is
  "normal" ECG, 2, 6, 10 and 16 are the larger arrhythmia groups kept as inliers).

Protocols (`data.protocol`):

* `kdd99_dagmm` (PROTOCOLS §3.1): 50/50 split; train on label-0 rows only (attacks); test = every
  label-0 row of the test half plus label-1 rows drawn so that anomalies are 20 % of it. The real test
  half holds fewer label-0 rows (~48.6k) than a 20 % share needs (~49.6k), so, as in the reference code,
  the whole test half is used (~19.7 % anomalies; `info["uses_whole_test_half"]`). P/R/F1 flag the top
  20 % (`contamination` 0.2). A label-0 validation split (`data.validation_fraction`, default 0.1) is
  carved from the training rows; the reference trains on all of them and has no validation split.
* `kdd99_han` (Han et al. 2021, GAN ensembles, appendix "KDD99 dataset"): a random 75 %
  (`data.train_fraction`) of the label-0 rows (attacks, the "normal" class of that protocol) train the
  model, minus a label-0 validation split (`data.validation_fraction`, default 0.1); the test set is
  the other label-0 rows plus every label-1 row (~50 % anomalies on the real file). The paper does not
  state its threshold rule; its recall of 0.96 rules out flagging only the top 20 %, so P/R/F1 flag the
  top share equal to the test set's anomaly share (`contamination`, the same known-ratio rule as the
  DAGMM protocol's 20 %).
* `arrhythmia_alad` (PROTOCOLS §3.2): 50/50 split; training rows are NOT filtered (contaminated,
  `y_train` says which are anomalous); a validation split of the same contaminated kind is carved from
  them (default 10 %); P/R/F1 flag the top 15 %.

Scaling: the reference code feeds raw features (`scale=False`); `data.scaling` (none | minmax |
standard, fitted on the training split) makes any scaling explicit.
"""

from __future__ import annotations

import gzip
import io
import pathlib
import zlib

import numpy as np

from tfganad.data.base import AnomalyData, LabeledData
from tfganad.data.protocols import register_protocol
from tfganad.data.sources import network_available, register_source
from tfganad.errors import DataError

# ---------------------------------------------------------------------------------------------- KDD99
KDD99_COLUMNS = (
    "duration", "protocol_type", "service", "flag", "src_bytes", "dst_bytes", "land", "wrong_fragment",
    "urgent", "hot", "num_failed_logins", "logged_in", "num_compromised", "root_shell", "su_attempted",
    "num_root", "num_file_creations", "num_shells", "num_access_files", "num_outbound_cmds",
    "is_host_login", "is_guest_login", "count", "srv_count", "serror_rate", "srv_serror_rate",
    "rerror_rate", "srv_rerror_rate", "same_srv_rate", "diff_srv_rate", "srv_diff_host_rate",
    "dst_host_count", "dst_host_srv_count", "dst_host_same_srv_rate", "dst_host_diff_srv_rate",
    "dst_host_same_src_port_rate", "dst_host_srv_diff_host_rate", "dst_host_serror_rate",
    "dst_host_srv_serror_rate", "dst_host_rerror_rate", "dst_host_srv_rerror_rate", "label",
)
KDD99_CATEGORICAL = ("protocol_type", "service", "flag", "land", "logged_in", "is_host_login", "is_guest_login")
KDD99_NORMAL_LABEL = "normal."
KDD99_FILES = ("kddcup.data_10_percent.gz", "kddcup.data_10_percent", "kddcup.data_10_percent_corrected",
               "kddcup.data_10_percent_corrected.gz")
KDD99_TEST_ANOMALY_SHARE = 0.2
KDD99_CONTAMINATION = 0.2
KDD99_DOWNLOAD_HOST = "ndownloader.figshare.com"  # where scikit-learn's fetch_kddcup99 downloads from

_KDD99_CAT_IDX = [KDD99_COLUMNS.index(c) for c in KDD99_CATEGORICAL]
_KDD99_NUM_IDX = [i for i in range(len(KDD99_COLUMNS) - 1) if i not in _KDD99_CAT_IDX]
_KDD99_HINT = ("pass the UCI file: --set data.path=/path/to/kddcup.data_10_percent.gz (or the folder "
               "holding it)")


def kdd99_features(numeric, categorical, labels):
    """One-hot encodes KDD99's symbolic columns → (x float32 (N, F), y (N,) with 1 = normal., names).

    Args:
        numeric: (N, 34) numeric columns in file order.
        categorical: (N, 7) strings of `KDD99_CATEGORICAL`, in that order.
        labels: (N,) label strings such as 'smurf.' or 'normal.'.
    """
    numeric = np.asarray(numeric, np.float64)
    categorical = np.asarray(categorical).astype(str)
    blocks, names = [numeric], [KDD99_COLUMNS[i] for i in _KDD99_NUM_IDX]
    for j, column in enumerate(KDD99_CATEGORICAL):
        values, codes = np.unique(categorical[:, j], return_inverse=True)
        onehot = np.zeros((len(codes), len(values)), np.float64)
        onehot[np.arange(len(codes)), codes.ravel()] = 1.0
        blocks.append(onehot)
        names.extend(f"{column}-{v}" for v in values)
    x = np.concatenate(blocks, axis=1).astype(np.float32)
    y = (np.asarray(labels).astype(str) == KDD99_NORMAL_LABEL).astype(np.int64)
    return x, y, names


def find_kdd99_file(path) -> pathlib.Path:
    """The KDD99 10 % file at `path` (a file, or a folder holding one of `KDD99_FILES`)."""
    path = pathlib.Path(path)
    if path.is_dir():
        for name in KDD99_FILES:
            if (path / name).is_file():
                return path / name
        raise DataError(f"{str(path)!r} holds none of {', '.join(KDD99_FILES)}; {_KDD99_HINT}")
    if not path.is_file():
        raise DataError(f"data.path {str(path)!r} does not exist; {_KDD99_HINT}")
    return path


def read_kdd99(path) -> LabeledData:
    """Reads the KDD Cup 99 CSV (41 features + label per line, optionally gzip-compressed)."""
    path = find_kdd99_file(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        text = raw.decode("ascii")
    except (OSError, EOFError, UnicodeDecodeError, zlib.error) as exc:
        raise DataError(f"cannot read KDD99 file {str(path)!r}: {exc}") from None
    first = text[: text.find("\n")] if "\n" in text else text
    if len(first.split(",")) != len(KDD99_COLUMNS):
        raise DataError(f"{str(path)!r} is not a KDD Cup 99 file: its first line has {len(first.split(','))} "
                        f"comma-separated fields, expected {len(KDD99_COLUMNS)} (41 features + label)")
    try:
        numeric = np.loadtxt(io.StringIO(text), delimiter=",", usecols=_KDD99_NUM_IDX, dtype=np.float64, ndmin=2)
        symbols = np.loadtxt(io.StringIO(text), delimiter=",", usecols=_KDD99_CAT_IDX + [len(KDD99_COLUMNS) - 1],
                             dtype=str, ndmin=2)
    except ValueError as exc:
        raise DataError(f"KDD99 file {str(path)!r} is malformed: {exc}") from None
    x, y, names = kdd99_features(numeric, symbols[:, :-1], symbols[:, -1])
    return LabeledData(x=x, labels=y, kind="tabular", value_range=None, name="kdd99", binary=True,
                       layout=kdd99_layout(names))


def _decode(values):
    return np.array([v.decode() if isinstance(v, bytes) else str(v) for v in values])


def kdd99_from_bunch(data, target) -> LabeledData:
    """Converts scikit-learn's `fetch_kddcup99` arrays (object dtype, bytes symbols) to LabeledData."""
    data = np.asarray(data, dtype=object)
    numeric = data[:, _KDD99_NUM_IDX].astype(np.float64)
    categorical = np.stack([_decode(data[:, i]) for i in _KDD99_CAT_IDX], axis=1)
    # Flags such as `land` arrive as ints or floats; the file spells them "0"/"1".
    for j, column in enumerate(KDD99_CATEGORICAL):
        if column not in ("protocol_type", "service", "flag"):
            categorical[:, j] = [str(int(float(v))) for v in categorical[:, j]]
    x, y, names = kdd99_features(numeric, categorical, _decode(target))
    return LabeledData(x=x, labels=y, kind="tabular", value_range=None, name="kdd99", binary=True,
                       layout=kdd99_layout(names))


def kdd99_layout(names) -> dict:
    """Raw-field layout of KDD99 rows (41 features in file order; numeric first, then one-hot blocks)."""
    categories = {c: [n[len(c) + 1:] for n in names if n.startswith(c + "-") and n not in KDD99_COLUMNS]
                  for c in KDD99_CATEGORICAL}
    return {"columns": list(KDD99_COLUMNS[:-1]), "categories": categories,
            "order": [KDD99_COLUMNS[i] for i in _KDD99_NUM_IDX] + list(KDD99_CATEGORICAL)}


def fetch_kdd99(spec) -> LabeledData:
    """KDD99 10 % through scikit-learn: its cache first, a download only when the network answers."""
    from sklearn.datasets import fetch_kddcup99

    try:
        bunch = fetch_kddcup99(percent10=True, data_home=spec.data_dir, download_if_missing=False)
    except OSError:
        if not spec.download:
            raise DataError("KDD99 is not in scikit-learn's cache and data.download is false; "
                            + _KDD99_HINT) from None
        if not network_available(KDD99_DOWNLOAD_HOST):
            raise DataError("KDD99 is not available offline and cannot be downloaded (no network); "
                            + _KDD99_HINT) from None
        try:
            bunch = fetch_kddcup99(percent10=True, data_home=spec.data_dir, download_if_missing=True)
        except Exception as exc:  # noqa: BLE001 - urllib/HTTP errors vary
            raise DataError(f"downloading KDD99 with scikit-learn failed ({type(exc).__name__}: {exc}); "
                            + _KDD99_HINT) from None
    return kdd99_from_bunch(bunch.data, bunch.target)


@register_source("kdd99")
def load_kdd99_source(spec) -> LabeledData:
    """KDD Cup 99 10 %: `data.path` (file or folder), else scikit-learn's fetcher."""
    if spec.path:
        return read_kdd99(spec.path)
    return fetch_kdd99(spec)


# ---------------------------------------------------------------------------------------------- Arrhythmia
ARRHYTHMIA_ANOMALY_CLASSES = (3, 4, 5, 7, 8, 9, 14, 15)
ARRHYTHMIA_FILES = ("arrhythmia.mat", "arrhythmia.data")
ARRHYTHMIA_CONTAMINATION = 0.15
_ARRHYTHMIA_HINT = ("pass --set data.path=/path/to/arrhythmia.mat (ODDS) or arrhythmia.data (UCI), or the "
                    "folder holding one of them")


def read_arrhythmia_mat(path) -> LabeledData:
    """ODDS `arrhythmia.mat`: X (N, 274) features, y (N, 1) with 1 = anomalous."""
    import scipy.io

    try:
        mat = scipy.io.loadmat(str(path))
    except Exception as exc:  # noqa: BLE001 - scipy raises IndexError/struct.error/... on corrupt files
        raise DataError(f"cannot read {str(path)!r} as a MATLAB file ({type(exc).__name__}); "
                        f"the file is corrupt or not a .mat file") from None
    if "X" not in mat or "y" not in mat:
        keys = ", ".join(k for k in mat if not k.startswith("__"))
        raise DataError(f"{str(path)!r} must hold arrays 'X' and 'y' (ODDS layout); found {keys}")
    x = np.asarray(mat["X"], np.float32)
    y = np.asarray(mat["y"]).reshape(-1).astype(np.int64)
    if x.ndim != 2 or len(x) != len(y):
        raise DataError(f"{str(path)!r}: X has shape {x.shape} but y has {len(y)} labels")
    if not set(np.unique(y).tolist()) <= {0, 1}:
        raise DataError(f"{str(path)!r}: y must be 0/1 (1 = anomalous), found {np.unique(y).tolist()}")
    return LabeledData(x=x, labels=y, kind="tabular", value_range=None, name="arrhythmia", binary=True)


def read_arrhythmia_data(path) -> LabeledData:
    """UCI `arrhythmia.data`: features + class per line, `?` = missing; drops gappy columns (ODDS)."""
    try:
        lines = [ln.strip() for ln in pathlib.Path(path).read_text().splitlines() if ln.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {str(path)!r}: {exc}") from None
    if not lines:
        raise DataError(f"{str(path)!r} is empty")
    rows = [ln.split(",") for ln in lines]
    width = len(rows[0])
    for i, row in enumerate(rows):
        if len(row) != width:
            raise DataError(f"{str(path)!r} line {i + 1} has {len(row)} fields, line 1 has {width}")
    try:
        table = np.array([[np.nan if v.strip() == "?" else float(v) for v in row] for row in rows])
    except ValueError as exc:
        raise DataError(f"{str(path)!r} holds a value that is neither a number nor '?': {exc}") from None
    if np.isnan(table[:, -1]).any():
        raise DataError(f"{str(path)!r}: the last column (class) has missing values")
    features = table[:, :-1]
    keep = ~np.isnan(features).any(axis=0)
    y = np.isin(table[:, -1].astype(np.int64), ARRHYTHMIA_ANOMALY_CLASSES).astype(np.int64)
    return LabeledData(x=features[:, keep].astype(np.float32), labels=y, kind="tabular", value_range=None,
                       name="arrhythmia", binary=True)


def read_arrhythmia(path) -> LabeledData:
    """Arrhythmia from a `.mat` (ODDS) or UCI `.data` file, or a folder holding one (`.mat` first)."""
    path = pathlib.Path(path)
    if path.is_dir():
        for name in ARRHYTHMIA_FILES:
            if (path / name).is_file():
                return read_arrhythmia(path / name)
        raise DataError(f"{str(path)!r} holds neither {' nor '.join(ARRHYTHMIA_FILES)}; {_ARRHYTHMIA_HINT}")
    if not path.is_file():
        raise DataError(f"data.path {str(path)!r} does not exist; {_ARRHYTHMIA_HINT}")
    if path.suffix == ".mat":
        return read_arrhythmia_mat(path)
    return read_arrhythmia_data(path)


@register_source("arrhythmia")
def load_arrhythmia_source(spec) -> LabeledData:
    """Arrhythmia (ODDS .mat or UCI .data) in `data.path`."""
    if not spec.path:
        raise DataError(f"data.source 'arrhythmia' needs data.path; {_ARRHYTHMIA_HINT}")
    return read_arrhythmia(spec.path)


# ---------------------------------------------------------------------------------------------- protocols
def _binary_labels(data: LabeledData, protocol: str) -> np.ndarray:
    labels = np.asarray(data.labels).astype(np.int64)
    if not set(np.unique(labels).tolist()) <= {0, 1}:
        raise DataError(f"protocol {protocol!r} needs 0/1 labels (1 = anomalous), as the kdd99 and arrhythmia "
                        f"sources give; {data.name or 'the data'} has classes {np.unique(labels).tolist()[:10]}")
    return labels


def _share(value, default, key):
    value = default if value is None else float(value)
    if not 0.0 < value < 1.0:
        raise DataError(f"data.{key}={value!r} must be strictly between 0 and 1")
    return value


def _carve(indices, fraction, rng, what):
    n_val = int(round(len(indices) * fraction))
    if n_val < 1 or len(indices) - n_val < 1:
        raise DataError(f"{what} of {len(indices)} rows is too small to carve a validation split of "
                        f"{fraction:.0%}; use more data or change data.validation_fraction")
    order = rng.permutation(len(indices))
    return indices[order[n_val:]], indices[order[:n_val]]


def _halves(n, spec, rng):
    order = rng.permutation(n)
    n_train = int(round(n * _share(spec.train_fraction, 0.5, "train_fraction")))
    return order[:n_train], order[n_train:]


@register_protocol("kdd99_dagmm")
def kdd99_dagmm(data: LabeledData, spec, seed: int) -> AnomalyData:
    """DAGMM/EGBAD/ALAD KDD99 protocol (PROTOCOLS §3.1): see the module docstring."""
    labels = _binary_labels(data, "kdd99_dagmm")
    rng = np.random.default_rng(seed)
    train_half, test_half = _halves(len(labels), spec, rng)
    train_idx = train_half[labels[train_half] == 0]
    train_idx, val_idx = _carve(train_idx, _share(spec.validation_fraction, 0.1, "validation_fraction"), rng,
                                "the label-0 training split")
    test_normal = test_half[labels[test_half] == 0]
    test_anomalous = test_half[labels[test_half] == 1]
    needed = int(len(test_normal) * KDD99_TEST_ANOMALY_SHARE / (1.0 - KDD99_TEST_ANOMALY_SHARE))
    whole = needed >= len(test_anomalous)
    if not whole:
        test_anomalous = rng.permutation(test_anomalous)[:needed]
    test_idx = rng.permutation(np.concatenate([test_normal, test_anomalous]))
    y_test = labels[test_idx]
    return AnomalyData(
        x_train=data.x[train_idx], x_val=data.x[val_idx], x_test=data.x[test_idx], y_test=y_test,
        y_train=labels[train_idx], y_val=labels[val_idx], contamination=KDD99_CONTAMINATION,
        info={"protocol": "kdd99_dagmm", "test_anomaly_share": float(np.mean(y_test)),
              "uses_whole_test_half": bool(whole), "train_indices": train_idx, "val_indices": val_idx,
              "test_indices": test_idx})


@register_protocol("kdd99_han")
def kdd99_han(data: LabeledData, spec, seed: int) -> AnomalyData:
    """Han et al.'s KDD99 split (GAN ensemble paper, appendix): see the module docstring."""
    labels = _binary_labels(data, "kdd99_han")
    rng = np.random.default_rng(seed)
    majority = rng.permutation(np.flatnonzero(labels == 0))
    n_train = int(round(len(majority) * _share(spec.train_fraction, 0.75, "train_fraction")))
    train_idx, val_idx = _carve(majority[:n_train], _share(spec.validation_fraction, 0.1, "validation_fraction"),
                                rng, "the label-0 training split")
    test_idx = rng.permutation(np.concatenate([majority[n_train:], np.flatnonzero(labels == 1)]))
    y_test = labels[test_idx]
    return AnomalyData(
        x_train=data.x[train_idx], x_val=data.x[val_idx], x_test=data.x[test_idx], y_test=y_test,
        y_train=labels[train_idx], y_val=labels[val_idx], contamination=float(np.mean(y_test)),
        info={"protocol": "kdd99_han", "test_anomaly_share": float(np.mean(y_test)), "train_indices": train_idx,
              "val_indices": val_idx, "test_indices": test_idx})


@register_protocol("arrhythmia_alad")
def arrhythmia_alad(data: LabeledData, spec, seed: int) -> AnomalyData:
    """ALAD's Arrhythmia protocol (PROTOCOLS §3.2): see the module docstring."""
    labels = _binary_labels(data, "arrhythmia_alad")
    rng = np.random.default_rng(seed)
    train_idx, test_idx = _halves(len(labels), spec, rng)
    train_idx, val_idx = _carve(train_idx, _share(spec.validation_fraction, 0.1, "validation_fraction"), rng,
                                "the training split")
    return AnomalyData(
        x_train=data.x[train_idx], x_val=data.x[val_idx], x_test=data.x[test_idx], y_test=labels[test_idx],
        y_train=labels[train_idx], y_val=labels[val_idx], contamination=ARRHYTHMIA_CONTAMINATION,
        info={"protocol": "arrhythmia_alad", "train_contamination": float(np.mean(labels[train_idx])),
              "train_indices": train_idx, "val_indices": val_idx, "test_indices": test_idx})
