"""EGBAD on MNIST (local IDX files), survey protocol, one anomalous digit at a time: AUPRC and AUROC per
class for the chosen survey cases, with epochs and wall time. Selection on normal validation data only.

    python benchmarks/egbad_mnist_quality.py --classes 0 1 2 3 4 5 6 7 8 9 --cases case1 case3 \
        --epochs 2 --max-train 12000 --out benchmarks/results/egbad_mnist_quality.md
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

from common import SHARED_MNIST, machine  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--classes", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--cases", nargs="+", default=["case1", "case3"])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--max-train", type=int, default=None)
    parser.add_argument("--max-test", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mnist", default=str(SHARED_MNIST))
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    from tfganad.config import load_recipe
    from tfganad.training.runner import run

    rows = []
    work = pathlib.Path(tempfile.mkdtemp(prefix="egbad_mnist_"))
    start_all = time.perf_counter()
    header = f"Machine: {machine()}."
    for case in args.cases:
        for cls in args.classes:
            overrides = [f"data.path={args.mnist}", f"data.anomalous_class={cls}", f"model.case={case}",
                         "model.adversarial_loss=null", "model.residual=null", "model.score=null",
                         f"train.epochs={args.epochs}", "train.verbose=0", f"seed={args.seed}",
                         f"output_dir={work}", "export.enabled=false", "export.keras_file=false",
                         "train.eval_every=1000"]
            if args.max_train:
                overrides.append(f"data.max_train_samples={args.max_train}")
            if args.max_test:
                overrides.append(f"data.max_test_samples={args.max_test}")
            recipe = load_recipe(ROOT / "recipes" / "egbad_mnist.yaml", overrides + args.overrides)
            t0 = time.perf_counter()
            out = run(recipe, echo=lambda *_: None)
            summary = out["summaries"][0]
            row = {"case": case, "class": cls, "auprc": summary["metrics"]["auprc"],
                   "auroc": summary["metrics"]["auroc"], "selected_epoch": summary["selected_epoch"],
                   "epochs": summary["epochs_run"], "wall_s": time.perf_counter() - t0,
                   "by_score": summary["metrics_by_score"]}
            rows.append(row)
            print(json.dumps({k: v for k, v in row.items() if k != "by_score"}), flush=True)
    total = time.perf_counter() - start_all
    lines = [header, "", f"Epochs {args.epochs}, max training samples {args.max_train or 'all'}, seed {args.seed}, "
             f"recipe recipes/egbad_mnist.yaml (lr 1e-5, batch 100, latent 200, EMA 0.999), selection val_score "
             f"(normal validation data only). Total wall time {total / 60:.1f} min.", "",
             "| case | " + " | ".join(str(c) for c in args.classes) + " | mean |",
             "|---|" + "---|" * (len(args.classes) + 1)]
    for metric in ("auprc", "auroc"):
        for case in args.cases:
            vals = [r[metric] for r in rows if r["case"] == case]
            lines.append(f"| {case} {metric.upper()} | " + " | ".join(f"{v:.3f}" for v in vals) +
                         f" | {np.mean(vals):.3f} |")
    lines += ["", "Per-run wall time (s): " + ", ".join(f"{r['case']}/{r['class']}: {r['wall_s']:.0f}" for r in rows)]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        pathlib.Path(args.out).write_text("# EGBAD on MNIST, one anomalous digit (survey protocol)\n\nCommand: "
                                          f"`python benchmarks/egbad_mnist_quality.py {' '.join(sys.argv[1:])}`\n\n"
                                          + text + "\nRaw rows:\n\n```json\n" + json.dumps(rows, indent=1) + "\n```\n")


if __name__ == "__main__":
    main()
