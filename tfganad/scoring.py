"""Scoring files with an exported SavedModel (used by `tfganad-score`): a thin client of the export.

Files are read, not preprocessed: their raw values go to the SavedModel's `serving_default`, whose
graph holds the fitted preprocessing (`tfganad.preprocessing.Preprocessor`). Readers: `.npy`, `.npz`
(`x`/`y` or `x_train`/…), `.csv` (a header; for an export of data with categorical columns every field
is sent as text, the columns picked by name), an IDX folder, and an image folder (`normal/`,
`anomalous/`, other class folders; images of any size, scored in groups of one size).

An export from before raw-input serving (no `serve_preprocessed` signature) takes preprocessed model
inputs: only `.npy`/`.npz` arrays of such inputs are scored with it.
"""

from __future__ import annotations

import json
import pathlib

import numpy as np

from tfganad.errors import DataError, ExportError


def _resolve_version(path: pathlib.Path) -> pathlib.Path:
    if (path / "saved_model.pb").is_file():
        return path
    if path.is_dir():
        versions = sorted((p for p in path.glob("*") if p.name.isdigit() and (p / "saved_model.pb").is_file()),
                          key=lambda p: int(p.name))
        if versions:
            return versions[-1]
    raise ExportError(f"{str(path)!r} is not a SavedModel (no saved_model.pb in it or in a version folder)")


def _want(spec) -> str:
    """The sample shape a signature takes, e.g. (N, 16, 16, 1) or (N, H, W, 1) for any image size."""
    shape = list(spec.shape)[1:]
    names = ["H", "W"] if len(shape) == 3 else ["any"] * len(shape)
    return f"(N, {', '.join(str(d) if d is not None else names[i] for i, d in enumerate(shape))})"


def load_inputs_for_export(saved_model, inputs):
    """Loads the export and reads INPUT raw → (groups: list of arrays for serving_default, labels|None, loaded)."""
    import tensorflow as tf

    version_dir = _resolve_version(pathlib.Path(saved_model))
    loaded = tf.saved_model.load(str(version_dir))
    prep_file = version_dir / "assets.extra" / "preprocessing.json"
    prep = json.loads(prep_file.read_text()) if prep_file.is_file() else {}
    spec = loaded.signatures["serving_default"].structured_input_signature[1]["x"]
    raw_serving = "serve_preprocessed" in loaded.signatures
    path = pathlib.Path(inputs)
    if not path.exists():
        raise DataError(f"input {str(path)!r} does not exist")
    if path.suffix in (".npy", ".npz"):
        x, labels = _read_arrays(path, spec)
        return [_check_array(x, spec, path)], labels, loaded
    if not raw_serving:
        raise DataError(f"{str(version_dir)!r} was exported before raw-input serving: its serving_default takes "
                        f"preprocessed model inputs {_want(spec)}; score such inputs saved as .npy, or train again "
                        f"to get an export that takes raw files")
    if path.suffix == ".csv":
        x, labels = _read_csv(path, spec, prep)
        return [_check_array(x, spec, path)], labels, loaded
    if path.is_dir() and any(path.glob("*idx3-ubyte*")):
        from tfganad.data.sources import load_idx_dir

        data = load_idx_dir(path)
        return [_check_array(data.x, spec, path)], data.labels, loaded
    if path.is_dir():
        groups, labels = _read_image_folder(path, spec)
        return [_check_array(g, spec, path) for g in groups], labels, loaded
    raise DataError(f"cannot read input {str(path)!r}: use .npy, .npz, .csv, an IDX folder or an image folder")


def _read_arrays(path, spec):
    if path.suffix == ".npy":
        try:
            return np.load(path, allow_pickle=False), None
        except (OSError, ValueError) as exc:
            reason = "it holds Python objects" if "allow_pickle" in str(exc) else str(exc).split("\n")[0]
            raise DataError(f"cannot read {str(path)!r} as a numeric .npy array ({reason}); save a float or "
                            f"uint8 array of shape {_want(spec)}") from None
    from tfganad.data.sources import load_npz

    data = load_npz(path)
    return data.x, data.labels


def _read_csv(path, spec, prep):
    """CSV rows → fields as text (an export of data with categorical columns) or float rows, + labels."""
    import csv

    try:
        with open(path, newline="") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"cannot read CSV {str(path)!r}: {exc}") from None
    if len(rows) < 1 or (len(rows) < 2 and not prep.get("columns")):
        raise DataError(f"CSV {str(path)!r} needs a header and at least one row")
    header, body, first = rows[0], rows[1:], 2
    columns = prep.get("columns")
    if columns and not set(columns) & set(header) and len(header) in (len(columns), len(columns) + 1):
        # No header (the KDD99 file): fields in the export's column order, a last extra one is the label.
        header, body, first = list(columns) + (["(label)"] if len(header) > len(columns) else []), rows, 1
    for i, row in enumerate(body):
        if len(row) != len(header):
            raise DataError(f"CSV {str(path)!r} line {i + first} has {len(row)} fields, expected {len(header)}")
    label = prep.get("label_column")
    labels = None
    if label and label in header:
        raw = [r[header.index(label)] for r in body]
        try:
            labels = np.array([int(float(v)) for v in raw], np.int64)
        except ValueError:
            classes = sorted(set(raw))
            labels = np.array([classes.index(v) for v in raw], np.int64)
    columns = columns or [h for h in header if h != label]
    missing = [c for c in columns if c not in header]
    if missing:
        raise DataError(f"CSV {str(path)!r} lacks column {missing[0]!r}; this export takes the columns "
                        f"{', '.join(columns)}")
    fields = np.array([[r[header.index(c)] for c in columns] for r in body], dtype=str)
    if spec.dtype.name == "string":
        return fields, labels
    for j, name in enumerate(columns):
        for value in fields[:, j]:
            try:
                float(value)
            except ValueError:
                cats = ", ".join(prep.get("categorical_columns") or []) or "none"
                raise DataError(f"CSV column {name!r} has non-numeric value {value!r}; this export takes numeric "
                                f"columns only (its categorical columns: {cats})") from None
    return fields.astype(np.float64), labels


def _read_image_folder(root, spec):
    """Images under root/<class>/ (normal/ = 0, anomalous/ = 1, others after) → groups of one size, labels."""
    import tensorflow as tf

    from tfganad.data.sources import IMAGE_SUFFIXES

    folders = sorted(p for p in root.iterdir() if p.is_dir())
    if not folders:
        raise DataError(f"image folder {str(root)!r} has no sub-folders; expected normal/ and anomalous/")
    order = [f for f in ("normal", "anomalous") if (root / f).is_dir()]
    order += [f.name for f in folders if f.name not in order]
    channels = spec.shape[-1]
    groups, labels = [], []
    for label, sub in enumerate(order):
        for file in sorted((root / sub).iterdir()):
            if file.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            try:
                img = tf.io.decode_image(tf.io.read_file(str(file)), channels=channels or 0,
                                         expand_animations=False).numpy()
            except tf.errors.InvalidArgumentError:
                raise DataError(f"cannot decode image {str(file)!r}") from None
            if groups and groups[-1][0].shape == img.shape:
                groups[-1].append(img)
            else:
                groups.append([img])
            labels.append(label)
    if not labels:
        raise DataError(f"image folder {str(root)!r} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    return [np.stack(g) for g in groups], np.asarray(labels, np.int64)


def _check_array(x, spec, path) -> np.ndarray:
    """A non-empty array of samples `spec` accepts (None dims free); DataError naming what is wrong otherwise."""
    x = np.asarray(x)
    want = _want(spec)
    strings = spec.dtype.name == "string"
    if strings and x.dtype.kind in "US":
        pass
    elif x.dtype.kind not in "biuf":
        kind = "an array of text fields" if strings else "a float array"
        raise DataError(f"input {str(path)!r} has dtype {x.dtype}, not numbers; the model takes {kind} {want}")
    if x.ndim == 0 or len(x) == 0:
        raise DataError(f"input {str(path)!r} holds no samples (shape {x.shape}); the model takes {want} with N >= 1")
    shape = list(spec.shape)[1:]
    if x.ndim == 3 and len(shape) == 3 and shape[-1] == 1:
        x = x[..., None]  # (N, H, W) grayscale images
    if x.ndim != len(shape) + 1 or any(s is not None and s != d for s, d in zip(shape, x.shape[1:])):
        raise DataError(f"input {str(path)!r} has samples of shape {tuple(x.shape[1:])}; the model takes {want}")
    return x.astype(str) if strings else x.astype(np.float32)


def score_with_export(loaded, groups, batch_size: int = 256) -> dict:
    """Runs `serving_default` over the arrays of `groups` (or one array) in batches → dict of numpy arrays."""
    import tensorflow as tf

    if isinstance(groups, np.ndarray):
        groups = [groups]
    sig = loaded.signatures["serving_default"]
    parts: dict = {}
    done = 0
    for x in groups:
        for start in range(0, len(x), batch_size):
            chunk = x[start:start + batch_size]
            try:
                out = sig(x=tf.constant(chunk))
            except tf.errors.InvalidArgumentError as exc:  # e.g. a CSV field that is not a number
                msg = (exc.message or str(exc)).strip().splitlines()[0]
                raise DataError(f"the SavedModel rejected samples {done}..{done + len(chunk) - 1} of the input: "
                                f"{msg}") from None
            done += len(chunk)
            for k, v in out.items():
                parts.setdefault(k, []).append(v.numpy())
    return {k: np.concatenate(v) for k, v in parts.items()}


__all__ = ["load_inputs_for_export", "score_with_export"]
