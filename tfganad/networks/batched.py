"""Forward pass of a chain network with a separate copy of its trainable weights for every sample.

ADGAN (Deecke et al. 2018, Algorithm 1) adapts a private copy θ_j of the generator's parameters for
every test point and seed. Running B such copies as one batched computation needs every weight to
carry a leading copy dimension: Dense becomes `einsum('bi,bio->bo')`, Conv2D an image-patch
extraction followed by a per-copy `einsum`, Conv2DTranspose the same on the zero-dilated input with the
flipped kernel, BatchNorm (inference mode) a per-copy affine map on the layer's fixed moving
statistics. Weight-free layers (activations, reshape, flatten, dropout) run as they are.

Only chain networks (one input, each layer feeding the next) built from those layers are supported;
anything else raises ConfigError rather than silently computing something different. Computation is
float32 (the search's precision), whatever the network's dtype policy.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfganad.errors import ConfigError


def chain_layers(network) -> list:
    """The layers of a chain network in order (input layer excluded); ConfigError if it is not a chain."""
    out = [layer for layer in network.layers if not isinstance(layer, keras.layers.InputLayer)]
    if len(network.inputs) != 1 or len(network.outputs) != 1:
        raise ConfigError(f"{network.name}: per-copy weights need a one-input, one-output chain network")
    previous = network.inputs[0]
    for layer in out:
        if layer.input is not previous:
            raise ConfigError(f"{network.name}: layer {layer.name!r} does not take the previous layer's "
                              "output; per-copy weights support chain networks only")
        previous = layer.output
    return out


def tile_weights(network, copies) -> list:
    """One copy of every trainable weight of `network` per sample: a list of (copies, *shape) tensors."""
    return [tf.repeat(tf.cast(v, tf.float32)[None], copies, axis=0) for v in network.trainable_weights]


def _expand_to(param, rank):
    """(B, C) → (B, 1, …, 1, C) so a per-copy vector broadcasts over a rank-`rank` activation."""
    return tf.reshape(param, [tf.shape(param)[0]] + [1] * (rank - 2) + [param.shape[-1]])


def _patch_conv(h, kernel, strides, padding):
    """Valid/same 2-D correlation with one kernel per sample: h (B, H, W, C), kernel (B, kh, kw, C, O)."""
    kh, kw, c, o = kernel.shape[1:]
    patches = tf.image.extract_patches(h, sizes=[1, kh, kw, 1], strides=[1, strides[0], strides[1], 1],
                                       rates=[1, 1, 1, 1], padding=padding.upper())
    # extract_patches lays each patch out as (kh, kw, C), the same order as the kernel's first three axes.
    flat = tf.reshape(kernel, [tf.shape(kernel)[0], kh * kw * c, o])
    return tf.einsum("bhwk,bko->bhwo", patches, flat)


def _dilate(h, sh, sw):
    """Inserts s − 1 zeros between neighbouring pixels: (B, H, W, C) → (B, (H−1)·sh+1, (W−1)·sw+1, C)."""
    if sh == 1 and sw == 1:
        return h
    shape = tf.shape(h)
    b, hh, ww, c = shape[0], shape[1], shape[2], h.shape[-1]
    x = h[:, :, None, :, None, :]
    x = tf.pad(x, [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]])
    x = tf.reshape(x, [b, hh * sh, ww * sw, c])
    return x[:, : (hh - 1) * sh + 1, : (ww - 1) * sw + 1, :]


def _transpose_padding(size, kernel, stride, padding):
    """(left, right) padding of the dilated input so that a valid correlation gives Keras's output size."""
    if padding == "same":
        out = size * stride
        before = max(kernel - stride, 0) // 2
    else:
        out = size * stride + max(kernel - stride, 0)
        before = 0
    left = kernel - 1 - before
    right = out - 1 + before - (size - 1) * stride
    return left, right


def _conv_transpose(h, kernel, layer):
    """Conv2DTranspose with one kernel per sample: correlation of the zero-dilated, padded input with the
    spatially flipped kernel (kernel (B, kh, kw, O, C) in Keras's layout)."""
    sh, sw = layer.strides
    kh, kw = kernel.shape[1:3]
    h_in, w_in = h.shape[1], h.shape[2]
    if h_in is None or w_in is None:
        raise ConfigError(f"{layer.name}: per-copy Conv2DTranspose needs static spatial sizes")
    (top, bottom) = _transpose_padding(h_in, kh, sh, layer.padding)
    (left, right) = _transpose_padding(w_in, kw, sw, layer.padding)
    x = _dilate(h, sh, sw)
    x = tf.pad(x, [[0, 0], [top, max(bottom, 0)], [left, max(right, 0)], [0, 0]])
    if bottom < 0 or right < 0:
        x = x[:, : x.shape[1] + min(bottom, 0), : x.shape[2] + min(right, 0), :]
    flipped = tf.transpose(kernel[:, ::-1, ::-1, :, :], [0, 1, 2, 4, 3])
    return _patch_conv(x, flipped, (1, 1), "valid")


def _check_conv(layer):
    if layer.data_format != "channels_last" or tuple(layer.dilation_rate) != (1, 1):
        raise ConfigError(f"{layer.name}: per-copy convolution supports channels_last, dilation 1 only")
    if getattr(layer, "groups", 1) != 1 or getattr(layer, "output_padding", None) is not None:
        raise ConfigError(f"{layer.name}: per-copy convolution supports groups=1 and no output_padding")
    if layer.padding not in ("same", "valid"):
        raise ConfigError(f"{layer.name}: unsupported padding {layer.padding!r}")


def batched_apply(network, weights, inputs):
    """Runs `network` on `inputs` (B, ...) with copy b of every trainable weight applied to sample b.

    Args:
        network: a chain keras.Model (see module docstring); inference mode (BatchNorm uses its moving
            statistics, dropout is off).
        weights: list aligned with `network.trainable_weights`, each of shape (B, *weight.shape).
        inputs: batch of inputs, first dimension B.

    Returns:
        The network's output for every sample, float32; equals `network(inputs, training=False)` when
        every copy holds the network's own weights.
    """
    if len(weights) != len(network.trainable_weights):
        raise ConfigError(f"{network.name}: got {len(weights)} weight tensors for "
                          f"{len(network.trainable_weights)} trainable weights")
    index = {id(v): i for i, v in enumerate(network.trainable_weights)}

    def own(variable):
        if variable is None:
            return None
        if id(variable) not in index:
            raise ConfigError(f"{network.name}: {variable.path} is not trainable; cannot give it per-copy values")
        return weights[index[id(variable)]]

    h = tf.cast(inputs, tf.float32)
    for layer in chain_layers(network):
        if not layer.weights:
            h = tf.cast(layer(h, training=False), tf.float32)
        elif isinstance(layer, keras.layers.Dense):
            if len(h.shape) != 2:
                raise ConfigError(f"{layer.name}: per-copy Dense supports 2-D inputs only")
            h = tf.einsum("bi,bio->bo", h, own(layer.kernel))
            if layer.use_bias:
                h = h + own(layer.bias)
            h = layer.activation(h)
        elif isinstance(layer, keras.layers.Conv2DTranspose):
            _check_conv(layer)
            h = _conv_transpose(h, own(layer.kernel), layer)
            if layer.use_bias:
                h = h + _expand_to(own(layer.bias), 4)
            h = layer.activation(h)
        elif isinstance(layer, keras.layers.Conv2D):
            _check_conv(layer)
            h = _patch_conv(h, own(layer.kernel), layer.strides, layer.padding)
            if layer.use_bias:
                h = h + _expand_to(own(layer.bias), 4)
            h = layer.activation(h)
        elif isinstance(layer, keras.layers.BatchNormalization):
            if layer.axis not in (-1, len(h.shape) - 1):
                raise ConfigError(f"{layer.name}: per-copy BatchNorm supports the last axis only")
            mean = tf.cast(layer.moving_mean, tf.float32)
            var = tf.cast(layer.moving_variance, tf.float32)
            h = (h - mean) * tf.math.rsqrt(var + layer.epsilon)
            if layer.scale:
                h = h * _expand_to(own(layer.gamma), len(h.shape))
            if layer.center:
                h = h + _expand_to(own(layer.beta), len(h.shape))
        else:
            raise ConfigError(f"{network.name}: layer {layer.name!r} ({type(layer).__name__}) has weights and "
                              "is not supported with per-copy weights (Dense, Conv2D, Conv2DTranspose, "
                              "BatchNormalization are)")
    return h
