"""Recipe loading: keys are constructor arguments, unknown keys and bad types are rejected."""

import pathlib

import pytest
import yaml

from tfganad.config import load_recipe, parse_override, recipe_from_dict
from tfganad.errors import ConfigError

RECIPES = pathlib.Path(__file__).resolve().parents[1] / "recipes"


def base():
    return {"name": "t", "model": {"name": "egbad", "latent_dim": 8}, "data": {"source": "digits"},
            "train": {"epochs": 1}}


def test_every_shipped_recipe_validates():
    paths = sorted(RECIPES.glob("*.yaml"))
    assert paths
    for path in paths:
        load_recipe(path)


def test_unknown_section_key_lists_valid_keys_and_suggests():
    raw = base()
    raw["train"]["epoch"] = 3
    with pytest.raises(ConfigError, match=r"train\.epoch \(did you mean 'epochs'\?\); valid keys: epochs"):
        recipe_from_dict(raw)


def test_unknown_model_key_lists_constructor_arguments():
    raw = base()
    raw["model"]["latent"] = 3
    with pytest.raises(ConfigError, match="unknown key model.latent .*valid keys: name, input_shape, latent_dim"):
        recipe_from_dict(raw)


def test_wrong_value_types():
    raw = base()
    raw["train"]["epochs"] = "two"
    with pytest.raises(ConfigError, match="train.epochs: 'two' is not an integer"):
        recipe_from_dict(raw)
    raw = base()
    raw["model"]["latent_dim"] = "big"
    with pytest.raises(ConfigError, match="model.latent_dim"):
        recipe_from_dict(raw)


def test_unknown_top_level_and_model_name():
    raw = base()
    raw["trian"] = {}
    with pytest.raises(ConfigError, match="did you mean 'train'"):
        recipe_from_dict(raw)
    raw = base()
    raw["model"]["name"] = "egbd"
    with pytest.raises(ConfigError, match="unknown model 'egbd' \\(did you mean 'egbad'\\?\\); available: .*egbad"):
        recipe_from_dict(raw)


def test_overrides_are_parsed_as_yaml(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(base()))
    rec = load_recipe(path, ["train.epochs=3", "model.adversarial_loss=fm", "data.max_test_samples=null",
                             "train.learning_rate=1e-4"])
    assert rec.train.epochs == 3 and rec.model_params["adversarial_loss"] == "fm"
    assert rec.train.learning_rate == pytest.approx(1e-4)
    assert parse_override("a.b=[1, 2]") == ("a.b", [1, 2])
    with pytest.raises(ConfigError, match="section.key=value"):
        parse_override("train.epochs")


def test_cases_list_and_mapping():
    raw = base()
    raw["cases"] = ["case1", "case8"]
    rec = recipe_from_dict(raw)
    assert list(rec.cases) == ["case1", "case8"]
    assert rec.for_case("case8").model_params["case"] == "case8"
    assert rec.for_case("case8").cases == {}
    raw["cases"] = {"fast": {"train.epochs": 2}, "wide": {"model.filters": 16}}
    rec = recipe_from_dict(raw)
    assert rec.for_case("fast").train.epochs == 2 and rec.for_case("wide").model_params["filters"] == 16


def test_bad_case_override_is_caught_at_load_time():
    raw = base()
    raw["cases"] = {"bad": {"train.epohcs": 2}}
    with pytest.raises(ConfigError, match="train.epohcs"):
        recipe_from_dict(raw)


def test_round_trip_through_dict():
    raw = base()
    raw["cases"] = ["case1"]
    rec = recipe_from_dict(raw)
    assert recipe_from_dict(rec.to_dict()) == rec


def test_missing_and_invalid_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_recipe(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_recipe(bad)
