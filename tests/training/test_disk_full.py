"""Disk full: one `error:` line naming the folder and the space needed, exit 2, no partial file, and
`--resume` finishes once space is freed. Uses a small tmpfs (needs root to mount; skipped otherwise)."""

from __future__ import annotations

import errno
import json
import pathlib
import subprocess

import pytest
import yaml
from click.testing import CliRunner

from tfganad.cli.main import train

TINY = {
    "name": "tiny", "seed": 0,
    "model": {"name": "egbad", "latent_dim": 8, "filters": 4, "dense_units": 16, "adversarial_loss": "bce",
              "residual": True, "score": "bce"},
    "data": {"source": "digits", "anomalous_class": 0, "image_size": 16, "max_test_samples": 120},
    "train": {"epochs": 1, "steps_per_epoch": 2, "batch_size": 16, "verbose": 0},
    "evaluation": {"image_grid": 4},
    "export": {"enabled": False},
}


@pytest.fixture()
def small_disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], capture_output=True)
    except OSError:
        done = None
    if done is None or done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield mount
    subprocess.run(["umount", str(mount)], check=False)


def test_full_disk_one_line_then_resume(tmp_path, small_disk):
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(yaml.safe_dump(TINY))
    result = CliRunner().invoke(train, [str(recipe), "--output-dir", str(small_disk / "runs")])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.startswith(("error", "Traceback"))]
    assert len(lines) == 1 and lines[0].startswith("error: not enough free space in"), result.output
    assert "MB needed" in lines[0] or "needs about" in lines[0]
    (run_dir,) = (small_disk / "runs").iterdir()
    assert str(run_dir) in lines[0]
    # Nothing a later step could trust: only the recipe, no weights, no results.
    assert sorted(p.name for p in run_dir.iterdir()) == ["recipe.yaml"]

    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
    resumed = CliRunner().invoke(train, ["--resume", str(run_dir)])
    assert resumed.exit_code == 0, resumed.output
    assert json.loads((run_dir / "metrics.json").read_text())["epochs_run"] == 1


def test_atomic_write_on_a_full_disk_leaves_nothing(small_disk):
    from tfganad.training.io import atomic_write_text

    target = small_disk / "big.json"
    with pytest.raises(OSError) as info:
        atomic_write_text(target, "x" * (4 * 2**20))
    assert info.value.errno == errno.ENOSPC
    assert list(pathlib.Path(small_disk).iterdir()) == []
