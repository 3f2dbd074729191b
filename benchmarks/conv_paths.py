"""Per-layer speed of each exact route for the image models' transposed and full-window convolutions.

For every `SubpixelConv2DTranspose` and `FullWindowConv2D` in the GANomaly and EGBAD recipe networks (the
anchors' workloads), times each route that computes the layer's function: Keras/TF's native op, the
sub-pixel phases, matmul + overlap-add, and the single matmul (1-pixel inputs, full-window kernels).
Forward at the scoring batch and forward + backward at the training batch, alternating routes within
each round so that a changing load hits all alike; median of the rounds. Prints which route the layer
takes, the GFLOP/s and the % of the same-run float32 matmul peak, and the largest difference from the
native output. Refuses to start when the 1-minute load is above 0.5 (``--force`` marks the result).

    python benchmarks/conv_paths.py                # → benchmarks/results/conv_paths.{md,json}
"""

from __future__ import annotations

import argparse
import datetime
import json
import pathlib
import statistics
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from common import matmul_peak  # noqa: E402
from throughput import load1, lscpu  # noqa: E402

RESULTS = pathlib.Path(__file__).resolve().parent / "results"
MODELS = {"ganomaly": ("ganomaly_mnist.yaml", (32, 32, 1)), "egbad": ("egbad_mnist.yaml", (28, 28, 1))}


def layer_cases(names):
    """(model, network, layer, input shape without batch) for each rewritten layer of the recipe models."""
    import keras

    from tfganad.config import load_recipe
    from tfganad.networks.layers import FullWindowConv2D, SubpixelConv2DTranspose
    from tfganad.training.runner import build_model

    root = pathlib.Path(__file__).resolve().parents[1] / "recipes"
    cases = []
    for name in names:
        recipe, shape = MODELS[name]
        keras.utils.set_random_seed(0)
        model = build_model(load_recipe(root / recipe), shape)
        model.build_from_sample()
        nets = {id(n): n for group in model.player_networks().values() for n in group}
        for net in nets.values():
            for layer in net.layers:
                if isinstance(layer, (SubpixelConv2DTranspose, FullWindowConv2D)):
                    cases.append((name, net.name, layer, tuple(layer.input.shape[1:])))
    return cases


def routes(layer, shape):
    """{route: fn(x, kernel) → pre-bias output} for every route that applies to this layer and shape."""
    import tensorflow as tf

    from tfganad.networks import layers as fast

    strides, padding = tuple(layer.strides), layer.padding.upper()
    if isinstance(layer, fast.FullWindowConv2D):
        kh, kw = layer.kernel_size
        out = {"native": lambda x, k: tf.nn.conv2d(x, k, 1, "VALID")}
        if tuple(shape[:2]) == (kh, kw):
            out["matmul"] = lambda x, k: tf.reshape(tf.matmul(tf.reshape(x, [tf.shape(x)[0], -1]),
                                                              tf.reshape(k, [-1, layer.filters])),
                                                    [-1, 1, 1, layer.filters])
        return out
    plan = layer._plan((None, *shape))
    pixel = layer._one_pixel((None, *shape))
    out_hw = layer.compute_output_shape((None, *shape))[1:3]
    out = {"native": lambda x, k: tf.nn.conv2d_transpose(x, k, [tf.shape(x)[0], *out_hw, layer.filters],
                                                         [1, *strides, 1], padding)}
    if plan is not None:
        out["subpixel"] = lambda x, k: fast._subpixel_conv_transpose(x, k, plan, strides, padding, layer.filters)
        out["overlap_add"] = lambda x, k: fast._overlap_add_conv_transpose(x, k, plan, strides, padding)
    if pixel is not None:
        out["matmul"] = lambda x, k: fast._pixel_conv_transpose(x, k, *pixel)
    return out


def chosen(layer, shape) -> str:
    """The route the layer's own `call` takes for this input shape."""
    from tfganad.networks import layers as fast

    if isinstance(layer, fast.FullWindowConv2D):
        return "matmul" if tuple(shape[:2]) == tuple(layer.kernel_size) and layer.padding == "valid" else "native"
    if layer._one_pixel((None, *shape)) is not None:
        return "matmul"
    if layer._plan((None, *shape)) is None:
        return "native"
    return "overlap_add" if layer.filters <= fast.OVERLAP_ADD_MAX_FILTERS else "subpixel"


def macs(layer, shape) -> int:
    """Multiply-adds per sample (the native op's useful work)."""
    import numpy as np

    kh, kw = layer.kernel_size
    cin = shape[-1]
    if isinstance(layer, __import__("keras").layers.Conv2DTranspose):
        return int(np.prod(shape[:2])) * kh * kw * cin * layer.filters
    out = layer.compute_output_shape((None, *shape))
    return int(out[1] * out[2]) * kh * kw * cin * layer.filters


def time_route(fn, x, k, backward, calls):
    import tensorflow as tf

    if backward:
        @tf.function
        def step(x, k):
            with tf.GradientTape() as tape:
                tape.watch([x, k])
                y = fn(x, k)
                loss = tf.reduce_sum(y * y)
            return tape.gradient(loss, [x, k])[1]
    else:
        step = tf.function(fn)
    step(x, k).numpy()
    start = time.perf_counter()
    for _ in range(calls):
        out = step(x, k)
    out.numpy()
    return (time.perf_counter() - start) / calls


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="ganomaly,egbad")
    parser.add_argument("--score-batch", type=int, default=100, help="forward batch (the anchors' scoring batch)")
    parser.add_argument("--train-batch", type=int, default=64, help="forward + backward batch")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=20, help="calls per timing")
    parser.add_argument("--force", action="store_true", help="run although the machine is busy (result marked)")
    parser.add_argument("--out-name", default="conv_paths")
    args = parser.parse_args(argv)
    load_before = load1()
    if load_before > 0.5 and not args.force:
        parser.exit(2, f"conv_paths: 1-minute load {load_before:.2f} > 0.5; run on an idle machine or pass --force\n")
    import numpy as np
    import tensorflow as tf

    cpu = lscpu()
    peak = matmul_peak()
    rows = []
    for model, net, layer, shape in layer_cases(args.models.split(",")):
        fns = routes(layer, shape)
        kernel = tf.constant(layer.get_weights()[0])
        for mode, batch in (("forward", args.score_batch), ("forward+backward", args.train_batch)):
            x = tf.constant(np.random.default_rng(0).normal(size=(batch, *shape)).astype(np.float32))
            ref = fns["native"](x, kernel).numpy()
            times = {name: [] for name in fns}
            for _ in range(args.rounds):
                for name, fn in fns.items():
                    times[name].append(time_route(fn, x, kernel, mode != "forward", args.calls))
            flop = 2 * macs(layer, shape) * batch * (3 if mode != "forward" else 1)
            for name, fn in fns.items():
                t = statistics.median(times[name])
                rows.append(dict(model=model, network=net, layer=layer.name, input=list(shape), filters=layer.filters,
                                 mode=mode, batch=batch, route=name, chosen=name == chosen(layer, shape),
                                 ms=t * 1e3, gflops=flop / t / 1e9, pct_peak=100 * flop / t / 1e9 / peak,
                                 max_abs_diff=float(np.max(np.abs(fn(x, kernel).numpy() - ref)))))
    result = dict(command="python benchmarks/" + " ".join([pathlib.Path(__file__).name, *(argv or sys.argv[1:])]),
                  when=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                  cpu_model=cpu["model"], cpu_flags=cpu["flags"], load_before=load_before, load_after=load1(),
                  forced=bool(args.force and load_before > 0.5), matmul_peak_gflops=peak, rows=rows)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.out_name}.json").write_text(json.dumps(result, indent=1))
    (RESULTS / f"{args.out_name}.md").write_text(markdown(result))
    print(markdown(result))


def markdown(r) -> str:
    lines = [f"# Convolution routes per layer ({r['when']})", "",
             f"Command: `{r['command']}`", "",
             f"CPU: {r['cpu_model']}; lscpu flags: `{r['cpu_flags']}`", "",
             f"1-minute load {r['load_before']:.2f} before, {r['load_after']:.2f} after"
             + (" — **taken under load: exploratory, not a result**" if r["forced"] else "")
             + f"; same-run float32 2048² matmul peak {r['matmul_peak_gflops']:.0f} GFLOP/s.", "",
             "Median of alternating rounds. **bold** = the route the layer takes. GFLOP counts the native op's "
             "multiply-adds ×2 (×3 for forward + backward); max |Δ| is the largest difference from the native "
             "output.", "",
             "| model | layer | input | filters | mode (batch) | route | ms | GFLOP/s | % peak | max abs Δ |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for row in r["rows"]:
        route = f"**{row['route']}**" if row["chosen"] else row["route"]
        lines.append(f"| {row['model']} | {row['network']}/{row['layer']} | {'×'.join(map(str, row['input']))} | "
                     f"{row['filters']} | {row['mode']} ({row['batch']}) | {route} | {row['ms']:.2f} | "
                     f"{row['gflops']:.0f} | {row['pct_peak']:.0f} % | {row['max_abs_diff']:.1e} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
