"""EGBAD speed: train steps/s (float32 / mixed_bfloat16, XLA on/off), achieved GFLOP/s against the
matmul peak measured in the same run, scoring throughput on the 10,000 MNIST test images, and the
share of step time spent waiting for input.

    python benchmarks/egbad_speed.py --out benchmarks/results/egbad_speed.md
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

import tfganad  # noqa: E402,F401
from common import forward_macs, machine, matmul_peak, mnist_test_images  # noqa: E402


def step_flops(model, batch: int) -> float:
    """FLOPs of one EGBAD train step: 2·MACs of every forward pass it runs, ×3 for forward + backward."""
    e, g, d = (forward_macs(n) for n in (model.encoder, model.generator, model.discriminator))
    per_sample = e + g + 2 * d + (g if model.residual else 0)
    return 2.0 * 3.0 * per_sample * batch


def build(precision: str, jit: bool, args):
    import keras

    from tfganad.training.runner import precision_policy

    with precision_policy(precision):
        keras.utils.set_random_seed(0)
        model = tfganad.models.EGBAD(input_shape=(28, 28, 1), latent_dim=args.latent, filters=args.filters,
                                     dense_units=args.dense, case="case1")
        model.compile(learning_rate=1e-4, jit_compile=jit)
        model.build_from_sample()
    return model


def time_steps(model, ds, steps: int, precision: str) -> float:
    from tfganad.training.runner import precision_policy

    with precision_policy(precision):
        model.fit(ds, epochs=1, steps_per_epoch=3, verbose=0)  # trace / compile
        start = time.perf_counter()
        model.fit(ds, epochs=1, steps_per_epoch=steps, verbose=0)
        return steps / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--latent", type=int, default=200)
    parser.add_argument("--filters", type=int, default=32)
    parser.add_argument("--dense", type=int, default=1024)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    import tensorflow as tf

    from tfganad.data import train_dataset
    from tfganad.training.callbacks import score_batches

    lines = [f"Machine: {machine()}. TensorFlow {tf.__version__}.", ""]
    peak = matmul_peak()
    lines.append(f"Matmul peak (float32 2048×2048, tf.function, this run): **{peak:.0f} GFLOP/s**")
    x_test = mnist_test_images()
    source = "MNIST test set (../shared/data)"
    if x_test is None:
        x_test = np.random.default_rng(0).uniform(-1, 1, (10000, 28, 28, 1)).astype(np.float32)
        source = "random 28×28 images (MNIST not present)"
    x_train = np.concatenate([x_test] * 2)
    real_ds = train_dataset(x_train, args.batch, seed=0)
    fixed_ds = train_dataset(x_train[: args.batch * 4], args.batch, seed=0).take(1).cache().repeat()
    lines += ["", f"EGBAD 28×28×1, latent {args.latent}, filters {args.filters}, dense {args.dense}, case1 "
              f"(bce + residual), batch {args.batch}, {args.steps} timed steps after 3 warm-up steps.", "",
              "| precision | XLA | steps/s | GFLOP/step | achieved GFLOP/s | % of matmul peak |", "|---|---|---|---|---|---|"]
    base_rate = None
    results = {}
    for precision in ("float32", "mixed_bfloat16"):
        for jit in (False, True):
            model = build(precision, jit, args)
            rate = time_steps(model, real_ds, args.steps, precision)
            gflop = step_flops(model, args.batch) / 1e9
            results[(precision, jit)] = (model, rate)
            if precision == "float32" and not jit:
                base_rate = rate
            lines.append(f"| {precision} | {'on' if jit else 'off'} | {rate:.2f} | {gflop:.1f} | {rate * gflop:.0f} | "
                         f"{100 * rate * gflop / peak:.0f} % |")
            print(lines[-1], flush=True)
    bf16 = results[("mixed_bfloat16", False)][1]
    lines += ["", f"mixed_bfloat16 / float32 (XLA off): **{bf16 / base_rate:.2f}×**."]
    # Input pipeline: the same model fed from an in-memory repeated batch vs the real pipeline.
    model, _ = results[("float32", False)]
    fixed_rate = time_steps(model, fixed_ds, args.steps, "float32")
    real_rate = time_steps(model, real_ds, args.steps, "float32")
    start = time.perf_counter()
    n = 0
    for _ in real_ds.take(200):
        n += 1
    pipe_rate = n / (time.perf_counter() - start)
    wait = max(0.0, 1.0 - real_rate / fixed_rate)
    lines += ["", f"Input pipeline (cache → shuffle → batch → prefetch): {pipe_rate:.0f} batches/s alone; "
              f"steps/s with the real pipeline {real_rate:.2f} vs a cached in-memory batch {fixed_rate:.2f} → "
              f"share of step time waiting for input ≈ **{100 * wait:.1f} %**."]
    # Scoring throughput on 10,000 images.
    lines += ["", f"Scoring throughput on {len(x_test):,} images ({source}), all score variants in one pass:", "",
              "| precision | batch | img/s |", "|---|---|---|"]
    for precision in ("float32", "mixed_bfloat16"):
        model, _ = results[(precision, False)]
        for batch in (500,):
            score_batches(model, x_test[:batch], batch)
            start = time.perf_counter()
            score_batches(model, x_test, batch)
            rate = len(x_test) / (time.perf_counter() - start)
            lines.append(f"| {precision} | {batch} | {rate:.0f} |")
            print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        pathlib.Path(args.out).write_text(f"# EGBAD speed\n\nCommand: `python benchmarks/egbad_speed.py "
                                          f"{' '.join(sys.argv[1:])}`\n\n" + text)


if __name__ == "__main__":
    main()
