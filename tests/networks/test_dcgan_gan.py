"""DCGAN generator/critic builders and WGAN's clip constraint."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from tfganad.errors import ConfigError
from tfganad.networks.dcgan_gan import ClipConstraint, dcgan_critic, dcgan_generator, mlp_critic


def test_clip_constraint_clips_and_serialises():
    c = ClipConstraint(0.5)
    np.testing.assert_allclose(np.asarray(c(np.array([-2.0, 0.2, 0.9], "float32"))), [-0.5, 0.2, 0.5], rtol=1e-7)
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(c))
    assert isinstance(again, ClipConstraint) and again.clip_value == 0.5


@pytest.mark.parametrize("norm,layer", [("batch", "BatchNormalization"), ("layer", "GroupNormalization"),
                                        ("none", None)])
def test_dcgan_critic_shapes_norm_and_clipping(norm, layer):
    critic = dcgan_critic((28, 28, 1), filters=4, norm=norm, clip_value=0.01, logit_bias=False)
    logit, features = critic(np.zeros((2, 28, 28, 1), "float32"))
    assert logit.shape == (2, 1) and features.shape == (2, 7 * 7 * 8)
    kinds = [type(x).__name__ for x in critic.layers]
    assert (layer in kinds) if layer else not any("Normalization" in k for k in kinds)
    assert all(isinstance(v.constraint, ClipConstraint) for v in critic.trainable_variables)
    assert critic.get_layer("logit").bias is None


def test_generator_and_mlp_critic_shapes():
    assert dcgan_generator((32, 32, 3), 7, filters=4)(np.zeros((2, 7), "float32")).shape == (2, 32, 32, 3)
    logit, features = mlp_critic(12, units=(16, 8), norm="layer")(np.zeros((3, 12), "float32"))
    assert logit.shape == (3, 1) and features.shape == (3, 8)
    with pytest.raises(ConfigError, match="critic_norm"):
        mlp_critic(12, norm="spectral")
