"""`SubpixelConv2DTranspose`: Keras's Conv2DTranspose computed as stride² small convolutions.

TensorFlow runs a transposed convolution on CPU as the input gradient of a convolution, which here is
several times slower per multiply than a forward convolution (measured: a DCGAN decoder took 6x longer
than the encoder of the same size, see benchmarks/results/ganomaly_mnist.md). The sub-pixel
decomposition computes exactly the same function: output phase r (o = stride·q + r) is a valid
correlation of the padded input with the kernel taps t ≡ r + pad (mod stride), so each phase is an
ordinary Conv2D with a slice of the same kernel, and the phases interleave by a reshape. No multiply is
spent on the zeros of a dilated input.

The layer keeps Conv2DTranspose's variables, arguments and config (a drop-in replacement: same kernel
shape and initialisation), and falls back to the parent's `call` where the decomposition does not
apply (dynamic spatial sizes, stride 1, dilation, groups, output_padding, channels_first).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfganad.networks.batched import transpose_conv_phases


@keras.saving.register_keras_serializable(package="tfganad")
class SubpixelConv2DTranspose(keras.layers.Conv2DTranspose):
    """Conv2DTranspose whose forward pass runs as one Conv2D per output phase (same weights, same output)."""

    def _plan(self, input_shape):
        h, w = input_shape[1], input_shape[2]
        (kh, kw), (sh, sw) = self.kernel_size, self.strides
        if (self.data_format != "channels_last" or tuple(self.dilation_rate) != (1, 1)
                or getattr(self, "output_padding", None) is not None or h is None or w is None
                or (sh, sw) == (1, 1) or kh < sh or kw < sw or self.padding not in ("same", "valid")):
            return None
        return transpose_conv_phases(h, kh, sh, self.padding), transpose_conv_phases(w, kw, sw, self.padding)

    def call(self, inputs):
        plan = self._plan(inputs.shape)
        if plan is None:
            return super().call(inputs)
        # A tensor, not the variable: custom_gradient then differentiates the read like any other op.
        kernel = tf.convert_to_tensor(self.kernel)
        out = _subpixel_conv_transpose(inputs, kernel, plan, tuple(self.strides), self.padding.upper(), self.filters)
        if self.use_bias:
            out = out + self.bias
        if self.activation is not None:
            out = self.activation(out)
        return out


def _subpixel_conv_transpose(x, kernel, plan, strides, padding, filters):
    """Transposed convolution, forward by phases; gradients from the native ops (fast on CPU: a forward
    Conv2D for the input, Conv2DBackpropFilter for the kernel)."""

    @tf.custom_gradient
    def run(x, kernel):
        (out_h, qh, top, bottom, phases_h), (out_w, qw, left, right, phases_w) = plan
        sh, sw = strides
        padded = tf.pad(x, [[0, 0], [top, bottom], [left, right], [0, 0]])
        rows = []
        for start_h, taps_h in phases_h:
            cols = []
            for start_w, taps_w in phases_w:
                sub = tf.gather(tf.gather(kernel, taps_h, axis=0), taps_w, axis=1)
                window = padded[:, start_h:start_h + qh + len(taps_h) - 1, start_w:start_w + qw + len(taps_w) - 1]
                cols.append(tf.nn.conv2d(window, tf.transpose(sub, [0, 1, 3, 2]), 1, "VALID"))
            rows.append(tf.stack(cols, axis=3))  # (B, qh, qw, sw, filters)
        out = tf.stack(rows, axis=2)  # (B, qh, sh, qw, sw, filters)
        out = tf.reshape(out, [tf.shape(x)[0], qh * sh, qw * sw, filters])[:, :out_h, :out_w, :]

        def grad(dy):
            # y = conv2d_transpose(x, k) is the input-gradient of conv2d(·, k): its own gradients are a
            # forward conv2d (for x) and the filter gradient with x as out_backprop (for k).
            dx = tf.nn.conv2d(dy, kernel, [1, sh, sw, 1], padding)
            dk = tf.raw_ops.Conv2DBackpropFilter(input=dy, filter_sizes=tf.shape(kernel), out_backprop=x,
                                                 strides=[1, sh, sw, 1], padding=padding)
            return dx, dk

        return out, grad

    return run(x, kernel)
