"""`tfganad-sweep SWEEP.yaml`: parsing only; the work is in `tfganad.sweep`.

Bad input exits with code 2 and one line `error: ...` on stderr, without a traceback; a sweep in which
some cells failed (they are listed in errors.jsonl and retried on the next run) exits with code 1.
"""

from __future__ import annotations

import sys

import click

from tfganad.cli.main import OneLineCommand, user_errors


@click.command(cls=OneLineCommand, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("sweep_file", type=click.Path(dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE",
              help="Fixed override for every cell, e.g. --set data.path=/data/mnist (read as YAML). Repeatable. "
                   "data.path, data.data_dir, data.download and train.verbose do not change the cell keys.")
@click.option("--axis", "axis_overrides", multiple=True, metavar="NAME=VALUES",
              help="Replace an axis's values (YAML list or A..B range), e.g. --axis seed=[0] --axis "
                   "data.anomalous_class=0..4; for variant, the variants to keep: --axis variant=[case1,iforest]. "
                   "Cell keys do not change, so a reduced grid shares finished cells with the full one.")
@click.option("--output-dir", default=None, type=click.Path(file_okay=False),
              help="Parent of the sweep directory (default: the sweep file's output_dir, else runs/sweeps).")
@click.option("--jobs", "-j", default=1, show_default=True, type=int,
              help="Cells run at once, each in its own worker process (spawned; each imports TensorFlow and "
                   "gets cores/jobs threads). With 1, cells run in this process with a per-epoch progress bar.")
@click.option("--shard", default=None, metavar="I/N",
              help="Run only shard I of N (0 <= I < N): the cells whose number is I mod N. For job arrays on "
                   "shared storage, e.g. --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT or "
                   "--shard $JOB_COMPLETION_INDEX/N; each shard writes results.shard-I-of-N.jsonl.")
@click.option("--dry-run", is_flag=True, help="Validate every cell's recipe, list the cells and their status; "
                                                "train nothing.")
@click.option("--status", "status_only", is_flag=True,
              help="Print cells done/total and rewrite results.csv from every shard's rows; train nothing.")
@click.option("--progress-every", default=30.0, show_default=True, type=float,
              help="Seconds between progress lines while worker processes run (--jobs > 1).")
@user_errors
def sweep(sweep_file, overrides, axis_overrides, output_dir, jobs, shard, dry_run, status_only, progress_every):
    """Run every cell of the grid described by SWEEP_FILE, each as its own tfganad run.

    A sweep file names a base recipe (`recipe:`, relative to the sweep file or the working directory),
    fixed overrides (`set:`) and axes (`axes:`, e.g. `data.anomalous_class: 0..9`, `seed: [0, 1, 2]`,
    `model.case: [case1, case8]`, or the reserved `recipe:` list and `variant:` mapping). Every finished
    cell appends one row per case (its axis values, all metrics, wall time) to results.jsonl and
    results.csv in OUTPUT_DIR/NAME/. Re-running the same command skips finished cells and continues an
    interrupted one from its last completed epoch. Render the results with `tfganad-report`.
    """
    from tfganad.sweep import finished_keys, load_sweep, parse_shard, run_sweep, shard_cells, sweep_status

    shard_spec = parse_shard(shard)
    spec = load_sweep(sweep_file, overrides, output_dir=output_dir, axis_overrides=axis_overrides)
    if status_only:
        st = sweep_status(spec)
        click.echo(f"sweep {spec.name}: {st['done']}/{st['total']} cells finished, {len(st['failed'])} failed "
                   f"(retried on the next run); directory {st['directory']}")
        for cell in st["pending"][:20]:
            click.echo(f"  pending {cell.index:4d} {cell.key}  {cell.describe()}")
        if len(st["pending"]) > 20:
            click.echo(f"  ... and {len(st['pending']) - 20} more")
        return
    if dry_run:
        cells = shard_cells(spec.cells(), shard_spec)
        done = finished_keys(spec.directory) if spec.directory.is_dir() else set()
        click.echo(f"sweep {spec.name}: {len(cells)} cells" + (f" in shard {shard}" if shard_spec else "")
                   + f"; directory {spec.directory}")
        for cell in cells:
            state = "done   " if cell.key in done else "pending"
            click.echo(f"  {cell.index:4d} {cell.key} {state} {cell.recipe}  {cell.describe()}")
        return
    try:
        out = run_sweep(spec, jobs=jobs, shard=shard_spec, echo=click.echo, progress_every=progress_every)
    except KeyboardInterrupt:
        click.echo("interrupted: finished cells are kept; run the same command again to continue", err=True)
        sys.exit(130)
    click.echo(f"sweep directory: {out['directory']}")
    click.echo(f"tfganad-report {out['directory']}")
    if out["failed"]:
        click.echo(f"{len(out['failed'])} cell(s) failed (see {out['directory']}/errors.jsonl and the cells' "
                   f"logs); run the same command again to retry them", err=True)
        sys.exit(1)
