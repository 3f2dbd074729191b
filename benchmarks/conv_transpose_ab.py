"""A/B in one process: GANomaly with Keras's Conv2DTranspose vs tfganad's SubpixelConv2DTranspose.

Same weights (copied), same inputs; train steps/s (32×32×1, batch 64, sequential D then G) and latent
scoring img/s (batch 256, compiled), measured alternately A, B, A, B so that a changing machine load
hits both alike. Also checks that the two score the same.

    python benchmarks/conv_transpose_ab.py --rounds 2
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

from common import machine  # noqa: E402


def build(native: bool):
    import keras

    import tfganad
    import tfganad.networks.dcgan as dcgan

    keras.utils.set_random_seed(0)
    saved = dcgan.SubpixelConv2DTranspose
    if native:
        dcgan.SubpixelConv2DTranspose = keras.layers.Conv2DTranspose
    try:
        model = tfganad.models.GANomaly(input_shape=(32, 32, 1), latent_dim=100, filters=64)
    finally:
        dcgan.SubpixelConv2DTranspose = saved
    model.compile(learning_rate=2e-4, beta_1=0.5)
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    import tensorflow as tf

    from tfganad.data import train_dataset

    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (64 * 8, 32, 32, 1)).astype(np.float32)
    x_score = tf.constant(rng.uniform(-1, 1, (256, 32, 32, 1)).astype(np.float32))
    ds = train_dataset(x, 64, seed=0).repeat()  # fit would stop after 8 batches
    models = {"Conv2DTranspose (Keras)": build(True), "SubpixelConv2DTranspose (tfganad)": build(False)}
    a, b = models.values()
    b.set_weights(a.get_weights())
    fns = {name: tf.function(lambda t, m=m: m.anomaly_score(t)) for name, m in models.items()}
    first, second = (fn(x_score).numpy() for fn in fns.values())
    diff = float(np.max(np.abs(first - second)) / np.max(np.abs(first)))
    for m in models.values():
        m.fit(ds, epochs=1, steps_per_epoch=2, verbose=0)  # trace
    results = {name: {"steps": [], "score": []} for name in models}
    load = machine()
    for _ in range(args.rounds):
        for name, m in models.items():
            start = time.perf_counter()
            m.fit(ds, epochs=1, steps_per_epoch=args.steps, verbose=0)
            results[name]["steps"].append(args.steps / (time.perf_counter() - start))
            start = time.perf_counter()
            for _ in range(8):
                fns[name](x_score).numpy()
            results[name]["score"].append(8 * 256 / (time.perf_counter() - start))
    lines = [f"Command: `python benchmarks/conv_transpose_ab.py {' '.join(sys.argv[1:])}`", "",
             f"Machine: {load}. Scores of the two on the same weights differ by at most {diff:.1e} of the "
             "largest score.", "",
             "| GANomaly decoder layer | train steps/s (batch 64) | latent scoring img/s (batch 256) |",
             "|---|---|---|"]
    for name, r in results.items():
        lines.append(f"| {name} | {np.mean(r['steps']):.2f} ({', '.join(f'{v:.2f}' for v in r['steps'])}) | "
                     f"{np.mean(r['score']):.0f} ({', '.join(f'{v:.0f}' for v in r['score'])}) |")
    (na, sa), (nb, sb) = [(np.mean(r["steps"]), np.mean(r["score"])) for r in results.values()]
    lines += ["", f"Speed-up: train step {nb / na:.2f}x, scoring {sb / sa:.2f}x."]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        pathlib.Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
