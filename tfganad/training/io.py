"""Atomic result files and run directories that never overwrite existing ones."""

from __future__ import annotations

import csv
import datetime
import io
import json
import os
import pathlib
import re
import shutil
import signal
import tempfile

import numpy as np


def atomic_write_text(path, text: str):
    """Writes via a temporary file and rename, so a kill never leaves a half-written file."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise


def atomic_path(path, write, suffix: str = ""):
    """Runs `write(tmp)` to a temporary sibling of `path` (file or folder), then renames it to `path`.

    The temporary name starts with a dot and ends with `.partial` + `suffix` (Keras wants `.weights.h5`
    or `.keras`), so a kill or a full disk never leaves a half-written `path`; the partial one is
    removed on failure, or by the next `remove_partials` of its folder.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial{suffix}")
    _remove(tmp)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise
    return path


def save_test_scores(path, y_true, scores: dict):
    """Writes `test_scores.npz` (y_true plus one array per score variant) atomically."""

    def write(tmp):
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, y_true=np.asarray(y_true), **{k: np.asarray(v) for k, v in scores.items()})

    atomic_path(path, write)


def _remove(path: pathlib.Path):
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def remove_partials(folder) -> None:
    """Deletes the leftovers of interrupted `atomic_path`/`atomic_write_text` writes in `folder`."""
    folder = pathlib.Path(folder)
    if folder.is_dir():
        for leftover in list(folder.glob(".*.partial*")) + list(folder.glob(".*.tmp")):
            _remove(leftover)


#: Test hook (fault injection): `TFGANAD_TEST_KILL_AT=PHASE[:EPOCH]` makes the run SIGKILL itself at
#: that phase (`epoch`: mid-epoch, `backup`: between writing and committing a backup, `report`,
#: `export`: SavedModel written but not yet published). Used by tests/training/test_fault_injection.py.
KILL_ENV = "TFGANAD_TEST_KILL_AT"


def fault_point(phase: str, epoch=None) -> None:
    """Kills this process with SIGKILL when the test hook `TFGANAD_TEST_KILL_AT` names this phase."""
    spec = os.environ.get(KILL_ENV)
    if not spec:
        return
    name, _, at = spec.partition(":")
    if name == phase and (not at or epoch is None or int(at) == int(epoch)):
        os.kill(os.getpid(), signal.SIGKILL)


def _jsonable(obj):
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, pathlib.Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def atomic_write_json(path, data):
    """JSON version of `atomic_write_text`."""
    atomic_write_text(path, json.dumps(data, indent=2, default=_jsonable) + "\n")


def write_table(path, rows: list):
    """Writes rows (dicts) as CSV atomically; columns are the union of keys in first-seen order."""
    columns: list = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: row.get(k, "") for k in columns})
    atomic_write_text(path, buf.getvalue())


def new_run_dir(output_dir, name: str) -> pathlib.Path:
    """Creates `output_dir/<name>-<UTC timestamp>[-k]`, never reusing an existing directory."""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "run"
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S")
    base = pathlib.Path(output_dir) / f"{stem}-{stamp}"
    path, k = base, 1
    while True:
        try:
            path.mkdir(parents=True, exist_ok=False)
            return path
        except FileExistsError:
            k += 1
            path = base.with_name(f"{base.name}-{k}")
