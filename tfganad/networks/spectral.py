"""`SpectralNorm`: spectral normalisation with the gradient through σ (Miyato et al. 2018).

Paper: Miyato, Kataoka, Koyama and Yoshida, "Spectral Normalization for Generative Adversarial
Networks", ICLR 2018, eqs. 8-12 and Algorithm 1. The layer's kernel W, reshaped to (fan_in, units),
is divided by σ(W) = vᵀ W u inside the forward pass, where u (a non-trainable variable) and v come
from power iteration and are treated as constants in the gradient (the paper's Algorithm 1):

    ∂L/∂W = (G − ⟨G, W_SN⟩ · v uᵀ) / σ,   G = ∂L/∂W_SN   (paper eq. 12 in matrix form).

u is advanced (and stored) only in training calls; inference reuses the stored u, so scores do not
depend on how often the model was called. This is the form the ALAD reference code uses
(`utils/sn.py`, one power iteration, u of shape (1, units) drawn from a truncated normal), which also
divides inside the forward pass; it differs only in letting the gradient also run through that one
power-iteration step, which the paper's derivation leaves out.

`keras.layers.SpectralNormalization` instead overwrites the kernel variable with W/σ in the training
call, so no gradient flows through σ; no paper reproduced here uses that variant.
"""

from __future__ import annotations

import keras
from keras import ops

from tfganad.errors import ConfigError

_SUPPORTED = (keras.layers.Dense, keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)


def _l2_normalize(v, eps):
    return v / (ops.sqrt(ops.sum(ops.square(v))) + eps)


@keras.saving.register_keras_serializable(package="tfganad")
class SpectralNorm(keras.layers.Wrapper):
    """Wraps a Dense or ConvND layer and runs it with the kernel W / σ(W) (gradient through σ).

    Args:
        layer: a `keras.layers.Dense`, `Conv1D`, `Conv2D` or `Conv3D` (not built yet, or built).
        power_iterations: power-iteration steps per call (1, as Miyato et al. and the ALAD code).
        eps: added to norms before dividing.
    """

    def __init__(self, layer, power_iterations: int = 1, eps: float = 1e-12, **kwargs):
        if not isinstance(layer, _SUPPORTED) or isinstance(layer, keras.layers.Conv2DTranspose):
            raise ConfigError(f"SpectralNorm wraps Dense or Conv1D/2D/3D layers, got {type(layer).__name__}")
        if getattr(layer, "groups", 1) != 1 or getattr(layer, "data_format", "channels_last") != "channels_last":
            raise ConfigError("SpectralNorm supports channels_last, ungrouped convolutions only")
        if int(power_iterations) < 1:
            raise ConfigError(f"power_iterations must be >= 1, got {power_iterations!r}")
        super().__init__(layer, **kwargs)
        self.power_iterations = int(power_iterations)
        self.eps = float(eps)

    def build(self, input_shape):
        if not self.layer.built:
            self.layer.build(input_shape)
        units = self.layer.kernel.shape[-1]
        self.vector_u = self.add_weight(shape=(1, units), initializer=keras.initializers.TruncatedNormal(stddev=1.0),
                                        trainable=False, name="vector_u", aggregation="mean")
        self.built = True

    def normalized_kernel(self, training=False):
        """W / σ(W) with σ = vᵀ W u from `power_iterations` steps started at the stored u."""
        kernel = self.layer.kernel
        units = kernel.shape[-1]
        w = ops.reshape(kernel, (-1, units))
        u = ops.stop_gradient(ops.convert_to_tensor(self.vector_u))
        v = None
        for _ in range(self.power_iterations):
            v = _l2_normalize(ops.matmul(u, ops.transpose(w)), self.eps)
            u = _l2_normalize(ops.matmul(v, w), self.eps)
        u, v = ops.stop_gradient(u), ops.stop_gradient(v)
        sigma = ops.sum(ops.matmul(v, w) * u)
        if training:
            self.vector_u.assign(ops.cast(u, self.vector_u.dtype))
        return kernel / sigma

    def call(self, inputs, training=False):
        layer = self.layer
        kernel = ops.cast(self.normalized_kernel(training=bool(training)), inputs.dtype)
        if isinstance(layer, keras.layers.Dense):
            out = ops.matmul(inputs, kernel)
        else:
            out = ops.conv(inputs, kernel, strides=layer.strides, padding=layer.padding,
                           data_format=layer.data_format, dilation_rate=layer.dilation_rate)
        if layer.use_bias:
            out = out + ops.cast(layer.bias, out.dtype)
        if layer.activation is not None:
            out = layer.activation(out)
        return out

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(power_iterations=self.power_iterations, eps=self.eps)
        return config
