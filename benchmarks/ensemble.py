"""GAN ensembles (Han et al. 2021): ensemble size sweep on MNIST and EGBAD vs EGBAD-ensemble on KDD99.

sizes: GANomaly and GANomaly ensembles of I = J in `--sizes` (Figure 5 of the paper does this on
CIFAR-10 "ship"; here MNIST with the anomalous digit of the reference scripts, 3), through the runner
on one-anomalous-class MNIST from the local IDX files, random_pair schedule with the paper's epoch rule
(an ensemble of size k trains k x the base's epochs), latent score, last epoch kept. Reports AUROC per
size and the training time relative to size 1 (paper: I = J = 3 takes about 3x).

kdd99: EGBAD (Table 5 settings: encoding 32, lr 2e-4, batch 1024, beta 0.1) next to the EGBAD ensemble
of recipes/ensemble_egbad_kdd99.yaml (I = J = 3, all_pairs) and IsolationForest, on the same splits,
P/R/F1 at the top-20 % rule (paper Table 4: EGBAD 0.939, EGBAD_en 0.966).

    nice -n 10 python benchmarks/ensemble.py sizes --sizes 1 3 5 --max-train 3200 --epochs 1
    nice -n 10 python benchmarks/ensemble.py kdd99 --seeds 0 1 2 --epochs 5
    python benchmarks/ensemble.py speed --sizes 3 5

speed: steady-state train steps/s of GANomaly and of its ensembles under both schedules, and the
one-off tracing time (random_pair traces one branch per pair).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import SHARED_MNIST, machine  # noqa: E402
from tabular_kdd99_arrhythmia import SHARED, gan_run, isolation_forest  # noqa: E402

#: Han et al. 2021, Table 1 (MNIST, one anomalous digit): digit 3 and the row averages as printed.
PAPER_MNIST_DIGIT3 = {"GANomaly": 0.796, "GANomaly_en": 0.883}
PAPER_KDD99 = {"egbad": 0.939, "ensemble": 0.966, "isolation_forest": None}


def sizes(args):
    from tfganad.config import recipe_from_dict
    from tfganad.training.runner import run

    rows = []
    for k in args.sizes:
        model = {"name": "ganomaly", "latent_dim": 100, "filters": args.filters, "adversarial_loss": "fm",
                 "score": "latent"}
        if k > 1:
            model = {**model, "name": "ensemble", "base": "ganomaly", "generators": k, "discriminators": k,
                     "schedule": "random_pair"}
        recipe = recipe_from_dict({
            "name": f"ensemble_size_{k}", "seed": args.seed, "model": model,
            "data": {"source": "idx", "path": str(args.data), "protocol": "one_anomalous_class",
                     "anomalous_class": args.digit, "image_size": 32, "max_train_samples": args.max_train,
                     "max_test_samples": args.max_test, "validation_fraction": 0.02},
            "train": {"epochs": args.epochs, "batch_size": 64, "learning_rate": 2e-4, "beta_1": 0.5,
                      "beta_2": 0.999, "selection": "last", "eval_every": 1000, "verbose": 0},
            "export": {"enabled": False, "keras_file": False},
        })
        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            out = run(recipe, run_dir=pathlib.Path(tmp) / "run", echo=lambda *a: None)
        s = out["summaries"][0]
        by = s["metrics_by_score"]
        row = {"size": k, "epochs_run": s["epochs_run"], "auroc_latent": by["latent"]["auroc"],
               "auprc_latent": by["latent"]["auprc"], "auroc_fm": by["fm"]["auroc"],
               "auroc_contextual": by["contextual"]["auroc"], "train_seconds": round(s["train_seconds"], 1),
               "wall_seconds": round(time.perf_counter() - start, 1)}
        rows.append(row)
        print(json.dumps(row), flush=True)
    base = next((r for r in rows if r["size"] == 1), rows[0])
    lines = [f"Anomalous digit {args.digit}; ≤ {args.max_train} training normals, ≤ {args.max_test} test images, "
             f"{args.epochs} base epoch(s) (size k trains k x), filters {args.filters}, seed {args.seed}.", "",
             "| I = J | epochs run | AUROC latent | AUPRC latent | AUROC fm | AUROC contextual | train s | "
             "train time / size 1 |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['size']} | {r['epochs_run']} | **{r['auroc_latent']:.3f}** | {r['auprc_latent']:.3f} | "
                     f"{r['auroc_fm']:.3f} | {r['auroc_contextual']:.3f} | {r['train_seconds']:.0f} | "
                     f"{r['train_seconds'] / base['train_seconds']:.2f}x |")
    lines += ["", f"Paper (Table 1, digit 3, full budget): GANomaly {PAPER_MNIST_DIGIT3['GANomaly']}, "
              f"GANomaly_en (I = J = 3) {PAPER_MNIST_DIGIT3['GANomaly_en']}."]
    return rows, lines


def kdd99(args):
    from tfganad.config import load_recipe
    from tfganad.data import load_data

    base_overrides = [("data.path", args.kdd_path), ("train.epochs", args.epochs), ("train.batch_size", 1024),
                      ("train.learning_rate", 2e-4), ("train.ema_momentum", None), ("train.eval_every", 1000)]
    ens_overrides = [("data.path", args.kdd_path), ("train.epochs", args.epochs), ("train.eval_every", 1000)]
    rows = []
    with tempfile.TemporaryDirectory(prefix="tfganad_ens_") as tmp:
        for seed in args.seeds:
            spec = load_recipe(ROOT / "recipes/ensemble_egbad_kdd99.yaml", [("seed", seed), *ens_overrides]).data
            data = load_data(spec, seed)
            print(f"seed {seed}: {data.summary()}", flush=True)
            jobs = [("isolation_forest", None, None), ("egbad", "recipes/egbad_kdd99.yaml", base_overrides),
                    ("ensemble", "recipes/ensemble_egbad_kdd99.yaml", ens_overrides)]
            for name, path, overrides in jobs:
                if path is None:
                    row = isolation_forest(data, seed)
                else:
                    row = gan_run(path, data, seed, overrides, pathlib.Path(tmp) / f"{name}_{seed}")
                rows.append({"model": name, "seed": seed, **row})
                print(f"  {name}: F1 {row['f1']:.4f} AUROC {row['auroc']:.4f} ({row['seconds']}s)", flush=True)
    lines = [f"Seeds {args.seeds}; GAN epochs {args.epochs} (paper: 5 for EGBAD; the ensemble runs all_pairs).", "",
             "| model | seeds | precision | recall | F1 | AUROC | train s (mean) | paper F1 (Table 4) |",
             "|---|---|---|---|---|---|---|---|"]
    for name in ("isolation_forest", "egbad", "ensemble"):
        sel = [r for r in rows if r["model"] == name]

        def stat(key):
            v = np.array([r[key] for r in sel], float)
            return f"{v.mean():.4f} ± {v.std():.4f}" if len(v) > 1 else f"{v[0]:.4f}"
        train = np.mean([r.get("train_seconds", r["seconds"]) for r in sel])
        paper = PAPER_KDD99[name]
        lines.append(f"| {name} | {len(sel)} | {stat('precision')} | {stat('recall')} | **{stat('f1')}** | "
                     f"{stat('auroc')} | {train:.0f} | {paper if paper else '-'} |")
    return rows, lines


def speed(args):
    """Steady-state train steps/s and trace time of GANomaly vs its I = J ensembles (random images)."""
    import keras

    import tfganad
    from tfganad.data import train_dataset

    x = np.random.default_rng(0).uniform(-1, 1, (args.batch * 8, 32, 32, 1)).astype(np.float32)
    ds = train_dataset(x, args.batch, seed=0).repeat()  # fit would stop after 8 batches
    rows = []
    for k, schedule in [(1, None)] + [(k, s) for k in args.sizes if k > 1 for s in ("random_pair", "all_pairs")]:
        keras.utils.set_random_seed(0)
        kw = {"input_shape": (32, 32, 1), "latent_dim": 100, "filters": args.filters}
        if k == 1:
            model = tfganad.models.GANomaly(**kw)
        else:
            model = tfganad.models.GANEnsemble(base="ganomaly", generators=k, discriminators=k, schedule=schedule,
                                               **kw)
        model.compile(learning_rate=2e-4, beta_1=0.5)
        start = time.perf_counter()
        model.fit(ds, epochs=1, steps_per_epoch=2, verbose=0)  # trace + 2 steps
        trace = time.perf_counter() - start
        start = time.perf_counter()
        model.fit(ds, epochs=1, steps_per_epoch=args.steps, verbose=0)
        rate = args.steps / (time.perf_counter() - start)
        rows.append({"size": k, "schedule": schedule or "-", "steps_per_s": rate, "trace_s": trace})
        print(json.dumps(rows[-1]), flush=True)
    base = rows[0]["steps_per_s"]
    lines = [f"GANomaly 32×32×1, batch {args.batch}, filters {args.filters}, {args.steps} timed steps after tracing.",
             "", "| I = J | schedule | steps/s | step time / base | trace + 2 steps, s | members stepped per step |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        stepped = "1 G, 1 D" if r["schedule"] == "random_pair" else ("all" if r["size"] > 1 else "-")
        lines.append(f"| {r['size']} | {r['schedule']} | {r['steps_per_s']:.2f} | {base / r['steps_per_s']:.2f}x | "
                     f"{r['trace_s']:.0f} | {stepped} |")
    return rows, lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="task", required=True)
    p = sub.add_parser("sizes")
    p.add_argument("--sizes", type=int, nargs="+", default=[1, 3, 5])
    p.add_argument("--digit", type=int, default=3)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--max-train", type=int, default=3200)
    p.add_argument("--max-test", type=int, default=2000)
    p.add_argument("--filters", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", default=str(SHARED_MNIST))
    k = sub.add_parser("kdd99")
    k.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    k.add_argument("--epochs", type=int, default=5)
    k.add_argument("--kdd-path", default=str(SHARED / "kddcup99"))
    v = sub.add_parser("speed")
    v.add_argument("--sizes", type=int, nargs="+", default=[3])
    v.add_argument("--steps", type=int, default=20)
    v.add_argument("--batch", type=int, default=64)
    v.add_argument("--filters", type=int, default=32)
    for q in (p, k, v):
        q.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    rows, lines = {"sizes": sizes, "kdd99": kdd99, "speed": speed}[args.task](args)
    wall = time.perf_counter() - start
    text = "\n".join([f"Command: `python benchmarks/ensemble.py {' '.join(sys.argv[1:])}`", "",
                      f"Machine: {machine()}; wall time {wall / 60:.1f} min.", "", *lines, ""])
    print(text)
    if args.out:
        out = pathlib.Path(args.out)
        out.write_text(text)
        out.with_suffix(".json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
