"""Callbacks: EMA swapping, epoch scalars, test monitoring, TensorBoard image/histogram summaries, NaN guard; cached scoring.

Model selection itself is `BestCheckpoint` (a `keras.callbacks.ModelCheckpoint`) on a key in `logs`.
"""

from __future__ import annotations

import collections
import hashlib
import json
import math
import os
import pathlib
import weakref
from typing import Optional

import keras
import numpy as np
import tensorflow as tf

from tfganad.training import metrics as M

#: Weights that never enter `score_components` (the calibration is applied after it).
_CALIBRATION_WEIGHTS = ("score_offset", "score_scale", "threshold")
#: Results kept per model: a run scores the validation and the test arrays with the same weights.
_CACHE_SIZE = 4
_SCORE_CACHE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def weights_fingerprint(model) -> str:
    """Digest of the values of every model weight that scores depend on.

    Content-based, so it changes with any training step, `load_weights`, EMA swap or `finalize_ema`,
    and comes back when the same values come back. The calibration weights and the noise seed's state
    (not a weight) are left out: neither changes `score_components`.
    """
    skip = {id(getattr(model, name, None)) for name in _CALIBRATION_WEIGHTS}
    digest = hashlib.blake2b(digest_size=16)
    for v in model.weights:
        if id(v) in skip:
            continue
        value = np.ascontiguousarray(keras.ops.convert_to_numpy(v))
        digest.update(f"{v.path}:{value.dtype}:{value.shape};".encode())
        digest.update(memoryview(value).cast("B"))
    return digest.hexdigest()


def _array_fingerprint(x: np.ndarray) -> str:
    """Digest of an input array's shape, dtype and bytes (an in-place edit changes it)."""
    x = np.ascontiguousarray(x)
    digest = hashlib.sha1(f"{x.dtype}:{x.shape};".encode())
    digest.update(memoryview(x).cast("B"))
    return digest.hexdigest()


def _score_fn(model):
    fn = getattr(model, "_tfganad_score_fn", None)
    if fn is None:
        fn = tf.function(lambda b: model.score_components(b, training=False), reduce_retracing=True)
        model._tfganad_score_fn = fn
    return fn


def score_batches(model, x, batch_size: int = 256, cache: bool = True) -> dict:
    """All score components of `model` on `x`, batched in one compiled function → dict of arrays.

    The same weights never score the same array twice: results are cached per model, keyed by a
    digest of `x` and of the model's current weights (`weights_fingerprint`), so the test monitor,
    the score histograms and the final evaluation share one latent search at the last epoch. Any
    change of the weights (a training step, `load_weights`, an EMA swap) is a miss. For a score with
    random draws a hit returns the earlier draw.

    Args:
        model: an `AdversarialDetector`.
        x: samples, (N, ...) array.
        batch_size: samples per compiled call (scores do not depend on it).
        cache: False always recomputes (e.g. to time scoring).
    Returns:
        {component: float64 array of shape (N,)}; the caller may modify it.
    """
    key = None
    if cache and isinstance(x, np.ndarray):
        key = (_array_fingerprint(x), weights_fingerprint(model))
        entries = _SCORE_CACHE.get(model)
        if entries is not None and key in entries:
            entries.move_to_end(key)
            return {k: v.copy() for k, v in entries[key].items()}
    fn = _score_fn(model)
    parts: dict = {}
    for start in range(0, len(x), batch_size):
        out = fn(tf.convert_to_tensor(x[start:start + batch_size]))
        for k, v in out.items():
            parts.setdefault(k, []).append(np.asarray(v, np.float64))
    result = {k: np.concatenate(v) for k, v in parts.items()}
    if key is not None:
        entries = _SCORE_CACHE.setdefault(model, collections.OrderedDict())
        entries[key] = {k: v.copy() for k, v in result.items()}
        while len(entries) > _CACHE_SIZE:
            entries.popitem(last=False)
    return result


class EMAValidation(keras.callbacks.Callback):
    """Uses the EMA weights for validation and for the epoch-end callbacks (selection, checkpoints).

    Place one with `enter=True` first and its `exit_twin()` last in the callback list.

    Args:
        enter: True for the callback that swaps the averages in, False for the one that swaps back.
        when: optional `when(epoch, logs) -> bool`: the epochs whose epoch-end callbacks read the weights
            (an evaluation, a checkpoint, a backup). Other epochs skip both swaps: two compiled calls
            that are a few % of a small MLP's epoch (Arrhythmia: 6 steps). Default: every epoch.
    """

    def __init__(self, enter: bool, when=None):
        super().__init__()
        self.enter = enter
        self.when = when
        self._swapped = False
        self._entry = self  # the `enter=True` callback of the pair: it records whether it swapped

    def exit_twin(self) -> "EMAValidation":
        """The `enter=False` callback that undoes exactly the epoch-end swaps of this one."""
        twin = EMAValidation(enter=False, when=self.when)
        twin._entry = self
        return twin

    def on_test_begin(self, logs=None):
        if self.enter and self.model.has_ema():
            self.model.swap_ema_weights()

    def on_test_end(self, logs=None):
        if self.enter and self.model.has_ema():
            self.model.swap_ema_weights()

    def on_epoch_end(self, epoch, logs=None):
        if not self.model.has_ema():
            return
        if self.enter:
            self._swapped = self.when is None or bool(self.when(epoch, logs or {}))
            if self._swapped:
                self.model.swap_ema_weights()
        elif self._entry is self or self._entry._swapped:
            # An unpaired exit callback (no `exit_twin`) swaps every epoch, as its entry does.
            self.model.swap_ema_weights()
            self._entry._swapped = False


def noise_states(model) -> list:
    """The state variables of every `keras.random.SeedGenerator` of `model` (its noise streams)."""
    weights = {id(v) for v in model.weights}
    return [v for v in model.variables if id(v) not in weights and v.path.endswith("seed_generator_state")]


class PreserveNoise(keras.callbacks.Callback):
    """Validation leaves the model's noise streams where it found them.

    `test_step` computes the losses, which draw latent codes from the model's seed stream; without
    this, how often a run validates (`train.validation_every`) would change the noise of every later
    training step, and so the trained model.
    """

    def __init__(self):
        super().__init__()
        self._saved = []

    def on_test_begin(self, logs=None):
        self._saved = [(v, keras.ops.convert_to_numpy(v)) for v in noise_states(self.model)]

    def on_test_end(self, logs=None):
        for v, value in self._saved:
            v.assign(value)
        self._saved = []


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
        if (epoch + 1) % self.every:
            # Keys are present every epoch (NaN when skipped) so CSV history columns stay fixed.
            add_placeholders(self.model, logs, ("test_auroc", "test_auprc"))
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
    """TensorBoard image grids (x, G(E(x)), anomaly-map overlays, G(z)) and score histograms, every `every` epochs.

    The per-epoch scalars (losses, learning rates) are `EpochScalars`'.
    """

    def __init__(self, log_dir, x_samples, x_val=None, x_test=None, y_test=None, every: int = 1,
                 max_images: int = 16, batch_size: int = 256):
        super().__init__()
        self.writer = tf.summary.create_file_writer(str(log_dir))
        self.x = np.asarray(x_samples[:max_images], np.float32)
        self.x_val, self.x_test, self.y_test, self.every = x_val, x_test, y_test, max(1, every)
        self.batch_size = batch_size

    @staticmethod
    def _to_image(batch):
        return tf.clip_by_value((tf.cast(batch, tf.float32) + 1.0) / 2.0, 0.0, 1.0)

    def on_epoch_end(self, epoch, logs=None):
        step = epoch + 1
        model = self.model
        if step % self.every:
            return
        with self.writer.as_default(step=step):
            if model.is_image:
                n = len(self.x)
                tf.summary.image("x", self._to_image(self.x), max_outputs=n)
                rec = model.reconstruct(self.x, training=False)
                if rec is not None:
                    tf.summary.image("reconstruction", self._to_image(rec), max_outputs=n)
                from tfganad.training.maps import heatmap_overlay, map_batches

                amap = map_batches(model, self.x, self.batch_size)  # traced once: a latent search is a loop
                if amap is not None:
                    tf.summary.image("anomaly_map", heatmap_overlay(self.x, amap), max_outputs=n)
                gen = model.generate(model.sample_latent(n), training=False)
                if gen is not None:
                    tf.summary.image("generated", self._to_image(gen), max_outputs=n)
            if self.x_val is not None:
                val = score_batches(model, self.x_val, self.batch_size)[model.score_name]
                if np.all(np.isfinite(val)):
                    tf.summary.histogram("scores/validation_normal", val)
            if self.x_test is not None and self.y_test is not None:
                test = score_batches(model, self.x_test, self.batch_size)[model.score_name]
                if np.all(np.isfinite(test)):
                    tf.summary.histogram("scores/test_normal", test[self.y_test == 0])
                    tf.summary.histogram("scores/test_anomalous", test[self.y_test == 1])
        self.writer.flush()


class EpochScalars(keras.callbacks.Callback):
    """Per-epoch TensorBoard scalars in one compiled call: Keras `TensorBoard(update_freq="epoch")`'s layout.

    Losses and metrics go to the `train` run, `val_*` keys to `validation` (as `epoch_<key>`), and each
    player's real learning rate and iteration count to `train` (`learning_rate/<player>`,
    `iterations/<player>`). Keras's callback writes each scalar with its own eager ops (and visits every
    key again after each compiled call): about 5 ms an epoch, a tenth of a 6-step Arrhythmia epoch.
    NaN placeholders of epochs that did not validate or evaluate are not written.
    """

    def __init__(self, log_dir):
        super().__init__()
        log_dir = pathlib.Path(log_dir)
        self.writers = {run: tf.summary.create_file_writer(str(log_dir / run)) for run in ("train", "validation")}
        self._functions: dict = {}

    def _writer_for(self, keys: tuple, players: tuple):
        fn = self._functions.get((keys, players))
        if fn is None:
            writers = self.writers
            optimizers = [self.model.player_optimizers[p] for p in players]

            def write(step, values):
                for i, key in enumerate(keys):
                    run, name = ("validation", key[4:]) if key.startswith("val_") else ("train", key)
                    with writers[run].as_default(step=step):
                        tf.summary.scalar(f"epoch_{name}", values[i])
                with writers["train"].as_default(step=step):
                    for p, opt in zip(players, optimizers):
                        tf.summary.scalar(f"learning_rate/{p}", tf.cast(opt.learning_rate, tf.float32))
                        tf.summary.scalar(f"iterations/{p}", tf.cast(opt.iterations, tf.float32))

            fn = self._functions[(keys, players)] = tf.function(write, autograph=False)
        return fn

    def on_epoch_end(self, epoch, logs=None):
        placeholders = getattr(self.model, "_tfganad_placeholders", None) or ()
        items = []
        for key, value in (logs or {}).items():
            if key in placeholders:
                continue
            try:
                items.append((key, float(np.asarray(value))))
            except (TypeError, ValueError):
                continue
        players = tuple(getattr(self.model, "player_optimizers", {}) or ())
        keys = tuple(k for k, _ in items)
        self._writer_for(keys, players)(tf.constant(epoch + 1, tf.int64),
                                        tf.constant([v for _, v in items] or [0.0], tf.float32))

    def on_train_end(self, logs=None):
        for writer in self.writers.values():
            writer.flush()


class BestCheckpoint(keras.callbacks.ModelCheckpoint):
    """`ModelCheckpoint(save_best_only=True)` that skips epochs whose monitored value is missing or NaN.

    Keras 3 saves an epoch whose logs lack the monitored key, and takes the first value as the best
    even when it is NaN, after which no value compares better: a run whose first epoch did not
    validate (or diverged) would keep that epoch's weights for good.
    """

    def _save_model(self, epoch, batch, logs):
        # Written aside and renamed: a kill or a full disk never leaves a half-written best file.
        final = self.filepath
        tmp = str(pathlib.Path(final).with_name(f".{pathlib.Path(final).name}.partial.weights.h5"))
        self.filepath = tmp
        try:
            super()._save_model(epoch, batch, logs)
        finally:
            self.filepath = final
            if os.path.exists(tmp):
                os.replace(tmp, final)

    def _should_save_model(self, epoch, batch, logs, filepath):
        if self.save_best_only:
            current = (logs or {}).get(self.monitor)
            try:
                finite = current is not None and math.isfinite(float(current))
            except (TypeError, ValueError):
                finite = False
            if not finite:
                return False
        saves = super()._should_save_model(epoch, batch, logs, filepath)
        if saves:  # GuardedBackup backs this epoch up too, so a resume never starts behind the best file
            self.model._tfganad_best_saved_epoch = epoch + 1
        return saves


def validation_epochs(epochs: int, every: int) -> list:
    """1-based epochs that validate (Keras `validation_freq`): every `every`-th one and always the last."""
    every = max(1, int(every))
    return sorted({e for e in range(every, epochs + 1, every)} | ({epochs} if epochs >= 1 else set()))


def add_placeholders(model, logs: dict, keys) -> None:
    """Sets each missing key of `keys` in `logs` to NaN and remembers it, for `ValidationPlaceholders`."""
    if getattr(model, "_tfganad_placeholders", None) is None:
        model._tfganad_placeholders = set()
    added = model._tfganad_placeholders  # read back: a Keras model stores a tracked copy of a set
    for key in keys:
        if key not in logs:
            logs[key] = float("nan")
            added.add(key)


class ValidationPlaceholders(keras.callbacks.Callback):
    """NaN for every `val_*` key of an epoch that did not validate; the `enter=False` twin removes them.

    With `validation_freq` > 1 the logs of such epochs have no `val_*` keys, and `CSVLogger` would fix
    its columns without them when the first epoch does not validate. NaN reads back as a missing
    value; `BestCheckpoint` never keeps such an epoch. Place `enter=True` after TensorBoard (which
    would plot the NaNs) and before the checkpoint and CSVLogger, and `enter=False` last: it removes
    these placeholders (and `TestMonitor`'s) again, so the progress line shows only measured values.
    """

    def __init__(self, enter: bool = True):
        super().__init__()
        self.enter = enter

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        if not self.enter:
            for key in getattr(self.model, "_tfganad_placeholders", ()):
                logs.pop(key, None)
            self.model._tfganad_placeholders = set()
            return
        if any(k.startswith("val_") for k in logs):
            return
        add_placeholders(self.model, logs, [f"val_{metric.name}" for metric in self.model.metrics])


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
    """Resume state (weights, optimizer state, epoch) every `every` epochs, never written after a NaN stop.

    Besides every `every`-th epoch it backs up the last epoch and any epoch whose weights
    `BestCheckpoint` just saved, so a resumed run never starts before its best checkpoint. Two
    generations are kept (`double_checkpoint`), so a kill during a write still leaves one intact.
    """

    def __init__(self, guard: NaNGuard, backup_dir: str, every: int = 1, last_epoch: Optional[int] = None):
        super().__init__(backup_dir, save_freq="epoch", double_checkpoint=True, delete_checkpoint=False)
        self.guard, self.every, self.last_epoch = guard, max(1, int(every)), last_epoch

    def on_epoch_end(self, epoch, logs=None):
        done = epoch + 1
        self._current_epoch, self._last_batch_seen = done, 0
        if (done % self.every == 0 or done == self.last_epoch
                or getattr(self.model, "_tfganad_best_saved_epoch", None) == done):
            self._save_model()

    def _save_model(self):
        """Writes `state-<epoch>.weights.h5` aside, then the metadata naming it (atomic renames both), then
        drops all but the previous generation: a kill at any point leaves one consistent backup."""
        if self.guard.message:
            return
        from tfganad.training.io import atomic_path, atomic_write_json, fault_point

        backup = pathlib.Path(self.backup_dir)
        backup.mkdir(parents=True, exist_ok=True)
        name = f"state-{self._current_epoch}.weights.h5"
        atomic_path(backup / name, lambda tmp: self.model.save_weights(str(tmp)), suffix=".weights.h5")
        fault_point("backup", self._current_epoch)
        previous = _backup_weights(backup)
        atomic_write_json(backup / "training_metadata.json",
                          {"epoch": self._current_epoch, "batch": 0, "weights": name})
        for old in backup.glob("state-*.weights.h5"):
            if old.name not in (name, previous):
                old.unlink(missing_ok=True)

    def _load_model(self):
        backup = pathlib.Path(self.backup_dir)
        name = _backup_weights(backup)
        if name is None:  # none yet, or written by an earlier version (Keras's own layout)
            return super()._load_model()
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        self.model.load_weights(str(backup / name))
        self.model._initial_epoch = backed_up_epoch(backup)


def _backup_weights(backup: pathlib.Path):
    """The weights file the committed backup metadata names (None when there is none)."""
    try:
        name = json.loads((backup / "training_metadata.json").read_text()).get("weights")
    except (OSError, ValueError, AttributeError):
        return None
    return name if name and (backup / name).is_file() else None


def backed_up_epoch(backup_dir) -> int:
    """Epochs completed at the last backup in `backup_dir` (0 when there is none)."""
    path = pathlib.Path(backup_dir) / "training_metadata.json"
    try:
        return int(json.loads(path.read_text())["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0
