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

The package is split by concern: `spec` (the sweep file, cells, keys, shards), `store` (results files,
locks, run directories, results rows) and `execution` (running cells, progress, status); every name is
re-exported here.
"""

from tfganad.sweep.execution import (
    Progress,
    run_cell,
    run_sweep,
    sweep_status,
    write_sweep_hparams,
)
from tfganad.sweep.spec import (
    LOCATION_KEYS,
    RESERVED_AXES,
    SWEEP_KEYS,
    Cell,
    Sweep,
    cell_key,
    expand_values,
    load_sweep,
    parse_shard,
    resolve_recipe_path,
    shard_cells,
)
from tfganad.sweep.store import (
    append_jsonl,
    cell_rows,
    exclusive_lock,
    finished_keys,
    plan_run_dir,
    read_jsonl,
    read_results,
    results_path,
    write_results_csv,
)


__all__ = ["LOCATION_KEYS", "RESERVED_AXES", "SWEEP_KEYS", "Cell", "Progress", "Sweep", "append_jsonl", "cell_key",
           "cell_rows", "exclusive_lock", "expand_values", "finished_keys", "load_sweep", "parse_shard",
           "plan_run_dir", "read_jsonl", "read_results", "resolve_recipe_path", "results_path", "run_cell",
           "run_sweep", "shard_cells", "sweep_status", "write_results_csv", "write_sweep_hparams"]
