"""Latent-search throughput: AnoGAN scoring by the batched engine vs per-sample loops, same run.

Scores N MNIST-size images (28×28×1) with AnoGAN (Γ search steps, default 500) three ways, on the
same generator/critic and the same machine, in one process:

* batched: `model.anomaly_score` in one tf.function — all samples' latent codes and Adam states are
  tensors with a sample dimension, Γ batched steps in a `tf.while_loop` (tfganad.search);
* loop A ("plain per-sample loop", how the reference implementations score): a Python loop over
  samples and over steps, one compiled Adam step (batch of 1) per call;
* loop B (a stronger per-sample baseline): a Python loop over samples, each running the compiled
  Γ-step engine on a batch of one.

The loops are timed on `--loop-samples` samples and extrapolated linearly to N (each sample costs the
same: same Γ, same shapes). Loop A's scores are checked against the batched ones (same math).

Usage:
    nice -n 10 python benchmarks/latent_search_throughput.py --n 1000 --steps 500 --loop-samples 10 \
        --out benchmarks/results/latent_search_throughput.md
"""

from __future__ import annotations

import argparse
import gzip
import os
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from common import SHARED_MNIST, forward_macs, machine, matmul_peak  # noqa: E402


def load_images(n: int, seed: int):
    """n test images of MNIST scaled to [−1, 1] when the shared IDX files exist, else uniform noise."""
    path = SHARED_MNIST / "t10k-images-idx3-ubyte.gz"
    if path.is_file():
        with gzip.open(path, "rb") as fh:
            raw = np.frombuffer(fh.read(), np.uint8, offset=16).reshape(-1, 28, 28, 1)
        pick = np.random.default_rng(seed).permutation(len(raw))[:n]
        return raw[pick].astype("float32") / 127.5 - 1.0, "MNIST test images (shared IDX files)"
    return np.random.default_rng(seed).uniform(-1, 1, (n, 28, 28, 1)).astype("float32"), "uniform noise"


class Clock:
    """Wall-clock and process CPU time of a block (CPU time is less sensitive to other users' load)."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def bench_config(x, filters: int, args):
    """Times the batched engine and both per-sample loops for one network width → dict of results."""
    import keras
    import tensorflow as tf

    from tfganad.models.anogan import AnoGAN
    from tfganad.search import adam_update, initial_latents

    keras.utils.set_random_seed(args.seed)
    model = AnoGAN(input_shape=(28, 28, 1), latent_dim=args.latent, filters=filters, search_steps=args.steps,
                   search_batch_size=args.chunk, seed=args.seed)
    spec = tf.TensorSpec((None, 28, 28, 1), tf.float32)
    batched = tf.function(lambda b: model.anomaly_score(b), input_signature=[spec])
    with Clock() as trace:
        batched(x[:2]).numpy()  # trace + one tiny run (the same graph serves every batch size)

    lr = model._learning_rate

    @tf.function(input_signature=[tf.TensorSpec((1, 28, 28, 1)), tf.TensorSpec((1, None)),
                                  tf.TensorSpec((1, args.latent)), tf.TensorSpec((1, args.latent)),
                                  tf.TensorSpec((1, args.latent)), tf.TensorSpec((), tf.int32)])
    def step(x1, f1, z, m, v, t):
        with tf.GradientTape() as tape:
            tape.watch(z)
            loss = tf.reduce_sum(model._search_loss(x1, f1, z)["loss"])
        g = tape.gradient(loss, z)
        return adam_update(z, g, m, v, t + 1, lr(t), model.search_beta_1, model.search_beta_2,
                           model.search_epsilon)

    final_loss = tf.function(lambda x1, f1, z: model._search_loss(x1, f1, z)["loss"])
    features = tf.function(lambda x1: model.discriminator(x1, training=False)[1])
    z0 = tf.constant(initial_latents(model.seed, (1, args.latent), truncated=True))

    def loop_a(i):
        x1 = tf.constant(x[i:i + 1])
        f1 = features(x1)
        z, m, v = z0, tf.zeros_like(z0), tf.zeros_like(z0)
        for t in range(args.steps):
            z, m, v = step(x1, f1, z, m, v, tf.constant(t))
        return float(final_loss(x1, f1, z)[0])

    def loop_b(i):
        return float(batched(x[i:i + 1]).numpy()[0])

    loop_a(0)  # trace
    k = min(args.loop_samples, len(x))
    halves = [range(0, k // 2), range(k // 2, k)]
    out = {"filters": filters, "trace_s": trace.wall, "loop_a": [], "loop_b": [], "a_wall": 0.0, "a_cpu": 0.0,
           "b_wall": 0.0, "b_cpu": 0.0, "k": k}
    # The loops are timed half before and half after the batched run, so load changes hit both alike.
    for half_index, half in enumerate(halves):
        with Clock() as c:
            out["loop_a"] += [loop_a(i) for i in half]
        out["a_wall"] += c.wall
        out["a_cpu"] += c.cpu
        with Clock() as c:
            out["loop_b"] += [loop_b(i) for i in half]
        out["b_wall"] += c.wall
        out["b_cpu"] += c.cpu
        if half_index == 0:
            with Clock() as c:
                out["scores"] = batched(x).numpy()
            out["batched_wall"], out["batched_cpu"] = c.wall, c.cpu
    out["macs_step"] = 2 * (forward_macs(model.generator) + forward_macs(model.discriminator))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="images scored by the batched engine")
    parser.add_argument("--steps", type=int, default=500, help="Γ, search steps per image")
    parser.add_argument("--loop-samples", type=int, default=10, help="images timed in each per-sample loop")
    parser.add_argument("--filters", type=int, nargs="+", default=[32, 8], help="DCGAN widths to measure")
    parser.add_argument("--latent", type=int, default=100)
    parser.add_argument("--chunk", type=int, default=256, help="search_batch_size (samples per chunk)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="markdown file for the results")
    args = parser.parse_args(argv)

    import keras
    import tensorflow as tf

    start_line = machine()
    x, source = load_images(args.n, args.seed)
    peak_before = matmul_peak()
    results = [bench_config(x, f, args) for f in args.filters]
    peak_after = matmul_peak()

    command = "nice -n 10 python benchmarks/latent_search_throughput.py " + " ".join(
        argv if argv is not None else sys.argv[1:])
    lines = [
        "# Latent-search throughput: batched engine vs per-sample loops (AnoGAN, same run)",
        "",
        f"Command: `{command.strip()}`",
        "",
        f"Machine: {start_line}; load average {os.getloadavg()[0]:.2f} at the end. TensorFlow "
        f"{tf.__version__}, Keras {keras.__version__}, float32, no XLA, CPU only (no GPU was lent to this "
        f"task). Same-run float32 matmul peak: {peak_before:.0f} GFLOP/s before, {peak_after:.0f} after "
        f"(PERFORMANCE.md, idle machine: 209).",
        "",
        f"Model: AnoGAN, DCGAN generator and critic (latent {args.latent}), untrained weights (speed does not "
        f"depend on training); feature-matching search loss, λ = 0.1, Γ = {args.steps} Adam steps with the "
        f"piecewise schedule 0.01/0.001/0.0005. Inputs: {args.n} {source}, 28×28×1. Batched engine: "
        f"search_batch_size {args.chunk}.",
        "",
        "Methods: **batched** = `model.anomaly_score` on all N images in one tf.function (per-sample z and "
        "Adam moments as tensors, Γ steps in one `tf.while_loop`); **loop A** (plain per-sample loop, the "
        "reference implementations' pattern) = Python loop over images and steps, one compiled Adam step "
        "on a batch of one per call; **loop B** = Python loop over images, each running the compiled "
        f"Γ-step engine on a batch of one. The loops run on {args.loop_samples} images (half before, half "
        "after the batched run) and are extrapolated linearly to N. CPU = process CPU time (all threads), "
        "less sensitive than wall time to the other sessions sharing the 2 cores.",
        "",
        "| filters | M MAC / image·step | method | wall for N | CPU for N | images/s (wall) | speed-up wall | "
        "speed-up CPU |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        scale = args.n / r["k"]
        rows = [("batched", r["batched_wall"], r["batched_cpu"]),
                ("loop A", r["a_wall"] * scale, r["a_cpu"] * scale),
                ("loop B", r["b_wall"] * scale, r["b_cpu"] * scale)]
        for name, wall, cpu in rows:
            lines.append(f"| {r['filters']} | {r['macs_step'] / 1e6:.2f} | {name} | {wall:.1f} s | {cpu:.1f} s | "
                         f"{args.n / wall:.2f} | {wall / r['batched_wall']:.1f}× | {cpu / r['batched_cpu']:.1f}× |")
    lines.append("")
    for r in results:
        flops = 2.0 * r["macs_step"] * args.n * args.steps
        ref = r["scores"][:r["k"]]
        agree = max(float(np.max(np.abs(np.asarray(r[k]) - ref) / np.abs(ref))) for k in ("loop_a", "loop_b"))
        lines.append(f"- filters {r['filters']}: batched {r['batched_wall'] / (args.n * args.steps) * 1e6:.0f} µs "
                     f"per image·step (wall), {flops / r['batched_wall'] / 1e9:.1f} GFLOP/s; tracing "
                     f"{r['trace_s']:.1f} s (not included); loop scores equal the batched ones to a relative "
                     f"{agree:.1e}.")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        pathlib.Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
