"""ALAD (Zenati et al. 2018): five sub-networks, ablation switches, loss wiring, four scores in one pass."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfganad.errors import ConfigError
from tfganad.models.alad import ALAD, ALAD_CASES, resolve_architecture
from tfganad.networks.spectral import SpectralNorm


def _model(x, **kwargs):
    config = ALAD.small_config(x.shape[1:])
    config.pop("case", None)
    config.update(kwargs)
    return ALAD(**config)


def _values(variables):
    return [v.numpy().copy() for v in variables]


def _all_changed(before, variables):
    return all(not np.array_equal(b, v.numpy()) for b, v in zip(before, variables))


def _sn_layers(network):
    return [layer for layer in network._flatten_layers(include_self=False)
            if isinstance(layer, SpectralNorm)]


# ---------------------------------------------------------------- training --------------------------
@pytest.mark.parametrize("kind", ["tabular", "image"])
def test_one_train_step_updates_every_subnetwork_with_sn_and_dzz(kind, tiny_rows, tiny_images):
    x = tiny_rows if kind == "tabular" else tiny_images
    model = _model(x)  # full ALAD: spectral norm and D_zz on
    assert model.spectral_norm and model.use_dzz
    model.compile(run_eagerly=True, learning_rate=1e-3)
    nets = {"encoder": model.encoder, "generator": model.generator, "d_xz": model.d_xz, "d_xx": model.d_xx,
            "d_zz": model.d_zz}
    before = {k: _values(n.trainable_variables) for k, n in nets.items()}
    u_vectors = [layer.vector_u for layer in _sn_layers(model.d_xx) + _sn_layers(model.encoder)]
    u_before = _values(u_vectors)
    model.fit(x[:8], epochs=1, batch_size=8, verbose=0)
    for name, net in nets.items():
        assert _all_changed(before[name], net.trainable_variables), f"{name} has variables one step left unchanged"
    # Spectral norm is live: its power-iteration vectors moved during the training calls.
    assert u_vectors and _all_changed(u_before, u_vectors)
    assert {p: len(model.player_variables(p)) for p in model.players} == {
        "d": sum(len(n.trainable_variables) for n in (model.d_xz, model.d_xx, model.d_zz)),
        "g": len(model.generator.trainable_variables), "e": len(model.encoder.trainable_variables)}


def test_discriminators_step_before_generator_and_encoder():
    assert ALAD(input_shape=(12,), latent_dim=4).update_schedule() == [(("d",), 1), (("g", "e"), 1)]


def test_dzz_off_builds_no_dzz_variables(tiny_rows):
    model = _model(tiny_rows, use_dzz=False)
    model.compile(run_eagerly=True, learning_rate=1e-3)
    model.fit(tiny_rows[:8], epochs=1, batch_size=8, verbose=0)
    assert model.d_zz is None
    assert "d_zz" not in {layer.name for layer in model.layers}
    assert not [v.path for v in model.variables if "d_zz" in v.path]
    assert model.player_networks()["d"] == [model.d_xz, model.d_xx]
    losses = model.compute_losses(tiny_rows[:4], training=False)
    assert "d_zz_loss" not in losses


@pytest.mark.parametrize("spectral_norm", [True, False])
def test_spectral_norm_switch_wraps_encoder_and_discriminators_only(spectral_norm, tiny_rows, tiny_images):
    for x in (tiny_rows, tiny_images):
        model = _model(x, spectral_norm=spectral_norm)
        for net in (model.encoder, model.d_xz, model.d_xx, model.d_zz):
            assert bool(_sn_layers(net)) == spectral_norm, net.name
        assert not _sn_layers(model.generator)


def _fixed_latent(model, z):
    model.sample_latent = lambda batch_size: z


def test_losses_match_hand_wired_networks(tiny_rows):
    from tfganad.losses import bce_cycle_consistency_loss, bce_discriminator_loss

    model = _model(tiny_rows)
    x = tf.constant(tiny_rows[:6])
    z = tf.constant(np.random.default_rng(3).normal(size=(6, model.latent_dim)).astype("float32"))
    _fixed_latent(model, z)
    got = model.compute_losses(x, training=False)
    e, g = model.encoder, model.generator
    xz_real, xz_fake = model.d_xz([x, e(x)])[0], model.d_xz([g(z), z])[0]
    xx_real, xx_fake = model.d_xx([x, x])[0], model.d_xx([x, g(e(x))])[0]
    zz_real, zz_fake = model.d_zz([z, z])[0], model.d_zz([z, e(g(z))])[0]
    softplus = lambda v: np.log1p(np.exp(v))  # noqa: E731  BCE(1, l) = softplus(−l), BCE(0, l) = softplus(l)
    cycle = float(bce_cycle_consistency_loss(xx_real, xx_fake) + bce_cycle_consistency_loss(zz_real, zz_fake))
    expected = {
        "d_xz_loss": float(np.mean(softplus(-xz_real.numpy())) + np.mean(softplus(xz_fake.numpy()))),
        "d_xx_loss": float(bce_discriminator_loss(xx_real, xx_fake)),
        "d_zz_loss": float(bce_discriminator_loss(zz_real, zz_fake)),
        "g_loss": float(np.mean(softplus(-xz_fake.numpy()))) + cycle,
        "e_loss": float(np.mean(softplus(xz_real.numpy()))) + cycle,
    }
    expected["d_loss"] = expected["d_xz_loss"] + expected["d_xx_loss"] + expected["d_zz_loss"]
    for key, value in expected.items():
        assert float(got[key]) == pytest.approx(value, rel=1e-5, abs=1e-5), key


# ---------------------------------------------------------------- scores -----------------------------
@pytest.mark.parametrize("kind", ["tabular", "image"])
def test_four_scores_in_one_pass(kind, tiny_rows, tiny_images):
    x = tf.constant(tiny_rows[:5] if kind == "tabular" else tiny_images[:5])
    model = _model(x)
    out = model.score_components(x)
    assert set(out) == {"features", "l1", "l2", "logits"}
    for name, s in out.items():
        assert tuple(s.shape) == (5,) and np.all(np.isfinite(s.numpy())), name
    rec = model.reconstruct(x).numpy().reshape(5, -1)
    flat = x.numpy().reshape(5, -1)
    np.testing.assert_allclose(out["l1"].numpy(), np.abs(flat - rec).sum(1), rtol=1e-5)
    np.testing.assert_allclose(out["l2"].numpy(), np.sqrt(((flat - rec) ** 2).sum(1)), rtol=1e-5)
    _, f_real = model.d_xx([x, x])
    logit, f_rec = model.d_xx([x, model.reconstruct(x)])
    np.testing.assert_allclose(out["features"].numpy(),
                               np.abs(f_real.numpy() - f_rec.numpy()).reshape(5, -1).sum(1), rtol=1e-5)
    np.testing.assert_allclose(out["logits"].numpy(), np.log1p(np.exp(-logit.numpy().ravel())), rtol=1e-5)


@pytest.mark.parametrize("score", ["features", "l1", "l2", "logits"])
def test_score_option_picks_the_default_component(score, tiny_rows):
    model = _model(tiny_rows, score=score)
    np.testing.assert_allclose(model(tiny_rows[:4]).numpy(), model.score_components(tiny_rows[:4])[score].numpy())


def test_unknown_score_is_rejected():
    with pytest.raises(ConfigError, match="features"):
        ALAD(input_shape=(12,), score="fm")


# ---------------------------------------------------------------- presets and config -----------------
@pytest.mark.parametrize("case", list(ALAD_CASES))
def test_case_presets_set_the_ablation_switches(case, tiny_rows):
    model = _model(tiny_rows, case=case)
    assert (model.spectral_norm, model.use_dzz) == (ALAD_CASES[case]["spectral_norm"], ALAD_CASES[case]["use_dzz"])
    assert (model.d_zz is not None) == model.use_dzz
    again = ALAD.from_config(model.get_config())
    assert (again.spectral_norm, again.use_dzz, again.case) == (model.spectral_norm, model.use_dzz, case)


def test_case_names_follow_table_v():
    assert list(ALAD_CASES) == ["baseline", "baseline_dl", "baseline_sn", "baseline_sn_dl"]


def test_case_contradiction_and_unknown_case_are_rejected():
    with pytest.raises(ConfigError, match="contradicts"):
        ALAD(input_shape=(12,), case="baseline", use_dzz=True)
    with pytest.raises(ConfigError, match="baseline_sn_dl"):
        ALAD(input_shape=(12,), case="full")
    ALAD(input_shape=(12,), latent_dim=4, case="baseline_sn", spectral_norm=True)  # agreeing is fine


def test_architecture_auto_picks_the_papers_networks():
    assert resolve_architecture("auto", (121,)) == "kdd"
    assert resolve_architecture("auto", (274,)) == "arrhythmia"
    assert resolve_architecture("auto", (32, 32, 3)) == "conv"
    kdd = ALAD(input_shape=(121,), latent_dim=32)
    assert [layer.units for layer in kdd.encoder.layers if isinstance(layer, keras.layers.Dense)] == [32]
    assert kdd.encoder.get_layer("sn_fc0").layer.units == 64
    arr = ALAD(input_shape=(274,), latent_dim=64, spectral_norm=False)
    assert [layer.units for layer in arr.encoder.layers if isinstance(layer, keras.layers.Dense)] == [256, 128, 64]
    assert [layer.units for layer in arr.generator.layers if isinstance(layer, keras.layers.Dense)] == [128, 256, 274]
    with pytest.raises(ConfigError, match="conv"):
        ALAD(input_shape=(12,), architecture="conv")
    with pytest.raises(ConfigError, match="kdd"):
        ALAD(input_shape=(16, 16, 1), architecture="kdd")


def test_keras_round_trip_with_spectral_norm(tiny_rows, tmp_path):
    model = _model(tiny_rows)
    model.compile(run_eagerly=True, learning_rate=1e-3)
    model.fit(tiny_rows[:8], epochs=1, batch_size=8, verbose=0)
    model.build_from_sample(tiny_rows)
    expected = model.predict(tiny_rows, verbose=0)
    model.save(tmp_path / "alad.keras")
    loaded = keras.models.load_model(tmp_path / "alad.keras")
    np.testing.assert_allclose(loaded.predict(tiny_rows, verbose=0), expected, rtol=1e-5, atol=1e-5)
