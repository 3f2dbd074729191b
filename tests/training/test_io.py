"""tfganad.training.io: atomic writes leave the old file or the new one, never a partial; run folders are new."""

import json
import pathlib

import numpy as np
import pytest

from tfganad.training.io import (
    atomic_path,
    atomic_write_json,
    atomic_write_text,
    new_run_dir,
    remove_partials,
    save_test_scores,
    write_table,
)


class Boom(Exception):
    pass


def test_atomic_path_leaves_no_partial_and_keeps_the_old_file_on_an_exception(tmp_path):
    target = tmp_path / "model.keras"
    target.write_text("old")

    def half_write(tmp):
        pathlib.Path(tmp).write_text("half")
        raise Boom

    with pytest.raises(Boom):
        atomic_path(target, half_write, suffix=".keras")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.keras"]
    # a folder written aside (a SavedModel) is renamed whole, or removed whole on failure
    folder = tmp_path / "saved_model"

    def half_folder(tmp):
        (pathlib.Path(tmp) / "variables").mkdir(parents=True)
        raise Boom

    with pytest.raises(Boom):
        atomic_path(folder, half_folder)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.keras"]
    assert atomic_path(folder, lambda tmp: (pathlib.Path(tmp) / "variables").mkdir(parents=True)) == folder
    assert (folder / "variables").is_dir()
    assert atomic_path(target, lambda tmp: pathlib.Path(tmp).write_text("new"), suffix=".keras") == target
    assert target.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.keras", "saved_model"]


def test_atomic_path_passes_the_suffix_keras_needs(tmp_path):
    seen = []
    atomic_path(tmp_path / "best.weights.h5", lambda tmp: (seen.append(tmp.name), tmp.write_bytes(b"w")),
                suffix=".weights.h5")
    assert seen[0].startswith(".best.weights.h5.") and seen[0].endswith(".partial.weights.h5")


def test_remove_partials_deletes_only_leftovers(tmp_path):
    leftovers = [".model.keras.123.partial.keras", ".metrics.json.abc.tmp", ".saved_model.9.partial"]
    for name in leftovers[:2]:
        (tmp_path / name).write_text("x")
    (tmp_path / leftovers[2] / "variables").mkdir(parents=True)
    kept = ["metrics.json", ".hidden", "partial.txt", "notes.tmp"]
    for name in kept:
        (tmp_path / name).write_text("keep")
    remove_partials(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(kept)
    remove_partials(tmp_path / "absent")  # a folder that does not exist: nothing to do


def test_atomic_write_json_serialises_arrays_and_paths_and_keeps_the_old_file_on_error(tmp_path):
    path = tmp_path / "sub" / "metrics.json"
    atomic_write_json(path, {"auroc": np.float32(0.5), "scores": np.arange(3), "dir": pathlib.Path("a/b")})
    text = path.read_text()
    assert text.endswith("\n") and json.loads(text) == {"auroc": 0.5, "scores": [0, 1, 2], "dir": "a/b"}
    with pytest.raises(TypeError, match="not JSON serialisable: object"):
        atomic_write_json(path, {"bad": object()})
    assert path.read_text() == text
    assert [p.name for p in path.parent.iterdir()] == ["metrics.json"]


def test_atomic_write_text_replaces_whole(tmp_path):
    path = tmp_path / "report.md"
    atomic_write_text(path, "one")
    atomic_write_text(path, "two")
    assert path.read_text() == "two" and [p.name for p in tmp_path.iterdir()] == ["report.md"]


def test_save_test_scores_round_trip(tmp_path):
    path = tmp_path / "test_scores.npz"
    y = np.array([0, 1, 0])
    save_test_scores(path, y, {"fm": np.array([0.1, 0.9, 0.2], np.float32), "bce": [1.0, 2.0, 3.0]})
    with np.load(path) as saved:
        assert sorted(saved.files) == ["bce", "fm", "y_true"]
        np.testing.assert_array_equal(saved["y_true"], y)
        np.testing.assert_array_equal(saved["fm"], np.array([0.1, 0.9, 0.2], np.float32))
    assert [p.name for p in tmp_path.iterdir()] == ["test_scores.npz"]


def test_write_table_columns_are_the_union_in_first_seen_order(tmp_path):
    path = tmp_path / "results.csv"
    write_table(path, [{"case": "a", "auroc": 0.5}, {"case": "b", "auprc": 0.25, "auroc": 0.75}])
    assert path.read_text().splitlines() == ["case,auroc,auprc", "a,0.5,", "b,0.75,0.25"]


def test_new_run_dir_never_reuses_a_folder(tmp_path):
    first = new_run_dir(tmp_path, "my recipe/v1")
    second = new_run_dir(tmp_path, "my recipe/v1")
    assert first != second and first.is_dir() and second.is_dir()
    assert first.name.startswith("my_recipe_v1-") and first.parent == tmp_path
    assert new_run_dir(tmp_path, "///").name.startswith("run-")
