"""GANomaly on MNIST (one anomalous digit) from the local IDX files, plus train/scoring speed.

Quality: for each requested digit, `tfganad.training.runner.run` on the one-anomalous-class protocol
(pool train + test, 80 % of the normals for training with a normal-only validation split carved from
them, test = the other normals + every image of the digit), 32×32×1 in [−1, 1], the paper's model and
optimiser (nz 100, ngf = ndf = 64, Adam 2e-4 / β1 0.5, batch 64, w_adv 1 fm, w_con 50, w_enc 1), latent
score, last epoch kept (no test-label selection). Reduced budget: `--epochs`, `--max-train`,
`--max-test`. Reference: ensemble paper (Han et al. 2021) Table 1, GANomaly row (mean AUROC 0.673).

Speed: train steps/s at 32×32×1, batch 64, on random images (both update schedules), and scoring
throughput (latent score) on the 10,000 MNIST test images resized to 32×32.

    nice -n 10 python benchmarks/ganomaly_mnist.py --digits 0 1 2 --epochs 2 --max-train 3200 \
        --out benchmarks/results/ganomaly_mnist.md
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

import tfganad  # noqa: E402,F401
from common import SHARED_MNIST, forward_macs, machine, matmul_peak, mnist_test_images  # noqa: E402

#: Han et al. 2021 ("GAN Ensemble for Anomaly Detection"), Table 1, GANomaly row, digits 0–9.
PAPER_AUROC = [0.881, 0.661, 0.951, 0.796, 0.809, 0.868, 0.859, 0.671, 0.653, 0.533]
PAPER_MEAN = 0.673


def useful_step_flops(model, batch: int) -> float:
    """FLOPs of one GANomaly step counted as one forward pass of G_E, G_D, E and D on x and x̂, ×3 for
    forward + backward, 2 FLOPs per MAC (the sequential schedule's second forward pass is not counted)."""
    ge, gd, e, d = (forward_macs(n) for n in (model.encoder, model.decoder, model.second_encoder,
                                              model.discriminator))
    return 2.0 * 3.0 * (ge + gd + e + 2 * d) * batch


def speed(args, lines):
    import keras
    import tensorflow as tf

    from tfganad.data import train_dataset
    from tfganad.training.callbacks import score_batches

    peak = matmul_peak()
    lines += [f"Matmul peak (float32 2048×2048, tf.function, this run): {peak:.0f} GFLOP/s", ""]
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (args.batch * 8, 32, 32, 1)).astype(np.float32)
    ds = train_dataset(x, args.batch, seed=0).repeat()  # fit would stop after 8 batches
    lines += ["| schedule | steps/s | images/s | GFLOP/step (useful) | GFLOP/s | % of matmul peak |",
              "|---|---|---|---|---|---|"]
    model = None
    for simultaneous in (False, True):
        keras.utils.set_random_seed(0)
        model = tfganad.models.GANomaly(input_shape=(32, 32, 1), simultaneous_updates=simultaneous)
        model.compile(learning_rate=2e-4, beta_1=0.5)
        model.fit(ds, epochs=1, steps_per_epoch=3, verbose=0)  # trace
        start = time.perf_counter()
        model.fit(ds, epochs=1, steps_per_epoch=args.steps, verbose=0)
        rate = args.steps / (time.perf_counter() - start)
        flops = useful_step_flops(model, args.batch) / 1e9
        # simultaneous_updates is the legacy flag: True = update_order "reference" (the default since
        # #16), False = "d_then_g".
        name = "one forward pass (reference, default)" if simultaneous else "sequential D then G (d_then_g)"
        lines.append(f"| {name} | {rate:.2f} | {rate * args.batch:.0f} | {flops:.1f} | {rate * flops:.0f} | "
                     f"{100 * rate * flops / peak:.0f} % |")
        print(lines[-1], flush=True)
    x_test = mnist_test_images()
    source = "the 10,000 MNIST test images resized to 32×32"
    if x_test is None:
        x_test = rng.uniform(-1, 1, (10000, 28, 28, 1)).astype(np.float32)
        source = "10,000 random images (MNIST absent) resized to 32×32"
    x_test = tf.image.resize(x_test, (32, 32)).numpy()
    score_batches(model, x_test[:512], 256)  # trace
    fn = tf.function(lambda b: model.anomaly_score(b), reduce_retracing=True)
    fn(tf.constant(x_test[:256]))
    start = time.perf_counter()
    for i in range(0, len(x_test), 256):
        fn(tf.constant(x_test[i:i + 256])).numpy()
    latent_rate = len(x_test) / (time.perf_counter() - start)
    start = time.perf_counter()
    score_batches(model, x_test, 256)
    all_rate = len(x_test) / (time.perf_counter() - start)
    lines += ["", f"Scoring on {source}, batch 256, compiled: latent score only (G_E, G_D, E) "
              f"**{latent_rate:.0f} img/s**; all four score components (adds two D passes) {all_rate:.0f} img/s.", ""]
    print(lines[-2], flush=True)


def quality(args, lines):
    from tfganad.config import recipe_from_dict
    from tfganad.training.runner import run

    rows = []
    for digit in args.digits:
        recipe = recipe_from_dict({
            "name": f"ganomaly_mnist_bench_{digit}", "seed": args.seed,
            "model": {"name": "ganomaly", "latent_dim": 100, "filters": 64, "adversarial_loss": "fm",
                      "score": "latent"},
            "data": {"source": "idx", "path": str(args.data), "protocol": "one_anomalous_class",
                     "anomalous_class": digit, "image_size": 32, "max_train_samples": args.max_train,
                     "max_test_samples": args.max_test,
                     "validation_fraction": args.validation_fraction},
            "train": {"epochs": args.epochs, "batch_size": 64, "learning_rate": 2e-4, "beta_1": 0.5,
                      "beta_2": 0.999, "selection": "last", "eval_every": args.epochs, "verbose": 0},
            "export": {"enabled": False, "keras_file": False},
        })
        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            out = run(recipe, run_dir=pathlib.Path(tmp) / "run", echo=lambda *a: None)
        wall = time.perf_counter() - start
        s = out["summaries"][0]
        by = s["metrics_by_score"]
        row = {"digit": digit, "auroc_latent": by["latent"]["auroc"], "auprc_latent": by["latent"]["auprc"],
               "auroc_fm": by["fm"]["auroc"], "auroc_bce": by["bce"]["auroc"],
               "auroc_contextual": by["contextual"]["auroc"], "paper": PAPER_AUROC[digit],
               "train_seconds": s["train_seconds"], "wall_seconds": wall}
        rows.append(row)
        print(json.dumps(row), flush=True)
    lines += ["| anomalous digit | AUROC latent (paper score) | paper (Table 1) | AUROC fm | AUROC bce | "
              "AUROC contextual | train s | wall s |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['digit']} | **{r['auroc_latent']:.3f}** | {r['paper']:.3f} | {r['auroc_fm']:.3f} | "
                     f"{r['auroc_bce']:.3f} | {r['auroc_contextual']:.3f} | {r['train_seconds']:.0f} | "
                     f"{r['wall_seconds']:.0f} |")
    mean = float(np.mean([r["auroc_latent"] for r in rows]))
    paper_mean = float(np.mean([r["paper"] for r in rows]))
    lines += [f"| mean of these digits | **{mean:.3f}** | {paper_mean:.3f} (all 10: {PAPER_MEAN}) | | | | | |", ""]
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--digits", type=int, nargs="*", default=[0, 1, 2, 3])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--max-train", type=int, default=12800)
    parser.add_argument("--max-test", type=int, default=4000)
    parser.add_argument("--validation-fraction", type=float, default=0.02)
    parser.add_argument("--data", default=str(SHARED_MNIST))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    import tensorflow as tf

    start = time.perf_counter()
    lines = ["# GANomaly on MNIST (tfganad)", "", f"Command: `nice -n 10 python {' '.join(sys.argv)}`", "",
             f"Machine: {machine()}. TensorFlow {tf.__version__}.", ""]
    if not args.skip_speed:
        lines += ["## Speed (32×32×1, batch 64, nz 100, ngf = ndf = 64, float32, no XLA)", "",
                  "anomalib GANomaly on this machine type (PERFORMANCE.md): 2.88 steps/s, 1,259 img/s scoring; "
                  "survey toolbox GANomaly 3.21 steps/s (its second encoder is never trained), 742 img/s.", ""]
        speed(args, lines)
    if not args.skip_quality:
        lines += ["## AUROC, one anomalous digit", "",
                  f"Protocol: one_anomalous_class on the pooled 70,000 MNIST images (local IDX files), seed "
                  f"{args.seed}; training subset of {args.max_train} normals, {args.epochs} epochs "
                  f"(the paper: all ≈54k normals, 15 epochs, best test-AUROC epoch of 3 seeds); test subset of "
                  f"{args.max_test} images; validation = {args.validation_fraction:.0%} of the training normals "
                  f"(calibration only); last epoch kept; scores from the model's inference mode.", ""]
        quality(args, lines)
    lines += [f"Total wall time: {time.perf_counter() - start:.0f} s."]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        pathlib.Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
