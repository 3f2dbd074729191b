"""score_batches' cache: the same weights never score the same array twice, any weight change misses."""

import json

import numpy as np
import pytest

from tfganad.config import recipe_from_dict
from tfganad.data import load_data
from tfganad.models import EGBAD
from tfganad.training import callbacks as C
from tfganad.training.runner import run


@pytest.fixture
def counted(monkeypatch):
    """Counts the compiled score function's calls (one per batch) made through score_batches."""
    calls = {"n": 0}
    real = C._score_fn

    def counting(model):
        fn = real(model)

        def wrapped(batch):
            calls["n"] += 1
            return fn(batch)

        return wrapped

    monkeypatch.setattr(C, "_score_fn", counting)
    return calls


@pytest.fixture
def model(tiny_rows):
    m = EGBAD(**EGBAD.small_config(tiny_rows.shape[1:])).build_from_sample(tiny_rows)
    m.compile(learning_rate=1e-2, ema_momentum=0.5)
    m.fit(tiny_rows, epochs=1, batch_size=16, verbose=0)  # EMA averages now differ from the weights
    return m


def _same(a: dict, b: dict):
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def _differ(a: dict, b: dict) -> bool:
    return any(not np.array_equal(a[k], b[k]) for k in a)


def test_repeated_call_is_served_from_the_cache(model, tiny_rows, counted):
    first = C.score_batches(model, tiny_rows, 8)
    assert counted["n"] == 4
    again = C.score_batches(model, tiny_rows, 16)  # batch size is not part of the key
    assert counted["n"] == 4
    _same(first, again)
    # Calibration is applied after score_components: setting it keeps the cached scores valid.
    model.set_calibration(1.0, 2.0, 3.0)
    _same(C.score_batches(model, tiny_rows, 8), first)
    assert counted["n"] == 4
    # Callers may modify what they get without corrupting the cache.
    again[model.score_name][:] = -1.0
    _same(C.score_batches(model, tiny_rows, 8), first)
    # Another array (or the same one edited in place) is scored; cache=False always recomputes.
    C.score_batches(model, tiny_rows[:8], 8)
    assert counted["n"] == 5
    C.score_batches(model, tiny_rows, 8, cache=False)
    assert counted["n"] == 9
    edited = tiny_rows.copy()
    C.score_batches(model, edited, 8)
    assert counted["n"] == 9  # same content, same scores
    edited[0, 0] += 1.0
    C.score_batches(model, edited, 8)
    assert counted["n"] == 13


def test_every_weight_change_misses_and_gives_fresh_scores(model, tiny_rows, tmp_path, counted):
    trained = C.score_batches(model, tiny_rows)
    model.save_weights(tmp_path / "trained.weights.h5")

    def check_fresh():
        """Cached path == recomputation, and it did compute (a stale hit would not)."""
        before = counted["n"]
        got = C.score_batches(model, tiny_rows)
        assert counted["n"] == before + 1
        _same(got, C.score_batches(model, tiny_rows, cache=False))
        return got

    model.swap_ema_weights()
    ema = check_fresh()
    assert _differ(ema, trained)
    model.swap_ema_weights()  # back to the trained values: their cached scores are right again
    _same(C.score_batches(model, tiny_rows), trained)
    model.fit(tiny_rows, epochs=1, batch_size=16, verbose=0)
    stepped = check_fresh()
    assert _differ(stepped, trained)
    model.finalize_ema()
    final = check_fresh()
    assert _differ(final, stepped)
    model.load_weights(tmp_path / "trained.weights.h5")
    _same(C.score_batches(model, tiny_rows), trained)  # the saved values came back: a correct hit
    var = model.encoder.trainable_variables[0]
    var.assign(var + 1e-3)  # any direct assignment
    assert _differ(check_fresh(), trained)


def test_runner_scores_each_array_once_at_the_last_epoch(tmp_path, counted):
    raw = {
        "name": "cache", "output_dir": str(tmp_path),
        "model": {"name": "egbad", "latent_dim": 8, "filters": 4, "dense_units": 16},
        "data": {"source": "digits", "anomalous_class": 1, "image_size": 16, "max_test_samples": 100},
        "train": {"epochs": 1, "steps_per_epoch": 2, "batch_size": 16, "verbose": 0, "selection": "last"},
        "evaluation": {"batch_size": 64},
        "export": {"enabled": False, "keras_file": False},
    }
    recipe = recipe_from_dict(raw)
    n_val = len(load_data(recipe.data, recipe.seed).x_val)
    out = run(recipe, echo=lambda *_: None)
    # Test monitor (test), histograms (validation; test is a hit), then calibration (validation) and the
    # final evaluation (test) with the same weights: both hits. Without the cache: 2 + 3 + 2 + 3 + 2 calls.
    assert counted["n"] == -(-100 // 64) + -(-n_val // 64)
    summary = json.loads((tmp_path / out["run_dir"].split("/")[-1] / "metrics.json").read_text())
    assert summary["metrics"]["auroc"] == pytest.approx(summary["test_monitor"][0]["test_auroc"])
