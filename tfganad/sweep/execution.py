"""Sweep execution: one cell in this process (`run_cell`), all cells in order or on worker processes
(`run_sweep`), progress lines with an ETA, and `sweep_status`."""

from __future__ import annotations

import contextlib
import datetime
import os
import pathlib
import sys
import time
import traceback
from typing import Callable, Optional

import yaml

from tfganad.errors import ConfigError, DataError, TfganadError
from tfganad.sweep.spec import Cell, Sweep, shard_cells
from tfganad.sweep.store import (
    append_jsonl,
    cell_rows,
    exclusive_lock,
    finished_keys,
    plan_run_dir,
    read_jsonl,
    results_path,
    write_results_csv,
)

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

