"""Sweep results store: results*.jsonl (append under flock, read skipping fragments), results.csv, the
sweep lock, the per-cell run directories and the results rows of a finished cell."""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import pathlib
import platform
import re
from typing import Optional

from tfganad.errors import ConfigError
from tfganad.sweep.spec import Cell

def results_path(directory, shard: Optional[tuple]) -> pathlib.Path:
    """`results.jsonl`, or `results.shard-I-of-N.jsonl` for a shard."""
    name = "results.jsonl" if shard is None else f"results.shard-{shard[0]}-of-{shard[1]}.jsonl"
    return pathlib.Path(directory) / name


def _jsonable(obj):
    if hasattr(obj, "tolist"):
        return obj.tolist()
    return str(obj)


def append_jsonl(path, rows: list):
    """Appends rows as JSON lines in one write under an exclusive flock, then fsyncs.

    A writer killed mid-write leaves at most one partial last line; the next append starts on a new
    line, and `read_jsonl` skips the fragment, so a row is either complete or absent.
    """
    import fcntl

    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = "".join(json.dumps(r, default=_jsonable) + "\n" for r in rows).encode()
    with open(path, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            end = fh.seek(0, os.SEEK_END)
            if end:
                fh.seek(end - 1)
                if fh.read(1) != b"\n":
                    data = b"\n" + data
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def read_jsonl(path) -> list:
    """Rows of a JSON-lines file; unparsable lines (a killed writer's fragment) are skipped."""
    rows = []
    path = pathlib.Path(path)
    if not path.is_file():
        return rows
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def read_results(directory) -> list:
    """All rows of a sweep directory (every results*.jsonl), sorted by cell index then case."""
    rows = []
    for path in sorted(pathlib.Path(directory).glob("results*.jsonl")):
        rows += read_jsonl(path)
    seen, unique = set(), []
    for row in rows:
        ident = (row.get("cell"), row.get("case"))
        if ident not in seen:
            seen.add(ident)
            unique.append(row)
    return sorted(unique, key=lambda r: (r.get("index", 0), str(r.get("case", ""))))


def write_results_csv(directory) -> pathlib.Path:
    """Rewrites `results.csv` (atomically) from every results*.jsonl of the sweep directory."""
    from tfganad.training.io import write_table

    path = pathlib.Path(directory) / "results.csv"
    write_table(path, read_results(directory))
    return path


def finished_keys(directory) -> set:
    """Keys of the cells that have rows in any results file of the sweep directory."""
    return {row["cell"] for row in read_results(directory) if "cell" in row}


@contextlib.contextmanager
def exclusive_lock(path):
    """Holds an exclusive, non-blocking flock on `path`; ConfigError when another process holds it."""
    import fcntl

    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fh = open(path, "a+")
    try:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(f"another tfganad-sweep process is running this sweep (lock {str(path)!r} is held); "
                              f"wait for it, or give each process its own --shard") from None
        yield
    finally:
        fh.close()



def plan_run_dir(cells_dir, key: str, abandoned=()) -> tuple:
    """(run directory, resume?) for a cell without a row: continue the last attempt or start a fresh one.

    `abandoned`: run directories whose resume crashed before; they are left as they are and a fresh
    attempt starts beside them.
    """
    cells_dir = pathlib.Path(cells_dir)
    abandoned = {pathlib.Path(p).name for p in abandoned}
    attempts = []
    for p in cells_dir.glob(f"{key}*"):
        m = re.fullmatch(rf"{re.escape(key)}(?:\.(\d+))?", p.name)
        if m and p.is_dir():
            attempts.append((int(m.group(1) or 1), p))
    if attempts:
        n, last = max(attempts)
        if (last / "recipe.yaml").is_file() and last.name not in abandoned:
            return last, True
        if not any(last.iterdir()) and last.name not in abandoned:
            return last, False
        return cells_dir / f"{key}.{n + 1}", False
    return cells_dir / key, False


def _flatten_metrics(summary: dict) -> dict:
    """The metric columns of a row: `evaluate.CaseResult.flat_metrics` of a case's metrics.json."""
    from tfganad.training.evaluate import CaseResult

    return CaseResult.from_json(summary).flat_metrics()


def cell_rows(cell: Cell, recipe, out: dict, wall_seconds: float, sweep_name: str, run_dir_rel: str,
              shard: Optional[tuple]) -> list:
    """One results row per case of a finished cell: the cell's keys, all metrics, wall time, where it ran."""
    rows = []
    for summary in out["summaries"]:
        case = summary.get("case") or ""
        sub = recipe.for_case(case) if case else recipe
        row = {"sweep": sweep_name, "cell": cell.key, "index": cell.index, **cell.labels,
               "axes": ",".join(cell.labels),
               "case": case or "-", "model": summary["model"], "score": summary["score"],
               "dataset": sub.data.source, "protocol": sub.data.protocol,
               "anomalous_class": sub.data.anomalous_class, "normal_class": sub.data.normal_class,
               "model_case": sub.model_params.get("case"), "seed": summary.get("seed", sub.seed),
               "selection": summary.get("selection"), "selected_on_test": summary.get("selected_on_test"),
               "selected_epoch": summary.get("selected_epoch"), "epochs_run": summary.get("epochs_run"),
               "train_seconds": round(float(summary.get("train_seconds") or 0.0), 3),
               "wall_seconds": round(float(wall_seconds), 3),
               **_flatten_metrics(summary),
               "run_dir": run_dir_rel + (f"/{case}" if case else ""),
               "shard": "" if shard is None else f"{shard[0]}/{shard[1]}",
               "finished_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               "host": platform.node()}
        rows.append(row)
    return rows
