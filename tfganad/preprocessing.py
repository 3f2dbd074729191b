"""`Preprocessor`: raw inputs → model inputs, fitted once and carried inside `.keras` files and SavedModels.

Built on Keras preprocessing layers, so the exported graph applies it and serving clients send raw data:

* images: `Rescaling` maps the raw value range (e.g. uint8 0–255, digits 0–16) to [-1, 1], the range of
  the generators' tanh outputs; a channel conversion (1 ↔ 3, as `data.channels` does) follows, then
  `Resizing` (bilinear) brings an image of any height and width to the model's size. Values outside the
  fitted range are not clipped: they are evidence of an anomaly.
* table rows: numeric rows (N, F), or the raw fields of CSV rows as strings (N, columns) when the data
  has categorical columns: each categorical column is one-hot encoded with `StringLookup` +
  `CategoryEncoding` over the vocabulary of the data source (a category outside it gives an all-zero
  block), numeric fields are parsed; then `Normalization` applies the `data.scaling` fitted on the
  training split (z-scores, or min-max as a Normalization with mean = min and std = max − min).

The fitted statistics live in the layer's config (Normalization with given mean and variance, lookups
with given vocabularies), so `get_config` round-trips it and a `.keras` file holds it whole.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf


@keras.saving.register_keras_serializable(package="tfganad")
class Preprocessor(keras.layers.Layer):
    """Raw samples → model inputs (see the module docstring).

    Args:
        kind: "image" or "tabular".
        output_shape: shape of one model input, e.g. (16, 16, 1) or (121,).
        value_range: images: (low, high) of raw values, mapped to [-1, 1].
        raw_channels: images: channel count of raw inputs (converted to output_shape[-1]).
        columns: tabular CSV data with categorical columns: raw column names in input order; None for
            numeric rows.
        categories: {column: vocabulary} of the categorical columns (one-hot columns in this order).
        order: output column order (names of `columns`); default `columns`.
        mean, variance: per-feature scaling of the encoded rows (Normalization); None for no scaling.
    """

    def __init__(self, kind: str, output_shape, value_range=None, raw_channels=None, columns=None,
                 categories=None, order=None, mean=None, variance=None, **kwargs):
        kwargs.setdefault("dtype", "float32")  # never the mixed policy: inputs are raw values
        super().__init__(**kwargs)
        if kind not in ("image", "tabular"):
            raise ValueError(f"Preprocessor kind must be 'image' or 'tabular', got {kind!r}")
        self.kind = kind
        self.output_shape_ = tuple(int(v) for v in output_shape)
        self.value_range = None if value_range is None else tuple(float(v) for v in value_range)
        self.raw_channels = None if raw_channels is None else int(raw_channels)
        self.columns = None if columns is None else [str(c) for c in columns]
        self.categories = {str(k): [str(v) for v in vals] for k, vals in (categories or {}).items()}
        self.order = [str(c) for c in (order or self.columns or [])]
        self.mean = None if mean is None else np.asarray(mean, np.float32).tolist()
        self.variance = None if variance is None else np.asarray(variance, np.float32).tolist()
        if kind == "image":
            low, high = self.value_range or (-1.0, 1.0)
            span = (high - low) or 1.0
            self.raw_channels = self.raw_channels or self.output_shape_[-1]
            self.rescale = keras.layers.Rescaling(2.0 / span, offset=-2.0 * low / span - 1.0, dtype="float32")
            self.resize = keras.layers.Resizing(self.output_shape_[0], self.output_shape_[1],
                                                interpolation="bilinear", dtype="float32")
        else:
            self.lookups, self.encoders = {}, {}
            for name, vocab in self.categories.items():
                # One OOV slot (index 0), dropped after encoding: an unseen category is an all-zero block.
                self.lookups[name] = keras.layers.StringLookup(vocabulary=vocab, num_oov_indices=1,
                                                               output_mode="int", name=f"lookup_{_safe(name)}")
                self.encoders[name] = keras.layers.CategoryEncoding(len(vocab) + 1, output_mode="one_hot",
                                                                    dtype="float32", name=f"onehot_{_safe(name)}")
            self.normalize = None
            if self.mean is not None:
                self.normalize = keras.layers.Normalization(mean=self.mean, variance=self.variance,
                                                            dtype="float32")
                # Built now, eagerly: built inside a traced function, its constants would belong to that graph.
                self.normalize.build((None, *self.output_shape_))

    # ------------------------------------------------------------------ fitting ---------------------
    @classmethod
    def for_images(cls, output_shape, value_range, raw_channels=None) -> "Preprocessor":
        """Images whose raw values span `value_range` (low, high), resized to `output_shape`."""
        return cls("image", output_shape, value_range=value_range, raw_channels=raw_channels)

    @classmethod
    def fit_rows(cls, x_train, scaling=None, layout=None) -> "Preprocessor":
        """Fits `scaling` (None | none | minmax | standard) on the encoded training rows `x_train`.

        Args:
            x_train: (N, F) training rows as the model sees them before scaling.
            layout: {"columns", "categories", "order"} of raw CSV data with categorical columns.
        """
        x_train = np.asarray(x_train, np.float32)
        mean = variance = None
        stats = row_scaling(x_train, scaling)
        if stats is not None:
            mean, std = stats
            variance = np.square(std.astype(np.float64))
        layout = layout or {}
        return cls("tabular", x_train.shape[1:], columns=layout.get("columns"), categories=layout.get("categories"),
                   order=layout.get("order"), mean=mean, variance=variance)

    @property
    def takes_strings(self) -> bool:
        """True when raw inputs are CSV fields as strings (data with categorical columns)."""
        return self.kind == "tabular" and self.columns is not None

    def raw_spec(self) -> tf.TensorSpec:
        """Signature of raw inputs: images (N, H, W, C) any H, W; rows (N, F) float32 or (N, columns) strings."""
        if self.kind == "image":
            return tf.TensorSpec((None, None, None, self.raw_channels), tf.float32, name="x")
        if self.takes_strings:
            return tf.TensorSpec((None, len(self.columns)), tf.string, name="x")
        return tf.TensorSpec((None, *self.output_shape_), tf.float32, name="x")

    # ------------------------------------------------------------------ transform -------------------
    def build(self, input_shape=None):
        # Sub-layers hold only constants from the config; they build on their first call.
        self.built = True

    def call(self, x):
        if self.kind == "image":
            return self._images(x)
        return self._rows(x)

    def _images(self, x):
        x = tf.cast(x, tf.float32)
        if x.shape.rank == 3:
            x = x[..., None]
        x = self.rescale(x)
        channels = self.output_shape_[-1]
        if self.raw_channels != channels:
            if self.raw_channels == 3 and channels == 1:
                x = tf.reduce_mean(x, axis=-1, keepdims=True)
            elif self.raw_channels == 1 and channels == 3:
                x = tf.repeat(x, 3, axis=-1)
            else:
                raise ValueError(f"cannot convert {self.raw_channels} channels to {channels}")
        return self.resize(x)

    def _rows(self, x):
        if self.takes_strings:
            x = tf.convert_to_tensor(x)
            blocks = []
            for name in self.order:
                field = x[:, self.columns.index(name)]
                if name in self.categories:
                    # Matched as written (the CSV reader keeps spaces in categories; so does the vocabulary).
                    blocks.append(self.encoders[name](self.lookups[name](field))[:, 1:])
                else:
                    blocks.append(tf.strings.to_number(tf.strings.strip(field), tf.float32)[:, None])
            x = tf.concat(blocks, axis=1)
        else:
            x = tf.cast(x, tf.float32)
        if self.normalize is not None:
            x = self.normalize(x)
        return x

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.output_shape_)

    def get_config(self):
        config = super().get_config()
        config.update(kind=self.kind, output_shape=list(self.output_shape_),
                      value_range=None if self.value_range is None else list(self.value_range),
                      raw_channels=self.raw_channels, columns=self.columns, categories=self.categories,
                      order=self.order or None, mean=self.mean, variance=self.variance)
        return config

    def transform(self, x, batch: int = 4096) -> np.ndarray:
        """Eager transform of a NumPy batch in chunks → float32 array (what the model is fed)."""
        out = [np.asarray(self(x[start:start + batch])) for start in range(0, len(x), batch)]
        return np.concatenate(out).astype(np.float32) if out else np.zeros((0, *self.output_shape_), np.float32)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "_-." else "_" for c in name)


def row_scaling(x_train, scaling):
    """(offset, scale) of `data.scaling` on the training rows, as float32 arrays; None for no scaling.

    `minmax`: offset = min, scale = max − min; `standard`: mean and std. A constant feature gets scale 1.
    """
    if scaling in (None, "none"):
        return None
    if scaling == "minmax":
        low, high = x_train.min(0), x_train.max(0)
        return low.astype(np.float32), np.where(high - low > 0, high - low, 1.0).astype(np.float32)
    if scaling == "standard":
        mean, std = x_train.mean(0), x_train.std(0)
        return mean.astype(np.float32), np.where(std > 0, std, 1.0).astype(np.float32)
    raise ValueError(f"unknown scaling {scaling!r}")


def preprocessor_for(data) -> Preprocessor:
    """The fitted Preprocessor of an `AnomalyData` from `tfganad.data.load_data` (its `info["preprocessing"]`)."""
    info = data.info.get("preprocessing")
    if info is None:
        raise ValueError("this AnomalyData records no preprocessing (not made by tfganad.data.load_data)")
    if info["kind"] == "image":
        return Preprocessor.for_images(data.input_shape, info["value_range"], info["raw_channels"])
    stats = info.get("scaling_stats")
    mean = variance = None
    if stats is not None:
        mean = np.asarray(stats[0], np.float32)
        variance = np.square(np.asarray(stats[1], np.float64))
    layout = info.get("layout") or {}
    return Preprocessor("tabular", data.input_shape, columns=layout.get("columns"),
                        categories=layout.get("categories"), order=layout.get("order"), mean=mean, variance=variance)


__all__ = ["Preprocessor", "preprocessor_for", "row_scaling"]
