"""Loading a sweep's results table (directory, results*.jsonl or results.csv) and the published numbers."""

from __future__ import annotations

import csv
import pathlib
import re

import yaml

from tfganad.errors import ConfigError

# Published numbers live in this data file (source, table, verified flag per entry), never in code.
PUBLISHED = pathlib.Path(__file__).resolve().parents[1] / "data" / "published.yaml"


def _number(text):
    if text is None or text == "":
        return None
    if isinstance(text, (int, float, bool)):
        return text
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    try:
        value = float(text)
    except ValueError:
        return text
    return int(value) if re.fullmatch(r"-?\d+", text.strip()) else value


def load_results(source) -> tuple:
    """Rows of a results table → (rows, sweep directory or None).

    Args:
        source: a sweep directory, a results*.jsonl file or a results.csv file.
    """
    from tfganad.sweep import read_jsonl, read_results

    path = pathlib.Path(source)
    if path.is_dir():
        if not list(path.glob("results*.jsonl")) and (path / "results.csv").is_file():
            path = path / "results.csv"
        else:
            rows = read_results(path)
            if not rows:
                raise ConfigError(f"{str(source)!r} holds no results rows (results*.jsonl); run tfganad-sweep first")
            return rows, path
    if not path.is_file():
        raise ConfigError(f"results {str(source)!r} do not exist (give a sweep directory, results.jsonl or "
                          f"results.csv)")
    if path.suffix == ".jsonl":
        rows = read_jsonl(path)
    elif path.suffix == ".csv":
        with open(path, newline="") as fh:
            rows = [{k: _number(v) for k, v in row.items()} for row in csv.DictReader(fh)]
    else:
        raise ConfigError(f"{str(source)!r}: expected a sweep directory, a .jsonl or a .csv results file")
    if not rows:
        raise ConfigError(f"{str(source)!r} holds no results rows")
    return rows, path.parent


def load_published(path=None) -> list:
    """Entries of the published-numbers file (default: the package's data/published.yaml)."""
    path = pathlib.Path(path or PUBLISHED)
    if not path.is_file():
        raise ConfigError(f"published numbers file {str(path)!r} does not exist")
    data = yaml.safe_load(path.read_text()) or {}
    entries = data.get("entries") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise ConfigError(f"{str(path)!r} must hold a mapping with a list under 'entries'")
    for i, e in enumerate(entries):
        missing = [k for k in ("model", "dataset", "source", "verified") if k not in e]
        if missing:
            raise ConfigError(f"{str(path)!r} entry {i} lacks {', '.join(missing)}")
        if not any(k in e for k in ("values", "mean", "metrics")):
            raise ConfigError(f"{str(path)!r} entry {i} has none of values, mean, metrics")
    return entries
