"""Issue #18's bad-input matrix: every case exits with its code and ONE `error: ...` line that names the
bad value and what is allowed, changes no file outside its run directory and leaves no partial file.

Recipe values are all checked when the recipe is loaded, so these run with `--dry-run` (no training):
a real run performs exactly the same checks before it creates anything.
"""

from __future__ import annotations

import gzip
import os
import pathlib

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from tfganad.cli.main import export, score, train
from tfganad.cli.sweep import sweep

RECIPE = pathlib.Path(__file__).resolve().parents[2] / "recipes" / "egbad_digits.yaml"


def snapshot(root: pathlib.Path) -> dict:
    """Every file and folder under `root` → (size, mtime_ns): any change, addition or removal shows."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            p = pathlib.Path(dirpath) / name
            st = p.stat()
            out[str(p.relative_to(root))] = (st.st_size if p.is_file() else -1, st.st_mtime_ns)
    return out


def one_error_line(result) -> str:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: "), result.output
    assert "Traceback" not in result.output
    return lines[0]


@pytest.fixture()
def box(tmp_path):
    """A working folder holding the digits recipe (and the files the cases below write there)."""
    (tmp_path / "recipe.yaml").write_text(RECIPE.read_text())
    return tmp_path


def _damaged_gzip(path: pathlib.Path):
    """A gzip file whose deflate stream is corrupt (valid header, garbage inside)."""
    data = bytearray(gzip.compress(bytes(range(256)) * 64))
    data[20:60] = b"\xff" * 40
    path.write_bytes(bytes(data))


# (overrides, substrings the one line must hold: the bad value and the allowed values)
TRAIN_VALUES = [
    ("train.epochs=-3", ["train.epochs", "-3", "at least 1"]),
    ("train.epochs=0", ["train.epochs", "got 0", "at least 1"]),
    ("train.batch_size=0", ["train.batch_size", "got 0", "at least 1"]),
    ("train.learning_rate=nan", ["train.learning_rate", "nan", "greater than 0"]),
    ("train.learning_rate=-1e-3", ["train.learning_rate", "-0.001", "greater than 0"]),
    ("train.precision=fp8", ["'fp8'", "float32", "mixed_float16"]),
    ("train.strategy=tpu", ["'tpu'", "mirrored"]),
    ("train.selection=val_scroe", ["'val_scroe'", "did you mean 'val_score'", "val_g_loss", "last"]),
    ("train.selection=val_con_loss", ["'val_con_loss'", "val_score"]),  # a GANomaly metric, not EGBAD's
    ("train.steps_per_epoch=0", ["train.steps_per_epoch", "at least 1"]),
    ("train.ema_momentum=1.5", ["train.ema_momentum", "1.5", "[0,1)"]),
    ("model.latent_dim=-5", ["model.latent_dim", "-5", "at least 1"]),
    ("model.adversarial_loss=foo", ["'foo'", "bce", "fm"]),
    ("model.adversarial_loss=bcee", ["'bcee'", "did you mean 'bce'"]),
    ("model.score=foo", ["model.score", "'foo'", "bce, fm"]),
    ("model.score_weight=2", ["model.score_weight", "[0,1]"]),
    ("model.filters=0", ["model.filters", "at least 1"]),
    ("model.case=case9", ["'case9'", "case1"]),
    ("data.protocol=foo", ["data.protocol", "'foo'", "one_anomalous_class"]),
    ("data.source=mnsit", ["'mnsit'", "did you mean 'mnist'"]),
    ("data.anomalous_class=42", ["anomalous_class=42", "classes present: 0, 1, 2"]),
    ("data.anomalous_class=-1", ["data.anomalous_class", "at least 0"]),
    ("data.path=/nonexistent/file", ["'/nonexistent/file'", "not used by data.source='digits'"]),
    ("data.max_train_samples=-5", ["data.max_train_samples", "-5", "at least 1"]),
    ("data.max_test_samples=0", ["data.max_test_samples", "at least 1"]),
    ("data.scaling=foo", ["data.scaling", "'foo'", "minmax", "standard"]),
    ("data.scaling=minmax", ["data.scaling='minmax'", "table rows only", "allowed here: none"]),
    ("data.channels=2", ["data.channels", "1, 3"]),
    ("data.validation_fraction=1.5", ["data.validation_fraction", "(0,1)"]),
    ("evaluation.threshold_quantile=2", ["evaluation.threshold_quantile", "2.0", "(0,1)"]),
    ("evaluation.normalizer=foo", ["'foo'", "minmax, zscore, none"]),
    ("evaluation.contamination=5", ["evaluation.contamination", "5.0", "(0,1)"]),
    ("evaluation.batch_size=-5", ["evaluation.batch_size", "at least 1"]),
    ("train.epoch=3", ["unknown key train.epoch", "did you mean 'epochs'"]),
    ("train.epochs=three", ["train.epochs", "'three'", "not an integer"]),
]


@pytest.mark.parametrize("override,expected", TRAIN_VALUES, ids=[c[0] for c in TRAIN_VALUES])
@pytest.mark.parametrize("dry_run", [True], ids=["dry-run"])
def test_bad_recipe_value_is_rejected_at_load(box, override, expected, dry_run):
    before = snapshot(box)
    args = [str(box / "recipe.yaml"), "--output-dir", str(box / "runs"), "--set", override]
    result = CliRunner().invoke(train, args + (["--dry-run"] if dry_run else []))
    assert result.exit_code == 2, result.output
    line = one_error_line(result)
    for part in expected:
        assert part in line, (part, line)
    assert snapshot(box) == before  # no run directory, nothing written


def test_real_run_rejects_before_writing_anything(box):
    """Without --dry-run the same checks run before the run directory is made (no half-made run)."""
    before = snapshot(box)
    result = CliRunner().invoke(train, [str(box / "recipe.yaml"), "--output-dir", str(box / "runs"),
                                        "--set", "evaluation.threshold_quantile=2"])
    assert result.exit_code == 2
    assert "evaluation.threshold_quantile" in one_error_line(result)
    assert snapshot(box) == before and not (box / "runs").exists()


def test_sweep_validation_rejects_a_bad_cell_value(box):
    sweep_file = box / "s.yaml"
    sweep_file.write_text(yaml.safe_dump({"recipe": str(box / "recipe.yaml"), "output_dir": str(box / "out"),
                                          "axes": {"model.adversarial_loss": ["bce", "foo"]}}))
    before = snapshot(box)
    result = CliRunner().invoke(sweep, [str(sweep_file), "--dry-run"])
    assert result.exit_code == 2, result.output
    line = one_error_line(result)
    assert "'foo'" in line and "bce, fm" in line
    assert snapshot(box) == before


def _file_cases(box: pathlib.Path):
    """(name, argv, expected substrings) for bad files and paths given to tfganad-train."""
    binary = box / "binary.yaml"
    binary.write_bytes(bytes(range(256)))
    (box / "a_dir").mkdir()
    (box / "a_file").write_text("x")
    idx = box / "idx"
    idx.mkdir()
    for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        _damaged_gzip(idx / f"{stem}.gz")
    kdd = box / "kddcup.data_10_percent.gz"
    _damaged_gzip(kdd)
    recipe = str(box / "recipe.yaml")
    return [
        ("binary recipe", [str(binary), "--dry-run"], ["binary.yaml", "not a UTF-8 text file"]),
        ("directory recipe", [str(box / "a_dir"), "--dry-run"], ["a_dir", "is a directory", "recipe YAML file"]),
        ("missing recipe", [str(box / "nope.yaml"), "--dry-run"], ["nope.yaml", "does not exist"]),
        ("output-dir is a file", [recipe, "--output-dir", str(box / "a_file")], ["a_file", "is a file"]),
        ("output-dir is a file (dry-run)", [recipe, "--output-dir", str(box / "a_file"), "--dry-run"], ["a_file"]),
        ("damaged idx gzip", [recipe, "--dry-run", "--set", "data.source=idx", "--set", f"data.path={idx}",
                              "--set", "data.image_size=null"], ["cannot read IDX file", "idx"]),
        ("damaged kdd99 gzip", [recipe, "--dry-run", "--set", "data.source=kdd99", "--set", f"data.path={kdd}",
                                "--set", "data.image_size=null", "--set", "data.protocol=kdd99_dagmm"],
         ["cannot read KDD99 file", "kddcup"]),
        ("click: unknown option", [recipe, "--bogus"], ["--bogus"]),
        ("click: --resume with a recipe", ["--resume", str(box / "a_dir"), recipe], ["--resume"]),
    ]


FILE_CASES = ["binary recipe", "directory recipe", "missing recipe", "output-dir is a file",
              "output-dir is a file (dry-run)", "damaged idx gzip", "damaged kdd99 gzip", "click: unknown option",
              "click: --resume with a recipe"]


@pytest.mark.parametrize("name", FILE_CASES)
def test_bad_files_and_paths(box, name):
    case = {c[0]: c for c in _file_cases(box)}[name]
    before = snapshot(box)
    result = CliRunner().invoke(train, case[1])
    assert result.exit_code == 2, result.output
    line = one_error_line(result)
    for part in case[2]:
        assert part in line, (part, line)
    assert snapshot(box) == before


# ------------------------------------------------------------------ tfganad-score / tfganad-export
@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A calibrated tiny EGBAD SavedModel for 16×16×1 images (untrained: these tests check the
    contract, not the scores)."""
    from tfganad.export import export_saved_model
    from tfganad.models import EGBAD

    root = tmp_path_factory.mktemp("export")
    model = EGBAD(input_shape=(16, 16, 1), latent_dim=4, filters=4, dense_units=8, residual=True, score="bce")
    model.build_from_sample()
    model.set_calibration(0.0, 1.0, 1e9)  # nothing finite is above the threshold: every flag below is a NaN flag
    return export_saved_model(model, root / "saved_model", name="egbad"), model


def _score_cases(box: pathlib.Path):
    np.save(box / "wrong_shape.npy", np.zeros((3, 8, 8, 1), np.float32))
    np.save(box / "empty.npy", np.zeros((0, 16, 16, 1), np.float32))
    np.save(box / "objects.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    np.save(box / "strings.npy", np.array(["a", "b"]))
    np.save(box / "good.npy", np.zeros((2, 16, 16, 1), np.float32))
    return {
        "wrong shape": (["wrong_shape.npy"], ["(8, 8, 1)", "(N, 16, 16, 1)"]),
        "empty": (["empty.npy"], ["no samples", "N >= 1"]),
        "object dtype": (["objects.npy"], ["Python objects", "(N, 16, 16, 1)"]),
        "string dtype": (["strings.npy"], ["dtype <U1", "float array"]),
        "batch size 0": (["good.npy", "--batch-size", "0"], ["--batch-size", "0", ">=1"]),
        "batch size -5": (["good.npy", "--batch-size", "-5"], ["--batch-size", "-5", ">=1"]),
        "batch size text": (["good.npy", "--batch-size", "x"], ["--batch-size", "'x'"]),
        "missing input": (["missing.npy"], ["missing.npy", "does not exist"]),
    }


SCORE_CASES = ["wrong shape", "empty", "object dtype", "string dtype", "batch size 0", "batch size -5",
               "batch size text", "missing input"]


@pytest.mark.parametrize("name", SCORE_CASES)
def test_score_bad_inputs(box, exported, name):
    path, _ = exported
    args, expected = _score_cases(box)[name]
    before = snapshot(box)
    out = box / "scores.csv"
    result = CliRunner().invoke(score, [str(path), str(box / args[0]), "-o", str(out), *args[1:]])
    assert result.exit_code == 2, result.output
    line = one_error_line(result)
    for part in expected:
        assert part in line, (part, line)
    assert snapshot(box) == before and not out.exists()  # no header-only CSV blocks the rerun


def test_export_rejects_negative_version(box):
    before = snapshot(box)
    result = CliRunner().invoke(export, [str(box), "--version", "-1", "--output", str(box / "out")])
    assert result.exit_code == 2
    line = one_error_line(result)
    assert "--version" in line and "-1" in line and ">=1" in line
    assert snapshot(box) == before


def test_export_function_rejects_version_below_one(box, exported):
    from tfganad.errors import ExportError
    from tfganad.export import export_saved_model

    with pytest.raises(ExportError, match="version -1 is not allowed; allowed: an integer >= 1"):
        export_saved_model(exported[1], box / "sm", name="egbad", version=-1)
    assert not (box / "sm").exists()


def test_score_csv_with_strings_names_no_recipe_key(box, tmp_path_factory):
    """Raw rows with a string column, scored by a numeric-rows export: the hint says what the export
    takes, not a recipe key tfganad-score has no option for."""
    from tfganad.export import export_saved_model
    from tfganad.export.saved_model import write_preprocessing
    from tfganad.config import DataSpec
    from tfganad.models import EGBAD

    from tfganad.preprocessing import Preprocessor

    model = EGBAD(input_shape=(3,), latent_dim=2, residual=True, score="bce")
    model.build_from_sample()
    model.set_calibration(0.0, 1.0, 1e9)
    model.attach_preprocessor(Preprocessor("tabular", (3,)))  # raw numeric rows in (issue #17)

    class _Data:
        input_shape = (3,)

    path = export_saved_model(model, tmp_path_factory.mktemp("rows") / "sm", name="egbad",
                              before_publish=lambda tmp: write_preprocessing(tmp, DataSpec(source="csv"), _Data))
    (box / "raw.csv").write_text("a,b,proto\n1,2,tcp\n3,4,udp\n")
    result = CliRunner().invoke(score, [str(path), str(box / "raw.csv"), "-o", str(box / "s.csv")])
    assert result.exit_code == 2
    line = one_error_line(result)
    assert "'proto'" in line and "'tcp'" in line and "numeric columns only" in line
    assert "data.categorical_columns" not in line
    assert not (box / "s.csv").exists()


def test_declared_checks_match_the_code():
    """The load-time declarations cannot drift from what the constructors and helpers accept."""
    from tfganad.config import NORMALIZERS, SCALINGS, model_arguments, model_checks
    from tfganad.data.pipeline import SCALINGS as PIPELINE_SCALINGS
    from tfganad.registry import _MODELS, get_model_class
    from tfganad.scores.normalizers import NORMALIZERS as CODE_NORMALIZERS

    assert NORMALIZERS == CODE_NORMALIZERS
    assert set(SCALINGS) <= set(PIPELINE_SCALINGS)
    get_model_class("egbad")  # registers every model
    for name, cls in _MODELS.items():
        args = set(model_arguments(cls))
        if hasattr(cls, "recipe_base_class"):
            args |= set(model_arguments(cls.recipe_base_class({})))
        declared = {k for klass in cls.__mro__ for k in vars(klass).get("recipe_checks", {})}
        assert declared <= args, (name, declared - args)
        assert model_checks(cls)  # at least the shared ranges
