"""Scoring files with an exported SavedModel (used by `tfganad-score`)."""

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


def load_inputs_for_export(saved_model, inputs):
    """Loads the export and INPUT, preprocessed as recorded at training time → (x, labels|None, loaded)."""
    import tensorflow as tf

    from tfganad.data import prepare_images, prepare_rows
    from tfganad.data.sources import load_csv, load_idx_dir, load_image_folder, load_npz

    version_dir = _resolve_version(pathlib.Path(saved_model))
    loaded = tf.saved_model.load(str(version_dir))
    prep_file = version_dir / "assets.extra" / "preprocessing.json"
    prep = json.loads(prep_file.read_text()) if prep_file.is_file() else {}
    sig = loaded.signatures["serving_default"]
    shape = list(sig.structured_input_signature[1]["x"].shape)[1:]
    path = pathlib.Path(inputs)
    if not path.exists():
        raise DataError(f"input {str(path)!r} does not exist")
    labels = None
    if path.suffix == ".npy":
        try:
            x = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            reason = "it holds Python objects" if "allow_pickle" in str(exc) else str(exc).split("\n")[0]
            raise DataError(f"cannot read {str(path)!r} as a numeric .npy array ({reason}); save a float or "
                            f"uint8 array of shape (N, {', '.join(map(str, shape))})") from None
        return _check_array(x, shape, path), None, loaded
    if path.suffix == ".npz":
        data = load_npz(path)
        if data.kind == "image" and data.x.dtype != np.uint8:
            # float image arrays are taken as already preprocessed model inputs
            return _check_array(data.x, shape, path), data.labels, loaded
    elif path.suffix == ".csv":
        try:
            data = load_csv(path, prep.get("label_column"), prep.get("categorical_columns"))
        except DataError as exc:
            if "data.categorical_columns" not in str(exc):
                raise
            # tfganad-score has no option for recipe keys: say what this export accepts instead.
            raise DataError(str(exc).split("; list it in")[0] + "; this export takes numeric columns only (its "
                            f"categorical columns: {', '.join(prep.get('categorical_columns') or []) or 'none'}); "
                            "score rows preprocessed as in training, saved as .npy") from None
    elif path.is_dir() and any(path.glob("*idx3-ubyte*")):
        data = load_idx_dir(path)
    elif path.is_dir():
        data = load_image_folder(path, shape[-1] if len(shape) == 3 else None, shape[0] if len(shape) == 3 else None)
    else:
        raise DataError(f"cannot read input {str(path)!r}: use .npy, .npz, .csv, an IDX folder or an image folder")
    labels = data.labels
    if data.kind == "image":
        data = prepare_images(data, shape[0], shape[-1])
    else:
        data = prepare_rows(data)
    return _check_array(data.x, shape, path), labels, loaded


def _check_array(x, shape, path) -> np.ndarray:
    """A non-empty numeric float32 array of samples of `shape`; DataError naming what is wrong otherwise."""
    x = np.asarray(x)
    want = f"(N, {', '.join(map(str, shape))})"
    if x.dtype.kind not in "biuf":
        raise DataError(f"input {str(path)!r} has dtype {x.dtype}, not numbers; the model takes a float array {want}")
    if x.ndim == 0 or len(x) == 0:
        raise DataError(f"input {str(path)!r} holds no samples (shape {x.shape}); the model takes {want} with N >= 1")
    if list(x.shape[1:]) != list(shape):
        raise DataError(f"input {str(path)!r} has samples of shape {tuple(x.shape[1:])}; the model takes {want}")
    return x.astype(np.float32)


def score_with_export(loaded, x, batch_size: int = 256) -> dict:
    """Runs `serving_default` over `x` in batches → dict of numpy arrays."""
    import tensorflow as tf

    sig = loaded.signatures["serving_default"]
    parts: dict = {}
    for start in range(0, len(x), batch_size):
        out = sig(x=tf.constant(x[start:start + batch_size], tf.float32))
        for k, v in out.items():
            parts.setdefault(k, []).append(v.numpy())
    return {k: np.concatenate(v) for k, v in parts.items()}


__all__ = ["load_inputs_for_export", "score_with_export"]
