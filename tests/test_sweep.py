"""Sweeps: cell expansion, validation, cell keys, shards, atomic result rows, resume, CLI, --jobs 2."""

import json
import pathlib
import threading

import pytest
import yaml
from click.testing import CliRunner

from tfganad.cli.sweep import sweep as sweep_cli
from tfganad.errors import ConfigError
from tfganad.sweep import (
    append_jsonl,
    cell_key,
    exclusive_lock,
    expand_values,
    finished_keys,
    load_sweep,
    parse_shard,
    plan_run_dir,
    read_jsonl,
    read_results,
    run_sweep,
    shard_cells,
)

ROOT = pathlib.Path(__file__).resolve().parents[1]
SMOKE = ROOT / "recipes" / "sweeps" / "smoke_digits.yaml"
BASE = ROOT / "recipes" / "egbad_digits.yaml"


def write_sweep(tmp_path, body: dict, name="s.yaml") -> pathlib.Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump({"recipe": str(BASE), "output_dir": str(tmp_path / "out"), **body}, sort_keys=False))
    return path


def test_range_strings_and_lists():
    assert expand_values("a", "0..9") == list(range(10))
    assert expand_values("a", ["0..2", 5]) == [0, 1, 2, 5]
    assert expand_values("a", "case1") == ["case1"]
    assert expand_values("a", "-1..1") == [-1, 0, 1]
    with pytest.raises(ConfigError, match="empty"):
        expand_values("a", "3..1")
    with pytest.raises(ConfigError, match="twice"):
        expand_values("a", [1, "0..2"])


def test_cells_are_the_cartesian_product_in_order(tmp_path):
    path = write_sweep(tmp_path, {"name": "grid", "set": {"train.epochs": 1},
                                  "axes": {"model.case": ["case1", "case8"], "data.anomalous_class": "0..2",
                                           "seed": [0, 1]}})
    sw = load_sweep(path)
    cells = sw.cells()
    assert len(cells) == 12 and [c.index for c in cells] == list(range(12))
    assert cells[0].labels == {"model.case": "case1", "data.anomalous_class": 0, "seed": 0}
    assert cells[1].labels == {"model.case": "case1", "data.anomalous_class": 0, "seed": 1}
    assert cells[-1].labels == {"model.case": "case8", "data.anomalous_class": 2, "seed": 1}
    assert cells[0].overrides[0] == ("train.epochs", 1)  # fixed overrides first, axes win
    assert len({c.key for c in cells}) == 12
    recipe = cells[5].load_recipe()
    assert (recipe.model_params["case"], recipe.data.anomalous_class, recipe.seed) == ("case1", 2, 1)
    assert sw.directory == tmp_path / "out" / "grid"


def test_cell_keys_are_stable_and_ignore_where_data_lives(tmp_path):
    body = {"axes": {"seed": [0, 1]}}
    keys = [c.key for c in load_sweep(write_sweep(tmp_path, body)).cells()]
    assert keys == [c.key for c in load_sweep(write_sweep(tmp_path, body, "again.yaml")).cells()]
    # (the digits recipe reads no data.path, so data_dir stands for "where data lives" here)
    moved = load_sweep(write_sweep(tmp_path, body), overrides=["data.data_dir=/elsewhere", "train.verbose=0"])
    assert [c.key for c in moved.cells()] == keys
    changed = load_sweep(write_sweep(tmp_path, body), overrides=["train.epochs=3"])
    assert not set(c.key for c in changed.cells()) & set(keys)
    # Only effective overrides count, in any order: a value or section replaced later is ignored.
    assert cell_key("r", [("a", 1), ("b", 2)]) == cell_key("r", [("b", 2), ("a", 1)])
    assert cell_key("r", [("a", None), ("a", 1)]) == cell_key("r", [("a", 1)]) != cell_key("r", [("a", 2)])
    assert cell_key("r", [("model.x", 1), ("model", {"n": 1})]) == cell_key("r", [("model", {"n": 1})])
    assert cell_key("r", [("a", 1)]) != cell_key("other", [("a", 1)])


def test_axis_overrides_reduce_the_grid_and_keep_cell_keys(tmp_path):
    path = write_sweep(tmp_path, {"axes": {"variant": {"small": {"model.latent_dim": 8},
                                                       "forest": {"model": {"name": "iforest"}}},
                                           "seed": [0, 1, 2]}})
    full = {c.describe(): c.key for c in load_sweep(path).cells()}
    reduced = load_sweep(path, axis_overrides=["variant=[forest]", "seed=1..2"]).cells()
    assert [c.describe() for c in reduced] == ["variant=forest seed=1", "variant=forest seed=2"]
    assert all(full[c.describe()] == c.key for c in reduced)
    with pytest.raises(ConfigError, match="'tree' is not a variant of this sweep; variants: small, forest"):
        load_sweep(path, axis_overrides=["variant=[tree]"])


def test_variants_pick_recipes_and_replace_sections(tmp_path):
    path = write_sweep(tmp_path, {"axes": {"variant": {
        "egbad": {"model.latent_dim": 8},
        "iforest": {"model": {"name": "iforest", "n_estimators": 5}},
        "other": {"recipe": str(ROOT / "recipes" / "egbad_digits_cases.yaml")}}}})
    cells = load_sweep(path).cells()
    assert [c.labels["variant"] for c in cells] == ["egbad", "iforest", "other"]
    assert cells[0].load_recipe().model_params["latent_dim"] == 8
    forest = cells[1].load_recipe()
    assert forest.model_name == "iforest" and forest.model_params == {"n_estimators": 5}
    assert cells[2].recipe.endswith("egbad_digits_cases.yaml") and cells[2].load_recipe().cases


def test_unknown_keys_rejected_with_the_valid_ones(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown sweep key 'axis' \(did you mean 'axes'\?\); valid keys: name"):
        load_sweep(write_sweep(tmp_path, {"axis": {"seed": [0]}}))
    with pytest.raises(ConfigError, match=r"'modle.case' is not a recipe key \(did you mean 'model'\?\)"):
        load_sweep(write_sweep(tmp_path, {"axes": {"modle.case": ["case1"]}}))
    with pytest.raises(ConfigError) as err:
        load_sweep(write_sweep(tmp_path, {"axes": {"model.filterz": [4, 8]}}))
    msg = str(err.value)
    assert msg.startswith("cell 0 (model.filterz=4): unknown key model.filterz")
    assert "did you mean 'filters'" in msg and "valid keys: name, input_shape, latent_dim" in msg
    with pytest.raises(ConfigError, match="both a fixed override and an axis"):
        load_sweep(write_sweep(tmp_path, {"set": {"seed": 1}, "axes": {"seed": [0, 1]}}))
    with pytest.raises(ConfigError, match="does not exist"):
        load_sweep(tmp_path / "missing.yaml")


def test_shards_are_deterministic_disjoint_and_complete(tmp_path):
    cells = load_sweep(write_sweep(tmp_path, {"axes": {"data.anomalous_class": "0..9", "seed": [0, 1, 2]}}),
                       validate=False).cells()
    for n in (1, 2, 3, 7):
        parts = [shard_cells(cells, (i, n)) for i in range(n)]
        keys = [c.key for part in parts for c in part]
        assert sorted(keys) == sorted(c.key for c in cells) and len(set(keys)) == len(cells)
        assert max(map(len, parts)) - min(map(len, parts)) <= 1
        assert [c.key for c in shard_cells(cells, (n - 1, n))] == [c.key for c in parts[-1]]
    assert [c.index for c in shard_cells(cells, (1, 4))] == list(range(1, 30, 4))
    assert parse_shard("2/4") == (2, 4) and parse_shard(None) is None
    for bad in ("4/4", "a/b", "1/0", "3"):
        with pytest.raises(ConfigError, match="I/N"):
            parse_shard(bad)


def test_rows_are_appended_atomically(tmp_path):
    path = tmp_path / "results.jsonl"
    append_jsonl(path, [{"cell": "a", "auroc": 0.5}])
    with open(path, "ab") as fh:  # a writer killed in the middle of a row
        fh.write(b'{"cell": "b", "aur')
    append_jsonl(path, [{"cell": "c", "auroc": 0.7}, {"cell": "d", "auroc": 0.8}])
    assert [r["cell"] for r in read_jsonl(path)] == ["a", "c", "d"]

    def writer(k):
        for i in range(40):
            append_jsonl(path, [{"cell": f"t{k}-{i}", "pad": "x" * 5000}])

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows = read_jsonl(path)
    assert len(rows) == 3 + 160 and all(r.get("pad", "x" * 5000) == "x" * 5000 for r in rows)
    lines = path.read_text().splitlines()
    assert sum(1 for line in lines if line.strip()) == 3 + 160 + 1  # only the killed fragment is unparsable


def test_plan_run_dir_never_reuses_a_written_directory(tmp_path):
    cells = tmp_path / "cells"
    cells.mkdir()
    assert plan_run_dir(cells, "k") == (cells / "k", False)
    (cells / "k").mkdir()
    assert plan_run_dir(cells, "k") == (cells / "k", False)  # empty: killed before anything was written
    (cells / "k" / "junk").write_text("x")
    assert plan_run_dir(cells, "k") == (cells / "k.2", False)
    (cells / "k.2").mkdir()
    (cells / "k.2" / "recipe.yaml").write_text("x")
    assert plan_run_dir(cells, "k") == (cells / "k.2", True)
    assert plan_run_dir(cells, "k", abandoned=[str(cells / "k.2")]) == (cells / "k.3", False)
    assert plan_run_dir(cells, "kk") == (cells / "kk", False)


def test_second_process_on_the_same_shard_is_refused(tmp_path):
    with exclusive_lock(tmp_path / ".lock"):
        with pytest.raises(ConfigError, match="another tfganad-sweep process"):
            with exclusive_lock(tmp_path / ".lock"):
                pass


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("smoke")
    sw = load_sweep(SMOKE, output_dir=str(out))
    lines = []
    result = run_sweep(sw, echo=lines.append)
    return sw, result, lines


def test_smoke_sweep_runs_every_cell_and_writes_the_table(smoke_run):
    sw, result, lines = smoke_run
    assert result["total"] == 4 and result["ran"] == 4 and not result["failed"]
    rows = read_results(sw.directory)
    assert [r["index"] for r in rows] == [0, 1, 2, 3]
    assert {r["model"] for r in rows} == {"egbad", "iforest"}
    for row in rows:
        assert {"auroc", "auprc", "f1_at_contamination", "wall_seconds", "train_seconds", "variant",
                "data.anomalous_class", "cell", "run_dir"} <= set(row)
        assert row["selected_on_test"] is False and 0.0 <= row["auroc"] <= 1.0
        assert (sw.directory / row["run_dir"] / "metrics.json").is_file()
    csv_lines = (sw.directory / "results.csv").read_text().splitlines()
    assert len(csv_lines) == 5 and csv_lines[0].startswith("sweep,cell,index,variant,data.anomalous_class")
    assert any("[sweep 4/4 done" in line for line in lines) and any("ETA" in line for line in lines)
    assert (sw.directory / "sweep.yaml").is_file()


def test_rerun_skips_finished_cells_and_resumes_an_unrecorded_one(smoke_run):
    sw, _, _ = smoke_run
    again = run_sweep(sw, echo=lambda *_: None)
    assert again["ran"] == 0 and again["done"] == 4
    # A sweep killed after cell 3's run finished but before its row was appended: drop that row.
    path = sw.directory / "results.jsonl"
    rows = read_jsonl(path)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows[:3]))
    dirs = sorted(p.name for p in (sw.directory / "cells").iterdir())
    lines = []
    third = run_sweep(sw, echo=lines.append)
    assert third["ran"] == 1 and any("resuming cell 3" in line for line in lines)
    assert sorted(p.name for p in (sw.directory / "cells").iterdir()) == dirs  # resumed in place, no new dir
    assert finished_keys(sw.directory) == {r["cell"] for r in rows}


def test_cli_dry_run_status_and_errors(smoke_run, tmp_path):
    sw, _, _ = smoke_run
    runner = CliRunner()
    res = runner.invoke(sweep_cli, [str(SMOKE), "--output-dir", str(sw.output_dir), "--dry-run", "--shard", "1/2"])
    assert res.exit_code == 0, res.output
    assert "2 cells in shard 1/2" in res.output and res.output.count(" done ") == 2
    res = runner.invoke(sweep_cli, [str(SMOKE), "--output-dir", str(sw.output_dir), "--status"])
    assert res.exit_code == 0 and "4/4 cells finished" in res.output
    res = runner.invoke(sweep_cli, [str(SMOKE), "--shard", "2/2"])
    assert res.exit_code == 2 and res.output.strip().startswith("error: --shard '2/2'")
    bad = write_sweep(tmp_path, {"axes": {"model.filterz": [4]}})
    res = runner.invoke(sweep_cli, [str(bad), "--dry-run"])
    assert res.exit_code == 2 and len(res.output.strip().splitlines()) == 1 and "Traceback" not in res.output


def test_two_worker_processes(tmp_path):
    # The smoke sweep's isolation-forest cells on two spawned workers (the EGBAD cells would only add
    # TensorFlow tracing time to this test).
    raw = yaml.safe_load(SMOKE.read_text())
    raw["axes"]["variant"] = {"iforest": raw["axes"]["variant"]["iforest"]}
    raw["recipe"] = str(BASE)
    path = tmp_path / "jobs.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    res = CliRunner().invoke(sweep_cli, [str(path), "--output-dir", str(tmp_path / "out"), "--jobs", "2",
                                         "--progress-every", "1"])
    assert res.exit_code == 0, res.output
    directory = tmp_path / "out" / "smoke_digits"
    rows = read_results(directory)
    assert len(rows) == 2 and {r["data.anomalous_class"] for r in rows} == {0, 1}
    assert all((directory / "cells" / f"{r['cell']}.log").is_file() for r in rows)
    assert "2 job(s)" in res.output and "[sweep 2/2 done" in res.output


def test_every_shipped_sweep_validates(tmp_path):
    paths = sorted((ROOT / "recipes" / "sweeps").glob("*.yaml"))
    assert len(paths) >= 5
    for path in paths:  # every cell's recipe is loaded (keys and types checked); no data is read
        assert load_sweep(path, output_dir=str(tmp_path)).cells, path.name


def test_smoke_sweep_grid_is_one_hparams_experiment(smoke_run, read_hparams):
    from google.protobuf import struct_pb2

    sw, _, _ = smoke_run
    experiment, groups = read_hparams(sw.directory)
    infos = {h.name: h for h in experiment.hparam_infos}
    # The keys that vary over the grid, typed: the variant changes model.name and the model's arguments.
    assert {"model.name", "data.anomalous_class", "model.n_estimators", "model.latent_dim"} <= set(infos)
    assert "seed" not in infos and "train.epochs" not in infos  # fixed for every cell
    assert [v.number_value for v in infos["data.anomalous_class"].domain_discrete.values] == [0, 1]
    assert {v.string_value for v in infos["model.name"].domain_discrete.values} == {"egbad", "iforest"}
    assert {m.name.tag for m in experiment.metric_infos} == {
        "hparams/auroc", "hparams/auprc", "hparams/f1_at_contamination", "hparams/selected_epoch"}
    rows = {(r["model"], r["data.anomalous_class"]): r for r in read_results(sw.directory)}
    assert len(groups) == 4
    for group in groups:
        hp = {k: v.WhichOneof("kind") and getattr(v, v.WhichOneof("kind")) for k, v in group.hparams.items()}
        assert isinstance(group.hparams["data.anomalous_class"], struct_pb2.Value)
        row = rows[(hp["model.name"], int(hp["data.anomalous_class"]))]
        metrics = {m.name.tag: m.value for m in group.metric_values}
        assert metrics["hparams/auroc"] == pytest.approx(row["auroc"], abs=1e-6)
        assert metrics["hparams/selected_epoch"] == row["selected_epoch"]
        assert group.sessions[0].name.startswith("cells/") and group.sessions[0].name.endswith("/logs/hparams")
    # Image models draw anomaly-map overlays; without ground-truth masks there are no pixel metrics.
    egbad = next(r for r in rows.values() if r["model"] == "egbad")
    assert (sw.directory / egbad["run_dir"] / "report" / "anomaly_maps.png").is_file()
    assert "pixel_auroc" not in egbad
