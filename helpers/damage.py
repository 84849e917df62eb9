"""What happens to an image on its way to someone, two ways.

* ``image_damages``: the damages measured (numpy, real codecs): a PNG's 8-bit rounding,
  JPEG at three qualities, a resize to three quarters and back, an enlargement x8 as a
  slide or screenshot makes and the converter's way back down, faint Gaussian noise.
  Notebook 04 and ``benchmarks/round_trip.py`` score the round trip through each.
* Keras layers that do the same inside a training step, for a code that learns to survive
  them (as the robust-watermarking literature trains: HiDDeN's noise layers, MBRS's mix of
  real JPEG, simulated damage and none): ``JpegStraightThrough`` runs the real JPEG codec
  in the forward pass and passes the gradient straight through, ``RandomResize`` and
  ``PixelNoise`` the other two. They damage only while training; at inference they pass
  the image through.

Taught in ``04_round_trip.ipynb``.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf
from PIL import Image

from helpers.images import as_png, jpeg_round_trip, resize_images

UPSCALE_FACTOR = 8  # a 32-pixel image pasted into a slide or a screenshot


def resized_and_back(images: np.ndarray, fraction: float) -> np.ndarray:
    """``(n, s, s, c)`` images in [0, 1] resized to ``fraction`` of their side and back (bicubic), as PNGs."""
    size = images.shape[1]
    small = resize_images(images, max(2, round(size * fraction)), undo_enlargement=False)
    return as_png(resize_images(small, size))


def upscaled_and_back(images: np.ndarray, factor: int = UPSCALE_FACTOR) -> np.ndarray:
    """Each image saved as an 8-bit PNG, enlarged ``factor`` times with bilinear filtering (what
    a slide or a screenshot does to a small picture), then brought back to its size the way
    the converter reads a large image (``images.load_image``)."""
    images = as_png(images)
    size, channels = images.shape[1], images.shape[-1]
    big = np.empty((len(images), size * factor, size * factor, channels), dtype=np.float32)
    for i, image in enumerate(images):
        for c in range(channels):
            plane = Image.fromarray(np.round(image[..., c] * 255.0).astype(np.uint8))
            enlarged = plane.resize((size * factor, size * factor), Image.Resampling.BILINEAR)
            big[i, ..., c] = np.asarray(enlarged, dtype=np.float32) / 255.0
    return as_png(resize_images(big, size))


def noisy(images: np.ndarray, std: float, seed: int) -> np.ndarray:
    """Gaussian noise of ``std`` (of full scale) added, as PNGs; reproducible from ``seed``."""
    noise = np.random.default_rng(seed).normal(0.0, std, images.shape)
    return as_png(images + noise)


def image_damages(seed: int) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """The damages measured, as ``name -> function`` on ``(n, s, s, c)`` images in [0, 1]: the
    lossless PNG first, then JPEG at qualities 90, 75 and 50, a resize to three quarters of
    the side and back, an enlargement x8 and back, and Gaussian noise (std 0.02)."""
    return {
        "png": as_png,
        "jpeg90": lambda images: jpeg_round_trip(images, 90),
        "jpeg75": lambda images: jpeg_round_trip(images, 75),
        "jpeg50": lambda images: jpeg_round_trip(images, 50),
        "resize75": lambda images: resized_and_back(images, 0.75),
        "upscale8": upscaled_and_back,
        "noise02": lambda images: noisy(images, 0.02, seed),
    }


@keras.saving.register_keras_serializable(package="a2i")
class JpegStraightThrough(keras.layers.Layer):
    """While training, each image goes through the real JPEG codec at a quality drawn from
    ``[min_quality, max_quality]``; the gradient passes straight through
    (``x + stop_gradient(jpeg(x) - x)``), since the codec's rounding has none. Images in
    [-1, 1] (a tanh generator's range), greyscale or colour; at inference the image passes."""

    def __init__(
        self, min_quality: int = 50, max_quality: int = 95, seed: int | None = None, **kwargs
    ) -> None:
        super().__init__(**kwargs)
        if not 1 <= min_quality <= max_quality <= 100:
            raise ValueError(
                f"JPEG qualities must satisfy 1 <= min <= max <= 100, got {min_quality}, {max_quality}"
            )
        self.min_quality, self.max_quality, self.seed = int(min_quality), int(max_quality), seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images: tf.Tensor, training: bool | None = None) -> tf.Tensor:
        if not training:
            return images
        qualities = keras.random.randint(
            (tf.shape(images)[0],), self.min_quality, self.max_quality + 1, seed=self.seed_generator
        )
        unit = tf.clip_by_value((images + 1.0) / 2.0, 0.0, 1.0)
        coded = tf.map_fn(
            lambda pair: tf.image.adjust_jpeg_quality(pair[0], pair[1]),
            (unit, tf.cast(qualities, tf.int32)),
            fn_output_signature=unit.dtype,
        )
        coded = tf.reshape(coded, tf.shape(images)) * 2.0 - 1.0
        return images + tf.stop_gradient(coded - images)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "min_quality": self.min_quality,
            "max_quality": self.max_quality,
            "seed": self.seed,
        }


@keras.saving.register_keras_serializable(package="a2i")
class RandomResize(keras.layers.Layer):
    """While training, the whole batch is resized to a side drawn from
    ``[min_fraction, max_fraction]`` of its own (antialiased bilinear) and back; differentiable.
    At inference the image passes."""

    def __init__(
        self, min_fraction: float = 0.5, max_fraction: float = 1.0, seed: int | None = None, **kwargs
    ) -> None:
        super().__init__(**kwargs)
        if not 0.0 < min_fraction <= max_fraction <= 1.0:
            raise ValueError(
                f"fractions must satisfy 0 < min <= max <= 1, got {min_fraction}, {max_fraction}"
            )
        self.min_fraction, self.max_fraction, self.seed = float(min_fraction), float(max_fraction), seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images: tf.Tensor, training: bool | None = None) -> tf.Tensor:
        if not training:
            return images
        size = tf.shape(images)[1:3]
        fraction = keras.random.uniform((), self.min_fraction, self.max_fraction, seed=self.seed_generator)
        small = tf.maximum(tf.cast(tf.round(tf.cast(size, tf.float32) * fraction), tf.int32), 2)
        shrunk = tf.image.resize(images, small, method="bilinear", antialias=True)
        return tf.image.resize(shrunk, size, method="bilinear")

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "min_fraction": self.min_fraction,
            "max_fraction": self.max_fraction,
            "seed": self.seed,
        }


@keras.saving.register_keras_serializable(package="a2i")
class RandomDamage(keras.layers.Layer):
    """While training, each batch meets one of ``damages`` (layers) or none, each equally
    likely: MBRS's mix of real codec, simulated damage and clean batches, so the code learns
    to survive all of them without forgetting the clean image. At inference the image passes.

    ``damage_layers(seed)`` builds the mix notebook 03 trains with."""

    def __init__(self, damages: list[keras.layers.Layer], seed: int | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.damages, self.seed = list(damages), seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images: tf.Tensor, training: bool | None = None) -> tf.Tensor:
        if not training or not self.damages:
            return images
        choice = keras.random.randint((), 0, len(self.damages) + 1, seed=self.seed_generator)
        branches = [lambda: images] + [
            (lambda layer=layer: layer(images, training=True)) for layer in self.damages
        ]
        return tf.switch_case(tf.cast(choice, tf.int32), branches)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "damages": [keras.saving.serialize_keras_object(layer) for layer in self.damages],
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config: dict) -> RandomDamage:
        config = dict(config)
        config["damages"] = [keras.saving.deserialize_keras_object(layer) for layer in config["damages"]]
        return cls(**config)


def damage_layers(seed: int, noise_std: float = 0.02) -> RandomDamage:
    """The training mix: real JPEG (quality 50-95), a resize to 50-100 % of the side and back,
    Gaussian noise of ``noise_std`` of full scale (Keras's ``GaussianNoise``, in [-1, 1] units
    twice that), or no damage, one per batch."""
    return RandomDamage(
        [
            JpegStraightThrough(50, 95, seed=seed),
            RandomResize(0.5, 1.0, seed=seed + 1),
            keras.layers.GaussianNoise(2.0 * noise_std, seed=seed + 2),
        ],
        seed=seed + 3,
    )
