"""Multi-worker training (`train.strategy: multiworker`): data parallelism across processes or machines.

Every worker runs the same command (e.g. `tfganad-train RECIPE --set train.strategy=multiworker
--run-dir DIR`) with its own `TF_CONFIG`, the standard TensorFlow cluster description::

    TF_CONFIG='{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}'

Pitfalls handled here and in the base model (STACK.md Q7):

- the strategy (collective ops) must be configured before TensorFlow runs any operation in the process,
  so the runner creates it first, before loading data, and only once per process;
- optimizers are built eagerly inside the strategy scope (`AdversarialDetector.compile`);
- latent noise differs per replica (`AdversarialDetector.sample_latent` folds in the replica id);
- gradients are summed across replicas and losses divided by `num_replicas_in_sync` (the base train step);
- Keras 3 cannot reduce scalar logs across workers (tensorflow/tensorflow#72388): patched here;
- only the chief (worker 0, or the `chief` task) writes the run directory: checkpoints, backups,
  TensorBoard logs, reports and exports of the other workers go to a private temporary directory
  (a copy of the run directory when resuming, so that every worker restores the same epoch).

`train.batch_size` is per replica: the global batch is batch_size × number of workers.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import tempfile

from tfganad.errors import ConfigError

_STRATEGY = None


def tf_config() -> dict:
    """The parsed `TF_CONFIG` environment variable ({} when unset)."""
    text = os.environ.get("TF_CONFIG", "")
    if not text.strip():
        return {}
    try:
        cfg = json.loads(text)
    except json.JSONDecodeError:
        raise ConfigError("TF_CONFIG is not valid JSON; see tfganad.distributed for an example") from None
    if not isinstance(cfg, dict):
        raise ConfigError("TF_CONFIG must be a JSON object with 'cluster' and 'task'")
    return cfg


def is_chief() -> bool:
    """True for the `chief` task, or worker 0 when the cluster has no chief (and without TF_CONFIG)."""
    cfg = tf_config()
    task = cfg.get("task") or {}
    cluster = cfg.get("cluster") or {}
    kind, index = task.get("type"), int(task.get("index", 0) or 0)
    if not cfg or kind == "chief":
        return True
    return kind == "worker" and "chief" not in cluster and index == 0


def _patch_keras_scalar_reduce():
    """Lets Keras 3 `fit`/`evaluate` reduce scalar logs across workers (tensorflow/tensorflow#72388).

    Keras 3.15 reduces each step's logs with `strategy.reduce("MEAN", v, axis=0)` under a multi-worker
    strategy, which fails for the scalar loss/metric logs every model returns ("Invalid reduction
    dimension 0 for input with 0 dimensions"). Scalars are all-reduced with axis=None instead (the mean
    over workers); everything else goes to the original function unchanged.
    """
    from keras.src import tree
    from keras.src.backend.tensorflow import trainer

    if getattr(trainer.reduce_per_replica, "_tfganad_scalar_fix", False):
        return
    original = trainer.reduce_per_replica

    def reduce_per_replica(values, strategy, reduction):
        if reduction in ("auto", "mean") and trainer._collective_all_reduce_multi_worker(strategy):
            def reduce(v):
                rank = getattr(getattr(v, "shape", None), "rank", None)
                return strategy.reduce("MEAN", v, axis=None if rank == 0 else 0)

            return tree.map_structure(reduce, values)
        return original(values, strategy, reduction)

    reduce_per_replica._tfganad_scalar_fix = True
    trainer.reduce_per_replica = reduce_per_replica


def multiworker_strategy():
    """This process's `tf.distribute.MultiWorkerMirroredStrategy` (created on first call, from TF_CONFIG)."""
    global _STRATEGY
    if _STRATEGY is None:
        import tensorflow as tf

        _patch_keras_scalar_reduce()

        try:
            _STRATEGY = tf.distribute.MultiWorkerMirroredStrategy()
        except RuntimeError as exc:
            if "program startup" not in str(exc):
                raise
            raise ConfigError("train.strategy multiworker must be set up before TensorFlow runs any operation in "
                              "this process: start a fresh process (tfganad-train does), or call "
                              "tfganad.distributed.multiworker_strategy() first") from None
    return _STRATEGY


def worker_run_dir(run_dir, resume: bool) -> tuple:
    """Sets up the strategy, then → (run directory, resume) for this worker.

    The chief keeps `run_dir`; another worker gets a fresh temporary directory (a copy of `run_dir`
    when resuming), so that only the chief writes results.
    """
    multiworker_strategy()
    if is_chief():
        return run_dir, resume
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="tfganad-worker-"))
    if resume:
        shutil.copytree(run_dir, tmp / "run")
    return tmp / "run", resume
