"""Throughput settings chosen per machine and model: steps per execution, CPU threads and the bf16 guard.

None changes what a model computes: `steps_per_execution` only groups steps into one compiled call
(the same steps in the same order), the thread pools only decide which core runs an op, and the bf16
guard only warns.
"""

from __future__ import annotations

import logging
import math
import os
import pathlib
import platform

from tfganad.errors import ConfigError

log = logging.getLogger("tfganad")

#: Most steps `train.steps_per_execution: auto` puts in one compiled call: callbacks see the logs
#: (NaN guard, progress bar) at least this often.
MAX_STEPS_PER_EXECUTION = 100
#: `auto` groups steps until one call holds about this many FLOPs: the ~1-2 ms of Python and
#: dispatch per call is then a few % of the call even on a fast CPU (~100-200 GFLOP/s).
TARGET_FLOP_PER_EXECUTION = 2e9
#: GANomaly training with mixed_bfloat16 on AMD EPYC Zen 3 (no bf16 instructions) against float32,
#: the same run (docs/PERFORMANCE.md, 2026-12-03).
BF16_SLOWDOWN_WITHOUT_ISA = 6.6
#: /proc/cpuinfo flags (x86: AVX512_BF16 or AMX-BF16; Arm: BF16) that give native bf16 arithmetic.
BF16_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")

_warned: set = set()


def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> set:
    """CPU feature flags of this machine (lower case) from /proc/cpuinfo; empty set when unreadable."""
    try:
        text = pathlib.Path(cpuinfo).read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        # x86 calls the line "flags", Arm "Features".
        if key.strip().lower() in ("flags", "features"):
            return set(value.lower().split())
    return set()


def cpu_has_bf16(flags=None) -> bool:
    """True when the CPU has native bfloat16 arithmetic (so `mixed_bfloat16` can pay off)."""
    if flags is None:
        flags = cpu_flags()
    return bool(set(flags) & set(BF16_FLAGS))


def check_bf16(precision: str, has_gpu: bool, flags=None) -> str | None:
    """The warning for `mixed_bfloat16` on a CPU without bf16 instructions (logged once), else None.

    Args:
        precision: the resolved precision policy name.
        has_gpu: True when TensorFlow sees a GPU (bf16 then runs there, not on the CPU).
        flags: CPU flags to check (default: this machine's, from /proc/cpuinfo).
    """
    if precision != "mixed_bfloat16" or has_gpu:
        return None
    if flags is None:
        flags = cpu_flags()
    if not flags or cpu_has_bf16(flags):
        # Unknown flags (not Linux): no claim either way.
        return None
    message = (f"train.precision=mixed_bfloat16 on a CPU without bf16 instructions "
               f"({platform.processor() or platform.machine()}): bf16 is emulated and training was "
               f"{BF16_SLOWDOWN_WITHOUT_ISA}x slower than float32 on such a CPU (AMD Zen 3, "
               f"docs PERFORMANCE.md); use train.precision=float32 or auto")
    if message not in _warned:
        _warned.add(message)
        log.warning(message)
    return message


def validate_steps_per_execution(value) -> None:
    """ConfigError unless `value` is a positive integer or 'auto'."""
    if value == "auto":
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"train.steps_per_execution must be a positive integer or 'auto', got {value!r}")


def auto_steps_per_execution(model, batch_size: int, steps_per_epoch: int) -> int:
    """Steps per compiled call for `train.steps_per_execution: auto`.

    Image models keep 1: a conv step is tens of ms and more, against ~1 ms of per-call overhead.
    For row models (MLPs) a step costs about 6 FLOPs per parameter and sample (forward + backward),
    often well under a millisecond, so steps are grouped until one call holds about
    `TARGET_FLOP_PER_EXECUTION` FLOPs, at most `MAX_STEPS_PER_EXECUTION` and at most one epoch.

    Args:
        model: a built `AdversarialDetector`.
        batch_size: training batch size.
        steps_per_epoch: steps of one epoch.
    """
    if getattr(model, "is_image", False):
        return 1
    # Sub-networks are built at construction; the wrapper model itself may not be yet.
    params = max(1, sum(math.prod(v.shape) for v in model.trainable_variables))
    step_flop = 6.0 * params * max(1, int(batch_size))
    spe = int(min(MAX_STEPS_PER_EXECUTION, math.ceil(TARGET_FLOP_PER_EXECUTION / step_flop)))
    return max(1, min(spe, int(steps_per_epoch)))


def resolve_steps_per_execution(value, model, batch_size: int, steps_per_epoch: int,
                                steps_per_epoch_given: bool) -> int:
    """`train.steps_per_execution` → an integer for `compile`.

    With an explicit `train.steps_per_epoch` Keras runs whole executions, so an epoch would run
    `ceil(steps_per_epoch / spe) * spe` steps: `auto` then picks a divisor of the epoch, and an explicit
    value that does not divide it is rejected (it would silently train extra steps).
    """
    validate_steps_per_execution(value)
    steps_per_epoch = max(1, int(steps_per_epoch))
    if value == "auto":
        spe = auto_steps_per_execution(model, batch_size, steps_per_epoch)
        if steps_per_epoch_given:
            while steps_per_epoch % spe:
                spe -= 1
        return spe
    if steps_per_epoch_given and steps_per_epoch % value:
        raise ConfigError(f"train.steps_per_execution={value} does not divide train.steps_per_epoch="
                          f"{steps_per_epoch}: each epoch would run extra steps; use a divisor or 'auto'")
    return int(value)


def validate_threads(key: str, value) -> None:
    """ConfigError unless `value` is 'auto' or an integer >= 0 (0: TensorFlow's own default)."""
    if value == "auto":
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"train.{key} must be 'auto' or an integer >= 0 (0 = TensorFlow's default), got {value!r}")


def auto_threads(rows: bool, cores=None, has_gpu: bool = False) -> tuple:
    """(intra_op, inter_op) thread counts for `train.intra_op_threads/inter_op_threads: auto`.

    A row model's (MLP) step is thousands of ops of microseconds each (KDD99 ALAD: about 4,000 per step
    at batch 50). Splitting such an op over an intra-op pool costs more than the op; one thread per op and
    an inter-op pool of all cores instead runs independent ops (the discriminators' and the encoder's
    branches, the players' optimizer updates) side by side. On 2 cores the gain is modest and noisy
    (benchmarks/results/throughput_rows.md: Arrhythmia epochs 60 against 88 ms through the runner, KDD99
    ALAD 284 against 257 steps/s, EGBAD 930 against 1,012). Image models keep TensorFlow's defaults
    (0, 0): their convolutions need the intra-op pool. With a GPU the CPU pools are left alone too.
    """
    if has_gpu or not rows:
        return 0, 0
    cores = int(cores or os.cpu_count() or 1)
    return 1, max(1, cores)


def configure_threads(intra, inter, rows: bool) -> tuple:
    """Sets TensorFlow's CPU thread pools for this process from `train.intra_op_threads/inter_op_threads`.

    The pools can only be set before TensorFlow runs its first op, so the first configured run of a
    process decides. `auto` also leaves pools that someone already set (a sweep worker's share of the
    cores) alone. An explicit value that can no longer be applied logs one warning.

    Args:
        intra: `train.intra_op_threads` ('auto' or an integer >= 0).
        inter: `train.inter_op_threads` ('auto' or an integer >= 0).
        rows: True when the model trains on rows (an MLP), False for images.

    Returns:
        the (intra, inter) pools in effect afterwards (0 = TensorFlow's default).
    """
    import tensorflow as tf

    validate_threads("intra_op_threads", intra)
    validate_threads("inter_op_threads", inter)
    threading = tf.config.threading
    current = (threading.get_intra_op_parallelism_threads(), threading.get_inter_op_parallelism_threads())
    if "auto" in (intra, inter):
        if current != (0, 0) and intra == "auto" and inter == "auto":
            return current  # set by the process's owner (a sweep worker): keep it
        auto = auto_threads(rows, has_gpu=bool(tf.config.list_physical_devices("GPU")))
        intra = auto[0] if intra == "auto" else intra
        inter = auto[1] if inter == "auto" else inter
    wanted = (int(intra), int(inter))
    if wanted == current:
        return current
    try:
        threading.set_intra_op_parallelism_threads(wanted[0])
        threading.set_inter_op_parallelism_threads(wanted[1])
    except RuntimeError:
        # TensorFlow already ran an op in this process (a notebook, an earlier case): the pools are fixed.
        message = (f"train.intra_op_threads/inter_op_threads: TensorFlow is already running in this process, "
                   f"so its thread pools stay {current} instead of {wanted} (0 = default); start a new "
                   f"process to change them")
        if message not in _warned:
            _warned.add(message)
            (log.warning if wanted != (0, 0) else log.debug)(message)
        return current
    return wanted
