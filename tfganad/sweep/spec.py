"""Sweep specification: the sweep file, its axes and cells, cell keys and shards (no I/O but reading the file)."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import pathlib
import re
from typing import Optional

import yaml

from tfganad.errors import ConfigError
from tfganad.registry import did_you_mean

SWEEP_KEYS = ("name", "description", "recipe", "output_dir", "set", "axes")
RESERVED_AXES = ("recipe", "variant")
# Keys that say where data lives or how much is printed: they do not change a cell's result.
LOCATION_KEYS = ("data.path", "data.data_dir", "data.download", "train.verbose", "output_dir")
_RANGE = re.compile(r"^\s*(-?\d+)\s*\.\.\s*(-?\d+)\s*$")


@dataclasses.dataclass(frozen=True)
class Cell:
    """One point of the grid.

    Attributes:
        index: position in the grid (row-major, first axis slowest); decides the shard.
        key: stable hash of `recipe` and the result-relevant `overrides`; names the run directory.
        labels: axis name → value shown in tables (a variant's label, a recipe's path as written).
        recipe: base recipe path as written in the sweep file.
        recipe_path: that path resolved (relative to the sweep file, else to the working directory).
        overrides: ((section.key, value), ...) applied to the base recipe, fixed ones first.
    """

    index: int
    key: str
    labels: dict
    recipe: str
    recipe_path: str
    overrides: tuple

    def describe(self) -> str:
        """`axis=value` pairs, for progress lines and error messages."""
        return " ".join(f"{k}={v}" for k, v in self.labels.items()) or "(single cell)"

    def load_recipe(self, extra=()):
        """The cell's validated recipe (`tfganad.config.load_recipe` with the cell's overrides)."""
        import copy

        from tfganad.config import load_recipe

        # Deep copy: a section-valued override (model: {...}) must not be mutated by later dotted ones.
        return load_recipe(self.recipe_path, copy.deepcopy([*self.overrides, *extra]))


@dataclasses.dataclass(frozen=True)
class Sweep:
    """A parsed sweep file; `cells()` expands it."""

    name: str
    path: pathlib.Path
    recipe: Optional[str]
    axes: dict
    fixed: dict
    output_dir: str
    description: str = ""

    @property
    def directory(self) -> pathlib.Path:
        return pathlib.Path(self.output_dir) / self.name

    def cells(self) -> list:
        """Every cell of the cartesian product of the axes, in a deterministic order."""
        names = list(self.axes)
        cells = []
        for index, combo in enumerate(itertools.product(*(self.axes[n] for n in names))):
            recipe = self.recipe
            labels, overrides = {}, list(self.fixed.items())
            for name, value in zip(names, combo):
                if name == "recipe":
                    recipe = value
                    labels[name] = value
                elif name == "variant":
                    label, mapping = value
                    labels[name] = label
                    for dotted, v in mapping.items():
                        if dotted == "recipe":
                            recipe = v
                        else:
                            overrides.append((dotted, v))
                else:
                    labels[name] = value
                    overrides.append((name, value))
            if recipe is None:
                raise ConfigError(f"{self.path}: no base recipe for cell {index} ({labels}); set 'recipe' at the "
                                  f"top level, as an axis, or in every variant")
            cells.append(Cell(index=index, key=cell_key(recipe, overrides), labels=labels, recipe=recipe,
                              recipe_path=str(resolve_recipe_path(recipe, self.path)),
                              overrides=tuple(overrides)))
        return cells

    def to_dict(self) -> dict:
        axes = {}
        for name, values in self.axes.items():
            axes[name] = {label: mapping for label, mapping in values} if name == "variant" else list(values)
        return {"name": self.name, "description": self.description, "recipe": self.recipe,
                "output_dir": self.output_dir, "set": dict(self.fixed), "axes": axes}


def cell_key(recipe: str, overrides) -> str:
    """Stable 12-hex-digit hash of a cell: base recipe (as written) + effective overrides, minus LOCATION_KEYS.

    An override replaced later (same key, or its whole section set later) does not count, and the rest
    are sorted by key, so the key does not depend on how the file orders `set` and the axes.
    """
    overrides = list(overrides)
    relevant = []
    for i, (key, value) in enumerate(overrides):
        later = [k for k, _ in overrides[i + 1:]]
        if key in LOCATION_KEYS or any(k == key or key.startswith(k + ".") for k in later):
            continue
        relevant.append([key, value])
    relevant.sort(key=lambda kv: kv[0])
    text = json.dumps({"recipe": str(recipe), "overrides": relevant}, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def resolve_recipe_path(recipe: str, sweep_path) -> pathlib.Path:
    """A recipe path relative to the sweep file when that file exists there, else as given (cwd)."""
    candidate = pathlib.Path(sweep_path).parent / recipe
    return candidate if candidate.is_file() else pathlib.Path(recipe)


def expand_values(name: str, values) -> list:
    """An axis's values: a list, a range string "A..B" (inclusive), or one scalar; ranges in lists expand."""
    if isinstance(values, str) and _RANGE.match(values):
        values = [values]
    if not isinstance(values, list):
        values = [values]
    out = []
    for v in values:
        m = _RANGE.match(v) if isinstance(v, str) else None
        if m:
            lo, hi = int(m.group(1)), int(m.group(2))
            if hi < lo:
                raise ConfigError(f"axes.{name}: range {v!r} is empty (write low..high)")
            out += list(range(lo, hi + 1))
        else:
            out.append(v)
    if not out:
        raise ConfigError(f"axes.{name} has no values")
    seen = []
    for v in out:
        if v in seen:
            raise ConfigError(f"axes.{name} lists {v!r} twice")
        seen.append(v)
    return out


def _check_dotted(dotted: str, where: str):
    from tfganad.config import TOP_LEVEL

    allowed = [k for k in TOP_LEVEL if k != "cases"]
    head = str(dotted).split(".")[0]
    if head not in allowed:
        raise ConfigError(f"{where}: {dotted!r} is not a recipe key{did_you_mean(head, allowed)}; keys start with "
                          f"one of: {', '.join(allowed)} (or use the reserved axes {', '.join(RESERVED_AXES)})")


def load_sweep(path, overrides=(), output_dir: Optional[str] = None, validate: bool = True,
               axis_overrides=()) -> Sweep:
    """Reads and validates a sweep file; `overrides` are extra fixed `section.key=value` overrides.

    `axis_overrides` (`name=values`, values read as YAML: a list or an "A..B" range) replace an axis's
    values or add an axis; for `variant` they name the variants to keep, in that order. Cells keep their
    keys, so a reduced grid shares finished cells with the full one.

    With `validate`, every cell's recipe is loaded once, so an unknown or mistyped key fails now (with
    the list of valid keys) rather than hours into the sweep.
    """
    from tfganad.config import parse_override

    path = pathlib.Path(path)
    if not path.is_file():
        raise ConfigError(f"sweep file {str(path)!r} does not exist")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError:
        raise ConfigError(f"sweep file {str(path)!r} is not valid YAML") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"sweep file {str(path)!r} must hold a mapping")
    for key in raw:
        if key not in SWEEP_KEYS:
            raise ConfigError(f"unknown sweep key {key!r}{did_you_mean(key, SWEEP_KEYS)}; valid keys: "
                              f"{', '.join(SWEEP_KEYS)}")
    axes_raw = raw.get("axes") or {}
    if not isinstance(axes_raw, dict):
        raise ConfigError("axes: expected a mapping of axis name → list of values")
    axes = {}
    for name, values in axes_raw.items():
        name = str(name)
        if name == "variant":
            if not isinstance(values, dict) or not values:
                raise ConfigError("axes.variant: expected a mapping label → {section.key: value, ...}")
            variants = []
            for label, mapping in values.items():
                mapping = dict(mapping or {})
                for dotted in mapping:
                    if dotted != "recipe":
                        _check_dotted(dotted, f"axes.variant.{label}")
                variants.append((str(label), mapping))
            axes[name] = variants
            continue
        if name != "recipe":
            _check_dotted(name, "axes")
        axes[name] = expand_values(name, values)
    for item in axis_overrides:
        name, values = parse_override(item) if isinstance(item, str) else item
        if name == "variant":
            known = [label for label, _ in axes.get("variant", [])]
            wanted = expand_values(name, values)
            unknown = [w for w in wanted if str(w) not in known]
            if unknown:
                raise ConfigError(f"--axis variant: {unknown[0]!r} is not a variant of this sweep; variants: "
                                  f"{', '.join(known) or '(none)'}")
            mappings = dict(axes["variant"])
            axes["variant"] = [(str(w), mappings[str(w)]) for w in wanted]  # in the order given
            continue
        if name != "recipe":
            _check_dotted(name, "--axis")
        axes[name] = expand_values(name, values)
    fixed = dict(raw.get("set") or {})
    for dotted in fixed:
        _check_dotted(dotted, "set")
    for item in overrides:
        key, value = parse_override(item) if isinstance(item, str) else item
        _check_dotted(key, "--set")
        fixed[key] = value
    clash = [k for k in fixed if k in axes]
    if clash:
        raise ConfigError(f"{clash[0]!r} is both a fixed override and an axis; drop one of them")
    name = str(raw.get("name") or path.stem)
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise ConfigError(f"sweep name {name!r} may only hold letters, digits, '_', '.' and '-'")
    recipe = raw.get("recipe")
    if recipe is not None and not isinstance(recipe, str):
        raise ConfigError("recipe: expected one path (list several base recipes under axes.recipe)")
    sweep = Sweep(name=name, path=path, recipe=recipe, axes=axes, fixed=fixed,
                  output_dir=str(output_dir or raw.get("output_dir") or "runs/sweeps"),
                  description=str(raw.get("description") or ""))
    cells = sweep.cells()
    keys = [c.key for c in cells]
    if len(set(keys)) != len(keys):
        raise ConfigError("two cells of this sweep have identical overrides; an axis repeats another")
    if validate:
        for cell in cells:
            try:
                cell.load_recipe()
            except ConfigError as exc:
                raise ConfigError(f"cell {cell.index} ({cell.describe()}): {exc}") from None
    return sweep


def parse_shard(text) -> Optional[tuple]:
    """`"I/N"` (0 ≤ I < N) → (I, N); None stays None."""
    if text is None or text == "":
        return None
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(text))
    if not m or int(m.group(2)) < 1 or int(m.group(1)) >= int(m.group(2)):
        raise ConfigError(f"--shard {text!r} must be I/N with 0 <= I < N (e.g. 0/4 ... 3/4)")
    return int(m.group(1)), int(m.group(2))


def shard_cells(cells: list, shard: Optional[tuple]) -> list:
    """The cells of shard (I, N): those with index ≡ I (mod N), so shards interleave the grid evenly."""
    if shard is None:
        return list(cells)
    i, n = shard
    return [c for c in cells if c.index % n == i]
