"""Experiment sweeps: one YAML file → every cell of a grid of recipes, resumable, parallel, shardable.

A sweep file names a base recipe and the axes to vary; every cell of the cartesian product is one
`tfganad.training.runner.run` in its own run directory, and every finished cell appends its rows to a
results table::

    name: survey_egbad_mnist
    recipe: ../egbad_mnist.yaml          # relative to this file (else to the working directory)
    output_dir: runs/sweeps              # the sweep lives in <output_dir>/<name>/
    set:                                 # fixed overrides, applied to every cell
      train.epochs: 20
    axes:                                # cartesian product; the first axis varies slowest
      model.case: [case1, case2]
      data.anomalous_class: 0..9         # "A..B" = the integers A to B inclusive
      seed: [0, 1, 2]

Axis names are recipe keys (`section.key`, or `seed`), plus two reserved axes: `recipe` (a list of
base recipe files) and `variant` (a mapping label → {section.key: value, ...}; a `recipe` entry in it
picks that variant's base recipe, and a section name as key replaces the whole section, e.g.
`model: {name: iforest}`).

Layout of `<output_dir>/<name>/`::

    sweep.yaml                         the sweep as first run (axes expanded)
    cells/<key>/                       one run directory per cell (`<key>.2`, ... for fresh restarts)
    cells/<key>.log                    the cell's console output when run by a worker process
    results.jsonl                      one JSON row per finished cell and case (shard I of N:
                                       results.shard-I-of-N.jsonl; readers merge every results*.jsonl)
    results.csv                        all rows merged, rewritten atomically after every cell
    errors.jsonl                       cells that failed (they are retried on the next run)
    hparams/                           TensorBoard HParams experiment: the keys that vary, typed (each
                                       cell's cases are its sessions: `tensorboard --logdir` this folder)

`<key>` is a stable hash of the cell's base recipe path (as written) and its overrides, leaving out
keys that only say where data lives or how much is printed (`data.path`, `data.data_dir`,
`data.download`, `train.verbose`, `output_dir`). Re-running a sweep skips every cell with a row; a cell
whose run directory exists but has no row is continued with `runner.resume` (from its last completed
epoch), or restarted in a fresh `<key>.N` directory when nothing resumable was written — nothing is
overwritten. Editing the base recipe does not invalidate finished cells: use a new `name`.

Sharding (`shard=(I, N)`, 0 ≤ I < N): cell number k belongs to shard k mod N, so the N shards are
disjoint and together cover the grid, whatever machine runs them. Each shard appends to its own
results file (one writer per file; appends also take an `flock`), so shards on shared storage never
write the same file except `results.csv`, which is replaced atomically (the last writer's merge wins;
`tfganad-sweep SWEEP --status` rewrites it from all shards). A lock file per results file stops two
processes from running the same shard at once (flock: reliable on local disks and NFSv4; on other
network file systems rely on the job array giving each shard to one task).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import hashlib
import itertools
import json
import os
import pathlib
import platform
import re
import sys
import time
import traceback
from typing import Callable, Optional

import yaml

from tfganad.errors import ConfigError, DataError, TfganadError
from tfganad.registry import did_you_mean

SWEEP_KEYS = ("name", "description", "recipe", "output_dir", "set", "axes")
RESERVED_AXES = ("recipe", "variant")
# Keys that say where data lives or how much is printed: they do not change a cell's result.
LOCATION_KEYS = ("data.path", "data.data_dir", "data.download", "train.verbose", "output_dir")
_RANGE = re.compile(r"^\s*(-?\d+)\s*\.\.\s*(-?\d+)\s*$")


@dataclasses.dataclass(frozen=True)
class Cell:
    """One point of the grid.

    Attributes:
        index: position in the grid (row-major, first axis slowest); decides the shard.
        key: stable hash of `recipe` and the result-relevant `overrides`; names the run directory.
        labels: axis name → value shown in tables (a variant's label, a recipe's path as written).
        recipe: base recipe path as written in the sweep file.
        recipe_path: that path resolved (relative to the sweep file, else to the working directory).
        overrides: ((section.key, value), ...) applied to the base recipe, fixed ones first.
    """

    index: int
    key: str
    labels: dict
    recipe: str
    recipe_path: str
    overrides: tuple

    def describe(self) -> str:
        """`axis=value` pairs, for progress lines and error messages."""
        return " ".join(f"{k}={v}" for k, v in self.labels.items()) or "(single cell)"

    def load_recipe(self, extra=()):
        """The cell's validated recipe (`tfganad.config.load_recipe` with the cell's overrides)."""
        import copy

        from tfganad.config import load_recipe

        # Deep copy: a section-valued override (model: {...}) must not be mutated by later dotted ones.
        return load_recipe(self.recipe_path, copy.deepcopy([*self.overrides, *extra]))


@dataclasses.dataclass(frozen=True)
class Sweep:
    """A parsed sweep file; `cells()` expands it."""

    name: str
    path: pathlib.Path
    recipe: Optional[str]
    axes: dict
    fixed: dict
    output_dir: str
    description: str = ""

    @property
    def directory(self) -> pathlib.Path:
        return pathlib.Path(self.output_dir) / self.name

    def cells(self) -> list:
        """Every cell of the cartesian product of the axes, in a deterministic order."""
        names = list(self.axes)
        cells = []
        for index, combo in enumerate(itertools.product(*(self.axes[n] for n in names))):
            recipe = self.recipe
            labels, overrides = {}, list(self.fixed.items())
            for name, value in zip(names, combo):
                if name == "recipe":
                    recipe = value
                    labels[name] = value
                elif name == "variant":
                    label, mapping = value
                    labels[name] = label
                    for dotted, v in mapping.items():
                        if dotted == "recipe":
                            recipe = v
                        else:
                            overrides.append((dotted, v))
                else:
                    labels[name] = value
                    overrides.append((name, value))
            if recipe is None:
                raise ConfigError(f"{self.path}: no base recipe for cell {index} ({labels}); set 'recipe' at the "
                                  f"top level, as an axis, or in every variant")
            cells.append(Cell(index=index, key=cell_key(recipe, overrides), labels=labels, recipe=recipe,
                              recipe_path=str(resolve_recipe_path(recipe, self.path)),
                              overrides=tuple(overrides)))
        return cells

    def to_dict(self) -> dict:
        axes = {}
        for name, values in self.axes.items():
            axes[name] = {label: mapping for label, mapping in values} if name == "variant" else list(values)
        return {"name": self.name, "description": self.description, "recipe": self.recipe,
                "output_dir": self.output_dir, "set": dict(self.fixed), "axes": axes}


def cell_key(recipe: str, overrides) -> str:
    """Stable 12-hex-digit hash of a cell: base recipe (as written) + effective overrides, minus LOCATION_KEYS.

    An override replaced later (same key, or its whole section set later) does not count, and the rest
    are sorted by key, so the key does not depend on how the file orders `set` and the axes.
    """
    overrides = list(overrides)
    relevant = []
    for i, (key, value) in enumerate(overrides):
        later = [k for k, _ in overrides[i + 1:]]
        if key in LOCATION_KEYS or any(k == key or key.startswith(k + ".") for k in later):
            continue
        relevant.append([key, value])
    relevant.sort(key=lambda kv: kv[0])
    text = json.dumps({"recipe": str(recipe), "overrides": relevant}, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def resolve_recipe_path(recipe: str, sweep_path) -> pathlib.Path:
    """A recipe path relative to the sweep file when that file exists there, else as given (cwd)."""
    candidate = pathlib.Path(sweep_path).parent / recipe
    return candidate if candidate.is_file() else pathlib.Path(recipe)


def expand_values(name: str, values) -> list:
    """An axis's values: a list, a range string "A..B" (inclusive), or one scalar; ranges in lists expand."""
    if isinstance(values, str) and _RANGE.match(values):
        values = [values]
    if not isinstance(values, list):
        values = [values]
    out = []
    for v in values:
        m = _RANGE.match(v) if isinstance(v, str) else None
        if m:
            lo, hi = int(m.group(1)), int(m.group(2))
            if hi < lo:
                raise ConfigError(f"axes.{name}: range {v!r} is empty (write low..high)")
            out += list(range(lo, hi + 1))
        else:
            out.append(v)
    if not out:
        raise ConfigError(f"axes.{name} has no values")
    seen = []
    for v in out:
        if v in seen:
            raise ConfigError(f"axes.{name} lists {v!r} twice")
        seen.append(v)
    return out


def _check_dotted(dotted: str, where: str):
    from tfganad.config import TOP_LEVEL

    allowed = [k for k in TOP_LEVEL if k != "cases"]
    head = str(dotted).split(".")[0]
    if head not in allowed:
        raise ConfigError(f"{where}: {dotted!r} is not a recipe key{did_you_mean(head, allowed)}; keys start with "
                          f"one of: {', '.join(allowed)} (or use the reserved axes {', '.join(RESERVED_AXES)})")


def load_sweep(path, overrides=(), output_dir: Optional[str] = None, validate: bool = True,
               axis_overrides=()) -> Sweep:
    """Reads and validates a sweep file; `overrides` are extra fixed `section.key=value` overrides.

    `axis_overrides` (`name=values`, values read as YAML: a list or an "A..B" range) replace an axis's
    values or add an axis; for `variant` they name the variants to keep, in that order. Cells keep their
    keys, so a reduced grid shares finished cells with the full one.

    With `validate`, every cell's recipe is loaded once, so an unknown or mistyped key fails now (with
    the list of valid keys) rather than hours into the sweep.
    """
    from tfganad.config import parse_override

    path = pathlib.Path(path)
    if not path.is_file():
        raise ConfigError(f"sweep file {str(path)!r} does not exist")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError:
        raise ConfigError(f"sweep file {str(path)!r} is not valid YAML") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"sweep file {str(path)!r} must hold a mapping")
    for key in raw:
        if key not in SWEEP_KEYS:
            raise ConfigError(f"unknown sweep key {key!r}{did_you_mean(key, SWEEP_KEYS)}; valid keys: "
                              f"{', '.join(SWEEP_KEYS)}")
    axes_raw = raw.get("axes") or {}
    if not isinstance(axes_raw, dict):
        raise ConfigError("axes: expected a mapping of axis name → list of values")
    axes = {}
    for name, values in axes_raw.items():
        name = str(name)
        if name == "variant":
            if not isinstance(values, dict) or not values:
                raise ConfigError("axes.variant: expected a mapping label → {section.key: value, ...}")
            variants = []
            for label, mapping in values.items():
                mapping = dict(mapping or {})
                for dotted in mapping:
                    if dotted != "recipe":
                        _check_dotted(dotted, f"axes.variant.{label}")
                variants.append((str(label), mapping))
            axes[name] = variants
            continue
        if name != "recipe":
            _check_dotted(name, "axes")
        axes[name] = expand_values(name, values)
    for item in axis_overrides:
        name, values = parse_override(item) if isinstance(item, str) else item
        if name == "variant":
            known = [label for label, _ in axes.get("variant", [])]
            wanted = expand_values(name, values)
            unknown = [w for w in wanted if str(w) not in known]
            if unknown:
                raise ConfigError(f"--axis variant: {unknown[0]!r} is not a variant of this sweep; variants: "
                                  f"{', '.join(known) or '(none)'}")
            mappings = dict(axes["variant"])
            axes["variant"] = [(str(w), mappings[str(w)]) for w in wanted]  # in the order given
            continue
        if name != "recipe":
            _check_dotted(name, "--axis")
        axes[name] = expand_values(name, values)
    fixed = dict(raw.get("set") or {})
    for dotted in fixed:
        _check_dotted(dotted, "set")
    for item in overrides:
        key, value = parse_override(item) if isinstance(item, str) else item
        _check_dotted(key, "--set")
        fixed[key] = value
    clash = [k for k in fixed if k in axes]
    if clash:
        raise ConfigError(f"{clash[0]!r} is both a fixed override and an axis; drop one of them")
    name = str(raw.get("name") or path.stem)
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise ConfigError(f"sweep name {name!r} may only hold letters, digits, '_', '.' and '-'")
    recipe = raw.get("recipe")
    if recipe is not None and not isinstance(recipe, str):
        raise ConfigError("recipe: expected one path (list several base recipes under axes.recipe)")
    sweep = Sweep(name=name, path=path, recipe=recipe, axes=axes, fixed=fixed,
                  output_dir=str(output_dir or raw.get("output_dir") or "runs/sweeps"),
                  description=str(raw.get("description") or ""))
    cells = sweep.cells()
    keys = [c.key for c in cells]
    if len(set(keys)) != len(keys):
        raise ConfigError("two cells of this sweep have identical overrides; an axis repeats another")
    if validate:
        for cell in cells:
            try:
                cell.load_recipe()
            except ConfigError as exc:
                raise ConfigError(f"cell {cell.index} ({cell.describe()}): {exc}") from None
    return sweep


def parse_shard(text) -> Optional[tuple]:
    """`"I/N"` (0 ≤ I < N) → (I, N); None stays None."""
    if text is None or text == "":
        return None
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(text))
    if not m or int(m.group(2)) < 1 or int(m.group(1)) >= int(m.group(2)):
        raise ConfigError(f"--shard {text!r} must be I/N with 0 <= I < N (e.g. 0/4 ... 3/4)")
    return int(m.group(1)), int(m.group(2))


def shard_cells(cells: list, shard: Optional[tuple]) -> list:
    """The cells of shard (I, N): those with index ≡ I (mod N), so shards interleave the grid evenly."""
    if shard is None:
        return list(cells)
    i, n = shard
    return [c for c in cells if c.index % n == i]


# === Results files ===

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


# === Running cells ===

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
    out = {}
    for k, v in (summary.get("metrics") or {}).items():
        if isinstance(v, (int, float, str, bool)) or v is None:
            out[k] = v
    for name, mm in (summary.get("metrics_by_score") or {}).items():
        for k, v in mm.items():
            out[f"by_score.{name}.{k}"] = v
    return out


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


def run_cell(task: dict) -> dict:
    """Runs one cell (fresh or resumed) in this process → {"rows", "wall_seconds"} or {"error", "kind"}.

    Module-level so that worker processes (spawn) can import it; a worker redirects the cell's console
    output to `task["log"]`.
    """
    start = time.perf_counter()
    cell = task["cell"]
    log = task.get("log")
    with _redirect_output(log) if log else contextlib.nullcontext():
        try:
            from tfganad.training.runner import resume, run

            extra = list(task.get("extra", ()))
            recipe = cell.load_recipe(extra)
            echo = task.get("echo") or print
            if task["resume"]:
                out = resume(task["run_dir"], echo=echo, hparams=task.get("hparams"))
            else:
                out = run(recipe, run_dir=task["run_dir"], echo=echo, hparams=task.get("hparams"))
            rows = cell_rows(cell, recipe, out, time.perf_counter() - start, task["sweep"],
                             str(pathlib.Path(task["run_dir"]).relative_to(task["directory"])), task["shard"])
            return {"rows": rows, "wall_seconds": time.perf_counter() - start}
        except TfganadError as exc:
            kind = "config" if isinstance(exc, (ConfigError, DataError)) else "training"
            if log:
                print(f"error: {exc}", file=sys.stderr)
            return {"error": str(exc), "kind": kind, "wall_seconds": time.perf_counter() - start}
        except Exception as exc:  # noqa: BLE001  (one crashing cell must not end a long sweep)
            traceback.print_exc()
            return {"error": f"{type(exc).__name__}: {exc}", "kind": "crash",
                    "wall_seconds": time.perf_counter() - start}
        finally:
            try:
                import keras

                keras.backend.clear_session()
            except Exception:  # noqa: BLE001
                pass


@contextlib.contextmanager
def _redirect_output(path):
    """Sends this process's stdout/stderr (Python and C level) to `path` (appending)."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, "a") as fh:
        # The first line also marks the cell as started (the parent watches the log's mtime).
        fh.write(f"=== {datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')} "
                 f"cell started (pid {os.getpid()}) ===\n")
        fh.flush()
        os.dup2(fh.fileno(), 1)
        os.dup2(fh.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def _worker_init(threads: int):
    """Worker process set-up (spawn): TF is imported here, in the worker, with a share of the cores."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # A sweep killed from outside (timeout, job time limit) must not leave a worker training on in a
    # cell directory that the next run will resume: on Linux, die with the parent.
    try:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(max(1, min(threads, 2)))
    except RuntimeError:
        pass  # the runtime was already initialised: keep its settings


def _started(task: dict, since: float) -> bool:
    """Whether a worker has begun `task` (its log file was opened after `since`)."""
    try:
        return os.path.getmtime(task["log"]) >= since - 1.0
    except (OSError, KeyError, TypeError):
        return False


def _epoch_progress(run_dir: pathlib.Path, epochs_total: int) -> str:
    """'epoch k/n' from the cell's history.csv files (CSVLogger writes one line per finished epoch)."""
    done = 0
    for hist in pathlib.Path(run_dir).glob("**/history.csv"):
        try:
            done += max(0, len(hist.read_text().splitlines()) - 1)
        except OSError:
            pass
    return f"epoch {done}/{epochs_total}"


def _fmt_seconds(s: float) -> str:
    s = int(round(s))
    if s >= 3600:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"


def _cell_kind(cell: Cell) -> str:
    """Cells that should take about as long: the same labels apart from class and seed axes."""
    return " ".join(f"{k}={v}" for k, v in cell.labels.items()
                    if k not in ("seed", "data.split_seed", "data.anomalous_class", "data.normal_class"))


class Progress:
    """Overall progress: cells done/total and an ETA from the cells finished in this invocation.

    The ETA sums, over the cells still to run, the mean wall time of finished cells of the same kind
    (e.g. the same model/case; all finished cells when none of its kind has finished), over `jobs`.
    """

    def __init__(self, total: int, done: int, jobs: int, echo: Callable, todo=()):
        self.total, self.done, self.jobs, self.echo = total, done, jobs, echo
        self.failed = 0
        self.durations: dict = {}
        self.todo = {c.key: _cell_kind(c) for c in todo}
        self.start = time.perf_counter()

    def finished(self, cell: Cell, seconds: Optional[float]):
        """Records a finished (seconds given) or failed (None) cell."""
        kind = self.todo.pop(cell.key, _cell_kind(cell))
        if seconds is None:
            self.failed += 1
        else:
            self.done += 1
            self.durations.setdefault(kind, []).append(seconds)

    def eta(self) -> str:
        if not self.todo:
            return "ETA 0s"
        every = [d for ds in self.durations.values() for d in ds]
        if not every:
            return "ETA unknown"
        overall = sum(every) / len(every)
        total = sum(sum(self.durations[k]) / len(self.durations[k]) if k in self.durations else overall
                    for k in self.todo.values())
        return f"ETA {_fmt_seconds(total / max(1, self.jobs))}"

    def line(self) -> str:
        failed = f", {self.failed} failed" if self.failed else ""
        return f"[sweep {self.done}/{self.total} done{failed}, {self.eta()}]"


def _summary_line(rows: list) -> str:
    parts = []
    for r in rows:
        case = f"[{r['case']}] " if r.get("case") not in (None, "-") else ""
        auroc, auprc = r.get("auroc", float("nan")), r.get("auprc", float("nan"))
        parts.append(f"{case}{r['model']} AUROC {auroc:.4f} AUPRC {auprc:.4f}")
    return "; ".join(parts)


def run_sweep(sweep: Sweep, jobs: int = 1, shard: Optional[tuple] = None, echo: Callable = print,
              progress_every: float = 30.0, extra_overrides=()) -> dict:
    """Runs every unfinished cell of `sweep` (of its shard) → {"directory", "total", "done", "failed", "ran"}.

    Args:
        jobs: worker processes (spawn; each imports TensorFlow itself and gets cores // jobs threads).
            1 runs the cells in this process, with the runner's own per-epoch progress bar.
        shard: (I, N) to run only the cells with index ≡ I (mod N).
        progress_every: seconds between progress lines while workers run (jobs > 1).
        extra_overrides: overrides applied to every cell but kept out of the cell key (e.g. verbosity).
    """
    if jobs < 1:
        raise ConfigError(f"--jobs must be at least 1, got {jobs}")
    directory = sweep.directory
    directory.mkdir(parents=True, exist_ok=True)
    cells_dir = directory / "cells"
    cells_dir.mkdir(exist_ok=True)
    results = results_path(directory, shard)
    lock_name = ".lock" if shard is None else f".lock.shard-{shard[0]}-of-{shard[1]}"
    with exclusive_lock(directory / lock_name):
        if not (directory / "sweep.yaml").exists():
            from tfganad.training.io import atomic_write_text

            atomic_write_text(directory / "sweep.yaml", yaml.safe_dump(sweep.to_dict(), sort_keys=False))
        hparams = write_sweep_hparams(sweep, directory, extra_overrides)
        mine = shard_cells(sweep.cells(), shard)
        done = finished_keys(directory)
        todo = [c for c in mine if c.key not in done]
        progress = Progress(total=len(mine), done=len(mine) - len(todo), jobs=min(jobs, max(1, len(todo))),
                            echo=echo, todo=todo)
        where = f" (shard {shard[0]}/{shard[1]})" if shard else ""
        echo(f"sweep {sweep.name}{where}: {len(mine)} cells, {progress.done} already finished, {len(todo)} to run, "
             f"{jobs} job(s); directory {directory}")
        abandoned = [e["run_dir"] for e in read_jsonl(directory / "errors.jsonl")
                     if e.get("resume") and e.get("kind") == "crash" and e.get("run_dir")]
        tasks = []
        for cell in todo:
            run_dir, resume = plan_run_dir(cells_dir, cell.key, abandoned)
            extra = list(extra_overrides)
            if jobs > 1:
                extra.append(("train.verbose", 2))  # one line per epoch in the cell's log file
            tasks.append({"cell": cell, "run_dir": str(run_dir), "resume": resume, "sweep": sweep.name,
                          "hparams": hparams,
                          "directory": str(directory), "shard": shard, "extra": extra,
                          "log": str(cells_dir / f"{cell.key}.log") if jobs > 1 else None})
        failed, ran = [], 0

        def finish(task, result):
            nonlocal ran
            cell = task["cell"]
            if "error" in result:
                progress.finished(cell, None)
                failed.append(cell.key)
                append_jsonl(directory / "errors.jsonl", [{
                    "cell": cell.key, "index": cell.index, **cell.labels, "kind": result["kind"],
                    "error": result["error"], "run_dir": task["run_dir"], "resume": task["resume"],
                    "log": task.get("log"),
                    "at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}])
                echo(f"{progress.line()} FAILED cell {cell.key} ({cell.describe()}): {result['error']}")
                if result["kind"] == "config":
                    raise ConfigError(f"cell {cell.index} ({cell.describe()}): {result['error']}")
                return
            append_jsonl(results, result["rows"])
            write_results_csv(directory)
            ran += 1
            progress.finished(cell, result["wall_seconds"])
            echo(f"{progress.line()} finished {cell.describe()} in {_fmt_seconds(result['wall_seconds'])}: "
                 f"{_summary_line(result['rows'])}")

        if jobs == 1:
            for task in tasks:
                cell = task["cell"]
                verb = "resuming" if task["resume"] else "running"
                echo(f"{progress.line()} {verb} cell {cell.index} {cell.key}: {cell.describe()}")
                finish(task, run_cell({**task, "echo": echo}))
        elif tasks:
            _run_parallel(tasks, jobs, finish, progress, progress_every, echo)
        if tasks or not (directory / "results.csv").exists():
            write_results_csv(directory)
        echo(f"{progress.line()} results: {directory / 'results.csv'}")
        return {"directory": str(directory), "total": len(mine), "done": progress.done, "failed": failed,
                "ran": ran, "results": str(results)}


def write_sweep_hparams(sweep: Sweep, directory, extra_overrides=()) -> dict:
    """Writes the sweep's TensorBoard HParams experiment (`<sweep dir>/hparams/`): the keys that vary over
    all cells and cases, typed, with their values → the spec (JSON) every cell's sessions follow."""
    from tfganad.training import hparams as H

    recipes = []
    for cell in sweep.cells():
        recipe = cell.load_recipe(extra_overrides)
        recipes += [recipe.for_case(c) for c in recipe.cases] or [recipe]
    spec = H.hparam_spec(recipes)
    H.write_experiment(pathlib.Path(directory) / "hparams", spec, H.metric_keys(recipes))
    return H.spec_to_json(spec)


def _run_parallel(tasks, jobs, finish, progress, progress_every, echo):
    """Runs tasks on `jobs` spawned worker processes, printing overall and per-cell progress."""
    import concurrent.futures as cf
    import multiprocessing

    threads = max(1, (os.cpu_count() or 1) // jobs)
    pool = cf.ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                                  initializer=_worker_init, initargs=(threads,))
    futures = {}
    try:
        for task in tasks:
            futures[pool.submit(run_cell, task)] = task
        started = {}
        wall_start = time.time()
        pending = set(futures)
        last = 0.0
        while pending:
            done, pending = cf.wait(pending, timeout=min(progress_every, 5.0), return_when=cf.FIRST_COMPLETED)
            for fut in done:
                task = futures[fut]
                try:
                    result = fut.result()
                except Exception as exc:  # noqa: BLE001  (a worker killed by the OS, e.g. out of memory)
                    result = {"error": f"worker died: {type(exc).__name__}: {exc}", "kind": "crash",
                              "wall_seconds": time.perf_counter() - started.get(fut, time.perf_counter())}
                finish(task, result)
            now = time.perf_counter()
            # Futures report "running" while still queued for a worker; a started cell has opened its log.
            running = [f for f in pending if _started(futures[f], wall_start)]
            for f in running:
                started.setdefault(f, now)
            if running and now - last >= progress_every:
                last = now
                parts = []
                for f in running:
                    task = futures[f]
                    try:
                        epochs = task["cell"].load_recipe(task["extra"]).train.epochs
                    except TfganadError:
                        epochs = "?"
                    parts.append(f"{task['cell'].describe()}: {_epoch_progress(pathlib.Path(task['run_dir']), epochs)}"
                                 f" ({_fmt_seconds(now - started[f])})")
                echo(f"{progress.line()} running: " + "; ".join(parts))
    except BaseException:
        for fut in futures:
            fut.cancel()
        # Stop the cells in progress too (they resume on the next run); these are our own workers.
        for proc in list(getattr(pool, "_processes", {}).values()):
            proc.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def sweep_status(sweep: Sweep) -> dict:
    """Cells done / total per shard file, and a refreshed results.csv; trains nothing."""
    directory = sweep.directory
    cells = sweep.cells()
    done = finished_keys(directory) if directory.is_dir() else set()
    errors = read_jsonl(directory / "errors.jsonl")
    failed = {e["cell"] for e in errors if e.get("cell") not in done}
    if directory.is_dir():
        write_results_csv(directory)
    return {"directory": str(directory), "total": len(cells), "done": sum(c.key in done for c in cells),
            "failed": sorted(failed), "pending": [c for c in cells if c.key not in done]}


__all__ = ["Cell", "Sweep", "append_jsonl", "cell_key", "expand_values", "finished_keys", "load_sweep",
           "parse_shard", "plan_run_dir", "read_jsonl", "read_results", "run_cell", "run_sweep", "shard_cells",
           "sweep_status", "write_results_csv"]
