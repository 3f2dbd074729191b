"""Forward pass of a chain network with a separate copy of its trainable weights for every sample.

ADGAN (Deecke et al. 2018, Algorithm 1) adapts a private copy θ_j of the generator's parameters for
every test point and seed. Running B such copies as one batched computation needs every weight to
carry a leading copy dimension: Dense becomes a batched matmul, Conv2D an image-patch extraction
followed by a per-copy matmul, Conv2DTranspose the same per output phase (sub-pixel decomposition:
each of the stride² phases is a small correlation with a subset of the kernel taps, so no multiply is
spent on the zeros of a dilated input), BatchNorm (inference mode) a per-copy affine map on the
layer's fixed moving statistics. Weight-free layers (activations, reshape, flatten, dropout) run as
they are.

`BatchedNetwork.layout` rearranges the copies once into the shapes these ops consume (a transposed
convolution's kernel becomes one matrix per phase). The rearrangement only permutes and regroups
elements, so an elementwise optimizer such as Adam follows exactly the same trajectory on it as on
the Keras layout, while the search loop never pays for slicing kernels apart at every step.

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


def _patch_matmul(h, matrix, size, strides, padding):
    """2-D correlation with one kernel per sample: h (B, H, W, C), matrix (B, kh·kw·C, O) whose rows are
    ordered (kh, kw, C) like `tf.image.extract_patches`' patch depth."""
    kh, kw = size
    patches = tf.image.extract_patches(h, sizes=[1, kh, kw, 1], strides=[1, strides[0], strides[1], 1],
                                       rates=[1, 1, 1, 1], padding=padding.upper())
    shape = tf.shape(patches)
    # A batched matmul (B, H·W, K) × (B, K, O): on CPU its gradient is far cheaper than einsum's.
    out = tf.matmul(tf.reshape(patches, [shape[0], shape[1] * shape[2], patches.shape[-1]]), matrix)
    return tf.reshape(out, [shape[0], shape[1], shape[2], matrix.shape[-1]])


def transpose_conv_phases(size, kernel, stride, padding):
    """Sub-pixel decomposition of a transposed convolution along one axis.

    Output o = stride·q + r of phase r sums x[q + c_r − m]·W[t_r + stride·m] over the taps m (from
    o = i·stride + t − pad_before). Returns (out_size, Q, left_pad, right_pad, phases) with one
    (start, taps) per phase: a valid correlation of the padded input from `start` with the kernel taps
    `taps` (in window order) gives that phase's Q outputs.
    """
    if padding == "same":
        out = size * stride
        before = max(kernel - stride, 0) // 2
    else:
        out = size * stride + max(kernel - stride, 0)
        before = 0
    q = -(-out // stride)
    raw = []
    for r in range(stride):
        t_r, c_r = (r + before) % stride, (r + before) // stride
        raw.append((c_r, list(range(t_r, kernel, stride))))
    left = max(max(len(taps) - 1 - c for c, taps in raw), 0)
    right = max(max(q - 1 + c - (size - 1) for c, _ in raw), 0)
    phases = [(c - (len(taps) - 1) + left, taps[::-1]) for c, taps in raw]
    return out, q, left, right, phases


def _check_conv(layer):
    if layer.data_format != "channels_last" or tuple(layer.dilation_rate) != (1, 1):
        raise ConfigError(f"{layer.name}: per-copy convolution supports channels_last, dilation 1 only")
    if getattr(layer, "groups", 1) != 1 or getattr(layer, "output_padding", None) is not None:
        raise ConfigError(f"{layer.name}: per-copy convolution supports groups=1 and no output_padding")
    if layer.padding not in ("same", "valid"):
        raise ConfigError(f"{layer.name}: unsupported padding {layer.padding!r}")


class BatchedNetwork:
    """A chain Keras network evaluated with per-sample weight copies (see the module docstring).

    Example:
        >>> net = BatchedNetwork(generator)
        >>> params = net.tile(64)                  # 64 copies of the trained weights, search layout
        >>> images = net(params, z)                # z: (64, latent_dim); copy b generates image b
    """

    def __init__(self, network):
        self.network = network
        self.layers = chain_layers(network)
        index = {id(v): i for i, v in enumerate(network.trainable_weights)}
        self._plan = []  # per layer: (layer, kind, indices of its trainable weights, static info)
        for layer in self.layers:
            own = {}
            for attr in ("kernel", "bias", "gamma", "beta"):
                var = getattr(layer, attr, None)
                if var is not None and getattr(var, "trainable", False):
                    own[attr] = index[id(var)]
            covered = {index[id(v)] for v in layer.trainable_weights}
            if covered != set(own.values()):
                raise ConfigError(f"{network.name}: layer {layer.name!r} has weights this module cannot copy")
            if not layer.weights:
                kind = "plain"
            elif isinstance(layer, keras.layers.Dense):
                kind = "dense"
            elif isinstance(layer, keras.layers.Conv2DTranspose):
                _check_conv(layer)
                kind = "conv_transpose"
            elif isinstance(layer, keras.layers.Conv2D):
                _check_conv(layer)
                kind = "conv"
            elif isinstance(layer, keras.layers.BatchNormalization) and layer.axis in (-1, len(layer.input.shape) - 1):
                kind = "batch_norm"
            else:
                raise ConfigError(f"{network.name}: layer {layer.name!r} ({type(layer).__name__}) is not supported "
                                  "with per-copy weights (Dense, Conv2D, Conv2DTranspose, last-axis "
                                  "BatchNormalization and weight-free layers are)")
            info = None
            if kind == "conv_transpose":
                h_in, w_in = layer.input.shape[1], layer.input.shape[2]
                kh, kw = layer.kernel.shape[:2]
                sh, sw = layer.strides
                if h_in is None or w_in is None or kh < sh or kw < sw:
                    raise ConfigError(f"{layer.name}: per-copy Conv2DTranspose needs static spatial sizes "
                                      "and kernel >= strides")
                info = (transpose_conv_phases(h_in, kh, sh, layer.padding),
                        transpose_conv_phases(w_in, kw, sw, layer.padding))
            self._plan.append((layer, kind, own, info))

    # ------------------------------------------------------------------ weights ------------------
    def layout(self, weights) -> list:
        """Native per-copy weights (aligned with `network.trainable_weights`, each (B, *shape)) → the
        search layout consumed by `__call__` (same elements, regrouped)."""
        if len(weights) != len(self.network.trainable_weights):
            raise ConfigError(f"{self.network.name}: got {len(weights)} weight tensors for "
                              f"{len(self.network.trainable_weights)} trainable weights")
        out = []
        for layer, kind, own, info in self._plan:
            w = {k: tf.cast(weights[i], tf.float32) for k, i in own.items()}
            if kind == "conv":
                kh, kw, c, o = layer.kernel.shape
                out.append(tf.reshape(w["kernel"], [-1, kh * kw * c, o]))
            elif kind == "conv_transpose":
                kern = tf.transpose(w["kernel"], [0, 1, 2, 4, 3])  # (B, kh, kw, C, O)
                c, o = kern.shape[3], kern.shape[4]
                (_, _, _, _, phases_h), (_, _, _, _, phases_w) = info
                for _, taps_h in phases_h:
                    for _, taps_w in phases_w:
                        sub = tf.gather(tf.gather(kern, taps_h, axis=1), taps_w, axis=2)
                        out.append(tf.reshape(sub, [-1, len(taps_h) * len(taps_w) * c, o]))
            elif "kernel" in w:
                out.append(w["kernel"])
            for attr in ("bias", "gamma", "beta"):
                if attr in w:
                    out.append(w[attr])
        return out

    def tile(self, copies) -> list:
        """`copies` copies of the network's current weights, in the search layout."""
        single = self.layout([tf.cast(v, tf.float32)[None] for v in self.network.trainable_weights])
        return [tf.repeat(p, copies, axis=0) for p in single]

    # ------------------------------------------------------------------ forward ------------------
    def __call__(self, params, inputs):
        """Runs the network on `inputs` (B, ...) with copy b of every weight applied to sample b.

        Args:
            params: weights in the search layout (`layout` / `tile`), leading dimension B.
            inputs: batch of inputs, leading dimension B.

        Returns:
            float32 outputs; equal to `network(inputs, training=False)` when every copy holds the
            network's own weights.
        """
        params = list(params)
        h = tf.cast(inputs, tf.float32)
        for layer, kind, own, info in self._plan:
            if kind == "plain":
                h = tf.cast(layer(h, training=False), tf.float32)
                continue
            if kind == "dense":
                if len(h.shape) != 2:
                    raise ConfigError(f"{layer.name}: per-copy Dense supports 2-D inputs only")
                h = tf.squeeze(tf.matmul(h[:, None, :], params.pop(0)), axis=1)
            elif kind == "conv":
                h = _patch_matmul(h, params.pop(0), layer.kernel.shape[:2], layer.strides, layer.padding)
            elif kind == "conv_transpose":
                h = self._conv_transpose(h, params, info, layer)
            if kind == "batch_norm":
                h = (h - tf.cast(layer.moving_mean, tf.float32)) * tf.math.rsqrt(
                    tf.cast(layer.moving_variance, tf.float32) + layer.epsilon)
                if "gamma" in own:
                    h = h * _expand_to(params.pop(0), len(h.shape))
                if "beta" in own:
                    h = h + _expand_to(params.pop(0), len(h.shape))
            else:
                if "bias" in own:
                    h = h + _expand_to(params.pop(0), len(h.shape))
                h = layer.activation(h)
        if params:
            raise ConfigError(f"{self.network.name}: {len(params)} unused weight tensors")
        return h

    @staticmethod
    def _conv_transpose(h, params, info, layer):
        (out_h, qh, top, bottom, phases_h), (out_w, qw, left, right, phases_w) = info
        sh, sw = layer.strides
        x = tf.pad(h, [[0, 0], [top, bottom], [left, right], [0, 0]])
        rows = []
        for start_h, taps_h in phases_h:
            cols = []
            for start_w, taps_w in phases_w:
                mh, mw = len(taps_h), len(taps_w)
                window = x[:, start_h:start_h + qh + mh - 1, start_w:start_w + qw + mw - 1, :]
                cols.append(_patch_matmul(window, params.pop(0), (mh, mw), (1, 1), "valid"))
            rows.append(tf.stack(cols, axis=3))  # (B, qh, qw, sw, O)
        out = tf.stack(rows, axis=2)  # (B, qh, sh, qw, sw, O)
        out = tf.reshape(out, [tf.shape(h)[0], qh * sh, qw * sw, out.shape[-1]])
        return out[:, :out_h, :out_w, :]


def batched_apply(network, weights, inputs):
    """Runs `network` on `inputs` with copy b of every trainable weight (Keras layout, aligned with
    `network.trainable_weights`, each (B, *shape)) applied to sample b; see `BatchedNetwork`."""
    net = BatchedNetwork(network)
    return net(net.layout(weights), inputs)

