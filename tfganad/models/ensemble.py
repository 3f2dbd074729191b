"""GAN ensemble: I generator sides × J discriminator sides of any base model, trained in the one loop.

Paper: Han, Chen and Liu, "GAN Ensemble for Anomaly Detection", AAAI 2021 (arXiv:2012.07988),
"Proposed Approach", Algorithm 1 and eqs. 11–15.

Members are whole base models (EGBAD, GANomaly, Skip-GANomaly, f-AnoGAN, ALAD, GAN+AE, ...), each with
its own weights and its own optimizer per player. Generator-side players (e.g. GANomaly's `g`, EGBAD's
`g` and `e`) of member i are paired with the discriminator-side networks of member j (the base model's
`adversary_attributes`, e.g. `discriminator`); the pair (i, j) computes the base model's losses and
scores, L^{ij} of eqs. 11–12. Players of the ensemble are `<player><member>` (`d0`, `g2`, ...).

Schedules:

* `random_pair` (Algorithm 1): each step draws one (i, j) inside the compiled graph (`tf.switch_case`
  over the I·J pairs, from the model's seed stream) and runs the base model's own update schedule on
  that pair: only G_i and D_j change.
* `all_pairs` (the reference code for EGBAD and Skip-GANomaly): every phase of the base schedule runs
  all I·J pairs in one forward pass; D_j steps on the mean of its losses against every G_i and G_i on
  the mean against every D_j (eqs. 13–14 with means instead of sums, so learning rates keep their
  base-model meaning).

Score (eq. 15): the mean over all I·J pairs of the base model's per-sample score (every component),
computed in one graph and exported as one SavedModel signature.

Epochs: with `random_pair` a member steps once in max(I, J) iterations on average, so the runner trains
`epoch_multiplier` = max(I, J) times the recipe's epochs (the paper's "(*3)" in Table 5); with
`all_pairs` every member steps every iteration and the multiplier is 1.

Example:
    >>> model = tfganad.models.GANEnsemble(input_shape=(32, 32, 1), base="ganomaly", generators=3,
    ...                                    discriminators=3, latent_dim=100)
    >>> model.compile(learning_rate=2e-4)
    >>> model.fit(x_train, epochs=15 * model.epoch_multiplier, batch_size=64)
    >>> scores = model.predict(x_test)
"""

from __future__ import annotations

import contextlib

import keras
import tensorflow as tf

from tfganad.errors import ConfigError
from tfganad.models.base import AdversarialDetector
from tfganad.registry import did_you_mean, get_model_class, register_model

SCHEDULES = ("random_pair", "all_pairs")
#: Schedule of the reference code per base model; any other base defaults to Algorithm 1.
DEFAULT_SCHEDULES = {"egbad": "all_pairs", "skip_ganomaly": "all_pairs", "ganomaly": "random_pair",
                     "fanogan": "random_pair"}
_KERAS_KWARGS = ("name", "trainable", "dtype")


def _base_arguments(base_cls) -> dict:
    from tfganad.config import model_arguments

    return {k: v for k, v in model_arguments(base_cls).items() if k not in ("input_shape", "seed")}


@keras.saving.register_keras_serializable(package="tfganad")
@register_model("ensemble")
class GANEnsemble(AdversarialDetector):
    """I generator sides × J discriminator sides of a base model; see the module docstring.

    Args:
        input_shape: shape of one sample, passed to every member.
        base: registered name of the base model (`egbad`, `ganomaly`, `skip_ganomaly`, `fanogan`, ...).
        generators: I, the number of generator sides.
        discriminators: J, the number of discriminator sides.
        schedule: `random_pair` or `all_pairs`; None = the reference code's choice for the base.
        epoch_multiplier: epochs of the ensemble per recipe epoch; None = max(I, J) for `random_pair`,
            1 for `all_pairs`.
        seed: member k uses seed + k (noise streams); weights are initialised independently.
            max(I, J) members are built; when I ≠ J, the side the surplus members do not provide is
            never used (and never trained).
        **base_params: constructor arguments of the base model (e.g. `case`, `latent_dim`, `score_weight`).
    """

    #: allowed values of constructor arguments, checked when a recipe is loaded (`tfganad.config`)
    recipe_checks = {"base": lambda: tuple(ensemble_bases()), "generators": ">=1", "discriminators": ">=1",
                     "schedule": SCHEDULES, "epoch_multiplier": ">=1"}

    @staticmethod
    def recipe_base_class(params: dict):
        """The base model class a recipe's ensemble wraps (its arguments and metrics apply); None if unknown."""
        try:
            cls = get_model_class(params.get("base", "egbad"))
        except ConfigError:
            return None
        return None if cls is GANEnsemble else cls

    def __init__(self, input_shape=(28, 28, 1), base: str = "egbad", generators: int = 3, discriminators: int = 3,
                 schedule=None, epoch_multiplier=None, seed: int = 0, **base_params):
        keras_kwargs = {k: base_params.pop(k) for k in _KERAS_KWARGS if k in base_params}
        base_cls = get_model_class(base)
        if not (isinstance(base_cls, type) and issubclass(base_cls, AdversarialDetector)) or base_cls is GANEnsemble:
            raise ConfigError(f"ensemble base must be a GAN model, got {base!r}; "
                              f"allowed: {', '.join(ensemble_bases())}")
        if not base_cls.adversary_attributes:
            raise ConfigError(f"model {base!r} declares no discriminator-side networks, so it cannot be "
                              f"ensembled; allowed bases: {', '.join(ensemble_bases())}")
        allowed = _base_arguments(base_cls)
        for key in base_params:
            if key not in allowed:
                raise ConfigError(f"unknown argument {key!r} for ensemble base {base!r}{did_you_mean(key, allowed)}; "
                                  f"valid: base, generators, discriminators, schedule, epoch_multiplier, "
                                  f"{', '.join(allowed)}")
        for key, value in (("generators", generators), ("discriminators", discriminators)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{key} must be an integer >= 1, got {value!r}")
        if schedule is not None and schedule not in SCHEDULES:
            raise ConfigError(f"unknown schedule {schedule!r}{did_you_mean(schedule, SCHEDULES)}; "
                              f"allowed: {', '.join(SCHEDULES)}")
        if epoch_multiplier is not None and (isinstance(epoch_multiplier, bool)
                                             or not isinstance(epoch_multiplier, int) or epoch_multiplier < 1):
            raise ConfigError(f"epoch_multiplier must be an integer >= 1 or null, got {epoch_multiplier!r}")
        super().__init__(input_shape=input_shape, latent_dim=base_params.get("latent_dim", 1), seed=seed,
                         **keras_kwargs)
        # === Config ===
        self.base = base
        self.base_params = dict(base_params)
        self.generators = int(generators)
        self.discriminators = int(discriminators)
        self.schedule_arg = schedule
        self.schedule = schedule or DEFAULT_SCHEDULES.get(base, "random_pair")
        self._all_pairs = self.schedule == "all_pairs"  # resolved once: the traced step compares no string
        self.epoch_multiplier_arg = epoch_multiplier
        if epoch_multiplier is not None:
            self.epoch_multiplier = int(epoch_multiplier)
        else:
            self.epoch_multiplier = max(self.generators, self.discriminators) if self.schedule == "random_pair" else 1
        # === Members ===
        count = max(self.generators, self.discriminators)
        self.members = [base_cls(input_shape=list(input_shape), seed=self.seed + k, name=f"member_{k}", **base_params)
                        for k in range(count)]
        template = self.members[0]
        self.latent_dim = template.latent_dim
        self.is_image = template.is_image
        adversary = {id(n) for n in self._adversary_networks(template)}
        self.adversary_players = []
        for p, nets in template.player_networks().items():
            ids = {id(n) for n in nets}
            if ids <= adversary:
                self.adversary_players.append(p)
            elif ids & adversary:
                raise ConfigError(f"player {p!r} of {base!r} trains both generator- and discriminator-side "
                                  f"networks, so its sides cannot be paired")
        self.base_players = tuple(template.players)
        object.__setattr__(self, "players", tuple(
            f"{p}{k}" for p in self.base_players for k in range(self._count(p))))
        self.score_name = template.score_name
        self.input_kinds = getattr(template, "input_kinds", ("image", "tabular"))
        # Logged losses keep the base model's names (means over the pairs trained), not one per member.
        self._trackers = {
            name: keras.metrics.Mean(name=name)
            for name in [f"{p}_loss" for p in self.base_players] + list(template.extra_metrics)
        }

    # ------------------------------------------------------------------ structure -----------------
    @staticmethod
    def _adversary_networks(member) -> list:
        return [getattr(member, a) for a in member.adversary_attributes if getattr(member, a, None) is not None]

    def _count(self, player: str) -> int:
        return self.discriminators if player in self.adversary_players else self.generators

    def _split(self, name: str):
        """`g2` → ('g', 2)."""
        for p in self.base_players:
            if name.startswith(p) and name[len(p):].isdigit():
                return p, int(name[len(p):])
        raise KeyError(name)

    def get_config(self):
        return {"input_shape": list(self.input_shape_), "base": self.base, "generators": self.generators,
                "discriminators": self.discriminators, "schedule": self.schedule_arg,
                "epoch_multiplier": self.epoch_multiplier_arg, "seed": self.seed, **self.base_params}

    @classmethod
    def small_config(cls, input_shape):
        base_cls = get_model_class("egbad")
        config = base_cls.small_config(input_shape)
        config.update(base="egbad", generators=2, discriminators=2, schedule="all_pairs")
        return config

    @classmethod
    def recipe_arguments(cls, params: dict) -> dict:
        """Keys a recipe may set: the ensemble's own arguments plus those of its `base` model."""
        from tfganad.config import model_arguments

        own = model_arguments(cls)
        base = params.get("base", own["base"].default)
        base_cls = get_model_class(base)
        if not issubclass(base_cls, AdversarialDetector) or not base_cls.adversary_attributes:
            raise ConfigError(f"ensemble base must be one of {', '.join(ensemble_bases())}, got {base!r}")
        return {**_base_arguments(base_cls), **own}

    def player_networks(self):
        out = {}
        for name in self.players:
            p, k = self._split(name)
            out[name] = self.members[k].player_networks()[p]
        return out

    @contextlib.contextmanager
    def pair(self, i: int, j: int, stepping=None):
        """Context in which member i's model runs with member j's discriminator side and the ensemble's
        optimizers of G_i and D_j: its hooks (losses, schedule, scores) then compute pair (i, j)."""
        template, other = self.members[i], self.members[j]
        saved = {a: template.__dict__[a] for a in template.adversary_attributes if a in template.__dict__}
        saved_opts, saved_stepping = template.__dict__.get("player_optimizers"), template._stepping
        try:
            if j != i:
                for a in saved:
                    # object.__setattr__: a temporary view, not a change Keras should track or save.
                    object.__setattr__(template, a, getattr(other, a))
            if self.player_optimizers:
                object.__setattr__(template, "player_optimizers", {
                    p: self.player_optimizers[f"{p}{j if p in self.adversary_players else i}"]
                    for p in self.base_players})
            object.__setattr__(template, "_stepping", stepping)
            yield template
        finally:
            for a, v in saved.items():
                object.__setattr__(template, a, v)
            object.__setattr__(template, "player_optimizers", saved_opts)
            object.__setattr__(template, "_stepping", saved_stepping)

    def _pairs(self):
        return [(i, j) for i in range(self.generators) for j in range(self.discriminators)]

    # ------------------------------------------------------------------ training hooks ------------
    def default_optimizer(self, player, learning_rate=2e-4, beta_1=0.5, beta_2=0.999, ema_momentum=None):
        p, k = self._split(player)
        return self.members[k].default_optimizer(p, learning_rate, beta_1, beta_2, ema_momentum)

    def update_schedule(self):
        schedule = []
        for players, repeats in self.members[0].update_schedule():
            schedule.append((tuple(f"{p}{k}" for p in players for k in range(self._count(p))), repeats))
        return schedule

    def run_schedule(self, x):
        if self._all_pairs:
            return super().run_schedule(x)
        if tf.distribute.get_strategy().num_replicas_in_sync > 1:
            raise ConfigError("schedule 'random_pair' steps one pair inside tf.switch_case, which multi-replica "
                              "strategies cannot merge; use schedule: all_pairs with train.strategy")
        pairs = self._pairs()

        def branch(i, j):
            def run():
                with self.pair(i, j) as member:
                    losses = member.run_schedule(x)
                return {n: tf.cast(v, tf.float32) for n, v in losses.items()}
            return run

        if len(pairs) == 1:
            return branch(0, 0)()
        # Drawn in the graph from the model's seed stream: reproducible, and the same on every replica.
        index = tf.random.stateless_uniform((), seed=self.seed_generator.next(), minval=0, maxval=len(pairs),
                                            dtype=tf.int32)
        return tf.switch_case(index, [branch(i, j) for i, j in pairs])

    def _base_phase(self):
        if self._stepping is None:
            return None
        return tuple(sorted({self._split(n)[0] for n in self._stepping}))

    def compute_losses(self, x, training):
        """All I·J pairs' base losses → `<player><k>_loss` (mean over k's partners) + base-named means."""
        per_pair = {}
        for i, j in self._pairs():
            with self.pair(i, j, stepping=self._base_phase()) as member:
                per_pair[(i, j)] = member.compute_losses(x, training)
        out = {}
        for name in self.players:
            p, k = self._split(name)
            key = f"{p}_loss"
            side = [v for (i, j), v in per_pair.items() if (j if p in self.adversary_players else i) == k]
            if all(key in v for v in side):
                out[f"{name}_loss"] = tf.add_n([tf.cast(v[key], tf.float32) for v in side]) / len(side)
        for key in set().union(*per_pair.values()):
            values = [tf.cast(v[key], tf.float32) for v in per_pair.values() if key in v]
            out[key] = tf.add_n(values) / len(values)
        return out

    def phase_active(self, players):
        # Under all_pairs every member steps in lockstep, so member 0's progress stands for all.
        base = tuple(sorted({self._split(n)[0] for n in players}))
        with self.pair(0, 0) as member:
            return member.phase_active(base)

    def after_update(self, players, losses):
        for name in players:
            p, k = self._split(name)
            i, j = (0, k) if p in self.adversary_players else (k, 0)
            with self.pair(i, j) as member:
                member.after_update((p,), {f"{p}_loss": losses[f"{name}_loss"]})

    # ------------------------------------------------------------------ scores ----------------------
    def score_components(self, x, training=False):
        """Eq. 15: every component averaged over the I·J pairs."""
        x = tf.convert_to_tensor(x)
        parts = []
        for i, j in self._pairs():
            with self.pair(i, j) as member:
                parts.append(member.score_components(x, training=training))
        return {k: tf.add_n([tf.cast(p[k], tf.float32) for p in parts]) / len(parts) for k in parts[0]}

    def anomaly_score(self, x, training=False):
        x = tf.convert_to_tensor(x)
        pairs = self._pairs()
        if self.score_name in self.members[0].adversary_free_scores:
            # Pair (i, j) gives G_i's score for every j: the mean over generators is the same mean.
            pairs = [(i, 0) for i in range(self.generators)]
        scores = []
        for i, j in pairs:
            with self.pair(i, j) as member:
                scores.append(tf.cast(member.anomaly_score(x, training=training), tf.float32))
        return tf.add_n(scores) / len(scores)

    def reconstruct(self, x, training=False):
        return self.members[0].reconstruct(x, training=training)

    def anomaly_maps(self, x, training=False):
        """Every map of the base model averaged over the I·J pairs, as the scores are (eq. 15)."""
        x = tf.convert_to_tensor(x)
        parts = []
        for i, j in self._pairs():
            with self.pair(i, j) as member:
                parts.append(member.anomaly_maps(x, training=training))
        if not parts or not parts[0]:
            return {}
        return {k: tf.add_n([tf.cast(p[k], tf.float32) for p in parts]) / len(parts) for k in parts[0]}

    def generate(self, z, training=False):
        return self.members[0].generate(z, training=training)


def ensemble_bases() -> list:
    """Registered models that declare a discriminator side and can therefore be ensembled."""
    from tfganad.registry import _MODELS

    return sorted(n for n, c in _MODELS.items() if c is not GANEnsemble and getattr(c, "adversary_attributes", ()))
