"""EGBAD: survey cases, losses wired as the paper says, score composition."""

import keras
import numpy as np
import pytest

from tfganad.errors import ConfigError
from tfganad.models import EGBAD, EGBAD_CASES
from tfganad.scores import bce_discriminator_score, l1_residual_score


def test_all_eight_survey_cases():
    assert list(EGBAD_CASES) == [f"case{i}" for i in range(1, 9)]
    expected = {  # survey Appendix A, Table 4
        "case1": ("bce", True, "bce"), "case2": ("bce", True, "fm"), "case3": ("fm", True, "bce"),
        "case4": ("fm", True, "fm"), "case5": ("bce", False, "bce"), "case6": ("bce", False, "fm"),
        "case7": ("fm", False, "bce"), "case8": ("fm", False, "fm"),
    }
    for case, (loss, residual, score) in expected.items():
        m = EGBAD(input_shape=(12,), latent_dim=4, case=case)
        assert (m.adversarial_loss, m.residual, m.score, m.score_name) == (loss, residual, score, score)


def test_case_contradiction_and_bad_values():
    with pytest.raises(ConfigError, match="contradicts case 'case1'"):
        EGBAD(input_shape=(12,), case="case1", adversarial_loss="fm")
    EGBAD(input_shape=(12,), case="case1", adversarial_loss="bce")  # agreeing is fine
    with pytest.raises(ConfigError, match="allowed: bce, fm"):
        EGBAD(input_shape=(12,), score="l2")
    with pytest.raises(ConfigError, match="score_weight"):
        EGBAD(input_shape=(12,), score_weight=1.5)


def test_score_is_weighted_residual_plus_discriminator_term(tiny_rows):
    m = EGBAD(input_shape=(12,), latent_dim=4, score="bce", score_weight=0.25)
    x = tiny_rows[:5]
    comps = {k: v.numpy() for k, v in m.score_components(x).items()}
    rec = m.reconstruct(x).numpy()
    logit, _ = m.discriminator([keras.ops.convert_to_tensor(x), m.encoder(x)])
    expected = 0.75 * l1_residual_score(x, rec).numpy() + 0.25 * bce_discriminator_score(logit).numpy()
    np.testing.assert_allclose(comps["bce"], expected, rtol=1e-5)
    np.testing.assert_allclose(m.predict(x, verbose=0), expected, rtol=1e-5)


def test_residual_loss_trains_only_the_encoder_side(tiny_rows):
    """With residual on, e_loss includes ||x − G(E(x))||₁; g_loss is unchanged (survey §3.2)."""
    x = tiny_rows[:8]
    with_res = EGBAD(input_shape=(12,), latent_dim=4, residual=True, residual_weight=1.0, seed=1)
    without = EGBAD(input_shape=(12,), latent_dim=4, residual=False, seed=1)
    without.set_weights(with_res.get_weights())
    a = with_res.compute_losses(x, training=False)
    b = without.compute_losses(x, training=False)
    assert float(a["g_loss"]) == pytest.approx(float(b["g_loss"]), rel=1e-6)
    assert float(a["e_loss"]) > float(b["e_loss"])


def test_image_size_validation():
    with pytest.raises(ConfigError, match="image size 18x18 cannot work"):
        EGBAD(input_shape=(18, 18, 1))
    with pytest.raises(ConfigError, match="1 \\(grayscale\\) or 3 \\(RGB\\) channels"):
        EGBAD(input_shape=(16, 16, 2))
    EGBAD(input_shape=(32, 32, 3), latent_dim=4, filters=2, dense_units=8)


def _softplus(t):
    return np.logaddexp(0.0, t)


@pytest.mark.parametrize("case", ["case3", "case4", "case7", "case8"])
def test_feature_matching_cases_change_only_the_generator_loss(case, tiny_rows):
    """Survey Table 4 cases 3, 4, 7, 8 (§3.2): G minimises ||E f(x, E(x)) − E f(G(z), z)||²; E keeps
    BCE(0, D(x, E(x))) plus, in cases 3 and 4, w·E_x ||x − G(E(x))||₁ (eq. 4: per-sample sum)."""
    m = EGBAD(input_shape=(12,), latent_dim=4, case=case, residual_weight=0.5, seed=3)
    x = tiny_rows[:6]
    z = np.random.default_rng(0).normal(size=(6, 4)).astype("float32")
    m.sample_latent = lambda n: keras.ops.convert_to_tensor(z)
    losses = {k: float(v) for k, v in m.compute_losses(x, training=False).items()}
    z_enc = m.encoder(x).numpy()
    real_logit, real_feat = (t.numpy() for t in m.discriminator([x, z_enc]))
    fake_logit, fake_feat = (t.numpy() for t in m.discriminator([m.generator(z).numpy(), z]))
    g_expected = np.sum((real_feat.mean(0) - fake_feat.mean(0)) ** 2)
    e_expected = np.mean(_softplus(real_logit))  # BCE(0, l) = −log(1 − σ(l)) = softplus(l)
    if m.residual:
        e_expected += 0.5 * np.mean(np.sum(np.abs(x - m.generator(z_enc).numpy()), axis=1))
    d_expected = np.mean(_softplus(-real_logit)) + np.mean(_softplus(fake_logit))
    assert losses["g_loss"] == pytest.approx(g_expected, rel=1e-5)
    assert losses["e_loss"] == pytest.approx(e_expected, rel=1e-5)
    assert losses["d_loss"] == pytest.approx(d_expected, rel=1e-5)


def test_residual_reduction_sum_is_the_paper_default_and_mean_is_named(tiny_rows):
    x = tiny_rows[:6]
    z = np.zeros((6, 4), np.float32)
    kwargs = dict(input_shape=(12,), latent_dim=4, case="case1", seed=2)
    paper, mean = EGBAD(**kwargs), EGBAD(residual_reduction="mean", **kwargs)
    mean.set_weights(paper.get_weights())
    for m in (paper, mean):
        m.sample_latent = lambda n: keras.ops.convert_to_tensor(z)
    real_logit, _ = m.discriminator([x, paper.encoder(x).numpy()])
    bce = np.mean(_softplus(real_logit.numpy()))
    residual = np.abs(x - paper.reconstruct(x).numpy())
    assert paper.residual_reduction == "sum"
    assert float(paper.compute_losses(x, False)["e_loss"]) == pytest.approx(bce + residual.sum(1).mean(), rel=1e-5)
    assert float(mean.compute_losses(x, False)["e_loss"]) == pytest.approx(bce + residual.mean(), rel=1e-5)
    assert EGBAD.from_config(mean.get_config()).residual_reduction == "mean"
    with pytest.raises(ConfigError, match="residual_reduction 'max'; allowed: sum, mean"):
        EGBAD(input_shape=(12,), residual_reduction="max")
