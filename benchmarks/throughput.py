"""Throughput of every registered model at its recipe's size, against the same run's matmul peak.

For each workload: train steps/s through `Model.fit` (the recipe's batch and `train.steps_per_execution`),
GFLOP per train step counted from the traced graph (MatMul / Conv2D and their gradients, 2 FLOPs per
multiply-add), achieved GFLOP/s and % of a float32 2048² matmul peak measured in the same run, scoring
img/s through `score_batches` (the runner's scoring path) with its own GFLOP/s, and CPU time / wall time
of both (2.0 = both cores busy on a 2-core machine). For the Arrhythmia recipe it also runs the runner
(`train_case`, all callbacks) and reports the share of each epoch spent outside the compiled steps.

Row workloads (the KDD99 and Arrhythmia MLPs) run in child processes, because TensorFlow's thread pools
are fixed per process: once with TensorFlow's default pools and once with the recipe's
`train.intra_op_threads/inter_op_threads: auto` (one thread per op, all cores for independent ops),
alternating, `--repeats` times each, so the two settings are compared within one run.

It records the `lscpu` model and flags and the 1-minute load before and after, and refuses to start when
the load is above 0.5 (`--allow-load` runs anyway and marks every result INVALID).

    python benchmarks/throughput.py                 # all workloads, <= 8 min on 2 idle cores
    python benchmarks/throughput.py --quick         # short windows, a smoke check of the script
    python benchmarks/throughput.py --models ganomaly,alad_kdd99

Writes benchmarks/results/throughput.{json,md} (or --out-dir).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pathlib
import platform
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import numpy as np  # noqa: E402

MAX_LOAD = 0.5
ARRHYTHMIA = ROOT.parent / "shared" / "data" / "arrhythmia" / "arrhythmia.mat"

#: workload → (recipe, input shape, training rows of the real data set: sets steps per epoch for `auto`)
WORKLOADS = {
    "ganomaly": ("recipes/ganomaly_mnist.yaml", (32, 32, 1), 60000),
    "egbad": ("recipes/egbad_mnist.yaml", (28, 28, 1), 60000),
    "anogan": ("recipes/anogan_mnist.yaml", (28, 28, 1), 60000),
    "adgan": ("recipes/adgan_mnist.yaml", (28, 28, 1), 60000),
    "fanogan": ("recipes/fanogan_mnist.yaml", (32, 32, 1), 60000),
    "ganae": ("recipes/ganae_mnist.yaml", (28, 28, 1), 60000),
    "skip_ganomaly": ("recipes/skipganomaly_cifar10.yaml", (32, 32, 3), 50000),
    "alad": ("recipes/alad_cifar10.yaml", (32, 32, 3), 50000),
    "ensemble": ("recipes/ensemble_fanogan_mnist.yaml", (32, 32, 1), 60000),
    "alad_kdd99": ("recipes/alad_kdd99.yaml", (121,), 178_460),
    "egbad_kdd99": ("recipes/egbad_kdd99.yaml", (121,), 178_460),
    "alad_arrhythmia": ("recipes/alad_arrhythmia.yaml", (274,), 203),
}


# ---------------------------------------------------------------------------------------------- machine
def lscpu() -> dict:
    """`lscpu` model name and flags lines (flags also from /proc/cpuinfo when lscpu is missing)."""
    out = {"model": platform.processor() or platform.machine(), "flags": ""}
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        text = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "Model name":
            out["model"] = value.strip()
        elif key.strip() == "Flags":
            out["flags"] = value.strip()
    if not out["flags"]:
        from tfganad.training.performance import cpu_flags

        out["flags"] = " ".join(sorted(cpu_flags()))
    return out


def load1() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


# ---------------------------------------------------------------------------------------------- FLOPs
def _dims(shape):
    try:
        return [int(d) for d in shape]
    except (TypeError, ValueError):
        return None


def op_flops(op) -> float:
    """FLOPs (2 per multiply-add) of one MatMul / BatchMatMul / Conv2D (or its gradient) op; 0 otherwise."""
    t = op.type
    if t == "MatMul":
        a, b = _dims(op.inputs[0].shape), _dims(op.inputs[1].shape)
        if a is None or b is None:
            return float("nan")
        m = a[1] if op.get_attr("transpose_a") else a[0]
        k = a[0] if op.get_attr("transpose_a") else a[1]
        n = b[0] if op.get_attr("transpose_b") else b[1]
        return 2.0 * m * k * n
    if t in ("BatchMatMul", "BatchMatMulV2", "BatchMatMulV3"):
        out, a = _dims(op.outputs[0].shape), _dims(op.inputs[0].shape)
        if out is None or a is None:
            return float("nan")
        k = a[-2] if op.get_attr("adj_x") else a[-1]
        return 2.0 * math.prod(out) * k
    if t in ("Conv2D", "DepthwiseConv2dNative"):
        out, f = _dims(op.outputs[0].shape), _dims(op.inputs[1].shape)
        if out is None or f is None:
            return float("nan")
        per_out = f[0] * f[1] * (f[2] if t == "Conv2D" else 1)
        return 2.0 * math.prod(out) * per_out
    if t == "Conv2DBackpropInput":  # (input_sizes, filter, out_backprop)
        f, g = _dims(op.inputs[1].shape), _dims(op.inputs[2].shape)
        if f is None or g is None:
            return float("nan")
        return 2.0 * math.prod(g) * f[0] * f[1] * f[2]
    if t == "Conv2DBackpropFilter":  # (input, filter_sizes, out_backprop) → filter-shaped gradient
        g, f = _dims(op.inputs[2].shape), _dims(op.outputs[0].shape)
        if g is None or f is None:
            return float("nan")
        return 2.0 * math.prod(g) * f[0] * f[1] * f[2]
    return 0.0


def graph_flops(graph, _seen=None) -> tuple:
    """(FLOPs, has_loop) of a traced graph, following nested functions (calls, cond branches, loops).

    A while loop's body is counted once (its trip count is not known from the graph): has_loop says so.
    A conditional (`If`, `Case`: tf.cond, tf.switch_case) runs one branch per call, so it adds its
    largest branch, not their sum (a GAN ensemble's I x J pair branches would otherwise count I x J times).
    """
    _seen = set() if _seen is None else _seen
    total, loop = 0.0, False
    for op in graph.get_operations():
        total += op_flops(op)
        if op.type in ("While", "StatelessWhile"):
            loop = True
        branch_flops = []
        for attr in ("f", "then_branch", "else_branch", "body", "cond", "branches"):
            try:
                value = op.get_attr(attr)
            except (ValueError, TypeError):
                continue
            for fn in value if isinstance(value, list) else [value]:
                name = getattr(fn, "name", None)
                if not name or name in _seen:
                    continue
                sub = graph._get_function(name)  # noqa: SLF001 - the only handle on nested FuncGraphs
                if sub is None or not hasattr(sub, "graph"):
                    continue
                flops, sub_loop = graph_flops(sub.graph, _seen)
                loop = loop or sub_loop
                if attr in ("then_branch", "else_branch", "branches"):
                    branch_flops.append(flops)
                else:
                    total += flops
        total += max(branch_flops, default=0.0)
    return total, loop


def train_step_flops(model, batch, shape) -> tuple:
    """FLOPs of one `train_step` on a batch of `shape`, from a traced graph (variables untouched)."""
    import tensorflow as tf

    def step(x):
        return model.train_step(x)

    # As Keras traces it: no autograph (its step functions are `do_not_convert`).
    fn = tf.function(step, autograph=False)
    concrete = fn.get_concrete_function(tf.TensorSpec((batch, *shape), tf.float32))
    return graph_flops(concrete.graph)


def fit_step_flops(model):
    """FLOPs of one step from the graph `Model.fit` already traced (no second trace), or None.

    Keras keeps its compiled `multi_step_on_iterator` in the closure of `model.train_function`; with
    steps_per_execution > 1 its while-loop body holds one step, which `graph_flops` counts once.
    """
    fn = getattr(model, "train_function", None)
    for cell in getattr(fn, "__closure__", None) or ():
        try:
            obj = cell.cell_contents
        except ValueError:
            continue
        concrete = getattr(obj, "_list_all_concrete_functions", None)
        if concrete is not None and concrete():
            return graph_flops(concrete()[0].graph)[0]
    return None


def score_flops(model, batch, shape) -> tuple:
    import tensorflow as tf

    def score(x):
        return model.score_components(x, training=False)

    # A fresh trace with a static batch: score_batches' own function may have a generalised batch dim.
    concrete = tf.function(score).get_concrete_function(tf.TensorSpec((batch, *shape), tf.float32))
    return graph_flops(concrete.graph)


# ---------------------------------------------------------------------------------------------- timing
class Clock:
    """Wall and process CPU time of a block."""

    def __enter__(self):
        self.t, self.c = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.t
        self.cpu = time.process_time() - self.c


def workload_data(shape, n, seed=0):
    """Training inputs for a workload: real MNIST digits (../shared/data/mnist, resized, in [-1, 1]) for
    1-channel image workloads when that folder exists, else `synthetic`.

    Uniform noise is a degenerate GAN input (a discriminator separates it from generated images at
    once), which changes a GAN's regime (GANomaly re-initialises D every step); real digits keep the
    step representative of training.
    """
    mnist = ROOT.parent / "shared" / "data" / "mnist" / "train-images-idx3-ubyte.gz"
    if len(shape) == 3 and shape[-1] == 1 and mnist.is_file():
        import gzip

        import tensorflow as tf

        with gzip.open(mnist) as fh:
            raw = np.frombuffer(fh.read(), np.uint8, offset=16).reshape(-1, 28, 28, 1)[:n]
        x = raw.astype(np.float32) / 127.5 - 1.0
        if tuple(shape[:2]) != (28, 28):
            x = np.clip(tf.image.resize(x, shape[:2], method="bilinear").numpy(), -1.0, 1.0)
        return x.astype(np.float32)
    return synthetic(shape, n, seed)


def synthetic(shape, n, seed=0):
    rng = np.random.default_rng(seed)
    if len(shape) == 3:
        return rng.uniform(-1, 1, (n, *shape)).astype(np.float32)
    return rng.normal(size=(n, *shape)).astype(np.float32)


def build(name, quick):
    """(model, recipe, steps_per_execution, batch) for a workload, compiled as the runner does."""
    import keras

    from tfganad.config import load_recipe
    from tfganad.training.performance import resolve_steps_per_execution
    from tfganad.training.runner import build_model

    path, shape, rows = WORKLOADS[name]
    recipe = load_recipe(ROOT / path)
    t = recipe.train
    keras.utils.set_random_seed(0)
    model = build_model(recipe, shape)
    model.build_from_sample(synthetic(shape, 2))
    batch = min(t.batch_size, rows)
    spe = resolve_steps_per_execution(t.steps_per_execution, model, batch, max(1, rows // batch), False)
    model.compile(learning_rate=t.learning_rate, beta_1=t.beta_1, beta_2=t.beta_2, ema_momentum=t.ema_momentum,
                  jit_compile=t.jit_compile, steps_per_execution=spe)
    return model, recipe, spe, batch


def time_training(model, shape, batch, spe, window) -> dict:
    """Steady train steps/s through `Model.fit` over about `window` seconds (after tracing)."""
    from tfganad.data import train_dataset

    x = workload_data(shape, batch * 8)
    ds = train_dataset(x, batch, seed=0).repeat()
    with Clock() as first:
        model.fit(ds, epochs=1, steps_per_epoch=2 * spe, verbose=0)  # trace + 2 calls
    # Warm-up (>= 30 steps and >= `window` / 2 seconds, at most 4 windows): measured here, GANomaly's
    # first 10-40 steps after tracing run at about half the steady rate on one core (CPU/wall 0.9 against
    # 1.8 after), so a short warm-up reported half the real speed (benchmarks/results/side_by_side.md).
    warm_start, warm_steps = time.perf_counter(), 0
    while warm_steps < 30 or time.perf_counter() - warm_start < window / 2:
        with Clock() as probe:
            model.fit(ds, epochs=1, steps_per_epoch=spe, verbose=0)
        warm_steps += spe
        if time.perf_counter() - warm_start > 4 * window:
            break
    calls = max(1, int(window / max(probe.wall, 1e-3)))
    steps = calls * spe
    with Clock() as c:
        model.fit(ds, epochs=1, steps_per_epoch=steps, verbose=0)
    return {"steps_per_s": steps / c.wall, "cpu_per_wall": c.cpu / c.wall, "first_call_s": first.wall,
            "timed_steps": steps}


def time_scoring(model, shape, batch, window, max_n) -> dict:
    """img/s of `score_batches` (all components, the runner's scoring path), cache off."""
    from tfganad.training.callbacks import score_batches

    x = synthetic(shape, max_n, seed=1)
    with Clock() as first:
        score_batches(model, x[:batch], batch, cache=False)  # trace
    n = min(batch, max_n)
    if max_n > batch:  # otherwise the timed run below is the whole sample anyway
        with Clock() as probe:
            score_batches(model, x[:n], batch, cache=False)
        rate = n / max(probe.wall, 1e-6)
        n = int(min(max_n, max(n, rate * window)))
        n = max(batch, n // batch * batch) if n >= batch else n
    with Clock() as c:
        score_batches(model, x[:n], batch, cache=False)
    return {"img_per_s": n / c.wall, "cpu_per_wall": c.cpu / c.wall, "n": n, "batch": batch,
            "first_call_s": first.wall}


def epoch_overhead(epochs) -> dict:
    """The Arrhythmia recipe through `train_case` (all callbacks): share of the epoch outside the steps."""
    import keras

    from tfganad.config import load_recipe
    from tfganad.data import load_data
    from tfganad.training import runner

    if not ARRHYTHMIA.is_file():
        return {"skipped": f"{ARRHYTHMIA} not present"}
    recipe = load_recipe(ROOT / WORKLOADS["alad_arrhythmia"][0], [
        ("train.epochs", epochs), ("train.verbose", 0), ("export.enabled", False), ("export.keras_file", False),
        ("data.path", str(ARRHYTHMIA))])
    data = load_data(recipe.data, recipe.seed)
    from keras.src.callbacks.callback_list import CallbackList

    steps, epoch_starts = [], []
    original_fit, original_begin = keras.Model.fit, CallbackList.on_epoch_begin

    def on_epoch_begin(self, epoch, logs=None):
        epoch_starts.append((time.perf_counter(), len(steps)))
        return original_begin(self, epoch, logs)

    def fit(self, *args, **kwargs):
        self.make_train_function()
        inner = self.train_function

        def timed(iterator):
            start = time.perf_counter()
            try:
                return inner(iterator)
            finally:
                steps.append(time.perf_counter() - start)

        self.train_function = timed
        out = original_fit(self, *args, **kwargs)
        epoch_starts.append((time.perf_counter(), len(steps)))
        return out

    keras.Model.fit, CallbackList.on_epoch_begin = fit, on_epoch_begin
    try:
        with tempfile.TemporaryDirectory() as tmp, Clock() as c:
            summary = runner.train_case(recipe, data, pathlib.Path(tmp))
    finally:
        keras.Model.fit, CallbackList.on_epoch_begin = original_fit, original_begin
    # Per epoch: wall time from one epoch start to the next, and the time inside compiled calls.
    epochs_wall, epochs_steps = [], []
    for (t0, i0), (t1, i1) in zip(epoch_starts[:-1], epoch_starts[1:]):
        epochs_wall.append(t1 - t0)
        epochs_steps.append(sum(steps[i0:i1]))
    later = list(zip(epochs_wall, epochs_steps))[1:]  # epoch 1 traces the step
    share = [1.0 - s / w for w, s in later]
    total_wall, total_steps = sum(w for w, _ in later), sum(s for _, s in later)
    return {"epochs": epochs, "steps_per_execution": summary["steps_per_execution"],
            "train_seconds": summary["train_seconds"], "first_epoch_s": epochs_wall[0],
            "median_epoch_ms": 1000 * float(np.median([w for w, _ in later])),
            "median_steps_ms": 1000 * float(np.median([s for _, s in later])),
            "median_overhead_share": float(np.median(share)),
            "mean_overhead_share": 1.0 - total_steps / max(total_wall, 1e-9),
            "projected_1000_epochs_s": epochs_wall[0] + 999 * total_wall / max(1, len(later)),
            "cpu_per_wall": c.cpu / c.wall}


# ---------------------------------------------------------------------------------------------- main
ROW_WORKLOADS = tuple(n for n, (_, shape, _) in WORKLOADS.items() if len(shape) == 1)


def measure(name, quick, train_window, score_window) -> dict:
    """One workload's row: train steps/s and GFLOP per step, scoring img/s (no % of peak yet)."""
    row = {"workload": name, "recipe": WORKLOADS[name][0], "input_shape": list(WORKLOADS[name][1])}
    try:
        model, recipe, spe, batch = build(name, quick)
        row.update(batch=batch, steps_per_execution=spe,
                   params=int(sum(math.prod(v.shape) for v in model.trainable_variables)))
        row.update({f"train_{k}": v for k, v in time_training(model, WORKLOADS[name][1], batch, spe,
                                                               train_window).items()})
        flops = fit_step_flops(model)
        if flops is None or not math.isfinite(flops):  # Keras internals moved: trace the step again
            flops = train_step_flops(model, batch, WORKLOADS[name][1])[0]
        row["gflop_per_step"] = flops / 1e9
        score_batch = recipe.evaluation.batch_size
        max_n = 2000 if quick else 10000
        sflops, sloop = score_flops(model, score_batch, WORKLOADS[name][1])
        if sloop:
            # A latent search (AnoGAN, ADGAN) runs hundreds of G/D passes per image: a few images
            # suffice here; benchmarks/latent_search_throughput.py measures it in depth.
            score_batch = max_n = 8 if quick else 16
        row.update({f"score_{k}": v for k, v in time_scoring(model, WORKLOADS[name][1], score_batch,
                                                             score_window, max_n).items()})
        row["score_gflop_per_img"] = None if sloop else sflops / score_batch / 1e9
    except Exception as exc:  # noqa: BLE001 - one broken workload must not lose the others
        row["error"] = f"{type(exc).__name__}: {exc}"[:300]
    return row


def child(args) -> None:
    """`--child`: one row workload (or the Arrhythmia runner) under `--threads`, one JSON line on stdout."""
    import tensorflow as tf

    from tfganad.training.performance import configure_threads

    if args.threads == "auto":
        configure_threads("auto", "auto", rows=True)
    threads = [tf.config.threading.get_intra_op_parallelism_threads(),
               tf.config.threading.get_inter_op_parallelism_threads()]
    import tfganad  # noqa: F401

    train_window, score_window = (1.5, 1.0) if args.quick else (10.0, 4.0)
    if args.child == "arrhythmia_overhead":
        out = epoch_overhead(args.epochs)
    else:
        out = measure(args.child, args.quick, train_window, score_window)
    out.update(threads=args.threads, cpu_threads=threads)
    print("CHILD_RESULT " + json.dumps(out, default=float), flush=True)


def run_child(name, threads, quick, epochs=None) -> dict:
    """Runs `child` in a fresh process (its own thread pools) → its result."""
    cmd = [sys.executable, str(pathlib.Path(__file__).resolve()), "--child", name, "--threads", threads]
    if quick:
        cmd.append("--quick")
    if epochs:
        cmd += ["--epochs", str(epochs)]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=3600)
    for line in proc.stdout.splitlines():
        if line.startswith("CHILD_RESULT "):
            return json.loads(line[len("CHILD_RESULT "):])
    return {"workload": name, "threads": threads, "error": (proc.stderr or proc.stdout)[-300:]}


def _median_row(runs: list) -> dict:
    """The run with the (upper) median train steps/s (its own scoring numbers), every repeat's rate kept."""
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return runs[-1]
    ok.sort(key=lambda r: r["train_steps_per_s"])
    row = dict(ok[len(ok) // 2])
    row["train_steps_per_s_repeats"] = [r["train_steps_per_s"] for r in runs if "error" not in r]
    row["score_img_per_s_repeats"] = [r.get("score_img_per_s") for r in runs if "error" not in r]
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short windows and few epochs (smoke check)")
    parser.add_argument("--models", default=None, help=f"comma-separated subset of: {', '.join(WORKLOADS)}")
    parser.add_argument("--out-dir", default=str(ROOT / "benchmarks" / "results"))
    parser.add_argument("--out-name", default="throughput", help="file stem of the results (default throughput)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="child runs per row workload and thread setting, alternating (median reported)")
    parser.add_argument("--arrhythmia-epochs", type=int, default=1000,
                        help="epochs of the Arrhythmia runner measurement with auto threads (default: the "
                             "recipe's 1,000); the default-pools comparison runs a tenth of them")
    parser.add_argument("--allow-load", action="store_true",
                        help=f"run although the 1-minute load is above {MAX_LOAD}; results are marked INVALID")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--threads", default="default", choices=("default", "auto"), help=argparse.SUPPRESS)
    parser.add_argument("--epochs", type=int, default=100, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    names = list(WORKLOADS) if not args.models else [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        parser.error(f"unknown --models {', '.join(unknown)}; allowed: {', '.join(WORKLOADS)}")
    if args.repeats < 1 or args.arrhythmia_epochs < 2:
        parser.error("--repeats must be >= 1 and --arrhythmia-epochs >= 2")
    load_start = load1()
    if load_start > MAX_LOAD and not args.allow_load:
        print(f"error: 1-minute load average is {load_start:.2f} > {MAX_LOAD}: the machine is busy and the "
              f"numbers would be wrong; wait for an idle machine (or --allow-load to mark results INVALID)",
              file=sys.stderr)
        sys.exit(2)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    import tfganad  # noqa: F401
    from common import matmul_peak

    started = time.perf_counter()
    train_window, score_window = (1.5, 1.0) if args.quick else (10.0, 4.0)
    cpu = lscpu()
    meta = {"command": "python benchmarks/throughput.py " + " ".join(sys.argv[1:]), "quick": args.quick,
            "cpu_model": cpu["model"], "cpu_flags": cpu["flags"], "cores": os.cpu_count(),
            "tensorflow": tf.__version__, "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
            "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
            "load_1min_start": load_start, "date_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    peak_start = matmul_peak(repeats=5 if args.quick else 20)
    rows = []
    for name in names:
        if name in ROW_WORKLOADS:
            runs = {"default": [], "auto": []}
            for _ in range(args.repeats):
                for threads in ("default", "auto"):
                    print(f"{name} (threads {threads}) ...", flush=True)
                    runs[threads].append(run_child(name, threads, args.quick))
            for threads in ("default", "auto"):
                row = _median_row(runs[threads])
                rows.append(row)
                print(json.dumps(row, default=float), flush=True)
            continue
        print(f"{name} ...", flush=True)
        row = measure(name, args.quick, train_window, score_window)
        row.update(threads="default", cpu_threads=[meta["intra_op_threads"], meta["inter_op_threads"]])
        rows.append(row)
        print(json.dumps(row, default=float), flush=True)
    overhead = None
    if any(n == "alad_arrhythmia" for n in names):
        epochs = 12 if args.quick else args.arrhythmia_epochs
        overhead = {}
        for threads, n in (("default", max(2, epochs // 10)), ("auto", epochs)):
            print(f"alad_arrhythmia runner, {n} epochs (threads {threads}) ...", flush=True)
            overhead[threads] = run_child("arrhythmia_overhead", threads, args.quick, epochs=n)
            print(json.dumps(overhead[threads]), flush=True)
    peak_end = matmul_peak(repeats=5 if args.quick else 20)
    peak = max(peak_start, peak_end)
    for row in rows:
        if "train_steps_per_s" in row:
            row["train_gflop_per_s"] = row["train_steps_per_s"] * row["gflop_per_step"]
            row["train_pct_of_peak"] = 100 * row["train_gflop_per_s"] / peak
        if row.get("score_gflop_per_img") is not None and "score_img_per_s" in row:
            row["score_gflop_per_s"] = row["score_img_per_s"] * row["score_gflop_per_img"]
            row["score_pct_of_peak"] = 100 * row["score_gflop_per_s"] / peak
    load_end = load1()
    valid = load_start <= MAX_LOAD
    meta.update(load_1min_end=load_end, matmul_peak_gflops_start=peak_start, matmul_peak_gflops_end=peak_end,
                seconds=time.perf_counter() - started, valid=valid,
                status="valid" if valid else f"INVALID: 1-minute load {load_start:.2f} > {MAX_LOAD} at start")
    result = {"meta": meta, "workloads": rows, "arrhythmia_epoch_overhead": overhead}
    out = pathlib.Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = args.out_name if valid and not args.quick else (f"{args.out_name}_quick" if valid else
                                                           f"{args.out_name}_INVALID")
    (out / f"{stem}.json").write_text(json.dumps(result, indent=1, default=float))
    (out / f"{stem}.md").write_text(markdown(result))
    print(markdown(result))
    print(f"wrote {out / stem}.json/.md in {meta['seconds']:.0f} s")


def _f(v, fmt="{:.2f}"):
    return "—" if v is None or (isinstance(v, float) and not math.isfinite(v)) else fmt.format(v)


def markdown(result) -> str:
    m, rows, ov = result["meta"], result["workloads"], result["arrhythmia_epoch_overhead"]
    lines = ["# Throughput", ""]
    if not m["valid"]:
        lines += [f"**{m['status']}: these numbers are not results.**", ""]
    lines += [f"Command: `{m['command']}` ({m['date_utc']}, {m['seconds']:.0f} s).",
              f"CPU: {m['cpu_model']}, {m['cores']} cores; TensorFlow {m['tensorflow']} (intra-op threads "
              f"{m['intra_op_threads'] or 'default'}, inter-op {m['inter_op_threads'] or 'default'}).",
              f"lscpu flags: `{m['cpu_flags']}`",
              f"1-minute load: {m['load_1min_start']:.2f} at start, {m['load_1min_end']:.2f} at the end. "
              f"float32 2048² matmul peak: {m['matmul_peak_gflops_start']:.0f} GFLOP/s at start, "
              f"{m['matmul_peak_gflops_end']:.0f} at the end (% of peak uses the larger).", "",
              "Train: `Model.fit` (after >= 10 warm-up steps) on real MNIST digits for 1-channel image "
              "workloads (../shared/data/mnist; uniform noise otherwise) at the recipe's batch and "
              "`train.steps_per_execution` (spe); GFLOP/step counted from the graph `fit` traced: every MatMul/Conv2D op and gradient the "
              "step runs, including each player's own backward pass and a schedule's repeated forward passes "
              "(so more than a 'one forward + backward' estimate). Scoring: `score_batches` (all score "
              "components, the runner's path) at `evaluation.batch_size`; latent-search scores (AnoGAN, "
              "ADGAN: 'loop') on a few images, no % of peak.",
              "Row workloads (MLPs) ran in child processes with TensorFlow's default thread pools and with "
              "`train.intra_op_threads/inter_op_threads: auto` ('threads' column: [intra, inter]), "
              "alternating; each is the median run of the repeats listed in the last column (the faster one of two).",
              "", "| workload | threads | batch | spe | params | train steps/s | GFLOP/step | GFLOP/s | % peak | "
              "CPU/wall | score img/s | score % peak | CPU/wall | train steps/s of the repeats |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['workload']} | {r.get('threads', '')} | error: {r['error']} ||||||||||||")
            continue
        threads = f"{r.get('threads', 'default')} {r.get('cpu_threads', '')}"
        repeats = ", ".join(f"{v:.1f}" for v in r.get("train_steps_per_s_repeats", []))
        lines.append(
            f"| {r['workload']} | {threads} | {r.get('batch')} | {r.get('steps_per_execution')} | "
            f"{r.get('params', 0):,} | "
            f"{_f(r.get('train_steps_per_s'))} | {_f(r.get('gflop_per_step'), '{:.3f}')} | "
            f"{_f(r.get('train_gflop_per_s'), '{:.1f}')} | {_f(r.get('train_pct_of_peak'), '{:.0f} %')} | "
            f"{_f(r.get('train_cpu_per_wall'))} | {_f(r.get('score_img_per_s'), '{:.3g}')} | "
            f"{_f(r.get('score_pct_of_peak'), '{:.0f} %') if r.get('score_gflop_per_img') is not None else 'loop'} | "
            f"{_f(r.get('score_cpu_per_wall'))} | {repeats} |")
    for threads, o in (ov or {}).items():
        lines += [""]
        if "skipped" in o or "error" in o:
            lines.append(f"Arrhythmia per-epoch overhead ({threads} threads): skipped "
                         f"({o.get('skipped') or o.get('error')}).")
            continue
        lines.append(
            f"Arrhythmia ALAD recipe through the runner (`train_case`, all callbacks), {threads} threads "
            f"{o.get('cpu_threads')}, {o['epochs']} epochs, spe {o['steps_per_execution']}: `train_seconds` "
            f"**{o['train_seconds']:.1f} s**; median epoch {o['median_epoch_ms']:.1f} ms, of which "
            f"{o['median_steps_ms']:.1f} ms in the compiled steps → per-epoch overhead **"
            f"{100 * o['median_overhead_share']:.1f} %** (median), {100 * o['mean_overhead_share']:.1f} % "
            f"averaged over epochs 2.. (incl. validation, test monitor and backup epochs); first epoch "
            f"(tracing) {o['first_epoch_s']:.1f} s; 1,000 epochs ≈ {o['projected_1000_epochs_s']:.0f} s "
            f"({'measured' if o['epochs'] >= 1000 else 'projected'}).")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
