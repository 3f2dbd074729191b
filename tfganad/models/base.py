"""`AdversarialDetector`: the one training loop of tfganad, driven by `keras.Model.fit`.

Subclasses supply hooks and never write their own `train_step`:

* `players` (class attribute): names of the networks' owners, one optimizer each (e.g. d, g, e);
* `player_networks()`: player → list of sub-networks whose trainable variables it updates;
* `compute_losses(x, training)`: dict with one `<player>_loss` scalar per player (plus extra scalars
  to log), all from one forward pass;
* `update_schedule()`: which players step, how often (e.g. n_critic discriminator steps first);
* optionally `phase_active(players)` (gate a phase on training progress) and `after_update(players,
  losses)` (graph code after a step, e.g. re-initialising a collapsed discriminator);
* `score_components(x)`: dict of per-sample scores; `anomaly_score(x)` picks the configured one;
* optionally `reconstruct(x)` and `generate(z)` for image grids and localisation, and `anomaly_maps(x)`
  where a model's maps differ from the default residual |x − reconstruct(x)|.

The model also carries its fitted score calibration (normaliser offset/scale and decision threshold)
as non-trainable weights, so `.keras` files and SavedModels serve the same numbers.
"""

from __future__ import annotations

import contextlib

import keras
import numpy as np
import tensorflow as tf

from tfganad.data.pipeline import eval_dataset
from tfganad.errors import ConfigError
from tfganad.scores.maps import residual_map


def _unpack_x(data):
    """Inputs of a batch: `x`, `(x,)` or `(x, y[, w])` → x (labels are never used for training)."""
    if isinstance(data, (tuple, list)):
        return data[0]
    if isinstance(data, dict):
        return data["x"]
    return data


class AdversarialDetector(keras.Model):
    """Base class of every GAN anomaly detector; see the module docstring for the hooks.

    Args:
        input_shape: shape of one sample, e.g. (28, 28, 1) for images or (121,) for table rows.
        latent_dim: size of the latent code z.
        seed: seed of the model's noise stream (`keras.random.SeedGenerator`).
    """

    players: tuple = ("d", "g")
    #: extra scalars that `compute_losses` returns and that are tracked like the losses
    extra_metrics: tuple = ()
    #: attribute names of the discriminator-side networks (D, critic, ...); a GAN ensemble pairs the
    #: generator side of one member with these networks of another
    adversary_attributes: tuple = ()
    #: score components that never run the discriminator side: an ensemble averages them over its
    #: generators only (the same mean as over all pairs, J times cheaper)
    adversary_free_scores: tuple = ()

    def __init__(self, input_shape=(28, 28, 1), latent_dim: int = 100, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        # === Config ===
        if input_shape is None or len(tuple(input_shape)) not in (1, 3):
            raise ConfigError(
                f"input_shape must be (features,) or (height, width, channels), got {input_shape!r}"
            )
        self.input_shape_ = tuple(int(v) for v in input_shape)
        self.latent_dim = int(latent_dim)
        self.seed = int(seed)
        self.is_image = len(self.input_shape_) == 3
        # === State ===
        self.seed_generator = keras.random.SeedGenerator(self.seed, name="noise_seed")
        self._trackers = {
            name: keras.metrics.Mean(name=name)
            for name in [f"{p}_loss" for p in self.players] + list(self.extra_metrics)
        }
        self._score_tracker = keras.metrics.Mean(name="score")
        self.score_offset = self.add_weight(shape=(), initializer="zeros", trainable=False, name="score_offset")
        self.score_scale = self.add_weight(shape=(), initializer="ones", trainable=False, name="score_scale")
        self.threshold = self.add_weight(
            shape=(), initializer=keras.initializers.Constant(np.inf), trainable=False, name="threshold"
        )
        self.player_optimizers = {}
        # Players of the update in progress (None outside one); plain attribute, not tracked state.
        object.__setattr__(self, "_stepping", None)

    # ------------------------------------------------------------------ hooks (override) -----------
    def player_networks(self) -> dict:
        """Player name → list of sub-networks that player's optimizer updates."""
        raise NotImplementedError

    def compute_losses(self, x, training: bool) -> dict:
        """One forward pass → {'<player>_loss': scalar, ...extra scalars}."""
        raise NotImplementedError

    def update_schedule(self) -> list:
        """List of (players, repeats): e.g. [(("d",), 5), (("g",), 1)] for WGAN's n_critic = 5."""
        return [(self.players, 1)]

    def phase_active(self, players):
        """True when `players` step in this phase of the schedule; or a boolean tensor, to gate a phase
        on training progress (f-AnoGAN's two stages)."""
        return True

    def after_update(self, players, losses: dict):
        """Runs in the graph after `players` stepped (e.g. re-initialising a collapsed D); no-op here."""

    def stepping(self, player: str) -> bool:
        """True when `player` steps in the current update (always, outside one): `compute_losses` may
        skip losses nobody differentiates."""
        return self._stepping is None or player in self._stepping

    def score_components(self, x, training: bool = False) -> dict:
        """Named per-sample scores of a batch, shape (batch,) each, higher = more anomalous."""
        raise NotImplementedError

    score_name = "score"

    def reconstruct(self, x, training: bool = False):
        """Reconstruction of x used for image grids; None when the model has none."""
        return None

    def generate(self, z, training: bool = False):
        """Sample from the generator for latent codes z; None when the model has none."""
        return None

    #: the `anomaly_maps` entry that `anomaly_map` returns (and the SavedModel serves)
    map_name = "residual"

    def anomaly_maps(self, x, training: bool = False) -> dict:
        """Named per-pixel anomaly maps of an image batch, (batch, H, W) each; higher = more anomalous.

        Default: `residual` = mean over channels of |x − reconstruct(x)| (`tfganad.scores.maps`), the
        residual map of every model that reconstructs (G(E(x)), or G(z_Γ) after a latent search).
        {} for table rows and for models without a reconstruction.
        """
        if not self.is_image:
            return {}
        x = tf.cast(tf.convert_to_tensor(x), tf.float32)
        x_hat = self.reconstruct(x, training=training)
        if x_hat is None:
            return {}
        return {"residual": residual_map(x, x_hat)}

    def anomaly_map(self, x, training: bool = False):
        """The model's anomaly map `map_name`, (batch, H, W) float32; None when it has none."""
        return self.anomaly_maps(x, training=training).get(self.map_name)

    @classmethod
    def small_config(cls, input_shape) -> dict:
        """Constructor arguments of a tiny instance (fast tests, smoke runs); override per model."""
        return {"input_shape": list(input_shape), "latent_dim": 8}

    # ------------------------------------------------------------------ public API ----------------
    def get_config(self):
        return {"input_shape": list(self.input_shape_), "latent_dim": self.latent_dim, "seed": self.seed}

    def player_variables(self, player: str) -> list:
        """Trainable variables updated by `player`'s optimizer."""
        out = []
        for net in self.player_networks()[player]:
            out.extend(net.trainable_variables)
        return out

    def sample_latent(self, batch_size):
        """Standard-normal latent codes, different on every replica of a distributed run."""
        seed = self.seed_generator.next()
        ctx = tf.distribute.get_replica_context()
        if ctx is not None:
            # SeedGenerator yields the same seed on every replica (STACK.md Q7): fold in the replica id.
            rid = tf.cast(ctx.replica_id_in_sync_group, seed.dtype)
            seed = seed + tf.stack([rid * 1000003, tf.zeros_like(rid)])
        return tf.random.stateless_normal((batch_size, self.latent_dim), seed=seed)

    def anomaly_score(self, x, training: bool = False):
        """Raw per-sample anomaly score (batch,), float32; higher = more anomalous."""
        return self.score_components(x, training=training)[self.score_name]

    def normalized_score(self, raw):
        """Applies the fitted normaliser (offset/scale from normal validation scores)."""
        return (tf.cast(raw, tf.float32) - self.score_offset) / self.score_scale

    def call(self, x, training=False):
        return self.anomaly_score(x, training=training)

    def serve(self, x):
        """Scores, normalised scores and labels (1 = anomalous) against the fitted threshold.

        A sample holding any NaN or inf is flagged, never scored as normal: anomaly_score +inf,
        normalized_score 1, is_anomaly 1. It is zeroed before scoring so it cannot touch the others.
        """
        x = tf.convert_to_tensor(x)
        finite = tf.reduce_all(tf.math.is_finite(tf.reshape(tf.cast(x, tf.float32), [tf.shape(x)[0], -1])), axis=1)
        mask = tf.reshape(finite, tf.concat([tf.shape(finite), tf.ones([tf.rank(x) - 1], tf.int32)], 0))
        raw = self.anomaly_score(tf.where(mask, x, tf.zeros_like(x)), training=False)
        raw = tf.where(finite, tf.cast(raw, tf.float32), tf.constant(np.inf, tf.float32))
        return {
            "anomaly_score": raw,
            "normalized_score": tf.where(finite, self.normalized_score(raw), 1.0),
            "is_anomaly": tf.cast(tf.logical_or(raw > self.threshold, tf.logical_not(finite)), tf.int32),
        }

    def attach_preprocessor(self, preprocessor):
        """Carries the fitted `tfganad.preprocessing.Preprocessor` (raw → model inputs) in the model, so
        `.keras` files keep it and the SavedModel's `serving_default` takes raw inputs; None detaches."""
        tracker = self._tracker
        locked = tracker.locked
        if locked:  # a built model refuses new sub-layers; this one has no weights the model's need
            tracker.unlock()
        try:
            self.preprocessor = preprocessor
        finally:
            if locked:
                tracker.lock(tracker._lock_violation_msg)
        return self

    def get_build_config(self):
        config = super().get_build_config()
        prep = getattr(self, "preprocessor", None)
        if prep is not None:
            # In the build config, not get_config: no subclass's get_config has to know about it, and
            # Keras restores it before loading weights; `.keras` files without it load as before.
            config = dict(config or {})
            config["preprocessor"] = keras.saving.serialize_keras_object(prep)
        return config

    def build_from_config(self, config):
        config = dict(config or {})
        prep = config.pop("preprocessor", None)
        if prep is not None:
            import tfganad.preprocessing  # noqa: F401  (registers the class)

            self.attach_preprocessor(keras.saving.deserialize_keras_object(prep))
        if config:
            super().build_from_config(config)

    def set_calibration(self, offset: float, scale: float, threshold: float):
        """Stores the fitted normaliser and decision threshold in the model's weights."""
        self.score_offset.assign(float(offset))
        self.score_scale.assign(float(scale))
        self.threshold.assign(float(threshold))

    def build_from_sample(self, x=None):
        """Builds the model by calling it once (fit never calls `__call__`; export and save need it)."""
        if self.built:
            return self
        if x is None:
            x = np.zeros((1, *self.input_shape_), np.float32)
        # Traced, not eager: a latent-search score (AnoGAN, ADGAN) runs its step loop as a graph.
        tf.function(lambda t: self(t, training=False))(tf.convert_to_tensor(np.asarray(x[:1], np.float32)))
        return self

    # ------------------------------------------------------------------ compile / save ------------
    def default_optimizer(self, player: str, learning_rate: float = 2e-4, beta_1: float = 0.5,
                          beta_2: float = 0.999, ema_momentum=None):
        """Adam for every player (the papers' choice); subclasses may override per player."""
        return keras.optimizers.Adam(
            learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2,
            use_ema=ema_momentum is not None, ema_momentum=ema_momentum or 0.99,
        )

    def compile(self, optimizers=None, *, learning_rate: float = 2e-4, beta_1: float = 0.5,
                beta_2: float = 0.999, ema_momentum=None, jit_compile=False, run_eagerly=False,
                steps_per_execution: int = 1, **player_optimizers):
        """Configures one optimizer per player.

        Args:
            optimizers: dict player → optimizer; or pass them as `<player>_optimizer=` keywords.
                Players without one get `default_optimizer(...)` with the given hyperparameters.
            ema_momentum: if set, default optimizers keep an EMA of the weights used for scoring.
        """
        given = dict(optimizers or {})
        for key, opt in player_optimizers.items():
            if not key.endswith("_optimizer") or key[: -len("_optimizer")] not in self.players:
                raise ConfigError(
                    f"unknown compile argument {key!r}; valid: "
                    + ", ".join(f"{p}_optimizer" for p in self.players)
                )
            given[key[: -len("_optimizer")]] = opt
        for p in given:
            if p not in self.players:
                raise ConfigError(f"unknown player {p!r}; this model's players: {', '.join(self.players)}")
        mixed16 = keras.mixed_precision.global_policy().name == "mixed_float16"
        self.player_optimizers = {}
        for p in self.players:
            opt = given.get(p) or self.default_optimizer(p, learning_rate, beta_1, beta_2, ema_momentum)
            if isinstance(opt, str):
                opt = keras.optimizers.get(opt)
            if mixed16 and not isinstance(opt, keras.optimizers.LossScaleOptimizer):
                # A custom train_step gets no automatic loss scaling (STACK.md Q3).
                opt = keras.optimizers.LossScaleOptimizer(opt)
            self.player_optimizers[p] = opt
            setattr(self, f"{p}_optimizer", opt)  # tracked attribute, so .keras files keep its state
        super().compile(jit_compile=jit_compile, run_eagerly=run_eagerly, steps_per_execution=steps_per_execution)
        if self.optimizer is not None and not self.optimizer.built:
            # Keras's default optimizer is never used here; building it empty keeps it from allocating
            # slots for every variable when callbacks (BackupAndRestore) build it.
            self.optimizer.build([])
        # Eager build: lazily built optimizers fail inside multi-replica tf.functions (STACK.md Q7).
        for p, opt in self.player_optimizers.items():
            opt.build(self.player_variables(p))

    def get_compile_config(self):
        if not self.player_optimizers:
            return None
        return {
            "optimizers": {p: keras.saving.serialize_keras_object(o) for p, o in self.player_optimizers.items()},
            "jit_compile": bool(self.jit_compile) if isinstance(self.jit_compile, bool) else False,
        }

    def compile_from_config(self, config):
        if not config:
            return
        optimizers = {p: keras.saving.deserialize_keras_object(c) for p, c in config["optimizers"].items()}
        self.compile(optimizers=optimizers, jit_compile=config.get("jit_compile", False))

    @property
    def metrics(self):
        return list(self._trackers.values()) + [self._score_tracker]

    # ------------------------------------------------------------------ the one loop -------------
    def _apply_update(self, x, players):
        """One update of `players` (one forward pass, one optimizer step each), gated by `phase_active`."""
        active = self.phase_active(players)
        if active is True:
            return self._gradient_step(x, players)
        names = [f"{p}_loss" for p in players]

        def step():
            losses = self._gradient_step(x, players)
            return {n: tf.cast(losses[n], tf.float32) for n in names}

        return tf.cond(active, step, lambda: {n: tf.constant(0.0, tf.float32) for n in names})

    def _gradient_step(self, x, players):
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        object.__setattr__(self, "_stepping", tuple(players))
        try:
            with tf.GradientTape(persistent=True) as tape:
                losses = self.compute_losses(x, training=True)
                scaled = {
                    p: self.player_optimizers[p].scale_loss(tf.cast(losses[f"{p}_loss"], tf.float32) / replicas)
                    for p in players
                }
        finally:
            object.__setattr__(self, "_stepping", None)
        for p in players:
            variables = self.player_variables(p)
            grads = tape.gradient(scaled[p], variables)
            missing = [v.path for v, g in zip(variables, grads) if g is None]
            if missing:
                # A variable without gradient is a silent "never trained" bug (PROTOCOLS.md pitfalls).
                raise ValueError(f"{p}_loss does not depend on {missing[:3]}; check player_networks()")
            self.player_optimizers[p].apply_gradients(zip(grads, variables))
        del tape
        self.after_update(players, losses)
        return losses

    def run_schedule(self, x) -> dict:
        """Runs one step of `update_schedule()` on batch x → the losses of its updates (last one wins)."""
        losses = {}
        for players, repeats in self.update_schedule():
            for _ in range(int(repeats)):
                losses.update(self._apply_update(x, players))
        return losses

    def train_step(self, data):
        if not self.player_optimizers:
            raise RuntimeError("call model.compile() before fit()")
        losses = self.run_schedule(_unpack_x(data))
        for name, tracker in self._trackers.items():
            if name in losses:
                tracker.update_state(losses[name])
        return {name: t.result() for name, t in self._trackers.items()}

    def test_step(self, data):
        x = _unpack_x(data)
        losses = self.compute_losses(x, training=False)
        for name, tracker in self._trackers.items():
            if name in losses:
                tracker.update_state(losses[name])
        self._score_tracker.update_state(self.anomaly_score(x, training=False))
        return {m.name: m.result() for m in self.metrics}

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Keras's `predict` (anomaly scores); in-memory arrays are batched in order by a tf.data
        pipeline without autotuning (`tfganad.data.pipeline.without_autotuning` says why)."""
        if isinstance(x, (np.ndarray, tf.Tensor)) and steps is None:
            if x.dtype.is_floating if isinstance(x, tf.Tensor) else np.issubdtype(x.dtype, np.floating):
                x = keras.ops.cast(x, keras.backend.floatx())  # as Keras's array adapter does
            x, batch_size = eval_dataset(x, batch_size or 32), None
        return super().predict(x, batch_size=batch_size, verbose=verbose, steps=steps, callbacks=callbacks)

    def predict_step(self, data):
        return self.anomaly_score(_unpack_x(data), training=False)

    # ------------------------------------------------------------------ EMA weights ---------------
    def _ema_pairs(self):
        seen = set()
        for p, opt in self.player_optimizers.items():
            inner = getattr(opt, "inner_optimizer", opt)
            if getattr(inner, "use_ema", False) and getattr(inner, "_model_variables_moving_average", None):
                for var, avg in zip(self.player_variables(p), inner._model_variables_moving_average):
                    # A variable owned by two players (a shared generator) is swapped once, not twice.
                    if id(var) not in seen:
                        seen.add(id(var))
                        yield var, avg

    def has_ema(self) -> bool:
        """True when at least one player's optimizer keeps an EMA of its variables."""
        # Checks the optimizers only (callbacks ask at every epoch; the pairs walk every network).
        for opt in self.player_optimizers.values():
            inner = getattr(opt, "inner_optimizer", opt)
            if getattr(inner, "use_ema", False) and getattr(inner, "_model_variables_moving_average", None):
                return True
        return False

    def swap_ema_weights(self):
        """Exchanges trained variables with their EMA values; calling it twice restores them."""
        pairs = list(self._ema_pairs())
        if not pairs:
            return
        # One compiled call instead of 3 eager ops per variable: callbacks swap twice per epoch, which
        # cost ~20 ms an epoch for the Arrhythmia ALAD's 34 EMA variables under load (issue #15).
        key = tuple((id(v), id(avg)) for v, avg in pairs)
        cached = getattr(self, "_tfganad_swap_fn", None)
        if cached is None or cached[0] != key:
            def swap():
                for v, avg in pairs:
                    current = tf.identity(v.value)  # a snapshot: convert_to_tensor(v) would alias the variable
                    v.assign(avg)
                    avg.assign(current)
            cached = (key, tf.function(swap, autograph=False))
            object.__setattr__(self, "_tfganad_swap_fn", cached)  # not tracked state
        if tf.executing_eagerly():
            cached[1]()
        else:
            cached[1].python_function()

    @contextlib.contextmanager
    def ema_weights(self):
        """Context in which the trained variables hold their EMA values (no-op without EMA)."""
        self.swap_ema_weights()
        try:
            yield self
        finally:
            self.swap_ema_weights()

    def finalize_ema(self):
        """Overwrites the trained variables with their EMA values (called at the end of training)."""
        for v, avg in self._ema_pairs():
            v.assign(avg)
