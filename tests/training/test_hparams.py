"""HParams spec (typed varying keys) and sessions read back through TensorBoard's HParams plugin."""

from __future__ import annotations

import pytest

from tfganad.config import recipe_from_dict
from tfganad.training import hparams as H

BASE = {"name": "r", "model": {"name": "egbad", "latent_dim": 8}, "data": {"anomalous_class": 0}}


def _recipe(**overrides):
    raw = {k: dict(v) if isinstance(v, dict) else v for k, v in BASE.items()}
    for dotted, value in overrides.items():
        section, key = dotted.split("__")
        raw.setdefault(section, {})[key] = value
    return recipe_from_dict(raw)


def test_spec_lists_only_varying_keys_with_types():
    a = _recipe(model__case="case1", train__learning_rate=1e-4, train__run_eagerly=True)
    b = _recipe(model__case="case8", data__anomalous_class=3, train__run_eagerly=False)
    spec = H.hparam_spec([a, b])
    assert spec == {"data.anomalous_class": ("int", [0, 3]), "model.case": ("str", ["case1", "case8"]),
                    "train.learning_rate": ("float", [0.0001, 0.0002]), "train.run_eagerly": ("bool", [False, True])}
    # A key set in one recipe only compares with the model's default (score_weight 0.1 here).
    assert H.hparam_spec([a, _recipe(model__score_weight=0.5)])["model.score_weight"] == ("float", [0.1, 0.5])
    # Where data lives is not a hyperparameter.
    assert H.varying_keys([a, _recipe(model__case="case1", train__learning_rate=1e-4, train__run_eagerly=True,
                                      data__data_dir="/elsewhere")]) == []


def test_single_run_shows_its_model_arguments_and_main_keys():
    spec = H.hparam_spec([_recipe()])
    assert {"model.name", "model.latent_dim", "data.source", "data.anomalous_class", "train.epochs", "seed"} <= set(spec)
    assert "data.normal_class" not in spec and "model.filters" not in spec  # unset / not given
    assert spec["model.latent_dim"] == ("int", [8])


def test_sessions_and_experiment_read_back_typed(tmp_path, read_hparams):
    recipes = [_recipe(model__case="case1", train__run_eagerly=True), _recipe(model__case="case8")]
    spec = H.hparam_spec(recipes)
    H.write_experiment(tmp_path / "hparams", spec)
    for i, recipe in enumerate(recipes):
        summary = {"metrics": {"auroc": 0.5 + i / 10, "auprc": 0.4, "f1_at_contamination": 0.3},
                   "selected_epoch": 7 + i, "epochs_run": 9}
        H.write_session(tmp_path / f"c{i}", recipe, summary, spec)
    experiment, groups = read_hparams(tmp_path)
    infos = {h.name: h for h in experiment.hparam_infos}
    assert set(infos) == {"model.case", "train.run_eagerly"}
    assert [v.bool_value for v in infos["train.run_eagerly"].domain_discrete.values] == [False, True]
    assert len(groups) == 2
    got = {g.hparams["model.case"].string_value: (g.hparams["train.run_eagerly"].bool_value,
                                                   {m.name.tag: m.value for m in g.metric_values}) for g in groups}
    assert got["case1"][0] is True and got["case8"][0] is False
    assert got["case8"][1]["hparams/auroc"] == pytest.approx(0.6)
    assert got["case8"][1]["hparams/selected_epoch"] == 8
    # Written once: a resumed run does not add a second session for a finished case.
    H.write_session(tmp_path / "c0", recipes[0], {"metrics": {"auroc": 0.0}}, spec)
    assert len(read_hparams(tmp_path)[1]) == 2
