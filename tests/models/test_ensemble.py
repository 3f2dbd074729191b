"""GAN ensemble (Han et al. 2021): schedules, eq. 15 score, member independence, recipe keys.

The generic contract (every player updated by all_pairs, round trips, export) runs in test_all_models.py
on the registry's `ensemble` small config; these tests cover what is specific to the ensemble.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

import tfganad
from tfganad.config import recipe_from_dict
from tfganad.errors import ConfigError
from tfganad.models.ensemble import GANEnsemble

TINY = {
    "egbad": {"case": "case1", "filters": 4, "dense_units": 16},
    "ganomaly": {"filters": 4},
    "skip_ganomaly": {"filters": 4},
    "fanogan": {"filters": 4, "n_critic": 1, "gan_steps": None, "encoder_start_step": 0},
}


def _ensemble(base, generators=2, discriminators=2, schedule="random_pair", **kw):
    model = GANEnsemble(input_shape=(16, 16, 1), base=base, generators=generators, discriminators=discriminators,
                        schedule=schedule, latent_dim=8, **TINY[base], **kw)
    model.compile(learning_rate=1e-3)
    return model


def _snapshot(model):
    return {p: [v.numpy().copy() for v in model.player_variables(p)] for p in model.players}


def _changed(model, before):
    """Players whose every variable changed; raises if a player changed only partly."""
    out = set()
    for p, values in before.items():
        flags = [not np.array_equal(a, v.numpy()) for a, v in zip(values, model.player_variables(p))]
        assert all(flags) or not any(flags), f"player {p} changed partly"
        if all(flags):
            out.add(p)
    return out


@pytest.mark.parametrize("base", ["egbad", "ganomaly"])
def test_random_pair_step_updates_exactly_one_generator_and_one_discriminator(base, tiny_images):
    model = _ensemble(base)
    before = _snapshot(model)
    model.fit(tiny_images[:8], epochs=1, batch_size=8, verbose=0)
    changed = _changed(model, before)
    d_side = {p for p in changed if model._split(p)[0] in model.adversary_players}
    g_side = changed - d_side
    assert len(d_side) == 1, changed
    # Every generator-side player of that one member (EGBAD: g and e), and no other member's.
    members = {model._split(p)[1] for p in g_side}
    assert len(members) == 1, changed
    (i,) = members
    assert g_side == {f"{p}{i}" for p in model.base_players if p not in model.adversary_players}


def test_random_pair_draws_different_pairs_across_steps(tiny_images):
    model = _ensemble("ganomaly")
    before = _snapshot(model)
    model.fit(tiny_images[:8], epochs=12, batch_size=8, verbose=0)
    # 12 draws from 4 pairs: every member of both sides is picked at least once (fixed seed).
    assert _changed(model, before) == set(model.players)


@pytest.mark.parametrize("base", ["ganomaly", "skip_ganomaly", "fanogan"])
def test_all_pairs_step_updates_every_member(base, tiny_images):
    model = _ensemble(base, schedule="all_pairs")
    before = _snapshot(model)
    model.fit(tiny_images[:8], epochs=1, batch_size=8, verbose=0)
    assert _changed(model, before) == set(model.players)


def test_all_pairs_discriminator_loss_is_mean_over_generators(tiny_images):
    model = _ensemble("ganomaly", generators=2, discriminators=1, schedule="all_pairs")
    x = tiny_images[:8]
    losses = model.compute_losses(x, training=False)
    per_generator = []
    for i in range(2):
        with model.pair(i, 0) as member:
            per_generator.append(float(member.compute_losses(x, training=False)["d_loss"]))
    np.testing.assert_allclose(float(losses["d0_loss"]), np.mean(per_generator), rtol=1e-5)
    with model.pair(1, 0) as member:
        g1 = float(member.compute_losses(x, training=False)["g_loss"])
    np.testing.assert_allclose(float(losses["g1_loss"]), g1, rtol=1e-5)


def test_single_pair_reproduces_base_model_scores(tiny_images):
    base = tfganad.models.GANomaly(input_shape=(16, 16, 1), latent_dim=8, filters=4, seed=3)
    base.compile(learning_rate=1e-3)
    base.fit(tiny_images[:8], epochs=1, batch_size=8, verbose=0)
    ensemble = _ensemble("ganomaly", generators=1, discriminators=1)
    ensemble.members[0].set_weights(base.get_weights())
    np.testing.assert_allclose(ensemble.predict(tiny_images, verbose=0), base.predict(tiny_images, verbose=0),
                               rtol=1e-6, atol=1e-6)
    ours, theirs = ensemble.score_components(tiny_images), base.score_components(tiny_images)
    assert set(ours) == set(theirs)
    for key in ours:
        np.testing.assert_allclose(ours[key].numpy(), theirs[key].numpy(), rtol=1e-6, atol=1e-6)


def test_score_is_mean_over_all_pairs(tiny_images):
    model = _ensemble("egbad", generators=2, discriminators=3)
    expected = []
    for i in range(2):
        for j in range(3):
            with model.pair(i, j) as member:
                expected.append(member.anomaly_score(tiny_images).numpy())
    # The pairs differ (independent members), so the mean is not any single pair's score.
    assert not np.allclose(expected[0], expected[1])
    np.testing.assert_allclose(model.predict(tiny_images, verbose=0), np.mean(expected, axis=0), rtol=1e-5)


def test_discriminator_free_score_is_still_the_mean_over_all_pairs(tiny_images):
    model = _ensemble("ganomaly", generators=2, discriminators=2)  # latent score: no D pass
    assert model.score_name in model.members[0].adversary_free_scores
    expected = []
    for i in range(2):
        for j in range(2):
            with model.pair(i, j) as member:
                expected.append(member.score_components(tiny_images)["latent"].numpy())
    np.testing.assert_allclose(model.predict(tiny_images, verbose=0), np.mean(expected, axis=0), rtol=1e-5)


def test_members_are_independent(tiny_images):
    model = _ensemble("egbad", generators=3, discriminators=3)
    ids = [id(v) for m in model.members for v in m.weights]
    assert len(ids) == len(set(ids))
    kernels = [m.generator.trainable_variables[0].numpy() for m in model.members]
    assert not np.array_equal(kernels[0], kernels[1]) and not np.array_equal(kernels[1], kernels[2])
    # Binding a pair is temporary: afterwards every member holds its own discriminator again.
    with model.pair(0, 2) as member:
        assert member.discriminator is model.members[2].discriminator
    assert [m.discriminator for m in model.members] == [model.members[k].__dict__["discriminator"]
                                                        for k in range(3)]
    assert model.members[0].discriminator is not model.members[2].discriminator


def test_epoch_multiplier_follows_the_papers_rule():
    assert GANEnsemble(input_shape=(16, 16, 1), base="ganomaly", generators=3, discriminators=3,
                       latent_dim=8, filters=4).epoch_multiplier == 3
    assert GANEnsemble(input_shape=(16, 16, 1), base="egbad", generators=3, discriminators=3,
                       **TINY["egbad"]).epoch_multiplier == 1  # all_pairs, the reference default for EGBAD
    assert GANEnsemble(input_shape=(16, 16, 1), base="egbad", generators=2, discriminators=2, schedule="random_pair",
                       epoch_multiplier=5, **TINY["egbad"]).epoch_multiplier == 5


def test_default_schedules_follow_the_reference_code():
    kinds = {base: GANEnsemble(input_shape=(16, 16, 1), base=base, generators=1, discriminators=1,
                               latent_dim=8, **TINY[base]).schedule for base in TINY}
    assert kinds == {"egbad": "all_pairs", "skip_ganomaly": "all_pairs", "ganomaly": "random_pair",
                     "fanogan": "random_pair"}


@pytest.mark.parametrize("kwargs,match", [
    ({"base": "iforest"}, "base must be a GAN model"),
    ({"base": "egbad", "filterz": 4}, "unknown argument 'filterz'.*did you mean 'filters'"),
    ({"base": "egbad", "schedule": "random"}, "unknown schedule 'random'"),
    ({"base": "egbad", "generators": 0}, "generators must be an integer >= 1"),
    ({"base": "egbad", "discriminators": 1.5}, "discriminators must be"),
])
def test_bad_arguments_are_rejected(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        GANEnsemble(input_shape=(16, 16, 1), **kwargs)


def test_recipe_accepts_base_arguments_and_rejects_unknown_keys():
    raw = {"name": "r", "model": {"name": "ensemble", "base": "ganomaly", "generators": 3, "filters": 8,
                                  "contextual_weight": 40.0}, "data": {"source": "digits"}}
    recipe = recipe_from_dict(raw)
    assert recipe.model_params["contextual_weight"] == 40.0
    raw["model"]["score_weight"] = 0.1  # an EGBAD argument, not GANomaly's
    with pytest.raises(ConfigError, match="unknown key model.score_weight"):
        recipe_from_dict(raw)


def test_random_pair_round_trip_keeps_every_member(tiny_images, tmp_path):
    model = _ensemble("ganomaly")
    model.fit(tiny_images[:8], epochs=2, batch_size=8, verbose=0)
    model.build_from_sample(tiny_images)
    scores = model.predict(tiny_images, verbose=0)
    model.save(tmp_path / "e.keras")
    loaded = keras.models.load_model(tmp_path / "e.keras")
    assert loaded.schedule == "random_pair" and len(loaded.members) == 2
    np.testing.assert_allclose(loaded.predict(tiny_images, verbose=0), scores, rtol=1e-5, atol=1e-5)
    for p in model.players:
        assert int(getattr(loaded, f"{p}_optimizer").iterations.numpy()) == int(
            getattr(model, f"{p}_optimizer").iterations.numpy())


@pytest.mark.parametrize("name", [n for n in tfganad.available_models()
                                  if getattr(tfganad.get_model_class(n), "adversary_free_scores", ())])
def test_adversary_free_scores_do_not_depend_on_the_discriminator_side(name, tiny_images, tiny_rows):
    cls = tfganad.get_model_class(name)
    x = tiny_images if "image" in getattr(cls, "input_kinds", ("image",)) else tiny_rows
    model = cls(**cls.small_config(x.shape[1:]))
    before = {k: v.numpy() for k, v in model.score_components(x).items()}
    rng = np.random.default_rng(0)
    for attr in cls.adversary_attributes:
        net = getattr(model, attr, None)
        for v in (net.trainable_variables if net is not None else []):
            v.assign(v.numpy() + rng.normal(0, 0.5, v.shape).astype(v.dtype))
    after = {k: v.numpy() for k, v in model.score_components(x).items()}
    for k in cls.adversary_free_scores:
        np.testing.assert_allclose(after[k], before[k], rtol=1e-6, err_msg=f"{name}.{k} uses the discriminator")
    others = [k for k in before if k not in cls.adversary_free_scores]
    assert any(not np.allclose(after[k], before[k]) for k in others), "perturbation had no effect"


def test_egbad_ensemble_score_is_han_eq_10_averaged_over_pairs_eq_15(tiny_rows):
    """A(x) = (1/IJ) Σ_ij [||x − G_i(E_i(x))||₁ + β·BCE(1, D_j(x, E_i(x)))] with β = 0.1 (Table 5, KDD99)."""
    model = GANEnsemble(input_shape=(12,), base="egbad", generators=2, discriminators=2, latent_dim=4,
                        case="case5", score_form="sum", score_weight=0.1)
    x = tiny_rows[:5]
    expected = np.zeros(5)
    for i in range(2):
        z = model.members[i].encoder(x).numpy()
        residual = np.abs(x - model.members[i].generator(z).numpy()).sum(1)
        for j in range(2):
            logit = model.members[j].discriminator([x, z])[0].numpy().ravel()
            expected += residual + 0.1 * np.logaddexp(0.0, -logit)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected / 4, rtol=1e-5)
    with pytest.raises(ConfigError, match="score_form 'max'; allowed: convex, sum"):
        GANEnsemble(input_shape=(12,), base="egbad", score_form="max")
