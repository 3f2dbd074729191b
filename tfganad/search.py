"""Batched latent search: one latent code and one Adam state per test sample, all samples in one graph.

AnoGAN (Schlegl et al. 2017; survey arXiv:1906.11632 §2.1, eqs. 4–7) and ADGAN (Deecke et al. 2018,
Algorithm 1) score a test point by minimising a reconstruction loss over the generator's latent space
(ADGAN also over a private copy of the generator's parameters). Reference implementations either loop
over samples (N·Γ optimizer steps) or share one z / one optimizer state across a batch (PyOD, the
survey toolbox), which couples the samples' scores (PROTOCOLS.md, pitfalls).

Here every searched quantity is a tensor with a leading sample dimension, and Adam is written as tensor
math (`adam_update`) so its moments m, v are per-sample tensors too. Samples never interact: the loss
is a vector of per-sample losses and ∂(Σ_i ℓ_i)/∂z_i = ∂ℓ_i/∂z_i. Γ steps over N samples are Γ batched
steps inside one `tf.while_loop`, and `map_chunks` bounds memory by processing `chunk_size` samples at a
time. A sample's result therefore does not depend on the other samples of its batch, nor on the chunking
(up to float rounding of batched kernels).
"""

from __future__ import annotations

from typing import Callable, Sequence, Union

import numpy as np
import tensorflow as tf

from tfganad.errors import ConfigError

LearningRate = Union[float, Callable]


def piecewise_learning_rate(step, boundaries: Sequence[int], values: Sequence[float]):
    """Piecewise-constant learning rate: values[k] for the update of index `step` (0-based) when exactly
    k boundaries b satisfy step ≥ b.

    The EGBAD/ALAD AnoGAN baseline (PROTOCOLS §3.6) uses boundaries (300, 400) and values
    (0.01, 0.001, 0.0005): updates 0–299 at 0.01, 300–399 at 0.001, 400– at 0.0005.
    """
    if len(values) != len(boundaries) + 1:
        raise ConfigError(f"a piecewise learning rate needs len(values) == len(boundaries) + 1, got "
                          f"{len(values)} values for {len(boundaries)} boundaries")
    if list(boundaries) != sorted(boundaries):
        raise ConfigError(f"learning-rate boundaries must be increasing, got {list(boundaries)}")
    values_t = tf.constant([float(v) for v in values], tf.float32)
    if not boundaries:
        return values_t[0]
    passed = tf.reduce_sum(tf.cast(tf.cast(step, tf.int32) >= tf.constant(list(boundaries), tf.int32), tf.int32))
    return tf.gather(values_t, passed)


def adam_update(param, grad, m, v, step, learning_rate, beta_1: float = 0.9, beta_2: float = 0.999,
                epsilon: float = 1e-8):
    """One Adam update (Kingma & Ba 2015, Algorithm 1) on tensors; every element has its own moments.

    Args:
        param, grad, m, v: tensors of one shape (leading dimension = samples).
        step: number of this update, 1-based (t in the paper), a scalar.
        learning_rate: α, a scalar (may change with the step).

    Returns:
        (param, m, v) after the update: θ − α·m̂/(√v̂ + ε) with bias-corrected m̂, v̂.
    """
    t = tf.cast(step, tf.float32)
    m = m + (1.0 - beta_1) * (grad - m)
    v = v + (1.0 - beta_2) * (tf.square(grad) - v)
    # α·m̂/(√v̂ + ε) = α_t·m/(√v + ε·c) with c = √(1 − β₂ᵗ), α_t = α·c/(1 − β₁ᵗ): the same update with the
    # bias corrections folded into scalars, so fewer passes over the (large) per-sample tensors.
    c = tf.sqrt(1.0 - tf.pow(beta_2, t))
    alpha = tf.cast(learning_rate, tf.float32) * c / (1.0 - tf.pow(beta_1, t))
    return param - alpha * m / (tf.sqrt(v) + epsilon * c), m, v


def _as_schedule(rate: LearningRate):
    if callable(rate):
        return rate
    value = float(rate)
    return lambda step: tf.constant(value, tf.float32)


def _losses(out):
    return out["loss"] if isinstance(out, dict) else out


def latent_search(loss_fn, params: Sequence, steps: int, learning_rates: Sequence[LearningRate],
                  beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-8):
    """Minimises per-sample losses with an independent Adam state per sample, all samples at once.

    Args:
        loss_fn: list of tensors (the current `params`) → per-sample losses (B,), or a dict with such a
            "loss" entry plus any per-sample outputs to return at the end. Sample i's loss must depend
            on row i of each param only (inference-mode networks: no batch statistics).
        params: initial values, each of shape (B, ...): the latent codes, and for ADGAN the per-sample
            generator weights. They are copied, never shared.
        steps: Γ, the number of Adam updates (a Python int; 0 evaluates the loss at the start point).
        learning_rates: one per param: a float or a callable (0-based update index → scalar rate).

    Returns:
        (final params, final output of `loss_fn` at the final params): the score is the loss at step Γ.
    """
    params = [tf.cast(tf.convert_to_tensor(p), tf.float32) for p in params]
    if len(learning_rates) != len(params):
        raise ConfigError(f"latent_search: {len(learning_rates)} learning rates for {len(params)} params")
    schedules = [_as_schedule(r) for r in learning_rates]
    steps = int(steps)
    if steps < 0:
        raise ConfigError(f"the number of search steps must be >= 0, got {steps}")

    def body(t, current, ms, vs):
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(current)
            total = tf.reduce_sum(_losses(loss_fn(list(current))))
        grads = tape.gradient(total, list(current))
        new_p, new_m, new_v = [], [], []
        for p, g, m, v, schedule in zip(current, grads, ms, vs, schedules):
            if g is None:
                raise ConfigError("latent_search: the loss does not depend on one of the searched params")
            p, m, v = adam_update(p, g, m, v, t + 1, schedule(t), beta_1, beta_2, epsilon)
            new_p.append(p)
            new_m.append(m)
            new_v.append(v)
        return t + 1, new_p, new_m, new_v

    if steps > 0:
        zeros = [tf.zeros_like(p) for p in params]
        _, params, _, _ = tf.while_loop(
            lambda t, *_: t < steps, body, (tf.constant(0), params, zeros, list(zeros)),
            maximum_iterations=steps, parallel_iterations=1)
        params = list(params)
    return params, loss_fn(params)


def map_chunks(fn, x, chunk_size: int, output_dtypes):
    """Applies `fn` to consecutive chunks of at most `chunk_size` samples of x, one after the other.

    Memory is that of one chunk; the last chunk is zero-padded (its padding rows are dropped), which
    changes nothing for per-sample computations.

    Args:
        fn: chunk (b, ...) → dict of tensors, each with leading dimension b.
        x: tensor (N, ...).
        chunk_size: samples per chunk.
        output_dtypes: dict name → dtype of fn's outputs.

    Returns:
        dict of tensors with leading dimension N.
    """
    chunk_size = int(chunk_size)
    if chunk_size < 1:
        raise ConfigError(f"search_batch_size must be >= 1, got {chunk_size}")
    x = tf.convert_to_tensor(x)
    if x.shape[0] is not None and x.shape[0] <= chunk_size:
        return fn(x)  # one chunk: no padding, no map_fn
    n = tf.shape(x)[0]
    size = tf.maximum(tf.minimum(n, chunk_size), 1)
    num = (n + size - 1) // size
    pad = num * size - n
    padded = tf.pad(x, [[0, pad]] + [[0, 0]] * (len(x.shape) - 1))
    chunks = tf.reshape(padded, tf.concat([[num, size], tf.shape(x)[1:]], 0))
    out = tf.map_fn(fn, chunks, fn_output_signature=dict(output_dtypes), parallel_iterations=1)
    return {k: tf.reshape(v, tf.concat([[num * size], tf.shape(v)[2:]], 0))[:n] for k, v in out.items()}


def initial_latents(seed: int, shape, truncated: bool = False) -> np.ndarray:
    """Seeded starting points of the search, float32 numpy (embedded as a constant in exported graphs).

    Every sample starts from the same draw (its own copy), so a score is a function of the sample alone,
    not of its position in a batch. `truncated` redraws values beyond 2 standard deviations, like
    `tf.random.truncated_normal` (the EGBAD AnoGAN baseline's initialiser).
    """
    rng = np.random.default_rng([int(seed), 0x5EA2C])
    z = rng.standard_normal(tuple(shape))
    if truncated:
        bad = np.abs(z) > 2.0
        while bad.any():
            z[bad] = rng.standard_normal(int(bad.sum()))
            bad = np.abs(z) > 2.0
    return z.astype(np.float32)
