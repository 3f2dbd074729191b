"""`Preprocessor`: reproduces the data code's model inputs from raw inputs (to 1e-6) for every kind, and
round-trips through get_config and `.keras` files."""

import gzip

import keras
import numpy as np
import pytest

from tfganad.config import DataSpec
from tfganad.data import get_source, load_data
from tfganad.preprocessing import Preprocessor, preprocessor_for


def _same(prep, raw, want):
    got = prep.transform(raw)
    assert got.shape == want.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_digits_images_scaled_and_resized_as_the_data_code():
    spec = DataSpec(source="digits", anomalous_class=0, image_size=16, max_test_samples=200)
    data = load_data(spec, 0)
    raw = get_source("digits")(spec).x  # 8x8, values 0..16
    prep = preprocessor_for(data)
    assert prep.value_range == (0.0, 16.0)
    _same(prep, raw[data.info["test_indices"]], data.x_test)


def test_uint8_npz_images_with_channel_conversion(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (60, 20, 20, 3), dtype=np.uint8)
    np.savez(tmp_path / "d.npz", x=x, y=np.arange(60) % 3)
    spec = DataSpec(source="npz", path=str(tmp_path / "d.npz"), anomalous_class=1, image_size=16, channels=1)
    data = load_data(spec, 0)
    prep = preprocessor_for(data)
    assert (prep.value_range, prep.raw_channels, data.input_shape) == ((0.0, 255.0), 3, (16, 16, 1))
    _same(prep, x[data.info["test_indices"]], data.x_test)


def _csv(path, n=80):
    rng = np.random.default_rng(0)
    lines = ["a,kind,b,colour,label"]
    for i in range(n):
        lines.append(f"{rng.normal():.4f},{rng.choice(['x', 'y', 'z'])},{rng.integers(0, 1000)},"
                     f"{rng.choice(['red', 'dark blue'])},{int(i % 5 == 0)}")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("scaling", [None, "standard", "minmax"])
def test_csv_fields_as_text_one_hot_and_scaled_as_the_data_code(tmp_path, scaling):
    path = _csv(tmp_path / "rows.csv")
    spec = DataSpec(source="csv", path=str(path), label_column="label", categorical_columns=["kind", "colour"],
                    anomalous_class=1, scaling=scaling)
    data = load_data(spec, 0)
    prep = preprocessor_for(data)
    assert prep.takes_strings and prep.columns == ["a", "kind", "b", "colour"]
    fields = np.array([line.split(",")[:-1] for line in path.read_text().splitlines()[1:]])
    _same(prep, fields[data.info["test_indices"]], data.x_test)


def test_unseen_category_is_an_all_zero_block(tmp_path):
    path = _csv(tmp_path / "rows.csv")
    spec = DataSpec(source="csv", path=str(path), label_column="label", categorical_columns=["kind", "colour"],
                    anomalous_class=1)
    prep = preprocessor_for(load_data(spec, 0))
    out = prep.transform(np.array([["1.5", "w", "7", "red"], ["1.5", "x", "7", "red"]]))
    # columns: a, kind=x, kind=y, kind=z, b, colour=dark blue, colour=red
    np.testing.assert_array_equal(out, [[1.5, 0, 0, 0, 7, 0, 1], [1.5, 1, 0, 0, 7, 0, 1]])


def test_numeric_rows_standardised_on_the_training_split(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, (120, 5)).astype(np.float32)
    x[:, 2] = 4.0  # constant: scale 1, as the data code
    np.savez(tmp_path / "rows.npz", x=x, y=(np.arange(120) % 6 == 0).astype(int))
    spec = DataSpec(source="npz", path=str(tmp_path / "rows.npz"), anomalous_class=1, scaling="standard")
    data = load_data(spec, 0)
    _same(preprocessor_for(data), x[data.info["test_indices"]], data.x_test)


def test_kdd99_raw_fields_give_the_121_column_layout(tmp_path):
    from tests.data.test_tabular import _kdd_line

    rng = np.random.default_rng(0)
    lines = [_kdd_line(rng, lab) for lab in ["normal."] * 30 + ["smurf."] * 60 + ["neptune."] * 30]
    path = tmp_path / "kddcup.data_10_percent.gz"
    with gzip.open(path, "wt") as fh:
        fh.write("\n".join(lines) + "\n")
    spec = DataSpec(source="kdd99", path=str(path), protocol="kdd99_dagmm", scaling="standard")
    data = load_data(spec, 0)
    fields = np.array([line.split(",")[:-1] for line in lines])
    _same(preprocessor_for(data), fields[data.info["test_indices"]], data.x_test)


def test_config_and_keras_file_round_trip(tmp_path, tiny_rows):
    from tfganad.models import EGBAD

    prep = Preprocessor("tabular", (3,), columns=["n", "c"], categories={"c": ["p", "q"]}, order=["c", "n"],
                        mean=[0.5, 0.5, 1.0], variance=[0.25, 0.25, 4.0])
    again = Preprocessor.from_config(prep.get_config())
    raw = np.array([["3", "q"], ["-1", "zz"]])
    np.testing.assert_allclose(again.transform(raw), prep.transform(raw))
    np.testing.assert_allclose(prep.transform(raw), [[-1, 1, 1], [-1, -1, -1]])
    model = EGBAD(**EGBAD.small_config((3,))).build_from_sample()
    model.attach_preprocessor(prep)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.preprocessor.transform(raw), prep.transform(raw))
    np.testing.assert_allclose(loaded(prep.transform(raw)), model(prep.transform(raw)), rtol=1e-6)
    # A .keras file without a Preprocessor (written before it existed) loads as before.
    plain = EGBAD(**EGBAD.small_config((3,))).build_from_sample()
    plain.save(tmp_path / "plain.keras")
    assert getattr(keras.models.load_model(tmp_path / "plain.keras"), "preprocessor", None) is None


@pytest.mark.parametrize("scaling", ["standard", "minmax"])
def test_fit_rows_on_training_rows_equals_scale_rows(tiny_rows, scaling):
    from tfganad.data import AnomalyData, scale_rows

    split = AnomalyData(x_train=tiny_rows[:20].copy(), x_val=tiny_rows[20:24].copy(), x_test=tiny_rows[24:].copy(),
                        y_test=np.zeros(8))
    prep = Preprocessor.fit_rows(tiny_rows[:20], scaling)
    _same(prep, tiny_rows[24:], scale_rows(split, scaling).x_test)
