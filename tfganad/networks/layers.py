"""Convolution layers that compute Keras's own function by faster routes on CPU (same weights and config).

`SubpixelConv2DTranspose` (a drop-in Conv2DTranspose). TensorFlow runs a transposed convolution on CPU as
the input gradient of a convolution, which is several times slower per multiply than a forward
convolution in some shapes (measured: a DCGAN decoder took 6x longer than the encoder of the same size,
see benchmarks/results/ganomaly_mnist.md). The layer picks one of three exact rewrites by shape:
* a 1-pixel input (a DCGAN decoder's first layer, z → 4×4): every output is the input times one kernel
  tap, so the layer is a single matmul (the native op took 2.7x longer, benchmarks/results/conv_paths.md);
* few output channels (an image decoder's last layer, `OVERLAP_ADD_MAX_FILTERS`): one matmul of the
  input with all kernel taps, then the shifted tap maps are summed into the output ("col2im"), which
  keeps the matmul wide where per-phase convolutions with 1-3 output channels run far below peak;
* wider layers run natively on CPUs with AVX-512 (`wide_route`), elsewhere by the sub-pixel
  decomposition: output phase r (o = stride·q + r) is a valid correlation of the padded input with the
  kernel taps t ≡ r + pad (mod stride), so each phase is an ordinary Conv2D with a slice of the same
  kernel, and the phases interleave by a reshape. No multiply is spent on the zeros of a dilated input.
The last two keep the native gradients (a forward Conv2D for the input, Conv2DBackpropFilter for the
kernel); the matmul path is differentiated as a matmul. The layer falls back to the parent's `call`
where no rewrite applies (dynamic spatial sizes, stride 1 on a larger input, dilation, groups,
output_padding, channels_first).

`FullWindowConv2D` (a drop-in Conv2D): a valid convolution whose kernel covers its whole input (a DCGAN
encoder's last layer, 4×4 → 1×1) is one matmul of the flattened input with the flattened kernel.
"""

from __future__ import annotations

import functools

import keras
import tensorflow as tf

from tfganad.networks.batched import transpose_conv_phases
from tfganad.training.performance import cpu_flags


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
        # A tensor, not the variable: custom_gradient then differentiates the read like any other op.
        pixel = self._one_pixel(inputs.shape)
        if pixel is not None:
            out = _pixel_conv_transpose(inputs, tf.convert_to_tensor(self.kernel), *pixel)
        else:
            plan = self._plan(inputs.shape)
            if plan is None:
                return super().call(inputs)
            kernel = tf.convert_to_tensor(self.kernel)
            if self.filters <= OVERLAP_ADD_MAX_FILTERS:
                out = _overlap_add_conv_transpose(inputs, kernel, plan, tuple(self.strides), self.padding.upper())
            elif wide_route() == "native":
                return super().call(inputs)
            else:
                out = _subpixel_conv_transpose(inputs, kernel, plan, tuple(self.strides), self.padding.upper(),
                                               self.filters)
        if self.use_bias:
            out = out + self.bias
        if self.activation is not None:
            out = self.activation(out)
        return out

    def _one_pixel(self, input_shape):
        """(rows, cols) kernel tap ranges when the input is 1×1 (the output is then x · kernel taps)."""
        if (self.data_format != "channels_last" or tuple(self.dilation_rate) != (1, 1)
                or getattr(self, "output_padding", None) is not None or tuple(input_shape[1:3]) != (1, 1)
                or self.padding not in ("same", "valid")):
            return None
        ranges = []
        for k, s in zip(self.kernel_size, self.strides):
            if self.padding == "same":
                out, before = s, max(k - s, 0) // 2
            else:
                out, before = s + max(k - s, 0), 0
            if before + out > k:  # output pixels with no tap (kernel smaller than the stride)
                return None
            ranges.append((before, before + out))
        return tuple(ranges)


OVERLAP_ADD_MAX_FILTERS = 4
"""Transposed convolutions with at most this many output channels run as matmul + overlap-add.

Measured per layer, idle (benchmarks/results/conv_paths.md, forward at batch 100): 64 → 1 channels on a
16×16 input took 2.9 ms by overlap-add, 6.7 ms natively and 10.0 ms by sub-pixel phases; 128 → 64
channels on 8×8 took 17.3 / 10.0 / 13.7 ms (the overlap-add's extra memory traffic outweighs the wider
matmul once the layer has many output channels).
"""


@functools.lru_cache(maxsize=None)
def wide_route() -> str:
    """The route of wider strided transposed convolutions on this machine: "native" or "subpixel".

    TensorFlow's native op (oneDNN's backward-data convolution) beat the sub-pixel phases on every wide
    layer of the GANomaly and EGBAD decoders on an AVX-512 CPU (Zen 4, benchmarks/results/conv_paths.md:
    forward 10.0 vs 13.7 ms, 11.2 vs 12.8 ms, 7.3 vs 10.4 ms). The sub-pixel route was introduced on
    an earlier CPU where the native decoder was 1.4x slower for scoring (ganomaly_mnist.md, AVX2 only, a
    whole-decoder A/B that included the 1-pixel and 1-channel layers now handled above), so CPUs without
    AVX-512 keep it. Deterministic per machine, as oneDNN's own kernel choice is.
    """
    return "native" if "avx512f" in cpu_flags() else "subpixel"


def _pixel_conv_transpose(x, kernel, rows, cols):
    """Transposed convolution of a 1×1 input: one matmul with the kernel taps the output keeps."""
    (r0, r1), (c0, c1) = rows, cols
    taps = tf.transpose(kernel[r0:r1, c0:c1], [3, 0, 1, 2])  # (C, oh, ow, F)
    channels, filters = kernel.shape[3], kernel.shape[2]
    flat = tf.matmul(tf.reshape(x, [-1, channels]), tf.reshape(taps, [channels, -1]))
    return tf.reshape(flat, [-1, r1 - r0, c1 - c0, filters])


def _native_grads(x, kernel, strides, padding):
    """Gradients of y = conv2d_transpose(x, k), which is the input-gradient of conv2d(·, k): a forward
    conv2d (for x) and the filter gradient with x as out_backprop (for k)."""
    sh, sw = strides

    def grad(dy):
        dx = tf.nn.conv2d(dy, kernel, [1, sh, sw, 1], padding)
        dk = tf.raw_ops.Conv2DBackpropFilter(input=dy, filter_sizes=tf.shape(kernel), out_backprop=x,
                                             strides=[1, sh, sw, 1], padding=padding)
        return dx, dk

    return grad


def _overlap_add_conv_transpose(x, kernel, plan, strides, padding):
    """Transposed convolution as one matmul with every kernel tap, then the shifted tap maps summed.

    Output o = stride·i + t − before along each axis: the full (uncropped) output's phase r collects the
    taps t = r + stride·m, each shifted down by m, and the phases interleave by a reshape.
    """

    @tf.custom_gradient
    def run(x, kernel):
        (out_h, _, _, _, _), (out_w, _, _, _, _) = plan
        kh, kw, filters, channels = kernel.shape
        sh, sw = strides
        h, w = x.shape[1], x.shape[2]
        taps = tf.matmul(tf.reshape(x, [-1, channels]),
                         tf.reshape(tf.transpose(kernel, [3, 0, 1, 2]), [channels, kh * kw * filters]))
        taps = tf.reshape(taps, [-1, h, w, kh, kw, filters])
        mh, mw = -(-kh // sh), -(-kw // sw)
        qh, qw = h + mh - 1, w + mw - 1  # rows / columns of each phase of the full output
        rows = []
        for rh in range(sh):
            cols = []
            for rw in range(sw):
                terms = [tf.pad(taps[:, :, :, th, tw], [[0, 0], [(th - rh) // sh, qh - h - (th - rh) // sh],
                                                        [(tw - rw) // sw, qw - w - (tw - rw) // sw], [0, 0]])
                         for th in range(rh, kh, sh) for tw in range(rw, kw, sw)]
                cols.append(tf.add_n(terms))
            rows.append(tf.stack(cols, axis=3))  # (B, qh, qw, sw, filters)
        full = tf.reshape(tf.stack(rows, axis=2), [-1, qh * sh, qw * sw, filters])
        top = max((h - 1) * sh + kh - out_h, 0) // 2 if padding == "SAME" else 0
        left = max((w - 1) * sw + kw - out_w, 0) // 2 if padding == "SAME" else 0
        return full[:, top:top + out_h, left:left + out_w, :], _native_grads(x, kernel, strides, padding)

    return run(x, kernel)


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

        return out, _native_grads(x, kernel, strides, padding)

    return run(x, kernel)


@keras.saving.register_keras_serializable(package="tfganad")
class FullWindowConv2D(keras.layers.Conv2D):
    """Conv2D that runs as one matmul when its valid kernel covers the whole input (same weights, output)."""

    def call(self, inputs):
        kh, kw = self.kernel_size
        if (self.data_format != "channels_last" or self.padding != "valid" or tuple(inputs.shape[1:3]) != (kh, kw)
                or tuple(self.dilation_rate) != (1, 1) or getattr(self, "groups", 1) != 1):
            return super().call(inputs)
        kernel = tf.convert_to_tensor(self.kernel)  # (kh, kw, C, F): rows in the input's (i, j, c) order
        flat = tf.matmul(tf.reshape(inputs, [-1, kh * kw * kernel.shape[2]]), tf.reshape(kernel, [-1, self.filters]))
        out = tf.reshape(flat, [-1, 1, 1, self.filters])
        if self.use_bias:
            out = out + self.bias
        if self.activation is not None:
            out = self.activation(out)
        return out
