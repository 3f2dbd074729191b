"""Makes the README's pictures in docs/: anomaly-map overlays of the digits and folder recipes, and a
screenshot of TensorBoard's HParams tab for the smoke sweep.

    python docs/make_figures.py [--work runs/docs] [--skip-runs] [--skip-hparams]

Runs recipes/egbad_digits.yaml and recipes/folder_digits.yaml (on the digits folder it writes with
docs/make_digits_folder.py's function) and copies their report/anomaly_maps.png to
docs/anomaly_map_digits.png and docs/anomaly_map_folder.png; runs recipes/sweeps/smoke_digits.yaml,
serves it with `tensorboard` and saves the HParams tab with headless Chromium (`chromium` on PATH, e.g.
`apt-get install chromium`) as docs/hparams.png. About 6 minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import shutil
import socket
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def run_recipe(path, work, overrides=()):
    import tfganad

    out = tfganad.run(tfganad.load_recipe(path, [*overrides, f"output_dir={work}", "train.verbose=2"]))
    run_dir = pathlib.Path(out["run_dir"])
    metrics = json.loads((run_dir / "metrics.json").read_text())["metrics"]
    print(path, {k: round(metrics[k], 4) for k in ("auroc", "auprc", "pixel_auroc", "pixel_pro") if k in metrics})
    return run_dir


def overlays(work):
    from tfganad.data.industrial import write_digits_folder

    digits = run_recipe(ROOT / "recipes" / "egbad_digits.yaml", work)
    shutil.copy(digits / "report" / "anomaly_maps.png", DOCS / "anomaly_map_digits.png")
    folder = work / "digits_folder" / "digits"
    if not folder.is_dir():
        write_digits_folder(work / "digits_folder")
    run_dir = run_recipe(ROOT / "recipes" / "folder_digits.yaml", work, [f"data.path={folder}"])
    shutil.copy(run_dir / "report" / "anomaly_maps.png", DOCS / "anomaly_map_folder.png")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def hparams_screenshot(work):
    from tfganad.sweep import load_sweep, run_sweep

    sweep = load_sweep(ROOT / "recipes" / "sweeps" / "smoke_digits.yaml", output_dir=str(work / "sweeps"))
    run_sweep(sweep)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if chromium is None:
        sys.exit("no chromium on PATH: install it (apt-get install chromium) or pass --skip-hparams")
    port = _free_port()
    board = subprocess.Popen([sys.executable, "-m", "tensorboard.main", "--logdir", str(sweep.directory),
                              "--port", str(port), "--host", "127.0.0.1"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    shot = DOCS / "hparams.png"
    before = shot.stat().st_mtime if shot.exists() else 0.0
    try:
        _wait_for_runs(port)
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        "--window-size=1800,560", "--virtual-time-budget=20000",
                        f"--screenshot={shot}", f"http://127.0.0.1:{port}/#hparams"],
                       check=True, timeout=120, capture_output=True)
    finally:
        board.terminate()
        board.wait(timeout=30)
    if not shot.exists() or shot.stat().st_mtime <= before:
        sys.exit("chromium wrote no screenshot (the page did not load)")


def _wait_for_runs(port, timeout=180.0):
    """Waits until TensorBoard answers and has loaded the sweep's runs (Chromium exits 0 on a failed load)."""
    import urllib.request

    end = time.time() + timeout
    while time.time() < end:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/data/runs", timeout=5) as r:
                if len(json.loads(r.read())) >= 4:
                    time.sleep(5)  # the HParams plugin reads the same multiplexer
                    return
        except OSError:
            pass
        time.sleep(2)
    sys.exit("TensorBoard did not load the sweep in time")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="runs/docs", help="where the runs go (default runs/docs)")
    parser.add_argument("--skip-runs", action="store_true", help="only the HParams screenshot")
    parser.add_argument("--skip-hparams", action="store_true", help="only the anomaly-map overlays")
    args = parser.parse_args()
    work = pathlib.Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    if not args.skip_runs:
        overlays(work)
    if not args.skip_hparams:
        hparams_screenshot(work)


if __name__ == "__main__":
    main()
