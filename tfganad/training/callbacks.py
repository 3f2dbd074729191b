"""Callbacks: EMA swapping, test monitoring, TensorBoard image/histogram summaries, NaN guard.

Model selection itself is `keras.callbacks.ModelCheckpoint` on a key these callbacks put in `logs`.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from tfganad.training import metrics as M


def score_batches(model, x, batch_size: int = 256) -> dict:
    """All score components of `model` on `x`, batched in one compiled function → dict of arrays."""
    fn = getattr(model, "_tfganad_score_fn", None)
    if fn is None:
        fn = tf.function(lambda b: model.score_components(b, training=False), reduce_retracing=True)
        model._tfganad_score_fn = fn
    parts: dict = {}
    for start in range(0, len(x), batch_size):
        out = fn(tf.convert_to_tensor(x[start:start + batch_size]))
        for k, v in out.items():
            parts.setdefault(k, []).append(np.asarray(v, np.float64))
    return {k: np.concatenate(v) for k, v in parts.items()}


class EMAValidation(keras.callbacks.Callback):
    """Uses the EMA weights for validation and for the epoch-end callbacks (selection, checkpoints).

    Place one with `enter=True` first and one with `enter=False` last in the callback list.
    """

    def __init__(self, enter: bool):
        super().__init__()
        self.enter = enter

    def on_test_begin(self, logs=None):
        if self.enter and self.model.has_ema():
            self.model.swap_ema_weights()

    def on_test_end(self, logs=None):
        if self.enter and self.model.has_ema():
            self.model.swap_ema_weights()

    def on_epoch_end(self, epoch, logs=None):
        if self.model.has_ema():
            self.model.swap_ema_weights()


class TestMonitor(keras.callbacks.Callback):
    """Logs test AUROC/AUPRC per epoch (to TensorBoard's `test` run and to `logs` as test_auroc/auprc).

    These keys are only used for model selection when a recipe asks for it explicitly (results are
    then marked `selected_on_test`); by default they are monitoring only.
    """

    def __init__(self, x_test, y_test, log_dir=None, every: int = 1, batch_size: int = 256):
        super().__init__()
        self.x_test, self.y_test, self.every, self.batch_size = x_test, y_test, max(1, every), batch_size
        self.writer = tf.summary.create_file_writer(str(log_dir)) if log_dir else None
        self.history = []

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        # Keys are present every epoch (NaN when skipped) so CSV history columns stay fixed.
        logs.update(test_auroc=float("nan"), test_auprc=float("nan"))
        if (epoch + 1) % self.every:
            return
        scores = score_batches(self.model, self.x_test, self.batch_size)[self.model.score_name]
        if not np.all(np.isfinite(scores)):
            return
        values = {"test_auroc": M.auroc(self.y_test, scores), "test_auprc": M.auprc(self.y_test, scores)}
        logs.update(values)
        self.history.append({"epoch": epoch + 1, **values})
        if self.writer:
            with self.writer.as_default(step=epoch + 1):
                for k, v in values.items():
                    tf.summary.scalar(f"epoch_{k}", v)


class ImageSummaries(keras.callbacks.Callback):
    """TensorBoard image grids (x, G(E(x)), G(z)), score histograms and real learning rates."""

    def __init__(self, log_dir, x_samples, x_val=None, x_test=None, y_test=None, every: int = 1,
                 max_images: int = 16):
        super().__init__()
        self.writer = tf.summary.create_file_writer(str(log_dir))
        self.x = np.asarray(x_samples[:max_images], np.float32)
        self.x_val, self.x_test, self.y_test, self.every = x_val, x_test, y_test, max(1, every)

    @staticmethod
    def _to_image(batch):
        return tf.clip_by_value((tf.cast(batch, tf.float32) + 1.0) / 2.0, 0.0, 1.0)

    def on_epoch_end(self, epoch, logs=None):
        step = epoch + 1
        model = self.model
        with self.writer.as_default(step=step):
            for p, opt in model.player_optimizers.items():
                lr = opt.learning_rate
                tf.summary.scalar(f"learning_rate/{p}", float(keras.ops.convert_to_numpy(lr)))
                tf.summary.scalar(f"iterations/{p}", int(opt.iterations.numpy()))
            if step % self.every:
                return
            if model.is_image:
                n = len(self.x)
                tf.summary.image("x", self._to_image(self.x), max_outputs=n)
                rec = model.reconstruct(self.x, training=False)
                if rec is not None:
                    tf.summary.image("reconstruction", self._to_image(rec), max_outputs=n)
                gen = model.generate(model.sample_latent(n), training=False)
                if gen is not None:
                    tf.summary.image("generated", self._to_image(gen), max_outputs=n)
            if self.x_val is not None:
                val = score_batches(model, self.x_val)[model.score_name]
                if np.all(np.isfinite(val)):
                    tf.summary.histogram("scores/validation_normal", val)
            if self.x_test is not None and self.y_test is not None:
                test = score_batches(model, self.x_test)[model.score_name]
                if np.all(np.isfinite(test)):
                    tf.summary.histogram("scores/test_normal", test[self.y_test == 0])
                    tf.summary.histogram("scores/test_anomalous", test[self.y_test == 1])
        self.writer.flush()


class NaNGuard(keras.callbacks.Callback):
    """Stops training at the first non-finite loss and records which loss (network) and step."""

    def __init__(self):
        super().__init__()
        self.message = None

    def on_train_batch_end(self, batch, logs=None):
        for key, value in (logs or {}).items():
            try:
                value = float(np.asarray(value))
            except (TypeError, ValueError):
                continue
            if not math.isfinite(value):
                self.message = (f"non-finite {key} ({value}) at step {int(self.model.player_optimizers[self.model.players[0]].iterations.numpy())}"
                                f"; training stopped, the last good checkpoint is kept")
                self.model.stop_training = True
                return


class GuardedBackup(keras.callbacks.BackupAndRestore):
    """Per-epoch resume state (weights, optimizer state, epoch), never written after a NaN stop.

    Two generations are kept (`double_checkpoint`), so a kill during a write still leaves one intact.
    """

    def __init__(self, guard: NaNGuard, backup_dir: str):
        super().__init__(backup_dir, save_freq="epoch", double_checkpoint=True, delete_checkpoint=False)
        self.guard = guard

    def _save_model(self):
        if self.guard.message:
            return
        super()._save_model()
