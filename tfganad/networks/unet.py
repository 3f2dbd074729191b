"""U-Net generator with skip connections (Skip-GANomaly, Akçay et al. 2019; pix2pix `UnetGenerator`).

Down path: `depth` stride-2 Conv(4×4) levels with widths filters·min(2^i, 8); LeakyReLU(0.2) before every
level but the first, BN after every level but the first and the innermost. Up path: ReLU, stride-2
ConvT(4×4), BN, then concatenation with the matching down activation, and a final ReLU → ConvT → tanh.
There is no explicit latent vector: the skip connections carry the information (ensemble paper, eq. 1).

The skips carry LeakyReLU(down activation): the reference's in-place LeakyReLU modifies the tensor
that its `torch.cat` later reads, so this is what the reference network actually computes.
Weights: conv kernels N(0, 0.02), BN γ N(1, 0.02), biases 0 (reference `init_weights('normal')`).
"""

from __future__ import annotations

import keras
from keras import layers

from tfganad.errors import ConfigError
from tfganad.networks.layers import SubpixelConv2DTranspose


def _init():
    return keras.initializers.RandomNormal(0.0, 0.02)


def _bn(name):
    return layers.BatchNormalization(
        momentum=0.9, epsilon=1e-5, gamma_initializer=keras.initializers.RandomNormal(1.0, 0.02), name=name
    )


def unet_depth(input_shape, depth=None) -> int:
    """Number of down-sampling levels for an (H, W, C) image; ConfigError when the size cannot work.

    Args:
        depth: requested depth; None = as deep as the size allows (down to 1×1 for powers of two, as the
            reference's `num_downs = log2(isize)`).
    """
    if len(tuple(input_shape)) != 3:
        raise ConfigError(f"the U-Net needs images of shape (height, width, channels), got {tuple(input_shape)}")
    h, w = int(input_shape[0]), int(input_shape[1])
    possible = 0
    while h % 2 == 0 and w % 2 == 0:
        h, w, possible = h // 2, w // 2, possible + 1
    if depth is None:
        depth = possible
    if not 2 <= int(depth) <= possible:
        raise ConfigError(
            f"image size {input_shape[0]}x{input_shape[1]} cannot work with a U-Net of depth {depth}: height and "
            f"width must be divisible by 2^depth with depth >= 2 (here at most {possible}); e.g. 16, 28, 32, 64"
        )
    return int(depth)


def unet_generator(input_shape, filters: int = 64, depth=None, name: str = "generator"):
    """x → x̂ in [−1, 1] through a U-Net with skip connections.

    Args:
        input_shape: (H, W, C) images; H and W divisible by 2^depth.
        filters: width of the first level (ngf); doubles per level, capped at 8·filters.
        depth: number of stride-2 levels (default: as many as the size allows, see `unet_depth`).
    """
    depth = unet_depth(input_shape, depth)
    widths = [filters * min(2 ** i, 8) for i in range(depth)]
    x_in = keras.Input(shape=tuple(input_shape), name="x")
    skips = []
    h = layers.Conv2D(widths[0], 4, strides=2, padding="same", use_bias=False, kernel_initializer=_init(),
                      name="down0")(x_in)
    for i in range(1, depth):
        h = layers.LeakyReLU(0.2)(h)
        skips.append(h)
        innermost = i == depth - 1
        h = layers.Conv2D(widths[i], 4, strides=2, padding="same", use_bias=False,
                          kernel_initializer=_init(), name=f"down{i}")(h)
        if not innermost:
            h = _bn(f"down_bn{i}")(h)
    for i in range(depth - 1, 0, -1):
        h = layers.ReLU()(h)
        h = SubpixelConv2DTranspose(widths[i - 1], 4, strides=2, padding="same", use_bias=False,
                                   kernel_initializer=_init(), name=f"up{i}")(h)
        h = _bn(f"up_bn{i}")(h)
        h = layers.Concatenate(name=f"skip{i}")([skips[i - 1], h])
    h = layers.ReLU()(h)
    h = SubpixelConv2DTranspose(int(input_shape[2]), 4, strides=2, padding="same", kernel_initializer=_init(),
                               name="up0")(h)
    x_hat = layers.Activation("tanh", dtype="float32", name="x_hat")(h)
    return keras.Model(x_in, x_hat, name=name)
