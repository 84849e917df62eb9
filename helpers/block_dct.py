"""The code's home in an image: the lowest spatial frequencies of each 8 x 8 block.

JPEG cuts an image into 8 x 8 blocks, takes each block's discrete cosine transform (DCT)
and rounds the coefficients, coarsely for the high frequencies and finely for the low
ones; resizing and blurring also keep the low frequencies and lose the high ones. A code
written into the ``k x k`` lowest DCT coefficients of every block therefore survives
what sharing does to an image. At 32 x 32 with ``k = 3`` that is 16 blocks x 9 = 144
slots for the 128 numbers of ``z``.

* ``BlockDctCode``: ``z`` -> an image whose blocks hold only those frequencies, through a
  fixed map with orthonormal columns, so every direction of ``z`` gets the same share of
  the code's energy (the best a code can do against white noise).
* ``LowFrequencies``: an image -> its blocks' ``k x k`` lowest coefficients.
* ``CodeView``: those coefficients and, weighted less, every pixel: what projection
  compares once an image is damaged.

Taught in ``03_gan_and_projection.ipynb`` (the code) and ``04_round_trip.ipynb`` (why it survives).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

BLOCK = 8  # JPEG's block side


def block_dct_basis(frequencies: int, block: int = BLOCK) -> np.ndarray:
    """The ``frequencies x frequencies`` lowest orthonormal 2-D DCT-II basis images of a block,
    ``(block, block, frequencies**2)``, ordered row frequency first."""
    n = np.arange(block)
    rows = []
    for u in range(frequencies):
        wave = np.cos((2 * n + 1) * u * np.pi / (2 * block))
        rows.append(wave / np.linalg.norm(wave))
    return np.stack([np.outer(a, b) for a in rows for b in rows], axis=-1).astype(np.float32)


def code_slots(image_shape: tuple[int, int, int], frequencies: int) -> int:
    """How many numbers a block-DCT code of ``frequencies`` holds in an image of ``image_shape``."""
    size, width, channels = image_shape
    if size % BLOCK or width % BLOCK:
        raise ValueError(f"a block-DCT code needs a side that is a multiple of {BLOCK}, got {size} x {width}")
    return (size // BLOCK) * (width // BLOCK) * channels * frequencies**2


def orthonormal_map(slots: int, latent_dim: int, seed: int) -> np.ndarray:
    """A fixed ``(slots, latent_dim)`` matrix with orthonormal columns, drawn from ``seed``."""
    if slots < latent_dim:
        raise ValueError(
            f"a block-DCT code of {slots} slots cannot hold {latent_dim} numbers: use more "
            "frequencies (GanConfig.code_frequencies), a larger image, or code_basis='dense'"
        )
    matrix = np.random.default_rng(seed).standard_normal((slots, latent_dim))
    q, r = np.linalg.qr(matrix)
    return (q * np.sign(np.diag(r))).astype(np.float32)  # a unique sign per column


@keras.saving.register_keras_serializable(package="a2i")
class BlockDctCode(keras.layers.Layer):
    """``z`` ``(b, d)`` -> code image ``(b, h, w, c)``: ``Q z`` written into the lowest
    ``frequencies x frequencies`` DCT coefficients of every 8 x 8 block (``Q`` fixed, with
    orthonormal columns; saved with the layer as a non-trainable weight). Linear in ``z``;
    each coefficient has variance ``d / slots`` for ``z`` from N(0, I)."""

    def __init__(self, image_shape: list[int], frequencies: int = 3, seed: int = 0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.image_shape, self.frequencies, self.seed = [int(v) for v in image_shape], int(frequencies), seed
        self.slots = code_slots(tuple(self.image_shape), self.frequencies)

    def build(self, input_shape: tuple) -> None:
        latent_dim = int(input_shape[-1])
        matrix = orthonormal_map(self.slots, latent_dim, self.seed)
        self.map = self.add_weight(
            shape=(self.slots, latent_dim),
            initializer=keras.initializers.Constant(matrix),
            trainable=False,
            name="map",
        )
        basis = block_dct_basis(self.frequencies)  # (8, 8, k²) -> conv kernel (8, 8, 1, k²)
        self.kernel = tf.constant(basis[:, :, None, :])

    def call(self, z: tf.Tensor) -> tf.Tensor:
        size, width, channels = self.image_shape
        coefficients = tf.matmul(z, tf.cast(self.map, z.dtype), transpose_b=True)
        # slots ordered (block row, block column, channel, frequency)
        grid = tf.reshape(coefficients, (-1, size // BLOCK, width // BLOCK, channels, self.frequencies**2))
        grid = tf.reshape(
            tf.transpose(grid, (0, 3, 1, 2, 4)), (-1, size // BLOCK, width // BLOCK, self.frequencies**2)
        )
        planes = tf.nn.conv2d_transpose(
            grid, self.kernel, (tf.shape(grid)[0], size, width, 1), strides=BLOCK, padding="VALID"
        )
        planes = tf.reshape(planes, (-1, channels, size, width))
        return tf.transpose(planes, (0, 2, 3, 1))

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (input_shape[0], *self.image_shape)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "image_shape": self.image_shape,
            "frequencies": self.frequencies,
            "seed": self.seed,
        }


@keras.saving.register_keras_serializable(package="a2i")
class LowFrequencies(keras.layers.Layer):
    """Images ``(b, h, w, c)`` -> the ``frequencies x frequencies`` lowest DCT coefficients of
    every 8 x 8 block and channel, flattened ``(b, slots)`` in ``BlockDctCode``'s order. The
    basis is orthonormal, so squared coefficient errors add up to the squared pixel error of
    the low-passed images."""

    def __init__(self, frequencies: int = 3, **kwargs) -> None:
        super().__init__(**kwargs)
        self.frequencies = int(frequencies)
        self.kernel = tf.constant(block_dct_basis(self.frequencies)[:, :, None, :])

    def call(self, images: tf.Tensor) -> tf.Tensor:
        size, width, channels = images.shape[1], images.shape[2], images.shape[3]
        planes = tf.reshape(tf.transpose(images, (0, 3, 1, 2)), (-1, size, width, 1))
        coefficients = tf.nn.conv2d(
            planes, tf.cast(self.kernel, images.dtype), strides=BLOCK, padding="VALID"
        )
        grid = tf.reshape(coefficients, (-1, channels, size // BLOCK, width // BLOCK, self.frequencies**2))
        slots = code_slots((size, width, channels), self.frequencies)
        return tf.reshape(tf.transpose(grid, (0, 2, 3, 1, 4)), (-1, slots))

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (input_shape[0], code_slots(tuple(input_shape[1:]), self.frequencies))

    def get_config(self) -> dict:
        return {**super().get_config(), "frequencies": self.frequencies}


class CodeView(keras.layers.Layer):
    """Images ``(b, h, w, c)`` -> their ``LowFrequencies`` followed by all their pixels times
    ``pixel_weight``, flattened ``(b, slots + h w c)``. A squared difference of two views is
    the squared difference of the images with the code's frequencies counted ``1 +
    pixel_weight²`` times and every other frequency ``pixel_weight²`` times: on a damaged
    image the frequencies the damage kept lead, and the rest still averages noise away."""

    def __init__(self, frequencies: int = 3, pixel_weight: float = 0.7, **kwargs) -> None:
        super().__init__(**kwargs)
        self.frequencies, self.pixel_weight = int(frequencies), float(pixel_weight)
        self.low = LowFrequencies(self.frequencies)

    def call(self, images: tf.Tensor) -> tf.Tensor:
        pixels = tf.reshape(images, (tf.shape(images)[0], -1))
        return tf.concat([self.low(images), self.pixel_weight * pixels], axis=1)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        slots = code_slots(tuple(input_shape[1:]), self.frequencies)
        return (input_shape[0], slots + int(np.prod(input_shape[1:])))

    def get_config(self) -> dict:
        return {**super().get_config(), "frequencies": self.frequencies, "pixel_weight": self.pixel_weight}


def frequency_energy(images: np.ndarray) -> np.ndarray:
    """Mean squared DCT coefficient ``(8, 8)`` of every 8 x 8 block of ``images`` ``(n, h, w, c)``,
    row frequency first: where in frequency an image (a code, or the change a JPEG makes) keeps
    its energy. Taught in ``04_round_trip.ipynb``."""
    coefficients = LowFrequencies(BLOCK)(tf.constant(np.asarray(images, np.float32))).numpy()
    return np.mean(np.square(coefficients.reshape(-1, BLOCK, BLOCK)), axis=0)
