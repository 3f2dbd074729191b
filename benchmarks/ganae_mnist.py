"""GANAE on MNIST: "1 versus 9" and "9 versus 1" AUROC for a few digits, with the paper's ablations.

Rafiee & Fevens (arXiv:2112.15541) report AUROC averaged over the ten digits and three runs: RSGAN with
the latent term 0.625 (1 vs 9) / 0.716 (9 vs 1) (Table 3); without the latent term, β = 0, 0.547 / 0.670
(Table 6); with the standard GAN loss 0.557 / 0.693 (Table 7). This script trains one RSGAN and one SGAN
model per (protocol, digit) and scores each with β = 0.5 and β = 0 (β only enters the score, so both
Table 6 rows come from the same trained model), on reduced data, epochs and network width so that the
whole run fits a CPU budget. Reads MNIST from local IDX files; writes a markdown table and a JSON file.

    nice -n 10 python benchmarks/ganae_mnist.py --data /work/shared/data/mnist --digits 0 1 2 --epochs 4
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfganad.config import DataSpec  # noqa: E402
from tfganad.data import load_data  # noqa: E402
from tfganad.models.ganae import GANAE  # noqa: E402
from tfganad.scores import latent_augmented_score  # noqa: E402
from tfganad.training.metrics import auroc  # noqa: E402

PAPER = {  # mean AUROC over ten digits × three runs
    ("one_vs_nine", "rsgan", 0.5): 0.625, ("nine_vs_one", "rsgan", 0.5): 0.716,  # Table 3
    ("one_vs_nine", "rsgan", 0.0): 0.547, ("nine_vs_one", "rsgan", 0.0): 0.670,  # Table 6
    ("one_vs_nine", "sgan", 0.5): 0.557, ("nine_vs_one", "sgan", 0.5): 0.693,    # Table 7
}
PROTOCOLS = ("one_vs_nine", "nine_vs_one")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default="/work/shared/data/mnist", help="directory with the four MNIST IDX files")
    p.add_argument("--digits", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--max-train", type=int, default=6000, help="training images per run (random subset)")
    p.add_argument("--max-test-per-label", type=int, default=2000,
                   help="at most this many normal and this many anomalous test images (random subset)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--learning-rate", type=float, default=2e-4)
    p.add_argument("--latent-dim", type=int, default=100)
    p.add_argument("--filters", type=int, default=16)
    p.add_argument("--dense-units", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--budget-minutes", type=float, default=18.0, help="start no new run after this")
    p.add_argument("--out", default=str(pathlib.Path(__file__).parent / "results" / "ganae_mnist"))
    p.add_argument("--previous", default=None,
                   help="JSON of an earlier run with the same settings: its cells are kept, not re-run")
    return p.parse_args(argv)


def subsample_test(x, y, cap, rng):
    """Keeps at most `cap` normal and `cap` anomalous test images, so 9-vs-1 keeps enough normals."""
    keep = []
    for label in (0, 1):
        idx = np.flatnonzero(y == label)
        keep.append(rng.permutation(idx)[:cap] if len(idx) > cap else idx)
    keep = np.sort(np.concatenate(keep))
    return x[keep], y[keep]


def score_parts(model, x, batch=500):
    """Eq. 7's three terms for every test image, batched in one traced function."""
    fn = tf.function(lambda xb: model.score_components(xb, training=False), reduce_retracing=True)
    parts = [fn(tf.constant(x[i:i + batch])) for i in range(0, len(x), batch)]
    return {k: np.concatenate([p[k].numpy() for p in parts]) for k in ("discrimination", "residual", "latent")}


def run_one(args, protocol, digit, objective, data):
    keras.utils.set_random_seed(args.seed)
    model = GANAE(input_shape=data["x_train"].shape[1:], latent_dim=args.latent_dim, adversarial_loss=objective,
                  score_lambda=0.8, score_beta=0.5, filters=args.filters, dense_units=args.dense_units,
                  seed=args.seed)
    model.compile(learning_rate=args.learning_rate, beta_1=0.5, beta_2=0.999)
    t0 = time.time()
    model.fit(data["x_train"], batch_size=args.batch_size, epochs=args.epochs, shuffle=True, verbose=0)
    train_s = time.time() - t0
    parts = score_parts(model, data["x_test"])
    y = data["y_test"]
    row = {"protocol": protocol, "digit": digit, "objective": objective, "train_seconds": round(train_s, 1),
           "n_train": int(len(data["x_train"])), "n_test": int(len(y)), "anomaly_share": float(y.mean())}
    for beta in (0.5, 0.0):
        score = latent_augmented_score(parts["discrimination"], parts["residual"], parts["latent"], 0.8, beta)
        row[f"auroc_beta{beta}"] = auroc(y, score.numpy())
    for term, values in parts.items():
        row[f"auroc_{term}"] = auroc(y, values)
    return row


def load_split(args, protocol, digit):
    key = "anomalous_class" if protocol == "one_vs_nine" else "normal_class"
    spec = DataSpec(source="mnist", path=args.data, protocol=protocol, image_size=28,
                    max_train_samples=args.max_train, **{key: digit})
    split = load_data(spec, seed=args.seed)
    x_test, y_test = subsample_test(split.x_test, split.y_test, args.max_test_per_label,
                                    np.random.default_rng(args.seed))
    return {"x_train": split.x_train, "x_test": x_test, "y_test": y_test}


def write_markdown(args, rows, wall, command, path):
    lines = [
        "# GANAE on MNIST (Rafiee & Fevens): 1 vs 9 and 9 vs 1, with the Table 6 / Table 7 ablations",
        "",
        f"Command: `{command}`",
        "",
        f"Wall time: {wall / 60:.1f} min on {platform.machine()} ({os.cpu_count()} cores, shared, `nice -n 10`); "
        f"TensorFlow {tf.__version__}, Keras {keras.__version__}.",
        "",
        f"Settings: {args.epochs} epochs, ≤ {args.max_train} training images per run (random subset of the "
        f"protocol's training normals), test subsampled to ≤ {args.max_test_per_label} normal + "
        f"≤ {args.max_test_per_label} anomalous images, batch {args.batch_size}, AdamW lr {args.learning_rate} "
        f"(β1 0.5), latent {args.latent_dim}, filters {args.filters}, dense units {args.dense_units}, "
        f"λ = 0.8, score reduction `mean`, seed {args.seed}, last epoch (no model selection), MNIST's own "
        "train/test split as in the authors' code. "
        "The paper trains the full-width networks for up to 85 epochs on all data and averages ten digits × "
        "three runs, so only the direction of the ablations is comparable, not the absolute values.",
        "",
        "| protocol | digit | RSGAN β=0.5 | RSGAN β=0 | SGAN β=0.5 | SGAN β=0 | L_D | L_R | L_L (RSGAN) | train s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    by = {(r["protocol"], r["digit"], r["objective"]): r for r in rows}
    for protocol in PROTOCOLS:
        for digit in args.digits:
            rs, sg = by.get((protocol, digit, "rsgan")), by.get((protocol, digit, "sgan"))
            if rs is None:
                continue
            fmt = lambda r, k: f"{r[k]:.3f}" if r else "—"  # noqa: E731
            seconds = rs["train_seconds"] + (sg["train_seconds"] if sg else 0)
            lines.append(f"| {protocol} | {digit} | {fmt(rs, 'auroc_beta0.5')} | {fmt(rs, 'auroc_beta0.0')} | "
                         f"{fmt(sg, 'auroc_beta0.5')} | {fmt(sg, 'auroc_beta0.0')} | "
                         f"{fmt(rs, 'auroc_discrimination')} | {fmt(rs, 'auroc_residual')} | "
                         f"{fmt(rs, 'auroc_latent')} | {seconds:.0f} |")
    lines += ["", "Means over the digits run here, next to the paper's means over all ten digits:", "",
              "| protocol | row | here | paper |", "|---|---|---|---|"]
    for protocol in PROTOCOLS:
        for objective, beta, label in (("rsgan", 0.5, "RSGAN, β = 0.5 (Table 3)"),
                                       ("rsgan", 0.0, "RSGAN, β = 0 (Table 6)"),
                                       ("sgan", 0.5, "SGAN, β = 0.5 (Table 7)")):
            vals = [r[f"auroc_beta{beta}"] for r in rows
                    if r["protocol"] == protocol and r["objective"] == objective]
            here = f"{np.mean(vals):.3f} (n={len(vals)})" if vals else "not run"
            lines.append(f"| {protocol} | {label} | {here} | {PAPER[(protocol, objective, beta)]:.3f} |")
    path.write_text("\n".join(lines) + "\n")


def main(argv=None):
    args = parse_args(argv)
    command = "nice -n 10 python " + " ".join([pathlib.Path(sys.argv[0]).as_posix()] + (argv or sys.argv[1:]))
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    start, rows = time.time(), []
    if args.previous:
        rows = json.loads(pathlib.Path(args.previous).read_text())["rows"]
    done = {(r["protocol"], r["digit"], r["objective"]) for r in rows}
    for protocol in PROTOCOLS:
        for digit in args.digits:
            if all((protocol, digit, o) in done for o in ("rsgan", "sgan")):
                continue
            data = load_split(args, protocol, digit)
            for objective in ("rsgan", "sgan"):
                if (protocol, digit, objective) in done:
                    continue
                if time.time() - start > args.budget_minutes * 60:
                    print(f"budget reached; skipping {protocol} digit {digit} {objective}", flush=True)
                    continue
                row = run_one(args, protocol, digit, objective, data)
                rows.append(row)
                print(json.dumps(row), flush=True)
                wall = time.time() - start
                out.with_suffix(".json").write_text(json.dumps({"args": vars(args), "wall_seconds": wall,
                                                                "rows": rows}, indent=1))
                write_markdown(args, rows, wall, command, out.with_suffix(".md"))
    print(f"wrote {out.with_suffix('.md')} in {(time.time() - start) / 60:.1f} min")


if __name__ == "__main__":
    main()
