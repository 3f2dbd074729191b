"""ADGAN: anomaly score from a multi-seed latent search that also adapts a private copy of the generator.

Paper: Deecke, Vandermeulen, Ruff, Mandt, Kloft, "Image Anomaly Detection with Generative Adversarial
Networks", ECML-PKDD 2018 (Algorithm 1, §3.1, §4.2 and footnote 9).

Training: a DCGAN-architecture generator trained with the WGAN objective (eq. 2; weight clipping,
n_critic = 5, RMSProp 5e-5), latent dimension 256 in the paper, pixels in [−1, 1].

Scoring (Algorithm 1): for a test point x, n_seed starting points z_{j,0} ~ p_z and as many copies
θ_{j,0} = θ of the generator's parameters; k Adam steps (β = (0.5, 0.999)) update z_j with rate
γ = 0.25 and θ_j with rate γ_θ = 5e-5 on ℓ = ‖x − g_{θ_j}(z_j)‖²₂; the score is the mean over seeds of
the final losses ℓ(x, g_{θ_{j,k}}(z_{j,k})). The copies start from the trained θ for every test point
and the trained weights are never modified.

All test points and all seeds of a chunk are searched at once: a chunk of b points is expanded to
b·n_seed rows, each with its own z, its own generator weights (a leading copy dimension on every
weight, run by `tfganad.networks.batched.BatchedNetwork`) and its own Adam moments; `search_batch_size`
test points per chunk bound the memory (each row holds 4 copies of the generator's weights: θ, ∇θ, m, v).

Deviation: the n_seed starting points are one seeded draw shared by all test points (each point
optimises its own copies), so a score does not depend on the batch a point is scored in.

Example:
    >>> model = tfganad.models.ADGAN(input_shape=(28, 28, 1), latent_dim=256)
    >>> model.compile()                       # RMSProp 5e-5 (WGAN paper) for critic and generator
    >>> model.fit(x_train_one_class, epochs=20, batch_size=64)
    >>> scores = model.predict(x_test, batch_size=64)
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfganad.errors import ConfigError
from tfganad.models.gan_detector import GANDetector
from tfganad.networks.batched import BatchedNetwork
from tfganad.registry import register_model
from tfganad.scores import l2_residual_score
from tfganad.scores.maps import residual_map
from tfganad.search import initial_latents, latent_search, map_chunks


@keras.saving.register_keras_serializable(package="tfganad")
@register_model("adgan")
class ADGAN(GANDetector):
    """ADGAN detector (Deecke et al. 2018, Algorithm 1).

    Args:
        input_shape, latent_dim, adversarial_loss, n_critic, clip_value, gp_weight, filters, critic_norm,
            paper_optimizers, seed: GAN training, see `GANDetector` (default: WGAN with clipping).
        n_seed: starting points per test point (paper: 64).
        search_steps: k, Adam steps per seed (paper: 5).
        search_learning_rate: γ, Adam rate on z (paper: 0.25).
        generator_learning_rate: γ_θ, Adam rate on the private generator copies (paper: 5e-5); 0 keeps
            the generator fixed (then no copies are made).
        search_beta_1, search_beta_2, search_epsilon: Adam hyper-parameters of the search (paper: 0.5, 0.999).
        search_batch_size: test points per chunk (each expands to n_seed generator copies).
    """

    #: allowed values of constructor arguments, checked when a recipe is loaded (`tfganad.config`)
    recipe_checks = {"n_seed": ">=1", "search_steps": ">=0", "search_batch_size": ">=1"}

    def __init__(self, input_shape=(28, 28, 1), latent_dim: int = 256, adversarial_loss: str = "wgan",
                 n_critic=None, clip_value: float = 0.01, gp_weight: float = 10.0, filters: int = 64,
                 critic_norm: str = "auto", paper_optimizers: bool = True, n_seed: int = 64,
                 search_steps: int = 5, search_learning_rate: float = 0.25, generator_learning_rate: float = 5e-5,
                 search_beta_1: float = 0.5, search_beta_2: float = 0.999, search_epsilon: float = 1e-8,
                 search_batch_size: int = 4, seed: int = 0, **kwargs):
        super().__init__(input_shape=input_shape, latent_dim=latent_dim, adversarial_loss=adversarial_loss,
                         n_critic=n_critic, clip_value=clip_value, gp_weight=gp_weight, filters=filters,
                         critic_norm=critic_norm, paper_optimizers=paper_optimizers, seed=seed, **kwargs)
        # === Config ===
        for key, value, low in (("n_seed", n_seed, 1), ("search_steps", search_steps, 0),
                                ("search_batch_size", search_batch_size, 1)):
            if int(value) < low:
                raise ConfigError(f"{key} must be >= {low}, got {value!r}")
        if float(search_learning_rate) <= 0 or float(generator_learning_rate) < 0:
            raise ConfigError("search_learning_rate must be > 0 and generator_learning_rate >= 0, got "
                              f"{search_learning_rate!r} and {generator_learning_rate!r}")
        self.n_seed = int(n_seed)
        self.search_steps = int(search_steps)
        self.search_learning_rate = float(search_learning_rate)
        self.generator_learning_rate = float(generator_learning_rate)
        self.search_beta_1 = float(search_beta_1)
        self.search_beta_2 = float(search_beta_2)
        self.search_epsilon = float(search_epsilon)
        self.search_batch_size = int(search_batch_size)
        if self.generator_learning_rate > 0:
            BatchedNetwork(self.generator)  # fails now, not at scoring time, if copies are unsupported

    def get_config(self):
        config = super().get_config()
        config.update(n_seed=self.n_seed, search_steps=self.search_steps,
                      search_learning_rate=self.search_learning_rate,
                      generator_learning_rate=self.generator_learning_rate, search_beta_1=self.search_beta_1,
                      search_beta_2=self.search_beta_2, search_epsilon=self.search_epsilon,
                      search_batch_size=self.search_batch_size)
        return config

    @classmethod
    def small_config(cls, input_shape):
        return {"input_shape": list(input_shape), "latent_dim": 8, "filters": 4, "n_seed": 2, "search_steps": 3,
                "search_batch_size": 4}

    # ------------------------------------------------------------------ search --------------------
    def _search_chunk(self, x, with_map: bool = False):
        batch = tf.shape(x)[0]
        rows = batch * self.n_seed
        # Row i·n_seed + j holds test point i and seed j.
        x_rows = tf.repeat(x, self.n_seed, axis=0)
        seeds = tf.constant(initial_latents(self.seed, (self.n_seed, self.latent_dim)))
        z0 = tf.tile(seeds, [batch, 1])
        if self.generator_learning_rate > 0:
            generator = BatchedNetwork(self.generator)
            params = [z0] + generator.tile(rows)
            rates = [self.search_learning_rate] + [self.generator_learning_rate] * (len(params) - 1)

            def loss_fn(p):
                x_hat = generator(p[1:], p[0])
                return {"loss": l2_residual_score(x_rows, x_hat), "x_hat": x_hat}
        else:
            params, rates = [z0], [self.search_learning_rate]

            def loss_fn(p):
                x_hat = self.generator(p[0], training=False)
                return {"loss": l2_residual_score(x_rows, x_hat), "x_hat": x_hat}

        _, out = latent_search(loss_fn, params, self.search_steps, rates, self.search_beta_1,
                               self.search_beta_2, self.search_epsilon)
        per_seed = tf.reshape(out["loss"], [batch, self.n_seed])
        out_chunk = {"score": tf.reduce_mean(per_seed, axis=1), "best_seed": tf.reduce_min(per_seed, axis=1)}
        if with_map:
            # The search residual |x − g_θj(z_j)| of every seed, averaged over the seeds like the score.
            maps = residual_map(x_rows, out["x_hat"])
            out_chunk["residual"] = tf.reduce_mean(
                tf.reshape(maps, tf.concat([[batch, self.n_seed], tf.shape(maps)[1:]], 0)), axis=1)
        return out_chunk

    def score_components(self, x, training=False):
        """`score`: mean over seeds of the final squared-L2 losses (Algorithm 1); `best_seed`: their minimum."""
        x = tf.cast(tf.convert_to_tensor(x), tf.float32)
        return map_chunks(self._search_chunk, x, self.search_batch_size,
                          {"score": tf.float32, "best_seed": tf.float32})

    def anomaly_maps(self, x, training=False):
        """`residual`: the search residual |x − g_θj(z_j)| after the k steps, averaged over the n_seed seeds."""
        if not self.is_image:
            return {}
        x = tf.cast(tf.convert_to_tensor(x), tf.float32)
        out = map_chunks(lambda c: self._search_chunk(c, with_map=True), x, self.search_batch_size,
                         {"score": tf.float32, "best_seed": tf.float32, "residual": tf.float32})
        return {"residual": out["residual"]}
