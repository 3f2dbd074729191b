"""Sweep reports: published-numbers file, aggregation over seeds, paper vs ours, rendering, CLI."""

import json

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from tfganad.cli.report import report as report_cli
from tfganad.errors import ConfigError
from tfganad.reporting import (
    aggregate,
    load_published,
    load_results,
    markdown_to_html,
    paper_vs_ours,
    series_of,
    write_sweep_report,
)


def row(series, cls, seed, auroc, auprc, model="egbad", dataset="mnist", **extra):
    return {"sweep": "t", "cell": f"{series}-{cls}-{seed}", "index": 0, "variant": series, "data.anomalous_class": cls,
            "seed": seed, "axes": "variant,data.anomalous_class,seed", "case": "-", "model": model, "score": "fm",
            "dataset": dataset, "protocol": "one_anomalous_class", "anomalous_class": cls, "normal_class": None,
            "selected_on_test": False, "auroc": auroc, "auprc": auprc, "wall_seconds": 2.0,
            "run_dir": f"cells/{series}-{cls}-{seed}", **extra}


@pytest.fixture
def rows():
    out = []
    for cls in (0, 1, 2):
        for seed, (a, p) in enumerate([(0.6, 0.3), (0.8, 0.5)]):
            out.append(row("gan", cls, seed, a + 0.01 * cls, p))
            out.append(row("forest", cls, seed, 0.5, 0.2, model="iforest"))
    return out


def test_shipped_published_numbers_are_well_formed():
    from tfganad.data import PROTOCOLS, SOURCES
    from tfganad.registry import available_baselines, available_models

    entries = load_published()
    names = set(available_models()) | set(available_baselines())
    assert len(entries) > 20
    for e in entries:
        assert e["model"] in names, e["model"]
        assert e["dataset"] in SOURCES, e["dataset"]
        assert set(e.get("protocols", [])) <= set(PROTOCOLS), e["protocols"]
        assert isinstance(e["verified"], bool) and e["source"] and e["table"]
        numbers = list((e.get("values") or {}).values()) + list((e.get("metrics") or {}).values())
        numbers += [e["mean"]] if "mean" in e else []
        assert numbers and all(0.0 <= v <= 1.0 for v in numbers)
        if "values" in e:
            assert sorted(e["values"]) == list(range(10)) and e["per_class"] in ("anomalous_class", "normal_class")
            # Transcription check: the paper's own average agrees with its per-class values (or a note says not).
            if "mean" in e and "not the mean" not in e.get("note", ""):
                assert abs(np.mean(list(e["values"].values())) - e["mean"]) < 0.0015, (e["model"], e["table"])
    egbad = [e for e in entries if e["model"] == "egbad" and e["dataset"] == "mnist"]
    assert egbad[0]["values"][0] == 0.782 and egbad[0]["verified"] is True


def test_series_and_aggregation_over_seeds(rows):
    assert series_of(rows[0]) == "gan"
    assert series_of({"axes": "model.case,seed", "model.case": "case1", "model": "egbad", "case": "-"}) == \
        "egbad case=case1"
    items = {(a["series"], a["class"]): a for a in aggregate(rows)}
    gan0 = items[("gan", 0)]
    assert gan0["n"] == 2 and gan0["seeds"] == [0, 1]
    mean, std, n = gan0["auroc"]
    assert mean == pytest.approx(0.7) and std == pytest.approx(np.sqrt(0.02)) and n == 2  # ddof 1
    assert items[("forest", 2)]["auroc"] == (0.5, 0.0, 2)


def test_paper_vs_ours_uses_the_data_file(rows, tmp_path):
    published = tmp_path / "pub.yaml"
    published.write_text(yaml.safe_dump({"entries": [
        {"model": "egbad", "dataset": "mnist", "protocols": ["one_anomalous_class"], "metric": "auroc",
         "per_class": "anomalous_class", "values": {0: 0.75, 1: 0.5, 5: 0.9}, "mean": 0.6, "source": "Paper A",
         "table": "Table 9", "verified": True},
        {"model": "egbad", "dataset": "mnist", "match": {"score": "bce"}, "metrics": {"auroc": 0.1},
         "source": "Paper B", "table": "T", "verified": False},
        {"model": "iforest", "dataset": "kdd99", "metrics": {"f1_at_contamination": 0.93}, "source": "Paper C",
         "table": "T", "verified": True}]}))
    entries = load_published(published)
    pv = paper_vs_ours(aggregate(rows), entries)
    by_class = {p["class"]: p for p in pv}
    assert set(by_class) == {0, 1, "mean of 3 classes"}  # class 5 was not run; Paper B wants score bce
    assert by_class[0]["paper"] == 0.75 and by_class[0]["ours"] == pytest.approx(0.7)
    assert by_class[0]["difference"] == pytest.approx(-0.05) and by_class[0]["n"] == 2
    assert by_class["mean of 3 classes"]["ours"] == pytest.approx(0.71)
    kdd = [row("all", None, 0, 0.9, 0.9, model="iforest", dataset="kdd99", f1_at_contamination=0.95,
               protocol="kdd99_dagmm")]
    kdd[0]["axes"] = "seed"
    pv = paper_vs_ours(aggregate(kdd, ("auroc",)), entries)
    assert [(p["metric"], p["paper"], p["class"]) for p in pv] == [("f1_at_contamination", 0.93, "all")]
    assert pv[0]["ours"] == pytest.approx(0.95)
    with pytest.raises(ConfigError, match="lacks"):
        bad = tmp_path / "bad.yaml"
        bad.write_text(yaml.safe_dump({"entries": [{"model": "egbad", "values": {0: 1}}]}))
        load_published(bad)


def test_report_renders_charts_tables_overlays_and_html(rows, tmp_path):
    sweep_dir = tmp_path / "sweep"
    sweep_dir.mkdir()
    (sweep_dir / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    rng = np.random.default_rng(0)
    for r in rows:
        if r["model"] == "iforest":  # baselines save test scores; the GAN rows here do not
            d = sweep_dir / r["run_dir"]
            d.mkdir(parents=True)
            y = np.r_[np.zeros(20), np.ones(10)]
            np.savez(d / "test_scores.npz", y_true=y, fm=y + rng.normal(0, 1, 30))
    path = write_sweep_report(sweep_dir, html_too=True)
    assert path == sweep_dir / "report" / "report.md"
    text = path.read_text()
    for name in ("mnist_one_anomalous_class_auprc.png", "mnist_one_anomalous_class_auroc.png",
                 "mnist_one_anomalous_class_roc.png", "mnist_one_anomalous_class_pr.png", "report.html"):
        assert (path.parent / name).is_file(), name
    assert "| gan | 0.700 ± 0.141 | 0.710 ± 0.141 | 0.720 ± 0.141 | 0.710 |" in text
    assert "No ROC/PR curves for gan" in text
    assert "## Paper vs ours" in text
    assert "| mnist | egbad | gan | 0 | auroc | 0.7820 | 0.700 ± 0.141 | 2 | -0.0820 | yes |" in text
    html = (path.parent / "report.html").read_text()
    assert "<table>" in html and "<img" in html and "<h2>" in html
    assert "<title>Sweep report: t</title>" in html
    assert '<img alt="auprc per class" src="mnist_one_anomalous_class_auprc.png">' in html
    assert '<img alt="mnist_one_anomalous_class_roc.png" src="mnist_one_anomalous_class_roc.png">' in html
    # Rendering again regenerates the same report folder.
    assert write_sweep_report(sweep_dir) == path
    rows_csv, base = load_results(sweep_dir / "results.jsonl")
    assert len(rows_csv) == len(rows) and base == sweep_dir


def test_markdown_to_html_escapes_and_builds_tables():
    html = markdown_to_html("# T <x>\n\n| a | b |\n|---|---|\n| 1 | **2** |\n\n- item `c`\n\n<script>s</script>\n",
                            title="R <1>")
    assert "<h1>T &lt;x&gt;</h1>" in html and "<td><strong>2</strong></td>" in html
    assert "<li>item <code>c</code></li>" in html and "<th>a</th>" in html
    assert "<script>" not in html and "&lt;script&gt;s&lt;/script&gt;" in html  # raw HTML is shown, not run
    assert html.startswith("<!doctype html>") and "<title>R &lt;1&gt;</title>" in html


def test_report_cli_errors_are_one_line(tmp_path, rows):
    runner = CliRunner()
    res = runner.invoke(report_cli, [str(tmp_path / "nowhere")])
    assert res.exit_code == 2 and res.output.startswith("error: results") and len(res.output.splitlines()) == 1
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = runner.invoke(report_cli, [str(tmp_path), "--metric", "aucroc"])
    assert res.exit_code == 2 and "metric 'aucroc' is not a numeric results column" in res.output
    res = runner.invoke(report_cli, [str(tmp_path), "-o", str(tmp_path / "rep")])
    assert res.exit_code == 0 and (tmp_path / "rep" / "report.md").is_file()
