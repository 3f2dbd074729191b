"""Contract every registered model must meet (runs for each model in the registry automatically).

For each model and each input kind it supports: one train_step updates every player's variables and
nothing else, scores have shape (batch,) and are finite and invariant to batch size/composition,
`.keras` save/load and SavedModel export round trips give equal scores, get_config round trips.
"""

from __future__ import annotations

import subprocess
import sys

import keras
import numpy as np
import pytest

import tfganad
from tfganad.export import export_saved_model

MODELS = tfganad.available_models()


def _inputs_for(cls, tiny_images, tiny_rows):
    kinds = getattr(cls, "input_kinds", ("image", "tabular"))
    out = []
    if "image" in kinds:
        out.append(("image", tiny_images))
    if "tabular" in kinds:
        out.append(("tabular", tiny_rows))
    return out


def _cases():
    return [(name, kind) for name in MODELS
            for kind in getattr(tfganad.get_model_class(name), "input_kinds", ("image", "tabular"))]


@pytest.fixture
def build(tiny_images, tiny_rows):
    def make(name, kind):
        cls = tfganad.get_model_class(name)
        x = tiny_images if kind == "image" else tiny_rows
        model = cls(**cls.small_config(x.shape[1:]))
        model.compile(run_eagerly=True, learning_rate=1e-3)
        return model, x
    return make


@pytest.mark.parametrize("name,kind", _cases())
def test_one_train_step_updates_every_player(build, name, kind):
    model, x = build(name, kind)
    before = {p: [v.numpy().copy() for v in model.player_variables(p)] for p in model.players}
    # Statistics that training legitimately updates: BN moving moments, SpectralNorm's
    # power-iteration vector, optimizer counters and the noise seed.
    legit = ("moving", "iteration", "seed", "vector_u")
    other = [v for v in model.non_trainable_variables if not any(k in v.path for k in legit)]
    other_before = [v.numpy().copy() for v in other]
    model.fit(x[:8], epochs=1, batch_size=8, verbose=0)
    for p in model.players:
        changed = [not np.array_equal(a, v.numpy()) for a, v in zip(before[p], model.player_variables(p))]
        assert all(changed), f"{name}: player {p} left {changed.count(False)} variables unchanged"
    for v, b in zip(other, other_before):
        assert np.array_equal(v.numpy(), b), f"{name}: non-trainable {v.path} changed"


@pytest.mark.parametrize("name,kind", _cases())
def test_scores_shape_finite_and_batch_invariant(build, name, kind):
    model, x = build(name, kind)
    model.fit(x[:8], epochs=1, batch_size=8, verbose=0)
    full = model.predict(x, batch_size=32, verbose=0)
    assert full.shape == (len(x),) and np.all(np.isfinite(full))
    small = model.predict(x, batch_size=3, verbose=0)
    np.testing.assert_allclose(full, small, rtol=1e-4, atol=1e-4)
    alone = model.predict(x[5:6], verbose=0)
    np.testing.assert_allclose(alone, full[5:6], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name,kind", _cases())
def test_keras_save_load_round_trip(build, name, kind, tmp_path):
    model, x = build(name, kind)
    model.fit(x[:8], epochs=1, batch_size=8, verbose=0)
    model.set_calibration(1.0, 2.0, 3.0)
    model.build_from_sample(x)
    scores = model.predict(x, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), scores, rtol=1e-5, atol=1e-5)
    assert float(loaded.threshold.numpy()) == 3.0
    for p in model.players:
        assert int(getattr(loaded, f"{p}_optimizer").iterations.numpy()) == int(
            getattr(model, f"{p}_optimizer").iterations.numpy())
    again = type(model).from_config(model.get_config())
    assert again.get_config() == model.get_config()


@pytest.mark.parametrize("name,kind", _cases())
def test_export_round_trip_without_tfganad(build, name, kind, tmp_path):
    model, x = build(name, kind)
    model.fit(x[:8], epochs=1, batch_size=8, verbose=0)
    model.set_calibration(0.0, 1.0, float(np.median(model.predict(x, verbose=0))))
    path = export_saved_model(model, tmp_path / "export", name=name)
    np.save(tmp_path / "x.npy", x)
    code = (
        "import sys, numpy as np, tensorflow as tf\n"
        f"a = tf.saved_model.load({str(path)!r})\n"
        f"o = a.signatures['serving_default'](x=tf.constant(np.load({str(tmp_path / 'x.npy')!r})))\n"
        f"np.save({str(tmp_path / 'out.npy')!r}, o['anomaly_score'].numpy())\n"
        f"np.save({str(tmp_path / 'lab.npy')!r}, o['is_anomaly'].numpy())\n"
        "assert 'tfganad' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    expected = model.predict(x, verbose=0)
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(np.load(tmp_path / "lab.npy"), (expected > float(model.threshold.numpy())))
