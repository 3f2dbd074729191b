"""Data sources: name → function(spec) → LabeledData. tfds catalogs, local IDX/npz/CSV/image folders.

`digits` (scikit-learn's real handwritten digits, shipped inside the wheel) is the embedded default, so
everything runs offline. tfds sources never hang offline: a prepared `data_dir` is used with
`download=False`; an unprepared one is downloaded only when the network answers within seconds.
"""

from __future__ import annotations

import csv
import gzip
import pathlib
import pickle
import socket
import struct
import zlib

import numpy as np

from tfganad.data.base import LabeledData
from tfganad.errors import DataError
from tfganad.registry import did_you_mean

SOURCES: dict = {}


def register_source(name: str):
    """Decorator registering `fn(spec) -> LabeledData` as data source `name`."""

    def wrap(fn):
        SOURCES[name] = fn
        return fn

    return wrap


def get_source(name: str):
    """The source function called `name`; DataError listing valid names otherwise."""
    if name not in SOURCES:
        raise DataError(f"unknown data source {name!r}{did_you_mean(name, SOURCES)}; "
                        f"available: {', '.join(sorted(SOURCES))}")
    return SOURCES[name]


# ---------------------------------------------------------------------------------------------- digits
@register_source("digits")
def load_digits_source(spec) -> LabeledData:
    """scikit-learn's 1,797 real 8×8 handwritten digits (values 0–16), all pooled."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return LabeledData(x=bunch.images[..., None].astype(np.float32), labels=bunch.target.astype(np.int64),
                       value_range=(0.0, 16.0), name="digits")


load_digits_source.uses_path = False  # embedded: a data.path given with it is a mistake, rejected at load


# ---------------------------------------------------------------------------------------------- IDX
def read_idx(path) -> np.ndarray:
    """Reads an IDX file (optionally gzip-compressed); DataError when it is corrupt."""
    path = pathlib.Path(path)
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"cannot read IDX file {str(path)!r}: {exc}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{str(path)!r} is not an unsigned-byte IDX file (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{str(path)!r} is truncated (IDX header incomplete)")
    dims = struct.unpack(">" + "I" * ndim, raw[4:header])
    expected = int(np.prod(dims))
    if len(raw) - header != expected:
        raise DataError(f"{str(path)!r} is corrupt: header says {expected} values, file holds {len(raw) - header}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _find(directory: pathlib.Path, stem: str):
    for candidate in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        if (directory / candidate).is_file():
            return directory / candidate
    return None


def load_idx_dir(directory, name="idx") -> LabeledData:
    """Reads the four MNIST-style IDX files (train/t10k images and labels, .gz or raw) and pools them."""
    directory = pathlib.Path(directory)
    if not directory.is_dir():
        raise DataError(f"data.path {str(directory)!r} is not a directory")
    xs, ys, origin = [], [], []
    for split, (img, lab) in IDX_FILES.items():
        img_path, lab_path = _find(directory, img), _find(directory, lab)
        if img_path is None or lab_path is None:
            raise DataError(f"{str(directory)!r} lacks {img}[.gz] or {lab}[.gz]; it must hold the four "
                            f"IDX files train-images-idx3-ubyte, train-labels-idx1-ubyte, "
                            f"t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (.gz allowed)")
        x, y = read_idx(img_path), read_idx(lab_path)
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise DataError(f"IDX files in {str(directory)!r} disagree: images {x.shape}, labels {y.shape}")
        xs.append(x[..., None])
        ys.append(y.astype(np.int64))
        origin.append(np.full(len(y), split))
    return LabeledData(x=np.concatenate(xs), labels=np.concatenate(ys), origin=np.concatenate(origin),
                       value_range=(0.0, 255.0), name=name)


@register_source("idx")
def load_idx_source(spec) -> LabeledData:
    """Local MNIST-style IDX files in `data.path`."""
    if not spec.path:
        raise DataError("data.source 'idx' needs data.path: a directory with the four IDX files")
    return load_idx_dir(spec.path)


# ---------------------------------------------------------------------------------------------- npz
def load_npz(path, name="npz") -> LabeledData:
    """Reads arrays from .npz: keys (x, y) or Keras-style (x_train, y_train, x_test, y_test); or .npy (x only)."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise DataError(f"data.path {str(path)!r} does not exist")
    try:
        arrays = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {str(path)!r} as .npz/.npy: {exc}") from None
    if isinstance(arrays, np.ndarray):
        x, y, origin = arrays, np.zeros(len(arrays), np.int64), None
    elif "x" in arrays:
        x = arrays["x"]
        y = arrays["y"] if "y" in arrays else np.zeros(len(x), np.int64)
        origin = None
    elif "x_train" in arrays:
        parts = [("train", arrays["x_train"], arrays["y_train"])]
        if "x_test" in arrays:
            parts.append(("test", arrays["x_test"], arrays["y_test"]))
        x = np.concatenate([p[1] for p in parts])
        y = np.concatenate([np.asarray(p[2]).reshape(-1) for p in parts])
        origin = np.concatenate([np.full(len(p[1]), p[0]) for p in parts])
    else:
        raise DataError(f"{str(path)!r} must hold arrays 'x' (and 'y') or 'x_train', 'y_train'[, 'x_test', "
                        f"'y_test']; found {', '.join(arrays.files)}")
    x = np.asarray(x)
    y = np.asarray(y).reshape(-1).astype(np.int64)
    if len(x) != len(y):
        raise DataError(f"{str(path)!r}: {len(x)} samples but {len(y)} labels")
    if x.ndim == 3:
        x = x[..., None]
    kind = "image" if x.ndim == 4 else "tabular"
    vrange = (0.0, 255.0) if x.dtype == np.uint8 else (float(x.min()), float(x.max())) if kind == "image" else None
    return LabeledData(x=x, labels=y, kind=kind, value_range=vrange, origin=origin, name=name)


@register_source("npz")
def load_npz_source(spec) -> LabeledData:
    """Local .npz/.npy arrays in `data.path`."""
    if not spec.path:
        raise DataError("data.source 'npz' needs data.path: a .npz file with x and y arrays")
    return load_npz(spec.path)


# ---------------------------------------------------------------------------------------------- CSV
def load_csv(path, label_column=None, categorical_columns=None, name="csv") -> LabeledData:
    """Reads a CSV with a header: numeric feature columns, categorical ones one-hot encoded.

    The label column holds class ids or names; with `label_column` unset, all rows get label 0.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise DataError(f"data.path {str(path)!r} does not exist")
    try:
        with open(path, newline="") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"cannot read CSV {str(path)!r}: {exc}") from None
    if len(rows) < 2:
        raise DataError(f"CSV {str(path)!r} needs a header and at least one row")
    header, body = rows[0], rows[1:]
    width = len(header)
    for i, row in enumerate(body):
        if len(row) != width:
            raise DataError(f"CSV {str(path)!r} line {i + 2} has {len(row)} fields, header has {width}")
    cols = {h: [r[j] for r in body] for j, h in enumerate(header)}
    categorical = list(categorical_columns or [])
    for c in categorical + ([label_column] if label_column else []):
        if c not in cols:
            raise DataError(f"column {c!r} is not in CSV {str(path)!r}; columns: {', '.join(header)}")
    features, names, vocab = [], [], {}
    for h in header:
        if h == label_column:
            continue
        if h in categorical:
            values = vocab[h] = sorted(set(cols[h]))
            for v in values:
                features.append(np.array([1.0 if c == v else 0.0 for c in cols[h]], np.float32))
                names.append(f"{h}={v}")
            continue
        try:
            features.append(np.array([float(v) for v in cols[h]], np.float32))
        except ValueError:
            bad = next(v for v in cols[h] if not _is_float(v))
            raise DataError(f"CSV column {h!r} has non-numeric value {bad!r}; list it in "
                            f"data.categorical_columns or fix the file") from None
        names.append(h)
    x = np.stack(features, axis=1)
    if label_column:
        raw = cols[label_column]
        try:
            labels = np.array([int(float(v)) for v in raw], np.int64)
        except ValueError:
            classes = sorted(set(raw))
            labels = np.array([classes.index(v) for v in raw], np.int64)
    else:
        labels = np.zeros(len(x), np.int64)
    layout = None
    if categorical:
        columns = [h for h in header if h != label_column]
        layout = {"columns": columns, "categories": vocab, "order": columns}
    return LabeledData(x=x, labels=labels, kind="tabular", value_range=None, name=name, layout=layout)


def _is_float(v):
    try:
        float(v)
        return True
    except ValueError:
        return False


@register_source("csv")
def load_csv_source(spec) -> LabeledData:
    """Local CSV rows in `data.path` (`data.label_column`, `data.categorical_columns`)."""
    if not spec.path:
        raise DataError("data.source 'csv' needs data.path: a CSV file with a header row")
    return load_csv(spec.path, spec.label_column, spec.categorical_columns)


# ---------------------------------------------------------------------------------------------- folder
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


def load_image_folder(root, channels=None, image_size=None, name="folder") -> LabeledData:
    """Reads `root/normal/*` (label 0) and `root/anomalous/*` (label 1) images; other sub-folders are
    classes numbered in sorted order after those two."""
    import tensorflow as tf

    root = pathlib.Path(root)
    if not root.is_dir():
        raise DataError(f"data.path {str(root)!r} is not a directory")
    folders = sorted(p for p in root.iterdir() if p.is_dir())
    if not folders:
        raise DataError(f"image folder {str(root)!r} has no sub-folders; expected normal/ and anomalous/")
    order = [f for f in ("normal", "anomalous") if (root / f).is_dir()]
    order += [f.name for f in folders if f.name not in order]
    xs, ys = [], []
    for label, sub in enumerate(order):
        for file in sorted((root / sub).iterdir()):
            if file.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            try:
                img = tf.io.decode_image(tf.io.read_file(str(file)), channels=channels or 0,
                                         expand_animations=False).numpy()
            except tf.errors.InvalidArgumentError:
                raise DataError(f"cannot decode image {str(file)!r}") from None
            if image_size:
                img = tf.image.resize(img, (image_size, image_size)).numpy()
            xs.append(img)
            ys.append(label)
    if not xs:
        raise DataError(f"image folder {str(root)!r} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    shapes = {x.shape for x in xs}
    if len(shapes) > 1:
        raise DataError(f"images in {str(root)!r} have different shapes {sorted(shapes)[:3]}; set data.image_size")
    return LabeledData(x=np.stack(xs).astype(np.float32), labels=np.array(ys, np.int64),
                       value_range=(0.0, 255.0), name=name, binary=order[:2] == ["normal", "anomalous"])


@register_source("folder")
def load_folder_source(spec) -> LabeledData:
    """Local image folder in `data.path` (normal/ and anomalous/ sub-folders)."""
    if not spec.path:
        raise DataError("data.source 'folder' needs data.path: a directory with normal/ and anomalous/")
    return load_image_folder(spec.path, spec.channels, spec.image_size)


# ---------------------------------------------------------------------------------------------- tfds
TFDS_LOCAL_HINT = {
    "mnist": "the four MNIST IDX files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
             "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz)",
    "fashion_mnist": "the four Fashion-MNIST IDX files (same names as MNIST's)",
    "cifar10": "a .npz with x_train, y_train, x_test, y_test (uint8 images), or cifar-10-batches-py/",
    "svhn_cropped": "a .npz with x_train, y_train, x_test, y_test (uint8 images)",
}


def network_available(host: str = "storage.googleapis.com", port: int = 443, timeout: float = 3.0) -> bool:
    """True when `host:port` accepts a TCP connection within `timeout` seconds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def load_cifar_python(directory) -> LabeledData:
    """Reads the CIFAR-10 python batches (data_batch_1..5, test_batch)."""
    directory = pathlib.Path(directory)
    xs, ys, origin = [], [], []
    files = [(f"data_batch_{i}", "train") for i in range(1, 6)] + [("test_batch", "test")]
    for fname, split in files:
        file = directory / fname
        if not file.is_file():
            raise DataError(f"{str(directory)!r} lacks {fname}: not a cifar-10-batches-py folder")
        with open(file, "rb") as fh:
            batch = pickle.load(fh, encoding="bytes")
        xs.append(np.asarray(batch[b"data"], np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        ys.append(np.asarray(batch[b"labels"], np.int64))
        origin.append(np.full(len(ys[-1]), split))
    return LabeledData(x=np.concatenate(xs), labels=np.concatenate(ys), origin=np.concatenate(origin),
                       value_range=(0.0, 255.0), name="cifar10")


def _local_catalog(name, path) -> LabeledData:
    path = pathlib.Path(path)
    if path.is_dir() and (path / "data_batch_1").is_file():
        return load_cifar_python(path)
    if path.is_dir() and (path / "cifar-10-batches-py").is_dir():
        return load_cifar_python(path / "cifar-10-batches-py")
    if path.is_dir():
        return load_idx_dir(path, name=name)
    return load_npz(path, name=name)


def load_tfds(name: str, spec) -> LabeledData:
    """Loads a tfds catalog dataset (train+test pooled); local files when `data.path` is set."""
    if spec.path:
        return _local_catalog(name, spec.path)
    hint = (f"point the recipe at local files: --set data.path=DIR with {TFDS_LOCAL_HINT.get(name, 'local files')}"
            f" (or a prepared tfds data_dir via data.data_dir)")
    try:
        import tensorflow_datasets as tfds
    except ImportError as exc:  # pragma: no cover - tfds is a dependency
        raise DataError(f"tensorflow-datasets is not importable ({exc}); {hint}") from None
    kwargs = {"split": "train+test", "batch_size": -1, "as_supervised": True, "data_dir": spec.data_dir}
    import absl.logging

    absl.logging.set_verbosity(absl.logging.ERROR)  # tfds warns about half-prepared folders it then rejects
    try:
        # download=False first: instant when the data is prepared, and never touches the network.
        x, y = tfds.as_numpy(tfds.load(name, download=False, **kwargs))
        return LabeledData(x=x, labels=y.astype(np.int64), value_range=(0.0, 255.0), name=name)
    except Exception:  # noqa: BLE001 - tfds raises AssertionError/DatasetNotFoundError variants
        pass
    if not spec.download:
        raise DataError(f"tfds dataset {name!r} is not prepared in {spec.data_dir or '~/tensorflow_datasets'} "
                        f"and data.download is false; {hint}")
    if not network_available():
        # tfds would retry for ~205 s before failing (STACK.md Q6); fail in seconds instead.
        raise DataError(f"tfds dataset {name!r} is not available offline and cannot be downloaded (no network); "
                        f"{hint}")
    try:
        x, y = tfds.as_numpy(tfds.load(name, download=True, **kwargs))
    except Exception as exc:  # noqa: BLE001
        raise DataError(f"downloading tfds dataset {name!r} failed ({type(exc).__name__}); {hint}") from None
    return LabeledData(x=x, labels=y.astype(np.int64), value_range=(0.0, 255.0), name=name)


for _name in ("mnist", "fashion_mnist", "cifar10", "svhn_cropped"):
    register_source(_name)(lambda spec, _n=_name: load_tfds(_n, spec))
