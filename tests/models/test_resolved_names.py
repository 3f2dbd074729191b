"""Loss and score names resolve to functions once, in the constructor (issue #17 item 4): the traced step,
the losses and the scores compare no name strings, and the resolved functions compute the named ones."""

import inspect
import re

import numpy as np
import pytest
import tensorflow as tf

import tfganad
from tfganad.models import EGBAD
from tfganad.scores.discriminator import bce_discriminator_score
from tfganad.scores.reconstruction import l1_residual_score

#: Methods that run inside the traced train/test/predict step.
TRACED = ("compute_losses", "gan_losses", "score_components", "_scores", "run_schedule", "sample_latent",
          "_search_loss", "_search_chunk", "_combine", "after_update")


@pytest.mark.parametrize("name", tfganad.available_models())
def test_traced_methods_compare_no_strings(name):
    cls = tfganad.get_model_class(name)
    for method in TRACED:
        fn = getattr(cls, method, None)
        if fn is None or not getattr(fn, "__module__", "").startswith("tfganad."):
            continue
        source = inspect.getsource(fn)
        assert not re.search(r"self\.\w+\s*(==|!=)\s*['\"]", source), f"{name}.{method} branches on a name string"


@pytest.mark.parametrize("form, expected", [("convex", lambda r, d: 0.7 * r + 0.3 * d),
                                            ("sum", lambda r, d: r + 0.3 * d)])
def test_egbad_score_form_resolved_in_the_constructor_scores_as_named(form, expected):
    x = tf.constant(np.random.default_rng(0).normal(size=(6, 8)).astype("float32"))
    model = EGBAD(input_shape=[8], latent_dim=4, dense_units=8, case="case1", score_form=form, score_weight=0.3)
    model.build_from_sample(x)
    z = model.encoder(x, training=False)
    residual = l1_residual_score(x, model.generator(z, training=False))
    disc = bce_discriminator_score(model.discriminator([x, z], training=False)[0])
    np.testing.assert_allclose(model.score_components(x)["bce"], expected(residual.numpy(), disc.numpy()),
                               rtol=1e-5, atol=1e-5)
