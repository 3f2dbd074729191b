"""tfganad.training.callbacks: selection, EMA validation, resume backups, placeholders, noise streams."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfganad.models import EGBAD
from tfganad.training.callbacks import (
    BestCheckpoint,
    EMAValidation,
    GuardedBackup,
    NaNGuard,
    PreserveNoise,
    ValidationPlaceholders,
    backed_up_epoch,
    noise_states,
    validation_epochs,
)


def _values(variables):
    return [np.array(v.numpy()) for v in variables]


def _same(a, b) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a, b))


def test_validation_epochs_every_nth_and_the_last():
    assert validation_epochs(3, 1) == [1, 2, 3]
    assert validation_epochs(20, 5) == [5, 10, 15, 20]
    assert validation_epochs(7, 3) == [3, 6, 7]
    assert validation_epochs(3, 10) == [3]


def test_checkpoint_never_keeps_an_epoch_without_a_finite_value(tmp_path):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    path = tmp_path / "best.weights.h5"
    ckpt = BestCheckpoint(str(path), monitor="val_score", mode="min", save_best_only=True, save_weights_only=True)
    ckpt.set_model(model)
    ckpt.on_train_begin()
    kernel = model.layers[0].kernel
    # Keras' own ModelCheckpoint keeps epoch 0 here (a missing key saves, a first NaN becomes "best").
    for epoch, logs in enumerate([{}, {"val_score": float("nan")}, {"val_score": 3.0}, {"val_score": 2.0},
                                  {"val_score": float("nan")}, {"val_score": 2.5}]):
        kernel.assign(np.full((2, 1), float(epoch), np.float32))
        ckpt.on_epoch_end(epoch, logs)
    model.load_weights(str(path))
    np.testing.assert_array_equal(kernel.numpy(), 3.0)
    assert [p.name for p in tmp_path.iterdir()] == ["best.weights.h5"]  # written aside, renamed: no partial


def test_checkpoint_ignores_a_nan_epoch_after_a_best_one(tmp_path):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    path = tmp_path / "best.weights.h5"
    ckpt = BestCheckpoint(str(path), monitor="val_auroc", mode="max", save_best_only=True, save_weights_only=True)
    ckpt.set_model(model)
    ckpt.on_train_begin()
    kernel = model.layers[0].kernel
    for epoch, value in enumerate([0.6, float("nan"), 0.7, float("inf"), 0.65]):
        kernel.assign(np.full((2, 1), float(epoch), np.float32))
        ckpt.on_epoch_end(epoch, {"val_auroc": value})
    model.load_weights(str(path))
    np.testing.assert_array_equal(kernel.numpy(), 2.0)  # the 0.7 epoch; NaN and inf never count as better
    assert model._tfganad_best_saved_epoch == 3


@pytest.fixture
def ema_model(tiny_rows):
    model = EGBAD(**EGBAD.small_config(tiny_rows.shape[1:]))
    model.compile(learning_rate=1e-2, ema_momentum=0.5, run_eagerly=True)
    model.fit(tiny_rows, epochs=1, batch_size=8, verbose=0)
    return model


def test_ema_validation_validates_on_the_averages_and_restores_the_raw_weights(ema_model):
    variables = ema_model.trainable_variables
    raw = _values(variables)
    with ema_model.ema_weights():
        ema = _values(variables)
    assert not _same(raw, ema)
    enter, leave = EMAValidation(enter=True), EMAValidation(enter=False)
    for cb in (enter, leave):
        cb.set_model(ema_model)
    enter.on_test_begin()
    assert _same(_values(variables), ema)  # validation scores the averages
    leave.on_test_begin()
    leave.on_test_end()  # only the first callback swaps around validation
    assert _same(_values(variables), ema)
    enter.on_test_end()
    assert _same(_values(variables), raw)
    enter.on_epoch_end(0, {})  # selection and checkpoints (between the two callbacks) see the averages
    assert _same(_values(variables), ema)
    leave.on_epoch_end(0, {})  # training goes on from the raw weights, bit for bit
    assert _same(_values(variables), raw)


def test_ema_validation_without_ema_changes_nothing(tiny_rows):
    model = EGBAD(**EGBAD.small_config(tiny_rows.shape[1:]))
    model.compile(learning_rate=1e-2)
    model.build_from_sample(tiny_rows)
    assert not model.has_ema()
    before = _values(model.trainable_variables)
    cb = EMAValidation(enter=True)
    cb.set_model(model)
    cb.on_test_begin()
    cb.on_epoch_end(0, {})
    assert _same(_values(model.trainable_variables), before)


def test_preserve_noise_restores_the_seed_streams_after_validation(tiny_rows):
    model = EGBAD(**EGBAD.small_config(tiny_rows.shape[1:]))
    cb = PreserveNoise()
    cb.set_model(model)
    before = _values(noise_states(model))
    assert before
    cb.on_test_begin()
    model.sample_latent(4)  # validation's losses draw latent codes
    assert not _same(_values(noise_states(model)), before)
    cb.on_test_end()
    assert _same(_values(noise_states(model)), before)


def test_backup_every_n_epochs_also_backs_up_the_last_and_each_new_best(tmp_path):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    backup = GuardedBackup(NaNGuard(), str(tmp_path / "backup"), every=3, last_epoch=7)
    backup.set_model(model)
    saved = []
    for epoch in range(7):
        if epoch == 4:  # BestCheckpoint saved epoch 5
            model._tfganad_best_saved_epoch = 5
        backup.on_epoch_end(epoch)
        saved.append(backed_up_epoch(tmp_path / "backup"))
    assert saved == [0, 0, 3, 3, 5, 6, 7]
    # two generations kept, so a kill while writing the newest still leaves the previous one
    assert sorted(p.name for p in (tmp_path / "backup").glob("state-*")) == ["state-6.weights.h5",
                                                                             "state-7.weights.h5"]
    assert backed_up_epoch(tmp_path / "nothing") == 0


def test_backup_is_never_written_after_a_nan_stop(tmp_path):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    guard = NaNGuard()
    backup = GuardedBackup(guard, str(tmp_path / "backup"), every=1)
    backup.set_model(model)
    backup.on_epoch_end(0)
    assert backed_up_epoch(tmp_path / "backup") == 1
    guard.message = "non-finite d_loss (nan) at step 3"  # what NaNGuard sets when it stops training
    backup.on_epoch_end(1)
    assert backed_up_epoch(tmp_path / "backup") == 1


def test_placeholders_reach_the_csv_but_not_the_progress_line():
    from tfganad.training.callbacks import TestMonitor  # imported here: pytest would collect a Test* name

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(loss="mse")
    model.fit(np.zeros((2, 2)), np.zeros((2, 1)), verbose=0)  # builds the loss metric
    model.score_name = "score"
    fill, monitor, drop = ValidationPlaceholders(), TestMonitor(None, None, every=2), ValidationPlaceholders(enter=False)
    for cb in (fill, monitor, drop):
        cb.set_model(model)
    logs = {"loss": 1.0}
    fill.on_epoch_end(0, logs)
    monitor.on_epoch_end(0, logs)  # epoch 1 of every 2: skipped
    seen_by_csv = dict(logs)
    drop.on_epoch_end(0, logs)
    assert np.isnan(seen_by_csv["val_loss"]) and np.isnan(seen_by_csv["test_auroc"])
    assert logs == {"loss": 1.0}
    # A measured value is never a placeholder, even when it is NaN (a diverged validation).
    logs = {"loss": 1.0, "val_loss": float("nan")}
    fill.on_epoch_end(2, logs)
    drop.on_epoch_end(2, logs)
    assert set(logs) == {"loss", "val_loss"}


def test_ema_validation_swaps_only_on_epochs_whose_callbacks_read_the_weights(ema_model):
    variables = ema_model.trainable_variables
    raw = _values(variables)
    with ema_model.ema_weights():
        ema = _values(variables)
    enter = EMAValidation(enter=True, when=lambda epoch, logs: (epoch + 1) % 2 == 0 or "val_score" in logs)
    leave = enter.exit_twin()
    for cb in (enter, leave):
        cb.set_model(ema_model)
    seen = []
    for epoch, logs in ((0, {}), (1, {}), (2, {"val_score": 1.0}), (4, {})):
        enter.on_epoch_end(epoch, logs)
        seen.append(_same(_values(variables), ema))
        leave.on_epoch_end(epoch, logs)
        assert _same(_values(variables), raw)  # training always goes on from the raw weights
    assert seen == [False, True, True, False]


def test_epoch_scalars_write_keras_tensorboard_layout_in_one_call_without_placeholders(ema_model, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from tfganad.training.callbacks import EpochScalars, add_placeholders

    cb = EpochScalars(tmp_path)
    cb.set_model(ema_model)
    logs = {"d_loss": 0.5, "g_loss": np.float32(1.5), "val_score": 2.0}
    cb.on_epoch_end(0, dict(logs))
    later = {"d_loss": 0.25, "g_loss": 1.0}
    add_placeholders(ema_model, later, ["val_score", "test_auroc"])
    cb.on_epoch_end(1, later)
    cb.on_train_end()

    def scalars(run):
        acc = EventAccumulator(str(tmp_path / run), size_guidance={"tensors": 0})
        acc.Reload()
        return {tag: [(e.step, float(tf.make_ndarray(e.tensor_proto))) for e in acc.Tensors(tag)]
                for tag in acc.Tags()["tensors"]}

    train, val = scalars("train"), scalars("validation")
    assert train["epoch_d_loss"] == [(1, 0.5), (2, 0.25)]
    assert train["epoch_g_loss"] == [(1, 1.5), (2, 1.0)]
    assert val == {"epoch_score": [(1, 2.0)]}  # the NaN placeholder of epoch 2 is not written
    assert "epoch_test_auroc" not in train
    for p in ema_model.players:
        assert train[f"iterations/{p}"][-1] == (2, float(ema_model.player_optimizers[p].iterations.numpy()))
        assert f"learning_rate/{p}" in train
