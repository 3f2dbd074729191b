"""`tfganad-train`, `tfganad-export`, `tfganad-score`: parsing only; the work is in the library.

Bad input exits with code 2 and one line `error: ...` on stderr, without a traceback.
"""

from __future__ import annotations

import functools
import pathlib
import sys

import errno

import click

from tfganad.errors import TfganadError

_DISK_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


class OneLineCommand(click.Command):
    """A click command whose own usage errors print one `error: ...` line (exit 2), like ours."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.ClickException as exc:
            click.echo(f"error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except click.exceptions.Abort:
            click.echo("error: aborted", err=True)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)


def user_errors(fn):
    """Turns TfganadError (and unreadable files) into `error: ...` + exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except TfganadError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except Exception as exc:  # noqa: BLE001 - re-raised unless it is a full disk
            if getattr(exc, "errno", None) not in _DISK_ERRNOS and "No space left on device" not in str(exc):
                raise
            # Disk full or quota (OSError, h5py, TensorFlow): one line naming the path; writes are
            # atomic, so no partial file is left for a later step to trust.
            where = getattr(exc, "filename", None) or "the run directory"
            click.echo(f"error: no space left to write {where!s} ({exc.strerror}); free space (or choose another "
                       f"--output-dir) and continue with tfganad-train --resume RUN_DIR", err=True)
            sys.exit(2)

    return wrapper


@click.command(cls=OneLineCommand, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("recipe", type=click.Path(), required=False)
@click.option("--resume", "resume_dir", default=None, type=click.Path(file_okay=False),
              help="Continue the interrupted run in this run directory (from its last completed epoch); "
                   "give no RECIPE.")
@click.option("--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE",
              help="Override a recipe key, e.g. --set train.epochs=3 --set model.adversarial_loss=fm. "
                   "Values are read as YAML (numbers, true/false, null, [lists]). Repeatable.")
@click.option("--output-dir", default=None, help="Parent directory of the new run directory (recipe's output_dir).")
@click.option("--run-dir", default=None, type=click.Path(file_okay=False),
              help="Exact run directory to create; it must not exist or must be empty.")
@click.option("--case", "only_cases", multiple=True, help="Run only these named cases of the recipe. Repeatable.")
@click.option("--dry-run", is_flag=True, help="Validate the recipe and print it resolved; train nothing.")
@user_errors
def train(recipe, resume_dir, overrides, output_dir, run_dir, only_cases, dry_run):
    """Train, select, evaluate, report and export the model(s) described by RECIPE (a YAML file).

    Writes a new run directory (never overwriting one) with the resolved recipe, TensorBoard logs
    (`tensorboard --logdir RUN_DIR`, one run per case), the best checkpoint, metrics.json, a report
    (markdown + PNG) and a SavedModel in TF-Serving layout.
    """
    import dataclasses

    import yaml

    from tfganad.config import load_recipe
    from tfganad.errors import ConfigError

    if resume_dir:
        if recipe or overrides or run_dir or only_cases:
            raise ConfigError("--resume RUN_DIR continues a run with its own recipe.yaml; give no RECIPE, --set, "
                              "--run-dir or --case with it")
        from tfganad.training.runner import resume

        _print_results(resume(resume_dir, echo=click.echo))
        return
    if not recipe:
        raise ConfigError("give a RECIPE file (e.g. recipes/egbad_digits.yaml) or --resume RUN_DIR")
    extra = list(overrides)
    if output_dir:
        extra.append(f"output_dir={output_dir}")
    rec = load_recipe(recipe, extra)
    out_parent = pathlib.Path(run_dir) if run_dir else pathlib.Path(rec.output_dir)
    if out_parent.exists() and not out_parent.is_dir():
        raise ConfigError(f"{'--run-dir' if run_dir else '--output-dir/output_dir'} {str(out_parent)!r} is a file, "
                          f"not a directory; give a directory")
    if only_cases:
        unknown = [c for c in only_cases if c not in rec.cases]
        if unknown:
            raise ConfigError(f"--case {unknown[0]!r} is not a case of this recipe; cases: "
                              f"{', '.join(rec.cases) or '(none)'}")
        rec = dataclasses.replace(rec, cases={c: rec.cases[c] for c in only_cases})
    if dry_run:
        from tfganad.config import check_data

        check_data(rec)  # the data-dependent checks of a real run: files, classes, splits (no model built)
        click.echo(yaml.safe_dump(rec.to_dict(), sort_keys=False))
        return
    if run_dir and pathlib.Path(run_dir).exists() and any(pathlib.Path(run_dir).iterdir()):
        raise ConfigError(f"--run-dir {run_dir!r} already exists and is not empty; nothing was overwritten")
    from tfganad.training.runner import run

    _print_results(run(rec, run_dir=run_dir, echo=click.echo))


def _print_results(out):
    click.echo("")
    for row in out["results"]:
        case = f"[{row['case']}] " if row["case"] != "-" else ""
        marks = " (selected on TEST labels)" if row["selected_on_test"] else ""
        click.echo(f"{case}{row['model']} score={row['score']}: AUROC {row['auroc']:.4f}  AUPRC {row['auprc']:.4f}  "
                   f"F1@contamination {row['f1_at_contamination']:.4f}  epoch {row['selected_epoch']}{marks}")
    click.echo(f"run directory: {out['run_dir']}")
    click.echo(f"tensorboard --logdir {out['run_dir']}")


def _case_dirs(run_dir: pathlib.Path):
    if (run_dir / "model.keras").is_file():
        return [run_dir]
    return sorted(p for p in run_dir.iterdir() if p.is_dir() and (p / "model.keras").is_file())


@click.command(cls=OneLineCommand, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--name", default=None, help="Model name in the TF-Serving layout (default: the model's registry name).")
@click.option("--version", "version", type=click.IntRange(min=1), default=None,
              help="Version folder (default: one above the highest existing version).")
@click.option("--output", default=None, type=click.Path(file_okay=False),
              help="Export root (default: RUN_DIR/<case>/saved_model).")
@user_errors
def export(run_dir, name, version, output):
    """Export the trained model(s) of RUN_DIR as SavedModel(s) in TF-Serving layout (<name>/<version>/).

    The `serving_default` signature takes `x` and returns `anomaly_score`, `normalized_score` and
    `is_anomaly`. Existing exports are never overwritten: a new version folder is written.
    """
    import keras

    import tfganad  # noqa: F401  (registers the model classes for load_model)
    from tfganad.errors import ExportError
    from tfganad.export import export_saved_model

    root = pathlib.Path(run_dir)
    if not root.is_dir():
        raise ExportError(f"run directory {run_dir!r} does not exist")
    dirs = _case_dirs(root)
    if not dirs:
        raise ExportError(f"{run_dir!r} holds no model.keras (not a tfganad run directory)")
    for case_dir in dirs:
        model = keras.models.load_model(case_dir / "model.keras")
        target = pathlib.Path(output) / case_dir.name if output and len(dirs) > 1 else pathlib.Path(
            output) if output else case_dir / "saved_model"
        model_name = name or getattr(model, "registry_name", "detector")
        existing = [int(p.name) for p in (target / model_name).glob("*") if p.name.isdigit()]
        ver = version if version is not None else max(existing, default=0) + 1
        path = export_saved_model(model, target, name=model_name, version=ver)
        prep = case_dir / "saved_model"
        old = sorted(prep.glob("*/*/assets.extra/preprocessing.json"))
        if old:
            (path / "assets.extra").mkdir(exist_ok=True)
            (path / "assets.extra" / "preprocessing.json").write_text(old[0].read_text())
        click.echo(f"exported {path}")
        click.echo(f"  saved_model_cli show --dir {path} --tag_set serve --signature_def serving_default")



@click.command(cls=OneLineCommand, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("saved_model", type=click.Path())
@click.argument("inputs", type=click.Path())
@click.option("--output", "-o", default=None, type=click.Path(dir_okay=False),
              help="CSV to write (default: scores.csv beside INPUT; never overwritten).")
@click.option("--batch-size", default=256, show_default=True, type=click.IntRange(min=1))
@user_errors
def score(saved_model, inputs, output, batch_size):
    """Score INPUT (a .npy/.npz array file, an IDX folder, an image folder or a CSV) with SAVED_MODEL.

    Raw values go to the export's serving_default, whose graph holds the fitted preprocessing (images of
    any size, CSV fields as text); nothing is preprocessed here. Writes a CSV with columns
    index, anomaly_score, normalized_score, is_anomaly (1 = anomalous) and label when INPUT has labels.
    """
    import csv
    import io

    import numpy as np

    from tfganad.errors import ConfigError
    from tfganad.training.io import atomic_write_text
    from tfganad.scoring import load_inputs_for_export, score_with_export

    out = pathlib.Path(output) if output else pathlib.Path(inputs).with_suffix("").parent / "scores.csv"
    if out.exists():
        raise ConfigError(f"output {str(out)!r} already exists; pass --output with a new file name")
    if not out.parent.is_dir():
        raise ConfigError(f"output folder {str(out.parent)!r} does not exist")
    groups, labels, loaded = load_inputs_for_export(saved_model, inputs)
    result = score_with_export(loaded, groups, batch_size)
    n = len(result["anomaly_score"])
    if all(g.dtype.kind == "f" for g in groups):
        bad = sum(int(np.sum(~np.all(np.isfinite(g.reshape(len(g), -1)), axis=1))) for g in groups)
    else:  # CSV fields as text: a "nan"/"inf" field is flagged by the SavedModel itself
        bad = int(np.sum(np.isposinf(result["anomaly_score"]) & (result["is_anomaly"] == 1)))
    if bad:
        click.echo(f"warning: {bad} of {n} samples hold NaN or inf values; they are flagged anomalous "
                   f"(anomaly_score inf, normalized_score 1, is_anomaly 1)", err=True)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["index", "anomaly_score", "normalized_score", "is_anomaly"] + (["label"] if labels is not None else []))
    for i in range(n):
        row = [i, f"{result['anomaly_score'][i]:.6g}", f"{result['normalized_score'][i]:.6g}",
               int(result["is_anomaly"][i])]
        writer.writerow(row + ([int(labels[i])] if labels is not None else []))
    if out.exists():  # written meanwhile by someone else: still never overwritten
        raise ConfigError(f"output {str(out)!r} already exists; pass --output with a new file name")
    atomic_write_text(out, buf.getvalue())
    click.echo(f"scored {n} samples ({int(np.sum(result['is_anomaly']))} flagged anomalous) -> {out}")
