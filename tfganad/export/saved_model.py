"""Export of a detector's scoring function as a SavedModel in TF-Serving layout (`<name>/<version>/`).

The `serving_default` signature takes `x` and returns `anomaly_score`, `normalized_score` and
`is_anomaly` (1 = anomalous, against the fitted threshold). When the model carries its fitted
`Preprocessor` (every model trained by `tfganad-train` or the `Detector`), `x` is RAW input:

* images: float32 (batch, H, W, C) raw pixel values (e.g. uint8 0–255 cast to float32, or the range
  the model was fitted on), any H and W (resized in the graph), C fixed;
* numeric table rows: float32 (batch, features), unscaled;
* CSV rows with categorical columns: string (batch, columns), every field of a row as text, in the
  training file's column order without the label column (numbers parsed, categories one-hot encoded
  in the graph).

`serve_preprocessed` then takes already-preprocessed model inputs (the old `serving_default`) and
`preprocess` returns them from raw input; a model without a Preprocessor (a `.keras` file from before
it existed) has only `serving_default` on preprocessed inputs. Extra endpoints `reconstruct`,
`anomaly_map` (x → `anomaly_map`, (batch, H, W), the model's `anomaly_map(x)`) and `generate` take
preprocessed inputs and are added when the model has them. Loading needs only TensorFlow:
`tf.saved_model.load(path).signatures["serving_default"](x=...)`.
"""

from __future__ import annotations

import pathlib

import keras
import numpy as np
import tensorflow as tf

from tfganad.errors import ExportError


def export_saved_model(model, export_dir, name: str = "detector", version: int = 1,
                       before_publish=None) -> pathlib.Path:
    """Writes `export_dir/name/version/` and returns that path; refuses to overwrite an existing one.

    The SavedModel is written to a hidden sibling folder and renamed into place when complete (after
    `before_publish(tmp_path)`, e.g. writing assets.extra), so a kill never leaves a partial version.
    """
    if int(version) < 1:
        raise ExportError(f"export version {version!r} is not allowed; allowed: an integer >= 1 (TF Serving layout)")
    path = pathlib.Path(export_dir) / name / str(int(version))
    if path.exists():
        raise ExportError(f"export path {str(path)!r} already exists; choose another version or directory")
    model.build_from_sample()
    spec = tf.TensorSpec((None, *model.input_shape_), tf.float32, name="x")
    archive = keras.export.ExportArchive()
    archive.track(model)
    prep = getattr(model, "preprocessor", None)
    if prep is not None:
        # Raw inputs in: the fitted preprocessing runs in the graph, then the NaN/inf-flagging serve.
        # A NaN or inf raw value stays non-finite through Rescaling/Resizing/Normalization (and a
        # "nan" CSV field parses to NaN), so such a sample is still flagged, never scored as normal.
        archive.add_endpoint(name="serve", fn=lambda x: model.serve(prep(x)), input_signature=[prep.raw_spec()])
        archive.add_endpoint(name="serve_preprocessed", fn=lambda x: model.serve(x), input_signature=[spec])
        archive.add_endpoint(name="preprocess", fn=lambda x: {"x": prep(x)}, input_signature=[prep.raw_spec()])
    else:
        archive.add_endpoint(name="serve", fn=lambda x: model.serve(x), input_signature=[spec])
    probe = np.zeros((1, *model.input_shape_), np.float32)
    if model.reconstruct(probe) is not None:
        archive.add_endpoint(
            name="reconstruct", fn=lambda x: {"reconstruction": model.reconstruct(x, training=False)},
            input_signature=[spec])
    if model.is_image:
        # Traced, not run: a latent-search map (ADGAN) would run its whole search eagerly on the probe.
        map_fn = tf.function(lambda x: {"anomaly_map": model.anomaly_map(x, training=False)}, input_signature=[spec],
                             autograph=False)
        if map_fn.get_concrete_function().structured_outputs["anomaly_map"] is not None:
            archive.add_endpoint(name="anomaly_map", fn=map_fn)
    if model.generate(np.zeros((1, model.latent_dim), np.float32)) is not None:
        zspec = tf.TensorSpec((None, model.latent_dim), tf.float32, name="z")
        archive.add_endpoint(
            name="generate", fn=lambda z: {"images": model.generate(z, training=False)}, input_signature=[zspec])
    from tfganad.training.io import atomic_path

    def write(tmp):
        archive.write_out(str(tmp), verbose=False)
        if before_publish is not None:
            before_publish(tmp)

    return atomic_path(path, write)


def load_scorer(path):
    """Loads an exported SavedModel; ExportError when `path` is not one."""
    path = pathlib.Path(path)
    if not (path / "saved_model.pb").is_file():
        # Accept the TF-Serving parent folder and pick its highest version.
        versions = sorted((p for p in path.glob("*") if p.name.isdigit() and (p / "saved_model.pb").is_file()),
                          key=lambda p: int(p.name)) if path.is_dir() else []
        if not versions:
            raise ExportError(f"{str(path)!r} is not a SavedModel (no saved_model.pb in it or in a version folder)")
        path = versions[-1]
    return tf.saved_model.load(str(path))


def write_preprocessing(path, data_spec, data) -> pathlib.Path:
    """Records how raw inputs become model inputs, in `assets.extra/preprocessing.json` of the export.

    `tfganad-score` reads it to score raw files; TF Serving ignores `assets.extra`.
    """
    import json

    layout = ((getattr(data, "info", None) or {}).get("preprocessing") or {}).get("layout") or {}
    info = {
        "kind": "image" if len(data.input_shape) == 3 else "tabular",
        "input_shape": list(data.input_shape),
        "source": data_spec.source,
        "image_size": data_spec.image_size,
        "channels": data_spec.channels,
        "scaling": data_spec.scaling,
        "label_column": data_spec.label_column,
        "categorical_columns": data_spec.categorical_columns,
        # The raw fields serving_default takes, in order (data with categorical columns); None: arrays.
        "columns": layout.get("columns"),
    }
    out = pathlib.Path(path) / "assets.extra" / "preprocessing.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(info, indent=2))
    return out
